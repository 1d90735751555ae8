// bench/channel_bench.cpp - ipcxx channels against a hand-written socketpair baseline, same run.
// SPDX-License-Identifier: BSL-1.0
//
// Three measurements, each side by side with a raw baseline written here (see
// /work/shared/BENCHMARKING.md for the method):
//
//  1. Ping-pong round trip at 8 B, 1 KiB, 64 KiB, 1 MiB: the parent sends, a forked echo child
//     sends the same bytes back. p50 and p99 per row; ratio of p50 to raw p50 of the same round.
//  2. One-way throughput at 64 B, 64 KiB, 1 MiB: the parent sends until a count or a time limit
//     is reached, then an end marker; the child counts and acknowledges. MB/s, msgs/s, ratio;
//     also the CPU time both processes spent per message (steadier than wall time on a shared
//     machine, where other tenants' work lands on the pinned CPU too).
//  3. Descriptor passing: every message carries one descriptor (a dup of /dev/null) that the
//     receiver closes. Passes/s, CPU per pass, ratios.
//
// Rows:
//   raw        sendmsg(iovec {u32 length, payload}) per message; the receiver reads the 4-byte
//              header, then the payload, with blocking recv loops into a reused buffer (the
//              baseline every ratio is taken against).
//   raw-greedy same sender; the receiver reads as much as is available into a reused buffer and
//              cuts messages out of it (one recv per message in a ping-pong, coalesced reads in
//              a stream): the floor for a buffered reader such as ipcxx's.
//   raw+dup    (descriptors only) raw, plus the dup() and close() the ipcxx API implies for a
//              descriptor the sender keeps.
//   ipc-raw    ipc::channel<ipc::raw>, sync send(std::string_view) / receive<std::string_view>.
//   ipc-binary ipc::channel<ipc::binary>, sync send / receive of std::string.
//   ipc-async  ipc::channel<ipc::raw>, async_send / async_receive<std::string_view> with
//              callbacks on an asio::io_context (parent and child alike).
//
// Every measurement forks a fresh child after creating a socketpair; the child builds its own
// asio::io_context and adopts its descriptor. Each round measures every row once per size, in
// an order rotated from round to round; figures are medians over rounds with [min-max].
//
// Build: g++ -std=c++20 -O2 -DNDEBUG -I include bench/channel_bench.cpp -o channel_bench -lpthread
//        (or meson with -Dbench=true)
// Run:   taskset -c 0 ./channel_bench [--quick] [--rounds N]      (~45 s; --quick ~10 s)
// Profile one measurement with fixed work, e.g.:
//        strace -f -c ./channel_bench --one tp ipc-raw 1048576 --count 500
//        valgrind --tool=callgrind --trace-children=yes ./channel_bench --one fd ipc-raw 8 --count
//        2000
#include <ipc/channel.hpp>
#include <ipc/serializers/binary.hpp>
#include <ipc/serializers/raw.hpp>

#include <asio/io_context.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace bench {

using clock = std::chrono::steady_clock;

// ---- configuration -----------------------------------------------------------------------

struct config {
  int rounds = 5;
  bool quick = false;
  // Per measurement (one row, one size, one round).
  clock::duration warmup_time = std::chrono::milliseconds(30);
  std::size_t warmup_count = 200;
  clock::duration latency_time = std::chrono::milliseconds(150);
  std::size_t latency_count = 20000;
  clock::duration stream_time = std::chrono::milliseconds(250);
  std::size_t stream_count = 4'000'000;
  clock::duration fd_time = std::chrono::milliseconds(250);
  std::size_t fd_count = 1'000'000;
};

config cfg;

[[noreturn]] void fail(const std::string& what)
{
  throw std::runtime_error(what);
}
[[noreturn]] void fail_errno(const char* what)
{
  throw std::system_error(errno, std::system_category(), what);
}

