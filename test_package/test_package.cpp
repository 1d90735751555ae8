// test_package/test_package.cpp - smallest use of ipcxx: one message and one descriptor.
// SPDX-License-Identifier: BSL-1.0
#include <ipc.hpp>
#include <ipc/version.hpp>

#include <asio/io_context.hpp>

#include <cstdio>
#include <string>

// with_json=False must really leave the JSON serializer (and simdjson) out.
#if defined(IPC_DISABLE_JSON) && defined(IPC_SERIALIZERS_JSON_HPP)
#error "IPC_DISABLE_JSON is defined but ipc.hpp included the JSON serializer"
#endif

int main()
{
  asio::io_context io;
  auto [a, b] = ipc::channel<ipc::binary>::pair(io);
  // The descriptor sent is a duplicate of stdout; ownership moves into the message.
  a.send(std::string("hello"), ipc::native_handle::duplicate_of(1));
  auto m = b.receive<std::string>();
  ipc::native_handle fd = m.take_handle(0);
  std::printf("ipcxx %s: received \"%s\" and descriptor %d\n", IPC_VERSION_STRING,
              m.value.c_str(), fd.get());
  return m.value == "hello" && fd ? 0 : 1;
}
