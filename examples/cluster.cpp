// examples/cluster.cpp - an HTTP server on loopback whose connections are served by N worker
// processes, Node `cluster` style, with live connection counts across all of them.
// SPDX-License-Identifier: BSL-1.0
//
//   cluster [--workers N] [--port P] [--status] [--least-connections] [--requests K]
//
// The parent accepts every connection and hands it to a worker (this same program, started
// with --worker) in round-robin order, or to the least loaded one. A worker answers each request
// with its pid ("/slow" after a second) and closes. With --status the parent prints, every half
// second when they change, how many connections each worker holds (`async_get_connections`, which
// asks the workers). SIGINT / SIGTERM, or K connections (--requests), stop it gracefully:
// `async_close` stops accepting and waits until every connection, in every worker, has closed;
// then the workers exit.
//
//   $ cluster --workers 3 --status &
//   listening on http://127.0.0.1:40213/ with 3 workers
//   $ curl http://127.0.0.1:40213/
//   worker 4242
#include <ipc.hpp>
#include <ipc/shared_server.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
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
using namespace std::chrono_literals;

namespace {

// ---- the worker -----------------------------------------------------------------------------

/// One connection in a worker: reads the request head, answers with the pid, closes.
struct http_session : std::enable_shared_from_this<http_session> {
  explicit http_session(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

  void start()
  {
    asio::async_read_until(socket, request, "\r\n\r\n",
                           [self = shared_from_this()](std::error_code ec, std::size_t) {
                             if (ec) return; // the client went away: the socket closes with us
                             std::string head(asio::buffers_begin(self->request.data()),
                                              asio::buffers_end(self->request.data()));
                             if (head.rfind("GET /slow", 0) == 0) {
                               self->timer.expires_after(1s);
                               self->timer.async_wait([self](std::error_code) { self->answer(); });
                             } else {
                               self->answer();
                             }
                           });
  }

  void answer()
  {
    body = "worker " + std::to_string(::getpid()) + "\n";
    reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    asio::async_write(socket, asio::buffer(reply),
                      [self = shared_from_this()](std::error_code, std::size_t) {
                        std::error_code ignored;
                        self->socket.shutdown(tcp::socket::shutdown_both, ignored);
                      });
  }

  tcp::socket socket;
  asio::steady_timer timer;
  asio::streambuf request;
  std::string body, reply;
};

int worker()
{
  asio::io_context io;
  auto up = ipc::parent_channel<ipc::binary>(io);
  if (!up) return 2;
  // A receive is always outstanding: connections arrive through it, and the parent's
  // connection counts are answered by it, without any code here.
  std::function<void()> next = [&] {
    up->async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      if (ec) return; // the parent closed the channel: we are done once our sessions are
      if (m.value == "connection") {
        std::error_code take_ec;
        auto s = m.take_handle<tcp::socket>(0, io.get_executor(), take_ec);
        if (s) std::make_shared<http_session>(std::move(*s))->start();
      }
      next();
    });
  };
  next();
  io.run();
  return 0;
}

// ---- the parent -----------------------------------------------------------------------------

struct options {
  int workers = 4;
  unsigned short port = 0;
  bool status = false;
  bool least_connections = false;
  long requests = -1; // stop after this many connections (-1: run until signalled)
};

class cluster {
public:
  cluster(asio::io_context& io, const options& opt)
    : opt_(opt),
      server_(io, tcp::endpoint(asio::ip::address_v4::loopback(), opt.port)),
      signals_(io, SIGINT, SIGTERM), status_timer_(io)
  {
    for (int i = 0; i < opt.workers; ++i) {
      workers_.push_back(ipc::spawn<ipc::binary>(io, "/proc/self/exe", {"--worker"}));
      server_.add_worker(workers_.back().channel());
    }
  }

  void start()
  {
    std::printf("listening on http://127.0.0.1:%u/ with %d workers\n",
                unsigned(server_.local_endpoint().port()), opt_.workers);
    std::fflush(stdout);
    signals_.async_wait([this](std::error_code ec, int) {
      if (!ec) shut_down();
    });
    accept();
    if (opt_.status) print_status();
  }

private:
  void accept()
  {
    server_.async_accept([this](std::error_code ec, tcp::socket s) {
      if (ec) return; // closed: shutting down
      const auto d = opt_.least_connections ? ipc::distribution::least_connections
                                            : ipc::distribution::round_robin;
      if (auto k = server_.pick(d)) {
        server_.async_hand_off(workers_[*k].channel(), std::string("connection"), std::move(s),
                               [](std::error_code hec) {
                                 if (hec) std::fprintf(stderr, "hand-off: %s\n", hec.message().c_str());
                               });
      } // else: no worker left; the connection closes here
      if (opt_.requests > 0 && ++accepted_ == opt_.requests) shut_down();
      else accept();
    });
  }

  void print_status()
  {
    server_.async_get_connections([this](std::error_code ec, ipc::connection_counts c) {
      if (ec) std::printf("status: %s\n", ec.message().c_str());
      else {
        std::string line = "status: " + std::to_string(c.total()) + " open (parent " +
                           std::to_string(c.local);
        for (std::size_t i = 0; i < c.workers.size(); ++i)
          line += ", worker " + std::to_string(workers_[i].pid()) + ": " + std::to_string(c.workers[i]);
        line += ")";
        if (line != last_status_) std::printf("%s\n", line.c_str()); // only what changed
        last_status_ = line;
      }
      std::fflush(stdout);
      if (stopping_ && !ec && c.total() == 0) return;
      status_timer_.expires_after(500ms);
      status_timer_.async_wait([this](std::error_code tec) {
        if (!tec) print_status();
      });
    });
  }

  void shut_down()
  {
    if (stopping_) return;
    stopping_ = true;
    signals_.cancel();
    std::printf("shutting down: waiting for open connections\n");
    std::fflush(stdout);
    server_.async_close([this](std::error_code ec) {
      if (ec) std::fprintf(stderr, "close: %s\n", ec.message().c_str());
      status_timer_.cancel();
      for (auto& w : workers_) w.channel().close(); // each worker exits when its channel ends
      int failed = 0;
      for (auto& w : workers_) failed += w.wait().success() ? 0 : 1;
      std::printf("closed: every connection done, %d workers exited%s\n", opt_.workers,
                  failed ? " (some with failure)" : " cleanly");
      std::fflush(stdout);
      exit_code_ = ec || failed ? 1 : 0;
    });
  }

public:
  int exit_code_ = 0;

private:
  options opt_;
  ipc::shared_server server_;
  asio::signal_set signals_;
  asio::steady_timer status_timer_;
  std::vector<ipc::child<ipc::binary>> workers_;
  std::string last_status_;
  long accepted_ = 0;
  bool stopping_ = false;
};

} // namespace

int main(int argc, char** argv)
{
  options opt;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--worker") == 0) return worker();
    if (std::strcmp(argv[i], "--workers") == 0 && i + 1 < argc) opt.workers = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) opt.port = static_cast<unsigned short>(std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--requests") == 0 && i + 1 < argc) opt.requests = std::atol(argv[++i]);
    else if (std::strcmp(argv[i], "--status") == 0) opt.status = true;
    else if (std::strcmp(argv[i], "--least-connections") == 0) opt.least_connections = true;
    else {
      std::fprintf(stderr, "usage: %s [--workers N] [--port P] [--status] [--least-connections] [--requests K]\n", argv[0]);
      return 2;
    }
  }
  if (opt.workers < 1) opt.workers = 1;
  asio::io_context io;
  cluster c(io, opt);
  c.start();
  io.run();
  return c.exit_code_;
}
