// ipc/platform/memory.hpp - picks the file and shared-memory backend: `ipc::platform::memory`.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_MEMORY_HPP
#define IPC_PLATFORM_MEMORY_HPP

#include "ipc/platform/config.hpp"

#if IPC_WINDOWS
#include "ipc/platform/windows/memory.hpp"
#else
#include "ipc/platform/posix/memory.hpp"
#endif

IPC_BEGIN_NAMESPACE
namespace platform {

#if IPC_WINDOWS
using memory = windows::memory;
#else
using memory = posix::memory;
#endif // IPC_WINDOWS

} // namespace platform
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_MEMORY_HPP
