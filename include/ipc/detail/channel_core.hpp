// ipc/detail/channel_core.hpp - the state a channel shares with its outstanding operations.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_DETAIL_CHANNEL_CORE_HPP
#define IPC_DETAIL_CHANNEL_CORE_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/detail/frame_reader.hpp"
#include "ipc/detail/handle_receipt.hpp"
#include "ipc/detail/pending_handler.hpp"
#include "ipc/error.hpp"
#include "ipc/frame.hpp"
#include "ipc/handle_kind.hpp"
#include "ipc/message.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/platform/traits.hpp"

#include <asio/cancellation_signal.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>

#include <cstring>

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE

/// Per-channel limits. The receiver enforces them on every frame header before it reads or
/// allocates anything more; the sender refuses to send what it would refuse to receive.
struct channel_options {
  /// Largest payload accepted or sent, in bytes (at most 4 GiB - 1, the wire's limit).
  std::size_t max_message_size = 64u << 20;
  /// Most handles accepted or sent with one message (at most 253, the kernel's SCM_MAX_FD).
  std::size_t max_handles = 64;
  /// Most handles sent and not yet acknowledged by the peer. The sender keeps its copy of each
  /// until the ACK (or NACK) comes, so this bounds the descriptors a slow or stalled peer makes
  /// it hold; a send beyond it fails with `errc::too_many_unacknowledged_handles`.
  std::size_t max_unacknowledged_handles = 1024;
};

/// Handle acknowledgements seen by one channel end, as a sender.
struct ack_counts {
  /// Handles sent whose message the peer has not yet ACKed or NACKed (the sender still holds
  /// its copies of them).
  std::size_t unacknowledged = 0;
  /// Messages with handles the peer ACKed (took every handle).
  std::uint64_t acknowledged = 0;
  /// Messages with handles the peer NACKed (refused or dropped at least one handle).
  std::uint64_t refused = 0;
};

namespace detail {

/// A handle on its way out: the descriptor to transmit, its converter's wire name, and the
/// platform blob its table entry reserves (`traits::handle_blob_size` of its kind: none on
/// POSIX), found once when the message is queued.
struct outgoing_handle {
  native_handle handle;
  std::string_view type_name;
  std::size_t blob_size = 0;

