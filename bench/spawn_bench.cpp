// bench/spawn_bench.cpp - spawn-to-first-message latency: ipc::spawn against posix_spawn with a
// raw socketpair, measured in the same run (and Node's child_process.fork, via spawn_node.js,
// when `node` is installed).
//
// The program is its own child: `--child-raw FD` writes one length-prefixed message with
// write(2); `--child-ipc` finds its channel with ipc::parent_channel and sends one message. Both
// children are the same executable image, so the comparison is of the spawn and channel set-up
// paths alone. Rounds alternate the order of the two; medians with min-max are reported.
// `--machine N` prints the medians of N spawns each as plain lines, for bench/compare.
// SPDX-License-Identifier: BSL-1.0
#include <ipc/process.hpp>
#include <ipc/serializers/raw.hpp>

#include <asio/io_context.hpp>

#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v)
{
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

std::string self_path()
{
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) std::exit(2);
  return std::string(buf, static_cast<std::size_t>(n));
}

/// posix_spawn with one end of a socketpair at descriptor 3; returns microseconds until the
/// child's first message has been read.
double once_raw(const std::string& exe)
{
  const auto t0 = clock_type::now();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::exit(3);
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
  char arg0[] = "spawn_bench", arg1[] = "--child-raw";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid;
  if (::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, environ) != 0) std::exit(4);
  ::posix_spawn_file_actions_destroy(&fa);
  ::close(sv[1]);
  char buf[64];
  std::size_t got = 0;
  std::uint32_t len = 0;
  while (got < 4 + len) {
    const ssize_t r = ::read(sv[0], buf + got, sizeof buf - got);
    if (r <= 0) std::exit(5);
    got += static_cast<std::size_t>(r);
    if (got >= 4) std::memcpy(&len, buf, 4);
  }
  const auto t1 = clock_type::now();
  ::close(sv[0]);
  ::waitpid(pid, nullptr, 0);
  return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

double once_ipc(asio::io_context& io, const std::string& exe)
{
  const auto t0 = clock_type::now();
  auto child = ipc::spawn<ipc::raw>(io, exe, {"--child-ipc"});
  auto m = child.channel().receive<std::string_view>();
  const auto t1 = clock_type::now();
  if (m.value != "ready") std::exit(6);
  child.channel().close();
  child.wait();
  return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

} // namespace

int main(int argc, char** argv)
{
  if (argc > 1 && std::strcmp(argv[1], "--child-raw") == 0) {
    const char msg[] = {5, 0, 0, 0, 'r', 'e', 'a', 'd', 'y'};
    return ::write(3, msg, sizeof msg) == ssize_t(sizeof msg) ? 0 : 1;
  }
  if (argc > 1 && std::strcmp(argv[1], "--child-ipc") == 0) {
    asio::io_context io;
    auto up = ipc::parent_channel<ipc::raw>(io);
    if (!up) return 1;
    up->send(std::string_view("ready"));
    return 0;
  }
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int rounds = quick ? 3 : 7;
  const int per_round = quick ? 30 : 100;
  const std::string exe = self_path();
  asio::io_context io;

  if (argc > 2 && std::strcmp(argv[1], "--machine") == 0) {
    // For bench/compare: N spawns of each, alternating, after a short warm-up; the medians as
    // lines "row spawn_us 0 value".
    const int n = std::max(1, std::atoi(argv[2]));
    for (int i = 0; i < 3; ++i) {
      once_raw(exe);
      once_ipc(io, exe);
    }
    std::vector<double> raw, ipc;
    for (int i = 0; i < n; ++i) {
      raw.push_back(once_raw(exe));
      ipc.push_back(once_ipc(io, exe));
    }
    std::printf("raw spawn_us 0 %.1f\nipc-raw spawn_us 0 %.1f\n", median(raw), median(ipc));
    return 0;
  }

  for (int i = 0; i < 10; ++i) { // warm up the page cache and the dynamic loader
    once_raw(exe);
    once_ipc(io, exe);
  }
  std::vector<double> raw_medians, ipc_medians, ratios;
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> raw, ipc;
    for (int i = 0; i < per_round; ++i) {
      if ((r + i) % 2 == 0) {
        raw.push_back(once_raw(exe));
        ipc.push_back(once_ipc(io, exe));
      } else {
        ipc.push_back(once_ipc(io, exe));
        raw.push_back(once_raw(exe));
      }
    }
    raw_medians.push_back(median(raw));
    ipc_medians.push_back(median(ipc));
    ratios.push_back(ipc_medians.back() / raw_medians.back());
  }
  auto span = [](const std::vector<double>& v, const char* format = "%8.1f [%.1f-%.1f]") {
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    char buf[96];
    std::snprintf(buf, sizeof buf, format, median(v), *lo, *hi);
    return std::string(buf);
  };
  std::printf("spawn-to-first-message, %d rounds x %d spawns, median [min-max] of round medians\n",
              rounds, per_round);
  std::printf("  posix_spawn + socketpair  %s us\n", span(raw_medians).c_str());
  std::printf("  ipc::spawn + channel      %s us\n", span(ipc_medians).c_str());
  std::printf("  ratio ipc/raw             %s\n", span(ratios, "%8.2f [%.2f-%.2f]").c_str());
  std::printf("RAW_US %.1f\n", median(raw_medians));
  return 0;
}
