// ipc/process.hpp - start a child with an inherited channel; find that channel in the child.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PROCESS_HPP
#define IPC_PROCESS_HPP

#include "ipc/platform/config.hpp"
#include "ipc/channel.hpp"
#include "ipc/error.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/platform/process.hpp"
#include "ipc/platform/traits.hpp"
#include "ipc/serializer.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/compose.hpp>
#include <asio/post.hpp>
#include <asio/readable_pipe.hpp>
#include <asio/writable_pipe.hpp>

#include <array>
#include <charconv>
#include <climits>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE

/// The environment variable that carries the inherited channel's descriptor number.
inline constexpr const char* channel_fd_env = "IPC_CHANNEL_FD";
/// The environment variable that carries the channel's serializer name (`S::name`).
inline constexpr const char* channel_serialization_env = "IPC_CHANNEL_SERIALIZATION";

/// How one of the child's standard streams (0, 1, 2) is set up.
struct stdio_spec {
  enum class mode { inherit, pipe, ignore, handle };
  mode kind = mode::inherit;
  native_handle::native_type handle = native_handle::invalid; // for mode::handle (borrowed)
};

/// Node's `stdio` values: `{ipc::stdio::inherit, ipc::stdio::pipe, ipc::stdio::ignore}`.
namespace stdio {
/// The child shares the parent's stream.
inline constexpr stdio_spec inherit{stdio_spec::mode::inherit};
/// A pipe: the parent gets the other end as an Asio pipe (`child::stdin_pipe()` ...).
inline constexpr stdio_spec pipe{stdio_spec::mode::pipe};
/// /dev/null.
inline constexpr stdio_spec ignore{stdio_spec::mode::ignore};
/// A descriptor of the parent's (borrowed: the parent keeps it), placed there with `dup2`.
constexpr stdio_spec from(native_handle::native_type h) noexcept
{
  return {stdio_spec::mode::handle, h};
}
} // namespace stdio

/// Whether the child starts from the parent's environment or from an empty one.
enum class env_mode { inherit, replace };

/// How to start a child.
struct spawn_options {
  /// The child's stdin, stdout, stderr.
  std::array<stdio_spec, 3> stdio{stdio::inherit, stdio::inherit, stdio::inherit};
  /// `inherit`: the parent's environment with `env` applied on top; `replace`: only `env`.
  env_mode environment = env_mode::inherit;
  /// Variables to set (overriding inherited ones).
  std::map<std::string, std::string> env;
  /// Inherited variables to drop.
  std::vector<std::string> env_remove;
  /// The child's working directory; empty: the parent's.
  std::filesystem::path cwd;
  /// Extra descriptors: {number in the child, parent's descriptor (borrowed)}.
  std::vector<std::pair<int, native_handle::native_type>> handles;
  /// The descriptor number the channel gets in the child.
  int channel_fd = 3;
  /// Limits of the parent's end of the channel.
  channel_options channel;
};

/// How `spawn<Protocol>` sets up a child's channel: the parent's channel type, the environment
/// variables that announce the channel to the child, and how the parent's end is made. The
/// primary template is the native protocol with serializer @p Protocol; the Node protocol
/// (`ipc::node::json`, `ipc::node::advanced` in ipc/node/process.hpp) specializes it so that
/// `spawn` can start Node children.
template <class Protocol, class Executor>
struct spawn_protocol {
  using channel_type = basic_channel<Protocol, Executor>;
  static constexpr const char* fd_env = channel_fd_env;
  static constexpr const char* mode_env = channel_serialization_env;
  static constexpr std::string_view mode = Protocol::name;
  static channel_type make_channel(const Executor& ex, native_handle h, std::error_code& ec,
                                   const spawn_options& o)
  {
    return channel_type(ex, std::move(h), detail::own_socket, ec, o.channel);
  }
};

/// How a child ended.
struct exit_status {
  /// The exit code when it exited normally, else -1.
  int code = -1;
  /// The signal that ended it, else 0.
  int signal = 0;
  bool exited() const noexcept { return signal == 0 && code >= 0; }
  bool signaled() const noexcept { return signal != 0; }
  bool success() const noexcept { return exited() && code == 0; }
};

