// ipc/converters/channel.hpp - send a channel end over a channel (channels over channels).
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_CONVERTERS_CHANNEL_HPP
#define IPC_CONVERTERS_CHANNEL_HPP

#include "ipc/platform/config.hpp"
#include "ipc/channel.hpp"
#include "ipc/handle_converter.hpp"

#include <array>
#include <cstddef>
#include <string_view>
#include <system_error>

IPC_BEGIN_NAMESPACE
namespace detail {

template <class Serializer>
struct channel_type_name {
  // "ipc.channel/" + the serializer's name, so a json channel is not taken as a binary one.
  static constexpr auto make() noexcept
  {
    constexpr std::string_view prefix = "ipc.channel/";
    constexpr std::string_view name = Serializer::name;
    std::array<char, prefix.size() + name.size()> out{};
    for (std::size_t i = 0; i < prefix.size(); ++i) out[i] = prefix[i];
    for (std::size_t i = 0; i < name.size(); ++i) out[prefix.size() + i] = name[i];
    return out;
  }
  static constexpr auto storage = make();
  static constexpr std::string_view value{storage.data(), storage.size()};
};

} // namespace detail

/// One end of a channel. Send one end of a fresh `pair()` to a third process and the two can
/// talk directly. The sent channel must be idle (see `basic_channel::release`); it is closed in
/// the sender. An end that has been used may move too, and move on again: its first frame from
/// the new process tells the peer (the `moved_here` internal frame).
template <class Serializer, class Executor>
struct handle_converter<basic_channel<Serializer, Executor>> {
  using object_type = basic_channel<Serializer, Executor>;
  static constexpr std::string_view type_name = detail::channel_type_name<Serializer>::value;
  static constexpr handle_kind kind = handle_kind::socket;

  static native_handle send(object_type&& ch, std::error_code& ec) { return ch.release(ec); }
  static object_type got(native_handle&& h, const asio::any_io_executor& ex, std::error_code& ec)
  {
    return object_type(Executor(ex), std::move(h), detail::moved_end, ec);
  }
};

IPC_END_NAMESPACE

#endif // IPC_CONVERTERS_CHANNEL_HPP
