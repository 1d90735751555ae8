// bench/endpoint_bench.cpp - named endpoints vs a hand-written bind/listen/accept/connect loop.
// SPDX-License-Identifier: BSL-1.0
//
// Two measurements, each beside a raw baseline written here (method: /work/shared/BENCHMARKING.md;
// the shared timing, statistics and raw-socket helpers are in harness.hpp):
//
//  1. Connection setup: the client connects, sends one 8-byte message, reads the 8-byte reply
//     and closes; the server accepts, reads, replies and closes. Per-connection time p50/p99 and
//     connections per second. On a path endpoint, and on an abstract name (`@...`).
//  2. Round trip on an established named connection, 8 B and 1 KiB: the client sends, the server
//     sends the same bytes back. p50 and p99.
//
// Rows:
//   raw        socket(SOCK_CLOEXEC) + bind + listen + accept4(SOCK_CLOEXEC) + connect, messages as
//              one sendmsg of {u32 length, payload} and blocking recv loops (no permission
//              handling, no peer checks: the floor).
//   ipc        ipc::acceptor<ipc::raw>::accept / ipc::connect<ipc::raw>, sync send/receive of
//              std::string_view (the socket file made 0600 race-free, stale-file check, etc.).
//   ipc-async  ipc::acceptor::async_accept / ipc::async_connect, async_send / async_receive with
//              callbacks on an asio::io_context, in both processes.
//
// The server is a forked child per measurement (it builds its own io_context); the client is the
// parent. Each round measures every row once, in an order rotated from round to round; figures
// are medians over rounds with [min-max]; ratios are taken per round against raw of the same
// round and endpoint kind (time ratio: row/raw, lower is better).
//
// Build: g++ -std=c++20 -O2 -DNDEBUG -I include bench/endpoint_bench.cpp -o endpoint_bench -pthread
//        (or meson with -Dbench=true)
// Run:   taskset -c 0 ./endpoint_bench [--quick] [--rounds N]      (~15 s; --quick ~1 s)
#include <ipc/endpoint.hpp>
#include <ipc/serializers/raw.hpp>

#include "harness.hpp"

#include <asio/io_context.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace bench {

// ---- configuration -----------------------------------------------------------------------

struct config {
  int rounds = 5;
  bool quick = false;
  clock::duration warmup_time = std::chrono::milliseconds(30);
  std::size_t warmup_count = 200;
  clock::duration setup_time = std::chrono::milliseconds(300);
  std::size_t setup_count = 20000;
  clock::duration latency_time = std::chrono::milliseconds(200);
  std::size_t latency_count = 20000;
};

config cfg;

// ---- the raw baseline --------------------------------------------------------------------

/// The socket address of @p name ("@x": abstract, else a path).
socklen_t raw_address(const std::string& name, sockaddr_un& sa)
{
  sa = {};
  sa.sun_family = AF_UNIX;
  if (name.size() >= sizeof sa.sun_path) fail("name too long");
  if (name[0] == '@') {
    std::memcpy(sa.sun_path + 1, name.data() + 1, name.size() - 1);
    return socklen_t(offsetof(sockaddr_un, sun_path) + name.size());
  }
  std::memcpy(sa.sun_path, name.data(), name.size());
  return socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + 1);
}

int raw_listen(const std::string& name)
{
  sockaddr_un sa;
  const socklen_t len = raw_address(name, sa);
  if (name[0] != '@') ::unlink(name.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_errno("socket");
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0) fail_errno("bind");
  if (::listen(fd, 128) != 0) fail_errno("listen");
  return fd;
}

int raw_connect(const std::string& name)
{
  sockaddr_un sa;
  const socklen_t len = raw_address(name, sa);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_errno("socket");
  int r;
  do
    r = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len);
  while (r != 0 && errno == EINTR);
  if (r != 0) fail_errno("connect");
  return fd;
}

int raw_accept(int lfd)
{
  for (;;) {
    const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno != EINTR && errno != ECONNABORTED) fail_errno("accept4");
  }
}

// ---- rows and servers --------------------------------------------------------------------

enum class row { raw, ipc, ipc_async };

const char* row_name(row r)
{
  switch (r) {
  case row::raw:
    return "raw";
  case row::ipc:
    return "ipc";
  case row::ipc_async:
    return "ipc-async";
  }
  return "?";
}

using ipc_channel = ipc::channel<ipc::raw>;
using ipc_acceptor = ipc::acceptor<ipc::raw>;
constexpr std::string_view quit = "quit";

/// What a server child does: serve connections until told to stop.
enum class service { setup, echo };

