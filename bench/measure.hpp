// bench/measure.hpp - the portable half of the benchmark helpers (Linux and the mingw-w64
// cross build alike): loop budgets, timing loops, percentiles and medians, the table cells, a
// reusable receive buffer and the one-way stream protocol. harness.hpp adds the POSIX half.
// SPDX-License-Identifier: BSL-1.0
//
// The method these helpers implement is in /work/shared/BENCHMARKING.md: a raw baseline in the
// same run, loops bounded by count and by time, warm-up before timing, p50/p99 per measurement
// and medians over rounds with [min-max].
#ifndef IPC_BENCH_MEASURE_HPP
#define IPC_BENCH_MEASURE_HPP

#include <time.h> // clock_gettime: POSIX, and winpthreads' in the mingw-w64 build

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

// ---- a reusable receive buffer ------------------------------------------------------------

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

#endif // IPC_BENCH_MEASURE_HPP
