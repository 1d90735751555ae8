// ipc/version.hpp - the library's version, for preprocessor checks and for printing.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_VERSION_HPP
#define IPC_VERSION_HPP

/// @file
/// ipcxx follows semantic versioning. Before 1.0.0, a minor release (0.1 to 0.2) may break the
/// API or the wire format; a patch release never does. `scripts/consumers.sh` checks that these
/// numbers agree with the `version:` in `meson.build` and the newest entry of `CHANGELOG.md`.

/// The major version: incompatible API or wire-format changes (once at 1.0.0 or later).
#define IPC_VERSION_MAJOR 0
/// The minor version: new features (before 1.0.0, also incompatible changes).
#define IPC_VERSION_MINOR 1
/// The patch version: fixes only.
#define IPC_VERSION_PATCH 0

/// The version as one number, major * 10000 + minor * 100 + patch (0.1.0 is 100), for
/// `#if IPC_VERSION >= 100`.
#define IPC_VERSION (IPC_VERSION_MAJOR * 10000 + IPC_VERSION_MINOR * 100 + IPC_VERSION_PATCH)

/// The version as text, `"major.minor.patch"`.
#define IPC_VERSION_STRING "0.1.0"

#endif // IPC_VERSION_HPP
