// fuzz/json_fuzz.cpp - libFuzzer target: ipc::json survives any bytes and round-trips them.
// SPDX-License-Identifier: BSL-1.0
//
// Build: clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
//          fuzz/json_fuzz.cpp -lsimdjson
// Run:   ./json_fuzz -max_total_time=60 corpus_copy/ fuzz/corpus/json/
//
// For every input it checks that:
// - decoding into ipc::json_value and into a described message (and a few plain types) neither
//   crashes nor leaks, whatever the bytes;
// - errors agree across targets: a document that is not valid JSON (or UTF-8) gives the same
//   error for every target, and a valid one gives success or type_mismatch, never more;
// - whatever decodes re-encodes, and decodes again to an equal value (for json_value, to the
//   very same bytes).
#include "ipc/serializers/json.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fuzz {

struct item {
  std::string name;
  std::int64_t id = 0;
  std::optional<double> price;
  std::vector<std::uint8_t> codes;
  friend bool operator==(const item&, const item&) = default;
};
IPC_DESCRIBE(item, name, id, price, codes)

struct message {
  std::string kind;
  std::int32_t seq = 0;
  double value = 0;
  float ratio = 0;
  bool flag = false;
  std::uint64_t big = 0;
  std::vector<item> items;
  std::optional<std::string> note;
  std::map<std::string, std::vector<int>> index;
  std::unordered_map<std::string, std::optional<bool>> flags;
  std::array<std::int16_t, 2> pair{};
  std::optional<ipc::json_value> extra;
  friend bool operator==(const message&, const message&) = default;
};
IPC_DESCRIBE(message, kind, seq, value, ratio, flag, big, items, note, index, flags, pair, extra)

[[noreturn]] void fail(const char* what)
{
  std::fprintf(stderr, "json_fuzz: %s\n", what);
  std::abort();
}

ipc::byte_buffer padded(std::span<const std::byte> bytes)
{
  ipc::byte_buffer buf;
  buf.reserve(bytes.size() + ipc::payload_padding);
  buf.append(bytes);
  std::memset(buf.data() + buf.size(), 0, ipc::payload_padding);
  return buf;
}

// One serializer for the whole run, as a channel keeps one: buffer reuse is part of the test.
ipc::json& codec()
{
  static ipc::json instance;
  return instance;
}

template <class T>
ipc::byte_buffer encode_or_die(const T& value)
{
  ipc::byte_buffer out;
  if (codec().encode(value, out)) fail("a decoded value does not encode");
  return out;
}

// Decodes @p in as T; if that works, checks the encode/decode round trip. Returns the error.
template <class T>
std::error_code check_typed(std::span<const std::byte> in)
{
  T value{};
  std::error_code ec = codec().decode(in, value);
  if (ec) return ec;
  ipc::byte_buffer once = padded(encode_or_die(value).span());
  T again{};
  if (codec().decode(once.span(), again)) fail("re-encoded value does not decode");
  if (!(again == value)) fail("round trip changed the value");
  return ec;
}

// The error every target must report for a document json_value rejects; a document it accepts
// may only be of the wrong shape for another target.
void check_consistent(std::error_code value_ec, std::error_code typed_ec)
{
  if (value_ec ? typed_ec != value_ec : (typed_ec && typed_ec != ipc::errc::type_mismatch))
    fail("targets disagree on the error");
}

} // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  using namespace fuzz;
  ipc::byte_buffer input = padded(std::as_bytes(std::span(data, size)));
  const std::span<const std::byte> in = input.span();

  // The dynamic value: decode, encode, decode again to the same value and the same bytes.
  ipc::json_value value;
  std::error_code value_ec = codec().decode(in, value);
  if (!value_ec) {
    ipc::byte_buffer once = encode_or_die(value);
    ipc::byte_buffer reread = padded(once.span());
    ipc::json_value again;
    if (codec().decode(reread.span(), again)) fail("re-encoded json_value does not decode");
    if (!(again == value)) fail("json_value round trip changed the value");
    ipc::byte_buffer twice = encode_or_die(again);
    if (twice.size() != once.size() || std::memcmp(twice.data(), once.data(), once.size()) != 0)
      fail("json_value encoding is not stable");
  } else if (value_ec != ipc::errc::invalid_json && value_ec != ipc::errc::invalid_utf8) {
    fail("json_value decode failed with an unexpected error");
  }

  check_consistent(value_ec, check_typed<message>(in));
  check_consistent(value_ec, check_typed<std::vector<item>>(in));
  check_consistent(value_ec, check_typed<std::optional<std::int8_t>>(in));
  check_consistent(value_ec, check_typed<float>(in));
  check_consistent(value_ec, check_typed<std::string>(in));
  check_consistent(value_ec, check_typed<std::map<std::string, ipc::json_value>>(in));
  return 0;
}
