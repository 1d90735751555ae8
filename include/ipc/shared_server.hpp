// ipc/shared_server.hpp - a TCP server whose connections are handed to worker processes and
// still counted, and waited for on close, as its own (Node's socket lists, typed).
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_SHARED_SERVER_HPP
#define IPC_SHARED_SERVER_HPP

#include "ipc/platform/config.hpp"
#include "ipc/channel.hpp"
#include "ipc/converters/asio.hpp"
#include "ipc/detail/handle_receipt.hpp"
#include "ipc/detail/pending_handler.hpp"
#include "ipc/error.hpp"
#include "ipc/node/channel.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/compose.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE

/// Where a server's open connections are: `local` in this process (including connections
/// handed to a worker that has not acknowledged them yet), `workers[i]` in worker `i` (in the
/// order `add_worker` / `hand_off` first saw them; a worker that is gone holds none).
struct connection_counts {
  std::size_t local = 0;
  std::vector<std::size_t> workers;

  std::size_t total() const noexcept
  {
    std::size_t n = local;
    for (std::size_t w : workers) n += w;
    return n;
  }
};

/// How `shared_server::pick` chooses a worker for the next connection.
enum class distribution {
  /// Each reachable worker in turn (Node's `cluster` round-robin scheduler).
  round_robin,
  /// The reachable worker with the fewest open connections, as last counted by
  /// `async_get_connections` plus those handed to it since (ties in round-robin order).
  least_connections,
};

struct shared_server_options {
  /// Names this server's connections in its workers (at most 255 bytes). Empty: made from the
  /// local endpoint and a per-process counter, unique among the servers of this process.
  std::string key;
  /// How long `async_get_connections` (and so `async_close`) waits for a worker's answer
  /// before it fails with `errc::worker_not_responding`.
  std::chrono::milliseconds answer_timeout{2000};
};

namespace detail {

/// What a `shared_server` and its outstanding operations share.
struct shared_server_state {
  explicit shared_server_state(asio::ip::tcp::acceptor a) : acceptor(std::move(a)) {}

  struct worker {
    std::weak_ptr<connection_peer> peer;
    std::size_t handed = 0;         // connections handed to it, ever
    std::size_t last_count = 0;     // its answer to the last count
    std::size_t counted_through = 0; // `handed` when that count was asked
  };

  asio::ip::tcp::acceptor acceptor;
  std::string key;
  std::chrono::milliseconds answer_timeout{};
  connection_registry local; // connections this process holds
  std::vector<worker> workers;
  std::size_t next_turn = 0; // round robin
};

/// One `async_get_connections`: asks every worker at once, completes when all have answered
/// (or are gone), or fails when the first deadline passes.
class count_gather : public std::enable_shared_from_this<count_gather> {
public:
  using done_type = std::function<void(std::error_code, connection_counts)>;

  count_gather(std::shared_ptr<shared_server_state> st, done_type done)
    : st_(std::move(st)), done_(std::move(done)), timer_(st_->acceptor.get_executor())
  {
  }

  void start()
  {
    const std::size_t n = st_->workers.size();
    counts_.workers.assign(n, 0);
    ids_.assign(n, 0);
    answered_.assign(n, false);
    asked_through_.assign(n, 0);
    waiting_ = 1; // until every question is out
    for (std::size_t i = 0; i < n; ++i) {
      auto peer = st_->workers[i].peer.lock();
      if (!peer) {
        answered_[i] = true; // gone: holds none
        continue;
      }
      ++waiting_;
      asked_through_[i] = st_->workers[i].handed;
      ids_[i] = peer->count_connections(
        st_->key, [self = shared_from_this(), i](std::error_code ec, std::size_t count) {
          self->answered(i, ec, count);
        });
    }
    timer_.expires_after(st_->answer_timeout);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->timed_out();
    });
    if (--waiting_ == 0) finish({});
  }

