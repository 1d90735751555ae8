// bench/channel_bench.cpp - ipcxx channels against a hand-written socketpair baseline, same run.
// SPDX-License-Identifier: BSL-1.0
//
// Three measurements, each side by side with a raw baseline written here (see
// /work/shared/BENCHMARKING.md for the method; the shared helpers are in harness.hpp):
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
// Rows (pick with --rows a,b,c; raw is always measured):
//   raw              sendmsg(iovec {u32 length, payload}) per message; the receiver reads the
//                    4-byte header, then the payload, with blocking recv loops into a reused
//                    buffer (the baseline every ratio is taken against).
//   raw-greedy       same sender; the receiver reads as much as is available into a reused
//                    buffer and cuts messages out of it (one recv per message in a ping-pong,
//                    coalesced reads in a stream): the floor for a buffered reader like ipcxx's.
//   raw+dup          (descriptors only) raw, plus the dup() and close() the ipcxx API implies for
//                    a descriptor the sender keeps.
//   ipc-raw          ipc::channel<ipc::raw>, sync send(std::string_view) / receive<string_view>.
//   ipc-binary       ipc::channel<ipc::binary>, sync send / receive of std::string.
//   ipc-json         ipc::channel<ipc::json>, sync send / receive of std::string.
//   ipc-*-async      the same channels with async_send / async_receive and callbacks on an
//                    asio::io_context (parent and child alike).
//   asio             hand-written standalone Asio over local::stream_protocol: asio::write of
//                    {u32 length, payload}, asio::read of the length, then of the payload into a
//                    reused std::string (what a C++ user writes without ipcxx; no descriptors).
//
// Every measurement forks a fresh child after creating a socketpair; the child builds its own
// asio::io_context and adopts its descriptor. Each round measures every row once per size, in
// an order rotated from round to round; figures are medians over rounds with [min-max].
//
// Build: meson setup build -Dbench=true && meson compile -C build channel_bench
// Run:   taskset -c 0 ./channel_bench [--quick] [--rounds N] [--rows a,b,c]  (~45 s; --quick ~10 s)
//        --machine [--round N]: one round, figures as lines "row metric size value" (for
//        bench/compare, which takes the ratios itself).
// Profile one measurement with fixed work, e.g.:
//        strace -f -c ./channel_bench --one tp ipc-raw 1048576 --count 500
//        valgrind --tool=callgrind --trace-children=yes ./channel_bench --one fd ipc-raw 8 --count
//        2000
#include <ipc/channel.hpp>
#include <ipc/serializers/binary.hpp>
#include <ipc/serializers/raw.hpp>
#ifndef IPC_DISABLE_JSON
#include <ipc/serializers/json.hpp>
#endif

#include "harness.hpp"
#include "ping.hpp"

#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace bench {

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

// ---- the greedy raw receiver ---------------------------------------------------------------

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
// ---- rows --------------------------------------------------------------------------------

enum class row {
  raw,
  raw_greedy,
  raw_dup,
  ipc_raw,
  ipc_binary,
  ipc_json,
  ipc_raw_async,
  ipc_binary_async,
  ipc_json_async,
  asio_stream
};

constexpr std::array all_rows = {row::raw,           row::raw_greedy,       row::raw_dup,
                                 row::ipc_raw,       row::ipc_binary,       row::ipc_json,
                                 row::ipc_raw_async, row::ipc_binary_async, row::ipc_json_async,
                                 row::asio_stream};

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
  case row::ipc_json:
    return "ipc-json";
  case row::ipc_raw_async:
    return "ipc-raw-async";
  case row::ipc_binary_async:
    return "ipc-binary-async";
  case row::ipc_json_async:
    return "ipc-json-async";
  case row::asio_stream:
    return "asio";
  }
  return "?";
}

std::optional<row> row_named(std::string_view name)
{
  for (row r : all_rows)
    if (name == row_name(r)) return r;
  return std::nullopt;
}

ipc::native_handle adopt(int fd)
{
  return ipc::native_handle(fd);
}

/// The payload of @p size bytes as the row's message type views or holds it.
template <class T> T message_of(const std::string& storage)
{
  return T(storage);
}