double seconds(clock::duration d)
{
  return std::chrono::duration<double>(d).count();
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

// ---- the raw baseline --------------------------------------------------------------------

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
void raw_send(int fd, const void* payload, std::size_t n, int fd_to_pass = -1)
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
    ssize_t r = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
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

/// Blocking recv until @p n bytes are in; false on end of stream before the first byte.
bool recv_exact(int fd, char* p, std::size_t n)
{
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, p + got, n - got, 0);
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
bool raw_receive(int fd, rx_buffer& buf, std::string_view& out, int* passed_fd = nullptr)
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

/// The greedy baseline receiver: reads whatever is available (at least 64 KiB of room) and
/// cuts length-prefixed messages out of the buffer.
struct greedy_reader {
  static constexpr std::size_t chunk = 64 * 1024;
  rx_buffer buf;
  std::size_t begin = 0, end = 0;

  bool fill(int fd)
  {
    for (;;) {
      ssize_t r = ::recv(fd, buf.data.get() + end, buf.capacity - end, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNRESET) return false;
        fail_errno("raw recv");
      }
      if (r == 0) return false;
      end += static_cast<std::size_t>(r);
      return true;
    }
  }
  /// Makes room for @p need bytes from `begin` plus a chunk of read-ahead.
  void room(std::size_t need)
  {
    const std::size_t have = end - begin;
    if (begin + need + chunk > buf.capacity && begin > 0) {
      std::memmove(buf.data.get(), buf.data.get() + begin, have);
      begin = 0;
      end = have;
    }
    buf.reserve(begin + need + chunk, end);
  }
  bool receive(int fd, std::string_view& out)
  {
    if (begin == end) begin = end = 0;
    while (end - begin < 4) {
      room(4);
      if (!fill(fd)) {
        if (end != begin) fail("raw: truncated header");
        return false;
      }
    }
    std::uint32_t len;
    std::memcpy(&len, buf.data.get() + begin, 4);
    const std::size_t total = 4 + std::size_t{len};
    while (end - begin < total) {
      room(total);
      if (!fill(fd)) fail("raw: truncated message");
    }
    out = std::string_view(buf.data.get() + begin + 4, len);
    begin += total;
    return true;
  }
};

/// Closes a descriptor on scope exit.
struct fd_guard {
  int fd;
  ~fd_guard()
  {
    if (fd >= 0) ::close(fd);
  }
};

// ---- rows --------------------------------------------------------------------------------

enum class row { raw, raw_greedy, raw_dup, ipc_raw, ipc_binary, ipc_async };

const char* row_name(row r)
{
  switch (r) {
  case row::raw:
    return "raw";
  case row::raw_greedy:
    return "raw-greedy";
  case row::raw_dup:
    return "raw+dup";
  case row::ipc_raw:
    return "ipc-raw";
  case row::ipc_binary:
    return "ipc-binary";
  case row::ipc_async:
    return "ipc-async";
  }
  return "?";
}

ipc::native_handle adopt(int fd)
{
  return ipc::native_handle(fd);
}

/// Forks a child running @p child(fd) on one end of a fresh socketpair and runs @p parent(fd)
/// on the other. Each side owns its descriptor. The child is bounded by alarm().
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

// ---- 1. round-trip latency ----------------------------------------------------------------

struct latency_result {
  double p50_us = 0, p99_us = 0;
  std::size_t samples = 0;
};

latency_result summarize(std::vector<double>& us)
{
  if (us.empty()) fail("no samples");
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(us.size()));
    return us[std::min(i, us.size() - 1)];
  };
  return {pct(0.50), pct(0.99), us.size()};
}

/// The timed ping-pong loop shared by the sync rows: @p once() does one round trip.
template <class F> latency_result ping_pong(F&& once)
{
  budget warm(cfg.warmup_count, cfg.warmup_time);
  for (std::size_t i = 0; warm.more(i); ++i)
    once();
  std::vector<double> us;
  us.reserve(cfg.latency_count);
  budget b(cfg.latency_count, cfg.latency_time);
  for (std::size_t i = 0; b.more(i); ++i) {
    const auto t0 = clock::now();
    once();
    us.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
  }
  return summarize(us);
}

void check_size(std::size_t got, std::size_t want)
{
  if (got != want)
    fail("echo of wrong size: " + std::to_string(got) + " != " + std::to_string(want));
}