  void set(native_handle h, std::string_view name, handle_kind kind) noexcept
  {
    handle = std::move(h);
    type_name = name;
    blob_size = handle ? platform::traits::handle_blob_size(kind, handle.get()) : 0;
  }
};

/// Lives behind a shared_ptr so that a channel can be moved, and destroyed, while operations are
/// outstanding: each operation keeps the core alive until it completes.
template <class Serializer, class Executor>
class channel_core final : public std::enable_shared_from_this<channel_core<Serializer, Executor>>,
                     public connection_peer {
public:
  using traits = platform::traits;
  using socket_type = traits::stream<Executor>;
  using handler_type = pending_handler<Executor, std::error_code>;

  channel_core(const Executor& ex, const channel_options& options, Serializer serializer)
    : socket_(ex), options_(clamp(options)),
      reader_(frame_limits{options_.max_message_size, options_.max_handles}),
      serializer_(std::move(serializer))
  {
  }

  /// Adopts @p h, which must be a connected local stream socket.
  void adopt(native_handle h, std::error_code& ec)
  {
    traits::check_channel_handle(h.get(), ec);
    if (ec) return;
    adopt_own(std::move(h), ec);
  }

  /// Adopts @p h, a channel end that moved here from another process (see `moved_here`): the
  /// peer has been numbering its frames all along, and learns of the move from the first frame
  /// this end sends (queued now, sent with the first operation).
  void adopt_moved(native_handle h, std::error_code& ec)
  {
    adopt(std::move(h), ec);
    if (ec) return;
    reader_.accept_any_sequence();
    append_moved_here(0);
    announce_ = announce::unsent;
  }

  /// Adopts a socket this library has just created (socketpair, accept4, connect), already
  /// close-on-exec: the checks `adopt` makes would only cost syscalls per connection.
  void adopt_own(native_handle h, std::error_code& ec)
  {
    socket_.assign(typename traits::protocol(), h.get(), ec);
    if (!ec) (void)h.release();
  }

  // ---- sending ------------------------------------------------------------------------------

  /// Size of the header plus handle table for @p handles (with connection key @p key, if any).
  static std::size_t head_size(std::span<const outgoing_handle> handles,
                               std::string_view key = {}) noexcept
  {
    std::size_t n = frame_header_size + (key.empty() ? 0 : 1 + key.size());
    for (const auto& h : handles) n += handle_entry_size(h.type_name, h.blob_size);
    return n;
  }

  /// Checks the limits and writes header + handle table at @p out (`head_size` bytes). The
  /// sequence number is left 0: `stamp` sets it when the frame's first byte is written, so that
  /// a queued frame withdrawn by cancellation leaves no gap.
  ///
  /// A non-empty @p key makes the frame keyed: its handles are connections of the server with
  /// that key, and the receiver counts them while it holds them.
  std::error_code write_head(std::byte* out, frame_kind kind, std::size_t payload_size,
                             std::span<const outgoing_handle> handles, std::string_view key = {})
  {
    if (payload_size > options_.max_message_size) return errc::message_too_large;
    if (handles.size() > options_.max_handles) return errc::too_many_handles;
    if (key.size() > max_connection_key || (!key.empty() && handles.empty()))
      return errc::unrepresentable_value;
    std::error_code ec;
    std::byte* p = out + frame_header_size;
    if (!key.empty()) p = write_connection_key(p, key);
    // Each entry reserves the platform's blob for its kind of handle (none on POSIX); the
    // transport fills it in as the frame's first byte is written (Windows: the handle's value
    // in the peer's process, or a socket's protocol info).
    static constexpr std::byte no_blob[traits::max_handle_blob + 1] = {};
    for (const auto& h : handles) {
      p = write_handle_entry(p, h.type_name, {no_blob, h.blob_size}, ec);
      if (ec) return ec;
    }
    frame_header header;
    header.payload_size = static_cast<std::uint32_t>(payload_size);
    header.sequence = 0;
    header.handle_count = static_cast<std::uint16_t>(handles.size());
    header.kind = kind;
    header.flags = key.empty() ? 0 : frame_flag_keyed;
    header.table_size = static_cast<std::uint32_t>(p - out - frame_header_size);
    encode_frame_header(header, out);
    return {};
  }

  std::error_code check_can_send() const noexcept
  {
    if (!socket_.is_open()) return errc::channel_closed;
    if (send_failed_) return send_failed_;
    return {};
  }

  /// Sync send of one frame: header + table from `head_`, payload from the caller's memory,
  /// in one sendmsg where the kernel takes it all (with any pending ACK/NACK frames in front
  /// of it). The handles are kept (in flight) until the peer acknowledges them.
  void send_frame(frame_kind kind, std::span<const std::byte> payload,
                  std::span<outgoing_handle> handles, std::error_code& ec,
                  std::string_view key = {})
  {
    if ((ec = check_can_send())) return;
    // The write loop may be running for internal frames alone (verdicts an async receive sent
    // and the socket did not take whole): this send finishes them, at their frame boundary.
    if (!queue_.empty()) {
      ec = errc::send_in_progress;
      return;
    }
    if ((ec = reserve_handles(handles.size()))) return;
    head_.resize(head_size(handles, key));
    if ((ec = write_head(head_.data(), kind, payload.size(), handles, key))) return;
    fds_.clear();
    for (const auto& h : handles) fds_.push_back(h.handle.get());
    encode_verdicts();

    const auto fd = socket_.native_handle();
    const std::size_t total = head_.size() + payload.size();
    std::size_t done = 0;
    bool drain = true;
    stamp(head_.data());
    while (done < total) {
      // Pending internal frames go first; descriptors must ride on the frame's own first byte,
      // so a frame with handles is not gathered behind them.
      asio::const_buffer bufs[3];
      std::size_t n_bufs = 0;
      const std::size_t prefix = internal_out_.size() - internal_done_;
      if (prefix != 0) bufs[n_bufs++] = asio::const_buffer(internal_out_.data() + internal_done_, prefix);
      if (prefix == 0 || fds_.empty()) n_bufs += remaining(head_.span(), payload, done, bufs + n_bufs);
      const bool attach = prefix == 0 && done == 0;
      const std::size_t n = traits::send_some(fd, {bufs, n_bufs},
                                              attach ? std::span<const native_handle::native_type>(fds_)
                                                     : std::span<const native_handle::native_type>(),
                                              /*nonblocking=*/true, ec);
      if (ec == asio::error::would_block) {
        // Both peers may be blocked writing large messages to each other. While waiting for
        // room, take in what the peer sends (bounded), so its write can finish and it can
        // read ours: no deadlock between two sync senders, whether or not either has an async
        // receive waiting (which is woken: the bytes it waits for are in the spill now).
        drain = drain && spill_.size() < drain_limit();
        int want = int(traits::readiness::writable) | (drain ? int(traits::readiness::readable) : 0);
        const int ready = traits::wait(fd, want, ec);
        if (ec) break;
        if (drain && (ready & int(traits::readiness::readable)) &&
            !(ready & int(traits::readiness::writable))) {
          drain = drain_once();
          wake_receive();
        }
        continue;
      }
      if (ec) break;
      const std::size_t own = n > prefix ? n - prefix : 0;
      internal_written(n - own);
      if (done == 0 && own > 0) {
        ++next_sequence_;
        keep_in_flight(handles);
      }
      done += own;
    }
    if (ec) fail_send(ec);
  }

  /// Queues an encoded frame (`entry->bytes`, header already written) for the async writer.
  struct send_entry {
    byte_buffer bytes;
    std::size_t offset = 0;
    std::vector<native_handle> handles;
    handler_type handler;
    asio::cancellation_slot slot;
    std::uint64_t id = 0;
  };

  std::unique_ptr<send_entry> make_entry()
  {
    auto e = std::make_unique<send_entry>();
    if (!spare_.empty()) {
      e->bytes = std::move(spare_.back());
      spare_.pop_back();
      e->bytes.clear();
    }
    e->id = ++next_entry_id_;
    return e;
  }

  /// Starts (or joins) the write loop; called from an initiating function, so completions that
  /// happen right away are posted, never run inline.
  void start_send(std::unique_ptr<send_entry> e)
  {
    std::error_code ec = check_can_send();
    if (!ec) ec = reserve_handles(e->handles.size());
    if (ec) {
      e->handler.post(ec);
      return;
    }
    if (e->slot.is_connected()) {
      std::weak_ptr<channel_core> weak = this->shared_from_this();
      e->slot.template emplace<send_canceller>(send_canceller{weak, e->id});
    }
    queue_.push_back(std::move(e));
    if (!writing_) pump(true);
  }

  // ---- receiving ----------------------------------------------------------------------------

  /// Produces the next user frame. Returns false only when @p blocking is false and no frame is
  /// complete yet (the caller waits for readability and calls again). Otherwise returns true
  /// with either a frame or @p ec set.
  ///
  /// Without @p speculate, a socket that the last read found drained is not read again before
  /// the caller has waited for readability: in request/response traffic the reply is rarely
  /// there yet, and the failed `recvmsg` would cost a syscall per message.
  bool receive_frame(incoming_frame& f, std::error_code& ec, bool blocking, bool speculate = true)
  {
    if (!socket_.is_open()) {
      ec = closed_reason_ ? closed_reason_ : make_error_code(errc::channel_closed);
      return true;
    }
    if (receive_failed_) {
      ec = receive_failed_;
      return true;
    }
    const auto fd = socket_.native_handle();
    views_pinned_ = false; // a new receive: views of the last message may be invalidated
    // A receiver that never has to wait still acknowledges, in batches.
    if (outbox_ && outbox_->count() >= ack_batch) flush_verdicts(/*may_wait=*/!blocking);
    for (;;) {
      if (reader_.next(f, ec)) {
        if (f.header.kind == frame_kind::message) return true;
        ec = on_internal(f);
        if (!ec) continue;
      }
      if (ec) {
        fail(ec);
        return true;
      }
      if (replay_spill()) continue;
      if (spill_error_) {
        fail(std::exchange(spill_error_, {}));
        ec = receive_failed_;
        return true;
      }
      if (!blocking && !speculate && drained_) return false;
      const std::span<std::byte> space = reader_.prepare();
      fds_in_.clear();
      std::size_t n = 0;
      if (!stream_ended_) {
        n = traits::receive_some(fd, space, fds_in_, options_.max_handles, !blocking, ec);
        // A read that brought descriptors stops at that message's end: it says nothing about
        // whether more is waiting, so it does not count as draining the socket.
        drained_ = n < space.size() && fds_in_.empty();
      }
      if (ec == asio::error::would_block) {
        if (!blocking) return false;
        // About to wait for the peer: let it have the verdicts on what it sent first.
        flush_verdicts(/*may_wait=*/false);
        traits::wait(fd, int(traits::readiness::readable), ec);
        if (ec) {
          receive_failed_ = ec;
          return true;
        }
        continue;
      }
      if (ec == std::errc::connection_reset) {
        // The peer went away with our data unread: the same as end of stream for us.
        ec.clear();
        n = 0;
      }
      if (ec == errc::handles_truncated) {
        fail(ec);
        return true;
      }
      if (ec) {
        receive_failed_ = ec;
        return true;
      }
      if (n == 0) {
        ec = reader_.mid_frame() ? make_error_code(errc::truncated_frame)
                                 : std::error_code(asio::error::eof);
        receive_failed_ = ec;
        reader_.clear();
        peer_gone();
        return true;
      }
      reader_.commit(n, fds_in_);
    }
  }

  /// Before an async receive waits for the socket: sends pending verdicts (this runs on the
  /// channel's executor, so a write that has to wait may continue asynchronously).
  void before_async_wait() { flush_verdicts(/*may_wait=*/true); }

  /// Decodes @p f into a message of @p T. A payload that does not decode loses that message
  /// (its handles are closed) but leaves the channel usable.
  template <class T>
  message<T> deliver(incoming_frame& f, std::error_code& ec)
  {
    message<T> m;
    views_pinned_ = true;
    ec = serializer_.decode(f.payload, m.value);
    if (f.handles.empty()) {
      if (!ec) m.assign(f.header.sequence, {}, {});
      return m;
    }
    if (!outbox_) outbox_ = std::make_shared<ack_outbox>();
    if (ec) {
      f.handles.clear();
      outbox_->post(f.header.sequence, false); // refused with the message
      return m;
    }
    std::vector<received_handle> handles;
    handles.reserve(f.handles.size());
    std::size_t i = 0;
    (void)decode_handle_table(f.entries, f.handles.size(), [&](const handle_entry& e) {
      native_handle& h = f.handles[i++];
      const std::error_code lost = h ? std::error_code() : make_error_code(errc::handle_misdirected);
      handles.push_back(received_handle{std::string(e.type_name), std::move(h), lost});
    });
    const std::size_t count = handles.size();
    m.assign(f.header.sequence, std::move(handles),
             handle_receipt(outbox_, f.header.sequence, count, std::string(f.key)));
    return m;
  }

  /// Gives up the socket (for sending the channel itself over another channel). Refused while
  /// anything is in flight or buffered, since that would be lost with the socket.
  native_handle release(std::error_code& ec)
  {
    if (!socket_.is_open()) {
      ec = errc::channel_closed;
      return {};
    }
    // An end that moved here and goes on unused: its announcement is the next holder's to make.
    if (announce_ == announce::unsent &&
        internal_out_.size() == frame_header_size + moved_here_size) {
      internal_out_.clear();
      announce_ = announce::none;
    }
    flush_verdicts(/*may_wait=*/false);
    if (writing_ || !queue_.empty() || receiving_ || reader_.buffered() != 0 ||
        !spill_chunks_.empty() || !in_flight_.empty() || internal_waiting() ||
        !pending_queries_.empty()) {
      ec = errc::channel_not_idle;
      return {};
    }
    native_handle h(socket_.release(ec));
    if (ec) return {};
    close();
    return h;
  }

  // ---- closing ------------------------------------------------------------------------------

  /// Closes the socket, aborts queued sends and drops buffered input (closing any descriptors
  /// that arrived but were not handed out).
  void close(std::error_code reason = {})
  {
    std::error_code ignored;
    // Verdicts still owed to the peer leave now if they can without waiting (a small frame is
    // taken whole or not at all by a local stream socket).
    if (socket_.is_open() && !reason && !send_failed_) flush_verdicts(/*may_wait=*/false);
    if (socket_.is_open()) socket_.close(ignored);
    in_flight_.clear();
    end_queries();
    closed_reason_ = reason;
    reader_.clear();
    spill_chunks_.clear();
    spill_.clear();
    spilled_handles_ = 0;
    fail_queue(reason ? reason : make_error_code(asio::error::operation_aborted));
  }

  ack_counts acknowledgements() const noexcept
  {
    ack_counts c = counts_;
    c.unacknowledged = in_flight_.size();
    return c;
  }

  // ---- connection counts (ipc::shared_server) -----------------------------------------------

  /// Asks the peer how many connections of server @p key it holds. @p done runs on the
  /// channel's executor (never inside this call) with the count; with 0 if the peer is gone or
  /// goes before answering, or the channel is closed. Returns the query's id (0 if it is
  /// already answered) for `cancel_count`. Runs on the channel's executor.
  ///
  /// The answer is read wherever this channel is read: by the user's receive if one is
  /// outstanding, otherwise by this query itself, as far as the next user message (which stays
  /// buffered for the user; answers behind it wait for the user to receive it).
  std::uint32_t count_connections(std::string_view key, count_callback done) override
  {
    if (!socket_.is_open() || send_failed_ || receive_failed_ || stream_ended_ ||
        key.size() > max_connection_key) {
      const std::error_code ec =
        key.size() > max_connection_key ? make_error_code(errc::unrepresentable_value) : std::error_code();
      asio::post(socket_.get_executor(), [done = std::move(done), ec] { done(ec, 0); });
      return 0;
    }
    if (++next_query_id_ == 0) ++next_query_id_;
    const std::uint32_t id = next_query_id_;
    pending_queries_.push_back({id, std::move(done)});
    queries_out_.emplace_back(id, std::string(key));
    flush_verdicts(/*may_wait=*/true);
    watch_peer();
    return id;
  }

  /// Forgets query @p id (its callback is not called).
  void cancel_count(std::uint32_t id) noexcept override
  {
    for (auto it = pending_queries_.begin(); it != pending_queries_.end(); ++it)
      if (it->id == id) {
        pending_queries_.erase(it);
        return;
      }
  }

  /// False once the peer can no longer be asked anything.
  bool reachable() const noexcept override
  {
    return socket_.is_open() && !send_failed_ && !receive_failed_ && !stream_ended_;
  }

  /// While no receive is outstanding, reads what the peer sends ahead of its next user message
  /// for as long as there is something to wait for: answers to connection counts, and verdicts
  /// on keyed connections (the sender's copy keeps a connection open until its ACK is read, so
  /// a worker's close must not wait for the parent's next receive to be seen by the client).
  /// Called when either starts and when a receive ends.
  void watch_peer()
  {
    if (watching_ || receiving_ || !socket_.is_open() || !has_reason_to_watch()) return;
    watching_ = true;
    socket_.async_wait(socket_type::wait_read, [self = this->shared_from_this()](std::error_code ec) {
      self->watching_ = false;
      if (ec || !self->has_reason_to_watch()) return;
      self->collect_verdicts();
      if (!self->reader_.message_at_head()) self->watch_peer();
    });
  }

  /// Keyed sends (shared_server) ask for their verdicts to be read as they come.
  void watch_verdicts() noexcept { watch_keyed_ = true; }

  /// An async receive waits for the socket with this signal's slot (the receive forwards its
  /// own cancellation into it). A blocked sync send that took the peer's bytes into the spill
  /// emits it: those bytes will not make the socket readable again, so the receive must look.
  asio::cancellation_signal receive_wait_signal_;
  bool receive_woken_ = false; // the receive's wait was ended by wake_receive, not cancelled

  socket_type socket_;
  channel_options options_;
  bool drained_ = false; // the last read left nothing behind in the socket
  frame_reader reader_;
  Serializer serializer_;
  byte_buffer scratch_; // serializer output for sync sends
  bool receiving_ = false;

private:
  struct send_canceller {
    std::weak_ptr<channel_core> core;
    std::uint64_t id;
    void operator()(asio::cancellation_type) const
    {
      if (auto c = core.lock()) c->cancel_send(id);
    }
  };

  static channel_options clamp(channel_options o) noexcept
  {
    if (o.max_message_size > std::numeric_limits<std::uint32_t>::max())
      o.max_message_size = std::numeric_limits<std::uint32_t>::max();
    if (o.max_handles > traits::max_handles_per_message)
      o.max_handles = traits::max_handles_per_message;
    return o;
  }

  /// Writes the next sequence number into a frame about to be written (taken for good once any
  /// of its bytes are out).
  void stamp(std::byte* frame) noexcept { detail::store_u32(frame + 8, next_sequence_); }

  /// Ends the wait of an outstanding async receive (at most once per wait), so that it takes
  /// the spilled bytes in (see `receive_wait_signal_`).
  void wake_receive()
  {
    if (!receiving_ || receive_woken_) return;
    receive_woken_ = true;
    receive_wait_signal_.emit(asio::cancellation_type::total);
  }

  /// How much a blocked sync sender buffers from its peer before it stops reading.
  std::size_t drain_limit() const noexcept
  {
    return options_.max_message_size + frame_header_size +
           options_.max_handles * max_handle_entry_size + frame_reader::read_chunk;
  }

  /// Reads once from the peer into the spill buffer (not the receive buffer: views the user
  /// holds of earlier messages, or the very payload being sent, point into that). Returns false
  /// when draining should stop for this send: end of stream or an error, which the next
  /// receive finds again (or in `spill_error_`).
  bool drain_once()
  {
    if (spilled_handles_ >= max_spilled_handles) return false; // bounded: see below
    std::error_code ec;
    fds_in_.clear();
    const std::size_t at = spill_.size();
    std::byte* p = spill_.extend(frame_reader::read_chunk);
    const std::size_t n = traits::receive_some(socket_.native_handle(),
                                               {p, frame_reader::read_chunk}, fds_in_,
                                               options_.max_handles, true, ec);
    spill_.resize(at + n);
    if (ec == asio::error::would_block) return true;
    if (ec || n == 0) {
      if (ec == errc::handles_truncated) spill_error_ = ec;
      return false;
    }
    spill_chunk c{at, n, {}};
    spilled_handles_ += fds_in_.size();
    c.handles.swap(fds_in_);
    spill_chunks_.push_back(std::move(c));
    return true;
  }

  /// Moves one drained chunk into the frame reader, as if it had just been read. A chunk goes
  /// in whole (it is at most `read_chunk` bytes, which `prepare(false)` always has room for), so
  /// its descriptors keep the stream range they arrived with.
  bool replay_spill()
  {
    if (spill_chunks_.empty()) return false;
    spill_chunk& c = spill_chunks_.front();
    const std::span<std::byte> space = reader_.prepare(false);
    IPC_ASSERT(space.size() >= c.size);
    std::memcpy(space.data(), spill_.data() + c.offset, c.size);
    reader_.commit(c.size, c.handles);
    spill_chunks_.pop_front();
    if (spill_chunks_.empty()) {
      spill_.clear();
      spilled_handles_ = 0;
    }
    return true;
  }

  /// The buffers still to be written after @p done bytes of head + payload.
  static std::size_t remaining(std::span<const std::byte> head, std::span<const std::byte> payload,
                               std::size_t done, asio::const_buffer* out) noexcept
  {
    std::size_t n = 0;
    if (done < head.size()) {
      out[n++] = asio::const_buffer(head.data() + done, head.size() - done);
      done = 0;
    } else {
      done -= head.size();
    }
    if (done < payload.size()) out[n++] = asio::const_buffer(payload.data() + done, payload.size() - done);
    return n;
  }

  /// The async write loop: writes queued frames in order until the socket is full (then waits
  /// for it to drain) or the queue is empty.
  void pump(bool initiating)
  {
    writing_ = true;
    const auto fd = socket_.native_handle();
    for (;;) {
      if (!socket_.is_open()) break;
      if (queue_.empty() || queue_.front()->offset == 0) encode_verdicts();
      if (internal_done_ != internal_out_.size()) {
        // Internal frames are written at frame boundaries only, ahead of the next queued frame.
        std::error_code ec;
        const asio::const_buffer buf(internal_out_.data() + internal_done_,
                                     internal_out_.size() - internal_done_);
        const std::size_t n = traits::send_some(fd, {&buf, 1}, {}, true, ec);
        if (ec == asio::error::would_block) return wait_writable();
        if (ec) return abort_writes(ec);
        internal_written(n);
        continue;
      }
      if (queue_.empty()) break;
      send_entry& e = *queue_.front();
      fds_.clear();
      if (e.offset == 0)
        for (const auto& h : e.handles) fds_.push_back(h.get());
      std::error_code ec;
      if (e.offset == 0) stamp(e.bytes.data());
      const asio::const_buffer buf(e.bytes.data() + e.offset, e.bytes.size() - e.offset);
      const std::size_t n = traits::send_some(fd, {&buf, 1}, fds_, true, ec);
      if (ec == asio::error::would_block) return wait_writable();
      if (ec) return abort_writes(ec);
      if (n > 0 && e.offset == 0) {
        ++next_sequence_;
        keep_in_flight(e.handles);
      }
      e.offset += n;
      if (e.offset == e.bytes.size()) {
        std::unique_ptr<send_entry> done = std::move(queue_.front());
        queue_.pop_front();
        finish(std::move(done), {}, initiating);
      }
    }
    writing_ = false;
  }

  /// The write loop stops until the socket has room (`writing_` stays set).
  void wait_writable()
  {
    socket_.async_wait(socket_type::wait_write,
                       [self = this->shared_from_this()](std::error_code wec) {
                         self->on_writable(wec);
                       });
  }

  void abort_writes(std::error_code ec)
  {
    fail_send(ec);
    writing_ = false;
    fail_queue(ec);
  }

  void on_writable(std::error_code ec)
  {
    if (ec || !socket_.is_open()) {
      writing_ = false;
      if (ec && ec != asio::error::operation_aborted) fail_send(ec);
      fail_queue(ec ? ec : make_error_code(asio::error::operation_aborted));
      return;
    }
    pump(false);
  }

  void finish(std::unique_ptr<send_entry> e, std::error_code ec, bool defer)
  {
    e->slot.clear();
    handler_type h = std::move(e->handler);
    if (e->bytes.capacity() <= (1u << 20) && spare_.size() < 4) spare_.push_back(std::move(e->bytes));
    e.reset(); // closes handles that were never sent
    if (defer) h.post(ec);
    else h.dispatch(ec);
  }

  void fail_queue(std::error_code ec)
  {
    auto q = std::move(queue_);
    queue_.clear();
    for (auto& e : q) finish(std::move(e), ec, true);
  }

  /// Per-operation cancellation of a queued send: only a frame none of whose bytes have left
  /// can be withdrawn; one that is partly written finishes, or the stream would be corrupt.
  void cancel_send(std::uint64_t id)
  {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if ((*it)->id != id) continue;
      if ((*it)->offset != 0) return;
      std::unique_ptr<send_entry> e = std::move(*it);
      queue_.erase(it);
      finish(std::move(e), asio::error::operation_aborted, true);
      return;
    }
  }

