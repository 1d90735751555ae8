// tests/compile_fail/missing_got.cpp - a converter without `got` fails to compile, and the
// error names the missing member.
// expect: lacks `static H got(
// SPDX-License-Identifier: BSL-1.0
#include "ipc/channel.hpp"
#include "ipc/serializers/raw.hpp"

#include <asio/io_context.hpp>

#include <string>

struct half_done {
  ipc::native_handle fd;
};

template <>
struct ipc::handle_converter<half_done> {
  static constexpr std::string_view type_name = "half_done";
  static constexpr ipc::handle_kind kind = ipc::handle_kind::unknown;
  static ipc::native_handle send(half_done&& h, std::error_code&) { return std::move(h.fd); }
#ifndef IPC_COMPILE_FAIL
  static half_done got(ipc::native_handle&& h, const asio::any_io_executor&, std::error_code&)
  {
    return half_done{std::move(h)};
  }
#endif
};

int main()
{
  asio::io_context io;
  auto ab = ipc::channel<ipc::raw>::pair(io.get_executor());
  ab.first.send(std::string("x"), half_done{});
}