latency_result latency_raw(std::size_t size, bool greedy)
{
  return forked(
      [&](int fd) {
        fd_guard g{fd};
        rx_buffer buf;
        greedy_reader gr;
        std::string_view m;
        while (greedy ? gr.receive(fd, m) : raw_receive(fd, buf, m))
          raw_send(fd, m.data(), m.size());
      },
      [&](int fd) {
        fd_guard g{fd};
        const std::string payload(size, 'x');
        rx_buffer buf;
        greedy_reader gr;
        return ping_pong([&] {
          raw_send(fd, payload.data(), payload.size());
          std::string_view m;
          if (!(greedy ? gr.receive(fd, m) : raw_receive(fd, buf, m))) fail("raw: peer closed");
          check_size(m.size(), size);
        });
      });
}

latency_result latency_ipc_raw(std::size_t size)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        ipc::channel<ipc::raw> ch(io.get_executor(), adopt(fd));
        for (;;) {
          std::error_code ec;
          auto m = ch.receive<std::string_view>(ec);
          if (ec) break;
          ch.send(m.value); // zero-copy echo: the peer sends nothing until it has our reply
        }
      },
      [&](int fd) {
        asio::io_context io;
        ipc::channel<ipc::raw> ch(io.get_executor(), adopt(fd));
        const std::string payload(size, 'x');
        const std::string_view view(payload);
        return ping_pong([&] {
          ch.send(view);
          auto m = ch.receive<std::string_view>();
          check_size(m.value.size(), size);
        });
      });
}

latency_result latency_ipc_binary(std::size_t size)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        ipc::channel<ipc::binary> ch(io.get_executor(), adopt(fd));
        for (;;) {
          std::error_code ec;
          auto m = ch.receive<std::string>(ec);
          if (ec) break;
          ch.send(m.value);
        }
      },
      [&](int fd) {
        asio::io_context io;
        ipc::channel<ipc::binary> ch(io.get_executor(), adopt(fd));
        const std::string payload(size, 'x');
        return ping_pong([&] {
          ch.send(payload);
          auto m = ch.receive<std::string>();
          check_size(m.value.size(), size);
        });
      });
}

/// Async echo: every received message is queued back with async_send (which copies it) and
/// the next receive is started at once.
struct async_echo {
  ipc::channel<ipc::raw>& ch;
  void start()
  {
    ch.async_receive<std::string_view>(
        [this](std::error_code ec, ipc::message<std::string_view> m) {
          if (ec) {
            ch.close();
            return;
          }
          ch.async_send(m.value, [](std::error_code) {});
          start();
        });
  }
};

/// Async ping-pong: send and receive are started together; the receive's completion records
/// the sample and starts the next round trip.
struct async_pinger {
  ipc::channel<ipc::raw>& ch;
  std::string_view payload;
  budget warm, meas;
  std::vector<double> us;
  std::size_t i = 0;
  bool warming = true;
  clock::time_point t0;
  std::error_code error;

  void next()
  {
    if (warming && !warm.more(i)) {
      warming = false;
      i = 0;
      meas = budget(cfg.latency_count, cfg.latency_time);
    }
    if (!warming && !meas.more(i)) {
      ch.close();
      return;
    }
    t0 = clock::now();
    ch.async_send(payload, [this](std::error_code ec) {
      if (ec && !error) error = ec;
    });
    ch.async_receive<std::string_view>(
        [this](std::error_code ec, ipc::message<std::string_view> m) {
          if (ec) {
            if (!error) error = ec;
            ch.close();
            return;
          }
          if (!warming)
            us.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
          if (m.value.size() != payload.size()) {
            error = std::make_error_code(std::errc::message_size);
            ch.close();
            return;
          }
          ++i;
          next();
        });
  }
};

