// ipc/platform/traits.hpp - picks the backend at compile time: `ipc::platform::traits`.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_TRAITS_HPP
#define IPC_PLATFORM_TRAITS_HPP

#include "ipc/platform/config.hpp"
#include "ipc/handle_kind.hpp"

#if IPC_WINDOWS
#include "ipc/platform/windows/traits.hpp"
#else
#include "ipc/platform/posix/traits.hpp"
#endif

#include <concepts>
#include <cstddef>
#include <span>
#include <system_error>
#include <vector>

IPC_BEGIN_NAMESPACE
namespace platform {

/// What every backend provides; each backend's traits are checked against it right here.
template <class P>
concept platform_traits = requires(typename P::native_handle_type h, std::error_code& ec,
                                   std::span<const asio::const_buffer> out,
                                   std::span<const typename P::native_handle_type> hs,
                                   std::span<std::byte> in,
                                   std::vector<typename P::native_handle_type>& got) {
  { P::invalid_handle } -> std::convertible_to<typename P::native_handle_type>;
  { P::max_handle_blob } -> std::convertible_to<std::size_t>;
  { P::handle_blob_size(handle_kind::unknown, h) } -> std::convertible_to<std::size_t>;
  { P::max_handles_per_message } -> std::convertible_to<std::size_t>;
  P::close_handle(h);
  { P::duplicate_handle(h, ec) } -> std::same_as<typename P::native_handle_type>;
  P::create_pair(ec);
  P::check_channel_handle(h, ec);
  { P::send_some(h, out, hs, true, ec) } -> std::same_as<std::size_t>;
  { P::receive_some(h, in, got, std::size_t{}, true, ec) } -> std::same_as<std::size_t>;
  { P::wait(h, 1, ec) } -> std::same_as<int>;
  { P::peer_credentials(h, ec).pid } -> std::convertible_to<long>;
  { P::identify_handle(h, ec) } -> std::same_as<typename P::handle_identity>;
};

#if IPC_WINDOWS
using traits = windows::traits;
#else
using traits = posix::traits;
#endif // IPC_WINDOWS

static_assert(platform_traits<traits>);

} // namespace platform
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_TRAITS_HPP
