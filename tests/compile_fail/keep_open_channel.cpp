// tests/compile_fail/keep_open_channel.cpp - keep_open needs a converter with `share`; a channel
// end has none (two processes writing one stream would interleave their frames), and the
// error says so.
// expect: keep_open(h) needs handle_converter<H>::share
// SPDX-License-Identifier: BSL-1.0
#include "ipc/channel.hpp"
#include "ipc/converters/channel.hpp"
#include "ipc/serializers/raw.hpp"

#include <asio/io_context.hpp>

#include <string>
#include <utility>

int main()
{
  asio::io_context io;
  auto ab = ipc::channel<ipc::raw>::pair(io.get_executor());
  auto cd = ipc::channel<ipc::raw>::pair(io.get_executor());
#ifdef IPC_COMPILE_FAIL
  ab.first.send(std::string("x"), ipc::keep_open(cd.first));
#else
  ab.first.send(std::string("x"), std::move(cd.first));
#endif
}
