// ipc/detail/handle_receipt.hpp - how a received message tells its channel that its handles
// were adopted or refused, so that the channel can acknowledge them to the sender.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_DETAIL_HANDLE_RECEIPT_HPP
#define IPC_DETAIL_HANDLE_RECEIPT_HPP

#include "ipc/platform/config.hpp"
#include "ipc/platform/traits.hpp"

#include <asio/post.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE
namespace detail {

/// Connections a process holds, by server key (`ipc::shared_server`). Each is remembered by
/// its descriptor number and what that number named (`identify_handle`), never by a duplicate,
/// which would keep the connection open: a connection counts for as long as its descriptor is
/// open and still names it, whoever closes it and however (Asio's `close`, `::close`, a
/// destructor). Not locked.
class connection_registry {
public:
  using native_type = platform::traits::native_handle_type;
  using identity = platform::traits::handle_identity;

  /// Remembers @p h as a connection of @p key. A descriptor that cannot be identified is not
  /// counted.
  void add(std::string_view key, native_type h)
  {
    std::error_code ec;
    const identity id = platform::traits::identify_handle(h, ec);
    if (ec) return;
    // A descriptor number names one object at a time: an entry for the same number is stale.
    entry& e = by_handle_[h];
    e.key.assign(key);
    e.id = id;
    if (++added_ >= prune_at_) prune();
  }

  /// How many connections of @p key are still open (forgetting those that are not).
  std::size_t count(std::string_view key)
  {
    prune();
    std::size_t n = 0;
    for (const auto& [h, e] : by_handle_) n += e.key == key ? 1 : 0;
    return n;
  }

  /// The key @p h was remembered with, if it still names that connection.
  std::optional<std::string> key_of(native_type h) const
  {
    const auto it = by_handle_.find(h);
    if (it == by_handle_.end()) return std::nullopt;
    std::error_code ec;
    const identity now = platform::traits::identify_handle(h, ec);
    if (ec || !(now == it->second.id)) return std::nullopt;
    return it->second.key;
  }

  bool empty() const noexcept { return by_handle_.empty(); }

private:
  struct entry {
    std::string key;
    identity id;
  };

  /// Forgets the connections that are closed. Also bounds the memory of a process that
  /// receives connections and never counts them.
  void prune()
  {
    std::error_code ec;
    for (auto it = by_handle_.begin(); it != by_handle_.end();) {
      const identity now = platform::traits::identify_handle(it->first, ec);
      if (ec || !(now == it->second.id)) it = by_handle_.erase(it);
      else ++it;
    }
    added_ = 0;
    prune_at_ = by_handle_.size() < 64 ? 64 : 2 * by_handle_.size();
  }

  std::unordered_map<native_type, entry> by_handle_;
  std::size_t added_ = 0;
  std::size_t prune_at_ = 64;
};

/// What `shared_server` needs of a channel, whatever its serializer or protocol: asking the
/// peer how many connections of a server it holds.
class connection_peer {
public:
  using count_callback = std::function<void(std::error_code, std::size_t)>;
  virtual std::uint32_t count_connections(std::string_view key, count_callback done) = 0;
  virtual void cancel_count(std::uint32_t id) noexcept = 0;
  virtual bool reachable() const noexcept = 0;

protected:
  ~connection_peer() = default;

  /// Answers every count still waiting in @p waiting (entries with a `done` callback) with 0,
  /// posted to @p ex: the peer is gone, so it holds nothing. Leaves @p waiting empty.
  template <class Waiting, class Executor>
  static void answer_all_with_zero(Waiting& waiting, const Executor& ex)
  {
    auto q = std::move(waiting);
    waiting.clear();
    for (auto& w : q)
      asio::post(ex, [done = std::move(w.done)] { done({}, 0); });
  }
};

/// The keyed connections this process received (through any channel), and the channels it
/// passed some of them on through: a worker that hands a connection to a process of its own
/// keeps it counted, since its answer includes what that process holds. One per process,
/// locked (messages are settled on any thread).
class process_connections {
public:
  static process_connections& get()
  {
    static process_connections instance;
    return instance;
  }

  void add(std::string_view key, connection_registry::native_type h)
  {
    std::lock_guard lock(mutex_);
    held_.add(key, h);
  }
  std::size_t count(std::string_view key)
  {
    std::lock_guard lock(mutex_);
    return held_.count(key);
  }
  std::optional<std::string> key_of(connection_registry::native_type h)
  {
    std::lock_guard lock(mutex_);
    if (held_.empty()) return std::nullopt; // the common case: no keyed connections here
    return held_.key_of(h);
  }