  /// A broken stream from a misbehaving peer: nothing after this point can be trusted, so the
  /// channel closes; every later operation reports @p ec.
  void fail(std::error_code ec)
  {
    receive_failed_ = ec;
    send_failed_ = ec;
    close(ec);
  }

  // ---- acknowledgements --------------------------------------------------------------------

  /// Handles of frames written and not yet acknowledged: the sender's copies, kept until the
  /// peer's ACK / NACK names the frame's sequence number.
  struct in_flight_handle {
    std::uint32_t sequence;
    native_handle handle;
  };

  /// The frame just started (its sequence is `next_sequence_ - 1`) carried @p handles.
  void keep_in_flight(std::span<outgoing_handle> handles)
  {
    for (auto& h : handles) in_flight_.push_back({next_sequence_ - 1, std::move(h.handle)});
    if (watch_keyed_ && !handles.empty()) watch_peer();
  }
  void keep_in_flight(std::vector<native_handle>& handles)
  {
    for (auto& h : handles) in_flight_.push_back({next_sequence_ - 1, std::move(h)});
    if (watch_keyed_ && !handles.empty()) watch_peer();
    handles.clear();
  }

  /// Room for @p n more unacknowledged handles. Verdicts the peer already sent are collected
  /// now and then (every `ack_batch` handles), so that a sender that never receives still
  /// learns of them; past `max_unacknowledged_handles` the send is refused.
  std::error_code reserve_handles(std::size_t n)
  {
    if (n == 0) return {};
    if (in_flight_.size() + n > options_.max_unacknowledged_handles || in_flight_.size() >= collect_at_) {
      collect_verdicts();
      collect_at_ = in_flight_.size() + ack_batch;
    }
    if (in_flight_.size() + n > options_.max_unacknowledged_handles)
      return errc::too_many_unacknowledged_handles;
    return {};
  }

