// ipc/node/channel.hpp - a channel that speaks Node.js's child_process IPC protocol.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_NODE_CHANNEL_HPP
#define IPC_NODE_CHANNEL_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/detail/channel_core.hpp"
#include "ipc/detail/pending_handler.hpp"
#include "ipc/error.hpp"
#include "ipc/handle_converter.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/node/error.hpp"
#include "ipc/node/json_text.hpp"
#include "ipc/node/v8_value.hpp"
#include "ipc/platform/traits.hpp"
#include "ipc/serializers/json_value.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>

#include <cstddef>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE
class shared_server;
namespace node {

/// How messages are encoded on the wire: Node's `serialization` option of `fork`/`spawn`.
enum class serialization {
  /// `JSON.stringify(message) + "\n"`, UTF-8 (Node's default).
  json,
  /// A 4-byte big-endian length, then V8's ValueSerializer format.
  advanced,
};

/// Limits of a Node channel. The receiver enforces them before it buffers more; the sender
/// refuses what it would refuse to receive.
struct channel_options {
  /// Longest message accepted or sent, in bytes of wire encoding (a JSON line without its
  /// "\n"). A longer line from the peer is an error on the channel (`errc::message_too_large`):
  /// nothing after it can be trusted. Node itself breaks at 2^29 - 24 UTF-16 units.
  std::size_t max_message_size = 64u << 20;
  /// Most descriptors held that arrived but no `NODE_HANDLE` has claimed yet; any beyond are
  /// closed at once.
  std::size_t max_pending_handles = 16;
  /// Wire encoding. A channel from `parent_channel` or `spawn` takes it from the environment.
  node::serialization serialization = node::serialization::json;
};

/// Node's name for a handle's kind, as it travels in a `NODE_HANDLE` envelope.
namespace handle_type {
inline constexpr std::string_view socket = "net.Socket";        ///< a connected TCP or local socket
inline constexpr std::string_view server = "net.Server";        ///< a listening socket
inline constexpr std::string_view native = "net.Native";        ///< a raw TCP or pipe handle
inline constexpr std::string_view dgram = "dgram.Socket";       ///< a UDP socket
inline constexpr std::string_view dgram_native = "dgram.Native"; ///< a raw UDP handle
} // namespace handle_type

/// A descriptor with the description Node gives it: what comes with a received `NODE_HANDLE`,
/// and what `send` can be given to choose the envelope itself.
struct handle {
  /// One of `handle_type`; empty when sending means "decide from the descriptor".
  std::string type;
  /// For a `net.Socket` accepted by a `net.Server`: the server's connection key (Node's
  /// socket lists use it). Opaque.
  std::string key;
  /// For a `dgram.Socket`: `"udp4"` or `"udp6"` (empty when sending: taken from the socket).
  std::string dgram_type;
  /// The descriptor itself (received ones are close-on-exec, and non-blocking when Node sent
  /// them).
  ipc::native_handle descriptor;
  /// For a received `net.Socket` with a `key`: keeps the connection counted in the channel's
  /// socket list for that key until it is destroyed. The sender's `server.getConnections()`
  /// counts it, and its `server.close()` completes once every such ticket is gone. Keep it
  /// as long as the connection is open (move it beside the socket taken out).
  std::shared_ptr<void> ticket;

