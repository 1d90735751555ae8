// ipc/endpoint.hpp - named endpoints: listen on, accept from and connect to a name.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_ENDPOINT_HPP
#define IPC_ENDPOINT_HPP

#include "ipc/channel.hpp"
#include "ipc/error.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/platform/config.hpp"
#include "ipc/platform/endpoint.hpp"
#include "ipc/platform/traits.hpp"
#include "ipc/serializer.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

IPC_BEGIN_NAMESPACE

/// What an `endpoint` names.
enum class endpoint_kind : unsigned char {
  /// Nothing: a default-constructed endpoint, or text that is not a valid name.
  none,
  /// A filesystem path: the server creates a socket file there (`/run/app.sock`, `app.sock`).
  path,
  /// A name in Linux's abstract socket namespace, written `@name`: no file, no permissions,
  /// gone when the server closes.
  abstract,
  /// A Windows named pipe, written with the `endpoint::pipe_prefix` (served by the Windows
  /// backend only, which serves nothing else).
  pipe,
};

/// The name of a local endpoint, parsed from and printed as text.
///
/// - `@name` is `name` in the abstract namespace (Linux); `name` is 1 to 107 bytes, any but NUL.
/// - `\\.\pipe\name` (prefix case-insensitive, printed in lower case) is a Windows pipe; `name`
///   is non-empty, has no backslash, and the whole text is at most 256 characters.
/// - Anything else is a filesystem path, relative to the working directory unless it starts with
///   '/'; it fits `sun_path` (at most 107 bytes on Linux, 103 on the BSDs) and does not end with
///   '/'. A file whose name starts with '@' is written `./@name`.
///
/// Text that breaks these rules makes an endpoint whose `kind()` is `none` and whose `error()`
/// says why: `std::errc::invalid_argument` (empty, embedded NUL, empty name after a prefix,
/// backslash in a pipe name), `std::errc::filename_too_long`, `std::errc::is_a_directory` (ends
/// with '/'). Constructing one never throws (beyond `std::bad_alloc`): listening or connecting
/// reports the error, and `parse` reports it up front.
///
/// `to_string()` prints the canonical text, which parses back to an equal endpoint.
class endpoint {
public:
  /// An empty endpoint (`kind() == none`, `error() == invalid_argument`).
  endpoint() noexcept = default;
  /// Parses @p text (see the class comment); never throws on invalid text.
  endpoint(std::string_view text) { assign(text); }
  endpoint(const char* text)
  {
    assign(text != nullptr ? std::string_view(text) : std::string_view());
  }
  endpoint(const std::string& text) { assign(text); }
  endpoint(const std::filesystem::path& p) { assign(p.string()); }

  /// Parses @p text; @p ec is the reason it is not a valid name, if it is not.
  [[nodiscard]] static endpoint parse(std::string_view text, std::error_code& ec)
  {
    endpoint e(text);
    ec = e.error();
    return e;
  }
  /// Parses @p text. @throws std::system_error if it is not a valid name.
  [[nodiscard]] static endpoint parse(std::string_view text)
  {
    endpoint e(text);
    if (e.kind_ == endpoint_kind::none) e.throw_invalid("ipc::endpoint");
    return e;
  }

  /// What the endpoint names (`none` if it is invalid).
  endpoint_kind kind() const noexcept { return kind_; }
  /// True unless `kind() == none`.
  bool valid() const noexcept { return kind_ != endpoint_kind::none; }
  /// Why the text is not a valid name; empty for a valid one.
  std::error_code error() const noexcept
  {
    if (kind_ != endpoint_kind::none) return {};
    return error_ ? error_ : std::make_error_code(std::errc::invalid_argument);
  }
  /// The name without its prefix. That is the path, the abstract name without '@', or the pipe
  /// name without `\\.\pipe\`.
  std::string_view name() const noexcept { return std::string_view(text_).substr(prefix_); }
  /// The path of a `path` endpoint (empty for the other kinds).
  std::filesystem::path path() const
  {
    return kind_ == endpoint_kind::path ? std::filesystem::path(text_) : std::filesystem::path();
  }
  /// The canonical text (for an invalid endpoint, the text it was made from).
  const std::string& str() const noexcept { return text_; }
  std::string to_string() const { return text_; }

