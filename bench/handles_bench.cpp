// bench/handles_bench.cpp - handle passing per converter vs raw SCM_RIGHTS, and shared memory
// vs copying the same bytes through the socket, measured in the same run.
//
//   handles_bench [--quick]
//
// Handle rows: the parent passes one handle per message to a forked child, which adopts it
// (the converter's got) and closes it; the child acknowledges every 256th. "raw" is sendmsg /
// recvmsg with SCM_RIGHTS and a 4-byte header, written here; it passes dup()s of the same
// descriptor, as the converter rows do. Memory rows: handing a filled region of N bytes to the
// child (which then reads its first and last byte) against sending the same N bytes through the
// channel. Pin it (`taskset -c 0`) for stable figures; medians of 5 rounds, order rotated.
// SPDX-License-Identifier: BSL-1.0
#include <ipc.hpp>

#include "harness.hpp"

#include <asio/io_context.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using channel = ipc::channel<ipc::raw>;

/// Large enough for the 1 GiB copies the memory rows compare against.
const ipc::channel_options big{.max_message_size = (std::size_t(1) << 30) + 4096, .max_handles = 4};

/// Runs @p child_body in a forked child over one end of a socketpair, @p parent_body here over
/// the other; returns what the parent measured.
template <class Child, class Parent>
double forked(Child child_body, Parent parent_body)
{
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::exit(2);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sv[0]);
    child_body(sv[1]);
    ::_exit(0);
  }
  ::close(sv[1]);
  const double r = parent_body(sv[0]);
  ::close(sv[0]);
  ::waitpid(pid, nullptr, 0);
  return r;
}

// ---- handle passing -----------------------------------------------------------------------------

constexpr int ack_every = 256;

int raw_recv_fd(int sock)
{
  char hdr[4];
  iovec iov{hdr, 4};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL) != 4) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fd);
  return fd;
}

/// Passes/s for @p n passes of dup(@p source) as raw SCM_RIGHTS.
double rate_raw(int source, int n)
{
  return forked(
    [n](int sock) {
      for (int i = 1; i <= n; ++i) {
        const int fd = raw_recv_fd(sock);
        if (fd < 0) return;
        ::close(fd);
        if (i % ack_every == 0 && ::write(sock, "a", 1) != 1) return;
      }
    },
    [&](int sock) {
      const auto t0 = clock_type::now();
      char a;
      for (int i = 1; i <= n; ++i) {
        const int fd = ::dup(source);
        bench::raw_send(sock, nullptr, 0, fd); // a zero length, and the descriptor
        ::close(fd);
        if (i % ack_every == 0 && ::read(sock, &a, 1) != 1) std::exit(4);
      }
      return n / std::chrono::duration<double>(clock_type::now() - t0).count();
    });
}

/// Passes/s for @p n passes over raw SCM_RIGHTS, as `rate_raw`, of an @p H made by @p make and
/// turned into a descriptor by its converter's `send`, rebuilt in the child by its `got`: what
/// the object work alone costs on top of the floor, without the channel (framing, ACKs).
template <class H, class Make>
double rate_raw_converted(int n, Make make)
{
  return forked(
    [n](int sock) {
      asio::io_context io;
      for (int i = 1; i <= n; ++i) {
        const int fd = raw_recv_fd(sock);
        if (fd < 0) return;
        std::error_code ec;
        H object = ipc::handle_converter<H>::got(ipc::native_handle(fd), io.get_executor(), ec);
        if (ec) std::exit(5);
        if (i % ack_every == 0 && ::write(sock, "a", 1) != 1) return;
      }
    },
    [&](int sock) {
      asio::io_context io;
      const auto t0 = clock_type::now();
      char a;
      for (int i = 1; i <= n; ++i) {
        std::error_code ec;
        ipc::native_handle h = ipc::handle_converter<H>::send(make(io), ec);
        if (ec) std::exit(4);
        bench::raw_send(sock, nullptr, 0, h.get());
        h.reset();
        if (i % ack_every == 0 && ::read(sock, &a, 1) != 1) std::exit(4);
      }
      return n / std::chrono::duration<double>(clock_type::now() - t0).count();
    });
}

