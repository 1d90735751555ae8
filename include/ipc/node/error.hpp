// ipc/node/error.hpp - errors of the Node.js wire protocol: ipc::node::errc and its category.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_NODE_ERROR_HPP
#define IPC_NODE_ERROR_HPP

#include "ipc/platform/config.hpp"

#include <string>
#include <system_error>
#include <type_traits>

IPC_BEGIN_NAMESPACE
namespace node {

/// Failures specific to talking to Node. Failures shared with the native protocol use
/// `ipc::errc` (`invalid_json`, `invalid_utf8`, `message_too_large`, `truncated_frame`,
/// `channel_closed`, ...) and OS failures their system codes; a peer that closes between
/// messages is `asio::error::eof`.
enum class errc {
  /// `NODE_HANDLE_ACK` or `NODE_HANDLE_NACK` arrived while no handle was waiting for one.
  unexpected_ack = 1,
  /// The peer answered a handle with `NODE_HANDLE_NACK` on every try (the first send and
  /// three retransmissions, as Node does); the handle was closed.
  handle_refused,
  /// The descriptor is of a kind Node cannot take (a regular file, a pipe, a SEQPACKET or raw
  /// socket): Node aborts on some and wedges its channel on others, so it is never sent.
  unsupported_handle,
  /// A `NODE_HANDLE` named a type Node does not define, or a handle's type does not fit its
  /// descriptor; the descriptor was closed.
  unknown_handle_type,
  /// The message would be taken by Node as one of its own (an object whose `cmd` is a string
  /// starting with `NODE_`, longer than 5): it is refused rather than sent.
  reserved_message,
  /// `NODE_CHANNEL_SERIALIZATION_MODE` names neither `json` nor `advanced`.
  unsupported_mode,
  /// This process was not started with a Node channel (`NODE_CHANNEL_FD` unset or empty).
  no_parent_channel,
  /// A V8-serialized value uses a feature the 'advanced' codec does not read or write.
  unsupported_value,
};

namespace detail {

class error_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override { return "ipc.node"; }

  std::string message(int value) const override
  {
    switch (static_cast<errc>(value)) {
    case errc::unexpected_ack: return "NODE_HANDLE_ACK/NACK received with no handle in flight";
    case errc::handle_refused: return "peer refused the handle (NACK) on every retransmission";
    case errc::unsupported_handle:
      return "descriptor kind Node cannot receive (only TCP, UDP and local stream sockets)";
    case errc::unknown_handle_type: return "unknown NODE_HANDLE type, or a type that does not fit the descriptor";
    case errc::reserved_message: return "message has a NODE_ cmd and would be taken as internal by Node";
    case errc::unsupported_mode: return "NODE_CHANNEL_SERIALIZATION_MODE is neither json nor advanced";
    case errc::no_parent_channel: return "process was not started with a Node channel (NODE_CHANNEL_FD unset)";
    case errc::unsupported_value: return "value not supported by the V8 serializer subset";
    }
    return "unknown ipc.node error";
  }
};

} // namespace detail

/// The category of `ipc::node::errc`; its name is `"ipc.node"`.
inline const std::error_category& error_category() noexcept
{
  static const detail::error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept
{
  return {static_cast<int>(e), error_category()};
}

} // namespace node
IPC_END_NAMESPACE

template <>
struct std::is_error_code_enum<ipc::node::errc> : std::true_type {};

#endif // IPC_NODE_ERROR_HPP
