// ipc/handle_converter.hpp - the customization point that turns objects into handles and back.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_HANDLE_CONVERTER_HPP
#define IPC_HANDLE_CONVERTER_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/handle_kind.hpp"
#include "ipc/native_handle.hpp"

#include <asio/any_io_executor.hpp>

#include <concepts>
#include <string_view>
#include <system_error>
#include <utility>

IPC_BEGIN_NAMESPACE

/// Specialize for each type that can travel beside a message (Node's `handleConversion`
/// table, checked by the compiler). Declared, never defined: a type without a specialization
/// is not `transferable`.
template <class H>
struct handle_converter;

/// @p H has a complete converter: a stable wire `type_name`, a `kind`, `send` that consumes the
/// object and yields the handle to transmit, and `got` that rebuilds the object on `ex`.
template <class H>
concept transferable = requires(H&& h, native_handle&& n, const asio::any_io_executor& ex,
                                std::error_code& ec) {
  { handle_converter<H>::type_name } -> std::convertible_to<std::string_view>;
  { handle_converter<H>::kind } -> std::convertible_to<handle_kind>;
  { handle_converter<H>::send(std::move(h), ec) } -> std::same_as<native_handle>;
  { handle_converter<H>::got(std::move(n), ex, ec) } -> std::same_as<H>;
};

/// @p H's converter can also send a duplicate while the sender keeps its object
/// (`keep_open`): an optional `share(const H&, std::error_code&) -> native_handle`.
template <class H>
concept shareable = transferable<H> && requires(const H& h, std::error_code& ec) {
  { handle_converter<H>::share(h, ec) } -> std::same_as<native_handle>;
};

/// Sends a handle while the sender keeps its own object open and usable (Node's `keepOpen`):
/// `ch.send(msg, ipc::keep_open(socket))`. The converter's `share` duplicates the handle when
/// the message is queued; that duplicate travels, and the library closes it once the receiver
/// has acknowledged the message. Without `keep_open`, the object is moved in, and the sender's
/// copy is closed after the acknowledgement.
template <class H>
struct keep_open_t {
  const H& object;
};

template <class H>
keep_open_t<H> keep_open(const H& object) noexcept
{
  return {object};
}

namespace detail {

template <class T>
concept complete_type = requires { sizeof(T); };

/// The compiler's answer to "why is H not transferable", one requirement at a time: used by
/// `send` so that a missing converter, or a converter missing a piece, is named in the error.
template <class H>
constexpr bool check_transferable() noexcept
{
  using converter = handle_converter<H>;
  static_assert(complete_type<converter>,
                "ipc: this handle type has no ipc::handle_converter<H> specialization: include the "
                "header that provides one (ipc/converters/asio.hpp, ipc/converters/channel.hpp) or "
                "specialize ipc::handle_converter<H> with type_name, kind, send and got");
  if constexpr (complete_type<converter>) {
    static_assert(requires { { converter::type_name } -> std::convertible_to<std::string_view>; },
                  "ipc: handle_converter<H> lacks `static constexpr std::string_view type_name`");
    static_assert(requires { { converter::kind } -> std::convertible_to<handle_kind>; },
                  "ipc: handle_converter<H> lacks `static constexpr ipc::handle_kind kind`");
    static_assert(requires(H&& h, std::error_code& ec) {
                    { converter::send(std::move(h), ec) } -> std::same_as<native_handle>;
                  },
                  "ipc: handle_converter<H> lacks `static ipc::native_handle send(H&&, "
                  "std::error_code&)`");
    static_assert(requires(native_handle&& n, const asio::any_io_executor& ex, std::error_code& ec) {
                    { converter::got(std::move(n), ex, ec) } -> std::same_as<H>;
                  },
                  "ipc: handle_converter<H> lacks `static H got(ipc::native_handle&&, const "
                  "asio::any_io_executor&, std::error_code&)`");
  }
  return true;
}

/// As `check_transferable`, for `keep_open(h)`: the converter must also have `share`.
template <class H>
constexpr bool check_shareable() noexcept
{
  check_transferable<H>();
  if constexpr (transferable<H>)
    static_assert(shareable<H>,
                  "ipc: keep_open(h) needs handle_converter<H>::share(const H&, std::error_code&) "
                  "-> ipc::native_handle (a duplicate to send while the sender keeps h); channels "
                  "have none: a channel end used by two processes would interleave its frames");
  return true;
}

} // namespace detail

/// Any descriptor, as it is ("native"): ownership moves into the message.
template <>
struct handle_converter<native_handle> {
  static constexpr std::string_view type_name = "native";
  static constexpr handle_kind kind = handle_kind::unknown;

  static native_handle send(native_handle&& h, std::error_code& ec)
  {
    if (!h) ec = errc::no_such_handle;
    else ec.clear();
    return std::move(h);
  }
  static native_handle got(native_handle&& h, const asio::any_io_executor&, std::error_code& ec)
  {
    ec.clear();
    return std::move(h);
  }
  static native_handle share(const native_handle& h, std::error_code& ec)
  {
    if (!h) {
      ec = errc::no_such_handle;
      return {};
    }
    return h.duplicate(ec);
  }
};

IPC_END_NAMESPACE

#endif // IPC_HANDLE_CONVERTER_HPP
