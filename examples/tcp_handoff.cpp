// examples/tcp_handoff.cpp - a parent accepts TCP connections and hands each to a child process.
// SPDX-License-Identifier: BSL-1.0
//
//   tcp_handoff [--acceptor] [--port N] [--count K]
//
// The parent listens on 127.0.0.1 (port N, or one the kernel picks), starts one child (this same
// program with --child) and hands it every accepted connection over their channel; the child
// answers each HTTP request with "Child handled it." and closes. With --acceptor the parent
// hands over the listening socket itself and the child accepts on its own. After K connections
// (default: forever) the parent closes the channel and the child exits.
//
//   $ tcp_handoff --count 1 &
//   listening on http://127.0.0.1:40213/
//   $ curl http://127.0.0.1:40213/
//   Child handled it.
#include <ipc.hpp>
#include <ipc/converters/asio.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using asio::ip::tcp;

namespace {

void answer(tcp::socket& s)
{
  std::string request;
  std::error_code ec;
  asio::read_until(s, asio::dynamic_buffer(request), "\r\n\r\n", ec); // the request head
  const std::string body = "Child handled it.\n";
  const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  asio::write(s, asio::buffer(reply), ec);
  s.shutdown(tcp::socket::shutdown_both, ec);
}

int child()
{
  asio::io_context io;
  auto up = ipc::parent_channel<ipc::json>(io);
  if (!up) return 2;
  for (;;) {
    std::error_code ec;
    auto m = up->receive<std::string>(ec);
    if (ec) return 0; // the parent is done
    if (m.value == "connection") {
      tcp::socket s = m.take_handle<tcp::socket>(0, io.get_executor());
      answer(s);
    } else if (m.value == "acceptor") {
      tcp::acceptor a = m.take_handle<tcp::acceptor>(0, io.get_executor());
      for (;;) { // until the parent stops us
        tcp::socket s = a.accept(ec);
        if (ec) return 1;
        answer(s);
        up->send(std::string("served"));
      }
    }
  }
}

} // namespace

int main(int argc, char** argv)
{
  bool hand_acceptor = false;
  unsigned short port = 0;
  long count = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--child") == 0) return child();
    if (std::strcmp(argv[i], "--acceptor") == 0) hand_acceptor = true;
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = static_cast<unsigned short>(std::atoi(argv[++i]));
    if (std::strcmp(argv[i], "--count") == 0 && i + 1 < argc) count = std::atol(argv[++i]);
  }

  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), port));
  std::printf("listening on http://127.0.0.1:%u/\n", unsigned(acceptor.local_endpoint().port()));
  std::fflush(stdout);

  auto worker = ipc::spawn<ipc::json>(io, "/proc/self/exe", {"--child"});
  if (hand_acceptor) {
    worker.channel().send(std::string("acceptor"), std::move(acceptor));
    for (long served = 0; count < 0 || served < count; ++served)
      worker.channel().receive<std::string>(); // one "served" per connection
  } else {
    for (long served = 0; count < 0 || served < count; ++served)
      worker.channel().send(std::string("connection"), acceptor.accept());
  }
  worker.channel().close();
  if (hand_acceptor) worker.kill(); // it is blocked in accept(); it holds no state worth keeping
  const ipc::exit_status s = worker.wait();
  return s.success() || (hand_acceptor && s.signaled()) ? 0 : 1;
}
