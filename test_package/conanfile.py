# test_package/conanfile.py - Conan's consumption test: build and run a program using ipcxx.
# SPDX-License-Identifier: BSL-1.0
#
# Built with meson through the pkg-config file Conan writes for ipcxx (PkgConfigDeps) and
# MesonToolchain. CMakeLists.txt beside it is the same test for CMakeDeps users;
# scripts/consumers.sh builds both against a `meson install` of ipcxx.
import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.layout import basic_layout
from conan.tools.meson import Meson


class TestPackageConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "PkgConfigDeps", "MesonToolchain", "VirtualRunEnv"
    test_type = "explicit"

    def layout(self):
        basic_layout(self)

    def requirements(self):
        self.requires(self.tested_reference_str)

    def build_requirements(self):
        self.tool_requires("meson/[>=1.0.0 <2]")
        if not self.conf.get("tools.gnu:pkg_config", check_type=str):
            self.tool_requires("pkgconf/[>=2.0 <3]")

    def build(self):
        meson = Meson(self)
        meson.configure()
        meson.build()

    def test(self):
        if can_run(self):
            bin_path = os.path.join(self.cpp.build.bindirs[0], "test_package")
            self.run(bin_path, env="conanrun")
