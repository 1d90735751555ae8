#!/usr/bin/env bash
# scripts/consumers.sh - proves every way users take ipcxx into their projects, by building one.
# SPDX-License-Identifier: BSL-1.0
#
# Prints one line "PASS <name>" or "FAIL <name>" per check (scripts/test.sh counts them) and
# exits non-zero if any failed. Logs go to build/consumers/logs/<name>.log.
#
#   version                 include/ipc/version.hpp, meson.build and CHANGELOG.md agree
#   header/<path>           each public header compiles on its own (twice in one TU: guards)
#   install                 meson install --destdir: headers, ipcxx.pc, CMake package files
#   install-no-json         the same with -Djson=disabled: no simdjson, IPC_DISABLE_JSON
#   meson-subproject        tests/consumers/meson_subproject: dependency('ipcxx') falls back
#                           to subprojects/ipcxx (a link to this repository)
#   pkg-config              tests/consumers/pkg_config: a Makefile using pkg-config ipcxx
#   cmake-package           tests/consumers/cmake_package: find_package(ipcxx CONFIG)
#   conan-recipe            conanfile.py compiles, has the required attributes and methods
#                           (AST), and its methods give the expected requirements, package id
#                           and cpp_info when run against a stand-in for the conan module
#   conan-test-package      test_package/conanfile.py compiles and has the usual shape
#   test_package-meson      test_package/ built with meson against the installed ipcxx.pc
#   test_package-cmake      test_package/ built with CMake against the installed config
#   test_package-no-json    test_package.cpp built with exactly the flags the recipe's
#                           package_info() gives for with_json=False (no simdjson)
#
# The three consumer projects build and run tests/consumers/consumer.cpp, which spawns itself
# and sends its child a message and a pipe. The Conan client itself cannot be installed on
# these machines (no PyPI), so `conan create` is not run here.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD

scripts/deps.sh cmake make python3 >/dev/null || { echo "FAIL deps"; exit 1; }

work=$root/build/consumers
rm -rf "$work"
mkdir -p "$work/logs"
export CXX=g++
export PYTHONPYCACHEPREFIX=$work/pycache # py_compile must not write __pycache__ into the tree
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR CMAKE_PREFIX_PATH
passed=0
failed=0