/// A started child process and the parent's end of its channel.
///
/// Destruction neither blocks nor kills: the channel closes (the child reads end of stream) and,
/// if the child has not been waited for, an asynchronous wait on its exit notifier is left on
/// the executor, which reaps the child when it exits. Only if that executor's `io_context` is
/// stopped or destroyed first does the child stay a zombie until this process exits. Call
/// `wait`/`async_wait` (or `kill` then `wait`) to control the end yourself.
///
/// Waiting is per child (a pidfd watched by the event loop, `waitpid` on this pid only): no
/// SIGCHLD handler is installed and no other code's children are reaped.
template <serializer Serializer, class Executor = asio::any_io_executor>
class basic_child {
  using proc = platform::process;
  using waiter_type = proc::exit_waiter<Executor>;

public:
  using executor_type = Executor;
  using channel_type = typename spawn_protocol<Serializer, Executor>::channel_type;
  using pid_type = proc::pid_type;

  basic_child(basic_child&&) noexcept = default;
  basic_child& operator=(basic_child&& other) noexcept
  {
    if (this != &other) {
      detach();
      state_ = std::move(other.state_);
      channel_ = std::move(other.channel_);
      stdin_ = std::move(other.stdin_);
      stdout_ = std::move(other.stdout_);
      stderr_ = std::move(other.stderr_);
    }
    return *this;
  }
  ~basic_child() { detach(); }

  /// The child's process id (-1 when spawning failed).
  pid_type pid() const noexcept { return state_ ? state_->pid : -1; }
  channel_type& channel() noexcept { return channel_; }
  executor_type get_executor() const noexcept { return channel_.get_executor(); }

  /// The parent's ends of piped stdio (empty unless `stdio::pipe` was asked for).
  std::optional<asio::basic_writable_pipe<Executor>>& stdin_pipe() noexcept { return stdin_; }
  std::optional<asio::basic_readable_pipe<Executor>>& stdout_pipe() noexcept { return stdout_; }
  std::optional<asio::basic_readable_pipe<Executor>>& stderr_pipe() noexcept { return stderr_; }

  /// The exit status once the child has been reaped.
  std::optional<exit_status> status() const noexcept
  {
    return state_ ? state_->status : std::nullopt;
  }

  /// Blocks until the child exits and reaps it. @throws std::system_error
  exit_status wait()
  {
    std::error_code ec;
    exit_status s = wait(ec);
    if (ec) detail::throw_error(ec, "child::wait");
    return s;
  }
  exit_status wait(std::error_code& ec)
  {
    if (!state_ || state_->pid < 0) {
      ec = std::make_error_code(std::errc::no_child_process);
      return {};
    }
    if (!state_->status) {
      const auto s = proc::wait(state_->pid, true, ec);
      if (ec) return {};
      state_->record(s);
    }
    ec.clear();
    return *state_->status;
  }

  /// Reaps the child if it has exited; never blocks.
  std::optional<exit_status> try_wait(std::error_code& ec)
  {
    if (!state_ || state_->pid < 0) {
      ec = std::make_error_code(std::errc::no_child_process);
      return std::nullopt;
    }
    if (!state_->status) {
      const auto s = proc::wait(state_->pid, false, ec);
      if (!ec && s.done) state_->record(s);
    }
    return state_->status;
  }

  /// Waits for the child's exit in the event loop and reaps it.
  ///
  /// Completion signature: `void(std::error_code, ipc::exit_status)`. One outstanding wait per
  /// child; the child object may be moved meanwhile. Cancellation: the wait completes with
  /// `operation_aborted`; the child is unaffected.
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_wait(CompletionToken&& token = CompletionToken())
  {
    IPC_ASSERT(state_ != nullptr);
    return asio::async_compose<CompletionToken, void(std::error_code, exit_status)>(
      wait_op{state_}, token, state_->waiter);
  }

  /// Sends @p signal (default SIGTERM) to the child. @throws std::system_error
  void kill(int signal = proc::terminate_signal)
  {
    std::error_code ec;
    kill(signal, ec);
    if (ec) detail::throw_error(ec, "child::kill");
  }
  /// As above; a child already reaped gives `no_such_process` (its pid may be reused).
  void kill(int signal, std::error_code& ec)
  {
    if (!state_ || state_->pid < 0 || state_->status) {
      ec = std::make_error_code(std::errc::no_such_process);
      return;
    }
    proc::kill(state_->pid, signal, ec);
  }

