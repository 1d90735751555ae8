// ipc/platform/posix/memory.hpp - files and memfd-backed shared memory: the OS calls.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_POSIX_MEMORY_HPP
#define IPC_PLATFORM_POSIX_MEMORY_HPP

#include "ipc/platform/config.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

IPC_BEGIN_NAMESPACE
namespace platform::posix {

struct memory {
  using fd_type = int;

  static std::error_code last_error() noexcept { return {errno, std::system_category()}; }

  /// Runs a read(2)/write(2)-style call again when a signal interrupted it.
  template <class Call>
  static std::size_t retry(Call call, std::error_code& ec) noexcept
  {
    for (;;) {
      const ssize_t r = call();
      if (r >= 0) {
        ec.clear();
        return static_cast<std::size_t>(r);
      }
      if (errno != EINTR) {
        ec = last_error();
        return 0;
      }
    }
  }

  // ---- files ----

  enum open_flags : unsigned { read = 1, write = 2, create = 4, truncate = 8, append = 16, exclusive = 32 };

  static fd_type open_file(const char* path, unsigned flags, std::error_code& ec) noexcept
  {
    int f = O_CLOEXEC;
    f |= (flags & read) && (flags & (write | append)) ? O_RDWR : (flags & (write | append)) ? O_WRONLY : O_RDONLY;
    if (flags & create) f |= O_CREAT;
    if (flags & truncate) f |= O_TRUNC;
    if (flags & append) f |= O_APPEND;
    if (flags & exclusive) f |= O_EXCL;
    int fd;
    do fd = ::open(path, f, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) ec = last_error();
    else ec.clear();
    return fd;
  }

  static std::size_t read_some(fd_type fd, void* p, std::size_t n, std::error_code& ec) noexcept
  {
    return retry([&] { return ::read(fd, p, n); }, ec);
  }

  static std::size_t write_some(fd_type fd, const void* p, std::size_t n, std::error_code& ec) noexcept
  {
    return retry([&] { return ::write(fd, p, n); }, ec);
  }

  enum class origin { begin, current, end };
  static std::uint64_t seek(fd_type fd, std::int64_t offset, origin o, std::error_code& ec) noexcept
  {
    const int whence = o == origin::begin ? SEEK_SET : o == origin::current ? SEEK_CUR : SEEK_END;
    const off_t r = ::lseek(fd, static_cast<off_t>(offset), whence);
    if (r < 0) {
      ec = last_error();
      return 0;
    }
    ec.clear();
    return static_cast<std::uint64_t>(r);
  }

  struct file_info {
    std::uint64_t size = 0;
    bool regular = false;
  };
  static file_info stat(fd_type fd, std::error_code& ec) noexcept
  {
    struct ::stat st {};
    if (::fstat(fd, &st) != 0) {
      ec = last_error();
      return {};
    }
    ec.clear();
    return {static_cast<std::uint64_t>(st.st_size), S_ISREG(st.st_mode)};
  }

  // ---- shared memory ----

  /// An anonymous memory file that can be sealed (memfd_create): it lives as long as any
  /// descriptor or mapping of it, and nothing of it is ever in the filesystem.
  static fd_type create_memory(std::size_t size, std::error_code& ec) noexcept
  {
    const int fd = ::memfd_create("ipcxx", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
      ec = last_error();
      return -1;
    }
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      ec = last_error();
      ::close(fd);
      return -1;
    }
    ec.clear();
    return fd;
  }

  static void* map(fd_type fd, std::size_t size, bool writable, std::error_code& ec) noexcept
  {
    if (size == 0) {
      ec.clear();
      return nullptr;
    }
    void* p = ::mmap(nullptr, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      ec = last_error();
      return nullptr;
    }
    ec.clear();
    return p;
  }

  static void unmap(void* p, std::size_t size) noexcept
  {
    if (p != nullptr && size != 0) ::munmap(p, size);
  }

  /// Seals the memory against any further write or resize (F_SEAL_WRITE needs every writable
  /// mapping gone first: the caller unmaps before sealing).
  static void seal_read_only(fd_type fd, std::error_code& ec) noexcept
  {
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
      ec = last_error();
    else
      ec.clear();
  }

  /// True when nobody can write or resize the memory any more.
  static bool is_sealed_read_only(fd_type fd) noexcept
  {
    const int seals = ::fcntl(fd, F_GET_SEALS);
    const int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    return seals >= 0 && (seals & need) == need;
  }
};

} // namespace platform::posix
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_POSIX_MEMORY_HPP