  /// Applies an internal frame from the peer; an error breaks the channel.
  std::error_code on_internal(const incoming_frame& f)
  {
    if (f.header.kind == frame_kind::internal) return on_connection_frame(f);
    if (f.header.kind != frame_kind::ack && f.header.kind != frame_kind::nack)
      return errc::malformed_frame;
    if (f.header.handle_count != 0 || f.payload.empty() || f.payload.size() % 4 != 0)
      return errc::malformed_frame;
    const bool adopted = f.header.kind == frame_kind::ack;
    for (std::size_t i = 0; i < f.payload.size(); i += 4) {
      const std::uint32_t seq = load_u32(f.payload.data() + i);
      auto first = in_flight_.begin();
      while (first != in_flight_.end() && first->sequence != seq) ++first;
      if (first == in_flight_.end()) return errc::malformed_frame; // names nothing we sent
      auto last = first;
      while (last != in_flight_.end() && last->sequence == seq) ++last;
      in_flight_.erase(first, last); // the sender's copies close here
      ++(adopted ? counts_.acknowledged : counts_.refused);
    }
    if (collect_at_ > in_flight_.size() + ack_batch) collect_at_ = in_flight_.size() + ack_batch;
    return {};
  }

  /// Reads what the peer has sent, without waiting, and applies its internal frames: those
  /// ahead of its next user message, and those behind a user message not received yet (so
  /// that a peer's message does not hold up the verdicts it sent after it). Reading behind a
  /// message stops at about one maximum-size message buffered, or when descriptors of two
  /// frames are waiting to be claimed. Views the user holds of the last message stay valid:
  /// while they may be held, reads only go to free space after the buffered bytes.
  ///
  /// Not while a receive is outstanding: it reads (and applies verdicts) itself, and waits for
  /// the socket to become readable, so bytes taken from under it would leave it waiting.
  void collect_verdicts()
  {
    if (!socket_.is_open() || receive_failed_ || receiving_) return;
    const auto fd = socket_.native_handle();
    for (;;) {
      incoming_frame f;
      std::error_code ec;
      while (reader_.next(f, ec, /*internal_only=*/true)) {
        if ((ec = on_internal(f))) break;
      }
      if (ec) {
        fail(ec);
        return;
      }
      if (reader_.message_at_head()) {
        if ((ec = reader_.apply_ahead([this](const incoming_frame& g) { return on_internal(g); }))) {
          fail(ec);
          return;
        }
        if (reader_.buffered() >= drain_limit() || reader_.unclaimed_batches() >= 2) return;
      }
      if (stream_ended_) return;
      if (!spill_chunks_.empty()) {
        if (views_pinned_ && reader_.prepare_in_place().size() < spill_chunks_.front().size) return;
        replay_spill();
        continue;
      }
      const std::span<std::byte> space = views_pinned_ ? reader_.prepare_in_place() : reader_.prepare();
      if (space.size() < frame_header_size) return;
      fds_in_.clear();
      const std::size_t n = traits::receive_some(fd, space, fds_in_, options_.max_handles, true, ec);
      if (ec == asio::error::would_block) return;
      if (ec == errc::handles_truncated) {
        fail(ec);
        return;
      }
      if (ec || n == 0) {
        // The peer is gone (or the socket broke): no verdict will come. The receive path
        // reports it once the frames already buffered have been delivered.
        stream_ended_ = true;
        peer_gone();
        return;
      }
      reader_.commit(n, fds_in_);
    }
  }