  /// Built by `spawn`; not for users.
  basic_child(const Executor& ex, pid_type pid, proc::fd_type exit_notifier, channel_type channel)
    : state_(std::make_shared<state>(ex, pid)), channel_(std::move(channel))
  {
    if (proc::valid_fd(exit_notifier)) {
      std::error_code ignored;
      state_->waiter.assign(exit_notifier, ignored);
    }
  }
  void set_pipes(std::optional<asio::basic_writable_pipe<Executor>> in,
                 std::optional<asio::basic_readable_pipe<Executor>> out,
                 std::optional<asio::basic_readable_pipe<Executor>> err)
  {
    stdin_ = std::move(in);
    stdout_ = std::move(out);
    stderr_ = std::move(err);
  }

private:
  /// Shared with outstanding waits, so that they survive a move of the child object.
  struct state {
    state(const Executor& ex, pid_type p) : pid(p), waiter(ex) {}
    pid_type pid;
    std::optional<exit_status> status;
    waiter_type waiter;

    void record(const proc::status& s) noexcept
    {
      status = exit_status{s.exit_code, s.signal};
      std::error_code ignored;
      waiter.close(ignored);
    }
  };

  struct wait_op {
    std::shared_ptr<state> st;
    bool started = false;
    std::error_code result{};

    template <class Self>
    void operator()(Self& self, std::error_code ec = {})
    {
      if (!started && !st->status) {
        const auto s = proc::wait(st->pid, false, result);
        if (!result && s.done) st->record(s);
      } else if (started && !ec && !st->status) {
        const auto s = proc::wait(st->pid, false, result);
        if (!result && s.done) st->record(s);
      } else if (ec) {
        result = ec;
      }
      if (!result && !st->status) {
        // Still running: sleep until the exit notifier fires.
        started = true;
        st->waiter.async_wait(waiter_type::wait_read, std::move(self));
        return;
      }
      if (!started) {
        // Decided inside the initiating call: complete through the executor, never inline.
        started = true;
        asio::post(st->waiter.get_executor(), std::move(self));
        return;
      }
      self.complete(result, st->status.value_or(exit_status{}));
    }
  };

  /// Leaves a background wait that reaps the child once it exits (see the class comment).
  void detach() noexcept
  {
    if (!state_ || state_->pid < 0 || state_->status || !state_->waiter.is_open()) return;
    std::error_code ec;
    const auto s = proc::wait(state_->pid, false, ec);
    if (ec || s.done) return;
    try {
      state_->waiter.async_wait(waiter_type::wait_read, [st = state_](std::error_code) {
        std::error_code ignored;
        (void)proc::wait(st->pid, false, ignored);
      });
    } catch (...) {
      // Out of memory: the child stays a zombie until this process exits.
    }
  }

  std::shared_ptr<state> state_;
  channel_type channel_;
  std::optional<asio::basic_writable_pipe<Executor>> stdin_;
  std::optional<asio::basic_readable_pipe<Executor>> stdout_;
  std::optional<asio::basic_readable_pipe<Executor>> stderr_;
};

/// `basic_child` on the polymorphic executor.
template <serializer Serializer>
using child = basic_child<Serializer>;

namespace detail {

/// Owns the strings behind a spawn plan's pointers.
struct spawn_strings {
  std::vector<std::string> argv, envp;
  std::string path, cwd;
};

inline std::string_view env_name(std::string_view entry) noexcept
{
  return entry.substr(0, entry.find('='));
}

template <class Serializer>
void build_environment(const spawn_options& o, const std::string& channel_value,
                       std::vector<std::string>& out)
{
  using protocol = spawn_protocol<Serializer, asio::any_io_executor>;
  const std::string_view fd_env = protocol::fd_env, mode_env = protocol::mode_env;
  auto overridden = [&](std::string_view name) {
    if (name == fd_env || name == mode_env) return true;
    if (o.env.count(std::string(name)) != 0) return true;
    for (const auto& r : o.env_remove)
      if (r == name) return true;
    return false;
  };
  if (o.environment == env_mode::inherit)
    for (char** e = platform::process::environment(); e != nullptr && *e != nullptr; ++e)
      if (!overridden(env_name(*e))) out.emplace_back(*e);
  for (const auto& [k, v] : o.env)
    if (k != fd_env && k != mode_env) out.push_back(k + "=" + v);
  out.push_back(std::string(fd_env) + "=" + channel_value);
  out.push_back(std::string(mode_env) + "=" + std::string(protocol::mode));
}

} // namespace detail