  friend bool operator==(const endpoint& a, const endpoint& b) noexcept
  {
    return a.kind_ == b.kind_ && a.text_ == b.text_;
  }
  friend std::ostream& operator<<(std::ostream& os, const endpoint& e) { return os << e.text_; }

private:
  /// Throws the endpoint's error with @p operation and the text in the message.
  [[noreturn]] void throw_invalid(const char* operation) const
  {
    detail::throw_error(error(), (std::string(operation) + " \"" + text_ + "\"").c_str());
  }

  static constexpr std::string_view pipe_prefix = "\\\\.\\pipe\\";

  static bool has_pipe_prefix(std::string_view t) noexcept
  {
    if (t.size() < pipe_prefix.size()) return false;
    for (std::size_t i = 0; i < pipe_prefix.size(); ++i) {
      char c = t[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != pipe_prefix[i]) return false;
    }
    return true;
  }

  void assign(std::string_view t)
  {
    using backend = platform::endpoint_traits;
    text_.assign(t.data(), t.size());
    kind_ = endpoint_kind::none;
    prefix_ = 0;
    auto fail = [&](std::errc e) { error_ = std::make_error_code(e); };
    if (t.empty() || t.find('\0') != std::string_view::npos)
      return fail(std::errc::invalid_argument);
    if (t.front() == '@') {
      if (t.size() == 1) return fail(std::errc::invalid_argument);
      if (t.size() - 1 > backend::max_abstract_size) return fail(std::errc::filename_too_long);
      prefix_ = 1;
      kind_ = endpoint_kind::abstract;
      return;
    }
    if (has_pipe_prefix(t)) {
      const std::string_view n = t.substr(pipe_prefix.size());
      if (n.empty() || n.find('\\') != std::string_view::npos)
        return fail(std::errc::invalid_argument);
      if (t.size() > backend::max_pipe_size) return fail(std::errc::filename_too_long);
      text_.assign(pipe_prefix);
      text_.append(n);
      prefix_ = pipe_prefix.size();
      kind_ = endpoint_kind::pipe;
      return;
    }
    if (t.size() > backend::max_path_size) return fail(std::errc::filename_too_long);
    const std::string_view base =
        t.substr(t.rfind('/') == std::string_view::npos ? 0 : t.rfind('/') + 1);
    if (base.empty() || base == "." || base == "..") return fail(std::errc::is_a_directory);
    kind_ = endpoint_kind::path;
  }

  std::string text_;
  endpoint_kind kind_ = endpoint_kind::none;
  std::size_t prefix_ = 0;
  std::error_code error_;
};

/// This process's effective user id: the uid its peers see, and the value to give
/// `acceptor_options::peer_uid` to accept only processes of the same user (-1 on Windows).
inline long current_user_id() noexcept
{
  return platform::endpoint_traits::effective_uid();
}

/// How an acceptor listens and whom it lets in.
struct acceptor_options {
  /// Permission bits of the socket file of a `path` endpoint: only the owner by default. Set
  /// exactly (the umask does not apply); ignored for abstract names, which have no file. Bits
  /// beyond `perms::all` are `std::errc::invalid_argument`.
  std::filesystem::perms permissions =
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;
  /// Connections the kernel queues before `accept` takes them; a client that finds the queue
  /// full waits in `connect` (up to its timeout).
  int backlog = 128;
  /// When set, only peers whose user id (SO_PEERCRED, as `channel::peer()` reports it) equals
  /// this are handed out; others are closed at once, counted in `rejected()`, and reported to
  /// `on_reject`. A peer whose credentials cannot be read is refused too. Windows has no user
  /// ids: there, listening with `peer_uid` set is `std::errc::operation_not_supported`.
  std::optional<long> peer_uid{};
  /// Called (on the thread that runs the accept) with the credentials of each refused peer
  /// (fields -1 where the kernel could not tell). It must not throw through an asynchronous
  /// accept.
  std::function<void(const peer_credentials&)> on_reject{};
  /// Limits of the accepted channels.
  channel_options channel{};
};

