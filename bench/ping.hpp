// bench/ping.hpp - the round-trip loops the channel benchmarks share: a sync ping-pong timed
// call by call, and an async one whose receive completion records the sample and starts the
// next round trip. Both warm up first and stop at a count or a time, whichever comes first.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_BENCH_PING_HPP
#define IPC_BENCH_PING_HPP

#include "measure.hpp"

#include <ipc/message.hpp>

#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

namespace bench {

/// Fails unless an echo came back at the size sent.
inline void check_size(std::size_t got, std::size_t want)
{
  if (got != want)
    fail("echo of wrong size: " + std::to_string(got) + " != " + std::to_string(want));
}

/// The sync loop: @p once() does one round trip. @p c names the budgets (`warmup_count`,
/// `warmup_time`, `latency_count`, `latency_time`).
template <class Config, class F> latency_result ping_pong(const Config& c, F&& once)
{
  std::vector<double> us;
  time_each(budget(c.warmup_count, c.warmup_time), us, once, c.latency_count, c.latency_time);
  return summarize(us);
}

/// The async loop over @p Channel: send and receive (of a @p T) are started together. `next()`
/// starts it; it closes the channel when done or at the first error (kept in `error`), so the
/// io_context running it returns.
template <class Channel, class T> struct async_pinger {
  Channel& ch;
  const T& payload;
  budget warm;
  std::size_t count;
  clock::duration time;
  budget meas{0, clock::duration()};
  std::vector<double> us{};
  std::size_t i = 0;
  bool warming = true;
  clock::time_point t0{};
  std::error_code error{};

  template <class Config>
  async_pinger(Channel& c, const T& p, const Config& cfg)
    : ch(c), payload(p), warm(cfg.warmup_count, cfg.warmup_time), count(cfg.latency_count),
      time(cfg.latency_time)
  {
    us.reserve(count);
  }

  void next()
  {
    if (warming && !warm.more(i)) {
      warming = false;
      i = 0;
      meas = budget(count, time);
    }
    if (!warming && !meas.more(i)) {
      ch.close();
      return;
    }
    t0 = clock::now();
    ch.async_send(payload, [this](std::error_code ec) {
      if (ec && !error) error = ec;
    });
    ch.template async_receive<T>([this](std::error_code ec, ipc::message<T> m) {
      if (!ec && m.value.size() != payload.size()) ec = std::make_error_code(std::errc::message_size);
      if (ec) {
        if (!error) error = ec;
        ch.close();
        return;
      }
      if (!warming) us.push_back(micros(clock::now() - t0));
      ++i;
      next();
    });
  }

  /// Runs the loop on @p io and returns its figures. @throws std::system_error naming @p what
  template <class IoContext> latency_result run(IoContext& io, const char* what)
  {
    next();
    io.run();
    if (error) throw std::system_error(error, what);
    return summarize(us);
  }
};

} // namespace bench

#endif // IPC_BENCH_PING_HPP