  /// Connections of @p key went on through @p peer.
  void passed_on(std::string_view key, std::weak_ptr<connection_peer> peer)
  {
    std::lock_guard lock(mutex_);
    auto& list = downstream_[std::string(key)];
    std::erase_if(list, [](const auto& w) { return w.expired(); });
    for (const auto& w : list)
      if (!w.owner_before(peer) && !peer.owner_before(w)) return;
    list.push_back(std::move(peer));
  }

  /// The channels connections of @p key went on through, still open, except @p self.
  std::vector<std::shared_ptr<connection_peer>> downstream(std::string_view key,
                                                           const connection_peer* self)
  {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<connection_peer>> out;
    const auto it = downstream_.find(key);
    if (it == downstream_.end()) return out;
    std::erase_if(it->second, [](const auto& w) { return w.expired(); });
    for (const auto& w : it->second)
      if (auto p = w.lock(); p && p.get() != self && p->reachable()) out.push_back(std::move(p));
    if (it->second.empty()) downstream_.erase(it);
    return out;
  }

private:
  std::mutex mutex_;
  connection_registry held_;
  std::map<std::string, std::vector<std::weak_ptr<connection_peer>>, std::less<>> downstream_;
};

/// Verdicts waiting to be written as ACK / NACK frames. Shared by a channel and the messages it
/// delivered with handles; messages may be settled on any thread, the channel collects the
/// verdicts on its own (at its next operation), so this is the one piece of a channel that is
/// locked.
class ack_outbox {
public:
  void post(std::uint32_t sequence, bool adopted)
  {
    std::lock_guard lock(mutex_);
    (adopted ? acks_ : nacks_).push_back(sequence);
    count_.store(acks_.size() + nacks_.size(), std::memory_order_relaxed);
    pending_.store(true, std::memory_order_release);
  }

  /// Cheap check before `take`.
  bool pending() const noexcept { return pending_.load(std::memory_order_acquire); }
  /// How many verdicts are waiting (for batching; may be stale).
  std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// Moves the collected verdicts out (appending to @p acks and @p nacks).
  void take(std::vector<std::uint32_t>& acks, std::vector<std::uint32_t>& nacks)
  {
    std::lock_guard lock(mutex_);
    acks.insert(acks.end(), acks_.begin(), acks_.end());
    nacks.insert(nacks.end(), nacks_.begin(), nacks_.end());
    acks_.clear();
    nacks_.clear();
    count_.store(0, std::memory_order_relaxed);
    pending_.store(false, std::memory_order_relaxed);
  }

private:
  std::mutex mutex_;
  std::vector<std::uint32_t> acks_, nacks_;
  std::atomic<bool> pending_{false};
  std::atomic<std::size_t> count_{0};
};

/// Carried by a message that came with handles: once every handle has been taken (adopted) or
/// dropped (refused: wrong type, `got` failed, or the message was destroyed with it), the whole
/// message is ACKed if all were adopted, NACKed otherwise.
class handle_receipt {
public:
  handle_receipt() = default;
  /// @p key: the server key of a keyed message (its handles are connections), else empty.
  handle_receipt(std::shared_ptr<ack_outbox> box, std::uint32_t sequence, std::size_t count,
                 std::string key = {})
    : box_(std::move(box)), key_(std::move(key)), sequence_(sequence), open_(count)
  {
  }
  handle_receipt(handle_receipt&& o) noexcept
    : box_(std::move(o.box_)), key_(std::move(o.key_)), sequence_(o.sequence_), open_(o.open_),
      refused_(o.refused_)
  {
  }
  handle_receipt& operator=(handle_receipt&& o) noexcept
  {
    box_ = std::move(o.box_);
    key_ = std::move(o.key_);
    sequence_ = o.sequence_;
    open_ = o.open_;
    refused_ = o.refused_;
    return *this;
  }
  handle_receipt(const handle_receipt&) = delete;
  handle_receipt& operator=(const handle_receipt&) = delete;

  /// One handle is settled: adopted by the receiver (as descriptor @p h), or not. Adopting a
  /// connection of a keyed message counts it from now on; it is counted before the ACK is
  /// posted, so the sender, which counts its own copy until the ACK, never sees a gap.
  void settle(bool adopted, connection_registry::native_type h = platform::traits::invalid_handle)
  {
    if (!box_) return;
    if (!adopted) refused_ = true;
    else if (!key_.empty() && h != platform::traits::invalid_handle) process_connections::get().add(key_, h);
    if (open_ > 0 && --open_ == 0) std::exchange(box_, nullptr)->post(sequence_, !refused_);
  }

private:
  std::shared_ptr<ack_outbox> box_;
  std::string key_;
  std::uint32_t sequence_ = 0;
  std::size_t open_ = 0;
  bool refused_ = false;
};

} // namespace detail
IPC_END_NAMESPACE

#endif // IPC_DETAIL_HANDLE_RECEIPT_HPP