  /// Converts the descriptor into @p H through `ipc::handle_converter<H>` (which checks that
  /// it is that kind of socket); the descriptor is consumed either way.
  template <transferable H>
  H take(const asio::any_io_executor& ex, std::error_code& ec)
  {
    return handle_converter<H>::got(std::move(descriptor), ex, ec);
  }
  /// As above. @throws std::system_error
  template <transferable H>
  H take(const asio::any_io_executor& ex)
  {
    std::error_code ec;
    H h = take<H>(ex, ec);
    if (ec) ipc::detail::throw_error(ec, "node::handle::take");
    return h;
  }
};

/// A received message: any JSON value (strings WTF-8, see `parse_json`), and the handle that
/// came with it, if any.
struct message {
  json_value value;
  std::optional<ipc::node::handle> handle;
};

namespace detail {

/// `cmd` is a string longer than 5 that starts with `NODE_`: Node's test for its own messages.
inline bool is_internal(const json_value& v) noexcept
{
  const json_value* cmd = v.find("cmd");
  if (cmd == nullptr) return false;
  auto s = cmd->as_string();
  return s && s->size() > 5 && s->substr(0, 5) == "NODE_";
}

/// How Node may take @p fd, and under which envelope type, or an error for kinds that would
/// crash or wedge it.
inline void classify(ipc::node::handle& h, std::error_code& ec)
{
  using traits = platform::traits;
  const auto info = traits::describe_socket(h.descriptor.get(), ec);
  if (ec) {
    if (ec == std::errc::not_a_socket) ec = errc::unsupported_handle;
    return;
  }
  using fam = traits::socket_family;
  using typ = traits::socket_type;
  const bool ip = info.family == fam::ipv4 || info.family == fam::ipv6;
  const bool stream = info.type == typ::stream && (ip || info.family == fam::local);
  const bool dgram = info.type == typ::datagram && ip;
  if (!stream && !dgram) {
    ec = errc::unsupported_handle;
    return;
  }
  if (h.type.empty()) {
    h.type = dgram ? handle_type::dgram : info.listening ? handle_type::server : handle_type::socket;
  }
  const std::string_view t = h.type;
  const bool fits = (t == handle_type::socket && stream && !info.listening) ||
                    (t == handle_type::server && stream && info.listening) ||
                    (t == handle_type::native && stream) || (t == handle_type::dgram && dgram) ||
                    (t == handle_type::dgram_native && dgram);
  if (!fits) {
    ec = errc::unknown_handle_type;
    return;
  }
  if (t == handle_type::dgram) {
    const std::string want = info.family == fam::ipv6 ? "udp6" : "udp4";
    if (h.dgram_type.empty()) h.dgram_type = want;
    if (h.dgram_type != want) {
      ec = errc::unknown_handle_type;
      return;
    }
  } else {
    h.dgram_type.clear();
  }
  if (t != handle_type::socket) h.key.clear();
  // Node's event loop uses what it is given as is: a blocking socket would stall it.
  traits::set_nonblocking(h.descriptor.get(), ec);
}

inline bool known_type(std::string_view t) noexcept
{
  return t == handle_type::socket || t == handle_type::server || t == handle_type::native ||
         t == handle_type::dgram || t == handle_type::dgram_native;
}

/// Selects the constructor for sockets the library made itself (no checks needed).
struct own_socket_t {
  explicit own_socket_t() = default;
};
inline constexpr own_socket_t own_socket{};

/// The state a channel shares with its outstanding operations (behind a shared_ptr, so the
/// channel object can move or die while they run).
template <class Executor>
class node_core final : public std::enable_shared_from_this<node_core<Executor>>,
                  public ipc::detail::connection_peer {
public:
  using traits = platform::traits;
  using socket_type = traits::stream<Executor>;
  using send_handler = ipc::detail::pending_handler<Executor, std::error_code>;
  using receive_handler = ipc::detail::pending_handler<Executor, std::error_code, message>;

  /// Node retransmits a NACKed handle this many times before giving up.
  static constexpr int max_retransmissions = 3;
  static constexpr std::size_t read_chunk = 64 * 1024;

  node_core(const Executor& ex, const channel_options& o) : socket_(ex), options_(o) {}

  void adopt(native_handle h, bool check, std::error_code& ec)
  {
    if (check) {
      traits::check_channel_handle(h.get(), ec);
      if (ec) return;
    }
    socket_.assign(typename traits::protocol(), h.get(), ec);
    if (!ec) (void)h.release();
  }

  // ---- the outgoing queue ----------------------------------------------------------------

  struct entry {
    std::string bytes;
    std::size_t offset = 0;
    native_handle fd;        // sent with the first byte; kept until ACK
    bool internal = false;   // ACK/NACK and replies: never wait behind a handle in flight
    bool sync = false;       // a sync send waits for this one
    int attempts = 0;
    send_handler handler;
  };

  /// Encodes a user message (wrapping it in a NODE_HANDLE envelope when @p h is given).
  std::error_code encode(const json_value& msg, ipc::node::handle* h, std::string& out)
  {
    if (is_internal(msg)) return errc::reserved_message;
    // Node keeps a socket list per key for the sockets it got with one (SocketListReceive),
    // and answers counts only for those keys.
    if (h != nullptr && !h->key.empty() && h->type == handle_type::socket) keys_sent_.insert(h->key);
    if (advanced()) {
      if (h == nullptr) return frame_v8(msg, out);
      json_value envelope = json_value::object(
        {{"cmd", "NODE_HANDLE"}, {"type", json_value(h->type)}, {"msg", msg}});
      if (!h->key.empty()) envelope.emplace("key", json_value(h->key));
      if (!h->dgram_type.empty()) envelope.emplace("dgramType", json_value(h->dgram_type));
      return frame_v8(envelope, out);
    }
    if (h != nullptr) {
      // Node writes cmd, type, msg, then the extras: the same order, without copying msg.
      std::string text = "{\"cmd\":\"NODE_HANDLE\",\"type\":";
      if (auto ec = write_json(json_value(h->type), text)) return ec;
      text += ",\"msg\":";
      if (auto ec = write_json(msg, text)) return ec;
      if (!h->key.empty()) {
        text += ",\"key\":";
        if (auto ec = write_json(json_value(h->key), text)) return ec;
      }
      if (!h->dgram_type.empty()) {
        text += ",\"dgramType\":";
        if (auto ec = write_json(json_value(h->dgram_type), text)) return ec;
      }
      text += '}';
      if (text.size() > options_.max_message_size) return ipc::errc::message_too_large;
      out = std::move(text);
      out += '\n';
      return {};
    }
    out.clear();
    if (auto ec = write_json(msg, out)) return ec;
    if (out.size() > options_.max_message_size) return ipc::errc::message_too_large;
    out += '\n';
    return {};
  }

  bool advanced() const noexcept { return options_.serialization == serialization::advanced; }

  /// 'advanced' framing: a 4-byte big-endian length, then the V8 buffer. Node reads the length
  /// as a signed 32-bit number, so it stays below 2^31 whatever the limit says.
  std::error_code frame_v8(const json_value& v, std::string& out)
  {
    out.assign(4, '\0');
    if (auto ec = write_v8(v, out)) return ec;
    const std::size_t n = out.size() - 4;
    if (n > options_.max_message_size || n >= (std::size_t{1} << 31)) return ipc::errc::message_too_large;
    for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
    return {};
  }

  std::error_code check_can_send() const
  {
    if (!socket_.is_open()) return closed_reason_ ? closed_reason_ : make_error_code(ipc::errc::channel_closed);
    return tx_error_;
  }

  /// Puts an internal message ahead of every user message that has not started.
  void queue_internal(std::string_view text)
  {
    auto e = std::make_unique<entry>();
    if (advanced()) {
      json_value v;
      if (parse_json(text, v) || frame_v8(v, e->bytes)) return; // our own text: cannot fail
    } else {
      e->bytes.assign(text);
      e->bytes += '\n';
    }
    e->internal = true;
    auto it = queue_.begin();
    if (it != queue_.end() && (*it)->offset != 0) ++it;
    while (it != queue_.end() && (*it)->internal) ++it;
    queue_.insert(it, std::move(e));
  }

  /// Writes what may be written now without blocking. Returns true when it stopped because the
  /// socket is full (the caller waits for writability).
  bool pump()
  {
    const auto fd = socket_.native_handle();
    while (!queue_.empty() && socket_.is_open() && !tx_error_) {
      entry& e = *queue_.front();
      // One handle in flight: user messages wait for its ACK/NACK (Node does the same; its
      // receiver binds descriptors to NODE_HANDLE messages in order).
      if (!e.internal && e.offset == 0 && unacked_) return false;
      const native_handle::native_type fds[1] = {e.fd.get()};
      std::span<const native_handle::native_type> attach;
      if (e.offset == 0 && e.fd) attach = fds;
      const asio::const_buffer buf(e.bytes.data() + e.offset, e.bytes.size() - e.offset);
      std::error_code ec;
      const std::size_t n = traits::send_some(fd, {&buf, 1}, attach, true, ec);
      if (ec == asio::error::would_block) return true;
      if (ec) {
        tx_error_ = ec;
        fail_queue(ec);
        return false;
      }
      e.offset += n;
      if (e.offset < e.bytes.size()) continue;
      std::unique_ptr<entry> done = std::move(queue_.front());
      queue_.pop_front();
      if (done->fd) {
        // Keep our copy until the peer says it has its own (a descriptor closed in flight
        // can vanish), and keep the message for a retransmission on NACK.
        unacked_ = std::move(done);
        unacked_->offset = 0;
      } else {
        complete(std::move(done), {});
      }
    }
    return false;
  }

  void complete(std::unique_ptr<entry> e, std::error_code ec)
  {
    if (e->sync) {
      sync_done_ = true;
      sync_result_ = ec;
    } else if (e->handler) {
      e->handler.post(ec);
    }
  }

  void fail_queue(std::error_code ec)
  {
    auto q = std::move(queue_);
    queue_.clear();
    for (auto& e : q) complete(std::move(e), ec);
    if (unacked_) complete(std::move(unacked_), ec);
  }

  // ---- the incoming side -------------------------------------------------------------------

  struct inbound {
    std::error_code ec;
    message m;
  };

  /// Reads once. Returns false when nothing could be read without blocking (and @p blocking is
  /// false). A fatal error is kept in `rx_error_`.
  bool read_once(bool blocking)
  {
    if (rx_error_) return true;
    if (consumed_ > 0 && consumed_ * 2 >= in_.size()) {
      in_.consume(consumed_);
      if (in_.empty()) in_.shrink_to(4 * read_chunk); // after a huge message
      scanned_ -= consumed_;
      consumed_ = 0;
    }
    const std::size_t at = in_.size();
    in_.resize(at + read_chunk);
    std::error_code ec;
    fds_in_.clear();
    const std::size_t n =
      traits::receive_some(socket_.native_handle(),
                           {in_.data() + at, read_chunk}, fds_in_,
                           options_.max_pending_handles, !blocking, ec);
    in_.resize(at + n);
    for (auto fd : fds_in_) {
      if (fds_.size() < options_.max_pending_handles) fds_.emplace_back(fd);
      else traits::close_handle(fd);
    }
    if (ec == asio::error::would_block) {
      if (!blocking) return false;
      traits::wait(socket_.native_handle(), int(traits::readiness::readable), ec);
      if (ec) rx_error_ = ec;
      return true;
    }
    if (ec == std::errc::connection_reset) ec.clear(); // peer gone with our data unread: EOF
    if (ec) {
      rx_error_ = ec;
      return true;
    }
    if (n == 0) {
      // A partial message at end of stream is lost, as in Node; say so.
      rx_error_ = in_.size() > consumed_ ? make_error_code(ipc::errc::truncated_frame)
                                         : std::error_code(asio::error::eof);
      return true;
    }
    parse_lines();
    return true;
  }

  void parse_lines()
  {
    if (advanced()) {
      parse_frames();
      return;
    }
    while (!rx_error_) {
      const char* base = chars();
      const void* hit = std::memchr(base + scanned_, '\n', in_.size() - scanned_);
      if (hit == nullptr) {
        scanned_ = in_.size();
        if (in_.size() - consumed_ > options_.max_message_size)
          rx_error_ = ipc::errc::message_too_large;
        return;
      }
      const std::size_t nl = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
      const std::string_view line(base + consumed_, nl - consumed_);
      consumed_ = scanned_ = nl + 1;
      if (line.size() > options_.max_message_size) {
        rx_error_ = ipc::errc::message_too_large;
        return;
      }
      on_message_text(line);
    }
  }

  void parse_frames()
  {
    while (!rx_error_) {
      const std::size_t have = in_.size() - consumed_;
      if (have < 4) return;
      const auto* p = reinterpret_cast<const unsigned char*>(chars() + consumed_);
      const std::size_t n = std::size_t{p[0]} << 24 | std::size_t{p[1]} << 16 | std::size_t{p[2]} << 8 | p[3];
      if (n > options_.max_message_size) {
        rx_error_ = ipc::errc::message_too_large;
        return;
      }
      if (have - 4 < n) return;
      const std::string_view payload(chars() + consumed_ + 4, n);
      consumed_ += 4 + n;
      scanned_ = consumed_;
      json_value v;
      // Every value costs at least a byte, except holes of sparse arrays and copies made for
      // back-references: those are bounded by a budget in proportion to the frame.
      if (std::error_code ec = read_v8(payload, v, 8 * n + 1024)) {
        inbox_.push_back({ec, {}});
        continue;
      }
      on_value(std::move(v));
    }
  }

  void on_message_text(std::string_view text)
  {
    json_value v;
    if (std::error_code ec = parse_json(text, v)) {
      inbox_.push_back({ec, {}});
      return;
    }
    on_value(std::move(v));
  }

  void on_value(json_value v)
  {
    if (!is_internal(v)) {
      inbox_.push_back({{}, message{std::move(v), std::nullopt}});
      return;
    }
    const std::string_view cmd = *v["cmd"].as_string();
    if (cmd == "NODE_HANDLE") on_handle(std::move(v));
    else if (cmd == "NODE_HANDLE_ACK" || cmd == "NODE_HANDLE_NACK") on_ack(cmd == "NODE_HANDLE_ACK");
    else if (cmd == "NODE_SOCKET_GET_COUNT" || cmd == "NODE_SOCKET_NOTIFY_CLOSE")
      on_socket_list(cmd, v);
    else if (cmd == "NODE_SOCKET_COUNT") on_socket_count(v);
    // Any other NODE_ command (cluster's, or a future one) is ignored, as Node ignores it.
  }

  void on_handle(json_value v)
  {
    if (fds_.empty()) {
      // The descriptor did not arrive: Node's answer, and its sender retransmits.
      queue_internal(R"({"cmd":"NODE_HANDLE_NACK"})");
      return;
    }
    native_handle fd = std::move(fds_.front());
    fds_.pop_front();
    queue_internal(R"({"cmd":"NODE_HANDLE_ACK"})");
    json_value* outer = &v;
    // A Node sender retransmits a NACKed net.Socket as net.Native around the first envelope:
    // take the inner one (and acknowledge once).
    json_value* inner = v.find("msg");
    if (inner != nullptr && v["type"].as_string() == std::optional<std::string_view>(handle_type::native) &&
        is_internal(*inner) &&
        (*inner)["cmd"].as_string() == std::optional<std::string_view>("NODE_HANDLE"))
      outer = inner;
    ipc::node::handle h;
    auto type = (*outer)["type"].as_string();
    if (!type || !known_type(*type)) {
      inbox_.push_back({errc::unknown_handle_type, {}});
      return; // fd closes here
    }
    h.type = *type;
    if (auto k = (*outer)["key"].as_string()) h.key = *k;
    if (auto d = (*outer)["dgramType"].as_string()) h.dgram_type = *d;
    h.descriptor = std::move(fd);
    json_value body;
    if (json_value* m = outer->find("msg")) body = std::move(*m);
    if (h.type == handle_type::socket && !h.key.empty()) count_socket(h);
    inbox_.push_back({{}, message{std::move(body), std::move(h)}});
  }

  void on_ack(bool ack)
  {
    if (!unacked_) {
      inbox_.push_back({errc::unexpected_ack, {}});
      return;
    }
    if (ack) {
      complete(std::move(unacked_), {}); // closes our copy of the descriptor
      return;
    }
    if (++unacked_->attempts > max_retransmissions) {
      complete(std::move(unacked_), errc::handle_refused);
      return;
    }
    // Send it again, ahead of every user message not yet started.
    auto e = std::move(unacked_);
    auto it = queue_.begin();
    if (it != queue_.end() && (*it)->offset != 0) ++it;
    while (it != queue_.end() && (*it)->internal) ++it;
    queue_.insert(it, std::move(e));
  }

  // Socket lists (Node's SocketListReceive): sockets received with a key are counted while
  // their tickets live; the sender asks for the count and waits for it to reach zero.
  struct socket_list {
    std::size_t count = 0;
    bool close_pending = false;
  };

  struct ticket_type {
    std::weak_ptr<node_core> core;
    std::string key;
    ~ticket_type()
    {
      if (auto c = core.lock()) c->uncount_socket(key);
    }
  };

  void count_socket(ipc::node::handle& h)
  {
    ++lists_[h.key].count;
    auto t = std::make_shared<ticket_type>();
    t->core = this->weak_from_this();
    t->key = h.key;
    h.ticket = std::move(t);
  }

  void uncount_socket(const std::string& key)
  {
    auto it = lists_.find(key);
    if (it == lists_.end() || it->second.count == 0) return;
    if (--it->second.count == 0 && it->second.close_pending) {
      it->second.close_pending = false;
      reply_list("NODE_SOCKET_ALL_CLOSED", key, nullptr);
      run();
    }
  }

  void reply_list(std::string_view cmd, const std::string& key, const std::size_t* count)
  {
    if (!socket_.is_open()) return;
    json_value v = json_value::object({{"cmd", json_value(cmd)}, {"key", key}});
    if (count != nullptr) v.emplace("count", static_cast<std::uint64_t>(*count));
    std::string text;
    if (write_json(v, text)) return;
    queue_internal(text);
  }

  void on_socket_list(std::string_view cmd, const json_value& v)
  {
    auto key = v["key"].as_string();
    if (!key) return;
    auto it = lists_.find(std::string(*key));
    if (it == lists_.end()) return; // as Node: keys never received are not ours to answer
    if (cmd == "NODE_SOCKET_GET_COUNT") {
      reply_list("NODE_SOCKET_COUNT", it->first, &it->second.count);
    } else if (it->second.count == 0) {
      reply_list("NODE_SOCKET_ALL_CLOSED", it->first, nullptr);
    } else {
      it->second.close_pending = true;
    }
  }

  // Socket lists, the sender's side (Node's SocketListSend): `ipc::shared_server` asks a Node
  // peer how many connections of a key it holds.

  /// Asks the peer for its count of connections of @p key (`NODE_SOCKET_GET_COUNT`); @p done
  /// runs on the channel's executor with the answer, or with 0 if the peer was never sent a
  /// socket with that key (it keeps no list for it), is gone, or goes before answering.
  std::uint32_t count_connections(std::string_view key, count_callback done) override
  {
    if (!reachable() || keys_sent_.find(std::string(key)) == keys_sent_.end()) {
      asio::post(socket_.get_executor(), [done = std::move(done)] { done({}, 0); });
      return 0;
    }
    if (++next_count_id_ == 0) ++next_count_id_;
    const std::uint32_t id = next_count_id_;
    counts_.push_back({id, std::string(key), std::move(done)});
    reply_list("NODE_SOCKET_GET_COUNT", std::string(key), nullptr);
    run();
    return id;
  }

  void cancel_count(std::uint32_t id) noexcept override
  {
    for (auto it = counts_.begin(); it != counts_.end(); ++it)
      if (it->id == id) {
        counts_.erase(it);
        return;
      }
  }

  bool reachable() const noexcept override
  {
    return socket_.is_open() && !rx_error_ && !tx_error_;
  }

  /// `NODE_SOCKET_COUNT` answers the oldest question about its key (Node's answers carry no
  /// id; it answers in order).
  void on_socket_count(const json_value& v)
  {
    auto key = v["key"].as_string();
    const json_value* count = v.find("count");
    if (!key || count == nullptr) return;
    const std::optional<double> n = count->as_double();
    if (!n || !(*n >= 0) || *n > 9007199254740991.0) return;
    for (auto it = counts_.begin(); it != counts_.end(); ++it) {
      if (it->key != *key) continue;
      count_callback done = std::move(it->done);
      counts_.erase(it);
      const auto value = static_cast<std::size_t>(*n);
      asio::post(socket_.get_executor(), [done = std::move(done), value] { done({}, value); });
      return;
    }
  }

  /// The peer cannot answer any more: every question gets 0.
  void end_counts()
  {
    answer_all_with_zero(counts_, socket_.get_executor());
  }

  // ---- async machinery --------------------------------------------------------------------

  /// Whether the event loop should read now: a receive waits, or a handle awaits its ACK
  /// (async senders rely on the channel to notice it).
  bool wants_read() const noexcept
  {
    if (!socket_.is_open() || rx_error_) return false;
    if (receiver_) return true;
    return ((unacked_ && !unacked_->sync) || !counts_.empty()) &&
           inbox_.size() < max_background_messages;
  }

  /// After any change: write what can be written, hand out what has arrived, and wait for the
  /// socket where something is left to do.
  void run()
  {
    if (!counts_.empty() && !reachable()) end_counts();
    if (!socket_.is_open()) return;
    if (pump() && !write_waiting_) {
      write_waiting_ = true;
      socket_.async_wait(socket_type::wait_write, [self = this->shared_from_this()](std::error_code ec) {
        self->write_waiting_ = false;
        if (ec) return;
        self->run();
      });
    }
    deliver();
    if (wants_read() && !read_waiting_) {
      read_waiting_ = true;
      socket_.async_wait(socket_type::wait_read, [self = this->shared_from_this()](std::error_code ec) {
        self->read_waiting_ = false;
        if (ec) return;
        // Take what is there (a bounded number of reads), then let others run.
        for (int i = 0; i < 4 && self->socket_.is_open() && self->read_once(false); ++i)
          if (!self->inbox_.empty() && self->receiver_) break;
        self->run();
      });
    }
  }

  void deliver()
  {
    if (!receiver_) return;
    if (!inbox_.empty()) {
      inbound in = std::move(inbox_.front());
      inbox_.pop_front();
      take_receiver().post(in.ec, std::move(in.m));
    } else if (rx_error_) {
      take_receiver().post(rx_error_, message{});
    }
  }

  receive_handler take_receiver(bool from_slot = false)
  {
    // Inside the slot's own handler the slot must not be cleared (that would destroy the
    // running handler); it is replaced by the next operation that uses it.
    if (!from_slot && receive_slot_.is_connected()) receive_slot_.clear();
    receive_slot_ = {};
    receive_handler h = std::move(*receiver_);
    receiver_.reset();
    return h;
  }

  void cancel_receive()
  {
    if (receiver_) take_receiver(true).post(asio::error::operation_aborted, message{});
  }

  /// Closes the socket; everything outstanding completes with `operation_aborted` (or
  /// @p reason), descriptors held are closed.
  void close(std::error_code reason = {})
  {
    std::error_code ignored;
    if (socket_.is_open()) socket_.close(ignored);
    if (!closed_reason_) closed_reason_ = reason;
    const std::error_code why = reason ? reason : make_error_code(asio::error::operation_aborted);
    fail_queue(why);
    end_counts();
    fds_.clear();
    inbox_.clear();
    if (receiver_) take_receiver().post(why, message{});
  }

  static constexpr std::size_t max_background_messages = 4096;

  socket_type socket_;
  channel_options options_;
  const char* chars() const noexcept { return reinterpret_cast<const char*>(in_.data()); }

  byte_buffer in_; // grows without zero-filling: a read reserves 64 KiB each time
  std::size_t consumed_ = 0, scanned_ = 0;
  std::vector<native_handle::native_type> fds_in_;
  std::deque<native_handle> fds_;
  std::deque<inbound> inbox_;
  std::error_code rx_error_, tx_error_, closed_reason_;
  std::deque<std::unique_ptr<entry>> queue_;
  std::unique_ptr<entry> unacked_;
  bool sync_done_ = false;
  std::error_code sync_result_;
  bool sync_receiving_ = false;
  std::map<std::string, socket_list> lists_;
  struct pending_count {
    std::uint32_t id;
    std::string key;
    count_callback done;
  };
  std::deque<pending_count> counts_; // questions asked of the peer, oldest first
  std::set<std::string> keys_sent_;   // keys of sockets sent to the peer
  std::uint32_t next_count_id_ = 0;
  std::optional<receive_handler> receiver_;
  asio::cancellation_slot receive_slot_;
  bool read_waiting_ = false, write_waiting_ = false;
};

} // namespace detail

/**
 * A channel to a Node.js process (or anything speaking Node's `child_process` IPC protocol):
 * dynamic JSON values in, dynamic JSON values out, with Node's handle passing.
 *
 * The peer is either Node's parent end (`ipc::node::parent_channel` in a program Node started
 * with an `'ipc'` stdio entry) or a Node child (`ipc::spawn<ipc::node::json>(io, "node",
 * {"child.js"})`), or the other end of `pair()`.
 *
 * - Messages are `ipc::json_value`s: any JSON value, objects and arrays nested up to
 *   `max_json_depth`. Strings are WTF-8 so that lone surrogates round-trip (see
 *   `ipc::node::parse_json`). NaN and infinities cannot be sent (Node would turn them into
 *   `null`): `ipc::errc::unrepresentable_value`.
 * - Node's own messages (an object whose `cmd` is a string starting with `NODE_`) never reach
 *   the user; sending one is refused (`errc::reserved_message`), since Node would act on it.
 * - A handle travels beside a message: `send(msg, std::move(tcp_socket))`. Only TCP, UDP and
 *   local stream sockets can go (anything else is refused with `errc::unsupported_handle`; it
 *   would crash or wedge Node). One handle is in flight at a time: messages sent after it wait
 *   until the peer has acknowledged it (ACK), and a send that carries a handle completes only
 *   then. On NACK it is sent again, up to three times (`errc::handle_refused` after that). The
 *   channel's copy of the descriptor is closed after the ACK.
 * - A received `NODE_HANDLE` is acknowledged at once (or NACKed if its descriptor did not
 *   arrive, as Node does), and the message comes with a `node::handle`.
 *
 * Errors: a line that is not JSON (`ipc::errc::invalid_json`), not UTF-8
 * (`ipc::errc::invalid_utf8`), an ACK with no handle in flight (`errc::unexpected_ack`) or a
 * handle of an unknown type (`errc::unknown_handle_type`) fails that one receive; the channel
 * stays usable. A line longer than `max_message_size` (`ipc::errc::message_too_large`), a
 * partial line at end of stream (`ipc::errc::truncated_frame`), a truncated control message
 * or an OS error ends the stream: that receive and every later one report it. A peer that
 * closes between messages gives `asio::error::eof`.
 *
 * Thread safety: distinct objects safe; a shared object unsafe (use a strand). One receive at
 * a time; async sends queue and complete in order; a sync send while async sends are queued is
 * refused (`ipc::errc::send_in_progress`).
 */
template <class Executor = asio::any_io_executor>
class basic_channel {
  using core_type = detail::node_core<Executor>;

public:
  using executor_type = Executor;
  using next_layer_type = typename core_type::socket_type;

