// ipc/error.hpp - the library's own error codes and their std::error_category.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_ERROR_HPP
#define IPC_ERROR_HPP

#include "ipc/platform/config.hpp"

#include <string>
#include <system_error>
#include <type_traits>

IPC_BEGIN_NAMESPACE

/// Failures that the operating system has no code for. OS failures are reported with their
/// `std::system_category()` code; a peer that closes cleanly between frames is `asio::error::eof`.
enum class errc {
  /// A frame announced a payload larger than the channel's `max_message_size`.
  message_too_large = 1,
  /// A frame announced more handles than the channel's `max_handles`.
  too_many_handles,
  /// A frame header or handle table is inconsistent (reserved bits set, sizes that do not add
  /// up, a sequence number out of order).
  malformed_frame,
  /// The peer does not speak this protocol or this version of it (bad magic bytes).
  protocol_mismatch,
  /// The peer closed the connection in the middle of a frame.
  truncated_frame,
  /// Descriptors were lost in transit: the kernel truncated the control message
  /// (`MSG_CTRUNC`), or a frame claimed handles that did not arrive.
  handles_truncated,
  /// Descriptors arrived that no frame claimed, or more than a frame claimed.
  unexpected_handles,
  /// A received handle is not of the type the receiver asked for.
  handle_type_mismatch,
  /// The payload is not valid JSON.
  invalid_json,
  /// A string in the payload is not valid UTF-8.
  invalid_utf8,
  /// The payload is well formed but does not have the shape of the requested type (a missing
  /// field, a string where a number belongs, a number out of range).
  type_mismatch,
  /// The payload ended before the value it describes (binary serializer), or has bytes left
  /// over after it.
  truncated_payload,
  /// The value cannot be represented by the serializer (a NaN in JSON, invalid UTF-8 in a
  /// string being sent, a size beyond 32 bits).
  unrepresentable_value,
  /// The channel was closed by this process (`close()`), or never opened.
  channel_closed,
  /// An `async_receive` (or sync `receive`) was started while another one was outstanding.
  receive_in_progress,
  /// A sync `send` was called while async sends were still queued (it would overtake them).
  send_in_progress,
  /// A descriptor handed to the channel is not a connected stream socket of the right family.
  invalid_handle,
  /// A handle was asked for by an index the message does not have, or was already taken.
  no_such_handle,
  /// This process was not started with an inherited channel (no IPC_CHANNEL_FD).
  no_parent_channel,
  /// The parent set up its channel with a different serializer than the one asked for.
  serializer_mismatch,
  /// A channel cannot give up its socket while operations are outstanding or received bytes
  /// are still buffered (they would be lost).
  channel_not_idle,
  /// The peer has not acknowledged the handles already sent (`max_unacknowledged_handles`):
  /// it must take them, or drop their messages, before more can be sent.
  too_many_unacknowledged_handles,
  /// A worker did not answer a connection-count query in time (`shared_server`): it is alive
  /// but not reading its channel.
  worker_not_responding,
  /// A handle reached this process made for another one: the sender made its copy for the
  /// process that held this channel end before it moved, and sent it before it learnt of the
  /// move (Windows, where handles are made the receiver's by the sender). The copy was closed
  /// where it was made; the message's other contents arrived.
  handle_misdirected,
};

namespace detail {

class error_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override { return "ipc"; }

  std::string message(int value) const override
  {
    switch (static_cast<errc>(value)) {
    case errc::message_too_large: return "message larger than the channel's max_message_size";
    case errc::too_many_handles: return "frame carries more handles than the channel's max_handles";
    case errc::malformed_frame: return "malformed frame header or handle table";
    case errc::protocol_mismatch: return "peer does not speak the ipcxx protocol (bad magic or version)";
    case errc::truncated_frame: return "peer closed the connection in the middle of a frame";
    case errc::handles_truncated: return "descriptors lost in transit (control message truncated or missing)";
    case errc::unexpected_handles: return "descriptors arrived that no frame claimed";
    case errc::handle_type_mismatch: return "received handle has a different type than requested";
    case errc::invalid_json: return "payload is not valid JSON";
    case errc::invalid_utf8: return "string is not valid UTF-8";
    case errc::type_mismatch: return "payload does not have the shape of the requested type";
    case errc::truncated_payload: return "payload ended early or has trailing bytes";
    case errc::unrepresentable_value: return "value cannot be represented by the serializer";
    case errc::channel_closed: return "channel is closed";
    case errc::receive_in_progress: return "another receive is already outstanding on this channel";
    case errc::send_in_progress: return "async sends are still queued on this channel";
    case errc::invalid_handle: return "handle is not a connected local stream socket";
    case errc::no_such_handle: return "message has no handle at that index (or it was already taken)";
    case errc::no_parent_channel: return "process was not started with an inherited channel (IPC_CHANNEL_FD unset)";
    case errc::channel_not_idle: return "channel has outstanding operations or buffered input";
    case errc::serializer_mismatch: return "inherited channel uses a different serializer (IPC_CHANNEL_SERIALIZATION)";
    case errc::too_many_unacknowledged_handles: return "peer has not acknowledged the handles already sent (max_unacknowledged_handles)";
    case errc::worker_not_responding: return "worker did not answer a connection-count query in time (is it reading its channel?)";
    case errc::handle_misdirected: return "handle was made for the process that held this channel end before it moved; it was closed there";
    }
    return "unknown ipc error";
  }
};

} // namespace detail

/// The category of `ipc::errc`; its name is `"ipc"`.
inline const std::error_category& error_category() noexcept
{
  static const detail::error_category_impl instance;
  return instance;
}

/// Makes `std::error_code ec = ipc::errc::...` work.
inline std::error_code make_error_code(errc e) noexcept
{
  return {static_cast<int>(e), error_category()};
}

namespace detail {

/// The throwing overloads are the `std::error_code&` ones plus this: the exception says which
/// operation failed and why.
[[noreturn]] inline void throw_error(const std::error_code& ec, const char* operation)
{
  throw std::system_error(ec, operation);
}

} // namespace detail

IPC_END_NAMESPACE

template <>
struct std::is_error_code_enum<ipc::errc> : std::true_type {};

#endif // IPC_ERROR_HPP