/// Sync ipc server: for `setup`, one message per connection until "quit"; for `echo`, one
/// connection echoed until it closes.
void serve_ipc(const std::string& name, service what, int ready_fd)
{
  asio::io_context io;
  ipc_acceptor acceptor(io, name);
  if (::write(ready_fd, "r", 1) != 1) fail_errno("ready");
  for (;;) {
    ipc_channel ch = acceptor.accept();
    std::error_code ec;
    for (;;) {
      auto m = ch.receive<std::string_view>(ec);
      if (ec) break;
      if (m.value == quit) return;
      ch.send(m.value);
      if (what == service::setup) break;
    }
    if (what == service::echo) return;
  }
}

/// Async ipc server: the same on an io_context.
void serve_ipc_async(const std::string& name, service what, int ready_fd)
{
  asio::io_context io;
  ipc_acceptor acceptor(io, name);
  if (::write(ready_fd, "r", 1) != 1) fail_errno("ready");
  std::function<void(std::shared_ptr<ipc_channel>)> serve = [&](std::shared_ptr<ipc_channel> ch) {
    ch->async_receive<std::string_view>(
        [&, ch](std::error_code ec, ipc::message<std::string_view> m) {
          if (ec) {
            if (what == service::echo) acceptor.close();
            return;
          }
          if (m.value == quit) {
            acceptor.close();
            return;
          }
          ch->async_send(m.value, [ch](std::error_code) {});
          if (what == service::echo) serve(ch);
        });
  };
  std::function<void()> accept_next = [&] {
    acceptor.async_accept([&](std::error_code ec, ipc_channel ch) {
      if (ec) return;
      serve(std::make_shared<ipc_channel>(std::move(ch)));
      accept_next();
    });
  };
  accept_next();
  io.run();
}

void serve_raw(const std::string& name, service what, int ready_fd)
{
  const int lfd = raw_listen(name);
  if (::write(ready_fd, "r", 1) != 1) fail_errno("ready");
  rx_buffer buf;
  for (;;) {
    const int fd = raw_accept(lfd);
    std::string_view m;
    bool stop = false;
    while (raw_receive(fd, buf, m)) {
      if (m == quit) {
        stop = true;
        break;
      }
      raw_send(fd, m);
      if (what == service::setup) break;
    }
    ::close(fd);
    if (stop || what == service::echo) break;
  }
  ::close(lfd);
  if (name[0] != '@') ::unlink(name.c_str());
}

/// A forked server child; the destructor waits for it (and kills it if it does not end).
class server_child {
public:
  server_child(row r, const std::string& name, service what)
  {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) fail_errno("pipe");
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) fail_errno("fork");
    if (pid_ == 0) {
      ::close(p[0]);
      int code = 0;
      try {
        if (r == row::raw)
          serve_raw(name, what, p[1]);
        else if (r == row::ipc)
          serve_ipc(name, what, p[1]);
        else
          serve_ipc_async(name, what, p[1]);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "server: %s\n", e.what());
        code = 1;
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
    ::close(p[1]);
    char c;
    const ssize_t n = ::read(p[0], &c, 1);
    ::close(p[0]);
    if (n != 1) fail("server did not start");
  }
  server_child(const server_child&) = delete;
  server_child& operator=(const server_child&) = delete;
  ~server_child()
  {
    int st = 0;
    const auto deadline = clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &st, WNOHANG) == 0) {
      if (clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        break;
      }
      ::usleep(200);
    }
  }

private:
  pid_t pid_ = -1;
};

// ---- measurements --------------------------------------------------------------------------

struct result {
  double p50_us = 0, p99_us = 0, per_s = 0;
  std::size_t samples = 0;
};

result summarize(std::vector<double>& us, clock::duration total)
{
  const latency_result l = bench::summarize(us);
  return {l.p50_us, l.p99_us, double(l.samples) / seconds(total), l.samples};
}

const std::string payload8(8, 's');

/// One connection: connect, one 8-byte round trip, close.
void setup_once(row r, const std::string& name, asio::io_context& io, rx_buffer& buf)
{
  if (r == row::raw) {
    const int fd = raw_connect(name);
    raw_send(fd, payload8);
    std::string_view m;
    if (!raw_receive(fd, buf, m) || m.size() != 8) fail("raw: bad reply");
    ::close(fd);
  } else {
    ipc_channel ch = ipc::connect<ipc::raw>(io, name);
    ch.send(std::string_view(payload8));
    if (ch.receive<std::string_view>().value.size() != 8) fail("ipc: bad reply");
  }
}