  /// A channel with no connection (`is_open()` is false).
  explicit basic_channel(const executor_type& ex, channel_options options = {})
    : core_(std::make_shared<core_type>(ex, options))
  {
  }

  /// Adopts @p socket, a connected local stream socket whose peer speaks Node's protocol.
  /// @throws std::system_error with `ipc::errc::invalid_handle` for anything else.
  basic_channel(const executor_type& ex, ipc::native_handle socket, channel_options options = {})
    : basic_channel(ex, options)
  {
    std::error_code ec;
    core_->adopt(std::move(socket), true, ec);
    if (ec) ipc::detail::throw_error(ec, "node::channel: adopt");
  }

  /// As above, reporting failure through @p ec (@p socket is then closed).
  basic_channel(const executor_type& ex, ipc::native_handle socket, std::error_code& ec,
                channel_options options = {})
    : basic_channel(ex, options)
  {
    core_->adopt(std::move(socket), true, ec);
  }

  /// For the library: adopts a socket it has just made (socketpair, close-on-exec).
  basic_channel(const executor_type& ex, ipc::native_handle socket, detail::own_socket_t,
                std::error_code& ec, channel_options options)
    : basic_channel(ex, options)
  {
    core_->adopt(std::move(socket), false, ec);
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
  ~basic_channel()
  {
    if (core_) core_->close();
  }

  /// Two connected channels (a socketpair), both speaking @p options' serialization.
  /// @throws std::system_error
  static std::pair<basic_channel, basic_channel> pair(const executor_type& ex,
                                                      channel_options options = {})
  {
    std::pair<basic_channel, basic_channel> p{basic_channel(ex, options),
                                              basic_channel(ex, options)};
    std::error_code ec;
    auto [a, b] = platform::traits::create_pair(ec);
    if (!ec) {
      ipc::native_handle ha(a), hb(b);
      p.first.core_->adopt(std::move(ha), false, ec);
      if (!ec) p.second.core_->adopt(std::move(hb), false, ec);
    }
    if (ec) ipc::detail::throw_error(ec, "node::channel::pair");
    return p;
  }

  executor_type get_executor() const noexcept { return core_->socket_.get_executor(); }
  bool is_open() const noexcept { return core_ && core_->socket_.is_open(); }
  const channel_options& options() const noexcept { return core_->options_; }
  node::serialization serialization() const noexcept { return core_->options_.serialization; }
  /// The underlying socket. Reading or writing it directly corrupts the stream.
  next_layer_type& next_layer() noexcept { return core_->socket_; }

  /// Closes the channel (Node's `disconnect()`: nothing is sent, the peer sees end of stream).
  /// Queued sends, a handle awaiting its ACK and a pending receive complete with
  /// `operation_aborted`; descriptors held are closed.
  void close() noexcept
  {
    if (core_) core_->close();
  }

  // ---- sync ---------------------------------------------------------------------------------

  /// Sends @p msg. Blocks until it is in the kernel; while the socket is full it keeps reading
  /// what the peer sends (so two peers writing large messages to each other cannot deadlock).
  /// @throws std::system_error
  void send(const json_value& msg)
  {
    std::error_code ec;
    send(msg, ec);
    if (ec) ipc::detail::throw_error(ec, "node::channel::send");
  }
  void send(const json_value& msg, std::error_code& ec) { send_impl(msg, nullptr, ec); }

  /// Sends @p msg with a handle: an Asio socket or acceptor (anything `transferable` whose
  /// descriptor is a TCP, UDP or local stream socket), a `node::handle` to choose the envelope
  /// (`type`, `key`) yourself, or an `ipc::native_handle`. The handle is consumed. Blocks until
  /// the peer has acknowledged the handle (reading, and keeping for later receives, whatever
  /// else it sends meanwhile). @throws std::system_error
  template <class H>
    requires(!std::is_lvalue_reference_v<H> && !std::same_as<std::remove_cvref_t<H>, std::error_code>)
  void send(const json_value& msg, H&& h)
  {
    std::error_code ec;
    send(msg, std::forward<H>(h), ec);
    if (ec) ipc::detail::throw_error(ec, "node::channel::send");
  }
  template <class H>
    requires(!std::is_lvalue_reference_v<H>)
  void send(const json_value& msg, H&& h, std::error_code& ec)
  {
    ipc::node::handle nh = to_handle(std::forward<H>(h), ec);
    if (ec) return;
    send_impl(msg, &nh, ec);
  }

  /// Receives the next message. Blocks until one arrives. @throws std::system_error
  message receive()
  {
    std::error_code ec;
    message m = receive(ec);
    if (ec) ipc::detail::throw_error(ec, "node::channel::receive");
    return m;
  }
  message receive(std::error_code& ec)
  {
    core_type& c = *core_;
    if (!c.socket_.is_open()) {
      ec = c.check_can_send() ? c.check_can_send() : make_error_code(ipc::errc::channel_closed);
      return {};
    }
    if (c.receiver_ || c.sync_receiving_) {
      ec = ipc::errc::receive_in_progress;
      return {};
    }
    c.sync_receiving_ = true;
    while (c.inbox_.empty() && !c.rx_error_ && c.socket_.is_open()) {
      c.read_once(true);
      flush_internal();
    }
    c.sync_receiving_ = false;
    if (!c.inbox_.empty()) {
      auto in = std::move(c.inbox_.front());
      c.inbox_.pop_front();
      ec = in.ec;
      return std::move(in.m);
    }
    ec = c.rx_error_ ? c.rx_error_ : c.check_can_send();
    return {};
  }

  // ---- async --------------------------------------------------------------------------------

  /// Queues @p msg for sending.
  ///
  /// Completion signature: `void(std::error_code)`. The message is encoded before this returns.
  /// Sends complete in order. Not cancellable (close the channel instead).
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_send(const json_value& msg, CompletionToken&& token = CompletionToken())
  {
    return async_send_impl(msg, std::nullopt, std::forward<CompletionToken>(token));
  }

  /// Queues @p msg with a handle (as `send` takes it). Completion signature:
  /// `void(std::error_code)`; it completes when the peer has acknowledged the handle (or has
  /// refused it on every try: `errc::handle_refused`). Meanwhile the channel reads from the
  /// peer by itself, keeping ordinary messages for later receives.
  template <class H, class CompletionToken = asio::default_completion_token_t<executor_type>>
    requires(!std::is_lvalue_reference_v<H> &&
             (transferable<std::remove_cvref_t<H>> || std::same_as<std::remove_cvref_t<H>, ipc::node::handle>))
  auto async_send(const json_value& msg, H&& h, CompletionToken&& token = CompletionToken())
  {
    std::error_code ec;
    ipc::node::handle nh = to_handle(std::forward<H>(h), ec);
    std::optional<ipc::node::handle> opt(std::move(nh));
    return async_send_impl(msg, std::move(opt), std::forward<CompletionToken>(token), ec);
  }

  /// Receives the next message.
  ///
  /// Completion signature: `void(std::error_code, ipc::node::message)`. One at a time (a
  /// second completes with `ipc::errc::receive_in_progress`). Cancellation (any type)
  /// completes it with `operation_aborted`; nothing is lost.
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_receive(CompletionToken&& token = CompletionToken())
  {
    return asio::async_initiate<CompletionToken, void(std::error_code, message)>(
      [](auto handler, std::shared_ptr<core_type> core) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        typename core_type::receive_handler h(std::move(handler),
                                              Executor(core->socket_.get_executor()));
        if (core->receiver_ || core->sync_receiving_) {
          h.post(ipc::errc::receive_in_progress, message{});
          return;
        }
        if (!core->socket_.is_open()) {
          auto ec = core->closed_reason_ ? core->closed_reason_ : make_error_code(ipc::errc::channel_closed);
          h.post(ec, message{});
          return;
        }
        core->receiver_.emplace(std::move(h));
        if (slot.is_connected()) {
          std::weak_ptr<core_type> weak = core;
          core->receive_slot_ = slot;
          slot.assign([weak](asio::cancellation_type) {
            if (auto c = weak.lock()) c->cancel_receive();
          });
        }
        // Data may be there already: try once before waiting.
        if (core->inbox_.empty()) core->read_once(false);
        core->run();
      },
      token, core_);
  }

private:
  friend class ipc::shared_server; // hands connections to Node workers, asks for their counts

