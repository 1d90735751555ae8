// ipc/channel.hpp - typed, framed, bidirectional message channel to one peer process.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_CHANNEL_HPP
#define IPC_CHANNEL_HPP

#include "ipc/platform/config.hpp"
#include "ipc/detail/channel_core.hpp"
#include "ipc/error.hpp"
#include "ipc/frame.hpp"
#include "ipc/handle_converter.hpp"
#include "ipc/message.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/serializer.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/compose.hpp>
#include <asio/post.hpp>

#include <array>
#include <string>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

IPC_BEGIN_NAMESPACE

class shared_server;

namespace detail {

template <class... Ts>
using last_t = std::tuple_element_t<sizeof...(Ts) - 1, std::tuple<Ts...>>;

/// The pack's last type is `std::error_code&` (the sync overloads' error argument).
template <class... Ts>
inline constexpr bool ends_with_error_code_v = false;
template <class T, class... Ts>
inline constexpr bool ends_with_error_code_v<T, Ts...> =
  std::is_same_v<last_t<T, Ts...>, std::error_code&>;

/// The pack's last type is a handle (so no completion token was given).
template <class... Ts>
inline constexpr bool ends_with_handle_v = false;

/// Calls @p f(tuple of all but the last, last) for a forwarded pack.
template <class F, class Tuple, std::size_t... I>
decltype(auto) split_last(F&& f, Tuple&& t, std::index_sequence<I...>)
{
  return std::forward<F>(f)(std::forward_as_tuple(std::get<I>(std::move(t))...),
                            std::get<sizeof...(I)>(std::move(t)));
}

/// Selects the constructor for sockets the library created itself (no checks needed).
struct own_socket_t {
  explicit own_socket_t() = default;
};
inline constexpr own_socket_t own_socket{};
/// Tag: the socket is a channel end that moved here from another process.
struct moved_end_t {
  explicit moved_end_t() = default;
};
inline constexpr moved_end_t moved_end{};

/// Tells the backend that `pair()` made @p a and @p b, if it wants to know (`link_pair`).
template <class Traits, class Stream>
void link_pair(Stream& a, Stream& b) noexcept
{
  if constexpr (requires { Traits::link_pair(a.native_handle(), b.native_handle()); })
    Traits::link_pair(a.native_handle(), b.native_handle());
}

template <class H>
inline constexpr bool is_movable_handle_v =
  transferable<std::remove_cvref_t<H>> && !std::is_lvalue_reference_v<H>;

template <class H>
inline constexpr bool is_keep_open_v = false;
template <class H>
inline constexpr bool is_keep_open_v<keep_open_t<H>> = true;

/// One handle argument of `send`: checked at compile time, with messages naming what is wrong.
template <class Arg>
constexpr bool check_handle_argument() noexcept
{
  using H = std::remove_cvref_t<Arg>;
  if constexpr (is_keep_open_v<H>) {
    return check_shareable<std::remove_cvref_t<decltype(std::declval<H>().object)>>();
  } else {
    static_assert(check_transferable<H>());
    static_assert(!std::is_lvalue_reference_v<Arg>,
                  "ipc: handles are moved into send(): pass std::move(h) (the sender's object is "
                  "emptied), or ipc::keep_open(h) to send a duplicate and keep h");
    return true;
  }
}

template <class T, class... Ts>
inline constexpr bool ends_with_handle_v<T, Ts...> =
  is_movable_handle_v<last_t<T, Ts...>> || is_keep_open_v<std::remove_cvref_t<last_t<T, Ts...>>>;

} // namespace detail

/// Who is at the other end of a channel (-1 where unknown).
struct peer_credentials {
  long pid = -1;
  long uid = -1;
  long gid = -1;
};

