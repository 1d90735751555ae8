// ipc/platform/process.hpp - picks the process backend: `ipc::platform::process`.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_PROCESS_HPP
#define IPC_PLATFORM_PROCESS_HPP

#include "ipc/platform/config.hpp"

#if IPC_WINDOWS
#include "ipc/platform/windows/process.hpp"
#else
#include "ipc/platform/posix/process.hpp"
#endif

IPC_BEGIN_NAMESPACE
namespace platform {

#if IPC_WINDOWS
using process = windows::process;
#else
using process = posix::process;
#endif // IPC_WINDOWS

} // namespace platform
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_PROCESS_HPP