  template <class H>
  static ipc::node::handle to_handle(H&& h, std::error_code& ec)
  {
    using T = std::remove_cvref_t<H>;
    ipc::node::handle out;
    if constexpr (std::same_as<T, ipc::node::handle>) {
      out = std::move(h);
    } else {
      static_assert(ipc::detail::check_transferable<T>());
      out.descriptor = handle_converter<T>::send(std::move(h), ec);
      if (ec) return out;
    }
    if (!out.descriptor) {
      ec = ipc::errc::invalid_handle;
      return out;
    }
    if (!out.type.empty() && !detail::known_type(out.type)) {
      ec = errc::unknown_handle_type;
      return out;
    }
    detail::classify(out, ec);
    return out;
  }

  void send_impl(const json_value& msg, ipc::node::handle* h, std::error_code& ec)
  {
    core_type& c = *core_;
    if ((ec = c.check_can_send())) return;
    if (!c.queue_.empty() || c.unacked_) {
      // Our own ACKs may be waiting; anything else queued is an async send.
      bool only_internal = !c.unacked_;
      for (auto& e : c.queue_) only_internal = only_internal && e->internal;
      if (!only_internal) {
        ec = ipc::errc::send_in_progress;
        return;
      }
    }
    auto e = std::make_unique<typename core_type::entry>();
    if ((ec = c.encode(msg, h, e->bytes))) return;
    if (h != nullptr) e->fd = std::move(h->descriptor);
    e->sync = true;
    c.sync_done_ = false;
    c.queue_.push_back(std::move(e));
    while (!c.sync_done_) {
      const bool full = c.pump();
      if (c.sync_done_) break;
      if (!c.socket_.is_open()) break;
      // Waiting for room, or for the ACK of our handle: keep reading, so the peer can finish
      // its own writes and its ACK is seen.
      int want = int(core_type::traits::readiness::readable);
      if (full) want |= int(core_type::traits::readiness::writable);
      if (c.rx_error_) {
        if (!full) {
          // No ACK can come any more.
          c.fail_queue(c.rx_error_);
          break;
        }
        want = int(core_type::traits::readiness::writable);
      }
      std::error_code wec;
      const int ready = core_type::traits::wait(c.socket_.native_handle(), want, wec);
      if (wec) {
        c.tx_error_ = wec;
        c.fail_queue(wec);
        break;
      }
      if (ready & int(core_type::traits::readiness::readable) && !c.rx_error_) c.read_once(false);
    }
    ec = c.sync_done_ ? c.sync_result_ : c.check_can_send();
    if (!ec && !c.sync_done_) ec = ipc::errc::channel_closed;
  }