/// A typed, framed, bidirectional message channel to one peer process, over a Unix domain
/// stream socket (POSIX) with descriptors passed beside each message.
///
/// Messages of any type `T` with `encoder_for<Serializer, T>` (to send) and
/// `decoder_for<Serializer, T>` (to receive) are sent whole and arrive
/// whole, in order. Handles (anything `transferable`, e.g. `ipc::native_handle`) travel beside
/// a message: `send(msg, std::move(h1), std::move(h2))`, or `send(msg, ipc::keep_open(h))` to
/// send a duplicate and keep `h`.
///
/// Acknowledgement: the receiver ACKs a message once it has taken all its handles, and NACKs
/// it when it refused one (see `message`). Until then the sender keeps its copies of the
/// handles (at most `channel_options::max_unacknowledged_handles`); they are closed on the
/// verdict, or when the peer turns out to be gone. Later messages never wait for an ACK: the
/// stream keeps them in order and every descriptor is matched to its frame by position, so
/// nothing is gained by holding them back (Node's protocol, which cannot tell which message a
/// descriptor came with, must; `ipc::node` does).
///
/// Thread safety: distinct objects are safe; a shared object is not (use a strand). At most one
/// receive (sync or async) at a time; any number of async sends may be queued, and they are
/// written in order. A sync send while async sends are queued is refused (`send_in_progress`).
///
/// Errors: a peer that closes between frames gives `asio::error::eof`; one that closes in the
/// middle of a frame, `errc::truncated_frame`. A frame that breaks the protocol (bad magic,
/// oversized, too many handles, descriptors that do not match the frames) closes the channel and
/// every later operation reports that error. A payload that does not decode into `T` is reported
/// for that message only (its handles are closed); the channel stays usable.
template <serializer Serializer, class Executor = asio::any_io_executor>
class basic_channel {
  using core_type = detail::channel_core<Serializer, Executor>;

public:
  using executor_type = Executor;
  using serializer_type = Serializer;
  using next_layer_type = typename core_type::socket_type;
  using native_handle_type = ipc::native_handle::native_type;

  /// A channel with no connection (`is_open()` is false) on @p ex.
  explicit basic_channel(const executor_type& ex, channel_options options = {},
                         Serializer serializer = {})
    : core_(std::make_shared<core_type>(ex, options, std::move(serializer)))
  {
  }

  /// Adopts @p socket, a connected local stream socket (for instance one end of a socketpair
  /// inherited from a parent). @throws std::system_error with `errc::invalid_handle` for
  /// anything else.
  basic_channel(const executor_type& ex, ipc::native_handle socket, channel_options options = {},
                Serializer serializer = {})
    : basic_channel(ex, options, std::move(serializer))
  {
    std::error_code ec;
    core_->adopt(std::move(socket), ec);
    if (ec) detail::throw_error(ec, "channel: adopt");
  }

  /// As above, reporting failure through @p ec (the channel is then closed and @p socket has
  /// been closed).
  basic_channel(const executor_type& ex, ipc::native_handle socket, std::error_code& ec,
                channel_options options = {}, Serializer serializer = {})
    : basic_channel(ex, options, std::move(serializer))
  {
    core_->adopt(std::move(socket), ec);
  }

  /// For the library's own use: adopts a socket it has just created (socketpair, accept4,
  /// connect, all close-on-exec) without re-checking it.
  basic_channel(const executor_type& ex, ipc::native_handle socket, detail::own_socket_t,
                std::error_code& ec, channel_options options = {})
    : basic_channel(ex, options)
  {
    core_->adopt_own(std::move(socket), ec);
  }

  /// For the channel converter: adopts a channel end that another process sent (see
  /// `ipc/converters/channel.hpp`); the peer learns of the move from this end's first frame.
  basic_channel(const executor_type& ex, ipc::native_handle socket, detail::moved_end_t,
                std::error_code& ec)
    : basic_channel(ex)
  {
    core_->adopt_moved(std::move(socket), ec);
  }

  /// Execution contexts (`asio::io_context&`) are accepted wherever an executor is.
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
  explicit basic_channel(ExecutionContext& ctx, channel_options options = {})
    : basic_channel(executor_type(ctx.get_executor()), options)
  {
  }

  /// Adopts @p socket on @p ctx's executor. @throws std::system_error
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
  basic_channel(ExecutionContext& ctx, ipc::native_handle socket, channel_options options = {})
    : basic_channel(executor_type(ctx.get_executor()), std::move(socket), options)
  {
  }

