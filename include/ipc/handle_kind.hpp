// ipc/handle_kind.hpp - what kind of OS object a handle is, for the backends that care.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_HANDLE_KIND_HPP
#define IPC_HANDLE_KIND_HPP

#include "ipc/platform/config.hpp"

IPC_BEGIN_NAMESPACE

/// What kind of OS object a handle is. A converter states it (`handle_converter<H>::kind`); the
/// Windows backend picks its transfer primitive by it (sockets by `WSADuplicateSocketW`, other
/// handles by `DuplicateHandle`). `unknown` leaves the backend to find out.
enum class handle_kind { unknown, file, socket, pipe, process, memory };

IPC_END_NAMESPACE

#endif // IPC_HANDLE_KIND_HPP
