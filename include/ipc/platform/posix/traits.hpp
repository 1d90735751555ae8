// ipc/platform/posix/traits.hpp - the POSIX backend: Unix domain stream sockets with SCM_RIGHTS.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_POSIX_TRAITS_HPP
#define IPC_PLATFORM_POSIX_TRAITS_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/handle_kind.hpp"

#include <asio/buffer.hpp>
#include <asio/local/stream_protocol.hpp>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

IPC_BEGIN_NAMESPACE
namespace platform::posix {

/// Everything the portable layers need from the OS, as static functions over plain `int`s.
struct traits {
  using native_handle_type = int;
  static constexpr native_handle_type invalid_handle = -1;

  /// The Asio stream the channel's socket lives in.
  template <class Executor>
  using stream = asio::basic_stream_socket<asio::local::stream_protocol, Executor>;
  using protocol = asio::local::stream_protocol;

  /// Largest platform blob a handle-table entry may carry (POSIX sends descriptors out of band).
  static constexpr std::size_t max_handle_blob = 0;
  /// The blob an entry reserves for a handle: none, whatever its kind.
  static constexpr std::size_t handle_blob_size(handle_kind, native_handle_type) noexcept { return 0; }
  /// The kernel's per-message limit on SCM_RIGHTS descriptors (SCM_MAX_FD on Linux).
  static constexpr std::size_t max_handles_per_message = 253;

  static void close_handle(native_handle_type fd) noexcept
  {
    // Linux and the BSDs release the descriptor even when close() reports EINTR: never retry.
    ::close(fd);
  }

  static native_handle_type duplicate_handle(native_handle_type fd, std::error_code& ec) noexcept
  {
    int r = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (r < 0) ec.assign(errno, std::system_category());
    else ec.clear();
    return r;
  }

  /// A connected, close-on-exec pair of local stream sockets. Both ends stay in blocking mode:
  /// the channel's sync calls block in the kernel (one syscall), its async paths pass
  /// MSG_DONTWAIT.
  static std::pair<native_handle_type, native_handle_type> create_pair(std::error_code& ec) noexcept
  {
    int fds[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      ec.assign(errno, std::system_category());
      return {-1, -1};
    }
    ec.clear();
    return {fds[0], fds[1]};
  }

  /// Asio's sockets are descriptors too.
  using socket_handle_type = int;
  static constexpr int to_socket(native_handle_type fd) noexcept { return fd; }
  static constexpr native_handle_type from_socket(int fd) noexcept { return fd; }
  /// A duplicate of a socket an io_context uses can be used by another process (or context).
  static constexpr bool shares_bound_sockets = true;
  /// Asio's local (AF_UNIX) stream sockets and acceptors have converters.
  static constexpr bool transfers_local_sockets = true;