  basic_channel(basic_channel&&) noexcept = default;
  basic_channel& operator=(basic_channel&& other) noexcept
  {
    if (this != &other) {
      if (core_) core_->close();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  basic_channel(const basic_channel&) = delete;
  basic_channel& operator=(const basic_channel&) = delete;

  /// Closes the channel; outstanding operations complete with `asio::error::operation_aborted`.
  ~basic_channel()
  {
    if (core_) core_->close();
  }

  /// Two connected channels (a socketpair). @throws std::system_error
  static std::pair<basic_channel, basic_channel> pair(const executor_type& ex,
                                                      channel_options options = {})
  {
    std::error_code ec;
    auto p = pair(ex, ec, options);
    if (ec) detail::throw_error(ec, "channel::pair");
    return p;
  }
  static std::pair<basic_channel, basic_channel> pair(const executor_type& ex, std::error_code& ec,
                                                      channel_options options = {})
  {
    std::pair<basic_channel, basic_channel> p{basic_channel(ex, options),
                                              basic_channel(ex, options)};
    auto [a, b] = platform::traits::create_pair(ec);
    if (ec) return p;
    ipc::native_handle ha(a), hb(b);
    p.first.core_->adopt_own(std::move(ha), ec);
    if (!ec) p.second.core_->adopt_own(std::move(hb), ec);
    // A backend that must know where one end goes to serve the other (Windows) links them.
    if (!ec) detail::link_pair<platform::traits>(p.first.core_->socket_, p.second.core_->socket_);
    return p;
  }
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
  static std::pair<basic_channel, basic_channel> pair(ExecutionContext& ctx,
                                                      channel_options options = {})
  {
    return pair(executor_type(ctx.get_executor()), options);
  }

  // ---- observers ----------------------------------------------------------------------------

  executor_type get_executor() const noexcept { return core_->socket_.get_executor(); }
  bool is_open() const noexcept { return core_ && core_->socket_.is_open(); }
  /// The socket's descriptor (still owned by the channel).
  native_handle_type native_handle() const noexcept
  {
    return is_open() ? core_->socket_.native_handle() : ipc::native_handle::invalid;
  }
  /// The underlying Asio socket. Reading or writing it directly corrupts the framing.
  next_layer_type& next_layer() noexcept { return core_->socket_; }
  const channel_options& options() const noexcept { return core_->options_; }

  /// The peer's process, user and group ids, as the kernel recorded them when the connection
  /// was made. For a pair made by `pair()` or `spawn` that is the process that created the pair
  /// (the parent), on both ends. @throws std::system_error
  peer_credentials peer() const
  {
    std::error_code ec;
    peer_credentials c = peer(ec);
    if (ec) detail::throw_error(ec, "channel::peer");
    return c;
  }
  peer_credentials peer(std::error_code& ec) const noexcept
  {
    if (!is_open()) {
      ec = errc::channel_closed;
      return {};
    }
    const auto c = platform::traits::peer_credentials(core_->socket_.native_handle(), ec);
    return {c.pid, c.uid, c.gid};
  }
  Serializer& serializer() noexcept { return core_->serializer_; }

  /// How the peer has acknowledged the handles this end sent.
  ack_counts acknowledgements() const noexcept
  {
    return core_ ? core_->acknowledgements() : ack_counts{};
  }

  /// Closes the socket. Queued sends and a pending receive complete with
  /// `asio::error::operation_aborted`; descriptors received but not handed out are closed.
  void close() noexcept
  {
    if (core_) core_->close();
  }

  /// Gives up the socket: the channel is closed afterwards and the caller owns the descriptor.
  /// Refused with `errc::channel_not_idle` while sends are queued, a receive is outstanding, or
  /// received bytes are buffered but not yet taken. @throws std::system_error
  ipc::native_handle release()
  {
    std::error_code ec;
    ipc::native_handle h = release(ec);
    if (ec) detail::throw_error(ec, "channel::release");
    return h;
  }
  ipc::native_handle release(std::error_code& ec)
  {
    if (!core_) {
      ec = errc::channel_closed;
      return {};
    }
    return core_->release(ec);
  }

  // ---- sync operations ----------------------------------------------------------------------

  /// Sends @p msg with @p args: handles to transfer (moved, `transferable`, or
  /// `ipc::keep_open(h)`), optionally followed by `std::error_code& ec`. Without `ec`, failure
  /// throws `std::system_error`.
  ///
  /// Blocks until the whole frame is in the kernel. While the socket is full it keeps reading
  /// what the peer sends (up to about one maximum-size message) so that two peers sending large
  /// messages to each other cannot deadlock. Handles are consumed, whether the send succeeds or
  /// not. A send error other than a refused message (too large, too many handles, unencodable)
  /// leaves the sending side broken: later sends report it, receives still deliver what arrived.
  template <class T, class... Args>
    requires encoder_for<Serializer, T>
  void send(const T& msg, Args&&... args)
  {
    if constexpr (detail::ends_with_error_code_v<Args&&...>) {
      detail::split_last(
        [&](auto&& handles, std::error_code& ec) {
          std::apply([&](auto&&... hs) { send_impl({}, msg, ec, std::forward<decltype(hs)>(hs)...); },
                     std::move(handles));
        },
        std::forward_as_tuple(std::forward<Args>(args)...),
        std::make_index_sequence<sizeof...(Args) - 1>());
    } else {
      std::error_code ec;
      send_impl({}, msg, ec, std::forward<Args>(args)...);
      if (ec) detail::throw_error(ec, "channel::send");
    }
  }

  /// Receives the next message as a `T`. Blocks until one arrives. @throws std::system_error
  template <class T>
    requires decoder_for<Serializer, T>
  message<T> receive()
  {
    std::error_code ec;
    message<T> m = receive<T>(ec);
    if (ec) detail::throw_error(ec, "channel::receive");
    return m;
  }

  /// As above, reporting failure through @p ec.
  template <class T>
    requires decoder_for<Serializer, T>
  message<T> receive(std::error_code& ec)
  {
    if (!core_) {
      ec = errc::channel_closed;
      return {};
    }
    if (core_->receiving_) {
      ec = errc::receive_in_progress;
      return {};
    }
    core_->receiving_ = true;
    detail::incoming_frame f;
    core_->receive_frame(f, ec, /*blocking=*/true);
    core_->receiving_ = false;
    core_->watch_peer();
    if (ec) return {};
    return core_->template deliver<T>(f, ec);
  }

  // ---- async operations ---------------------------------------------------------------------

  /// Queues @p msg (and handles in @p args, moved) for sending; the last argument may be a
  /// completion token.
  ///
  /// Completion signature: `void(std::error_code)`. The message is serialized (and the handles
  /// taken) before this function returns: nothing needs to outlive the call. Sends complete in
  /// the order they were started. Cancellation (any type) withdraws a send none of whose bytes
  /// has been written yet (it completes with `operation_aborted` and is not sent); a send that
  /// is partly written completes normally, since withdrawing it would corrupt the stream.
  template <class T, class... Args>
    requires encoder_for<Serializer, T>
  auto async_send(const T& msg, Args&&... args)
  {
    if constexpr (sizeof...(Args) == 0) {
      return async_send_impl(msg, std::tuple<>(), asio::default_completion_token_t<executor_type>());
    } else if constexpr (detail::ends_with_handle_v<Args&&...>) {
      return async_send_impl(msg, std::forward_as_tuple(std::forward<Args>(args)...),
                             asio::default_completion_token_t<executor_type>());
    } else {
      return detail::split_last(
        [&](auto&& handles, auto&& token) {
          return async_send_impl(msg, std::move(handles), std::forward<decltype(token)>(token));
        },
        std::forward_as_tuple(std::forward<Args>(args)...),
        std::make_index_sequence<sizeof...(Args) - 1>());
    }
  }

  /// Receives the next message as a `T`.
  ///
  /// Completion signature: `void(std::error_code, ipc::message<T>)`. At most one receive may be
  /// outstanding (a second completes with `errc::receive_in_progress`). Cancellation (terminal,
  /// partial or total) completes it with `operation_aborted` and loses nothing: bytes already
  /// read stay buffered for the next receive.
  template <class T, class CompletionToken = asio::default_completion_token_t<executor_type>>
    requires decoder_for<Serializer, T>
  auto async_receive(CompletionToken&& token = CompletionToken())
  {
    IPC_ASSERT(core_ != nullptr);
    return asio::async_compose<CompletionToken, void(std::error_code, message<T>)>(
      receive_op<T>{core_}, token, core_->socket_);
  }

private:
  friend class shared_server; // sends keyed connections, asks for counts

  /// With a non-empty @p key the frame is keyed (see `frame_flag_keyed`).
  template <class T, class... H>
  void send_impl(std::string_view key, const T& msg, std::error_code& ec, H&&... handles)
  {
    static_assert((detail::check_handle_argument<H&&>() && ...));
    std::array<detail::outgoing_handle, sizeof...(H)> out{};
    if (!core_) {
      ec = errc::channel_closed;
      return;
    }
    if (!convert(out, ec, std::forward<H>(handles)...)) return;
    std::string passed_key;
    key = frame_key(out, key, passed_key);
    std::span<const std::byte> payload;
    if constexpr (contiguous_serializer_for<Serializer, T>) {
      payload = core_->serializer_.bytes_of(msg);
    } else {
      core_->scratch_.clear();
      if ((ec = core_->serializer_.encode(msg, core_->scratch_))) return;
      payload = core_->scratch_.span();
    }
    core_->send_frame(frame_kind::message, payload, out, ec, key);
  }

  /// The key of a frame carrying @p out: @p key when the caller gave one (a server's own
  /// hand-off), else the key of a connection this process received as a server's, which goes on
  /// keyed too, so that the next process counts it and this one includes that count in its
  /// answers (the key is kept in @p storage). A keyed frame has the channel read verdicts in the
  /// background while its handles are in flight. Empty: not keyed.
  template <std::size_t N>
  std::string_view frame_key(const std::array<detail::outgoing_handle, N>& out, std::string_view key,
                             std::string& storage)
  {
    if constexpr (N != 0) {
      for (std::size_t i = 0; key.empty() && i < N; ++i) {
        if (auto k = detail::process_connections::get().key_of(out[i].handle.get())) {
          storage = std::move(*k);
          detail::process_connections::get().passed_on(storage, core_);
          key = storage;
        }
      }
    }
    if (!key.empty()) core_->watch_verdicts();
    return key;
  }

  template <std::size_t N, class... H>
  static bool convert(std::array<detail::outgoing_handle, N>& out, std::error_code& ec, H&&... hs)
  {
    ec.clear();
    std::size_t i = 0;
    [[maybe_unused]] auto one = [&](auto&& h) {
      using arg_t = std::remove_cvref_t<decltype(h)>;
      if (ec) return;
      if constexpr (detail::is_keep_open_v<arg_t>) {
        using handle_t = std::remove_cvref_t<decltype(h.object)>;
        using converter = handle_converter<handle_t>;
        out[i].set(converter::share(h.object, ec), converter::type_name, converter::kind); // a duplicate, now
      } else {
        using converter = handle_converter<arg_t>;
        out[i].set(converter::send(std::move(h), ec), converter::type_name, converter::kind);
      }
      ++i;
    };
    (one(std::forward<H>(hs)), ...);
    return !ec;
  }

  template <class T, class HandleTuple, class CompletionToken>
  auto async_send_impl(const T& msg, HandleTuple&& handles, CompletionToken&& token,
                       std::string_view key = {})
  {
    IPC_ASSERT(core_ != nullptr);
    // Serialize now, so nothing the caller owns is needed later (also for deferred tokens).
    std::unique_ptr<typename core_type::send_entry> entry = core_->make_entry();
    std::error_code ec = prepare_entry(*entry, msg, std::forward<HandleTuple>(handles), key);
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
      [](auto handler, std::shared_ptr<core_type> core,
         std::unique_ptr<typename core_type::send_entry> e, std::error_code err) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        e->handler = typename core_type::handler_type(std::move(handler),
                                                      executor_type(core->socket_.get_executor()));
        if (err) {
          e->handler.post(err);
          return;
        }
        e->slot = slot;
        core->start_send(std::move(e));
      },
      token, core_, std::move(entry), ec);
  }

