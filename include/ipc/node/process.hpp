// ipc/node/process.hpp - Node channels across processes: parent_channel, and spawn for Node children.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_NODE_PROCESS_HPP
#define IPC_NODE_PROCESS_HPP

#include "ipc/platform/config.hpp"
#include "ipc/node/channel.hpp"
#include "ipc/node/error.hpp"
#include "ipc/platform/process.hpp"
#include "ipc/platform/traits.hpp"
#include "ipc/process.hpp"

#include <asio/any_io_executor.hpp>

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

IPC_BEGIN_NAMESPACE
namespace node {

/// The variable in which Node names the channel's descriptor in a child.
inline constexpr const char* channel_fd_env = "NODE_CHANNEL_FD";
/// The variable in which Node names the channel's serialization (`json` or `advanced`).
inline constexpr const char* serialization_env = "NODE_CHANNEL_SERIALIZATION_MODE";

/// Selects the Node protocol in 'json' mode for `ipc::spawn`:
/// `ipc::spawn<ipc::node::json>(io, "node", {"child.js"})` starts a Node child whose
/// `process.send` talks to `child.channel()`, an `ipc::node::channel`.
struct json {
  static constexpr std::string_view name = "json";
  static constexpr node::serialization mode = node::serialization::json;
};

/// Selects the Node protocol in 'advanced' mode (V8 serialization) for `ipc::spawn`.
struct advanced {
  static constexpr std::string_view name = "advanced";
  static constexpr node::serialization mode = node::serialization::advanced;
};

namespace detail {

/// The last `name=` entry of the environment: Node appends its own NODE_CHANNEL_FD after the
/// user's environment, so a stale inherited one may come first.
inline const char* last_env(std::string_view name) noexcept
{
  const char* found = nullptr;
  for (char** e = platform::process::environment(); e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
        entry[name.size()] == '=')
      found = *e + name.size() + 1;
  }
  return found;
}

} // namespace detail

/**
 * In a program started by Node with an `'ipc'` stdio entry (`fork()` with `execPath`, or
 * `spawn(..., {stdio: [..., 'ipc']})`), or by `ipc::spawn<ipc::node::json>`: the channel to the
 * parent.
 *
 * Reads `NODE_CHANNEL_FD` (the last occurrence in the environment) and
 * `NODE_CHANNEL_SERIALIZATION_MODE` (`json` when unset), removes both from the environment (as
 * Node does, so that grandchildren do not inherit them; not thread-safe with concurrent
 * `getenv`, like `unsetenv` itself), checks that the descriptor is a connected local stream
 * socket (and makes it close-on-exec) before taking ownership of it.
 *
 * Errors: `node::errc::no_parent_channel` when the variable is unset or empty;
 * `ipc::errc::invalid_handle` when it is not a decimal descriptor number naming a local stream
 * socket; `node::errc::unsupported_mode` for a serialization other than `json` or `advanced`.
 * @p options' `serialization` is replaced by what the environment says.
 */
inline channel parent_channel(const asio::any_io_executor& ex, std::error_code& ec,
                              channel_options options = {})
{
  using proc = platform::process;
  const char* fd_text = detail::last_env(channel_fd_env);
  const char* mode_text = detail::last_env(serialization_env);
  const std::string fd_str = fd_text ? fd_text : "";
  const std::string mode_str = mode_text ? mode_text : "json";
  proc::unset_env(channel_fd_env);
  proc::unset_env(serialization_env);
  if (fd_str.empty()) {
    ec = errc::no_parent_channel;
    return channel(ex, options);
  }
  int fd = -1;
  auto [end, perr] = std::from_chars(fd_str.data(), fd_str.data() + fd_str.size(), fd);
  if (perr != std::errc() || end != fd_str.data() + fd_str.size() || fd < 0) {
    ec = ipc::errc::invalid_handle;
    return channel(ex, options);
  }
  if (mode_str == "json") {
    options.serialization = serialization::json;
  } else if (mode_str == "advanced") {
    options.serialization = serialization::advanced;
  } else {
    ec = errc::unsupported_mode;
    return channel(ex, options);
  }
  // Check before taking ownership: a wrong number must not make us close, say, stdin.
  platform::traits::check_channel_handle(fd, ec);
  if (ec) return channel(ex, options);
  return channel(ex, ipc::native_handle(fd), ipc::node::detail::own_socket, ec, options);
}

/// As above, but a process not started with a Node channel gets an empty optional; any other
/// failure throws `std::system_error`.
inline std::optional<channel> parent_channel(const asio::any_io_executor& ex,
                                             channel_options options = {})
{
  std::error_code ec;
  channel ch = parent_channel(ex, ec, options);
  if (ec == errc::no_parent_channel) return std::nullopt;
  if (ec) ipc::detail::throw_error(ec, "node::parent_channel");
  return std::optional<channel>(std::move(ch));
}

/// Execution contexts (`asio::io_context&`) are accepted wherever an executor is.
template <class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
std::optional<channel> parent_channel(ExecutionContext& ctx, channel_options options = {})
{
  return parent_channel(asio::any_io_executor(ctx.get_executor()), options);
}

namespace detail {

template <class Tag, class Executor>
struct node_spawn_protocol {
  using channel_type = basic_channel<Executor>;
  static constexpr const char* fd_env = node::channel_fd_env;
  static constexpr const char* mode_env = node::serialization_env;
  static constexpr std::string_view mode = Tag::name;
  static channel_type make_channel(const Executor& ex, ipc::native_handle h, std::error_code& ec,
                                   const spawn_options& o)
  {
    channel_options options;
    options.max_message_size = o.channel.max_message_size;
    options.serialization = Tag::mode;
    return channel_type(ex, std::move(h), own_socket, ec, options);
  }
};

} // namespace detail
} // namespace node

/// `spawn<ipc::node::json>`: the child is told about its channel the way Node tells its
/// children (`NODE_CHANNEL_FD`, `NODE_CHANNEL_SERIALIZATION_MODE`), and the parent's end is an
/// `ipc::node::basic_channel`. `spawn_options::channel.max_message_size` applies to it.
template <class Executor>
struct spawn_protocol<node::json, Executor> : node::detail::node_spawn_protocol<node::json, Executor> {};
/// `spawn<ipc::node::advanced>`: as above, in V8 serialization mode.
template <class Executor>
struct spawn_protocol<node::advanced, Executor>
  : node::detail::node_spawn_protocol<node::advanced, Executor> {};

IPC_END_NAMESPACE

#endif // IPC_NODE_PROCESS_HPP
