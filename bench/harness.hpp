// bench/harness.hpp - the POSIX half of what the benchmark programs here share: the CPU
// affinity line, forked children, and the raw socketpair baseline. The portable half (budgets,
// timing, statistics, cells, the stream protocol) is measure.hpp, included here.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_BENCH_HARNESS_HPP
#define IPC_BENCH_HARNESS_HPP

#include "measure.hpp"

#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace bench {

/// The CPUs this process may run on, e.g. "0" under `taskset -c 0`.
inline std::string affinity()
{
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return "?";
  std::string s;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

// ---- processes -------------------------------------------------------------------------------

/// Closes a descriptor on scope exit.
struct fd_guard {
  int fd;
  explicit fd_guard(int d) : fd(d) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard()
  {
    if (fd >= 0) ::close(fd);
  }
};

/// Forks a child running @p child(fd) on one end of a fresh socketpair and runs @p parent(fd)
/// on the other; returns what the parent returns. Each side owns its descriptor. The child is
/// bounded by alarm(); a child that fails makes this throw.
template <class Child, class Parent> auto forked(Child&& child, Parent&& parent)
{
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail_errno("socketpair");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) {
    ::close(sv[0]);
    ::alarm(60);
    int rc = 0;
    try {
      child(sv[1]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      rc = 1;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  ::close(sv[1]);
  struct reaper {
    pid_t pid;
    bool armed = true;
    ~reaper()
    {
      if (!armed) return;
      int st;
      ::waitpid(pid, &st, 0);
    }
  } reap{pid};
  auto result = parent(sv[0]);
  reap.armed = false;
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("child failed");
  return result;
}

// ---- the raw baseline ------------------------------------------------------------------------

/// One sendmsg of {u32 length, payload} (looping only on a short write), with @p fd_to_pass
/// attached as SCM_RIGHTS when it is not -1.
inline void raw_send(int fd, const void* payload, std::size_t n, int fd_to_pass = -1)
{
  std::uint32_t len = static_cast<std::uint32_t>(n);
  iovec iov[2] = {{&len, 4}, {const_cast<void*>(payload), n}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n ? 2 : 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd_to_pass >= 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
  }
  std::size_t left = 4 + n;
  for (;;) {
    const ssize_t r = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail_errno("raw sendmsg");
    }
    left -= static_cast<std::size_t>(r);
    if (left == 0) return;
    msg.msg_control = nullptr; // the descriptor went with the first byte
    msg.msg_controllen = 0;
    std::size_t skip = static_cast<std::size_t>(r);
    while (skip >= msg.msg_iov->iov_len) {
      skip -= msg.msg_iov->iov_len;
      ++msg.msg_iov;
      --msg.msg_iovlen;
    }
    msg.msg_iov->iov_base = static_cast<char*>(msg.msg_iov->iov_base) + skip;
    msg.msg_iov->iov_len -= skip;
  }
}

inline void raw_send(int fd, std::string_view payload)
{
  raw_send(fd, payload.data(), payload.size());
}

/// Blocking recv until @p n bytes are in; false on end of stream before the first byte.
inline bool recv_exact(int fd, char* p, std::size_t n)
{
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, p + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET && got == 0) return false;
      fail_errno("raw recv");
    }
    if (r == 0) {
      if (got == 0) return false;
      fail("raw recv: truncated message");
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

/// The baseline receiver: header, then payload, each with blocking recv loops. When
/// @p passed_fd is given, the header is read with recvmsg and the descriptor that comes with it
/// is stored there. Returns false at end of stream.
inline bool raw_receive(int fd, rx_buffer& buf, std::string_view& out, int* passed_fd = nullptr)
{
  std::uint32_t len = 0;
  if (passed_fd == nullptr) {
    if (!recv_exact(fd, reinterpret_cast<char*>(&len), 4)) return false;
  } else {
    *passed_fd = -1;
    iovec iov{&len, 4};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t r;
    do
      r = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r < 0) fail_errno("raw recvmsg");
    if (r == 0) return false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        std::memcpy(passed_fd, CMSG_DATA(c), sizeof(int));
    if (r < 4 &&
        !recv_exact(fd, reinterpret_cast<char*>(&len) + r, 4 - static_cast<std::size_t>(r)))
      fail("raw recvmsg: truncated header");
  }
  buf.reserve(len);
  if (len != 0 && !recv_exact(fd, buf.data.get(), len)) fail("raw recv: truncated message");
  out = std::string_view(buf.data.get(), len);
  return true;
}

} // namespace bench

#endif // IPC_BENCH_HARNESS_HPP