  /// The peer can no longer acknowledge anything: its unread descriptors were released by the
  /// kernel with its socket, so the sender's copies are closed too. Nor can it answer: it
  /// holds no connections any more.
  void peer_gone()
  {
    in_flight_.clear();
    end_queries();
  }

  // Internal frames of kind `internal` carry `u8 op, u32 id` and then:
  //   count_connections: the server key (the rest of the payload, at most 255 bytes);
  //   connection_count:  u32 count, the answer to the question with that id;
  //   moved_here:        u32 the pid of the process that now holds the sender's end. The
  //                      first frame of a channel end that moved to another process, numbered
  //                      1 (the reader restarts its count there); id 0, or 1 for the answer.
  enum class internal_op : std::uint8_t { count_connections = 1, connection_count = 2, moved_here = 3 };
  static constexpr std::size_t moved_here_size = 9; // u8 op, u32 id, u32 pid
  /// Answers owed to a peer that keeps asking without reading them are bounded; beyond this a
  /// question is not answered (the asker times out).
  static constexpr std::size_t max_owed_answers = 1024;

  std::error_code on_connection_frame(const incoming_frame& f)
  {
    if (f.header.handle_count != 0 || f.payload.size() < 5) return errc::malformed_frame;
    const auto op = static_cast<internal_op>(std::to_integer<std::uint8_t>(f.payload[0]));
    const std::uint32_t id = load_u32(f.payload.data() + 1);
    if (op == internal_op::count_connections) {
      const std::span<const std::byte> key = f.payload.subspan(5);
      if (key.size() > max_connection_key) return errc::malformed_frame;
      if (answers_out_.size() + owed_later_ >= max_owed_answers) return {};
      const std::string_view k(reinterpret_cast<const char*>(key.data()), key.size());
      auto down = process_connections::get().downstream(k, this);
      if (down.empty()) {
        answer(id, process_connections::get().count(k));
        // Answered now if the socket takes it, else before this end next waits or with its
        // next send: without any user code.
        flush_verdicts(/*may_wait=*/false);
        return {};
      }
      // Some connections of this key went on to other processes: they are still this
      // worker's to count. Ask those first; questions that come meanwhile share the answer.
      auto [it, fresh] = gathering_.try_emplace(std::string(k));
      it->second.ids.push_back(id);
      ++owed_later_;
      if (!fresh) return {};
      it->second.waiting = down.size();
      for (auto& p : down)
        p->count_connections(k, [weak = this->weak_from_this(), key = it->first](std::error_code, std::size_t n) {
          // The other channel may run elsewhere: continue on this one's executor.
          if (auto self = weak.lock())
            asio::post(self->socket_.get_executor(),
                       [self, key, n] { self->downstream_answered(key, n); });
        });
      return {};
    }
    if (op == internal_op::moved_here) {
      if (f.payload.size() != moved_here_size || id > 1) return errc::malformed_frame;
      traits::peer_moved(socket_.native_handle(), load_u32(f.payload.data() + 5));
      if (id == 0) { // tell the end that moved whom it talks to
        announce_ = announce::reply;
        flush_verdicts(/*may_wait=*/false);
      }
      return {};
    }
    if (op == internal_op::connection_count) {
      if (f.payload.size() != 9) return errc::malformed_frame;
      const std::uint32_t n = load_u32(f.payload.data() + 5);
      for (auto it = pending_queries_.begin(); it != pending_queries_.end(); ++it) {
        if (it->id != id) continue;
        count_callback done = std::move(it->done);
        pending_queries_.erase(it);
        asio::post(socket_.get_executor(), [done = std::move(done), n] { done({}, n); });
        break;
      }
      return {}; // an answer to a query given up on (timed out) is no error
    }
    return errc::malformed_frame;
  }