/// Passes/s for @p n passes of an @p H made by @p make, taken by the child as an @p H.
template <class H, class Make>
double rate_ipc(int n, Make make)
{
  return forked(
    [n](int sock) {
      asio::io_context io;
      channel ch(io.get_executor(), ipc::native_handle(sock));
      for (int i = 1; i <= n; ++i) {
        std::error_code ec;
        auto m = ch.receive<std::string_view>(ec);
        if (ec) return;
        auto h = m.template take_handle<H>(0, io.get_executor(), ec);
        if (ec) std::exit(5);
        if (i % ack_every == 0) ch.send(std::string_view("a"));
      }
    },
    [&](int sock) {
      asio::io_context io;
      channel ch(io.get_executor(), ipc::native_handle(::dup(sock)));
      const auto t0 = clock_type::now();
      for (int i = 1; i <= n; ++i) {
        ch.send(std::string_view(""), make(io));
        if (i % ack_every == 0) (void)ch.receive<std::string_view>();
      }
      return n / std::chrono::duration<double>(clock_type::now() - t0).count();
    });
}

// ---- shared memory vs the socket ----------------------------------------------------------------

/// Seconds per delivery of @p size bytes through the channel (the child receives a view).
double copy_through_socket(std::size_t size, int n)
{
  return forked(
    [n](int sock) {
      asio::io_context io;
      channel ch(io.get_executor(), ipc::native_handle(sock), big);
      for (int i = 0; i < n; ++i) {
        auto m = ch.receive<std::string_view>();
        if (m.value.empty()) std::exit(6);
        ch.send(std::string_view("a"));
      }
    },
    [&](int sock) {
      asio::io_context io;
      channel ch(io.get_executor(), ipc::native_handle(::dup(sock)), big);
      std::string data(size, 'x');
      const auto t0 = clock_type::now();
      for (int i = 0; i < n; ++i) {
        ch.send(std::string_view(data));
        (void)ch.receive<std::string_view>();
      }
      return std::chrono::duration<double>(clock_type::now() - t0).count() / n;
    });
}

/// Seconds per delivery of a filled region of @p size bytes (the child maps it and reads its
/// first and last byte). The regions are made and filled before the clock starts: the data is
/// produced in place, as a real producer would, instead of in a buffer that is then sent.
double hand_over_memory(std::size_t size, int n)
{
  return forked(
    [n, size](int sock) {
      asio::io_context io;
      channel ch(io.get_executor(), ipc::native_handle(sock));
      for (int i = 0; i < n; ++i) {
        auto m = ch.receive<std::string_view>();
        auto region = m.take_handle<ipc::shared_memory>(0, io.get_executor());
        if (region.size() != size || region.bytes()[0] != std::byte{'x'} ||
            region.bytes()[size - 1] != std::byte{'x'})
          std::exit(7);
        ch.send(std::string_view("a"));
      }
    },
    [&](int sock) {
      asio::io_context io;
      channel ch(io.get_executor(), ipc::native_handle(::dup(sock)));
      std::vector<ipc::shared_memory> regions;
      for (int i = 0; i < n; ++i) {
        regions.push_back(ipc::shared_memory::create(size));
        std::memset(regions.back().data().data(), 'x', size);
      }
      // The producer keeps its own mapping and hands over a second one (a dup'ed descriptor
      // and a lazy mapping): nothing is copied and nothing it touched is torn down.
      const auto t0 = clock_type::now();
      for (int i = 0; i < n; ++i) {
        ch.send(std::string_view(""), regions[i].duplicate());
        (void)ch.receive<std::string_view>();
      }
      return std::chrono::duration<double>(clock_type::now() - t0).count() / n;
    });
}

} // namespace

std::string span_of(std::vector<double> v, const char* f)
{
  std::sort(v.begin(), v.end());
  char buf[96];
  std::snprintf(buf, sizeof buf, f, v[v.size() / 2], v.front(), v.back());
  return buf;
}

