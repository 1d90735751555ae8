// ipc/message.hpp - a received message: the decoded value and the handles that came with it.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_MESSAGE_HPP
#define IPC_MESSAGE_HPP

#include "ipc/platform/config.hpp"
#include "ipc/detail/handle_receipt.hpp"
#include "ipc/error.hpp"
#include "ipc/handle_converter.hpp"
#include "ipc/native_handle.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE

/// One handle received beside a message, with the sender's converter type name.
struct received_handle {
  std::string type_name;
  native_handle handle;
  /// Why `handle` is empty although the sender sent one (`errc::handle_misdirected`); cleared
  /// once reported.
  std::error_code lost = {};
};

/// A received message. `value` is the decoded payload; if `T` is a view type
/// (`std::string_view`, `std::span<const std::byte>`) it points into the channel's receive
/// buffer and is valid until the next receive on that channel. Handles not taken are closed when
/// the message is destroyed.
///
/// Acknowledgement: once every handle has been taken (or refused: a type mismatch, a failed
/// `got`, or the message destroyed with the handle still in it), the channel acknowledges the
/// message to the sender, with an ACK if all were taken and a NACK otherwise; the sender closes
/// its copies then. The verdict travels with the channel's next operation (a receive about to
/// wait, a send) or when the channel closes. A message may be settled on any thread.
template <class T>
class message {
public:
  T value{};

  message() = default;
  message(message&&) noexcept = default;
  message& operator=(message&& o) noexcept
  {
    if (this != &o) {
      settle_all();
      value = std::move(o.value);
      sequence_ = o.sequence_;
      handles_ = std::move(o.handles_);
      receipt_ = std::move(o.receipt_);
    }
    return *this;
  }
  message(const message&) = delete;
  message& operator=(const message&) = delete;
  ~message() { settle_all(); }

  /// The frame's sequence number on its channel (1 for the first message).
  std::uint32_t sequence() const noexcept { return sequence_; }

  std::size_t handle_count() const noexcept { return handles_.size(); }

  /// The sender's type name for handle @p i ("native" for a plain descriptor); empty when out of
  /// range.
  std::string_view handle_type(std::size_t i) const noexcept
  {
    return i < handles_.size() ? std::string_view(handles_[i].type_name) : std::string_view();
  }

  /// Takes handle @p i as a plain descriptor, whatever its type. @throws std::system_error
  native_handle take_handle(std::size_t i)
  {
    std::error_code ec;
    native_handle h = take_handle(i, ec);
    if (ec) detail::throw_error(ec, "message::take_handle");
    return h;
  }
  native_handle take_handle(std::size_t i, std::error_code& ec)
  {
    if (i >= handles_.size() || !handles_[i].handle) {
      ec = missing(i);
      return {};
    }
    ec.clear();
    receipt_.settle(true, handles_[i].handle.get());
    return std::move(handles_[i].handle);
  }

  /// Takes handle @p i as an @p H rebuilt on @p ex by `handle_converter<H>::got`. The sender's
  /// converter type name must equal `handle_converter<H>::type_name`; otherwise the handle is
  /// closed and the result is `errc::handle_type_mismatch`. A descriptor that does not hold what
  /// its name claims (a pipe sent as a TCP socket) is refused by `got` (`errc::invalid_handle`)
  /// and closed. Either way the handle is gone afterwards.
  template <transferable H>
  std::optional<H> take_handle(std::size_t i, const asio::any_io_executor& ex, std::error_code& ec)
  {
    if (i >= handles_.size() || !handles_[i].handle) {
      ec = missing(i);
      return std::nullopt;
    }
    native_handle h = std::move(handles_[i].handle);
    if (handles_[i].type_name != handle_converter<H>::type_name) {
      ec = errc::handle_type_mismatch;
      receipt_.settle(false);
      return std::nullopt; // h closes here
    }
    const auto fd = h.get();
    H object = handle_converter<H>::got(std::move(h), ex, ec);
    receipt_.settle(!ec, fd);
    if (ec) return std::nullopt;
    return std::optional<H>(std::move(object));
  }

  /// As above. @throws std::system_error
  template <transferable H>
  H take_handle(std::size_t i, const asio::any_io_executor& ex)
  {
    std::error_code ec;
    std::optional<H> h = take_handle<H>(i, ex, ec);
    if (ec) detail::throw_error(ec, "message::take_handle");
    return std::move(*h);
  }

  /// Adopted by the channel; not for users.
  void assign(std::uint32_t sequence, std::vector<received_handle>&& handles,
              detail::handle_receipt&& receipt) noexcept
  {
    sequence_ = sequence;
    handles_ = std::move(handles);
    receipt_ = std::move(receipt);
  }

private:
  /// Why handle @p i cannot be taken: it never arrived here (reported once, which refuses it),
  /// or there is no such handle (out of range, or taken already).
  std::error_code missing(std::size_t i) noexcept
  {
    if (i < handles_.size() && handles_[i].lost) {
      receipt_.settle(false);
      return std::exchange(handles_[i].lost, {});
    }
    return errc::no_such_handle;
  }

  /// Refuses (and closes) every handle not taken.
  void settle_all() noexcept
  {
    for (auto& h : handles_) {
      if (!h.handle && !h.lost) continue;
      h.handle.reset();
      h.lost.clear();
      receipt_.settle(false);
    }
  }

  std::uint32_t sequence_ = 0;
  std::vector<received_handle> handles_;
  detail::handle_receipt receipt_;
};

IPC_END_NAMESPACE

#endif // IPC_MESSAGE_HPP