  void answer(std::uint32_t id, std::size_t n)
  {
    answers_out_.emplace_back(id, static_cast<std::uint32_t>(
                                    std::min<std::size_t>(n, std::numeric_limits<std::uint32_t>::max())));
  }

  /// A process this worker passed connections of @p key on to has answered (0 if it is gone).
  void downstream_answered(const std::string& key, std::size_t n)
  {
    auto it = gathering_.find(key);
    if (it == gathering_.end()) return;
    it->second.sum += n;
    if (--it->second.waiting != 0) return;
    // Counted here last: a connection the other process acknowledged is no longer here.
    const std::size_t total = process_connections::get().count(key) + it->second.sum;
    for (std::uint32_t id : it->second.ids) answer(id, total);
    owed_later_ -= it->second.ids.size();
    gathering_.erase(it);
    flush_verdicts(/*may_wait=*/true); // on the executor: a posted answer
  }

  /// Every query still waiting is answered: 0 connections (the peer is gone, or unreachable).
  void end_queries()
  {
    queries_out_.clear();
    answer_all_with_zero(pending_queries_, socket_.get_executor());
  }

  bool has_reason_to_watch() const noexcept
  {
    return !pending_queries_.empty() || (watch_keyed_ && !in_flight_.empty());
  }

  bool internal_waiting() const noexcept
  {
    return internal_done_ != internal_out_.size() || (outbox_ && outbox_->pending()) ||
           !queries_out_.empty() || !answers_out_.empty() || announce_ == announce::reply;
  }

