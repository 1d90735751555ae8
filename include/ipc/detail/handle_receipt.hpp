// ipc/detail/handle_receipt.hpp - how a received message tells its channel that its handles
// were adopted or refused, so that the channel can acknowledge them to the sender.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_DETAIL_HANDLE_RECEIPT_HPP
#define IPC_DETAIL_HANDLE_RECEIPT_HPP

#include "ipc/platform/config.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE
namespace detail {

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
  handle_receipt(std::shared_ptr<ack_outbox> box, std::uint32_t sequence, std::size_t count)
    : box_(std::move(box)), sequence_(sequence), open_(count)
  {
  }
  handle_receipt(handle_receipt&& o) noexcept
    : box_(std::move(o.box_)), sequence_(o.sequence_), open_(o.open_), refused_(o.refused_)
  {
  }
  handle_receipt& operator=(handle_receipt&& o) noexcept
  {
    box_ = std::move(o.box_);
    sequence_ = o.sequence_;
    open_ = o.open_;
    refused_ = o.refused_;
    return *this;
  }
  handle_receipt(const handle_receipt&) = delete;
  handle_receipt& operator=(const handle_receipt&) = delete;

  /// One handle is settled: adopted by the receiver, or not.
  void settle(bool adopted)
  {
    if (!box_) return;
    if (!adopted) refused_ = true;
    if (open_ > 0 && --open_ == 0) std::exchange(box_, nullptr)->post(sequence_, !refused_);
  }

private:
  std::shared_ptr<ack_outbox> box_;
  std::uint32_t sequence_ = 0;
  std::size_t open_ = 0;
  bool refused_ = false;
};

} // namespace detail
IPC_END_NAMESPACE

#endif // IPC_DETAIL_HANDLE_RECEIPT_HPP
