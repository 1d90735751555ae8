// ipc/platform/windows/memory.hpp - files and shared memory (sections) over Windows handles.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_WINDOWS_MEMORY_HPP
#define IPC_PLATFORM_WINDOWS_MEMORY_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/platform/windows/traits.hpp"

#include <windows.h>

#include <cstddef>
#include <cstdint>
#include <system_error>

IPC_BEGIN_NAMESPACE
namespace platform::windows {

/// The calls behind `ipc::file` and `ipc::shared_memory`. Every handle is created
/// non-inheritable. Shared memory is a pagefile-backed section: Windows has no seals, and a
/// received section's size is what the kernel reports for a view of it, which is the size the
/// sender asked for rounded up to whole pages.
struct memory {
  using fd_type = HANDLE;

  // ---- files ----

  enum open_flags : unsigned { read = 1, write = 2, create = 4, truncate = 8, append = 16, exclusive = 32 };

  static fd_type open_file(const wchar_t* path, unsigned flags, std::error_code& ec) noexcept
  {
    DWORD access = 0;
    if (flags & read) access |= GENERIC_READ;
    if (flags & write) access |= GENERIC_WRITE;
    if (flags & append) access |= FILE_APPEND_DATA; // without FILE_WRITE_DATA: writes go to the end
    if (access == 0) access = GENERIC_READ;
    DWORD disposition = OPEN_EXISTING;
    if ((flags & create) && (flags & exclusive)) disposition = CREATE_NEW;
    else if ((flags & create) && (flags & truncate)) disposition = CREATE_ALWAYS;
    else if (flags & create) disposition = OPEN_ALWAYS;
    else if (flags & truncate) disposition = TRUNCATE_EXISTING;
    HANDLE h = ::CreateFileW(path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                             nullptr, disposition, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
      ec = last_error();
      return nullptr;
    }
    ec.clear();
    return h;
  }

  static std::size_t read_some(fd_type h, void* p, std::size_t n, std::error_code& ec) noexcept
  {
    DWORD got = 0;
    if (!::ReadFile(h, p, static_cast<DWORD>(n > (1u << 30) ? (1u << 30) : n), &got, nullptr)) {
      if (::GetLastError() == ERROR_HANDLE_EOF || ::GetLastError() == ERROR_BROKEN_PIPE) {
        ec.clear();
        return 0;
      }
      ec = last_error();
      return 0;
    }
    ec.clear();
    return got;
  }

  static std::size_t write_some(fd_type h, const void* p, std::size_t n, std::error_code& ec) noexcept
  {
    DWORD done = 0;
    if (!::WriteFile(h, p, static_cast<DWORD>(n > (1u << 30) ? (1u << 30) : n), &done, nullptr)) {
      ec = last_error();
      return 0;
    }
    ec.clear();
    return done;
  }

  enum class origin { begin, current, end };
  static std::uint64_t seek(fd_type h, std::int64_t offset, origin o, std::error_code& ec) noexcept
  {
    LARGE_INTEGER to, now;
    to.QuadPart = offset;
    const DWORD method = o == origin::begin ? FILE_BEGIN : o == origin::current ? FILE_CURRENT : FILE_END;
    if (!::SetFilePointerEx(h, to, &now, method)) {
      ec = last_error();
      return 0;
    }
    ec.clear();
    return static_cast<std::uint64_t>(now.QuadPart);
  }

  struct file_info {
    std::uint64_t size = 0;
    bool regular = false; // a disk file, or a memory section
  };
  static file_info stat(fd_type h, std::error_code& ec) noexcept
  {
    if (::GetFileType(h) == FILE_TYPE_DISK) {
      LARGE_INTEGER size;
      if (!::GetFileSizeEx(h, &size)) {
        ec = last_error();
        return {};
      }
      ec.clear();
      return {static_cast<std::uint64_t>(size.QuadPart), true};
    }
    // A section has no size query in the documented API: map it and ask about the view.
    void* p = ::MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    if (p == nullptr) {
      ec.clear(); // not a file or a section: the converters refuse it
      return {};
    }
    MEMORY_BASIC_INFORMATION mbi{};
    ::VirtualQuery(p, &mbi, sizeof mbi);
    ::UnmapViewOfFile(p);
    ec.clear();
    return {static_cast<std::uint64_t>(mbi.RegionSize), true};
  }

  // ---- shared memory ----

  static fd_type create_memory(std::size_t size, std::error_code& ec) noexcept
  {
    const auto s = static_cast<std::uint64_t>(size == 0 ? 1 : size); // sections cannot be empty
    HANDLE h = ::CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE,
                                    static_cast<DWORD>(s >> 32), static_cast<DWORD>(s), nullptr);
    if (h == nullptr) {
      ec = last_error();
      return nullptr;
    }
    ec.clear();
    return h;
  }

  static void* map(fd_type h, std::size_t size, bool writable, std::error_code& ec) noexcept
  {
    if (size == 0) {
      ec.clear();
      return nullptr;
    }
    void* p = ::MapViewOfFile(h, writable ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ, 0, 0, size);
    if (p == nullptr) {
      ec = last_error();
      return nullptr;
    }
    ec.clear();
    return p;
  }

  static void unmap(void* p, std::size_t) noexcept
  {
    if (p != nullptr) ::UnmapViewOfFile(p);
  }

  /// Windows cannot take write access away from handles that already have it.
  static void seal_read_only(fd_type, std::error_code& ec) noexcept
  {
    ec = std::make_error_code(std::errc::operation_not_supported);
  }
  static bool is_sealed_read_only(fd_type) noexcept { return false; }
};

} // namespace platform::windows
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_WINDOWS_MEMORY_HPP