/// How a client connects.
struct connect_options {
  /// How long to wait for room in the server's backlog. A local connection is established the
  /// moment the kernel queues it (the server's `accept` comes later), so this is the only wait a
  /// connect has: to a server whose backlog is full. `max()` (the default; in fact anything
  /// over a century) waits as long as it takes, zero does not wait. Expiry is
  /// `std::errc::timed_out`.
  std::chrono::milliseconds timeout = std::chrono::milliseconds::max();
  /// Limits of the new channel.
  channel_options channel{};
};

namespace detail {

/// The socket-layer address of @p ep, or the reason it has none on this platform.
inline platform::endpoint_traits::address socket_address(const endpoint& ep, std::error_code& ec)
{
  using backend = platform::endpoint_traits;
  ec = ep.error();
  if (ec) return {};
  switch (ep.kind()) {
  case endpoint_kind::path:
    if (!backend::has_socket_files)
      ec = std::make_error_code(std::errc::address_family_not_supported);
    return {ep.name(), false};
  case endpoint_kind::abstract:
    if (!backend::has_abstract_namespace)
      ec = std::make_error_code(std::errc::address_family_not_supported);
    return {ep.name(), true};
  case endpoint_kind::pipe:
    if (!backend::has_named_pipes)
      ec = std::make_error_code(std::errc::address_family_not_supported);
    return {ep.name(), false, true};
  case endpoint_kind::none:
    break;
  }
  ec = std::make_error_code(std::errc::invalid_argument);
  return {};
}

} // namespace detail

/// Listens on a named endpoint and hands out each connection as a `basic_channel`.
///
/// ```
/// ipc::acceptor<ipc::json> server(io.get_executor(), "/run/app.sock");   // 0600, owner only
/// ipc::channel<ipc::json> ch = server.accept();                          // or async_accept
/// ```
///
/// A `path` endpoint's socket file is created with `options.permissions` (0600 by default)
/// without a window in which it has other permissions; a stale socket file left by a dead
/// server is replaced, a live server's is not (`std::errc::address_in_use`), and anything that
/// is not a socket is left alone (`std::errc::file_exists`). Closing the acceptor removes the
/// file if it is still the one this acceptor created, and only in the process that created it.
/// The listening socket and every accepted one are close-on-exec.
///
/// On Windows the endpoint is a `\\.\pipe\name`. Its instances admit only the current user
/// (and LocalSystem) and no remote client; a name someone already serves is
/// `std::errc::address_in_use`. One instance at a time waits for a client, so a second client
/// waits in `connect` until the first is accepted (the backlog is one; `permissions` and
/// `backlog` do not apply), and the name stays taken while connections accepted from it live,
/// also after `close()` (docs/windows.md).
///
/// Rejected peers (see `acceptor_options::peer_uid`) are closed before any byte is read from
/// them, counted by `rejected()`, passed to `acceptor_options::on_reject`, and the accept goes
/// on with the next connection: an accept completes only with an admitted peer or an error.
///
/// Thread safety: distinct objects are safe; a shared object is not. Any number of sync or
/// async accepts may be outstanding; each takes one connection. `rejected()` may be read from
/// any thread.
template <serializer Serializer, class Executor = asio::any_io_executor>
class basic_acceptor {
  using backend = platform::endpoint_traits;
  using listener_type = typename backend::template listener<Executor>;

public:
  using executor_type = Executor;
  using serializer_type = Serializer;
  /// What an accept yields.
  using channel_type = basic_channel<Serializer, Executor>;
  using native_handle_type = ipc::native_handle::native_type;

  /// An acceptor that does not listen yet (`is_open()` is false).
  explicit basic_acceptor(const executor_type& ex) : state_(std::make_shared<state>(ex)) {}

  /// Listens on @p ep. @throws std::system_error
  basic_acceptor(const executor_type& ex, const endpoint& ep, acceptor_options options = {})
      : basic_acceptor(ex)
  {
    listen(ep, std::move(options));
  }

  /// Listens on @p ep, reporting failure through @p ec (the acceptor is then closed).
  basic_acceptor(const executor_type& ex, const endpoint& ep, std::error_code& ec,
                 acceptor_options options = {})
      : basic_acceptor(ex)
  {
    listen(ep, ec, std::move(options));
  }

