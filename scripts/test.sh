#!/usr/bin/env bash
# scripts/test.sh - installs what is missing, builds every configuration CI checks, runs every
# test, and ends with one line "N passed, M failed". Exits non-zero on any failure.
#
#   gcc     g++ build, -Werror, all suites
#   clang   clang++ build, -Werror, all suites
#   asan    g++ with AddressSanitizer + UndefinedBehaviorSanitizer, all suites
#   tsan    clang++ with ThreadSanitizer: the channel (and channel_portable), process, endpoint and
#           shared_server suites
#   windows cross-built with mingw-w64 (cross/mingw-w64.txt), the suites Windows has run under
#           wine (simdjson built from the amalgamation in its source package), and the portable
#           benchmark's --quick smoke run
#   fuzz    each libFuzzer target for FUZZ_SECONDS (default 60) from its seed corpus, FUZZ_JOBS
#           (default 2) at a time
#   checks  source rules (OS headers only under include/ipc/platform/), documentation
#           examples compile and run
#   consumers  scripts/consumers.sh: meson subproject, pkg-config, CMake and Conan routes,
#              and every public header compiling on its own
#   docs       scripts/docs.sh: Doxygen without warnings, no dead links
#
# Environment: CONFIGS="checks gcc clang asan tsan windows fuzz consumers docs" to pick, FUZZ_SECONDS=N
# (per target), FUZZ_JOBS=N; IPC_SOAK_SECONDS=N lengthens (or shortens) the soak test.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/deps.sh clang-14 libclang-rt-14-dev python3 curl nodejs || { echo "0 passed, 1 failed"; exit 1; }

CONFIGS=${CONFIGS:-"checks gcc clang asan tsan windows fuzz consumers docs"}
# 60 s per target finds what the seeds reach in a few seconds and then some; with six targets
# two at a time that is about three minutes of CI, on top of about a minute of compiling.
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
passed=0
failed=0
failures=()

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAILED: $1"; }

# Adds the results of one meson build's test log to the totals.
count_meson() {
  local name=$1 log=$2/meson-logs/testlog.json
  if [ ! -f "$log" ]; then fail "$name: no test log"; return; fi
  while IFS=$'\t' read -r result test; do
    if [ "$result" = "OK" ]; then pass; else fail "$name/$test ($result)"; fi
  done < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line:
        r = json.loads(line)
        print(r["result"] + "\t" + r["name"])' "$log")
}

# meson_config NAME CXX [meson options...]: configure, build and test one configuration.
meson_config() {
  local name=$1 cxx=$2; shift 2
  local dir=build/$name
  echo "=== $name ==="
  if [ ! -f "$dir/build.ninja" ]; then
    if ! CXX=$cxx meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1; then
      mkdir -p build; cat "$dir.setup.log"; fail "$name: configure"; return
    fi
  fi
  if ! meson compile -C "$dir" >"$dir.compile.log" 2>&1; then
    tail -50 "$dir.compile.log"; fail "$name: compile"; return
  fi
  meson test -C "$dir" --print-errorlogs --no-rebuild >"$dir.test.log" 2>&1
  grep -E "^ *[0-9]+/[0-9]+ " "$dir.test.log" || true
  count_meson "$name" "$dir"
}

mkdir -p build
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

for config in $CONFIGS; do
  case $config in
    checks)
      echo "=== checks ==="
      leaks=$(grep -rlE '_WIN32|<windows\.h>|<sys/[a-z]+\.h>|<unistd\.h>|<fcntl\.h>|<poll\.h>' include \
                | grep -v '/platform/' || true)
      if [ -z "$leaks" ]; then pass; else fail "checks: OS headers outside platform/: $leaks"; fi
      # Every C++ block in the README and docs/ is a whole program that must compile and run.
      mkdir -p build/readme
      python3 - <<'PY'
import re
import glob
blocks = []
for doc in ["README.md"] + sorted(glob.glob("docs/*.md")):
    blocks += re.findall(r"```cpp\n(.*?)```", open(doc).read(), re.S)
for i, b in enumerate(blocks):
    open(f"build/readme/example{i}.cpp", "w").write(b)