private:
  void answered(std::size_t i, std::error_code ec, std::size_t count)
  {
    if (done_called_ || answered_[i]) return;
    answered_[i] = true;
    if (ec && !error_) error_ = ec;
    counts_.workers[i] = count;
    if (i < st_->workers.size()) {
      st_->workers[i].last_count = count;
      st_->workers[i].counted_through = asked_through_[i];
    }
    if (--waiting_ == 0) finish(error_);
  }

  void timed_out()
  {
    if (done_called_) return;
    for (std::size_t i = 0; i < ids_.size(); ++i) {
      if (answered_[i]) continue;
      if (auto peer = st_->workers[i].peer.lock()) peer->cancel_count(ids_[i]);
    }
    finish(errc::worker_not_responding);
  }

  void finish(std::error_code ec)
  {
    done_called_ = true;
    timer_.cancel();
    // Counted last: a connection a worker acknowledged before answering is no longer here.
    counts_.local = st_->local.count(st_->key);
    // Always from a fresh handler: `start` runs inside the initiating function.
    asio::post(timer_.get_executor(),
               [done = std::move(done_), ec, counts = std::move(counts_)]() mutable {
                 done(ec, std::move(counts));
               });
  }

  std::shared_ptr<shared_server_state> st_;
  done_type done_;
  asio::steady_timer timer_;
  connection_counts counts_;
  std::vector<std::uint32_t> ids_;
  std::vector<bool> answered_;
  std::vector<std::size_t> asked_through_;
  std::size_t waiting_ = 0;
  std::error_code error_;
  bool done_called_ = false;
};

/// One `async_close`: counts until nothing is open, backing off between counts.
class close_wait : public std::enable_shared_from_this<close_wait> {
public:
  using done_type = std::function<void(std::error_code)>;

  close_wait(std::shared_ptr<shared_server_state> st, done_type done)
    : st_(std::move(st)), done_(std::move(done)), timer_(st_->acceptor.get_executor())
  {
  }

  void poll()
  {
    auto g = std::make_shared<count_gather>(
      st_, [self = shared_from_this()](std::error_code ec, connection_counts counts) {
        self->counted(ec, counts.total());
      });
    g->start();
  }

private:
  void counted(std::error_code ec, std::size_t open)
  {
    if (ec || open == 0) {
      done_(ec);
      return;
    }
    timer_.expires_after(interval_);
    interval_ = std::min(interval_ * 2, std::chrono::milliseconds(250));
    timer_.async_wait([self = shared_from_this()](std::error_code wec) {
      if (wec) self->done_(wec);
      else self->poll();
    });
  }

  std::shared_ptr<shared_server_state> st_;
  done_type done_;
  asio::steady_timer timer_;
  std::chrono::milliseconds interval_{5};
};

/// A move-only completion handler behind a copyable callable (for `std::function`).
template <class Executor, class... Args>
auto shared_completion(pending_handler<Executor, Args...> h)
{
  auto p = std::make_shared<pending_handler<Executor, Args...>>(std::move(h));
  return [p](Args... args) { p->dispatch(std::move(args)...); };
}

} // namespace detail

/// A TCP server whose connections may be handed to worker processes over channels, and are
/// still its own: `async_get_connections` counts them wherever they are, and `async_close`
/// stops accepting and completes once every one of them, here or in a worker, has closed.
/// Node's `server.getConnections()` / `server.close()` over its socket lists, for C++ workers.
///
/// How connections are counted. Each connection is counted by the process that holds it, for
/// as long as it holds it, without a duplicate being kept anywhere (that would keep it open):
///   - here, from `accept` (or from `hand_off` for sockets accepted elsewhere) until it is
///     closed, however that happens; a handed-off connection until the worker acknowledges it;
///   - in a worker, from `take_handle` on the message that brought it (the server's key travels
///     in that message's frame; nothing else is needed in the worker) until it is closed.
/// The worker's ACK is always written before its answer to a count, so a connection in transit
/// is counted exactly once. A worker that has exited (or whose channel is closed) holds none.
/// A worker that passes a connection on to a process of its own (by sending it, moved, through
/// a channel) keeps it counted: the connection leaves keyed, and the worker's answer includes
/// what that process holds, so counts and `async_close` cover every level.
///
/// Workers answer counts without user code, but only while their channel is being read: a
/// worker must keep a receive outstanding (as a worker that is waiting for connections does).
/// Answers are read here by the receive of the parent's own code, if one is outstanding on that
/// channel, or else by the count itself, up to the next user message, which waits for the
/// parent's code to receive it: a parent that leaves a worker's messages unread for longer than
/// `answer_timeout` gets `errc::worker_not_responding`.
///
/// Workers may be C++ (`ipc::channel<S>`) or Node processes (`ipc::node::channel`): a Node
/// worker counts the connections in its own socket lists and is asked with Node's
/// `NODE_SOCKET_GET_COUNT`.
///
/// Thread safety: use a server and the channels it hands connections through from one thread
/// (or one strand), as with a channel. TCP on POSIX only, for now.
class shared_server {
public:
  using executor_type = asio::any_io_executor;