  /// Execution contexts (`asio::io_context&`) are accepted wherever an executor is.
  template <class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
  explicit basic_acceptor(ExecutionContext& ctx) : basic_acceptor(executor_type(ctx.get_executor()))
  {
  }
  template <class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
  basic_acceptor(ExecutionContext& ctx, const endpoint& ep, acceptor_options options = {})
      : basic_acceptor(executor_type(ctx.get_executor()), ep, std::move(options))
  {
  }
  template <class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
  basic_acceptor(ExecutionContext& ctx, const endpoint& ep, std::error_code& ec,
                 acceptor_options options = {})
      : basic_acceptor(executor_type(ctx.get_executor()), ep, ec, std::move(options))
  {
  }

  basic_acceptor(basic_acceptor&&) noexcept = default;
  basic_acceptor& operator=(basic_acceptor&& other) noexcept
  {
    if (this != &other) {
      if (state_) state_->close();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  basic_acceptor(const basic_acceptor&) = delete;
  basic_acceptor& operator=(const basic_acceptor&) = delete;

  /// Closes (see `close`).
  ~basic_acceptor()
  {
    if (state_) state_->close();
  }

  /// Starts listening on @p ep. @throws std::system_error
  void listen(const endpoint& ep, acceptor_options options = {})
  {
    std::error_code ec;
    listen(ep, ec, std::move(options));
    if (ec) detail::throw_error(ec, ("ipc::acceptor: listen on \"" + ep.str() + "\"").c_str());
  }

  /// Starts listening on @p ep.
  ///
  /// Errors: the endpoint's own `error()`; `address_family_not_supported` for a kind this
  /// platform cannot serve (a pipe name on POSIX, an abstract name outside Linux);
  /// `address_in_use` when a live server has the name; `file_exists` when the path holds
  /// something that is not a socket; `invalid_argument` for bad permissions; `already_open` when
  /// this acceptor listens already; OS errors (`permission_denied`, `no_such_file_or_directory`
  /// for a missing directory, ...).
  void listen(const endpoint& ep, std::error_code& ec, acceptor_options options = {})
  {
    IPC_ASSERT(state_ != nullptr);
    if (state_->socket.is_open()) {
      ec = asio::error::already_open;
      return;
    }
    const auto address = detail::socket_address(ep, ec);
    if (ec) return;
    const auto mode = static_cast<unsigned>(options.permissions);
    if ((mode & ~0777u) != 0) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return;
    }
    if (options.peer_uid && !backend::has_peer_uid) {
      // Refused rather than ignored: a check the caller asked for must not silently pass.
      ec = std::make_error_code(std::errc::operation_not_supported);
      return;
    }
    std::string file;
    if (ep.kind() == endpoint_kind::path) {
      // Remembered absolute, so that a later chdir does not make close() look elsewhere.
      file = std::filesystem::absolute(ep.path(), ec).string();
      if (ec) return;
    }
    state_->socket.open(address, std::move(file), mode, options.backlog, ec);
    if (ec) return;
    state_->options = std::move(options);
    state_->local = ep;
  }

  // ---- observers ----------------------------------------------------------------------------

  executor_type get_executor() const noexcept { return state_->socket.get_executor(); }
  bool is_open() const noexcept { return state_ && state_->socket.is_open(); }
  /// The endpoint listened on (as given to `listen`).
  const endpoint& local_endpoint() const noexcept { return state_->local; }
  /// The listening socket (still owned by the acceptor); on Windows, the pipe instance that
  /// waits for the next client.
  native_handle_type native_handle() const noexcept
  {
    return is_open() ? state_->socket.native_handle() : ipc::native_handle::invalid;
  }
  const acceptor_options& options() const noexcept { return state_->options; }
  /// How many peers were refused by `acceptor_options::peer_uid` since the acceptor was made.
  std::size_t rejected() const noexcept
  {
    return state_ ? state_->rejected.load(std::memory_order_relaxed) : 0;
  }

  /// Removes the socket file (if it is still ours) and closes the listening socket; outstanding
  /// accepts complete with `asio::error::operation_aborted`. Connections queued but not
  /// accepted are reset by the kernel.
  void close() noexcept
  {
    if (state_) state_->close();
  }

  // ---- accepting ----------------------------------------------------------------------------

  /// Waits for the next admitted connection. @throws std::system_error
  channel_type accept()
  {
    std::error_code ec;
    channel_type ch = accept(ec);
    if (ec) detail::throw_error(ec, "ipc::acceptor::accept");
    return ch;
  }

  /// Waits for the next admitted connection; on failure the returned channel is closed.
  ///
  /// Errors: `asio::error::bad_descriptor` on a closed acceptor; OS errors of accept (for
  /// instance `too_many_files_open`, after which the acceptor remains usable).
  channel_type accept(std::error_code& ec)
  {
    IPC_ASSERT(state_ != nullptr);
    const executor_type ex = state_->socket.get_executor();
    for (;;) {
      ipc::native_handle h = state_->try_accept(ec);
      if (ec == asio::error::would_block) {
        state_->socket.wait(ec);
        if (!ec) continue;
      }
      if (ec) return channel_type(ex);
      return channel_type(ex, std::move(h), detail::own_socket, ec, state_->options.channel);
    }
  }

  /// Accepts the next admitted connection.
  ///
  /// Completion signature: `void(std::error_code, channel_type)`; on failure the channel is
  /// closed. The completion handler never runs inside this call. The acceptor may be moved or
  /// destroyed meanwhile (destroying it completes the accept with `operation_aborted`).
  /// Cancellation (terminal, partial or total) completes it with `operation_aborted`; no
  /// connection is lost, since one is only taken from the kernel's queue when it completes the
  /// operation.
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_accept(CompletionToken&& token = CompletionToken())
  {
    IPC_ASSERT(state_ != nullptr);
    return asio::async_compose<CompletionToken, void(std::error_code, channel_type)>(
        accept_op{state_}, token, state_->socket);
  }

private:
  /// Shared with outstanding accepts, so that they survive a move of the acceptor.
  struct state {
    explicit state(const executor_type& ex) : socket(ex) {}
    listener_type socket;
    acceptor_options options;
    endpoint local;
    std::atomic<std::size_t> rejected{0};

    void close() noexcept { socket.close(); }

    /// One connection from the queue that passes the peer check; `would_block` if none.
    ipc::native_handle try_accept(std::error_code& ec)
    {
      if (!socket.is_open()) {
        ec = asio::error::bad_descriptor;
        return {};
      }
      for (;;) {
        ipc::native_handle h(socket.accept(ec));
        if (ec) return {};
        if (!options.peer_uid) return h;
        std::error_code cec;
        const auto c = platform::traits::peer_credentials(h.get(), cec);
        if (!cec && c.uid == *options.peer_uid) return h;
        h.reset(); // the peer reads end of stream right away
        rejected.fetch_add(1, std::memory_order_relaxed);
        if (options.on_reject) {
          peer_credentials who;
          if (!cec) who = {c.pid, c.uid, c.gid};
          options.on_reject(who);
        }
      }
    }
  };

  struct accept_op {
    std::shared_ptr<state> st;
    enum class phase { starting, waiting, finishing } at = phase::starting;
    std::error_code result_ec{};
    std::optional<channel_type> result{};

    template <class Self>
    void operator()(Self& self, std::error_code ec = {})
    {
      const executor_type ex = st->socket.get_executor();
      if (at == phase::finishing) {
        channel_type ch = std::move(*result);
        self.complete(result_ec, std::move(ch));
        return;
      }
      if (at == phase::starting) {
        self.reset_cancellation_state(asio::enable_total_cancellation());
      } else if (ec || self.get_cancellation_state().cancelled() != asio::cancellation_type::none) {
        // A cancellation that arrives once the wait has already completed is seen here: give
        // up before taking a connection, so that none is lost.
        self.complete(ec ? ec : make_error_code(asio::error::operation_aborted), channel_type(ex));
        return;
      }
      ipc::native_handle h = st->try_accept(ec);
      if (ec == asio::error::would_block) {
        at = phase::waiting;
        st->socket.async_wait(std::move(self));
        return;
      }
      channel_type ch(ex);
      if (!ec) ch = channel_type(ex, std::move(h), detail::own_socket, ec, st->options.channel);
      if (at == phase::starting) {
        // Decided inside the initiating call: complete through the executor, never inline.
        result.emplace(std::move(ch));
        result_ec = ec;
        at = phase::finishing;
        asio::post(ex, std::move(self));
        return;
      }
      self.complete(ec, std::move(ch));
    }
  };

  std::shared_ptr<state> state_;
};

/// `basic_acceptor` on the polymorphic executor.
template <serializer Serializer>
using acceptor = basic_acceptor<Serializer>;

/// Connects to the server listening on @p ep and returns the channel (closed on failure).
///
/// Errors: the endpoint's own `error()`; `address_family_not_supported` for a kind this platform
/// cannot reach; `no_such_file_or_directory` when no socket file exists; `connection_refused`
/// when nobody listens (a stale file, a free abstract name); `permission_denied` when the socket
/// file's permissions exclude this user; `timed_out` when the server's backlog stayed full for
/// `options.timeout`. On Windows: `no_such_file_or_directory` when nobody serves the pipe name,
/// `permission_denied` when its security excludes this user, `timed_out` while every instance
/// stays taken.
///
/// The connection is close-on-exec (on Windows: not inheritable). Its `peer()` is the server
/// process.
template <serializer Serializer>
channel<Serializer> connect(const asio::any_io_executor& ex, const endpoint& ep,
                            std::error_code& ec, const connect_options& options = {})
{
  using backend = platform::endpoint_traits;
  channel<Serializer> ch(ex, options.channel);
  const auto address = detail::socket_address(ep, ec);
  if (ec) return ch;
  ipc::native_handle fd(backend::connect(address, options.timeout, ec));
  if (ec) return ch;
  return channel<Serializer>(ex, std::move(fd), detail::own_socket, ec, options.channel);
}

/// As above. @throws std::system_error
template <serializer Serializer>
channel<Serializer> connect(const asio::any_io_executor& ex, const endpoint& ep,
                            const connect_options& options = {})
{
  std::error_code ec;
  channel<Serializer> ch = connect<Serializer>(ex, ep, ec, options);
  if (ec) detail::throw_error(ec, ("ipc::connect to \"" + ep.str() + "\"").c_str());
  return ch;
}

/// Execution contexts (`asio::io_context&`) are accepted wherever an executor is.
template <serializer Serializer, class ExecutionContext>
requires std::is_convertible_v<ExecutionContext&, asio::execution_context&> channel<Serializer>
connect(ExecutionContext& ctx, const endpoint& ep, const connect_options& options = {})
{
  return connect<Serializer>(asio::any_io_executor(ctx.get_executor()), ep, options);
}
template <serializer Serializer, class ExecutionContext>
requires std::is_convertible_v<ExecutionContext&, asio::execution_context&> channel<Serializer>
connect(ExecutionContext& ctx, const endpoint& ep, std::error_code& ec,
        const connect_options& options = {})
{
  return connect<Serializer>(asio::any_io_executor(ctx.get_executor()), ep, ec, options);
}

namespace detail {

/// The asynchronous connect. Linux answers a connect to a full backlog with EAGAIN and offers
/// nothing to wait on (an unconnected socket polls as ready at once, which is why Asio's own
/// async_connect reports such a socket connected when it is not), so the attempt is repeated on
/// a timer, from 250 µs doubling to 20 ms, until it succeeds, fails otherwise, or times out.
template <serializer Serializer>
struct connect_op {
  using backend = platform::endpoint_traits;
  struct state {
    state(const asio::any_io_executor& ex, const endpoint& e, const connect_options& o)
        : timer(ex), ep(e), options(o)
    {
    }
    asio::steady_timer timer;
    endpoint ep;
    connect_options options;
    ipc::native_handle socket;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::microseconds backoff{250};
    std::error_code result_ec;
    std::optional<channel<Serializer>> result;
  };
  std::unique_ptr<state> st;
  enum class phase { starting, waiting, finishing } at = phase::starting;

