// ipc/shared_memory.hpp - memory shared between processes by passing one descriptor.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_SHARED_MEMORY_HPP
#define IPC_SHARED_MEMORY_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/handle_converter.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/platform/memory.hpp"

#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

IPC_BEGIN_NAMESPACE

/// A region of memory (memfd-backed on Linux) mapped in this process, that can be sent over a
/// channel: the receiver maps the same pages, so sending a 1 GiB buffer costs one descriptor,
/// not 1 GiB of copies.
///
/// Writable regions are shared both ways: writes in one process are visible in the other.
/// `seal_read_only()` freezes the contents for good (no process can write or resize them any
/// more, enforced by the kernel), so a receiver can trust that what it reads will not change
/// under it; a receiver can check `sealed()`. An unsealed region trusts the peer: a peer that
/// shrinks it makes reads past the new end fault (SIGBUS). Take regions from untrusted peers
/// only when `sealed()`.
class shared_memory {
  using os = platform::memory;

public:
  shared_memory() noexcept = default;
  shared_memory(shared_memory&& o) noexcept
    : h_(std::move(o.h_)), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)),
      writable_(std::exchange(o.writable_, false))
  {
  }
  shared_memory& operator=(shared_memory&& o) noexcept
  {
    if (this != &o) {
      unmap();
      h_ = std::move(o.h_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      writable_ = std::exchange(o.writable_, false);
    }
    return *this;
  }
  ~shared_memory() { unmap(); }

  /// A new zero-filled, writable region of @p size bytes. @throws std::system_error
  static shared_memory create(std::size_t size)
  {
    std::error_code ec;
    shared_memory m = create(size, ec);
    if (ec) detail::throw_error(ec, "shared_memory::create");
    return m;
  }
  static shared_memory create(std::size_t size, std::error_code& ec)
  {
    ipc::native_handle h(os::create_memory(size, ec));
    if (ec) return {};
    return adopt(std::move(h), size, true, ec);
  }

  /// Maps @p h (a memory descriptor of @p size bytes); read-only when @p writable is false.
  static shared_memory adopt(ipc::native_handle h, std::size_t size, bool writable, std::error_code& ec)
  {
    shared_memory m;
    void* p = os::map(h.get(), size, writable, ec);
    if (ec) return {};
    m.h_ = std::move(h);
    m.data_ = static_cast<std::byte*>(p);
    m.size_ = size;
    m.writable_ = writable;
    return m;
  }

  std::span<std::byte> data() noexcept
  {
    return writable_ ? std::span<std::byte>(data_, size_) : std::span<std::byte>();
  }
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  bool writable() const noexcept { return writable_; }
  bool is_open() const noexcept { return h_.is_valid(); }
  /// The region's descriptor (still owned by this object).
  ipc::native_handle::native_type native_handle() const noexcept { return h_.get(); }
  /// True when the kernel forbids every further write and resize.
  bool sealed() const noexcept { return h_ && os::is_sealed_read_only(h_.get()); }

  /// Freezes the contents: this mapping becomes read-only and no process can ever write or
  /// resize the region again. @throws std::system_error
  void seal_read_only()
  {
    std::error_code ec;
    seal_read_only(ec);
    if (ec) detail::throw_error(ec, "shared_memory::seal_read_only");
  }
  void seal_read_only(std::error_code& ec)
  {
    if (!h_) {
      ec = errc::no_such_handle;
      return;
    }
    // The kernel refuses the write seal while a writable mapping exists: drop ours first.
    os::unmap(data_, size_);
    data_ = nullptr;
    writable_ = false;
    os::seal_read_only(h_.get(), ec);
    std::error_code mec;
    void* p = os::map(h_.get(), size_, false, mec);
    data_ = static_cast<std::byte*>(p);
    if (!ec) ec = mec;
  }

  /// A second object for the same region (a new descriptor and mapping, same writability):
  /// keep one, send the other. @throws std::system_error
  shared_memory duplicate() const
  {
    std::error_code ec;
    shared_memory m = duplicate(ec);
    if (ec) detail::throw_error(ec, "shared_memory::duplicate");
    return m;
  }
  shared_memory duplicate(std::error_code& ec) const
  {
    ipc::native_handle d = h_.duplicate(ec);
    if (ec) return {};
    return adopt(std::move(d), size_, writable_, ec);
  }

  /// Gives up the descriptor (the mapping is removed).
  ipc::native_handle release() noexcept
  {
    unmap();
    return std::move(h_);
  }

private:
  void unmap() noexcept
  {
    os::unmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
    writable_ = false;
  }

  ipc::native_handle h_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool writable_ = false;
};

/// Shared memory travels as its descriptor ("shared_memory"); the receiver maps it at its full
/// size, read-only if it was sealed, writable otherwise.
template <>
struct handle_converter<shared_memory> {
  static constexpr std::string_view type_name = "shared_memory";
  static constexpr handle_kind kind = handle_kind::memory;

  static native_handle share(const shared_memory& m, std::error_code& ec)
  {
    if (!m.is_open()) {
      ec = errc::no_such_handle;
      return {};
    }
    return native_handle::duplicate_of(m.native_handle(), ec);
  }
  static native_handle send(shared_memory&& m, std::error_code& ec)
  {
    if (!m.is_open()) ec = errc::no_such_handle;
    else ec.clear();
    return m.release();
  }
  static shared_memory got(native_handle&& h, const asio::any_io_executor&, std::error_code& ec)
  {
    const auto info = platform::memory::stat(h.get(), ec);
    if (ec) return {};
    if (!info.regular) { // memfds are regular files; sockets, pipes and devices are not
      ec = errc::invalid_handle;
      return {};
    }
    const bool sealed = platform::memory::is_sealed_read_only(h.get());
    return shared_memory::adopt(std::move(h), static_cast<std::size_t>(info.size), !sealed, ec);
  }
};

IPC_END_NAMESPACE

#endif // IPC_SHARED_MEMORY_HPP