  /// Takes over @p acceptor (listening, or about to be).
  explicit shared_server(asio::ip::tcp::acceptor acceptor, shared_server_options options = {})
    : st_(std::make_shared<detail::shared_server_state>(std::move(acceptor)))
  {
    st_->answer_timeout = options.answer_timeout;
    if (options.key.empty()) {
      static std::atomic<unsigned long> counter{0};
      std::error_code ec;
      const auto ep = st_->acceptor.local_endpoint(ec);
      options.key = "tcp " + (ec ? std::string("?") : ep.address().to_string() + ":" +
                                                        std::to_string(ep.port())) +
                    " #" + std::to_string(++counter);
    }
    if (options.key.size() > max_connection_key)
      detail::throw_error(errc::unrepresentable_value, "shared_server: key longer than 255 bytes");
    st_->key = std::move(options.key);
    if (st_->acceptor.is_open()) {
      std::error_code ec;
      platform::traits::set_close_on_exec(st_->acceptor.native_handle(), ec);
    }
  }

  /// Listens on @p endpoint (with `reuse_address`). @throws std::system_error
  shared_server(const executor_type& ex, const asio::ip::tcp::endpoint& endpoint,
                shared_server_options options = {})
    : shared_server(asio::ip::tcp::acceptor(ex, endpoint, /*reuse_address=*/true), std::move(options))
  {
  }
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
  shared_server(ExecutionContext& ctx, const asio::ip::tcp::endpoint& endpoint,
                shared_server_options options = {})
    : shared_server(executor_type(ctx.get_executor()), endpoint, std::move(options))
  {
  }

  shared_server(shared_server&&) noexcept = default;
  shared_server& operator=(shared_server&& other) noexcept
  {
    if (this != &other) {
      close();
      st_ = std::move(other.st_);
    }
    return *this;
  }
  shared_server(const shared_server&) = delete;
  shared_server& operator=(const shared_server&) = delete;

  /// Stops accepting (a pending `async_accept` completes with `operation_aborted`). Connections
  /// already open, here and in workers, are left alone.
  ~shared_server() { close(); }

  executor_type get_executor() const { return st_->acceptor.get_executor(); }
  const std::string& key() const noexcept { return st_->key; }
  asio::ip::tcp::acceptor& acceptor() noexcept { return st_->acceptor; }
  bool is_open() const noexcept { return st_ && st_->acceptor.is_open(); }
  asio::ip::tcp::endpoint local_endpoint() const { return st_->acceptor.local_endpoint(); }

  // ---- accepting ------------------------------------------------------------------------------

  /// Accepts one connection (close-on-exec, counted here until it is closed or handed off).
  /// @throws std::system_error
  asio::ip::tcp::socket accept()
  {
    std::error_code ec;
    asio::ip::tcp::socket s = accept(ec);
    if (ec) detail::throw_error(ec, "shared_server::accept");
    return s;
  }
  asio::ip::tcp::socket accept(std::error_code& ec)
  {
    asio::ip::tcp::socket s = st_->acceptor.accept(ec);
    if (!ec) track(*st_, s, ec);
    return s;
  }

  /// Completion signature: `void(std::error_code, asio::ip::tcp::socket)`.
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_accept(CompletionToken&& token = CompletionToken())
  {
    return asio::async_compose<CompletionToken, void(std::error_code, asio::ip::tcp::socket)>(
      accept_op{st_}, token, st_->acceptor);
  }

  // ---- workers --------------------------------------------------------------------------------

  /// Registers @p worker (idempotent) and returns its index in `connection_counts::workers`.
  /// `hand_off` registers the channels it sends through by itself.
  template <class S, class E>
  std::size_t add_worker(basic_channel<S, E>& worker)
  {
    return add_peer(worker.core_);
  }