// ---- hand-written Asio -------------------------------------------------------------------

using asio_socket = asio::local::stream_protocol::socket;

asio_socket adopt_asio(asio::io_context& io, int fd)
{
  asio_socket s(io);
  s.assign(asio::local::stream_protocol(), fd);
  return s;
}

void asio_send(asio_socket& s, std::string_view payload)
{
  const std::uint32_t len = static_cast<std::uint32_t>(payload.size());
  const std::array<asio::const_buffer, 2> bufs = {asio::buffer(&len, 4), asio::buffer(payload)};
  asio::write(s, bufs);
}

/// False at end of stream.
bool asio_receive(asio_socket& s, std::string& buf)
{
  std::uint32_t len = 0;
  std::error_code ec;
  asio::read(s, asio::buffer(&len, 4), ec);
  if (ec == asio::error::eof || ec == asio::error::connection_reset) return false;
  if (ec) throw std::system_error(ec, "asio read");
  buf.resize(len);
  asio::read(s, asio::buffer(buf));
  return true;
}

// ---- 1. round-trip latency ----------------------------------------------------------------

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
        return ping_pong(cfg, [&] {
          raw_send(fd, payload.data(), payload.size());
          std::string_view m;
          if (!(greedy ? gr.receive(fd, m) : raw_receive(fd, buf, m))) fail("raw: peer closed");
          check_size(m.size(), size);
        });
      });
}

latency_result latency_asio(std::size_t size)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        asio_socket s = adopt_asio(io, fd);
        std::string buf;
        while (asio_receive(s, buf))
          asio_send(s, buf);
      },
      [&](int fd) {
        asio::io_context io;
        asio_socket s = adopt_asio(io, fd);
        const std::string payload(size, 'x');
        std::string buf;
        return ping_pong(cfg, [&] {
          asio_send(s, payload);
          if (!asio_receive(s, buf)) fail("asio: peer closed");
          check_size(buf.size(), size);
        });
      });
}

/// Sync rows: @p T is what is sent and received (a view for ipc::raw: zero-copy both ways).
template <class S, class T> latency_result latency_ipc_sync(std::size_t size)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        ipc::channel<S> ch(io.get_executor(), adopt(fd));
        for (;;) {
          std::error_code ec;
          auto m = ch.template receive<T>(ec);
          if (ec) break;
          ch.send(m.value); // the peer sends nothing until it has our reply
        }
      },
      [&](int fd) {
        asio::io_context io;
        ipc::channel<S> ch(io.get_executor(), adopt(fd));
        const std::string storage(size, 'x');
        const T payload = message_of<T>(storage);
        return ping_pong(cfg, [&] {
          ch.send(payload);
          auto m = ch.template receive<T>();
          check_size(m.value.size(), size);
        });
      });
}

/// Async echo: every received message is queued back with async_send (which copies it) and
/// the next receive is started at once.
template <class S, class T> struct async_echo {
  ipc::channel<S>& ch;
  void start()
  {
    ch.template async_receive<T>([this](std::error_code ec, ipc::message<T> m) {
      if (ec) {
        ch.close();
        return;
      }
      ch.async_send(m.value, [](std::error_code) {});
      start();
    });
  }
};

template <class S, class T> latency_result latency_ipc_async(std::size_t size)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        ipc::channel<S> ch(io.get_executor(), adopt(fd));
        async_echo<S, T> e{ch};
        e.start();
        io.run();
      },
      [&](int fd) {
        asio::io_context io;
        ipc::channel<S> ch(io.get_executor(), adopt(fd));
        const std::string storage(size, 'x');
        const T payload = message_of<T>(storage);
        return async_pinger<ipc::channel<S>, T>(ch, payload, cfg).run(io, "ipc async ping-pong");
      });
}

#ifndef IPC_DISABLE_JSON
using json_serializer = ipc::json;
#else
using json_serializer = ipc::binary; // the JSON rows are refused in main()
#endif

