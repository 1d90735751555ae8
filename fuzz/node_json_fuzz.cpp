// fuzz/node_json_fuzz.cpp - libFuzzer target: the Node channel's newline-JSON reader survives any bytes.
// SPDX-License-Identifier: BSL-1.0
//
// Build: clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DASIO_STANDALONE \
//          -Iinclude fuzz/node_json_fuzz.cpp
// Run:   ./node_json_fuzz -max_total_time=60 corpus_copy/ fuzz/corpus/node_json/
//
// For every input it checks that:
// - ipc::node::parse_json either fails with invalid_json / invalid_utf8, or gives a value that
//   write_json writes, that parses back equal, and whose text is then stable (the writer's
//   output is its own fixed point);
// - an ipc::node::channel fed the bytes as a peer's stream (through a real socket pair, then
//   end of stream) delivers messages and per-message errors and ends with one terminal error,
//   never crashing, hanging or leaking, with a small and the default line limit.
#include "ipc/node.hpp"

#include <asio/io_context.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

namespace {

[[noreturn]] void fail(const char* what)
{
  std::fprintf(stderr, "node_json_fuzz: %s\n", what);
  std::abort();
}

void check_text(std::string_view text)
{
  ipc::json_value v;
  const std::error_code ec = ipc::node::parse_json(text, v);
  if (ec) {
    if (ec != ipc::errc::invalid_json && ec != ipc::errc::invalid_utf8) fail("unexpected parse error");
    return;
  }
  std::string once;
  const std::error_code wec = ipc::node::write_json(v, once);
  if (wec) {
    // Only an infinity (1e999) cannot be written back.
    if (wec != ipc::errc::unrepresentable_value) fail("unexpected write error");
    return;
  }
  ipc::json_value again;
  if (ipc::node::parse_json(once, again)) fail("written text does not parse");
  if (!(again == v)) fail("round trip changed the value");
  std::string twice;
  if (ipc::node::write_json(again, twice) || twice != once) fail("written text is not stable");
}

void check_stream(std::string_view bytes, std::size_t max_line)
{
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
  asio::io_context io;
  ipc::node::channel_options o;
  o.max_message_size = max_line;
  ipc::node::channel ch(io.get_executor(), ipc::native_handle(sv[0]), o);
  // The input is small (libFuzzer's max_len): it fits the socket buffer in one write. The
  // first byte and the middle one carry a descriptor each, so NODE_HANDLE lines find some.
  int spare[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, spare) != 0) fail("socketpair");
  std::size_t done = 0;
  for (std::size_t at : {std::size_t{0}, bytes.size() / 2}) {
    if (at >= bytes.size() || done > at) continue;
    std::error_code ec;
    if (done < at) {
      const asio::const_buffer b(bytes.data() + done, at - done);
      done += ipc::platform::traits::send_some(sv[1], {&b, 1}, {}, false, ec);
    }
    const asio::const_buffer one(bytes.data() + done, 1);
    done += ipc::platform::traits::send_some(sv[1], {&one, 1}, {&spare[0], 1}, false, ec);
    if (ec) fail("send_some");
  }
  ::close(spare[0]);
  ::close(spare[1]);
  while (done < bytes.size()) {
    const ssize_t n = ::write(sv[1], bytes.data() + done, bytes.size() - done);
    if (n <= 0) fail("write");
    done += static_cast<std::size_t>(n);
  }
  ::shutdown(sv[1], SHUT_WR);
  for (std::size_t i = 0;; ++i) {
    if (i > bytes.size() + 2) fail("more receives than lines");
    std::error_code ec;
    (void)ch.receive(ec);
    if (ec == asio::error::eof || ec == ipc::errc::truncated_frame ||
        ec == ipc::errc::message_too_large)
      break;
    if (ec && ec != ipc::errc::invalid_json && ec != ipc::errc::invalid_utf8 &&
        ec != ipc::node::errc::unexpected_ack && ec != ipc::node::errc::unknown_handle_type)
      fail("unexpected receive error");
  }
  ::close(sv[1]);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size > 256 * 1024) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_text(bytes);
  check_stream(bytes, 64);
  check_stream(bytes, 64u << 20);
  return 0;
}