  /// What kind of socket a descriptor is, for converters that rebuild typed sockets.
  enum class socket_family { local, ipv4, ipv6, other };
  enum class socket_type { stream, datagram, seqpacket, other };
  struct socket_info {
    socket_family family = socket_family::other;
    socket_type type = socket_type::other;
    bool listening = false;
  };
  static socket_info describe_socket(native_handle_type fd, std::error_code& ec) noexcept
  {
    socket_info info;
    int type = 0, listening = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
      ec.assign(errno, std::system_category());
      return info;
    }
    len = sizeof listening;
    // Only connection-oriented sockets listen: a datagram socket is spared the syscall.
    if (type != SOCK_DGRAM && ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0)
      listening = 0;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) {
      ec.assign(errno, std::system_category());
      return info;
    }
    ec.clear();
    info.family = addr.ss_family == AF_UNIX    ? socket_family::local
                  : addr.ss_family == AF_INET  ? socket_family::ipv4
                  : addr.ss_family == AF_INET6 ? socket_family::ipv6
                                               : socket_family::other;
    info.type = type == SOCK_STREAM      ? socket_type::stream
                : type == SOCK_DGRAM     ? socket_type::datagram
                : type == SOCK_SEQPACKET ? socket_type::seqpacket
                                         : socket_type::other;
    info.listening = listening != 0;
    return info;
  }

  /// Makes @p fd close-on-exec (Asio opens and accepts sockets without it).
  static void set_close_on_exec(native_handle_type fd, std::error_code& ec) noexcept
  {
    // FD_CLOEXEC is the only descriptor flag there is: set it without reading the others.
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) ec.assign(errno, std::system_category());
    else ec.clear();
  }

  /// Puts @p fd in non-blocking mode (O_NONBLOCK: shared by every descriptor of the same open
  /// file, so also by a peer that received a copy). Node's event loop expects sockets it is
  /// handed to be non-blocking already.
  static void set_nonblocking(native_handle_type fd, std::error_code& ec) noexcept
  {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) ec.assign(errno, std::system_category());
    else ec.clear();
  }

  /// Checks that @p fd is a local stream socket, the only kind a channel can run over, and makes
  /// it close-on-exec (an adopted descriptor may come from code that did not).
  static void check_channel_handle(native_handle_type fd, std::error_code& ec) noexcept
  {
    const socket_info info = describe_socket(fd, ec);
    if (ec) {
      if (ec == std::errc::not_a_socket) ec = errc::invalid_handle;
      return;
    }
    if (info.type != socket_type::stream || info.family != socket_family::local) {
      ec = errc::invalid_handle;
      return;
    }
    set_close_on_exec(fd, ec);
  }

  /// One `sendmsg`: the gathered @p buffers with @p handles attached as SCM_RIGHTS (only on
  /// a frame's first write: after a short write the rest goes without them, or the peer would
  /// receive the descriptors twice). Returns the bytes written; 0 with `would_block` when the
  /// socket buffer is full and @p nonblocking.
  static std::size_t send_some(native_handle_type fd, std::span<const asio::const_buffer> buffers,
                               std::span<const native_handle_type> handles, bool nonblocking,
                               std::error_code& ec) noexcept
  {
    constexpr std::size_t max_iov = 16;
    iovec iov[max_iov];
    std::size_t n = 0;
    for (const auto& b : buffers) {
      if (b.size() == 0) continue;
      if (n == max_iov) break; // the caller loops on partial writes
      iov[n].iov_base = const_cast<void*>(b.data());
      iov[n].iov_len = b.size();
      ++n;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_handles_per_message)];
    if (!handles.empty()) {
      const std::size_t payload = sizeof(int) * handles.size();
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(payload);
      std::memset(control, 0, msg.msg_controllen);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(payload);
      std::memcpy(CMSG_DATA(c), handles.data(), payload);
    }
    const int flags = MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0);
    for (;;) {
      ssize_t r = ::sendmsg(fd, &msg, flags);
      if (r >= 0) {
        ec.clear();
        return static_cast<std::size_t>(r);
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) ec = asio::error::would_block;
      else ec.assign(errno, std::system_category());
      return 0;
    }
  }

  /// One `recvmsg` into @p buffer. Descriptors that arrive are appended to @p handles (already
  /// close-on-exec). Returns the bytes read; 0 with no error is end of stream. A truncated
  /// control message closes every descriptor that did arrive and reports `handles_truncated`.
  /// The control buffer holds @p max_handles + 1 descriptors so that one too many is seen as
  /// excess (and refused by the frame layer) rather than silently truncated.
  static std::size_t receive_some(native_handle_type fd, std::span<std::byte> buffer,
                                  std::vector<native_handle_type>& handles,
                                  std::size_t max_handles, bool nonblocking,
                                  std::error_code& ec) noexcept
  {
    iovec iov{buffer.data(), buffer.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (max_handles > max_handles_per_message) max_handles = max_handles_per_message;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (max_handles_per_message + 1))];
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (max_handles + 1));
    int flags = nonblocking ? MSG_DONTWAIT : 0;