latency_result latency_ipc_async(std::size_t size)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        ipc::channel<ipc::raw> ch(io.get_executor(), adopt(fd));
        async_echo e{ch};
        e.start();
        io.run();
      },
      [&](int fd) {
        asio::io_context io;
        ipc::channel<ipc::raw> ch(io.get_executor(), adopt(fd));
        const std::string payload(size, 'x');
        async_pinger p{ch,
                       payload,
                       budget(cfg.warmup_count, cfg.warmup_time),
                       budget(cfg.latency_count, cfg.latency_time),
                       {},
                       0,
                       true,
                       {},
                       {}};
        p.us.reserve(cfg.latency_count);
        p.next();
        io.run();
        if (p.error) throw std::system_error(p.error, "ipc-async ping-pong");
        return summarize(p.us);
      });
}

latency_result measure_latency(row r, std::size_t size)
{
  switch (r) {
  case row::raw:
    return latency_raw(size, false);
  case row::raw_greedy:
    return latency_raw(size, true);
  case row::ipc_raw:
    return latency_ipc_raw(size);
  case row::ipc_binary:
    return latency_ipc_binary(size);
  case row::ipc_async:
    return latency_ipc_async(size);
  default:
    fail("no such latency row");
  }
}

// ---- 2. one-way throughput and 3. descriptor passing ----------------------------------------
//
// Protocol: the parent sends a warm-up batch, an end marker (an empty message), waits for the
// child's acknowledgement (how many messages it received, and its CPU time so far), then does the
// same for the measured batch. The clock runs from the first measured send to the
// acknowledgement. Besides wall-clock rates, the CPU time both processes spent on the measured
// batch is reported: on these shared machines other tenants' work inflates wall time (and on one
// pinned CPU, directly), while CPU time per message is the cost the implementation itself adds.

struct stream_result {
  double msgs_per_s = 0, mb_per_s = 0;
  double cpu_us_per_msg = 0; // parent + child CPU time per message
  std::size_t messages = 0;
};