  /// Writes our ACK/NACK replies now (sync receive): a Node sender is stalled until it gets one.
  void flush_internal()
  {
    core_type& c = *core_;
    if (c.receiver_ || c.read_waiting_ || c.write_waiting_) {
      c.run();
      return;
    }
    while (c.socket_.is_open() && !c.tx_error_ && !c.queue_.empty() && c.queue_.front()->internal) {
      if (!c.pump()) break;
      std::error_code wec;
      core_type::traits::wait(c.socket_.native_handle(), int(core_type::traits::readiness::writable), wec);
      if (wec) break;
    }
  }

  template <class CompletionToken>
  auto async_send_impl(const json_value& msg, std::optional<ipc::node::handle> h,
                       CompletionToken&& token, std::error_code pre = {})
  {
    auto e = std::make_unique<typename core_type::entry>();
    std::error_code ec = pre;
    if (!ec) ec = core_->encode(msg, h ? &*h : nullptr, e->bytes);
    if (!ec && h) e->fd = std::move(h->descriptor);
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
      [](auto handler, std::shared_ptr<core_type> core, std::unique_ptr<typename core_type::entry> e,
         std::error_code err) {
        e->handler = typename core_type::send_handler(std::move(handler),
                                                      Executor(core->socket_.get_executor()));
        if (!err) err = core->check_can_send();
        if (err) {
          e->handler.post(err);
          return;
        }
        core->queue_.push_back(std::move(e));
        core->run();
      },
      token, core_, std::move(e), ec);
  }

  std::shared_ptr<core_type> core_;
};

/// `basic_channel` on the polymorphic executor.
using channel = basic_channel<>;

} // namespace node
IPC_END_NAMESPACE

#endif // IPC_NODE_CHANNEL_HPP
