// tests/compile_fail/no_converter.cpp - sending a type without a handle converter fails to
// compile, and the error names the missing specialization.
// expect: has no ipc::handle_converter<H> specialization
// SPDX-License-Identifier: BSL-1.0
#include "ipc/channel.hpp"
#include "ipc/serializers/raw.hpp"

#include <asio/io_context.hpp>

#include <string>

struct not_a_handle {
  int fd = -1;
};

int main()
{
  asio::io_context io;
  auto ab = ipc::channel<ipc::raw>::pair(io.get_executor());
#ifdef IPC_COMPILE_FAIL
  ab.first.send(std::string("x"), not_a_handle{});
#else
  ab.first.send(std::string("x"), ipc::native_handle());
#endif
}