/// Starts @p path with @p args and a connected `channel<Serializer>` inherited by the child (at
/// descriptor `options.channel_fd`, announced in `IPC_CHANNEL_FD` and
/// `IPC_CHANNEL_SERIALIZATION`). A @p path without '/' is searched in `PATH`. With a protocol
/// that specializes `spawn_protocol` (such as `ipc::node::json`), the channel and the variables
/// are that protocol's instead.
///
/// The child inherits exactly: the channel, the stdio as asked, and `options.handles`; nothing
/// else, even descriptors that other code opened without close-on-exec. Failure to start
/// (missing program, not executable, bad cwd) is reported here, with the OS's error code.
/// Safe to call from several threads at once.
template <serializer Serializer>
child<Serializer> spawn(const asio::any_io_executor& ex, const std::filesystem::path& path,
                        const std::vector<std::string>& args, const spawn_options& options,
                        std::error_code& ec)
{
  using Executor = asio::any_io_executor;
  using proc = platform::process;
  using child_t = basic_child<Serializer, Executor>;
  using protocol = spawn_protocol<Serializer, Executor>;
  using channel_t = typename protocol::channel_type;

  auto fail = [&](std::error_code e) {
    ec = e;
    return child_t(ex, -1, proc::invalid_fd, channel_t(ex));
  };

  // Validate the descriptor plan: distinct targets, none clashing with the channel.
  std::vector<int> targets{options.channel_fd};
  for (const auto& [target, source] : options.handles) {
    if (target < 0 || !proc::valid_fd(source))
      return fail(std::make_error_code(std::errc::invalid_argument));
    targets.push_back(target);
  }
  for (int i = 0; i < 3; ++i)
    if (options.stdio[i].kind != stdio_spec::mode::inherit) targets.push_back(i);
  for (std::size_t i = 0; i < targets.size(); ++i)
    for (std::size_t j = i + 1; j < targets.size(); ++j)
      if (targets[i] == targets[j]) return fail(std::make_error_code(std::errc::invalid_argument));
  if (options.channel_fd < 3) return fail(std::make_error_code(std::errc::invalid_argument));

  auto [parent_fd, child_fd] = platform::traits::create_pair(ec);
  if (ec) return fail(ec);
  native_handle parent_end(parent_fd), child_end(child_fd);

  proc::spawn_plan plan;
  plan.mappings.push_back({options.channel_fd, child_end.get()});

  // stdio: the child's end of each pipe is held here and closed once the child has it.
  native_handle child_side[3];
  native_handle parent_side[3];
  for (int i = 0; i < 3; ++i) {
    const stdio_spec& s = options.stdio[i];
    switch (s.kind) {
    case stdio_spec::mode::inherit: break;
    case stdio_spec::mode::ignore: plan.mappings.push_back({i, proc::invalid_fd}); break;
    case stdio_spec::mode::handle:
      if (!proc::valid_fd(s.handle)) return fail(std::make_error_code(std::errc::bad_file_descriptor));
      plan.mappings.push_back({i, s.handle});
      break;
    case stdio_spec::mode::pipe: {
      proc::fd_type p[2];
      if (!proc::make_stdio_pipe(p, /*parent_end=*/i == 0 ? 1 : 0, ec)) return fail(ec);
      native_handle r(p[0]), w(p[1]);
      child_side[i] = i == 0 ? std::move(r) : std::move(w);
      parent_side[i] = i == 0 ? std::move(w) : std::move(r);
      plan.mappings.push_back({i, child_side[i].get()});
      break;
    }
    }
  }
  for (const auto& [target, source] : options.handles) plan.mappings.push_back({target, source});

  detail::spawn_strings strings;
  strings.path = path.string();
  strings.argv.push_back(strings.path);
  strings.argv.insert(strings.argv.end(), args.begin(), args.end());
  detail::build_environment<Serializer>(
    options, proc::inherited_value(options.channel_fd, child_end.get()), strings.envp);
  strings.cwd = options.cwd.string();
  plan.path = strings.path.c_str();
  for (auto& a : strings.argv) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (auto& e : strings.envp) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  plan.cwd = strings.cwd.empty() ? nullptr : strings.cwd.c_str();

  const auto pid = proc::spawn(plan, ec);
  if (ec) return fail(ec);
  child_end.reset();
  for (auto& h : child_side) h.reset();

  std::error_code notifier_ec;
  const auto notifier = proc::open_exit_notifier(pid, notifier_ec);
  channel_t ch = protocol::make_channel(ex, std::move(parent_end), ec, options);
  if (!ec) proc::set_channel_peer(ch, pid);
  child_t c(ex, pid, notifier, std::move(ch));
  if (ec) return c; // the child runs; its channel could not be set up

  std::optional<asio::basic_writable_pipe<Executor>> in;
  std::optional<asio::basic_readable_pipe<Executor>> out, err;
  if (parent_side[0]) in.emplace(ex, parent_side[0].release());
  if (parent_side[1]) out.emplace(ex, parent_side[1].release());
  if (parent_side[2]) err.emplace(ex, parent_side[2].release());
  c.set_pipes(std::move(in), std::move(out), std::move(err));
  ec.clear();
  return c;
}