void send_quit(row r, const std::string& name, asio::io_context& io)
{
  if (r == row::raw) {
    const int fd = raw_connect(name);
    raw_send(fd, quit);
    ::close(fd);
  } else {
    ipc_channel ch = ipc::connect<ipc::raw>(io, name);
    ch.send(quit);
  }
}

/// Async client: @p n connections one after the other (n = budget), each timed.
void setup_async(const std::string& name, asio::io_context& io, const budget& b,
                 std::vector<double>* us)
{
  std::size_t done = 0;
  clock::time_point t0;
  std::function<void()> next = [&] {
    if (!b.more(done)) return;
    t0 = clock::now();
    ipc::async_connect<ipc::raw>(io.get_executor(), name, [&](std::error_code ec, ipc_channel ch) {
      if (ec) fail("async_connect: " + ec.message());
      auto c = std::make_shared<ipc_channel>(std::move(ch));
      c->async_send(std::string_view(payload8), [](std::error_code) {});
      c->async_receive<std::string_view>(
          [&, c](std::error_code rec, ipc::message<std::string_view> m) {
            if (rec || m.value.size() != 8) fail("ipc-async: bad reply");
            c->close();
            if (us) us->push_back(micros(clock::now() - t0));
            ++done;
            next();
          });
    });
  };
  next();
  io.run();
  io.restart();
}

result measure_setup(row r, const std::string& name)
{
  server_child server(r, name, service::setup);
  asio::io_context io;
  rx_buffer buf;
  std::vector<double> us;
  us.reserve(cfg.setup_count);
  const budget warm(cfg.warmup_count, cfg.warmup_time);
  if (r == row::ipc_async) {
    setup_async(name, io, warm, nullptr);
    const auto start = clock::now();
    setup_async(name, io, budget(cfg.setup_count, cfg.setup_time), &us);
    const auto total = clock::now() - start;
    send_quit(r, name, io);
    return summarize(us, total);
  }
  for (std::size_t i = 0; warm.more(i); ++i)
    setup_once(r, name, io, buf);
  const budget b(cfg.setup_count, cfg.setup_time);
  const auto start = clock::now();
  for (std::size_t i = 0; b.more(i); ++i) {
    const auto a = clock::now();
    setup_once(r, name, io, buf);
    us.push_back(micros(clock::now() - a));
  }
  const auto total = clock::now() - start;
  send_quit(r, name, io);
  return summarize(us, total);
}

/// Warms up with @p once, then times each call of it into @p us; returns the timed wall time.
template <class Once>
clock::duration time_round_trips(std::vector<double>& us, Once once)
{
  return time_each(budget(cfg.warmup_count, cfg.warmup_time), us, once, cfg.latency_count,
                   cfg.latency_time);
}

result measure_latency(row r, const std::string& name, std::size_t size)
{
  server_child server(r, name, service::echo);
  const std::string payload(size, 'p');
  std::vector<double> us;
  us.reserve(cfg.latency_count);
  asio::io_context io;
  clock::duration total{};
  if (r == row::raw) {
    const int fd = raw_connect(name);
    rx_buffer buf;
    std::string_view m;
    total = time_round_trips(us, [&] {
      raw_send(fd, payload);
      if (!raw_receive(fd, buf, m) || m.size() != size) fail("raw: bad echo");
    });
    ::close(fd);
  } else if (r == row::ipc) {
    ipc_channel ch = ipc::connect<ipc::raw>(io, name);
    total = time_round_trips(us, [&] {
      ch.send(std::string_view(payload));
      if (ch.receive<std::string_view>().value.size() != size) fail("ipc: bad echo");
    });
  } else {
    std::optional<ipc_channel> ch;
    ipc::async_connect<ipc::raw>(io.get_executor(), name, [&](std::error_code ec, ipc_channel c) {
      if (ec) fail("async_connect: " + ec.message());
      ch.emplace(std::move(c));
    });
    io.run();
    io.restart();
    auto run = [&](const budget& b, std::vector<double>* out) {
      std::size_t done = 0;
      clock::time_point a;
      std::function<void()> next = [&] {
        if (!b.more(done)) return;
        a = clock::now();
        ch->async_send(std::string_view(payload), [](std::error_code) {});
        ch->async_receive<std::string_view>(
            [&](std::error_code ec, ipc::message<std::string_view> m) {
              if (ec || m.value.size() != size) fail("ipc-async: bad echo");
              if (out) out->push_back(micros(clock::now() - a));
              ++done;
              next();
            });
      };
      next();
      io.run();
      io.restart();
    };
    run(budget(cfg.warmup_count, cfg.warmup_time), nullptr);
    const auto start = clock::now();
    run(budget(cfg.latency_count, cfg.latency_time), &us);
    total = clock::now() - start;
  }
  return summarize(us, total);
}

