// ipc/serializers/raw.hpp - the serializer whose payload is the caller's bytes, unchanged.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_SERIALIZERS_RAW_HPP
#define IPC_SERIALIZERS_RAW_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/error.hpp"
#include "ipc/serializer.hpp"

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

IPC_BEGIN_NAMESPACE

namespace detail {

// The element types a raw payload may be read as. All three may alias any object, so viewing
// the receive buffer through them is well defined.
template <class C>
concept raw_char = std::same_as<C, char> || std::same_as<C, unsigned char> ||
                   std::same_as<C, std::byte>;

// Types that own a copy of the bytes.
template <class T>
concept raw_owner = std::same_as<T, std::string> ||
                    (requires { typename T::value_type; } &&
                     raw_char<typename T::value_type> &&
                     std::same_as<T, std::vector<typename T::value_type>>);

// Types that only refer to bytes stored elsewhere.
template <class T>
concept raw_view = std::same_as<T, std::string_view> ||
                   (requires { typename T::element_type; } &&
                    raw_char<std::remove_const_t<typename T::element_type>> &&
                    std::same_as<T, std::span<const typename T::element_type>>);

} // namespace detail

/// A type the `raw` serializer can send and receive: `std::string`, `std::string_view`, and a
/// `std::vector` of, or `std::span` of const, `char`, `unsigned char` or `std::byte`.
template <class T>
concept raw_bytes = detail::raw_owner<T> || detail::raw_view<T>;

/// The payload is the message's bytes exactly as they are: no length, no tag, no conversion.
///
/// Use it for data that already has a format of its own (an image, a protobuf, a compressed
/// block) or to carry bytes between processes that agree on their meaning some other way.
///
/// Sending: every `raw_bytes` type also has `bytes_of`, so the channel writes the caller's
/// memory directly (scatter-gather I/O) and `encode` is never needed on that path.
///
/// Receiving: the owning types (`std::string`, `std::vector<...>`) copy the payload. The view
/// types (`std::string_view`, `std::span<const std::byte>`, `std::span<const char>`,
/// `std::span<const unsigned char>`) copy nothing: they point into the channel's receive
/// buffer, which stays valid only until the next receive on the same channel (or until the
/// channel is destroyed). Copy the data out before receiving again if it must live longer.
///
/// Errors: none from the format itself; every byte sequence is a valid payload. The size of a
/// message is limited by the channel (`max_message_size`, `errc::message_too_large`), not here.
///
/// Thread safety: stateless; any number of threads may use it at once.
class raw {
public:
  /// The name the channel and a spawned child use to agree on the payload encoding.
  static constexpr std::string_view name = "raw";

  /// The bytes of @p value, pointing into @p value itself (no copy): what `encode` appends.
  template <raw_bytes T>
  [[nodiscard]] static std::span<const std::byte> bytes_of(const T& value) noexcept
  {
    return std::as_bytes(std::span(value.data(), value.size()));
  }

  /// Appends the bytes of @p value to @p out. Never fails.
  template <raw_bytes T>
  [[nodiscard]] static std::error_code encode(const T& value, byte_buffer& out)
  {
    out.append(bytes_of(value));
    return {};
  }

  /// Sets @p target to the whole of @p in: a copy for owning types, a view into @p in for
  /// view types (see the class documentation for how long such a view stays valid). Never
  /// fails.
  template <raw_bytes T>
  [[nodiscard]] static std::error_code decode(std::span<const std::byte> in, T& target)
  {
    // char, unsigned char and std::byte may alias any object, so each reinterpret_cast below
    // is well defined.
    if constexpr (std::same_as<T, std::string>) {
      target.assign(reinterpret_cast<const char*>(in.data()), in.size()); // reuses capacity
    } else if constexpr (std::same_as<T, std::string_view>) {
      target = T(reinterpret_cast<const char*>(in.data()), in.size());
    } else if constexpr (detail::raw_owner<T>) {
      using value_type = typename T::value_type;
      const auto* first = reinterpret_cast<const value_type*>(in.data());
      target.assign(first, first + in.size());
    } else {
      using element_type = typename T::element_type;
      target = T(reinterpret_cast<element_type*>(in.data()), in.size());
    }
    return {};
  }
};

static_assert(serializer<raw>);

IPC_END_NAMESPACE

#endif // IPC_SERIALIZERS_RAW_HPP
