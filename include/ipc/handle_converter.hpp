// ipc/handle_converter.hpp - the customization point that turns objects into handles and back.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_HANDLE_CONVERTER_HPP
#define IPC_HANDLE_CONVERTER_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/native_handle.hpp"

#include <asio/any_io_executor.hpp>

#include <concepts>
#include <string_view>
#include <system_error>
#include <utility>

IPC_BEGIN_NAMESPACE

/// What kind of OS object a handle is; the Windows backend picks its transfer primitive by it.
enum class handle_kind { unknown, file, socket, pipe, process, memory };

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
};

IPC_END_NAMESPACE

#endif // IPC_HANDLE_CONVERTER_HPP
