// examples/node_peer.cpp - a C++ child for Node parents: echoes messages, serves handed-over sockets.
// SPDX-License-Identifier: BSL-1.0
//
// Start it from Node with an 'ipc' stdio entry:
//
//   const child = require('child_process').spawn('build/examples/node_peer', [],
//                                                {stdio: ['inherit', 'inherit', 'inherit', 'ipc']});
//
// Contract (tests and users rely on it):
// - every ordinary message is sent back unchanged;
// - each NODE_HANDLE is acknowledged once (NACKed if its descriptor did not arrive);
// - a received net.Socket gets "handled by child\n" and is then ended;
// - a received net.Server is answered with {"event":"server-received","msg":<msg>}, and every
//   connection accepted on it is treated like a received net.Socket;
// - NODE_SOCKET_GET_COUNT / NODE_SOCKET_NOTIFY_CLOSE are answered for keys received;
// - the program exits 0 when the channel closes (1 if there is none, 2 on a channel error).
#include "ipc/node.hpp"
#include "ipc/converters/asio.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/write.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

namespace {

const std::string greeting = "handled by child\n";

/// Writes the greeting, then ends the connection (shutdown, so the client reads EOF). The
/// ticket keeps the connection counted for the sender's server.getConnections() until then.
template <class Socket>
void greet(std::shared_ptr<Socket> s, std::shared_ptr<void> ticket = nullptr)
{
  asio::async_write(*s, asio::buffer(greeting),
                    [s, ticket = std::move(ticket)](std::error_code, std::size_t) mutable {
                      std::error_code ignored;
                      s->shutdown(Socket::shutdown_send, ignored);
                      s->close(ignored);
                      ticket.reset();
                    });
}

template <class Acceptor>
void accept_loop(std::shared_ptr<Acceptor> a)
{
  a->async_accept([a](std::error_code ec, typename Acceptor::protocol_type::socket s) {
    if (ec) return; // closed with the channel
    greet(std::make_shared<typename Acceptor::protocol_type::socket>(std::move(s)));
    accept_loop(a);
  });
}

struct peer {
  asio::io_context& io;
  ipc::node::channel ch;
  int status = 0;

  void on_handle(ipc::node::message& m)
  {
    auto& h = *m.handle;
    const auto info_ex = io.get_executor();
    std::error_code ec;
    if (h.type == ipc::node::handle_type::socket || h.type == ipc::node::handle_type::native) {
      // TCP or a local stream socket: try TCP first, the converter checks the kind.
      ipc::native_handle fd = std::move(h.descriptor);
      ipc::node::handle copy;
      copy.descriptor = fd.duplicate(ec);
      if (ec) return;
      auto tcp = ipc::handle_converter<asio::ip::tcp::socket>::got(std::move(fd), info_ex, ec);
      if (!ec) {
        greet(std::make_shared<asio::ip::tcp::socket>(std::move(tcp)), std::move(h.ticket));
        return;
      }
      auto local = copy.take<asio::local::stream_protocol::socket>(info_ex, ec);
      if (!ec)
        greet(std::make_shared<asio::local::stream_protocol::socket>(std::move(local)),
              std::move(h.ticket));
    } else if (h.type == ipc::node::handle_type::server) {
      auto a = h.take<asio::ip::tcp::acceptor>(info_ex, ec);
      if (ec) return;
      ch.async_send(ipc::json_value::object({{"event", "server-received"}, {"msg", m.value}}),
                    [](std::error_code) {});
      accept_loop(std::make_shared<asio::ip::tcp::acceptor>(std::move(a)));
    }
    // dgram sockets: acknowledged and closed.
  }

  void receive()
  {
    ch.async_receive([this](std::error_code ec, ipc::node::message m) {
      if (ec == asio::error::eof) {
        io.stop();
        return;
      }
      if (ec == ipc::errc::invalid_json || ec == ipc::errc::invalid_utf8 ||
          ec.category() == ipc::node::error_category()) {
        std::fprintf(stderr, "node_peer: skipped a message: %s\n", ec.message().c_str());
        receive();
        return;
      }
      if (ec) {
        std::fprintf(stderr, "node_peer: channel error: %s\n", ec.message().c_str());
        status = 2;
        io.stop();
        return;
      }
      if (m.handle) on_handle(m);
      else ch.async_send(m.value, [](std::error_code) {});
      receive();
    });
  }
};

} // namespace

int main()
{
  asio::io_context io;
  std::error_code ec;
  ipc::node::channel ch = ipc::node::parent_channel(io.get_executor(), ec);
  if (ec) {
    std::fprintf(stderr, "node_peer: no Node channel: %s\n", ec.message().c_str());
    return 1;
  }
  peer p{io, std::move(ch)};
  p.receive();
  io.run();
  return p.status;
}
