# conanfile.py - Conan 2 recipe: ipcxx as a header-only package.
# SPDX-License-Identifier: BSL-1.0
#
#   conan create . [-o "ipcxx/*:with_json=False"]
#
# The version comes from meson.build, so the recipe never disagrees with the build. Follows
# conan-center-index conventions for header-only libraries: basic_layout, no build(), headers
# copied in package(), package_id() cleared. scripts/consumers.sh checks this file without the
# Conan client (which these machines cannot install): that it compiles, that it has the
# attributes and methods below, that its methods give the expected requirements and cpp_info
# when run against a stand-in of the conan module, and that test_package/ builds with the
# flags package_info() declares.
import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout
from conan.tools.scm import Version

required_conan_version = ">=2.0"


class IpcxxConan(ConanFile):
    name = "ipcxx"
    description = ("Header-only C++20 inter-process communication: typed message channels with "
                   "descriptor passing and child processes, on standalone Asio")
    license = "BSL-1.0"
    topics = ("ipc", "asio", "channel", "scm-rights", "spawn", "header-only")
    package_type = "header-library"
    # Not part of the package id (header-only); used by validate() and by consumers.
    settings = "os", "arch", "compiler", "build_type"
    options = {
        # The JSON serializer (ipc/serializers/json.hpp) needs simdjson; without it ipc.hpp
        # leaves the serializer out (IPC_DISABLE_JSON) and simdjson is not required.
        "with_json": [True, False],
    }
    default_options = {
        "with_json": True,
    }
    exports_sources = "include/*", "LICENSE*"
    no_copy_source = True

    @property
    def _min_cppstd(self):
        return 20

    @property
    def _compilers_minimum_version(self):
        # C++20 concepts, <span>, std::to_chars for doubles, and coroutines with Asio.
        return {
            "gcc": "11",
            "clang": "14",
        }

    def set_version(self):
        # meson.build's project(version: ...) is the one place the version is written down
        # (include/ipc/version.hpp and CHANGELOG.md are checked against it).
        if not self.version:
            text = load(self, os.path.join(self.recipe_folder, "meson.build"))
            match = re.search(r"version\s*:\s*'([0-9]+\.[0-9]+\.[0-9]+)'", text)
            self.version = match.group(1)

    def layout(self):
        basic_layout(self)

    def requirements(self):
        # Header-only with headers that include theirs: both are transitive (the default for
        # a header-library's requirements).
        # Standalone Asio (CCI's asio package defines ASIO_STANDALONE itself). Tested with
        # Debian's 1.22.1; ipcxx uses only APIs that later 1.x releases keep.
        self.requires("asio/[>=1.22.1 <2]")
        if self.options.with_json:
            # Tested with Debian's 3.0.1.
            self.requires("simdjson/[>=3.0.1 <4]")

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, self._min_cppstd)
        minimum_version = self._compilers_minimum_version.get(str(self.settings.compiler))
        if minimum_version and Version(self.settings.compiler.version) < minimum_version:
            raise ConanInvalidConfiguration(
                f"{self.ref} requires C++{self._min_cppstd}, which {self.settings.compiler} "
                f"{self.settings.compiler.version} does not support well enough")
        if self.settings.os != "Linux":
            # The process backend uses Linux pidfds; the Windows backend is not written yet.
            raise ConanInvalidConfiguration(f"{self.ref} supports only Linux so far")

    def package(self):
        copy(self, "LICENSE*", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"),
             os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "ipcxx")
        self.cpp_info.set_property("cmake_target_name", "ipcxx::ipcxx")
        self.cpp_info.set_property("pkg_config_name", "ipcxx")
        self.cpp_info.includedirs = ["include"]
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.resdirs = []
        self.cpp_info.frameworkdirs = []
        self.cpp_info.defines = ["ASIO_STANDALONE"]
        if not self.options.with_json:
            # ipc.hpp would include the JSON serializer wherever <simdjson.h> happens to be.
            self.cpp_info.defines.append("IPC_DISABLE_JSON")
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