PY
      # Two at a time (each pulls in all of Asio); each leaves a .ok or .log verdict behind.
      rm -f build/readme/*.ok
      ls build/readme/example*.cpp | xargs -P 2 -I{} sh -c \
        'b=${1%.cpp}; g++ -std=c++20 -Wall -Wextra -Werror -DASIO_STANDALONE -Iinclude "$1" -lsimdjson \
           -pthread -o "$b" 2>"$b.log" && "$b" >/dev/null 2>>"$b.log" && touch "$b.ok"' _ {}
      for src in build/readme/example*.cpp; do
        if [ -f "${src%.cpp}.ok" ]; then
          pass
        else
          cat "${src%.cpp}.log"; fail "checks: documentation block $src does not compile or run"
        fi
      done
      ;;
    gcc) meson_config gcc g++ -Dbench=true ;; # benchmarks built to keep them compiling; core_bench --quick runs
    clang) meson_config clang clang++-14 ;;
    asan) meson_config asan g++ -Db_sanitize=address,undefined -Db_lundef=false -Dexamples=false ;;
    tsan) meson_config tsan clang++-14 -Db_sanitize=thread -Db_lundef=false -Dexamples=false \
            -Dtest_suites=channel,channel_portable,process,endpoint,shared_server ;;
    windows)
      if ! scripts/deps.sh g++-mingw-w64-x86-64-posix wine wine64; then
        fail "windows: installing mingw-w64 and wine"; continue
      fi
      # Only Asio's and Boost's headers reach the cross build; one quiet wine prefix of our own.
      . scripts/windows-env.sh
      if ! windows_env; then fail "windows: wineboot"; continue; fi
      # simdjson: its amalgamation from Debian's source package, compiled into the cross build.
      json=(-Djson=enabled -Dsimdjson_amalgamation="$root/build/simdjson-amalgamation")
      if ! scripts/simdjson-amalgamation.sh build/simdjson-amalgamation; then
        fail "windows: simdjson's source package (the json suite cannot run under wine)"
        json=(-Djson=disabled)
      fi
      meson_config windows c++ --cross-file build/mingw-include.ini --cross-file cross/mingw-w64.txt \
        "${json[@]}" -Dexamples=false -Dbench=true # core_bench: built, and a --quick smoke run
      ;;
    fuzz)
      echo "=== fuzz (${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time) ==="
      mkdir -p build/fuzz
      targets=()
      for src in fuzz/*_fuzz.cpp; do
        target=$(basename "$src" .cpp)
        corpus=fuzz/corpus/${target%_fuzz}
        rm -f "build/fuzz/$target.rc"
        libs=""
        grep -q simdjson "$src" "include/ipc/serializers/json.hpp" 2>/dev/null && libs="-lsimdjson"
        if ! clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -DASIO_STANDALONE -Iinclude "$src" $libs \
               -o "build/fuzz/$target" >"build/fuzz/$target.compile.log" 2>&1; then
          tail -30 "build/fuzz/$target.compile.log"; fail "fuzz/$target: compile"; continue
        fi
        work=build/fuzz/$target.corpus
        rm -rf "$work"; mkdir -p "$work"
        [ -d "$corpus" ] && cp "$corpus"/* "$work"/ 2>/dev/null
        targets+=("$target")
      done
      # Each target runs single-threaded: FUZZ_JOBS of them at once use that many cores.
      printf '%s\n' "${targets[@]}" | xargs -r -P "$FUZZ_JOBS" -I{} sh -c \
        'cd build/fuzz && ./"$1" -max_total_time="$2" -rss_limit_mb=2048 -timeout=10 \
           -print_final_stats=1 "$1.corpus" >"$1.log" 2>&1; echo $? >"$1.rc"' _ {} "$FUZZ_SECONDS"
      for target in "${targets[@]}"; do
        if [ "$(cat "build/fuzz/$target.rc" 2>/dev/null)" = 0 ]; then
          echo "fuzz/$target: $(grep -m1 'stat::number_of_executed_units' "build/fuzz/$target.log" | awk '{print $2}') executions, no findings"
          pass
        else
          tail -40 "build/fuzz/$target.log"; fail "fuzz/$target: finding (see build/fuzz/$target.log)"
        fi
      done
      ;;
    consumers|docs)
      # scripts/<config>.sh prints one "PASS name" or "FAIL name" line per check.
      echo "=== $config ==="
      if [ -x "scripts/$config.sh" ]; then
        while read -r verdict name; do
          case $verdict in
            PASS) pass ;;
            FAIL) fail "$config/$name" ;;
          esac
        done < <(scripts/"$config".sh 2>&1 | tee "build/$config.log" | grep -E '^(PASS|FAIL) ')
      else
        fail "$config: scripts/$config.sh missing"
      fi
      ;;
    *) fail "unknown configuration $config" ;;
  esac
done

if [ ${#failures[@]} -gt 0 ]; then
  echo "failures:"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
