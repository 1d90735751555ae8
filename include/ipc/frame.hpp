// ipc/frame.hpp - the native wire format: frame header and handle table, as pure functions.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_FRAME_HPP
#define IPC_FRAME_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/error.hpp"
#include "ipc/platform/traits.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <system_error>

IPC_BEGIN_NAMESPACE

/// What a frame carries. Users only ever see `message`; the others are the channel's own.
enum class frame_kind : std::uint8_t {
  message = 0,  ///< a user message
  ack = 1,      ///< the receiver adopted a message's handles
  nack = 2,     ///< the receiver refused a message's handles
  internal = 3, ///< library-internal traffic (connection bookkeeping, ...)
};

/// The fixed part of every frame, little-endian on the wire:
///
/// ```
/// offset  0  u32 magic_version  'I' 'P' 'C' version
/// offset  4  u32 payload_size   bytes of serializer output after the handle table
/// offset  8  u32 sequence       1, 2, 3, ... per direction: a gap or repeat is a broken stream
/// offset 12  u16 handle_count   descriptors sent with this frame (SCM_RIGHTS) = table entries
/// offset 14  u8  kind           frame_kind
/// offset 15  u8  flags          `frame_flag_keyed` or 0
/// offset 16  u32 table_size     bytes of the handle table that follows the header
/// ```
///
/// The handle table has `handle_count` entries `{u8 name_size, name, u16 blob_size, blob}`:
/// the converter's type name (checked by the receiver) and a platform blob (empty on POSIX,
/// where the descriptors travel out of band). `table_size` lets the receiver know the whole
/// frame's length from the header alone, so it can size its buffer once and refuse an oversized
/// frame before reading (or allocating) anything more.
///
/// A user message with handles may be *keyed* (`frame_flag_keyed`): its handle table then starts
/// with `{u8 key_size, key}`, the key of the server whose connections the handles are
/// (`ipc::shared_server`). The receiver counts such connections for as long as it holds them.
struct frame_header {
  std::uint32_t payload_size = 0;
  std::uint32_t sequence = 0;
  std::uint16_t handle_count = 0;
  frame_kind kind = frame_kind::message;
  std::uint8_t flags = 0;
  std::uint32_t table_size = 0;
};

inline constexpr std::size_t frame_header_size = 20;
inline constexpr std::uint8_t protocol_version = 1;
inline constexpr std::byte frame_magic[4] = {std::byte{'I'}, std::byte{'P'}, std::byte{'C'},
                                             std::byte{protocol_version}};
/// `frame_header::flags`: the handle table starts with a connection key.
inline constexpr std::uint8_t frame_flag_keyed = 0x01;
/// Longest connection key.
inline constexpr std::size_t max_connection_key = 255;

/// Largest encoding of one handle-table entry.
inline constexpr std::size_t max_handle_entry_size =
  1 + 255 + 2 + platform::traits::max_handle_blob;

/// The receiver's limits, checked on the header before anything else is read.
struct frame_limits {
  std::size_t max_message_size = 64u << 20;
  std::size_t max_handles = 64;
};

namespace detail {

inline void store_u16(std::byte* p, std::uint16_t v) noexcept
{
  p[0] = std::byte(v & 0xff);
  p[1] = std::byte(v >> 8);
}
inline void store_u32(std::byte* p, std::uint32_t v) noexcept
{
  for (int i = 0; i < 4; ++i) p[i] = std::byte((v >> (8 * i)) & 0xff);
}
inline std::uint16_t load_u16(const std::byte* p) noexcept
{
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) |
                                    (std::to_integer<unsigned>(p[1]) << 8));
}
inline std::uint32_t load_u32(const std::byte* p) noexcept
{
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint32_t>(p[i]);
  return v;
}

} // namespace detail

/// Writes @p h into the first `frame_header_size` bytes of @p out.
inline void encode_frame_header(const frame_header& h, std::byte* out) noexcept
{
  std::memcpy(out, frame_magic, 4);
  detail::store_u32(out + 4, h.payload_size);
  detail::store_u32(out + 8, h.sequence);
  detail::store_u16(out + 12, h.handle_count);
  out[14] = static_cast<std::byte>(h.kind);
  out[15] = static_cast<std::byte>(h.flags);
  detail::store_u32(out + 16, h.table_size);
}

