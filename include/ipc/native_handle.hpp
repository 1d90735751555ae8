// ipc/native_handle.hpp - the move-only owner of one OS handle (a descriptor on POSIX).
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_NATIVE_HANDLE_HPP
#define IPC_NATIVE_HANDLE_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/platform/traits.hpp"

#include <system_error>
#include <utility>

IPC_BEGIN_NAMESPACE

/// Owns one OS handle and closes it on destruction: every descriptor that crosses a channel is
/// held by one of these from the moment it is received (or queued to send) until the user takes
/// it, so no error path can leak one.
class native_handle {
public:
  using native_type = platform::traits::native_handle_type;
  static constexpr native_type invalid = platform::traits::invalid_handle;

  /// An empty handle.
  native_handle() noexcept = default;
  /// Takes ownership of @p h.
  explicit native_handle(native_type h) noexcept : h_(h) {}
  native_handle(native_handle&& other) noexcept : h_(std::exchange(other.h_, invalid)) {}
  native_handle& operator=(native_handle&& other) noexcept
  {
    if (this != &other) reset(std::exchange(other.h_, invalid));
    return *this;
  }
  native_handle(const native_handle&) = delete;
  native_handle& operator=(const native_handle&) = delete;
  ~native_handle() { reset(); }

  /// The handle, still owned by this object.
  native_type get() const noexcept { return h_; }
  bool is_valid() const noexcept { return h_ != invalid; }
  explicit operator bool() const noexcept { return is_valid(); }

  /// Gives up ownership and returns the handle.
  [[nodiscard]] native_type release() noexcept { return std::exchange(h_, invalid); }

  /// Closes the owned handle (if any) and takes @p h.
  void reset(native_type h = invalid) noexcept
  {
    if (h_ != invalid) platform::traits::close_handle(h_);
    h_ = h;
  }

  /// A second, independent (close-on-exec) handle to the same object. @throws std::system_error
  [[nodiscard]] native_handle duplicate() const
  {
    std::error_code ec;
    native_handle d = duplicate(ec);
    if (ec) detail::throw_error(ec, "native_handle::duplicate");
    return d;
  }
  [[nodiscard]] native_handle duplicate(std::error_code& ec) const
  {
    if (h_ == invalid) {
      ec = errc::no_such_handle;
      return {};
    }
    return native_handle(platform::traits::duplicate_handle(h_, ec));
  }

  /// Duplicates a handle the caller keeps owning (the copy is taken now, not when the message
  /// is finally written, so closing the original afterwards is safe).
  [[nodiscard]] static native_handle duplicate_of(native_type h, std::error_code& ec)
  {
    native_type d = platform::traits::duplicate_handle(h, ec);
    return ec ? native_handle() : native_handle(d);
  }
  [[nodiscard]] static native_handle duplicate_of(native_type h)
  {
    std::error_code ec;
    native_handle d = duplicate_of(h, ec);
    if (ec) detail::throw_error(ec, "native_handle::duplicate_of");
    return d;
  }

private:
  native_type h_ = invalid;
};

IPC_END_NAMESPACE

#endif // IPC_NATIVE_HANDLE_HPP