std::uint64_t cpu_now_ns()
{
  timespec ts;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

/// The receiver's answer to an end marker.
struct ack {
  std::uint64_t count = 0;  // messages since the previous end marker
  std::uint64_t cpu_ns = 0; // the receiver's CPU time when it answered
};

std::string ack_bytes(std::uint64_t count)
{
  const ack a{count, cpu_now_ns()};
  return std::string(reinterpret_cast<const char*>(&a), sizeof a);
}

ack parse_ack(std::string_view m)
{
  ack a;
  if (m.size() != sizeof a) fail("bad acknowledgement");
  std::memcpy(&a, m.data(), sizeof a);
  return a;
}

/// Runs @p batch (which returns the child's ack) for warm-up and then for the measurement.
template <class Batch>
stream_result timed_batches(Batch&& batch, std::size_t count, clock::duration time,
                            std::size_t size)
{
  const ack warm = batch(budget(count, cfg.warmup_time));
  const auto t0 = clock::now();
  const std::uint64_t c0 = cpu_now_ns();
  const ack meas = batch(budget(count, time));
  const double s = seconds(clock::now() - t0);
  const double cpu_ns =
      static_cast<double>(cpu_now_ns() - c0) + static_cast<double>(meas.cpu_ns - warm.cpu_ns);
  const double n = static_cast<double>(meas.count);
  return {n / s, n * static_cast<double>(size) / s / 1e6, cpu_ns / 1e3 / n, meas.count};
}

/// @p pass_fd: each message carries one descriptor (raw: the original, which the kernel
/// duplicates; raw+dup: a dup() closed after sending, as ipcxx does).
stream_result stream_raw(std::size_t size, bool greedy, int pass_fd, bool dup_each)
{
  return forked(
      [&](int fd) {
        fd_guard g{fd};
        rx_buffer buf;
        greedy_reader gr;
        std::uint64_t n = 0;
        for (;;) {
          std::string_view m;
          int got = -1;
          const bool ok = pass_fd >= 0 ? raw_receive(fd, buf, m, &got)
                          : greedy     ? gr.receive(fd, m)
                                       : raw_receive(fd, buf, m);
          if (!ok) break;
          if (m.empty()) {
            const std::string a = ack_bytes(n);
            raw_send(fd, a.data(), a.size());
            n = 0;
            continue;
          }
          if (pass_fd >= 0) {
            if (got < 0) fail("raw: descriptor missing");
            ::close(got);
          }
          ++n;
        }
      },
      [&](int fd) {
        fd_guard g{fd};
        const std::string payload(size, 'x');
        rx_buffer buf;
        greedy_reader gr;
        auto batch = [&](budget b) {
          std::size_t i = 0;
          for (; b.more(i); ++i) {
            if (pass_fd < 0) {
              raw_send(fd, payload.data(), payload.size());
            } else if (!dup_each) {
              raw_send(fd, payload.data(), payload.size(), pass_fd);
            } else {
              const int d = ::dup(pass_fd);
              if (d < 0) fail_errno("dup");
              raw_send(fd, payload.data(), payload.size(), d);
              ::close(d);
            }
          }
          raw_send(fd, nullptr, 0);
          std::string_view m;
          if (!(greedy ? gr.receive(fd, m) : raw_receive(fd, buf, m))) fail("raw: no ack");
          const ack a = parse_ack(m);
          if (a.count != i) fail("raw: lost messages");
          return a;
        };
        return timed_batches(batch, pass_fd >= 0 ? cfg.fd_count : cfg.stream_count,
                             pass_fd >= 0 ? cfg.fd_time : cfg.stream_time, size);
      });
}

template <class S, class T> stream_result stream_ipc_sync(std::size_t size, int pass_fd)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        ipc::channel<S> ch(io.get_executor(), adopt(fd));
        std::uint64_t n = 0;
        for (;;) {
          std::error_code ec;
          auto m = ch.template receive<T>(ec);
          if (ec) break;
          if (m.value.empty()) {
            ch.send(ack_bytes(n)); // a std::string: both serializers take it
            n = 0;
            continue;
          }
          if (pass_fd >= 0 && m.handle_count() != 1) fail("ipc: descriptor missing");
          ++n; // the message (and its descriptor) is destroyed here
        }
      },
      [&](int fd) {
        asio::io_context io;
        ipc::channel<S> ch(io.get_executor(), adopt(fd));
        const std::string storage(size, 'x');
        const T payload(storage); // ipc-raw: a view of storage; ipc-binary: a std::string
        auto batch = [&](budget b) {
          std::size_t i = 0;
          for (; b.more(i); ++i) {
            if (pass_fd < 0) {
              ch.send(payload);
            } else {
              const int d = ::dup(pass_fd);
              if (d < 0) fail_errno("dup");
              ch.send(payload, ipc::native_handle(d));
            }
          }
          ch.send(T());
          auto m = ch.template receive<std::string>();
          const ack a = parse_ack(m.value);
          if (a.count != i) fail("ipc: lost messages");
          return a;
        };
        return timed_batches(batch, pass_fd >= 0 ? cfg.fd_count : cfg.stream_count,
                             pass_fd >= 0 ? cfg.fd_time : cfg.stream_time, size);
      });
}

/// The async receiver: counts messages (closing any descriptor with the message) and answers
/// each end marker with the count.
struct async_counter {
  ipc::channel<ipc::raw>& ch;
  bool expect_fd;
  std::uint64_t n = 0;
  std::error_code error;
  void start()
  {
    ch.async_receive<std::string_view>(
        [this](std::error_code ec, ipc::message<std::string_view> m) {
          if (ec) {
            if (ec != asio::error::eof) error = ec;
            ch.close();
            return;
          }
          if (m.value.empty()) {
            const std::string a = ack_bytes(n); // async_send copies it before returning
            ch.async_send(std::string_view(a), [](std::error_code) {});
            n = 0;
          } else {
            if (expect_fd && m.handle_count() != 1)
              error = std::make_error_code(std::errc::bad_message);
            ++n;
          }
          start();
        });
  }
};

/// The async sender: one async_send at a time, the next started from the previous one's
/// completion; then the end marker and the acknowledgement.
struct async_streamer {
  ipc::channel<ipc::raw>& ch;
  std::string_view payload;
  int pass_fd;
  budget b;
  std::size_t i = 0;
  std::optional<ack> acked;
  std::error_code error;