/// Parses and validates a header against @p limits. Sizes are unsigned on the wire: a length
/// with the top bit set is just large (and refused), never negative.
inline std::error_code decode_frame_header(std::span<const std::byte, frame_header_size> in,
                                           const frame_limits& limits, frame_header& h) noexcept
{
  if (std::memcmp(in.data(), frame_magic, 3) != 0 || in[3] != frame_magic[3])
    return errc::protocol_mismatch;
  h.payload_size = detail::load_u32(in.data() + 4);
  h.sequence = detail::load_u32(in.data() + 8);
  h.handle_count = detail::load_u16(in.data() + 12);
  const auto kind = std::to_integer<std::uint8_t>(in[14]);
  h.flags = std::to_integer<std::uint8_t>(in[15]);
  h.table_size = detail::load_u32(in.data() + 16);
  if (kind > static_cast<std::uint8_t>(frame_kind::internal) || (h.flags & ~frame_flag_keyed) != 0)
    return errc::malformed_frame;
  h.kind = static_cast<frame_kind>(kind);
  const bool keyed = (h.flags & frame_flag_keyed) != 0;
  // Only a user message with handles can say whose connections they are.
  if (keyed && (h.kind != frame_kind::message || h.handle_count == 0)) return errc::malformed_frame;
  if (h.payload_size > limits.max_message_size) return errc::message_too_large;
  if (h.handle_count > limits.max_handles) return errc::too_many_handles;
  // Each entry takes at least 3 bytes and at most max_handle_entry_size; a key 1 to 256.
  const std::size_t key_min = keyed ? 1 : 0, key_max = keyed ? 1 + max_connection_key : 0;
  if (h.table_size < std::size_t{h.handle_count} * 3 + key_min ||
      h.table_size > std::size_t{h.handle_count} * max_handle_entry_size + key_max)
    return errc::malformed_frame;
  return {};
}

/// Encoded size of one handle-table entry.
constexpr std::size_t handle_entry_size(std::string_view type_name,
                                        std::size_t blob_size = 0) noexcept
{
  return 1 + type_name.size() + 2 + blob_size;
}

/// Writes one handle-table entry at @p out (which has `handle_entry_size` bytes) and returns
/// the end. A type name longer than 255 bytes, or an oversized blob, is refused.
inline std::byte* write_handle_entry(std::byte* out, std::string_view type_name,
                                     std::span<const std::byte> blob, std::error_code& ec) noexcept
{
  if (type_name.size() > 255 || blob.size() > platform::traits::max_handle_blob) {
    ec = errc::unrepresentable_value;
    return out;
  }
  ec.clear();
  *out++ = static_cast<std::byte>(type_name.size());
  if (!type_name.empty()) std::memcpy(out, type_name.data(), type_name.size());
  out += type_name.size();
  detail::store_u16(out, static_cast<std::uint16_t>(blob.size()));
  out += 2;
  if (!blob.empty()) std::memcpy(out, blob.data(), blob.size());
  return out + blob.size();
}

/// Appends one handle-table entry to @p out.
inline std::error_code append_handle_entry(byte_buffer& out, std::string_view type_name,
                                           std::span<const std::byte> blob = {})
{
  std::error_code ec;
  const std::size_t size = out.size();
  std::byte* end = write_handle_entry(out.extend(handle_entry_size(type_name, blob.size())),
                                      type_name, blob, ec);
  (void)end;
  if (ec) out.resize(size);
  return ec;
}

/// Writes a connection key (`{u8 size, bytes}`, `1 + key.size()` bytes) at @p out and returns
/// the end; the caller has checked `key.size() <= max_connection_key`.
inline std::byte* write_connection_key(std::byte* out, std::string_view key) noexcept
{
  *out++ = static_cast<std::byte>(key.size());
  if (!key.empty()) std::memcpy(out, key.data(), key.size());
  return out + key.size();
}

/// Splits a frame's handle table into its connection key (empty unless the frame is keyed) and
/// its entries.
inline std::error_code split_handle_table(const frame_header& h, std::span<const std::byte> table,
                                          std::string_view& key,
                                          std::span<const std::byte>& entries) noexcept
{
  key = {};
  entries = table;
  if ((h.flags & frame_flag_keyed) == 0) return {};
  if (table.empty()) return errc::malformed_frame;
  const std::size_t n = std::to_integer<std::size_t>(table[0]);
  if (table.size() - 1 < n) return errc::malformed_frame;
  key = std::string_view(reinterpret_cast<const char*>(table.data() + 1), n);
  entries = table.subspan(1 + n);
  return {};
}

/// One decoded handle-table entry; views into the frame.
struct handle_entry {
  std::string_view type_name;
  std::span<const std::byte> blob;
};

/// Walks a handle table of @p count entries, calling @p f(handle_entry) for each. The table must
/// be consumed exactly: a short, long or inconsistent table is `malformed_frame`.
template <class F>
std::error_code decode_handle_table(std::span<const std::byte> table, std::size_t count, F&& f)
{
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (table.size() - at < 1) return errc::malformed_frame;
    const std::size_t name = std::to_integer<std::size_t>(table[at]);
    at += 1;
    if (table.size() - at < name + 2) return errc::malformed_frame;
    const std::string_view type_name(reinterpret_cast<const char*>(table.data() + at), name);
    at += name;
    const std::size_t blob = detail::load_u16(table.data() + at);
    at += 2;
    if (blob > platform::traits::max_handle_blob || table.size() - at < blob)
      return errc::malformed_frame;
    f(handle_entry{type_name, table.subspan(at, blob)});
    at += blob;
  }
  if (at != table.size()) return errc::malformed_frame;
  return {};
}

IPC_END_NAMESPACE

#endif // IPC_FRAME_HPP
