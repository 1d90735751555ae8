// ipc/file.hpp - an open file that can travel to another process with its offset shared.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_FILE_HPP
#define IPC_FILE_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/handle_converter.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/platform/memory.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

IPC_BEGIN_NAMESPACE

/// An open file (close-on-exec). Sent over a channel it arrives as the *same* open file, not a
/// copy: both processes share its offset and flags, as after `dup` (reads in one advance the
/// offset seen by the other).
class file {
  using os = platform::memory;

public:
  /// How to open: combine with `|`.
  enum open_mode : unsigned {
    read = os::read,
    write = os::write,
    create = os::create,
    truncate = os::truncate,
    append = os::append,
    exclusive = os::exclusive,
  };
  enum class seek_origin { begin, current, end };

  file() noexcept = default;
  /// Takes ownership of an open file descriptor.
  explicit file(ipc::native_handle h) noexcept : h_(std::move(h)) {}

  /// Opens @p path. @throws std::system_error
  static file open(const std::filesystem::path& path, unsigned mode = read)
  {
    std::error_code ec;
    file f = open(path, mode, ec);
    if (ec) detail::throw_error(ec, ("file::open " + path.string()).c_str());
    return f;
  }
  static file open(const std::filesystem::path& path, unsigned mode, std::error_code& ec)
  {
    return file(ipc::native_handle(os::open_file(path.c_str(), mode, ec)));
  }

  bool is_open() const noexcept { return h_.is_valid(); }
  ipc::native_handle::native_type native_handle() const noexcept { return h_.get(); }
  ipc::native_handle release() noexcept { return std::move(h_); }
  void close() noexcept { h_.reset(); }

  /// Reads up to `buf.size()` bytes at the current offset; 0 at end of file.
  std::size_t read_some(std::span<std::byte> buf, std::error_code& ec) noexcept
  {
    return os::read_some(h_.get(), buf.data(), buf.size(), ec);
  }
  /// Writes up to `buf.size()` bytes at the current offset (at the end with `append`).
  std::size_t write_some(std::span<const std::byte> buf, std::error_code& ec) noexcept
  {
    return os::write_some(h_.get(), buf.data(), buf.size(), ec);
  }
  /// Moves the (shared) offset; returns the new one.
  std::uint64_t seek(std::int64_t offset, seek_origin from, std::error_code& ec) noexcept
  {
    const auto o = from == seek_origin::begin     ? os::origin::begin
                   : from == seek_origin::current ? os::origin::current
                                                  : os::origin::end;
    return os::seek(h_.get(), offset, o, ec);
  }
  /// The current (shared) offset.
  std::uint64_t offset(std::error_code& ec) noexcept
  {
    return seek(0, seek_origin::current, ec);
  }
  std::uint64_t size(std::error_code& ec) const noexcept { return os::stat(h_.get(), ec).size; }

private:
  ipc::native_handle h_;
};

/// Files travel as themselves ("file"); the receiver checks it got a regular file.
template <>
struct handle_converter<file> {
  static constexpr std::string_view type_name = "file";
  static constexpr handle_kind kind = handle_kind::file;

  static native_handle share(const file& f, std::error_code& ec)
  {
    if (!f.is_open()) {
      ec = errc::no_such_handle;
      return {};
    }
    return native_handle::duplicate_of(f.native_handle(), ec);
  }
  static native_handle send(file&& f, std::error_code& ec)
  {
    if (!f.is_open()) ec = errc::no_such_handle;
    else ec.clear();
    return f.release();
  }
  static file got(native_handle&& h, const asio::any_io_executor&, std::error_code& ec)
  {
    const auto info = platform::memory::stat(h.get(), ec);
    if (ec) return {};
    if (!info.regular) {
      ec = errc::invalid_handle;
      return {};
    }
    return file(std::move(h));
  }
};

IPC_END_NAMESPACE

#endif // IPC_FILE_HPP
