// fuzz/node_v8_fuzz.cpp - libFuzzer target: the 'advanced' mode's V8 decoder survives any bytes.
// SPDX-License-Identifier: BSL-1.0
//
// Build: clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DASIO_STANDALONE \
//          -Iinclude fuzz/node_v8_fuzz.cpp
// Run:   ./node_v8_fuzz -max_total_time=60 corpus_copy/ fuzz/corpus/node_v8/
//
// For every input it checks that ipc::node::read_v8 gives a value or one of its documented
// errors, within its value budget; that a value read is written back by write_v8 and reads back
// equal (NaN aside); and that an 'advanced' channel fed the bytes as one framed message and
// as a raw stream ends cleanly.
#include "ipc/node.hpp"

#include <asio/io_context.hpp>

#include <cmath>
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
  std::fprintf(stderr, "node_v8_fuzz: %s\n", what);
  std::abort();
}

bool has_nan(const ipc::json_value& v)
{
  if (auto d = v.as_double(); v.is_double() && d && std::isnan(*d)) return true;
  if (auto* d = v.as_date(); d && std::isnan(d->ms)) return true;
  if (auto* m = v.as_map())
    for (auto& [k, e] : m->entries)
      if (has_nan(k) || has_nan(e)) return true;
  if (auto* s = v.as_set())
    for (auto& e : s->elements)
      if (has_nan(e)) return true;
  if (auto* a = v.as_array())
    for (auto& e : *a)
      if (has_nan(e)) return true;
  if (auto* o = v.as_object())
    for (auto& m : *o)
      if (has_nan(m.second)) return true;
  return false;
}

void check_value(std::string_view bytes)
{
  ipc::json_value v;
  const std::error_code ec = ipc::node::read_v8(bytes, v, 8 * bytes.size() + 1024);
  if (ec) {
    if (ec != ipc::errc::invalid_json && ec != ipc::errc::invalid_utf8 &&
        ec != ipc::errc::truncated_payload && ec != ipc::errc::protocol_mismatch &&
        ec != ipc::node::errc::unsupported_value)
      fail("unexpected read error");
    return;
  }
  std::string out;
  if (ipc::node::write_v8(v, out)) fail("a value read cannot be written");
  ipc::json_value back;
  if (ipc::node::read_v8(out, back, 8 * out.size() + 1024)) fail("written bytes do not read");
  if (!has_nan(v) && !(back == v)) fail("round trip changed the value");
}

void check_stream(std::string_view bytes, bool framed)
{
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
  asio::io_context io;
  ipc::node::channel_options o;
  o.serialization = ipc::node::serialization::advanced;
  ipc::node::channel ch(io.get_executor(), ipc::native_handle(sv[0]), o);
  std::string data;
  if (framed) {
    const auto n = static_cast<std::uint32_t>(bytes.size());
    data = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
            static_cast<char>(n)};
  }
  data += bytes;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(sv[1], data.data() + done, data.size() - done);
    if (n <= 0) fail("write");
    done += static_cast<std::size_t>(n);
  }
  ::shutdown(sv[1], SHUT_WR);
  for (std::size_t i = 0;; ++i) {
    if (i > data.size() + 2) fail("more receives than frames");
    std::error_code ec;
    (void)ch.receive(ec);
    if (ec == asio::error::eof || ec == ipc::errc::truncated_frame ||
        ec == ipc::errc::message_too_large)
      break;
  }
  ::close(sv[1]);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size > 256 * 1024) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_value(bytes);
  check_stream(bytes, true);
  check_stream(bytes, false);
  return 0;
}
