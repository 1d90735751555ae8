// tests/compile_fail/lvalue_handle.cpp - handles are moved into send: passing an lvalue fails
// to compile with a message that says so.
// expect: handles are moved into send(): pass std::move(h)
// SPDX-License-Identifier: BSL-1.0
#include "ipc/channel.hpp"
#include "ipc/serializers/raw.hpp"

#include <asio/io_context.hpp>

#include <string>
#include <utility>

int main()
{
  asio::io_context io;
  auto ab = ipc::channel<ipc::raw>::pair(io.get_executor());
  ipc::native_handle h;
#ifdef IPC_COMPILE_FAIL
  ab.first.send(std::string("x"), h);
#else
  ab.first.send(std::string("x"), std::move(h));
#endif
}
