// ipc/converters/asio.hpp - handle converters for Asio's TCP, UDP and local sockets and acceptors.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_CONVERTERS_ASIO_HPP
#define IPC_CONVERTERS_ASIO_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/handle_converter.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/platform/traits.hpp"

#include <asio/basic_datagram_socket.hpp>
#include <asio/basic_socket_acceptor.hpp>
#include <asio/basic_stream_socket.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/local/stream_protocol.hpp>

#include <string_view>
#include <system_error>
#include <type_traits>

IPC_BEGIN_NAMESPACE
namespace detail {

using socket_family = platform::traits::socket_family;
using socket_type = platform::traits::socket_type;

/// Per protocol: which descriptors are acceptable and how to name the protocol to Asio.
template <class Protocol>
struct protocol_traits;

/// TCP and UDP: IPv4 or IPv6 sockets of one type.
template <class Protocol, socket_type Type>
struct ip_protocol_traits {
  static constexpr socket_type type = Type;
  static bool accepts(socket_family f) noexcept
  {
    return f == socket_family::ipv4 || f == socket_family::ipv6;
  }
  static Protocol protocol(socket_family f) noexcept
  {
    return f == socket_family::ipv6 ? Protocol::v6() : Protocol::v4();
  }
};

template <>
struct protocol_traits<asio::ip::tcp> : ip_protocol_traits<asio::ip::tcp, socket_type::stream> {};

template <>
struct protocol_traits<asio::ip::udp> : ip_protocol_traits<asio::ip::udp, socket_type::datagram> {};

template <>
struct protocol_traits<asio::local::stream_protocol> {
  static constexpr socket_type type = socket_type::stream;
  static bool accepts(socket_family f) noexcept { return f == socket_family::local; }
  static asio::local::stream_protocol protocol(socket_family) noexcept { return {}; }
};

/// Takes the descriptor out of an Asio socket or acceptor (cancelling its pending operations,
/// which complete with operation_aborted) and makes it close-on-exec.
///
/// On Windows, Asio's `release` also un-binds the socket from the io_context's completion port
/// (a socket still bound there could not be used by the receiver), which needs Windows 8.1
/// (wine 8 cannot do it). When it cannot, this fails with `operation_not_supported` and the
/// object keeps its socket, open and usable; only its pending operations were cancelled.
template <class Object>
native_handle release_socket(Object& object, std::error_code& ec)
{
  if (!object.is_open()) {
    ec = errc::no_such_handle;
    return {};
  }
  const auto s = object.release(ec);
  if (ec) {
    if (ec == asio::error::operation_not_supported) ec = std::make_error_code(std::errc::operation_not_supported);
    return {};
  }
  native_handle h(platform::traits::from_socket(s));
  platform::traits::set_close_on_exec(h.get(), ec);
  return ec ? native_handle() : std::move(h);
}

/// Wraps @p h in a new Asio object on @p ex after checking it really is that kind of socket:
/// a peer that labels a pipe as a TCP socket gets `invalid_handle`, not a broken object.
template <class Object, class Protocol>
Object adopt_socket(native_handle&& h, const asio::any_io_executor& ex, bool listening,
                    std::error_code& ec)
{
  using executor_type = typename Object::executor_type;
  Object object{executor_type(ex)};
  const auto info = platform::traits::describe_socket(h.get(), ec);
  if (ec) {
    if (ec == std::errc::not_a_socket) ec = errc::invalid_handle;
    return object;
  }
  if (info.type != protocol_traits<Protocol>::type || !protocol_traits<Protocol>::accepts(info.family) ||
      info.listening != listening) {
    ec = errc::invalid_handle;
    return object;
  }
  object.assign(protocol_traits<Protocol>::protocol(info.family), platform::traits::to_socket(h.get()), ec);
  if (!ec) (void)h.release();
  return object;
}

/// What every Asio socket converter shares: `send` releases the descriptor, `got` checks it is
/// a @p Protocol socket (listening or not, as @p Listening says) and wraps it.
template <class Object, class Protocol, bool Listening>
struct socket_converter {
  using object_type = Object;
  static constexpr handle_kind kind = handle_kind::socket;

  static native_handle send(object_type&& s, std::error_code& ec) { return release_socket(s, ec); }
  /// A duplicate for `keep_open`. Refused (`operation_not_supported`) where the duplicate
  /// would share the object's completion port binding and be of no use to the receiver
  /// (Windows: `platform::traits::shares_bound_sockets`).
  static native_handle share(const object_type& s, std::error_code& ec)
  {
    if (!s.is_open()) {
      ec = errc::no_such_handle;
      return {};
    }
    if constexpr (!platform::traits::shares_bound_sockets) {
      ec = std::make_error_code(std::errc::operation_not_supported);
      return {};
    } else {
      return native_handle::duplicate_of(
        platform::traits::from_socket(const_cast<object_type&>(s).native_handle()), ec);
    }
  }
  static object_type got(native_handle&& h, const asio::any_io_executor& ex, std::error_code& ec)
  {
    return adopt_socket<object_type, Protocol>(std::move(h), ex, Listening, ec);
  }
};

/// Asio's local sockets travel where the backend says they do (POSIX; not Windows).
template <class Protocol>
concept transferable_stream_protocol =
  std::same_as<Protocol, asio::ip::tcp> ||
  (platform::traits::transfers_local_sockets && std::same_as<Protocol, asio::local::stream_protocol>);

} // namespace detail

/// A connected stream socket (TCP, or local on POSIX). The receiver reads and writes it as its
/// own; the remote end sees one continuous connection. The sender's object is emptied by `send`.
template <class Protocol, class Executor>
  requires detail::transferable_stream_protocol<Protocol>
struct handle_converter<asio::basic_stream_socket<Protocol, Executor>>
  : detail::socket_converter<asio::basic_stream_socket<Protocol, Executor>, Protocol, false> {
  static constexpr std::string_view type_name =
    std::is_same_v<Protocol, asio::ip::tcp> ? "asio.tcp.socket" : "asio.local.stream.socket";
};

/// A UDP socket (bound or connected).
template <class Executor>
struct handle_converter<asio::basic_datagram_socket<asio::ip::udp, Executor>>
  : detail::socket_converter<asio::basic_datagram_socket<asio::ip::udp, Executor>, asio::ip::udp,
                             false> {
  static constexpr std::string_view type_name = "asio.udp.socket";
};

/// A listening socket (TCP, or local on POSIX). The receiver accepts on it; several processes
/// may accept on the same listening socket (each connection goes to one of them).
template <class Protocol, class Executor>
  requires detail::transferable_stream_protocol<Protocol>
struct handle_converter<asio::basic_socket_acceptor<Protocol, Executor>>
  : detail::socket_converter<asio::basic_socket_acceptor<Protocol, Executor>, Protocol, true> {
  static constexpr std::string_view type_name =
    std::is_same_v<Protocol, asio::ip::tcp> ? "asio.tcp.acceptor" : "asio.local.stream.acceptor";
};

IPC_END_NAMESPACE

#endif // IPC_CONVERTERS_ASIO_HPP