  void fail_send(std::error_code ec)
  {
    send_failed_ = ec;
    peer_gone();
  }

  /// Turns the verdicts the delivered messages have posted into ACK / NACK frames in
  /// `internal_out_`. Only at a frame boundary (nothing partly written), since the frames are
  /// numbered now, ahead of every frame not yet started.
  ///
  /// Connection queries and answers follow the verdicts: an answer must not overtake the ACK of
  /// a connection it counts, or the sender would count its own copy as well.
  void encode_verdicts()
  {
    if (outbox_ && outbox_->pending()) outbox_->take(acks_out_, nacks_out_);
    if (acks_out_.empty() && nacks_out_.empty() && queries_out_.empty() && answers_out_.empty() &&
        announce_ != announce::reply)
      return;
    if (internal_done_ == internal_out_.size()) {
      internal_out_.clear();
      internal_done_ = 0;
    }
    if (announce_ == announce::reply) {
      append_moved_here(1);
      announce_ = announce::none;
    }
    encode_verdict_frame(frame_kind::ack, acks_out_);
    encode_verdict_frame(frame_kind::nack, nacks_out_);
    for (const auto& [id, key] : queries_out_) {
      std::byte* p = append_internal(frame_kind::internal, 5 + key.size());
      p[0] = static_cast<std::byte>(internal_op::count_connections);
      store_u32(p + 1, id);
      if (!key.empty()) std::memcpy(p + 5, key.data(), key.size());
    }
    queries_out_.clear();
    for (const auto& [id, n] : answers_out_) {
      std::byte* p = append_internal(frame_kind::internal, 9);
      p[0] = static_cast<std::byte>(internal_op::connection_count);
      store_u32(p + 1, id);
      store_u32(p + 5, n);
    }
    answers_out_.clear();
  }