  template <class T, class HandleTuple>
  std::error_code prepare_entry(typename core_type::send_entry& e, const T& msg,
                                HandleTuple&& handles, std::string_view key)
  {
    constexpr std::size_t n = std::tuple_size_v<std::remove_cvref_t<HandleTuple>>;
    std::array<detail::outgoing_handle, n> out{};
    std::error_code ec;
    bool ok = std::apply(
      [&](auto&&... hs) {
        static_assert((detail::check_handle_argument<decltype(hs)>() && ...));
        return convert(out, ec, std::forward<decltype(hs)>(hs)...);
      },
      std::forward<HandleTuple>(handles));
    if (!ok) return ec;
    std::string passed_key;
    key = frame_key(out, key, passed_key);
    const std::size_t head = core_type::head_size(out, key);
    e.bytes.resize(head);
    if constexpr (contiguous_serializer_for<Serializer, T>) {
      e.bytes.append(core_->serializer_.bytes_of(msg));
    } else {
      if ((ec = core_->serializer_.encode(msg, e.bytes))) return ec;
    }
    if ((ec = core_->write_head(e.bytes.data(), frame_kind::message, e.bytes.size() - head, out, key)))
      return ec;
    e.handles.reserve(n);
    for (auto& h : out) e.handles.push_back(std::move(h.handle));
    return {};
  }

