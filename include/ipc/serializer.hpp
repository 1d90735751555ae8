// ipc/serializer.hpp - the serializer concepts every channel is parameterized on.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_SERIALIZER_HPP
#define IPC_SERIALIZER_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/error.hpp"

#include <concepts>
#include <span>
#include <string_view>
#include <system_error>
#include <type_traits>

IPC_BEGIN_NAMESPACE

/// A serializer is a policy object owned by each channel (it may keep state between messages,
/// such as a parser's reusable buffers). It has a stable `name` that says how the payload is
/// encoded (`"json"`, `"binary"`, `"raw"`, or the user's own); a spawned child learns it from
/// its environment. Serializers report failures through their return value and never throw for
/// bad input.
template <class S>
concept serializer = std::default_initializable<S> && std::movable<S> && requires {
  { S::name } -> std::convertible_to<std::string_view>;
};

/// @p S can encode values of type @p T: `s.encode(value, out)` appends the payload bytes of
/// @p value to @p out (and leaves @p out as it was when it fails). What `send` needs.
template <class S, class T>
concept encoder_for = serializer<S> && requires(S& s, const T& value, byte_buffer& out) {
  { s.encode(value, out) } -> std::same_as<std::error_code>;
};

/// @p S can decode values of type @p T: `s.decode(in, value)` fills @p value from the payload
/// @p in. The span is a view into the channel's receive buffer: it stays valid until the next
/// receive on that channel (so a decoded `std::string_view` or `std::span` may point into it),
/// and `payload_padding` bytes after its end are readable (their values are unspecified). Bad
/// input gives an `ipc::errc` code; it never crashes, never reads out of bounds, and never
/// allocates more than the input justifies. What `receive` needs.
template <class S, class T>
concept decoder_for =
  serializer<S> && std::default_initializable<T> &&
  requires(S& s, T& target, std::span<const std::byte> in) {
    { s.decode(in, target) } -> std::same_as<std::error_code>;
  };

/// @p S can encode and decode values of type @p T.
template <class S, class T>
concept serializer_for = encoder_for<S, T> && decoder_for<S, T>;

/// Optional zero-copy path: when `s.bytes_of(value)` exists, the channel writes those bytes
/// straight from the caller's memory (scatter-gather) instead of calling `encode`. It must
/// produce exactly what `encode` would append.
template <class S, class T>
concept contiguous_serializer_for =
  encoder_for<S, T> && requires(S& s, const T& value) {
    { s.bytes_of(value) } -> std::convertible_to<std::span<const std::byte>>;
  };

IPC_END_NAMESPACE

#endif // IPC_SERIALIZER_HPP