# check NAME COMMAND...: runs COMMAND with its output in the log; prints PASS or FAIL (and the
# log's tail).
check() {
  local name=$1 log
  shift
  log=$work/logs/${name//\//_}.log
  if "$@" >"$log" 2>&1; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    tail -40 "$log" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
}

# ---- version ---------------------------------------------------------------------------------

check_version() {
  local meson_version changelog_version
  meson_version=$(sed -n "s/^ *version: *'\([0-9.]*\)'.*/\1/p" meson.build | head -1)
  changelog_version=$(sed -n 's/^## \[\([0-9.]*\)\].*/\1/p' CHANGELOG.md | head -1)
  echo "meson.build: $meson_version, CHANGELOG.md: $changelog_version"
  [ -n "$meson_version" ] && [ "$meson_version" = "$changelog_version" ] || return 1
  local major minor patch
  IFS=. read -r major minor patch <<<"$meson_version"
  printf '%s\n' '#include <ipc/version.hpp>' '#include <string_view>' \
    "static_assert(IPC_VERSION_MAJOR == $major && IPC_VERSION_MINOR == $minor && IPC_VERSION_PATCH == $patch);" \
    "static_assert(IPC_VERSION == $((major * 10000 + minor * 100 + patch)));" \
    "static_assert(std::string_view(IPC_VERSION_STRING) == \"$meson_version\");" |
    g++ -std=c++20 -fsyntax-only -Iinclude -x c++ -
}
check version check_version

# ---- every public header on its own ----------------------------------------------------------

check_header() {
  printf '#include <%s>\n#include <%s>\nint main() {}\n' "$1" "$1" |
    g++ -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror -DASIO_STANDALONE -Iinclude \
      -x c++ -
}
while read -r header; do
  check "header/$header" check_header "$header"
done < <(cd include && find . -name '*.hpp' -not -path './ipc/detail/*' -not -path './ipc/impl/*' \
           -not -path './ipc/platform/*' | sed 's|^\./||' | sort)

# ---- install ---------------------------------------------------------------------------------

# The prefix is a path no consumer has by accident; the tree lands in $work/stage/opt/ipcxx.
prefix=/opt/ipcxx
stage=$work/stage
installed=$stage$prefix

# install_tree BUILD DESTDIR [meson options...]: configures (tests, examples off: nothing to
# compile) and installs.
install_tree() {
  local build=$1 dest=$2
  shift 2
  meson setup "$build" --prefix="$prefix" -Dtests=false -Dexamples=false -Dbench=false "$@" &&
    meson install -C "$build" --destdir "$dest"
}

check_install() {
  install_tree "$work/build-install" "$stage" || return 1
  local ok=0 f
  for f in include/ipc.hpp share/pkgconfig/ipcxx.pc share/cmake/ipcxx/ipcxxConfig.cmake \
           share/cmake/ipcxx/ipcxxConfigVersion.cmake; do
    [ -f "$installed/$f" ] || { echo "missing: $f"; ok=1; }
  done
  # Every header of the source tree is installed, and nothing else.
  diff <(cd include && find . -type f | sort) <(cd "$installed/include" && find . -type f | sort) ||
    ok=1
  grep -q '^Requires: simdjson' "$installed/share/pkgconfig/ipcxx.pc" || { echo "no Requires: simdjson"; ok=1; }
  grep -q '^Cflags:.*-DASIO_STANDALONE.*-pthread' "$installed/share/pkgconfig/ipcxx.pc" ||
    { echo "Cflags lack -DASIO_STANDALONE -pthread"; ok=1; }
  cat "$installed/share/pkgconfig/ipcxx.pc"
  return $ok
}
check install check_install

check_install_no_json() {
  local dest=$work/stage-no-json
  install_tree "$work/build-install-no-json" "$dest" -Djson=disabled || return 1
  local pc=$dest$prefix/share/pkgconfig/ipcxx.pc config=$dest$prefix/share/cmake/ipcxx/ipcxxConfig.cmake
  cat "$pc"
  ! grep -q simdjson "$pc" && grep -q '^Cflags:.*-DIPC_DISABLE_JSON' "$pc" &&
    grep -q '^set(ipcxx_WITH_JSON OFF)' "$config"
}
check install-no-json check_install_no_json

# ---- the consumer projects ---------------------------------------------------------------------

# Copies of tests/consumers/ and test_package/, so that nothing is written into the repository.
src=$work/src
mkdir -p "$src"
cp -r tests/consumers "$src/consumers"
cp -r test_package "$src/test_package"

check_meson_subproject() {
  local project=$src/consumers/meson_subproject build=$work/build-subproject
  mkdir -p "$project/subprojects"
  ln -s "$root" "$project/subprojects/ipcxx"
  # force-fallback: use the subproject even if an ipcxx.pc is installed on this machine.
  meson setup "$build" "$project" --force-fallback-for=ipcxx &&
    grep -q 'Dependency ipcxx found: YES .*(overridden)' "$build/meson-logs/meson-log.txt" &&
    meson compile -C "$build" && "$build/consumer"
}
check meson-subproject check_meson_subproject

# pkg-config on a DESTDIR tree: PKG_CONFIG_SYSROOT_DIR maps the installed prefix into it.
with_staged_pkgconfig() {
  PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$installed/share/pkgconfig "$@"
}

check_pkg_config() {
  local out=$work/build-pkg-config
  mkdir -p "$out"
  with_staged_pkgconfig pkg-config --cflags --libs ipcxx &&
    with_staged_pkgconfig make -C "$src/consumers/pkg_config" OUT="$out/consumer" &&
    "$out/consumer"
}
check pkg-config check_pkg_config

check_cmake_package() {
  local build=$work/build-cmake
  cmake -S "$src/consumers/cmake_package" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_PREFIX_PATH="$installed" &&
    cmake --build "$build" && "$build/consumer"
}
check cmake-package check_cmake_package

# ---- Conan -------------------------------------------------------------------------------------

check_conan_recipe() {
  python3 -m py_compile conanfile.py || return 1
  python3 - "$root" <<'PY'
"""Checks conanfile.py without the Conan client: its shape (AST), then its behaviour, by running
its methods against a small stand-in for the parts of the conan module it imports."""
import ast
import os
import re
import sys
import types

root = sys.argv[1]
path = os.path.join(root, "conanfile.py")
tree = ast.parse(open(path).read(), path)
problems = []

# ---- shape ----
classes = [n for n in tree.body if isinstance(n, ast.ClassDef)
           and any(getattr(b, "id", None) == "ConanFile" for b in n.bases)]
if len(classes) != 1:
    sys.exit("expected exactly one ConanFile class")
cls = classes[0]
attrs = {}
for n in cls.body:
    if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name):
        try:
            attrs[n.targets[0].id] = ast.literal_eval(n.value)
        except ValueError:
            attrs[n.targets[0].id] = None
methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
expect = {"name": "ipcxx", "package_type": "header-library", "license": "BSL-1.0"}
for k, v in expect.items():
    if attrs.get(k) != v:
        problems.append(f"{k} should be {v!r}, is {attrs.get(k)!r}")
if attrs.get("options", {}).get("with_json") != [True, False]:
    problems.append("options must have with_json: [True, False]")
if attrs.get("default_options", {}).get("with_json") is not True:
    problems.append("default_options must have with_json: True")
if not attrs.get("no_copy_source"):
    problems.append("no_copy_source should be True")
for m in ("set_version", "layout", "requirements", "package_id", "validate", "package",
          "package_info"):
    if m not in methods:
        problems.append(f"method {m}() missing")
if "build" in methods:
    problems.append("a header-only recipe has no build()")
if not any(isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "required_conan_version"
           for n in tree.body):
    problems.append("required_conan_version missing")
src = ast.unparse(methods["package_id"]) if "package_id" in methods else ""
if "self.info.clear()" not in src:
    problems.append("package_id() must call self.info.clear()")

# ---- behaviour, against a stand-in conan module ----
class ConanInvalidConfiguration(Exception):
    pass

class Value(str):
    """A setting value: compares as a string, like Conan's."""

class Settings:
    def __init__(self, os_, compiler="gcc", version="12", cppstd="20"):
        self.os = Value(os_)
        self.arch = Value("x86_64")
        self.build_type = Value("Release")
        self.compiler = Value(compiler)
        self.compiler.version = Value(version)
        self.compiler.cppstd = Value(cppstd)

class Options:
    def __init__(self, **kw):
        self.__dict__.update(kw)

class CppInfo:
    def __init__(self):
        self.includedirs, self.libdirs, self.bindirs = ["include"], ["lib"], ["bin"]
        self.resdirs, self.frameworkdirs = ["res"], ["Frameworks"]
        self.defines, self.system_libs, self.libs = [], [], []
        self.properties = {}

    def set_property(self, key, value):
        self.properties[key] = value

class Info:
    cleared = False

    def clear(self):
        self.cleared = True

class ConanFile:
    def __init__(self, settings, options):
        self.settings, self.options = settings, options
        self.cpp_info, self.info = CppInfo(), Info()
        self.requirements_seen, self.copies = [], []
        self.version = None
        self.recipe_folder = root
        self.source_folder, self.package_folder = "/src", "/pkg"
        self.ref = "ipcxx/test"

    def requires(self, ref, **kw):
        self.requirements_seen.append(ref)

def check_min_cppstd(conanfile, cppstd):
    if int(str(conanfile.settings.compiler.cppstd)) < int(cppstd):
        raise ConanInvalidConfiguration(f"needs C++{cppstd}")

def copy(conanfile, pattern, src, dst, **kw):
    conanfile.copies.append((pattern, src, dst))

def load(conanfile, p, **kw):
    return open(p).read()

class Version:
    def __init__(self, v):
        self.v = tuple(int(x) for x in re.findall(r"\d+", str(v)))

    def __lt__(self, other):
        return self.v < Version(other).v

def module(name, **members):
    m = types.ModuleType(name)
    m.__dict__.update(members)
    sys.modules[name] = m
    return m

module("conan", ConanFile=ConanFile)
module("conan.errors", ConanInvalidConfiguration=ConanInvalidConfiguration,
       ConanException=Exception)
module("conan.tools")
module("conan.tools.build", check_min_cppstd=check_min_cppstd, can_run=lambda c: True)
module("conan.tools.files", copy=copy, load=load, get=None)
module("conan.tools.layout", basic_layout=lambda c, **kw: None)
module("conan.tools.scm", Version=Version)

ns = {"__file__": path, "__name__": "conanfile"}
exec(compile(open(path).read(), path, "exec"), ns)
Recipe = next(v for v in ns.values() if isinstance(v, type) and issubclass(v, ConanFile)
              and v is not ConanFile)

meson_version = re.search(r"version\s*:\s*'([^']+)'", open(os.path.join(root, "meson.build")).read()).group(1)
r = Recipe(Settings("Linux"), Options(with_json=True))
r.set_version()
if r.version != meson_version:
    problems.append(f"set_version() gives {r.version}, meson.build says {meson_version}")
r.layout()
r.package_id()
if not r.info.cleared:
    problems.append("package_id() does not clear the info")

for with_json in (True, False):
    r = Recipe(Settings("Linux"), Options(with_json=with_json))
    r.validate()
    r.requirements()
    names = sorted(ref.split("/")[0] for ref in r.requirements_seen)
    want = ["asio", "simdjson"] if with_json else ["asio"]
    if names != want:
        problems.append(f"with_json={with_json}: requires {names}, expected {want}")
    r.package_info()
    ci = r.cpp_info
    got = {
        "cmake_file_name": ci.properties.get("cmake_file_name"),
        "cmake_target_name": ci.properties.get("cmake_target_name"),
        "pkg_config_name": ci.properties.get("pkg_config_name"),
        "includedirs": ci.includedirs, "bindirs": ci.bindirs, "libdirs": ci.libdirs,
        "defines": sorted(ci.defines), "system_libs": ci.system_libs, "libs": ci.libs,
    }
    want = {
        "cmake_file_name": "ipcxx", "cmake_target_name": "ipcxx::ipcxx",
        "pkg_config_name": "ipcxx", "includedirs": ["include"], "bindirs": [], "libdirs": [],
        "defines": sorted(["ASIO_STANDALONE"] + ([] if with_json else ["IPC_DISABLE_JSON"])),
        "system_libs": ["pthread"], "libs": [],
    }
    for k in want:
        if got[k] != want[k]:
            problems.append(f"with_json={with_json}: cpp_info {k} is {got[k]!r}, expected {want[k]!r}")
    if not with_json:
        # The flags a consumer gets for with_json=False; the test_package-no-json check builds
        # test_package.cpp with exactly these.
        flags = ["-D" + d for d in ci.defines] + ["-l" + l for l in ci.system_libs]
        open(os.path.join(root, "build/consumers/conan-no-json.flags"), "w").write(" ".join(flags))
r.package()
if ("*.hpp", "/src/include", "/pkg/include") not in r.copies:
    problems.append(f"package() does not copy include/*.hpp to the package's include/: {r.copies}")

for bad, why in ((Settings("Linux", cppstd="17"), "C++17"),
                 (Settings("Linux", version="10"), "gcc 10"),
                 (Settings("Windows", compiler="msvc", version="193"), "Windows")):
    try:
        Recipe(bad, Options(with_json=True)).validate()
        problems.append(f"validate() accepts {why}")
    except ConanInvalidConfiguration as e:
        print(f"validate() refuses {why}: {e}")

for p in problems:
    print("problem:", p)
sys.exit(1 if problems else 0)
PY
}
check conan-recipe check_conan_recipe

