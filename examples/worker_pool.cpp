// examples/worker_pool.cpp - a parent spawns N workers, sends them jobs, and collects results.
// SPDX-License-Identifier: BSL-1.0
//
// The same program is parent and worker: started with `--worker` (which ipc::spawn passes), it
// finds its inherited channel with ipc::parent_channel and serves jobs until the channel
// closes. The parent keeps every worker busy with one job at a time and gathers the results
// asynchronously on one io_context.
#include <ipc.hpp>

#include <asio/io_context.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace pool {

struct job {
  int id = 0;
  long from = 0, to = 0; // count the primes in [from, to)
};
IPC_DESCRIBE(job, id, from, to)

struct result {
  int id = 0;
  long primes = 0;
  int worker_pid = 0;
};
IPC_DESCRIBE(result, id, primes, worker_pid)

long count_primes(long from, long to)
{
  long n = 0;
  for (long i = from < 2 ? 2 : from; i < to; ++i) {
    bool prime = true;
    for (long d = 2; d * d <= i; ++d)
      if (i % d == 0) {
        prime = false;
        break;
      }
    n += prime;
  }
  return n;
}

int worker(int pid)
{
  asio::io_context io;
  auto up = ipc::parent_channel<ipc::binary>(io);
  if (!up) {
    std::fprintf(stderr, "--worker: not started by a parent with a channel\n");
    return 2;
  }
  for (;;) {
    std::error_code ec;
    auto m = up->receive<job>(ec);
    if (ec) return ec == asio::error::eof ? 0 : 1; // the parent closed: done
    up->send(result{m.value.id, count_primes(m.value.from, m.value.to), pid});
  }
}

} // namespace pool

int main(int argc, char** argv)
{
  if (argc > 1 && std::strcmp(argv[1], "--worker") == 0) return pool::worker(static_cast<int>(::getpid()));

  const int workers = argc > 1 ? std::atoi(argv[1]) : 4;
  const int jobs = 32;
  asio::io_context io;

  std::deque<pool::job> todo;
  for (int i = 0; i < jobs; ++i) todo.push_back({i, i * 20000L, (i + 1) * 20000L});

  std::vector<ipc::child<ipc::binary>> kids;
  for (int w = 0; w < workers; ++w)
    kids.push_back(ipc::spawn<ipc::binary>(io, "/proc/self/exe", {"--worker"}));

  long total = 0;
  int done = 0;
  // Give each worker one job; when its result comes back, give it the next.
  std::function<void(ipc::child<ipc::binary>&)> feed = [&](ipc::child<ipc::binary>& kid) {
    if (todo.empty()) {
      kid.channel().close(); // no more work: the worker sees end of stream and exits
      return;
    }
    kid.channel().async_send(todo.front(), [](std::error_code ec) {
      if (ec) std::fprintf(stderr, "send failed: %s\n", ec.message().c_str());
    });
    todo.pop_front();
    kid.channel().async_receive<pool::result>(
      [&](std::error_code ec, ipc::message<pool::result> m) {
        if (ec) {
          std::fprintf(stderr, "worker %d: %s\n", kid.pid(), ec.message().c_str());
          return;
        }
        total += m.value.primes;
        ++done;
        feed(kid);
      });
  };
  for (auto& kid : kids) feed(kid);
  io.run();

  for (auto& kid : kids) {
    const ipc::exit_status s = kid.wait();
    std::printf("worker %d exited with %d\n", kid.pid(), s.code);
  }
  std::printf("%d jobs done by %d workers: %ld primes below %ld\n", done, workers, total,
              jobs * 20000L);
  return done == jobs && total == pool::count_primes(0, jobs * 20000L) ? 0 : 1;
}