#if IPC_HAS_MSG_CMSG_CLOEXEC
    flags |= MSG_CMSG_CLOEXEC;
#endif
    ssize_t r;
    for (;;) {
      r = ::recvmsg(fd, &msg, flags);
      if (r >= 0) break;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) ec = asio::error::would_block;
      else ec.assign(errno, std::system_category());
      return 0;
    }
    const std::size_t first = handles.size();
    if (msg.msg_controllen > 0) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char* data = CMSG_DATA(c);
        for (std::size_t i = 0; i < count; ++i) {
          int h;
          std::memcpy(&h, data + i * sizeof(int), sizeof h);
#if !IPC_HAS_MSG_CMSG_CLOEXEC
          ::fcntl(h, F_SETFD, FD_CLOEXEC);
#endif
          handles.push_back(h);
        }
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) {
      for (std::size_t i = first; i < handles.size(); ++i) ::close(handles[i]);
      handles.resize(first);
      ec = errc::handles_truncated;
      return static_cast<std::size_t>(r);
    }
    ec.clear();
    return static_cast<std::size_t>(r);
  }

  /// The peer's process, user and group ids (SO_PEERCRED): taken by the kernel when the
  /// connection was made (for a socketpair, when the pair was created: both ends then report
  /// the creating process).
  struct credentials {
    long pid = -1;
    long uid = -1;
    long gid = -1;
  };
  static long process_id() noexcept { return static_cast<long>(::getpid()); }

  /// The peer's end moved to process @p pid. Descriptors travel with the socket here, so
  /// nothing depends on who holds it (`peer_credentials` keeps naming the socket's creator).
  static void peer_moved(native_handle_type, std::uint32_t pid) noexcept { (void)pid; }

  static credentials peer_credentials(native_handle_type fd, std::error_code& ec) noexcept
  {
    credentials c;
#if defined(SO_PEERCRED)
    ucred u{};
    socklen_t len = sizeof u;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &len) != 0) {
      ec.assign(errno, std::system_category());
      return c;
    }
    c.pid = u.pid;
    c.uid = u.uid;
    c.gid = u.gid;
    ec.clear();
#else
    (void)fd;
    ec = std::make_error_code(std::errc::operation_not_supported);
#endif
    return c;
  }

  /// What a descriptor refers to (device and inode), for telling whether a descriptor number
  /// still names the object it named earlier: numbers are reused, open objects' inodes are not.
  struct handle_identity {
    std::uint64_t a = 0, b = 0;
    friend bool operator==(const handle_identity&, const handle_identity&) = default;
  };
  static handle_identity identify_handle(native_handle_type fd, std::error_code& ec) noexcept
  {
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
      ec.assign(errno, std::system_category());
      return {};
    }
    ec.clear();
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  }

  enum class readiness { readable = 1, writable = 2 };

  /// Blocks until @p fd is readable and/or writable (whichever of @p want), for the sync paths.
  /// Returns the bits that are ready; POLLHUP/POLLERR count as ready so the next call reports.
  static int wait(native_handle_type fd, int want, std::error_code& ec) noexcept
  {
    pollfd p{fd, 0, 0};
    if (want & int(readiness::readable)) p.events |= POLLIN;
    if (want & int(readiness::writable)) p.events |= POLLOUT;
    for (;;) {
      int r = ::poll(&p, 1, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        ec.assign(errno, std::system_category());
        return 0;
      }
      break;
    }
    ec.clear();
    int ready = 0;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) ready |= int(readiness::readable);
    if (p.revents & (POLLOUT | POLLHUP | POLLERR)) ready |= int(readiness::writable);
    if (p.revents & POLLNVAL) ec.assign(EBADF, std::system_category());
    return ready;
  }
};

} // namespace platform::posix
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_POSIX_TRAITS_HPP
