// ipc/platform/endpoint.hpp - picks the named-endpoint backend: `ipc::platform::endpoint_traits`.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_ENDPOINT_HPP
#define IPC_PLATFORM_ENDPOINT_HPP

#include "ipc/platform/config.hpp"

#if IPC_WINDOWS
#include "ipc/platform/windows/endpoint.hpp"
#else
#include "ipc/platform/posix/endpoint.hpp"
#endif

#include <asio/any_io_executor.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <string>
#include <system_error>

IPC_BEGIN_NAMESPACE
namespace platform {

/// What every named-endpoint backend provides; checked right here.
///
/// `listener<Executor>` is what an acceptor holds: `open` listens, `accept` takes one pending
/// connection or reports `would_block`, `wait` blocks until one is pending and `async_wait`
/// completes then (honouring the handler's cancellation slot), `close` stops listening.
template <class P>
concept endpoint_backend = requires(typename P::native_handle_type& h, const typename P::address& a,
                                    std::error_code& ec, std::string file,
                                    typename P::template listener<asio::any_io_executor>& l)
{
  {
    P::max_path_size
    } -> std::convertible_to<std::size_t>;
  {
    P::max_abstract_size
    } -> std::convertible_to<std::size_t>;
  {
    P::max_pipe_size
    } -> std::convertible_to<std::size_t>;
  {
    P::has_abstract_namespace
    } -> std::convertible_to<bool>;
  {
    P::has_socket_files
    } -> std::convertible_to<bool>;
  {
    P::has_named_pipes
    } -> std::convertible_to<bool>;
  {
    P::has_peer_uid
    } -> std::convertible_to<bool>;
  {
    P::forever_threshold
    } -> std::convertible_to<std::chrono::milliseconds>;
  {
    P::effective_uid()
    } -> std::convertible_to<long>;
  {
    P::connect(a, std::chrono::milliseconds(1), ec)
    } -> std::same_as<typename P::native_handle_type>;
  {
    P::try_connect(h, a, ec)
    } -> std::same_as<bool>;
  l.open(a, std::move(file), 0600u, 16, ec);
  {
    l.is_open()
    } -> std::convertible_to<bool>;
  {
    l.accept(ec)
    } -> std::same_as<typename P::native_handle_type>;
  l.wait(ec);
  l.close();
};

#if IPC_WINDOWS
using endpoint_traits = windows::endpoint_traits;
#else
using endpoint_traits = posix::endpoint_traits;
#endif // IPC_WINDOWS

static_assert(endpoint_backend<endpoint_traits>);

} // namespace platform
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_ENDPOINT_HPP
