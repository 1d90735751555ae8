// bench/harness.hpp - what every benchmark program here shares: loop budgets, timing loops,
// percentiles and medians, the table cells, forked children, and the raw socketpair baseline.
// SPDX-License-Identifier: BSL-1.0
//
// The method these helpers implement is in /work/shared/BENCHMARKING.md: a raw baseline in the
// same run, loops bounded by count and by time, warm-up before timing, p50/p99 per measurement
// and medians over rounds with [min-max].
#ifndef IPC_BENCH_HARNESS_HPP
#define IPC_BENCH_HARNESS_HPP

#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace bench {

using clock = std::chrono::steady_clock;

[[noreturn]] inline void fail(const std::string& what)
{
  throw std::runtime_error(what);
}
[[noreturn]] inline void fail_errno(const char* what)
{
  throw std::system_error(errno, std::system_category(), what);
}

inline double seconds(clock::duration d)
{
  return std::chrono::duration<double>(d).count();
}
inline double micros(clock::duration d)
{
  return std::chrono::duration<double, std::micro>(d).count();
}

/// This process's CPU time (user + system), in nanoseconds.
inline std::uint64_t cpu_now_ns()
{
  timespec ts;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

/// Stops a loop at whichever comes first: @p count iterations or @p time.
struct budget {
  std::size_t count;
  clock::time_point deadline;
  budget(std::size_t n, clock::duration t) : count(n), deadline(clock::now() + t) {}
  /// The clock is read every 16 iterations only.
  bool more(std::size_t done) const
  {
    return done < count && (done % 16 != 0 || clock::now() < deadline);
  }
};

// ---- timing and statistics ---------------------------------------------------------------

struct latency_result {
  double p50_us = 0, p99_us = 0;
  std::size_t samples = 0;
};

/// p50 and p99 of @p us (sorted in place).
inline latency_result summarize(std::vector<double>& us)
{
  if (us.empty()) fail("no samples");
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    const std::size_t i = static_cast<std::size_t>(p * static_cast<double>(us.size()));
    return us[std::min(i, us.size() - 1)];
  };
  return {pct(0.50), pct(0.99), us.size()};
}

/// Runs @p once while @p warm allows, untimed; then times each call of it into @p us while
/// @p meas allows (the budgets start counting when they are made: make them just before).
/// Returns the wall time of the timed part.
template <class Once>
clock::duration time_each(const budget& warm, std::vector<double>& us, Once&& once,
                          std::size_t count, clock::duration time)
{
  for (std::size_t i = 0; warm.more(i); ++i)
    once();
  us.reserve(us.size() + count);
  const budget meas(count, time);
  const auto start = clock::now();
  for (std::size_t i = 0; meas.more(i); ++i) {
    const auto t0 = clock::now();
    once();
    us.push_back(micros(clock::now() - t0));
  }
  return clock::now() - start;
}

/// Figures of one cell over rounds.
struct series {
  std::vector<double> v;
  double median() const
  {
    auto s = v;
    std::sort(s.begin(), s.end());
    const std::size_t n = s.size();
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  double min() const { return *std::min_element(v.begin(), v.end()); }
  double max() const { return *std::max_element(v.begin(), v.end()); }
};

/// Three or four significant digits, with k/M for large numbers.
inline std::string fmt(double x)
{
  char b[32];
  if (x >= 1e6)
    std::snprintf(b, sizeof b, "%.2fM", x / 1e6);
  else if (x >= 1e5)
    std::snprintf(b, sizeof b, "%.0fk", x / 1e3);
  else if (x >= 1e4)
    std::snprintf(b, sizeof b, "%.1fk", x / 1e3);
  else if (x >= 1000)
    std::snprintf(b, sizeof b, "%.0f", x);
  else if (x >= 100)
    std::snprintf(b, sizeof b, "%.1f", x);
  else if (x >= 10)
    std::snprintf(b, sizeof b, "%.2f", x);
  else
    std::snprintf(b, sizeof b, "%.3f", x);
  return b;
}

/// "median [min-max]".
inline std::string cell(const series& s)
{
  return fmt(s.median()) + " [" + fmt(s.min()) + "-" + fmt(s.max()) + "]";
}

inline std::string size_name(std::size_t n)
{
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " B";
}

/// @p rows rotated by @p round: each row goes first in some round.
template <class T> std::vector<T> rotated(const std::vector<T>& rows, int round)
{
  std::vector<T> out(rows);
  if (!out.empty())
    std::rotate(out.begin(), out.begin() + (round % static_cast<int>(out.size())), out.end());
  return out;
}

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

/// A receive buffer that grows geometrically and is reused for every message.
struct rx_buffer {
  std::unique_ptr<char[]> data;
  std::size_t capacity = 0;
  void reserve(std::size_t n, std::size_t keep = 0)
  {
    if (n <= capacity) return;
    std::size_t cap = capacity < 4096 ? 4096 : capacity;
    while (cap < n)
      cap *= 2;
    auto fresh = std::make_unique_for_overwrite<char[]>(cap);
    if (keep) std::memcpy(fresh.get(), data.get(), keep);
    data = std::move(fresh);
    capacity = cap;
  }
};

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

// ---- the one-way stream protocol ---------------------------------------------------------------
//
// The sender sends a batch, then an end marker (an empty message); the receiver answers the
// marker with an `ack`: how many messages it received since the previous marker, and its CPU
// time when it answered.

struct ack {
  std::uint64_t count = 0;
  std::uint64_t cpu_ns = 0;
};

/// The ack as text ("count cpu_ns"): every serializer, JSON included, carries it as a string.
inline std::string ack_bytes(std::uint64_t count)
{
  return std::to_string(count) + ' ' + std::to_string(cpu_now_ns());
}

inline ack parse_ack(std::string_view m)
{
  ack a;
  const std::size_t space = m.find(' ');
  if (space == std::string_view::npos) fail("bad acknowledgement");
  auto number = [](std::string_view digits, std::uint64_t& out) {
    if (std::from_chars(digits.data(), digits.data() + digits.size(), out).ptr !=
        digits.data() + digits.size())
      fail("bad acknowledgement");
  };
  number(m.substr(0, space), a.count);
  number(m.substr(space + 1), a.cpu_ns);
  return a;
}

struct stream_result {
  double msgs_per_s = 0, mb_per_s = 0;
  double cpu_us_per_msg = 0; // sender + receiver CPU time per message
  std::size_t messages = 0;
};

/// Runs @p batch (given a budget, it sends and returns the receiver's ack) once for warm-up
/// and once measured; the clock runs from the first measured send to the acknowledgement.
template <class Batch>
stream_result timed_batches(Batch&& batch, clock::duration warmup, std::size_t count,
                            clock::duration time, std::size_t size)
{
  const ack warm = batch(budget(count, warmup));
  const auto t0 = clock::now();
  const std::uint64_t c0 = cpu_now_ns();
  const ack meas = batch(budget(count, time));
  const double s = seconds(clock::now() - t0);
  const double cpu_ns =
      static_cast<double>(cpu_now_ns() - c0) + static_cast<double>(meas.cpu_ns - warm.cpu_ns);
  const double n = static_cast<double>(meas.count);
  return {n / s, n * static_cast<double>(size) / s / 1e6, cpu_ns / 1e3 / n, meas.count};
}

} // namespace bench

#endif // IPC_BENCH_HARNESS_HPP