  /// As above, for a Node worker (`ipc::node::channel`): its counts are asked with Node's own
  /// `NODE_SOCKET_GET_COUNT`, which Node answers from the socket lists it keeps per key.
  template <class E>
  std::size_t add_worker(node::basic_channel<E>& worker)
  {
    return add_peer(worker.core_);
  }

  std::size_t worker_count() const noexcept { return st_->workers.size(); }

  /// The worker that should get the next connection, by @p d; none when no registered worker
  /// can be reached (all exited, or their channels closed).
  std::optional<std::size_t> pick(distribution d = distribution::round_robin)
  {
    const std::size_t n = st_->workers.size();
    std::optional<std::size_t> best;
    std::size_t best_load = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (st_->next_turn + k) % n;
      auto& w = st_->workers[i];
      auto peer = w.peer.lock();
      if (!peer || !peer->reachable()) continue;
      const std::size_t load = w.last_count + (w.handed - w.counted_through);
      if (!best || (d == distribution::least_connections && load < best_load)) {
        best = i;
        best_load = load;
      }
      if (d == distribution::round_robin) break;
    }
    if (best) st_->next_turn = *best + 1;
    return best;
  }

  // ---- handing off ----------------------------------------------------------------------------

  /// Sends @p msg with connection @p s to @p worker through its channel, marked as this
  /// server's. The socket is consumed; this process counts it until the worker acknowledges it,
  /// the worker from the moment it takes it. @throws std::system_error
  template <class S, class E, class T>
  void hand_off(basic_channel<S, E>& worker, const T& msg, asio::ip::tcp::socket&& s)
  {
    std::error_code ec;
    hand_off(worker, msg, std::move(s), ec);
    if (ec) detail::throw_error(ec, "shared_server::hand_off");
  }
  template <class S, class E, class T>
  void hand_off(basic_channel<S, E>& worker, const T& msg, asio::ip::tcp::socket&& s,
                std::error_code& ec)
  {
    const std::size_t i = prepare_hand_off(worker, s);
    worker.send_impl(st_->key, msg, ec, std::move(s));
    if (!ec) ++st_->workers[i].handed;
  }

  /// As `hand_off`, queued on the channel like `async_send`. Completion signature:
  /// `void(std::error_code)`.
  template <class S, class E, class T,
            class CompletionToken = asio::default_completion_token_t<E>>
  auto async_hand_off(basic_channel<S, E>& worker, const T& msg, asio::ip::tcp::socket&& s,
                      CompletionToken&& token = CompletionToken())
  {
    const std::size_t i = prepare_hand_off(worker, s);
    ++st_->workers[i].handed;
    return worker.async_send_impl(msg, std::forward_as_tuple(std::move(s)),
                                  std::forward<CompletionToken>(token), st_->key);
  }

  /// Hands connection @p s to a Node worker (`ipc::node::channel`) as a `net.Socket` with this
  /// server's key, beside @p msg: the Node process receives it with its message (the second
  /// argument of its `message` event) and counts it in its socket list, which this server
  /// asks. Blocks until Node acknowledges the handle, as `node::channel::send` does.
  /// @throws std::system_error
  template <class E>
  void hand_off(node::basic_channel<E>& worker, const json_value& msg, asio::ip::tcp::socket&& s)
  {
    std::error_code ec;
    hand_off(worker, msg, std::move(s), ec);
    if (ec) detail::throw_error(ec, "shared_server::hand_off");
  }
  template <class E>
  void hand_off(node::basic_channel<E>& worker, const json_value& msg, asio::ip::tcp::socket&& s,
                std::error_code& ec)
  {
    const std::size_t i = prepare_hand_off(worker, s);
    node::handle h = node_socket(std::move(s), ec);
    if (ec) return;
    worker.send(msg, std::move(h), ec);
    if (!ec) ++st_->workers[i].handed;
  }
  /// As above, queued like `node::channel::async_send`. Completion signature:
  /// `void(std::error_code)`.
  template <class E, class CompletionToken = asio::default_completion_token_t<E>>
  auto async_hand_off(node::basic_channel<E>& worker, const json_value& msg,
                      asio::ip::tcp::socket&& s, CompletionToken&& token = CompletionToken())
  {
    const std::size_t i = prepare_hand_off(worker, s);
    ++st_->workers[i].handed;
    std::error_code ec;
    node::handle h = node_socket(std::move(s), ec);
    // A socket that cannot be sent still goes through async_send, which reports it.
    return worker.async_send(msg, std::move(h), std::forward<CompletionToken>(token));
  }

  // ---- counting and closing -------------------------------------------------------------------

  /// Connections of this server open in this process (including handed off, unacknowledged).
  std::size_t local_connections() const { return st_->local.count(st_->key); }

  /// Counts this server's open connections, here and in every worker, asking the workers at
  /// once. Completion signature: `void(std::error_code, ipc::connection_counts)`; the error is
  /// `errc::worker_not_responding` if a worker did not answer within `answer_timeout` (the
  /// counts then hold what is known).
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_get_connections(CompletionToken&& token = CompletionToken())
  {
    return asio::async_initiate<CompletionToken, void(std::error_code, connection_counts)>(
      [](auto handler, std::shared_ptr<detail::shared_server_state> st) {
        const executor_type ex = st->acceptor.get_executor();
        auto done = detail::shared_completion(
          detail::pending_handler<executor_type, std::error_code, connection_counts>(std::move(handler), ex));
        std::make_shared<detail::count_gather>(std::move(st), std::move(done))->start();
      },
      token, st_);
  }

  /// Stops accepting (idempotent); open connections are left alone.
  void close() noexcept
  {
    if (!st_) return;
    std::error_code ec;
    st_->acceptor.close(ec);
  }

  /// Stops accepting, then completes once every connection of this server, here and in the
  /// workers, has closed (Node's `server.close()`). Completion signature:
  /// `void(std::error_code)`: `errc::worker_not_responding` when a worker stops answering.
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_close(CompletionToken&& token = CompletionToken())
  {
    close();
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
      [](auto handler, std::shared_ptr<detail::shared_server_state> st) {
        const executor_type ex = st->acceptor.get_executor();
        auto done = detail::shared_completion(
          detail::pending_handler<executor_type, std::error_code>(std::move(handler), ex));
        std::make_shared<detail::close_wait>(std::move(st), std::move(done))->poll();
      },
      token, st_);
  }