latency_result measure_latency(row r, std::size_t size)
{
  switch (r) {
  case row::raw:
    return latency_raw(size, false);
  case row::raw_greedy:
    return latency_raw(size, true);
  case row::ipc_raw:
    return latency_ipc_sync<ipc::raw, std::string_view>(size);
  case row::ipc_binary:
    return latency_ipc_sync<ipc::binary, std::string>(size);
  case row::ipc_json:
    return latency_ipc_sync<json_serializer, std::string>(size);
  case row::ipc_raw_async:
    return latency_ipc_async<ipc::raw, std::string_view>(size);
  case row::ipc_binary_async:
    return latency_ipc_async<ipc::binary, std::string>(size);
  case row::ipc_json_async:
    return latency_ipc_async<json_serializer, std::string>(size);
  case row::asio_stream:
    return latency_asio(size);
  default:
    fail("no such latency row");
  }
}

// ---- 2. one-way throughput and 3. descriptor passing ----------------------------------------
//
// Protocol (harness.hpp): the parent sends a warm-up batch, an end marker (an empty message),
// waits for the child's acknowledgement (how many messages it received, and its CPU time so
// far), then does the same for the measured batch. Besides wall-clock rates, the CPU time both
// processes spent on the measured batch is reported: on these shared machines other tenants'
// work inflates wall time (and on one pinned CPU, directly), while CPU time per message is the
// cost the implementation itself adds.

/// timed_batches with this program's budgets for streams (@p pass_fd < 0) or descriptors.
template <class Batch> stream_result timed(Batch&& batch, int pass_fd, std::size_t size)
{
  return timed_batches(batch, cfg.warmup_time, pass_fd >= 0 ? cfg.fd_count : cfg.stream_count,
                       pass_fd >= 0 ? cfg.fd_time : cfg.stream_time, size);
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
            raw_send(fd, ack_bytes(n));
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
        return timed(batch, pass_fd, size);
      });
}

stream_result stream_asio(std::size_t size)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        asio_socket s = adopt_asio(io, fd);
        std::string buf;
        std::uint64_t n = 0;
        while (asio_receive(s, buf)) {
          if (buf.empty()) {
            asio_send(s, ack_bytes(n));
            n = 0;
          } else {
            ++n;
          }
        }
      },
      [&](int fd) {
        asio::io_context io;
        asio_socket s = adopt_asio(io, fd);
        const std::string payload(size, 'x');
        std::string buf;
        auto batch = [&](budget b) {
          std::size_t i = 0;
          for (; b.more(i); ++i)
            asio_send(s, payload);
          asio_send(s, {});
          if (!asio_receive(s, buf)) fail("asio: no ack");
          const ack a = parse_ack(buf);
          if (a.count != i) fail("asio: lost messages");
          return a;
        };
        return timed(batch, -1, size);
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
            ch.send(ack_bytes(n)); // a std::string: every serializer takes it
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
        const T payload = message_of<T>(storage);
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
        return timed(batch, pass_fd, size);
      });
}