/// As above. @throws std::system_error
template <serializer Serializer>
child<Serializer> spawn(const asio::any_io_executor& ex, const std::filesystem::path& path,
                        const std::vector<std::string>& args = {},
                        const spawn_options& options = {})
{
  std::error_code ec;
  auto c = spawn<Serializer>(ex, path, args, options, ec);
  if (ec) detail::throw_error(ec, ("spawn " + path.string()).c_str());
  return c;
}

/// Execution contexts (`asio::io_context&`) are accepted wherever an executor is.
template <serializer Serializer, class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
child<Serializer> spawn(ExecutionContext& ctx, const std::filesystem::path& path,
                        const std::vector<std::string>& args = {}, const spawn_options& options = {})
{
  return spawn<Serializer>(asio::any_io_executor(ctx.get_executor()), path, args, options);
}
template <serializer Serializer, class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
child<Serializer> spawn(ExecutionContext& ctx, const std::filesystem::path& path,
                        const std::vector<std::string>& args, const spawn_options& options,
                        std::error_code& ec)
{
  return spawn<Serializer>(asio::any_io_executor(ctx.get_executor()), path, args, options, ec);
}

/// In a child started by `spawn`: the inherited channel. Reads `IPC_CHANNEL_FD` and
/// `IPC_CHANNEL_SERIALIZATION`, checks that the descriptor is a connected local stream socket
/// and that the parent used the same serializer, and removes both variables from the
/// environment so that grandchildren do not inherit them by accident (not thread-safe with
/// concurrent `getenv`, like `unsetenv` itself).
///
/// Errors: `errc::no_parent_channel` when the variable is absent; `errc::invalid_handle` when it
/// does not name a usable socket; `errc::serializer_mismatch` when the serializers differ.
template <serializer Serializer>
channel<Serializer> parent_channel(const asio::any_io_executor& ex, std::error_code& ec,
                                   channel_options options = {})
{
  using proc = platform::process;
  channel<Serializer> ch(ex, options);
  const char* fd_text = proc::get_env(channel_fd_env);
  if (fd_text == nullptr) {
    ec = errc::no_parent_channel;
    return ch;
  }
  const std::string fd_str(fd_text);
  const char* mode = proc::get_env(channel_serialization_env);
  const bool mode_ok = mode == nullptr || std::string_view(mode) == Serializer::name;
  proc::unset_env(channel_fd_env);
  proc::unset_env(channel_serialization_env);
  native_handle::native_type fd = native_handle::invalid;
  if (!proc::parse_inherited(fd_str, fd)) {
    ec = errc::invalid_handle;
    return ch;
  }
  if (!mode_ok) {
    ec = errc::serializer_mismatch;
    return ch;
  }
  // Check before taking ownership: a wrong number must not make us close, say, stdin.
  platform::traits::check_channel_handle(fd, ec);
  if (ec) return ch;
  return channel<Serializer>(ex, native_handle(fd), ec, options);
}

/// As above, but a process that was not started with a channel gets an empty optional; any
/// other failure throws `std::system_error`.
template <serializer Serializer>
std::optional<channel<Serializer>> parent_channel(const asio::any_io_executor& ex,
                                                  channel_options options = {})
{
  std::error_code ec;
  auto ch = parent_channel<Serializer>(ex, ec, options);
  if (ec == errc::no_parent_channel) return std::nullopt;
  if (ec) detail::throw_error(ec, "parent_channel");
  return std::optional<channel<Serializer>>(std::move(ch));
}

/// Execution contexts (`asio::io_context&`) are accepted wherever an executor is.
template <serializer Serializer, class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
std::optional<channel<Serializer>> parent_channel(ExecutionContext& ctx, channel_options options = {})
{
  return parent_channel<Serializer>(asio::any_io_executor(ctx.get_executor()), options);
}

IPC_END_NAMESPACE

#endif // IPC_PROCESS_HPP