  template <class Self>
  void operator()(Self& self, std::error_code ec = {})
  {
    const asio::any_io_executor ex = st->timer.get_executor();
    if (at == phase::finishing) {
      std::error_code rec = st->result_ec;
      channel<Serializer> ch = std::move(*st->result);
      self.complete(rec, std::move(ch));
      return;
    }
    platform::endpoint_traits::address address{};
    if (at == phase::starting) {
      self.reset_cancellation_state(asio::enable_total_cancellation());
      address = socket_address(st->ep, ec);
      if (!ec) {
        const auto t = st->options.timeout;
        const auto now = std::chrono::steady_clock::now();
        st->deadline = t >= backend::forever_threshold
                           ? std::chrono::steady_clock::time_point::max()
                       : t.count() <= 0 ? now
                                        : now + t;
      }
      if (ec) return finish(self, ec);
    } else {
      // Cancelled: while the timer ran (ec), or after it had already expired (the state).
      if (!ec && self.get_cancellation_state().cancelled() != asio::cancellation_type::none)
        ec = asio::error::operation_aborted;
      if (ec) return finish(self, ec);
      address = socket_address(st->ep, ec);
    }
    auto raw = st->socket.get();
    const bool connected = backend::try_connect(raw, address, ec);
    if (raw != st->socket.get()) {
      (void)st->socket.release();
      st->socket.reset(raw);
    }
    if (connected) {
      channel<Serializer> ch(ex, std::move(st->socket), detail::own_socket, ec, st->options.channel);
      st->result.emplace(std::move(ch));
      return finish(self, ec);
    }
    if (ec != asio::error::would_block) return finish(self, ec);
    const auto now = std::chrono::steady_clock::now();
    if (now >= st->deadline) return finish(self, std::make_error_code(std::errc::timed_out));
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(st->deadline - now);
    st->timer.expires_after(std::min(st->backoff, left));
    st->backoff =
        std::min<std::chrono::microseconds>(st->backoff * 2, std::chrono::milliseconds(20));
    at = phase::waiting;
    st->timer.async_wait(std::move(self));
  }