int main(int argc, char** argv)
{
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int rounds = quick ? 3 : 5;
  const int passes = quick ? 4000 : 20000;

  // Sources that every pass duplicates: a device, a file, a UDP socket, a memory region.
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  char path[] = "/tmp/ipcxx-bench-XXXXXX";
  const int file_fd = ::mkstemp(path);
  ::unlink(path);
  const int udp_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int mem_fd = ipc::shared_memory::create(4096).release().release();

  struct row {
    const char* name;
    int source;
    std::function<double()> ipc;
    std::function<double()> converted; // raw SCM_RIGHTS plus the converter's send and got
  };
  const std::vector<row> rows = {
    {"native", devnull,
     [&] {
       return rate_ipc<ipc::native_handle>(
         passes, [&](asio::io_context&) { return ipc::native_handle::duplicate_of(devnull); });
     },
     [&] {
       return rate_raw_converted<ipc::native_handle>(
         passes, [&](asio::io_context&) { return ipc::native_handle::duplicate_of(devnull); });
     }},
    {"file", file_fd,
     [&] {
       return rate_ipc<ipc::file>(passes, [&](asio::io_context&) {
         return ipc::file(ipc::native_handle::duplicate_of(file_fd));
       });
     },
     [&] {
       return rate_raw_converted<ipc::file>(passes, [&](asio::io_context&) {
         return ipc::file(ipc::native_handle::duplicate_of(file_fd));
       });
     }},
    {"asio udp socket", udp_fd,
     [&] {
       return rate_ipc<asio::ip::udp::socket>(passes, [&](asio::io_context& io) {
         return asio::ip::udp::socket(io, asio::ip::udp::v4(), ::dup(udp_fd));
       });
     },
     [&] {
       return rate_raw_converted<asio::ip::udp::socket>(passes, [&](asio::io_context& io) {
         return asio::ip::udp::socket(io, asio::ip::udp::v4(), ::dup(udp_fd));
       });
     }},
    {"shared_memory 4 KiB", mem_fd,
     [&] {
       return rate_ipc<ipc::shared_memory>(passes, [&](asio::io_context&) {
         std::error_code ec;
         return ipc::shared_memory::adopt(ipc::native_handle::duplicate_of(mem_fd), 4096, true, ec);
       });
     },
     [&] {
       return rate_raw_converted<ipc::shared_memory>(passes, [&](asio::io_context&) {
         std::error_code ec;
         return ipc::shared_memory::adopt(ipc::native_handle::duplicate_of(mem_fd), 4096, true, ec);
       });
     }},
  };

  std::printf("handle passing, one per message, %d passes x %d rounds; passes/s median [min-max]\n"
              "raw: SCM_RIGHTS of a dup; raw+conv: the same plus the converter's send and got (the\n"
              "object work: Asio registration, checks, mappings); ipcxx: through a channel, ACKs on;\n"
              "bound: raw+conv/raw, the most any library could reach against raw for that type\n",
              passes, rounds);
  std::printf("%-20s %-24s %-24s %-24s %-18s %-18s %s\n", "converter", "raw", "raw+conv", "ipcxx",
              "bound", "ipcxx/raw", "ipcxx/raw+conv");
  for (const row& r : rows) {
    std::vector<double> raw, conv, ipc_rate, bound, ratio, ratio_conv;
    for (int round = 0; round < rounds; ++round) {
      // The order rotates from round to round.
      double a = 0, b = 0, c = 0;
      for (int k = 0; k < 3; ++k) {
        switch ((k + round) % 3) {
        case 0: a = rate_raw(r.source, passes); break;
        case 1: b = r.ipc(); break;
        case 2: c = r.converted(); break;
        }
      }
      raw.push_back(a);
      ipc_rate.push_back(b);
      conv.push_back(c);
      bound.push_back(c / a);
      ratio.push_back(b / a);
      ratio_conv.push_back(b / c);
    }
    std::printf("%-20s %-24s %-24s %-24s %-18s %-18s %s\n", r.name,
                span_of(raw, "%.0f [%.0f-%.0f]").c_str(), span_of(conv, "%.0f [%.0f-%.0f]").c_str(),
                span_of(ipc_rate, "%.0f [%.0f-%.0f]").c_str(),
                span_of(bound, "%.2f [%.2f-%.2f]").c_str(),
                span_of(ratio, "%.2f [%.2f-%.2f]").c_str(),
                span_of(ratio_conv, "%.2f [%.2f-%.2f]").c_str());
  }

  std::printf("\nhanding over N bytes: shared_memory (one descriptor) vs the bytes through the socket\n");
  std::printf("%-10s %-28s %-28s %s\n", "size", "socket ms/transfer", "shared_memory ms/transfer",
              "speed-up");
  std::vector<std::size_t> sizes = {std::size_t(1) << 20, std::size_t(64) << 20, std::size_t(256) << 20};
  if (!quick) sizes.push_back(std::size_t(1) << 30);
  for (std::size_t size : sizes) {
    const int n = size <= (1u << 20) ? 100 : size <= (64u << 20) ? 6 : 2;
    std::vector<double> sock, mem, gain;
    for (int round = 0; round < rounds; ++round) {
      const double a = copy_through_socket(size, n), b = hand_over_memory(size, n);
      sock.push_back(a * 1e3);
      mem.push_back(b * 1e3);
      gain.push_back(a / b);
    }
    std::printf("%-10s %-28s %-28s %s\n",
                (std::to_string(size >> 20) + " MiB").c_str(),
                span_of(sock, "%.3f [%.3f-%.3f]").c_str(), span_of(mem, "%.3f [%.3f-%.3f]").c_str(),
                span_of(gain, "%.1fx [%.1f-%.1f]").c_str());
  }
  return 0;
}