private:
  struct accept_op {
    std::shared_ptr<detail::shared_server_state> st;

    template <class Self>
    void operator()(Self& self)
    {
      st->acceptor.async_accept(std::move(self));
    }
    template <class Self>
    void operator()(Self& self, std::error_code ec, asio::ip::tcp::socket s)
    {
      if (!ec) track(*st, s, ec);
      self.complete(ec, std::move(s));
    }
  };

  static void track(detail::shared_server_state& st, asio::ip::tcp::socket& s, std::error_code& ec)
  {
    platform::traits::set_close_on_exec(s.native_handle(), ec);
    if (ec) {
      std::error_code ignored;
      s.close(ignored);
      return;
    }
    st.local.add(st.key, s.native_handle());
  }

  std::size_t add_peer(const std::weak_ptr<detail::connection_peer>& p)
  {
    for (std::size_t i = 0; i < st_->workers.size(); ++i) {
      const auto& w = st_->workers[i].peer;
      if (!w.owner_before(p) && !p.owner_before(w)) return i;
    }
    st_->workers.push_back({p});
    return st_->workers.size() - 1;
  }

  /// A connection as Node expects a handed socket: a `net.Socket` with the server's key.
  node::handle node_socket(asio::ip::tcp::socket&& s, std::error_code& ec)
  {
    node::handle h;
    h.type = std::string(node::handle_type::socket);
    h.key = st_->key;
    h.descriptor = handle_converter<asio::ip::tcp::socket>::send(std::move(s), ec);
    return h;
  }

  template <class Worker>
  std::size_t prepare_hand_off(Worker& worker, asio::ip::tcp::socket& s)
  {
    const std::size_t i = add_worker(worker);
    // Counted here until the worker's ACK closes this process's copy (the same descriptor).
    if (s.is_open()) st_->local.add(st_->key, s.native_handle());
    return i;
  }

  std::shared_ptr<detail::shared_server_state> st_;
};

IPC_END_NAMESPACE

#endif // IPC_SHARED_SERVER_HPP