  template <class Self>
  void finish(Self& self, std::error_code ec)
  {
    if (!st->result) st->result.emplace(st->timer.get_executor(), st->options.channel);
    if (at == phase::starting) {
      // Decided inside the initiating call: complete through the executor, never inline.
      st->result_ec = ec;
      at = phase::finishing;
      asio::post(st->timer.get_executor(), std::move(self));
      return;
    }
    channel<Serializer> ch = std::move(*st->result);
    self.complete(ec, std::move(ch));
  }
};

} // namespace detail

/// Connects to the server listening on @p ep (see the sync `connect` for the errors and for what
/// `options.timeout` bounds).
///
/// Completion signature: `void(std::error_code, ipc::channel<Serializer>)`; on failure the
/// channel is closed. The handler never runs inside this call. Cancellation (terminal, partial
/// or total) completes it with `operation_aborted` while it waits for room in the backlog.
template <serializer Serializer,
          class CompletionToken = asio::default_completion_token_t<asio::any_io_executor>>
auto async_connect(const asio::any_io_executor& ex, const endpoint& ep,
                   const connect_options& options, CompletionToken&& token = CompletionToken())
{
  using op = detail::connect_op<Serializer>;
  auto st = std::make_unique<typename op::state>(ex, ep, options);
  auto& timer = st->timer;
  return asio::async_compose<CompletionToken, void(std::error_code, channel<Serializer>)>(
      op{std::move(st)}, token, timer);
}

/// As above with default `connect_options` (no timeout).
template <serializer Serializer,
          class CompletionToken = asio::default_completion_token_t<asio::any_io_executor>>
requires(!std::is_convertible_v<CompletionToken, const connect_options&>) auto async_connect(
    const asio::any_io_executor& ex, const endpoint& ep,
    CompletionToken&& token = CompletionToken())
{
  return async_connect<Serializer>(ex, ep, connect_options{}, std::forward<CompletionToken>(token));
}

IPC_END_NAMESPACE

#endif // IPC_ENDPOINT_HPP