check_conan_test_package() {
  python3 -m py_compile test_package/conanfile.py || return 1
  python3 - test_package/conanfile.py <<'PY'
import ast
import sys
text = open(sys.argv[1]).read()
tree = ast.parse(text)
cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
problems = [f"{m}() missing" for m in ("layout", "requirements", "build", "test") if m not in methods]
for needle in ("self.tested_reference_str", "can_run(self)", "PkgConfigDeps", "MesonToolchain",
               'test_type = "explicit"'):
    if needle not in text:
        problems.append(f"{needle} not used")
for p in problems:
    print("problem:", p)
sys.exit(1 if problems else 0)
PY
}
check conan-test-package check_conan_test_package

check_test_package_meson() {
  local build=$work/build-test_package-meson
  with_staged_pkgconfig meson setup "$build" "$src/test_package" -Dbuildtype=debug &&
    meson compile -C "$build" && "$build/test_package"
}
check test_package-meson check_test_package_meson

check_test_package_cmake() {
  local build=$work/build-test_package-cmake
  cmake -S "$src/test_package" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_PREFIX_PATH="$installed" &&
    cmake --build "$build" && "$build/test_package"
}
check test_package-cmake check_test_package_cmake

# What Conan would hand the compiler for with_json=False: the package's include directory
# (Asio's comes from its own package; here it is the system's), the recipe's defines and
# system libraries, nothing of simdjson.
check_test_package_no_json() {
  [ -f "$work/conan-no-json.flags" ] || { echo "conan-recipe did not produce the flags"; return 1; }
  local flags
  flags=$(cat "$work/conan-no-json.flags")
  echo "flags from package_info(): $flags"
  # shellcheck disable=SC2086 # the flags are words
  g++ -std=c++20 -O0 -Wall -Wextra -Werror -I"$installed/include" "$src/test_package/test_package.cpp" \
    -o "$work/test_package-no-json" $flags &&
    "$work/test_package-no-json"
}
check test_package-no-json check_test_package_no_json

echo "consumers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