  template <class T>
  struct receive_op {
    std::shared_ptr<core_type> core;
    enum class state { starting, waiting, finishing } st = state::starting;
    std::error_code result_ec{};
    message<T> result{};

    template <class Self>
    void operator()(Self& self, std::error_code ec = {})
    {
      if (st == state::finishing) {
        self.complete(result_ec, std::move(result));
        return;
      }
      if (st == state::starting) {
        if (core->receiving_) {
          finish_later(self, errc::receive_in_progress);
          return;
        }
        core->receiving_ = true;
        self.reset_cancellation_state(asio::enable_total_cancellation());
        // The wait below listens to the core's signal, which a sync send may emit to wake it
        // (see channel_core::wake_receive); the caller's cancellation goes through it too.
        auto slot = self.get_cancellation_state().slot();
        if (slot.is_connected()) slot.template emplace<forward_cancellation>(core.get());
      } else if (ec && !(ec == asio::error::operation_aborted && woken(self))) {
        core->receiving_ = false;
        core->watch_peer();
        self.complete(ec, message<T>());
        return;
      }
      detail::incoming_frame f;
      std::error_code rec;
      // Read speculatively only after a wakeup; on the first try a drained socket is waited on.
      if (!core->receive_frame(f, rec, /*blocking=*/false, /*speculate=*/st != state::starting)) {
        const bool first = st == state::starting;
        st = state::waiting;
        if (first || !self.get_cancellation_state().cancelled()) {
          core->before_async_wait();
          core->receive_woken_ = false;
          core->socket_.async_wait(next_layer_type::wait_read,
                                   asio::bind_cancellation_slot(core->receive_wait_signal_.slot(),
                                                                std::move(self)));
        }
        else {
          core->receiving_ = false;
          core->watch_peer();
          self.complete(asio::error::operation_aborted, message<T>());
        }
        return;
      }
      message<T> m;
      if (!rec) m = core->template deliver<T>(f, rec);
      core->receiving_ = false;
      core->watch_peer();
      if (st == state::starting) {
        result = std::move(m);
        finish_later(self, rec);
        return;
      }
      self.complete(rec, std::move(m));
    }

    struct forward_cancellation {
      explicit forward_cancellation(core_type* c) noexcept : core(c) {}
      core_type* core;
      void operator()(asio::cancellation_type t) const { core->receive_wait_signal_.emit(t); }
    };

    /// Whether the wait ended because a sync send woke it (and the caller has not cancelled):
    /// then the receive looks again instead of completing.
    template <class Self>
    bool woken(Self& self) const
    {
      return std::exchange(core->receive_woken_, false) && core->socket_.is_open() &&
             !self.get_cancellation_state().cancelled();
    }

    template <class Self>
    void finish_later(Self& self, std::error_code ec)
    {
      result_ec = ec;
      st = state::finishing;
      asio::post(core->socket_.get_executor(), std::move(self));
    }
  };

  std::shared_ptr<core_type> core_;
};

/// `basic_channel` on the polymorphic executor.
template <serializer Serializer>
using channel = basic_channel<Serializer>;

IPC_END_NAMESPACE

#endif // IPC_CHANNEL_HPP