  /// Appends an internal frame's header, numbered now, to `internal_out_`; returns where its
  /// @p payload_size bytes go.
  std::byte* append_internal(frame_kind kind, std::size_t payload_size)
  {
    std::byte* p = internal_out_.extend(frame_header_size + payload_size);
    frame_header h;
    h.payload_size = static_cast<std::uint32_t>(payload_size);
    h.sequence = next_sequence_++;
    h.kind = kind;
    encode_frame_header(h, p);
    return p + frame_header_size;
  }

  void append_moved_here(std::uint32_t reply)
  {
    std::byte* p = append_internal(frame_kind::internal, moved_here_size);
    p[0] = static_cast<std::byte>(internal_op::moved_here);
    store_u32(p + 1, reply);
    store_u32(p + 5, static_cast<std::uint32_t>(traits::process_id()));
  }

  void encode_verdict_frame(frame_kind kind, std::vector<std::uint32_t>& seqs)
  {
    // One frame per kind, split only at the size the peer accepts.
    const std::size_t per_frame = options_.max_message_size / 4;
    std::size_t i = 0;
    while (i < seqs.size()) {
      const std::size_t n = std::min(per_frame, seqs.size() - i);
      std::byte* p = append_internal(kind, 4 * n);
      for (std::size_t k = 0; k < n; ++k) store_u32(p + 4 * k, seqs[i + k]);
      i += n;
    }
    seqs.clear();
  }

  void internal_written(std::size_t n) noexcept
  {
    if (n != 0 && announce_ == announce::unsent) announce_ = announce::none;
    internal_done_ += n;
    if (internal_done_ == internal_out_.size()) {
      internal_out_.clear();
      internal_done_ = 0;
    }
  }

  /// Sends the verdicts posted so far, unless a frame is partly written (the write loop sends
  /// them at the next boundary). With @p may_wait (on the channel's executor), what the socket
  /// does not take now is written asynchronously; otherwise it waits for the next operation.
  void flush_verdicts(bool may_wait)
  {
    if (writing_ || !socket_.is_open() || send_failed_) return;
    if (!internal_waiting()) return;
    if (may_wait) {
      pump(true);
      return;
    }
    encode_verdicts();
    if (internal_done_ == internal_out_.size()) return;
    std::error_code ec;
    const asio::const_buffer buf(internal_out_.data() + internal_done_,
                                 internal_out_.size() - internal_done_);
    const std::size_t n = traits::send_some(socket_.native_handle(), {&buf, 1}, {}, true, ec);
    if (ec == asio::error::would_block) return;
    if (ec) {
      fail_send(ec);
      return;
    }
    internal_written(n);
  }

  struct spill_chunk {
    std::size_t offset, size;
    std::vector<native_handle::native_type> handles; // owned until replayed
    spill_chunk(std::size_t o, std::size_t n, std::vector<native_handle::native_type> h)
      : offset(o), size(n), handles(std::move(h)) {}
    spill_chunk(spill_chunk&&) = default;
    spill_chunk& operator=(spill_chunk&&) = default;
    ~spill_chunk()
    {
      for (auto h : handles) traits::close_handle(h);
    }
  };

  std::uint32_t next_sequence_ = 1;
  byte_buffer spill_;                    // what a blocked sync send read from the peer
  std::deque<spill_chunk> spill_chunks_; // ... in read-sized chunks, with their descriptors
  std::size_t spilled_handles_ = 0;
  /// A blocked sync send stops taking in the peer's bytes once this many descriptors came
  /// with them (and only waits for room to write): descriptors are a scarcer resource than
  /// memory, and a peer must not make us hold an unbounded number of them.
  static constexpr std::size_t max_spilled_handles = 1024;
  std::error_code spill_error_;
  byte_buffer head_;
  std::vector<native_handle::native_type> fds_;
  std::vector<native_handle::native_type> fds_in_;
  std::deque<std::unique_ptr<send_entry>> queue_;
  std::vector<byte_buffer> spare_;
  std::uint64_t next_entry_id_ = 0;
  bool writing_ = false;
  std::error_code send_failed_;
  std::error_code receive_failed_;
  std::error_code closed_reason_;

  // Acknowledgements. As a sender: copies of handles in flight. As a receiver: verdicts from
  // the messages delivered, waiting to be written, and the internal frames being written.
  static constexpr std::size_t ack_batch = 64;
  std::deque<in_flight_handle> in_flight_;
  std::size_t collect_at_ = ack_batch;
  ack_counts counts_;
  std::shared_ptr<ack_outbox> outbox_;
  std::vector<std::uint32_t> acks_out_, nacks_out_;
  byte_buffer internal_out_;
  /// The `moved_here` frame: none owed, this end's own still unsent (it moved here; nothing of
  /// `internal_out_` has been written since), or a reply owed to a peer that moved.
  enum class announce : std::uint8_t { none, unsent, reply } announce_ = announce::none;
  std::size_t internal_done_ = 0;
  bool views_pinned_ = false; // the user may hold views into the reader's buffer

  // Connection counts. As the asker: queries waiting for an answer, and to be written. As the
  // asked: answers to be written.
  struct pending_query {
    std::uint32_t id;
    count_callback done;
  };
  std::vector<pending_query> pending_queries_;
  std::vector<std::pair<std::uint32_t, std::string>> queries_out_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> answers_out_;
  std::uint32_t next_query_id_ = 0;
  // As the asked, answers that wait for processes this one passed connections on to.
  struct gather {
    std::vector<std::uint32_t> ids; // questions waiting for this key's total
    std::size_t waiting = 0, sum = 0;
  };
  std::map<std::string, gather, std::less<>> gathering_;
  std::size_t owed_later_ = 0;
  bool watching_ = false;    // watch_peer is waiting for the socket
  bool watch_keyed_ = false; // keyed connections were sent: read their verdicts as they come
  bool stream_ended_ = false; // a read without the user's receive found the end of the stream
};

} // namespace detail
IPC_END_NAMESPACE

#endif // IPC_DETAIL_CHANNEL_CORE_HPP
