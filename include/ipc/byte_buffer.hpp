// ipc/byte_buffer.hpp - a growable, reusable byte buffer that always keeps readable padding.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_BYTE_BUFFER_HPP
#define IPC_BYTE_BUFFER_HPP

#include "ipc/platform/config.hpp"

#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <span>
#include <string_view>

IPC_BEGIN_NAMESPACE

/// Bytes readable (and zeroed) after the end of every payload the channel hands to a decoder.
/// simdjson needs 64; decoders may rely on it.
inline constexpr std::size_t payload_padding = 64;

/// A contiguous, growable byte buffer for serializer output and received frames.
///
/// Unlike `std::vector<std::byte>` it never zero-fills on growth (a 1 MiB frame would pay for
/// it on every message) and it always owns at least `payload_padding` bytes past `capacity()`,
/// so a view of any prefix can be handed to a padded parser. Growth is geometric and the
/// storage is kept across `clear()`: a channel reuses one buffer for every message.
class byte_buffer {
public:
  byte_buffer() = default;
  byte_buffer(const byte_buffer&) = delete;
  byte_buffer& operator=(const byte_buffer&) = delete;
  byte_buffer(byte_buffer&& other) noexcept
    : data_(std::move(other.data_)), size_(other.size_), capacity_(other.capacity_)
  {
    other.size_ = other.capacity_ = 0;
  }
  byte_buffer& operator=(byte_buffer&& other) noexcept
  {
    data_ = std::move(other.data_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.size_ = other.capacity_ = 0;
    return *this;
  }

  /// Pointer to the first byte; valid until the next growth.
  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }

  std::span<std::byte> span() noexcept { return {data_.get(), size_}; }
  std::span<const std::byte> span() const noexcept { return {data_.get(), size_}; }

  /// Drops the contents, keeps the storage.
  void clear() noexcept { size_ = 0; }

  /// Makes room for at least @p n bytes in total, keeping the contents.
  /// @throws std::length_error when @p n plus the padding does not fit in `size_t`.
  void reserve(std::size_t n)
  {
    if (n <= capacity_) return;
    if (n > std::numeric_limits<std::size_t>::max() - payload_padding)
      throw std::length_error("ipc::byte_buffer: size too large");
    std::size_t cap = capacity_ < 256 ? 256 : capacity_;
    while (cap < n) cap = cap > (std::numeric_limits<std::size_t>::max() - payload_padding) / 2 ? n : cap * 2;
    auto fresh = std::make_unique_for_overwrite<std::byte[]>(cap + payload_padding);
    if (size_ != 0) std::memcpy(fresh.get(), data_.get(), size_);
    std::memset(fresh.get() + cap, 0, payload_padding);
    data_ = std::move(fresh);
    capacity_ = cap;
  }

  /// Grows the size by @p n uninitialized bytes and returns a pointer to them.
  std::byte* extend(std::size_t n)
  {
    reserve(size_ + n);
    std::byte* p = data_.get() + size_;
    size_ += n;
    return p;
  }

  /// Sets the size; new bytes (if any) are uninitialized.
  void resize(std::size_t n)
  {
    reserve(n);
    size_ = n;
  }

  void append(const void* p, std::size_t n)
  {
    if (n == 0) return;
    std::memcpy(extend(n), p, n);
  }
  void append(std::span<const std::byte> bytes) { append(bytes.data(), bytes.size()); }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(std::byte b) { *extend(1) = b; }
  void push_back(char c) { *extend(1) = static_cast<std::byte>(c); }

  /// Removes the first @p n bytes, moving the rest to the front.
  void consume(std::size_t n) noexcept
  {
    if (n >= size_) {
      size_ = 0;
      return;
    }
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }

  /// Releases the storage (a receive buffer that grew for one huge frame can shrink back).
  void shrink_to(std::size_t max_capacity)
  {
    if (capacity_ <= max_capacity || size_ > max_capacity) return;
    byte_buffer smaller;
    smaller.reserve(max_capacity);
    smaller.append(span());
    *this = std::move(smaller);
  }

private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

IPC_END_NAMESPACE

#endif // IPC_BYTE_BUFFER_HPP
