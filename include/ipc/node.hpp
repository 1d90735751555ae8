// ipc/node.hpp - the Node.js wire protocol: channels to and from Node processes, handles included.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_NODE_HPP
#define IPC_NODE_HPP

#include "ipc/platform/config.hpp"
#include "ipc/node/channel.hpp"
#include "ipc/node/error.hpp"
#include "ipc/node/json_text.hpp"
#include "ipc/node/process.hpp"
#include "ipc/node/v8_value.hpp"

#endif // IPC_NODE_HPP
