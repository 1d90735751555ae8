// bench/cluster_bench.cpp - connections per second through a cluster of worker processes
// (ipc::shared_server) against one process serving them itself. bench/cluster_compare runs it
// with the same load generator against Node's `cluster` module too.
// SPDX-License-Identifier: BSL-1.0
//
//   cluster_bench serve self              one process accepts and answers
//   cluster_bench serve cluster N         accepts, hands each connection to one of N workers
//   cluster_bench load PORT TOTAL CONC    TOTAL connections, CONC at a time; prints CONNS_PER_S
//
// Every server prints "PORT p" once it listens, answers each connection with "ok\n" and closes
// it, and exits when its standard input ends. The work is the same for every server, so the
// difference is the cost of getting a connection to the process that answers it.
#include <ipc.hpp>
#include <ipc/shared_server.hpp>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using asio::ip::tcp;

namespace {

const std::string answer_text = "ok\n";

/// Writes the answer and closes (the socket lives until the write is done).
void answer(std::shared_ptr<tcp::socket> s)
{
  asio::async_write(*s, asio::buffer(answer_text), [s](std::error_code, std::size_t) {
    std::error_code ignored;
    s->shutdown(tcp::socket::shutdown_both, ignored);
    s->close(ignored);
  });
}

/// Stops @p io when standard input ends (the driving script closes it).
void stop_on_stdin_eof(asio::io_context& io, asio::posix::stream_descriptor& in)
{
  static char byte;
  in.async_read_some(asio::buffer(&byte, 1), [&](std::error_code ec, std::size_t) {
    if (ec) io.stop();
    else stop_on_stdin_eof(io, in);
  });
}

int worker()
{
  asio::io_context io;
  auto up = ipc::parent_channel<ipc::binary>(io);
  if (!up) return 2;
  std::function<void()> next = [&] {
    up->async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      if (ec) return;
      std::error_code tec;
      if (auto s = m.take_handle<tcp::socket>(0, io.get_executor(), tec))
        answer(std::make_shared<tcp::socket>(std::move(*s)));
      next();
    });
  };
  next();
  io.run();
  return 0;
}

int serve(bool cluster, int workers)
{
  asio::io_context io;
  ipc::shared_server server(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  std::vector<ipc::child<ipc::binary>> children;
  if (cluster) {
    for (int i = 0; i < workers; ++i) {
      children.push_back(ipc::spawn<ipc::binary>(io, "/proc/self/exe", {"--worker"}));
      server.add_worker(children.back().channel());
    }
  }
  asio::posix::stream_descriptor in(io, ::dup(0));
  stop_on_stdin_eof(io, in);
  std::function<void()> accept = [&] {
    server.async_accept([&](std::error_code ec, tcp::socket s) {
      if (ec) return;
      if (!cluster) {
        answer(std::make_shared<tcp::socket>(std::move(s)));
      } else if (auto k = server.pick()) {
        server.async_hand_off(children[*k].channel(), std::string("c"), std::move(s),
                              [](std::error_code) {});
      }
      accept();
    });
  };
  accept();
  std::printf("PORT %u\n", unsigned(server.local_endpoint().port()));
  std::fflush(stdout);
  io.run();
  for (auto& c : children) c.channel().close();
  for (auto& c : children) c.wait();
  return 0;
}

/// One client loop of the load generator: connect, read to end of stream, again.
struct client : std::enable_shared_from_this<client> {
  client(asio::io_context& io, tcp::endpoint ep, long& left, long& done, long& failed)
    : socket(io), ep(ep), left(left), done(done), failed(failed)
  {
  }
  void start()
  {
    if (left <= 0) return;
    --left;
    socket = tcp::socket(socket.get_executor());
    socket.async_connect(ep, [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->finish(false);
      self->got.clear();
      asio::async_read(self->socket, asio::dynamic_buffer(self->got),
                       [self](std::error_code rec, std::size_t) {
                         self->finish(rec == asio::error::eof && self->got == answer_text);
                       });
    });
  }
  void finish(bool ok)
  {
    ++(ok ? done : failed);
    std::error_code ignored;
    socket.close(ignored);
    start();
  }
  tcp::socket socket;
  tcp::endpoint ep;
  long& left;
  long& done;
  long& failed;
  std::string got;
};

int load(unsigned short port, long total, int concurrency)
{
  asio::io_context io;
  const tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
  long left = total, done = 0, failed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < concurrency; ++i) std::make_shared<client>(io, ep, left, done, failed)->start();
  io.run();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("CONNS_PER_S %.1f\nFAILED %ld\n", done / s, failed);
  return failed == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc >= 2 && std::strcmp(argv[1], "--worker") == 0) return worker();
  if (argc >= 3 && std::strcmp(argv[1], "serve") == 0 && std::strcmp(argv[2], "self") == 0)
    return serve(false, 0);
  if (argc >= 4 && std::strcmp(argv[1], "serve") == 0 && std::strcmp(argv[2], "cluster") == 0)
    return serve(true, std::atoi(argv[3]));
  if (argc >= 5 && std::strcmp(argv[1], "load") == 0)
    return load(static_cast<unsigned short>(std::atoi(argv[2])), std::atol(argv[3]), std::atoi(argv[4]));
  std::fprintf(stderr, "usage: %s serve self | serve cluster N | load PORT TOTAL CONC\n", argv[0]);
  return 2;
}