  void next()
  {
    if (error) return;
    if (!b.more(i)) {
      ch.async_send(std::string_view(), [this](std::error_code ec) {
        if (ec) error = ec;
      });
      ch.async_receive<std::string_view>(
          [this](std::error_code ec, ipc::message<std::string_view> m) {
            if (ec)
              error = ec;
            else
              acked = parse_ack(m.value);
          });
      return;
    }
    auto done = [this](std::error_code ec) {
      if (ec) {
        error = ec;
        return;
      }
      ++i;
      next();
    };
    if (pass_fd < 0) {
      ch.async_send(payload, done);
    } else {
      const int d = ::dup(pass_fd);
      if (d < 0) fail_errno("dup");
      ch.async_send(payload, ipc::native_handle(d), done);
    }
  }
};

stream_result stream_ipc_async(std::size_t size, int pass_fd)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        ipc::channel<ipc::raw> ch(io.get_executor(), adopt(fd));
        async_counter c{ch, pass_fd >= 0, 0, {}};
        c.start();
        io.run();
        if (c.error) throw std::system_error(c.error, "ipc-async receiver");
      },
      [&](int fd) {
        asio::io_context io;
        ipc::channel<ipc::raw> ch(io.get_executor(), adopt(fd));
        const std::string payload(size, 'x');
        auto batch = [&](budget b) {
          async_streamer s{ch, payload, pass_fd, b, 0, std::nullopt, {}};
          s.next();
          io.restart();
          io.run();
          if (s.error) throw std::system_error(s.error, "ipc-async sender");
          if (!s.acked || s.acked->count != s.i) fail("ipc-async: lost messages");
          return *s.acked;
        };
        return timed_batches(batch, pass_fd >= 0 ? cfg.fd_count : cfg.stream_count,
                             pass_fd >= 0 ? cfg.fd_time : cfg.stream_time, size);
      });
}

stream_result measure_stream(row r, std::size_t size, int pass_fd)
{
  switch (r) {
  case row::raw:
    return stream_raw(size, false, pass_fd, false);
  case row::raw_greedy:
    return stream_raw(size, true, pass_fd, false);
  case row::raw_dup:
    return stream_raw(size, false, pass_fd, true);
  case row::ipc_raw:
    return stream_ipc_sync<ipc::raw, std::string_view>(size, pass_fd);
  case row::ipc_binary:
    return stream_ipc_sync<ipc::binary, std::string>(size, pass_fd);
  case row::ipc_async:
    return stream_ipc_async(size, pass_fd);
  }
  fail("no such row");
}

// ---- statistics and the table ----------------------------------------------------------------

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

std::string fmt(double x)
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

std::string cell(const series& s)
{
  return fmt(s.median()) + " [" + fmt(s.min()) + "-" + fmt(s.max()) + "]";
}

std::string size_name(std::size_t n)
{
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " B";
}

/// Rows rotated by @p round: each row goes first in some round.
std::vector<row> rotated(const std::vector<row>& rows, int round)
{
  std::vector<row> out(rows);
  std::rotate(out.begin(), out.begin() + (round % static_cast<int>(rows.size())), out.end());
  return out;
}

std::string affinity()
{
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return "?";
  std::string s;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

} // namespace bench

