// ipc/platform/endpoint.hpp - picks the named-endpoint backend: `ipc::platform::endpoint_traits`.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_ENDPOINT_HPP
#define IPC_PLATFORM_ENDPOINT_HPP

#include "ipc/platform/config.hpp"

#if IPC_WINDOWS
#error "the Windows backend is not written yet (include/ipc/platform/windows/)"
#else
#include "ipc/platform/posix/endpoint.hpp"
#endif

#include <chrono>
#include <concepts>
#include <cstddef>
#include <string>
#include <system_error>

IPC_BEGIN_NAMESPACE
namespace platform {

/// What every named-endpoint backend provides; checked right here.
template <class P>
concept endpoint_backend = requires(typename P::native_handle_type h, const typename P::address& a,
                                    typename P::file_identity& id, std::error_code& ec,
                                    const std::string& path)
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
    P::has_named_pipes
    } -> std::convertible_to<bool>;
  {
    P::forever_threshold
    } -> std::convertible_to<std::chrono::milliseconds>;
  {
    P::effective_uid()
    } -> std::convertible_to<long>;
  {
    P::listen(a, 0600u, 16, id, ec)
    } -> std::same_as<typename P::native_handle_type>;
  P::remove_socket_file(path, id);
  {
    P::accept(h, ec)
    } -> std::same_as<typename P::native_handle_type>;
  {
    P::connect(a, std::chrono::milliseconds(1), ec)
    } -> std::same_as<typename P::native_handle_type>;
  {
    P::open_connecting(ec)
    } -> std::same_as<typename P::native_handle_type>;
  {
    P::try_connect(h, a, ec)
    } -> std::same_as<bool>;
  P::check_address(a, ec);
};

#if IPC_WINDOWS
#else
using endpoint_traits = posix::endpoint_traits;
#endif // IPC_WINDOWS

static_assert(endpoint_backend<endpoint_traits>);

} // namespace platform
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_ENDPOINT_HPP