// ---- statistics and the table ----------------------------------------------------------------

/// One line of a table: a row on one endpoint kind (and size, for round trips).
struct line_key {
  std::string what; // "setup path", "setup abstract", "rt 8 B", "rt 1 KiB"
  row r;
  bool operator<(const line_key& o) const { return std::tie(what, r) < std::tie(o.what, o.r); }
};

struct line_stats {
  series p50, p99, rate, ratio;
};

} // namespace bench

int main(int argc, char** argv)
{
  using namespace bench;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a(argv[i]);
    if (a == "--quick") {
      cfg.quick = true;
    } else if (a == "--rounds" && i + 1 < argc) {
      cfg.rounds = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--rounds N]\n", argv[0]);
      return 2;
    }
  }
  if (cfg.quick) {
    cfg.warmup_time = std::chrono::milliseconds(5);
    cfg.warmup_count = 50;
    cfg.setup_time = std::chrono::milliseconds(40);
    cfg.latency_time = std::chrono::milliseconds(30);
  }
  ::signal(SIGPIPE, SIG_IGN);
  ::alarm(cfg.quick ? 120 : 600); // a watchdog: no configuration may hang the run

  char tmpl[] = "/tmp/ipcxx-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  const std::string path = dir + "/ep.sock";
  const std::string abstract = "@ipcxx-bench-" + std::to_string(::getpid());
  const std::vector<row> rows = {row::raw, row::ipc, row::ipc_async};
  const std::vector<std::size_t> sizes = {8, 1024};
  std::map<line_key, line_stats> stats;
  std::vector<std::string> order;
  auto record = [&](const std::string& what, row r, const result& res, const result& raw_res) {
    if (std::find(order.begin(), order.end(), what) == order.end()) order.push_back(what);
    line_stats& s = stats[{what, r}];
    s.p50.v.push_back(res.p50_us);
    s.p99.v.push_back(res.p99_us);
    s.rate.v.push_back(res.per_s);
    s.ratio.v.push_back(res.p50_us / raw_res.p50_us);
  };
  const auto start = clock::now();
  try {
    for (int round = 0; round < cfg.rounds; ++round) {
      std::vector<row> rot(rows);
      std::rotate(rot.begin(), rot.begin() + round % int(rows.size()), rot.end());
      std::map<row, result> setup_path, setup_abs;
      for (row r : rot) {
        setup_path[r] = measure_setup(r, path);
        if (r != row::ipc_async) setup_abs[r] = measure_setup(r, abstract);
      }
      for (row r : rows) {
        record("setup, path", r, setup_path[r], setup_path[row::raw]);
        if (r != row::ipc_async) record("setup, @abstract", r, setup_abs[r], setup_abs[row::raw]);
      }
      for (std::size_t size : sizes) {
        std::map<row, result> rt;
        for (row r : rot)
          rt[r] = measure_latency(r, path, size);
        for (row r : rows)
          record("rt " + std::to_string(size) + " B", r, rt[r], rt[row::raw]);
      }
      std::fprintf(stderr, "round %d/%d done (%.1f s)\n", round + 1, cfg.rounds,
                   std::chrono::duration<double>(clock::now() - start).count());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "endpoint_bench: %s\n", e.what());
    std::filesystem::remove_all(dir);
    return 1;
  }
  std::filesystem::remove_all(dir);

  std::printf("endpoint_bench: CPUs allowed {%s}, %d rounds%s, %.1f s. Each cell: median over "
              "rounds [min-max].\n"
              "setup = connect + one 8-byte round trip + close (the server accepts, replies, "
              "closes); rt = round trip on an established named connection.\n"
              "Time ratio: row p50 / raw p50 of the same round and endpoint kind (lower is "
              "better).\n\n",
              affinity().c_str(), cfg.rounds, cfg.quick ? " (--quick)" : "",
              std::chrono::duration<double>(clock::now() - start).count());
  const char* fmt_line = "%-17s %-10s %-22s %-22s %-22s %s\n";
  std::printf(fmt_line, "what", "row", "p50 us", "p99 us", "per second", "p50 time ratio");
  for (const std::string& what : order)
    for (row r : rows) {
      auto it = stats.find({what, r});
      if (it == stats.end()) continue;
      std::printf(fmt_line, what.c_str(), row_name(r), cell(it->second.p50).c_str(),
                  cell(it->second.p99).c_str(), cell(it->second.rate).c_str(),
                  cell(it->second.ratio).c_str());
    }
  return 0;
}