int main(int argc, char** argv)
{
  using namespace bench;
  std::string_view one_kind, one_row;
  std::size_t one_size = 0;
  bool fixed_count = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a(argv[i]);
    if (a == "--quick") {
      cfg.quick = true;
    } else if (a == "--rounds" && i + 1 < argc) {
      cfg.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--count" && i + 1 < argc) {
      // Fixed work for instruction counts: exactly N measured messages, no warm-up.
      const std::size_t n = std::strtoull(argv[++i], nullptr, 10);
      cfg.latency_count = cfg.stream_count = cfg.fd_count = n;
      cfg.latency_time = cfg.stream_time = cfg.fd_time = std::chrono::seconds(50);
      cfg.warmup_time = clock::duration::zero();
      fixed_count = true;
    } else if (a == "--one" && i + 3 < argc) {
      one_kind = argv[++i];
      one_row = argv[++i];
      one_size = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--quick] [--rounds N] [--one rt|tp|fd ROW SIZE [--count N]]\n"
                   "  --one runs a single measurement once, without warm-up pass or rounds (for\n"
                   "  strace -c -f / valgrind --tool=callgrind --trace-children=yes)\n",
                   argv[0]);
      return 2;
    }
  }
  if (cfg.quick && !fixed_count) {
    cfg.warmup_time = std::chrono::milliseconds(8);
    cfg.warmup_count = 50;
    cfg.latency_time = std::chrono::milliseconds(25);
    cfg.stream_time = std::chrono::milliseconds(40);
    cfg.fd_time = std::chrono::milliseconds(40);
  }
  ::signal(SIGPIPE, SIG_IGN);
  ::alarm(cfg.quick ? 120 : 400); // a watchdog: no configuration may hang the run

  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    std::perror("/dev/null");
    return 1;
  }

  if (!one_kind.empty()) {
    // One measurement, for profiling.
    std::optional<row> r;
    for (row c :
         {row::raw, row::raw_greedy, row::raw_dup, row::ipc_raw, row::ipc_binary, row::ipc_async})
      if (one_row == row_name(c)) r = c;
    try {
      if (!r) fail("unknown row");
      if (one_kind == "rt") {
        const latency_result l = measure_latency(*r, one_size);
        std::printf("rt %s %s: p50 %s us, p99 %s us, %zu samples\n", row_name(*r),
                    size_name(one_size).c_str(), fmt(l.p50_us).c_str(), fmt(l.p99_us).c_str(),
                    l.samples);
      } else if (one_kind == "tp" || one_kind == "fd") {
        const stream_result t = measure_stream(*r, one_size, one_kind == "fd" ? devnull : -1);
        std::printf("%s %s %s: %s MB/s, %s msgs/s, %s CPU us/msg, %zu messages\n",
                    std::string(one_kind).c_str(), row_name(*r), size_name(one_size).c_str(),
                    fmt(t.mb_per_s).c_str(), fmt(t.msgs_per_s).c_str(),
                    fmt(t.cpu_us_per_msg).c_str(), t.messages);
      } else {
        fail("unknown kind");
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "channel_bench: %s\n", e.what());
      return 1;
    }
    return 0;
  }

  const std::vector<std::size_t> lat_sizes = {8, 1024, 64 * 1024, 1024 * 1024};
  const std::vector<std::size_t> tp_sizes = {64, 64 * 1024, 1024 * 1024};
  const std::vector<row> lat_rows = {row::raw, row::raw_greedy, row::ipc_raw, row::ipc_binary,
                                     row::ipc_async};
  const std::vector<row> tp_rows = lat_rows;
  const std::vector<row> fd_rows = {row::raw, row::raw_dup, row::ipc_raw, row::ipc_async};

  // (size, row) -> per-round figures; ratios are taken against raw of the same round.
  std::map<std::pair<std::size_t, row>, series> p50, p99, p50_ratio, p50_ratio_greedy, mbs, msgs,
      tp_ratio, tp_cpu, tp_cpu_ratio, fds, fd_ratio, fd_cpu, fd_cpu_ratio;

  const auto start = clock::now();
  try {
    // Process-level warm-up: one short pass of each kind, discarded.
    {
      config saved = cfg;
      cfg.latency_time = cfg.warmup_time;
      cfg.stream_time = cfg.warmup_time;
      cfg.fd_time = cfg.warmup_time;
      for (row r : lat_rows)
        (void)measure_latency(r, 1024);
      for (row r : tp_rows)
        (void)measure_stream(r, 64 * 1024, -1);
      for (row r : fd_rows)
        (void)measure_stream(r, 8, devnull);
      cfg = saved;
    }

    for (int round = 0; round < cfg.rounds; ++round) {
      for (std::size_t size : lat_sizes) {
        std::map<row, latency_result> got;
        for (row r : rotated(lat_rows, round))
          got[r] = measure_latency(r, size);
        for (row r : lat_rows) {
          p50[{size, r}].v.push_back(got[r].p50_us);
          p99[{size, r}].v.push_back(got[r].p99_us);
          p50_ratio[{size, r}].v.push_back(got[r].p50_us / got[row::raw].p50_us);
          p50_ratio_greedy[{size, r}].v.push_back(got[r].p50_us / got[row::raw_greedy].p50_us);
        }
      }
      for (std::size_t size : tp_sizes) {
        std::map<row, stream_result> got;
        for (row r : rotated(tp_rows, round))
          got[r] = measure_stream(r, size, -1);
        for (row r : tp_rows) {
          mbs[{size, r}].v.push_back(got[r].mb_per_s);
          msgs[{size, r}].v.push_back(got[r].msgs_per_s);
          tp_ratio[{size, r}].v.push_back(got[r].mb_per_s / got[row::raw].mb_per_s);
          tp_cpu[{size, r}].v.push_back(got[r].cpu_us_per_msg);
          tp_cpu_ratio[{size, r}].v.push_back(got[row::raw].cpu_us_per_msg / got[r].cpu_us_per_msg);
        }
      }
      {
        std::map<row, stream_result> got;
        for (row r : rotated(fd_rows, round))
          got[r] = measure_stream(r, 8, devnull);
        for (row r : fd_rows) {
          fds[{8, r}].v.push_back(got[r].msgs_per_s);
          fd_ratio[{8, r}].v.push_back(got[r].msgs_per_s / got[row::raw].msgs_per_s);
          fd_cpu[{8, r}].v.push_back(got[r].cpu_us_per_msg);
          fd_cpu_ratio[{8, r}].v.push_back(got[row::raw].cpu_us_per_msg / got[r].cpu_us_per_msg);
        }
      }
      std::fprintf(stderr, "round %d/%d done (%.1f s)\n", round + 1, cfg.rounds,
                   seconds(clock::now() - start));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "channel_bench: %s\n", e.what());
    return 1;
  }

  std::printf("channel_bench: CPUs allowed {%s}, %d rounds%s, %.1f s. Each cell: median over "
              "rounds [min-max].\n"
              "Ratios are per round against raw of the same round: time ratio = row/raw (lower is "
              "better); rate ratio = row/raw and CPU ratio = raw CPU/row CPU (higher is better).\n",
              affinity().c_str(), cfg.rounds, cfg.quick ? " (--quick)" : "",
              seconds(clock::now() - start));
  const char* line = "%-9s %-7s %-11s %-24s %-24s %-20s %-21s %s\n";
  std::printf("\n");
  std::printf(line, "what", "size", "row", "p50 us", "p99 us", "", "p50 time ratio",
              "p50 ratio to raw-greedy");
  for (std::size_t size : lat_sizes)
    for (row r : lat_rows)
      std::printf(line, "rt", size_name(size).c_str(), row_name(r), cell(p50[{size, r}]).c_str(),
                  cell(p99[{size, r}]).c_str(), "", cell(p50_ratio[{size, r}]).c_str(),
                  cell(p50_ratio_greedy[{size, r}]).c_str());
  std::printf("\n");
  std::printf(line, "what", "size", "row", "MB/s", "msgs/s", "CPU us/msg", "rate ratio",
              "CPU ratio");
  for (std::size_t size : tp_sizes)
    for (row r : tp_rows)
      std::printf(line, "one-way", size_name(size).c_str(), row_name(r),
                  cell(mbs[{size, r}]).c_str(), cell(msgs[{size, r}]).c_str(),
                  cell(tp_cpu[{size, r}]).c_str(), cell(tp_ratio[{size, r}]).c_str(),
                  cell(tp_cpu_ratio[{size, r}]).c_str());
  std::printf("\n");
  std::printf(line, "what", "size", "row", "passes/s", "", "CPU us/pass", "rate ratio",
              "CPU ratio");
  for (row r : fd_rows)
    std::printf(line, "1 fd/msg", "8 B", row_name(r), cell(fds[{8, r}]).c_str(), "",
                cell(fd_cpu[{8, r}]).c_str(), cell(fd_ratio[{8, r}]).c_str(),
                cell(fd_cpu_ratio[{8, r}]).c_str());
  return 0;
}