/// The async receiver: counts messages (closing any descriptor with the message) and answers
/// each end marker with the count.
template <class S, class T> struct async_counter {
  ipc::channel<S>& ch;
  bool expect_fd;
  std::uint64_t n = 0;
  std::error_code error{};
  void start()
  {
    ch.template async_receive<T>([this](std::error_code ec, ipc::message<T> m) {
      if (ec) {
        if (ec != asio::error::eof) error = ec;
        ch.close();
        return;
      }
      if (m.value.empty()) {
        const std::string a = ack_bytes(n); // async_send encodes it before returning
        ch.async_send(message_of<T>(a), [](std::error_code) {});
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
template <class S, class T> struct async_streamer {
  ipc::channel<S>& ch;
  const T& payload;
  int pass_fd;
  budget b;
  std::size_t i = 0;
  std::optional<ack> acked{};
  std::error_code error{};

  void next()
  {
    if (error) return;
    if (!b.more(i)) {
      ch.async_send(T(), [this](std::error_code ec) {
        if (ec) error = ec;
      });
      ch.template async_receive<std::string>(
          [this](std::error_code ec, ipc::message<std::string> m) {
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

template <class S, class T> stream_result stream_ipc_async(std::size_t size, int pass_fd)
{
  return forked(
      [&](int fd) {
        asio::io_context io;
        ipc::channel<S> ch(io.get_executor(), adopt(fd));
        async_counter<S, T> c{ch, pass_fd >= 0};
        c.start();
        io.run();
        if (c.error) throw std::system_error(c.error, "ipc async receiver");
      },
      [&](int fd) {
        asio::io_context io;
        ipc::channel<S> ch(io.get_executor(), adopt(fd));
        const std::string storage(size, 'x');
        const T payload = message_of<T>(storage);
        auto batch = [&](budget b) {
          async_streamer<S, T> s{ch, payload, pass_fd, b};
          s.next();
          io.restart();
          io.run();
          if (s.error) throw std::system_error(s.error, "ipc async sender");
          if (!s.acked || s.acked->count != s.i) fail("ipc async: lost messages");
          return *s.acked;
        };
        return timed(batch, pass_fd, size);
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
  case row::ipc_json:
    return stream_ipc_sync<json_serializer, std::string>(size, pass_fd);
  case row::ipc_raw_async:
    return stream_ipc_async<ipc::raw, std::string_view>(size, pass_fd);
  case row::ipc_binary_async:
    return stream_ipc_async<ipc::binary, std::string>(size, pass_fd);
  case row::ipc_json_async:
    return stream_ipc_async<json_serializer, std::string>(size, pass_fd);
  case row::asio_stream:
    if (pass_fd >= 0) fail("asio: no descriptor passing");
    return stream_asio(size);
  }
  fail("no such row");
}

bool is_json(row r)
{
  return r == row::ipc_json || r == row::ipc_json_async;
}

/// Rows that can carry a descriptor with a message.
bool passes_fds(row r)
{
  return r == row::raw || r == row::raw_dup || r == row::ipc_raw || r == row::ipc_binary ||
         r == row::ipc_raw_async || r == row::ipc_binary_async;
}

/// @p list ("a,b,c") as rows, raw first (every ratio needs it).
std::vector<row> parse_rows(std::string_view list)
{
  std::vector<row> out = {row::raw};
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    const std::optional<row> r = row_named(name);
    if (!r) fail("unknown row: " + std::string(name));
#ifdef IPC_DISABLE_JSON
    if (is_json(*r)) fail("built without JSON");
#endif
    if (std::find(out.begin(), out.end(), *r) == out.end()) out.push_back(*r);
  }
  return out;
}

} // namespace bench

int main(int argc, char** argv)
{
  using namespace bench;
  std::string_view one_kind, one_row, rows_arg;
  std::size_t one_size = 0;
  bool fixed_count = false, machine = false;
  int first_round = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a(argv[i]);
    if (a == "--quick") {
      cfg.quick = true;
    } else if (a == "--rounds" && i + 1 < argc) {
      cfg.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--rows" && i + 1 < argc) {
      rows_arg = argv[++i];
    } else if (a == "--machine") {
      machine = true;
    } else if (a == "--round" && i + 1 < argc) {
      first_round = std::max(0, std::atoi(argv[++i]));
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
                   "usage: %s [--quick] [--rounds N] [--rows a,b,c] [--machine [--round N]]\n"
                   "          [--one rt|tp|fd ROW SIZE [--count N]]\n"
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
    try {
      const std::optional<row> r = row_named(one_row);
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
  const std::vector<std::size_t> tp_sizes =
      machine ? std::vector<std::size_t>{64, 1024 * 1024}
              : std::vector<std::size_t>{64, 64 * 1024, 1024 * 1024};
  std::vector<row> lat_rows, fd_rows;
  try {
    if (!rows_arg.empty())
      lat_rows = parse_rows(rows_arg);
    else if (machine)
      lat_rows = parse_rows("ipc-raw,ipc-binary,ipc-json,ipc-raw-async,ipc-binary-async,"
                            "ipc-json-async,asio");
    else
      lat_rows = parse_rows("raw-greedy,ipc-raw,ipc-binary,ipc-raw-async");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "channel_bench: %s\n", e.what());
    return 2;
  }
  for (row r : lat_rows)
    if (passes_fds(r) && r != row::ipc_binary && r != row::ipc_binary_async) fd_rows.push_back(r);
  if (!machine && rows_arg.empty()) fd_rows.insert(fd_rows.begin() + 1, row::raw_dup);
  std::erase(lat_rows, row::raw_dup); // descriptors only
  const std::vector<row> tp_rows = lat_rows;
  const bool greedy = std::find(lat_rows.begin(), lat_rows.end(), row::raw_greedy) != lat_rows.end();

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
      if (!machine) {
        for (row r : tp_rows)
          (void)measure_stream(r, 64 * 1024, -1);
        for (row r : fd_rows)
          (void)measure_stream(r, 8, devnull);
      }
      cfg = saved;
    }

    const int rounds = machine ? 1 : cfg.rounds;
    for (int round = first_round; round < first_round + rounds; ++round) {
      for (std::size_t size : lat_sizes) {
        std::map<row, latency_result> got;
        for (row r : rotated(lat_rows, round))
          got[r] = measure_latency(r, size);
        for (row r : lat_rows) {
          if (machine) {
            std::printf("%s rt_p50_us %zu %.3f\n%s rt_p99_us %zu %.3f\n", row_name(r), size,
                        got[r].p50_us, row_name(r), size, got[r].p99_us);
            continue;
          }
          p50[{size, r}].v.push_back(got[r].p50_us);
          p99[{size, r}].v.push_back(got[r].p99_us);
          p50_ratio[{size, r}].v.push_back(got[r].p50_us / got[row::raw].p50_us);
          if (greedy)
            p50_ratio_greedy[{size, r}].v.push_back(got[r].p50_us / got[row::raw_greedy].p50_us);
        }
      }
      for (std::size_t size : tp_sizes) {
        std::map<row, stream_result> got;
        for (row r : rotated(tp_rows, round))
          got[r] = measure_stream(r, size, -1);
        for (row r : tp_rows) {
          if (machine) {
            std::printf("%s tp_mb_s %zu %.3f\n%s tp_msgs_s %zu %.1f\n%s tp_cpu_us %zu %.4f\n",
                        row_name(r), size, got[r].mb_per_s, row_name(r), size,
                        got[r].msgs_per_s, row_name(r), size, got[r].cpu_us_per_msg);
            continue;
          }
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
          if (machine) {
            std::printf("%s fd_per_s 8 %.1f\n%s fd_cpu_us 8 %.4f\n", row_name(r),
                        got[r].msgs_per_s, row_name(r), got[r].cpu_us_per_msg);
            continue;
          }
          fds[{8, r}].v.push_back(got[r].msgs_per_s);
          fd_ratio[{8, r}].v.push_back(got[r].msgs_per_s / got[row::raw].msgs_per_s);
          fd_cpu[{8, r}].v.push_back(got[r].cpu_us_per_msg);
          fd_cpu_ratio[{8, r}].v.push_back(got[row::raw].cpu_us_per_msg / got[r].cpu_us_per_msg);
        }
      }
      std::fprintf(stderr, "channel_bench: round %d done (%.1f s)\n", round + 1,
                   seconds(clock::now() - start));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "channel_bench: %s\n", e.what());
    return 1;
  }
  if (machine) return 0;

  std::printf("channel_bench: CPUs allowed {%s}, %d rounds%s, %.1f s. Each cell: median over "
              "rounds [min-max].\n"
              "Ratios are per round against raw of the same round: time ratio = row/raw (lower is "
              "better); rate ratio = row/raw and CPU ratio = raw CPU/row CPU (higher is better).\n",
              affinity().c_str(), cfg.rounds, cfg.quick ? " (--quick)" : "",
              seconds(clock::now() - start));
  const char* line = "%-9s %-7s %-17s %-24s %-24s %-20s %-21s %s\n";
  std::printf("\n");
  std::printf(line, "what", "size", "row", "p50 us", "p99 us", "", "p50 time ratio",
              greedy ? "p50 ratio to raw-greedy" : "");
  for (std::size_t size : lat_sizes)
    for (row r : lat_rows)
      std::printf(line, "rt", size_name(size).c_str(), row_name(r), cell(p50[{size, r}]).c_str(),
                  cell(p99[{size, r}]).c_str(), "", cell(p50_ratio[{size, r}]).c_str(),
                  greedy ? cell(p50_ratio_greedy[{size, r}]).c_str() : "");
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
