// examples/node/child.cpp - the C++ child of examples/node/parent.js: answers handed-over clients.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/node.hpp"
#include "ipc/converters/asio.hpp"

#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <cstdio>

int main()
{
  asio::io_context io;
  auto parent = ipc::node::parent_channel(io);
  if (!parent) {
    std::fprintf(stderr, "node_child: start me from examples/node/parent.js\n");
    return 1;
  }
  for (;;) {
    std::error_code ec;
    ipc::node::message m = parent->receive(ec);
    if (ec == asio::error::eof) return 0; // the parent disconnected
    if (ec) {
      std::fprintf(stderr, "node_child: %s\n", ec.message().c_str());
      continue;
    }
    if (!m.handle || m.handle->type != ipc::node::handle_type::socket) continue;
    auto socket = m.handle->take<asio::ip::tcp::socket>(io.get_executor(), ec);
    if (ec) continue;
    asio::write(socket, asio::buffer("Child handled it.", 17), ec);
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
}
