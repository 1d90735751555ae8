// ipc.hpp - the umbrella header: every public header of ipcxx, nothing else.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_HPP
#define IPC_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/channel.hpp"
#include "ipc/converters/asio.hpp"
#include "ipc/converters/channel.hpp"
#include "ipc/describe.hpp"
#include "ipc/endpoint.hpp"
#include "ipc/error.hpp"
#include "ipc/file.hpp"
#include "ipc/frame.hpp"
#include "ipc/handle_converter.hpp"
#include "ipc/handle_kind.hpp"
#include "ipc/message.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/node.hpp"
#include "ipc/process.hpp"
#include "ipc/serializer.hpp"
#include "ipc/shared_memory.hpp"
#include "ipc/shared_server.hpp"
#include "ipc/version.hpp"
#include "ipc/serializers/binary.hpp"
#include "ipc/serializers/raw.hpp"
#if __has_include(<simdjson.h>) && !defined(IPC_DISABLE_JSON)
#include "ipc/serializers/json.hpp"
#endif

#endif // IPC_HPP
