// tests/node_test.cpp - the Node.js wire protocol, against itself and against the real node.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/node.hpp" // first: it configures Asio
#include "ipc/converters/asio.hpp"
#include "ipc/serializers/json.hpp"

#include "support.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using ipc_test::read_all;

using ipc::json_value;
namespace fs = std::filesystem;

std::string to_text(const json_value& v)
{
  std::string s;
  BOOST_REQUIRE(!ipc::node::write_json(v, s));
  return s;
}

json_value from_text(std::string_view s)
{
  json_value v;
  const std::error_code ec = ipc::node::parse_json(s, v);
  BOOST_REQUIRE_MESSAGE(!ec, "parse " << std::string(s.substr(0, 80)) << ": " << ec.message());
  return v;
}

/// The build tree's root (the tests learn where child_helper is; node_peer is beside it).
fs::path build_root()
{
  const char* p = std::getenv("IPC_TEST_CHILD");
  BOOST_REQUIRE_MESSAGE(p != nullptr, "IPC_TEST_CHILD must name tests/child_helper");
  return fs::absolute(p).parent_path().parent_path();
}

/// tests/node/<name>: found from this file's path, which meson's compiler saw relative to the
/// build root (a hand-made build may have compiled it relative to the current directory).
std::string script(const char* name)
{
  fs::path here = __FILE__;
  if (here.is_relative())
    here = fs::exists(build_root() / here) ? build_root() / here : fs::absolute(here);
  return (here.parent_path() / "node" / name).lexically_normal().string();
}

std::string example(const char* name)
{
  return (fs::path(script("x")).parent_path().parent_path().parent_path() / "examples" / name)
    .lexically_normal()
    .string();
}

std::string node_peer()
{
  if (const char* p = std::getenv("IPC_NODE_PEER")) return p;
  return (build_root() / "examples" / "node_peer").string();
}

/// The examples the Node-parent tests start (absent when examples are not built, as in the
/// sanitizer configurations: those tests are then skipped).
boost::test_tools::assertion_result examples_built(boost::unit_test::test_unit_id)
{
  boost::test_tools::assertion_result r(fs::exists(node_peer()) &&
                                        fs::exists(build_root() / "examples" / "node_child"));
  r.message() << "examples not built (meson -Dexamples=true)";
  return r;
}

/// A deterministic stream of varied messages: nesting, unicode (non-BMP, lone surrogates,
/// controls, U+2028), integers within 2^53 (Node's numbers are doubles), doubles, and
/// top-level primitives.
class message_maker {
public:
  explicit message_maker(unsigned seed) : rng_(seed) {}

  json_value make(int depth = 0)
  {
    switch (pick(depth < 6 ? 9 : 7)) {
    case 0: return json_value();
    case 1: return json_value(pick(2) == 0);
    case 2: return json_value(static_cast<std::int64_t>(rng_() % (1ull << 53)) - (1ll << 52));
    case 3: return json_value(std::uniform_real_distribution<double>(-1e6, 1e6)(rng_));
    case 4:
    case 5:
    case 6: return json_value(text());
    case 7: {
      json_value a = json_value::array();
      for (int i = pick(5); i > 0; --i) a.push_back(make(depth + 1));
      return a;
    }
    default: {
      json_value o = json_value::object();
      for (int i = pick(5); i > 0; --i) {
        std::string key = text(); // JavaScript objects have no duplicate keys
        if (o.find(key) == nullptr && key != "cmd") o.emplace(std::move(key), make(depth + 1));
      }
      if (pick(4) == 0) o.emplace("cmd", pick(2) ? "NODE_" : "node_handle"); // look-alikes
      return o;
    }
    }
  }

  std::string text()
  {
    static const char* pieces[] = {"a", "Z", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f", "/",
                                   "\xc3\xa9", "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "\xe4\xb8\xad",
                                   "\xed\xa0\x80", "\xed\xbf\xbf", "NODE_", "{}", "\x7f"};
    std::string s;
    for (int i = pick(12); i > 0; --i) {
      const char* p = pieces[pick(sizeof pieces / sizeof *pieces)];
      // A high lone surrogate followed by a low one would be a pair on the JS side: keep them
      // apart so that the value is its own canonical form.
      if (std::string_view(p) == "\xed\xbf\xbf" && s.size() >= 3 &&
          s.compare(s.size() - 3, 3, "\xed\xa0\x80") == 0)
        s += "x";
      s += p;
    }
    return s;
  }

private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  std::mt19937_64 rng_;
};


/// A connected TCP pair on the loopback: {client, server side}.
std::pair<asio::ip::tcp::socket, asio::ip::tcp::socket> tcp_pair(asio::io_context& io)
{
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(io);
  client.connect(a.local_endpoint());
  return {std::move(client), a.accept()};
}

std::string read_to_end(asio::ip::tcp::socket& s)
{
  std::string out;
  std::error_code ec;
  asio::read(s, asio::dynamic_buffer(out), ec);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(node)

// ---- JSON text ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(json_text_round_trips_lone_surrogates_as_wtf8)
{
  const json_value v = from_text(R"(["\ud800", "\udfff", "\ud83d\ude00", "a\ud83dz"])");
  BOOST_TEST(*v[0].as_string() == "\xed\xa0\x80");
  BOOST_TEST(*v[1].as_string() == "\xed\xbf\xbf");
  BOOST_TEST(*v[2].as_string() == "\xf0\x9f\x98\x80"); // a pair is one code point
  BOOST_TEST(*v[3].as_string() == "a\xed\xa0\xbdz");
  BOOST_TEST(to_text(v) == "[\"\\ud800\",\"\\udfff\",\"\xf0\x9f\x98\x80\",\"a\\ud83dz\"]");
  BOOST_TEST(ipc::node::has_lone_surrogate(*v[0].as_string()));
  BOOST_TEST(!ipc::node::has_lone_surrogate(*v[2].as_string()));
}

BOOST_AUTO_TEST_CASE(json_text_writes_what_json_stringify_writes)
{
  BOOST_TEST(to_text(from_text(R"( {"a" : [1, -2, 1.5, true, false, null, "x\u0001\n\"\\/"]} )")) ==
             R"({"a":[1,-2,1.5,true,false,null,"x\u0001\n\"\\/"]})");
  BOOST_TEST(to_text(json_value(1.0)) == "1");
  BOOST_TEST(to_text(json_value(1e21)) == "1e+21");
  BOOST_TEST(to_text(json_value("\xe2\x80\xa8")) == "\"\xe2\x80\xa8\""); // raw, as Node does
  BOOST_TEST(from_text("18446744073709551616").is_double()); // beyond 64 bits: a double
  BOOST_TEST(*from_text("18446744073709551615").as_uint64() == UINT64_MAX);
  BOOST_TEST(std::signbit(*from_text("-0").as_double()));
  BOOST_TEST(std::isinf(*from_text("1e400").as_double()));
  BOOST_TEST(*from_text("1e-400").as_double() == 0.0);
}

BOOST_AUTO_TEST_CASE(json_text_refuses_what_it_cannot_carry)
{
  std::string out = "keep";
  BOOST_TEST(ipc::node::write_json(json_value(std::nan("")), out) == ipc::errc::unrepresentable_value);
  BOOST_TEST(ipc::node::write_json(json_value("\xff"), out) == ipc::errc::unrepresentable_value);
  BOOST_TEST(ipc::node::write_json(json_value("\xc0\x80"), out) == ipc::errc::unrepresentable_value);
  BOOST_TEST(out == "keep");
  json_value v;
  for (std::string_view bad : {"", " ", "[1,]", "{\"a\"}", "01", "1.", "-", "\"\\x\"", "\"\\u12\"",
                               "tru", "[1] 2", "\"a\tb\"", "{'a':1}", "\"unterminated", "NaN"})
    BOOST_TEST(ipc::node::parse_json(bad, v) == ipc::errc::invalid_json, "'" << bad << "'");
  BOOST_TEST(ipc::node::parse_json("\"\xed\xa0\x80\"", v) == ipc::errc::invalid_utf8); // raw WTF-8
  BOOST_TEST(ipc::node::parse_json("\"\xff\"", v) == ipc::errc::invalid_utf8);
  std::string deep(ipc::node::max_json_depth + 1, '[');
  deep += std::string(ipc::node::max_json_depth + 1, ']');
  BOOST_TEST(ipc::node::parse_json(deep, v) == ipc::errc::invalid_json);
  deep = deep.substr(1, deep.size() - 2);
  BOOST_TEST(!ipc::node::parse_json(deep, v));
}

BOOST_AUTO_TEST_CASE(json_text_round_trips_varied_values)
{
  message_maker make(7);
  for (int i = 0; i < 2000; ++i) {
    const json_value v = make.make();
    BOOST_TEST((from_text(to_text(v)) == v), to_text(v));
  }
}

// ---- V8 serialization ('advanced') ------------------------------------------------------------

namespace {

std::string hex(std::string_view bytes)
{
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string unhex(std::string_view h)
{
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

json_value from_v8(std::string_view hex_bytes, std::error_code& ec)
{
  json_value v;
  ec = ipc::node::read_v8(unhex(hex_bytes), v, 1u << 20);
  return v;
}

} // namespace

BOOST_AUTO_TEST_CASE(v8_values_are_written_as_node_writes_them)
{
  // The expected bytes are what node's v8.serialize() writes for the same values.
  std::string out;
  BOOST_REQUIRE(!ipc::node::write_v8(json_value::object({{"a", 1}}), out));
  BOOST_TEST(hex(out) == "ff0f6f22016149027b01");
  out.clear();
  BOOST_REQUIRE(!ipc::node::write_v8(json_value("\xc3\xa9\xf0\x9f\x98\x80\xed\xa0\x80"), out));
  BOOST_TEST(hex(out) == "ff0f6308e9003dd800de00d8"); // two-byte, lone surrogate kept
  out.clear();
  BOOST_REQUIRE(!ipc::node::write_v8(json_value::array({-1, 1.5, json_value(), false}), out));
  BOOST_TEST(hex(out) == "ff0f41044901" "4e000000000000f83f" "3046" "240004");
}

BOOST_AUTO_TEST_CASE(v8_values_node_writes_are_read)
{
  std::error_code ec;
  BOOST_TEST((from_v8("ff0f6f22016149027b01", ec) == json_value::object({{"a", 1}})));
  BOOST_TEST(!ec);
  // {1: 'a', b: [1, , 3]}: a number key and a sparse array (the hole is null).
  BOOST_TEST((from_v8("ff0f6f4902220161220162610349004902490449064002037b02", ec) ==
              json_value::object({{"1", "a"}, {"b", json_value::array({1, json_value(), 3})}})));
  BOOST_TEST(!ec);
  // const o = {x: 1}; [o, o]: the back-reference becomes a copy.
  const json_value o = json_value::object({{"x", 1}});
  BOOST_TEST((from_v8("ff0f41026f22017849027b015e01240002", ec) == json_value::array({o, o})));
  BOOST_TEST(!ec);
  BOOST_TEST(*from_v8("ff0f6308e9003dd800de00d8", ec).as_string() == "\xc3\xa9\xf0\x9f\x98\x80\xed\xa0\x80");
  // What JSON cannot hold is refused, and bad buffers are errors, never crashes.
  from_v8("ff0f41015e00240001", ec); // a = []; a.push(a): a cycle
  BOOST_TEST(ec == ipc::node::errc::unsupported_value);
  from_v8("ff0f5222016100", ec); // /a/
  BOOST_TEST(ec == ipc::node::errc::unsupported_value);
  from_v8("ff0f6f2201", ec);
  BOOST_TEST(ec == ipc::errc::truncated_payload);
  from_v8("ff0f5e05", ec);
  BOOST_TEST(ec == ipc::errc::invalid_json);
  from_v8("ff0f41ffffffff0f", ec); // a dense array longer than its buffer
  BOOST_TEST(ec == ipc::errc::truncated_payload);
  from_v8("ff0f61ffffffff0f400000ffffffff0f", ec); // a sparse one beyond the budget
  BOOST_TEST(ec == ipc::node::errc::unsupported_value);
  from_v8("ff1f30", ec);
  BOOST_TEST(ec == ipc::errc::protocol_mismatch);
  from_v8("ff0f3030", ec);
  BOOST_TEST(ec == ipc::errc::truncated_payload);
}

namespace {

json_value bytes_value(ipc::json_bytes_type t, std::initializer_list<unsigned> b)
{
  ipc::json_bytes out{t, {}};
  for (unsigned x : b) out.data.push_back(static_cast<std::byte>(x));
  return json_value(std::move(out));
}

json_value bigint(std::string digits) { return json_value(ipc::json_bigint{std::move(digits)}); }
json_value date(double ms) { return json_value(ipc::json_date{ms}); }

/// What tests/node/values.js builds, as json_values (its invalid Date aside).
json_value node_values()
{
  using t = ipc::json_bytes_type;
  return json_value::object({
    {"date", date(1700000000123.0)},
    {"invalid_date", date(std::nan(""))},
    {"big", bigint("123456789012345678901234567890")},
    {"negative_big", bigint("-1606938044258990275541962092341162602522202993782792835301376")},
    {"zero_big", bigint("0")},
    {"map", json_value::map({{1, "one"},
                             {"k", json_value::object({{"x", json_value::array({bigint("1")})}})},
                             {date(0), nullptr}})},
    {"set", json_value::set({"a", 2, json_value::map()})},
    {"u8", bytes_value(t::uint8_array, {1, 2, 255})},
    {"i16", bytes_value(t::int16_array, {0xfe, 0xff, 0x2c, 0x01})},
    {"f64", bytes_value(t::float64_array, {0, 0, 0, 0, 0, 0, 0xf8, 0x3f})},
    {"bi64", bytes_value(t::bigint64_array, {255, 255, 255, 255, 255, 255, 255, 255})},
    {"bu64", bytes_value(t::biguint64_array, {255, 255, 255, 255, 255, 255, 255, 255})},
    {"clamped", bytes_value(t::uint8_clamped_array, {7})},
    {"view", bytes_value(t::data_view, {1, 2, 3})},
    {"buffer", bytes_value(t::buffer, {'h', 0xc3, 0xa9, 'l', 'l', 'o'})},
    {"array_buffer", bytes_value(t::array_buffer, {9, 8})},
    {"empty", bytes_value(t::float32_array, {})},
    {"nested", json_value::array({json_value::set({json_value::set({1})})})},
  });
}

} // namespace

BOOST_AUTO_TEST_CASE(v8_values_json_lacks_are_written_and_read_as_node_does)
{
  // Each pair: a value, and the bytes node's ChildProcessSerializer writes for it.
  using t = ipc::json_bytes_type;
  const std::pair<json_value, const char*> cases[] = {
    {date(1700000000123.0), "ff0f4400b08756febc7842"},
    {bigint("12345678901234567890123"), "ff0f5a20cb444271764eb6429d02000000000000"},
    {bigint("-5"), "ff0f5a110500000000000000"},
    {bigint("0"), "ff0f5a00"},
    {json_value::map({{1, "a"}, {"k", json_value::object({{"x", 1}})}}),
     "ff0f3b490222016122016b6f22017849027b013a04"},
    {json_value::set({1, "two"}), "ff0f274902220374776f2c02"},
    {bytes_value(t::uint8_array, {1, 2, 3}), "ff0f5c000103010203"},
    {bytes_value(t::buffer, {'h', 'i'}), "ff0f5c000a026869"},
    {bytes_value(t::array_buffer, {9, 8}), "ff0f42020908"},
    {bytes_value(t::float64_array, {0, 0, 0, 0, 0, 0, 0xf8, 0x3f}), "ff0f5c000808000000000000f83f"},
    {bytes_value(t::data_view, {0, 0}), "ff0f5c0009020000"},
    {bytes_value(t::bigint64_array, {255, 255, 255, 255, 255, 255, 255, 255}), "ff0f5c000b08ffffffffffffffff"},
  };
  for (const auto& [v, bytes] : cases) {
    std::string out;
    BOOST_REQUIRE(!ipc::node::write_v8(v, out));
    BOOST_TEST(hex(out) == bytes);
    std::error_code ec;
    BOOST_TEST((from_v8(bytes, ec) == v), bytes);
    BOOST_TEST(!ec, bytes);
  }
  // const m = new Map(); [m, m, new Date(0)]: the second is a back-reference, and the Map took
  // an object id, so the Date's is counted right.
  std::error_code ec;
  const json_value m = from_v8("ff0f41033b3a005e01440000000000000000240003", ec);
  BOOST_TEST(!ec);
  BOOST_TEST((m == json_value::array({json_value::map(), json_value::map(), date(0)})));
  // An invalid Date is NaN.
  BOOST_TEST(std::isnan(from_v8("ff0f44000000000000f87f", ec).as_date()->ms));
  // A BigInt of the largest size allowed, both ways.
  std::string big = "1";
  big += std::string(39000, '7');
  std::string out;
  BOOST_REQUIRE(!ipc::node::write_v8(bigint(big), out));
  json_value back;
  BOOST_REQUIRE(!ipc::node::read_v8(out, back, 1u << 20));
  BOOST_TEST(back.as_bigint()->digits == big);
}

BOOST_AUTO_TEST_CASE(v8_values_json_lacks_are_refused_when_malformed)
{
  std::error_code ec;
  from_v8("ff0f3b3a02", ec); // a Map that claims an entry it lacks
  BOOST_TEST(ec == ipc::errc::invalid_json);
  from_v8("ff0f274902", ec); // a Set without its end
  BOOST_TEST(ec == ipc::errc::truncated_payload);
  from_v8("ff0f3b4902", ec); // a Map key without its value
  BOOST_TEST(ec == ipc::errc::truncated_payload);
  from_v8("ff0f4400", ec); // a Date cut short
  BOOST_TEST(ec == ipc::errc::truncated_payload);
  from_v8("ff0f5a20cb44", ec); // a BigInt cut short
  BOOST_TEST(ec == ipc::errc::truncated_payload);
  from_v8("ff0f5c000d0100", ec); // a view type Node has no constructor for
  BOOST_TEST(ec == ipc::errc::invalid_json);
  from_v8("ff0f5c000301ff", ec); // an Int16Array of one byte
  BOOST_TEST(ec == ipc::errc::invalid_json);
  from_v8("ff0f5c000308ff", ec); // longer than the buffer
  BOOST_TEST(ec == ipc::errc::truncated_payload);
  from_v8("ff0f5c0200", ec); // an unknown host-object sub-tag
  BOOST_TEST(ec == ipc::errc::invalid_json);
  from_v8("ff0f4202090856010002", ec); // V8's own view over an ArrayBuffer
  BOOST_TEST(ec);
  from_v8("ff0f7a5a00", ec); // Object(0n): a boxed BigInt
  BOOST_TEST(ec == ipc::node::errc::unsupported_value);
  // Nesting is bounded for Maps and Sets as for arrays.
  std::string deep = "ff0f";
  for (int i = 0; i < 2000; ++i) deep += "27";
  from_v8(deep, ec);
  BOOST_TEST(ec == ipc::errc::invalid_json);
  // A BigInt beyond max_bigint_bytes is refused before any conversion.
  const auto varint = [](std::string& out, std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7F) | 0x80);
    out += static_cast<char>(v);
  };
  std::string huge = "\xff\x0f" "Z";
  const std::size_t n = ipc::node::max_bigint_bytes + 8;
  varint(huge, n << 1);
  huge.append(n, '\x01');
  json_value v;
  BOOST_TEST(ipc::node::read_v8(huge, v, 1u << 30) == ipc::node::errc::unsupported_value);
  // Converting BigInts costs time quadratic in their size: one message buys a bounded amount.
  std::string many = "\xff\x0f" "A";
  varint(many, 8);
  for (int i = 0; i < 8; ++i) {
    many += 'Z';
    varint(many, ipc::node::max_bigint_bytes << 1);
    many.append(ipc::node::max_bigint_bytes, '\xff');
  }
  many += '$';
  varint(many, 0);
  varint(many, 8);
  BOOST_TEST(ipc::node::read_v8(many, v, 1u << 30) == ipc::node::errc::unsupported_value);
  many.resize(many.size() - 3 - 4 * (ipc::node::max_bigint_bytes + 4)); // four of them are fine
  many[3] = 4;
  many += '$';
  varint(many, 0);
  varint(many, 4);
  BOOST_TEST(!ipc::node::read_v8(many, v, 1u << 30));
  BOOST_TEST(v.size() == 4);
  // Copies made for back-references pay for the bytes they copy: one 64 KiB string referenced
  // 10,000 times in a 90 KiB message would be 640 MiB.
  std::string expand = "\xff\x0f" "A";
  varint(expand, 10000);
  expand += "o\"\x01s\"";
  varint(expand, 64 * 1024);
  expand.append(64 * 1024, 'x');
  expand += "{\x01";
  for (int i = 1; i < 10000; ++i) expand += "^\x01"; // the object is id 1, after the array
  expand += '$';
  varint(expand, 0);
  varint(expand, 10000);
  BOOST_TEST(ipc::node::read_v8(expand, v, 8 * expand.size() + 1024) == ipc::node::errc::unsupported_value);
}

BOOST_AUTO_TEST_CASE(v8_writer_refuses_values_node_would_throw_on)
{
  using t = ipc::json_bytes_type;
  std::string out = "keep";
  for (const char* digits : {"", "-", "-0", "007", "+1", "1e3", "12a", " 1"})
    BOOST_TEST(ipc::node::write_v8(bigint(digits), out) == ipc::errc::unrepresentable_value, digits);
  BOOST_TEST(ipc::node::write_v8(bigint(std::string(50000, '9')), out) == ipc::errc::unrepresentable_value);
  BOOST_TEST(ipc::node::write_v8(bytes_value(t::int16_array, {1, 2, 3}), out) == ipc::errc::unrepresentable_value);
  BOOST_TEST(ipc::node::write_v8(bytes_value(static_cast<t>(40), {1}), out) == ipc::errc::unrepresentable_value);
  json_value deep = json_value::set();
  for (int i = 0; i < 2000; ++i) deep = json_value(ipc::json_set{{std::move(deep)}});
  BOOST_TEST(ipc::node::write_v8(deep, out) == ipc::errc::unrepresentable_value);
  BOOST_TEST(out == "keep");
  // JSON has no form for them: 'json' mode and ipc::json refuse them instead of sending what
  // JSON.stringify would ({} for a Map, a string for a Date, a TypeError for a BigInt).
  for (const json_value& v : {date(0), bigint("1"), json_value::map(), json_value::set(),
                              bytes_value(t::buffer, {}), json_value::array({date(1)})}) {
    BOOST_TEST(ipc::node::write_json(v, out) == ipc::errc::unrepresentable_value);
    ipc::byte_buffer b;
    BOOST_TEST(ipc::json{}.encode(v, b) == ipc::errc::unrepresentable_value);
  }
}

BOOST_AUTO_TEST_CASE(v8_round_trips_varied_values)
{
  message_maker make(3);
  for (int i = 0; i < 2000; ++i) {
    const json_value v = make.make();
    std::string bytes;
    BOOST_REQUIRE(!ipc::node::write_v8(v, bytes));
    json_value back;
    BOOST_REQUIRE(!ipc::node::read_v8(bytes, back, 1u << 20));
    BOOST_TEST((back == v), to_text(v));
  }
}

// ---- channel pairs --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pair_carries_values_and_keeps_internal_messages_apart)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto [a, b] = ipc::node::channel::pair(io.get_executor());
  const json_value look_alikes[] = {json_value::object({{"cmd", "NODE_"}}),
                                    json_value::object({{"cmd", "node_handle"}}),
                                    json_value::object({{"cmd", 5}}),
                                    json_value::object({{"msg", json_value::object({{"cmd", "NODE_HANDLE"}})}}),
                                    json_value("NODE_HANDLE"), json_value(42), json_value()};
  for (const auto& v : look_alikes) a.send(v);
  for (const auto& v : look_alikes) BOOST_TEST((b.receive().value == v));

  std::error_code ec;
  a.send(json_value::object({{"cmd", "NODE_HANDLE_ACK"}}), ec);
  BOOST_TEST(ec == ipc::node::errc::reserved_message);
  a.send(json_value::object({{"cmd", "NODE_SOMETHING"}}), ec);
  BOOST_TEST(ec == ipc::node::errc::reserved_message);
  a.send(json_value(1.0 / 0.0), ec);
  BOOST_TEST(ec == ipc::errc::unrepresentable_value);
  a.send(json_value("after"));
  BOOST_TEST((b.receive().value == json_value("after")));
}

BOOST_AUTO_TEST_CASE(async_send_and_receive_complete_in_order)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto p = ipc::node::channel::pair(io.get_executor());
  auto& a = p.first;
  auto& b = p.second; // not a structured binding: clang 14 cannot capture those
  int sent = 0;
  std::vector<json_value> got;
  for (int i = 0; i < 100; ++i)
    a.async_send(json_value::object({{"i", i}, {"pad", std::string(i * 1000, 'x')}}),
                 [&](std::error_code ec) {
                   if (!ec) ++sent;
                 });
  std::function<void()> next = [&] {
    b.async_receive([&](std::error_code ec, ipc::node::message m) {
      if (ec) return;
      got.push_back(std::move(m.value));
      if (got.size() < 100) next();
    });
  };
  next();
  io.run();
  BOOST_TEST(sent == 100);
  BOOST_REQUIRE(got.size() == 100u);
  for (int i = 0; i < 100; ++i) BOOST_TEST(*got[i]["i"].as_int64() == i);
}

BOOST_AUTO_TEST_CASE(receive_reports_bad_lines_and_stays_usable)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  ipc::node::channel ch(io.get_executor(), ipc::native_handle(sv[0]));
  ipc::native_handle raw(sv[1]);
  const std::string input = "{\"a\":1}\n"
                            "not json\n"
                            "\n"
                            "\"\xff\"\n"
                            "{\"cmd\":\"NODE_HANDLE_ACK\"}\n"
                            "{\"cmd\":\"NODE_UNKNOWN\"}\n"
                            "[1,2]\r\n";
  BOOST_REQUIRE(::write(raw.get(), input.data(), input.size()) == ssize_t(input.size()));
  std::error_code ec;
  BOOST_TEST((ch.receive(ec).value == json_value::object({{"a", 1}})));
  BOOST_TEST(!ec);
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::invalid_json);
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::invalid_json); // an empty line is not a message
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::invalid_utf8);
  ch.receive(ec);
  BOOST_TEST(ec == ipc::node::errc::unexpected_ack);
  BOOST_TEST((ch.receive(ec).value == json_value::array({1, 2}))); // unknown NODE_ ignored
  BOOST_TEST(!ec);
  // A partial line at end of stream is reported, not delivered.
  BOOST_REQUIRE(::write(raw.get(), "{\"cut", 5) == 5);
  raw.reset();
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::truncated_frame);
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::truncated_frame);
}

BOOST_AUTO_TEST_CASE(overlong_line_ends_the_stream)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  ipc::node::channel_options o;
  o.max_message_size = 1000;
  ipc::node::channel ch(io.get_executor(), ipc::native_handle(sv[0]), o);
  ipc::native_handle raw(sv[1]);
  const std::string line = "\"" + std::string(2000, 'x') + "\"\n[1]\n";
  BOOST_REQUIRE(::write(raw.get(), line.data(), line.size()) == ssize_t(line.size()));
  std::error_code ec;
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::message_too_large);
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::message_too_large);
  ch.send(json_value(std::string(2000, 'y')), ec); // the sender keeps the same limit
  BOOST_TEST(ec == ipc::errc::message_too_large);
}

BOOST_AUTO_TEST_CASE(peer_close_is_end_of_stream_both_ways)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto [a, b] = ipc::node::channel::pair(io.get_executor());
  a.send(json_value("last"));
  a.close();
  BOOST_TEST((b.receive().value == json_value("last")));
  std::error_code ec;
  b.receive(ec);
  BOOST_TEST(ec == asio::error::eof);
  std::error_code aec;
  b.async_receive([&](std::error_code e, ipc::node::message) { aec = e; });
  io.run();
  BOOST_TEST(aec == asio::error::eof);
}

// ---- against the real node --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cpp_parent_talks_to_a_node_child)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto c = ipc::spawn<ipc::node::json>(io, "node", {script("echo.js")});
  message_maker make(11);
  std::vector<json_value> sent;
  for (int i = 0; i < 3000; ++i) {
    sent.push_back(make.make());
    c.channel().send(sent.back());
    const json_value back = c.channel().receive().value;
    BOOST_TEST((back == sent.back()), to_text(sent.back()) << " came back as " << to_text(back));
  }
  // Big strings and deep nesting.
  const json_value big = json_value(std::string(3u << 20, 'm') + "\xf0\x9f\x98\x80\xed\xa0\x80");
  c.channel().send(big);
  BOOST_TEST((c.channel().receive().value == big));
  json_value deep = json_value::array({"bottom"});
  for (int i = 0; i < 900; ++i) deep = json_value::array({std::move(deep)});
  c.channel().send(deep);
  BOOST_TEST((c.channel().receive().value == deep));
  // Many messages from the child before we read any.
  c.channel().send(json_value::object({{"echo_test", "send_many"}, {"count", 5000}}));
  for (int i = 0; i < 5000; ++i) BOOST_TEST(*c.channel().receive().value["n"].as_int64() == i);
  // We close: the child sees 'disconnect' and exits.
  c.channel().close();
  BOOST_TEST(c.wait().code == 0);
}

BOOST_AUTO_TEST_CASE(cpp_parent_talks_to_a_node_child_in_advanced_mode)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto c = ipc::spawn<ipc::node::advanced>(io, "node", {script("echo.js")});
  BOOST_TEST((c.channel().serialization() == ipc::node::serialization::advanced));
  message_maker make(13);
  for (int i = 0; i < 2000; ++i) {
    const json_value v = make.make();
    c.channel().send(v);
    const json_value back = c.channel().receive().value;
    BOOST_TEST((back == v), to_text(v) << " came back as " << to_text(back));
  }
  // What JSON cannot carry but V8 can.
  c.channel().send(json_value(1.0 / 0.0));
  BOOST_TEST(std::isinf(*c.channel().receive().value.as_double()));
  const json_value big = json_value(std::string(2u << 20, 'm') + "\xed\xa0\x80");
  c.channel().send(big);
  BOOST_TEST((c.channel().receive().value == big));
  // A handle in an advanced-mode envelope.
  c.channel().close();
  BOOST_TEST(c.wait().code == 0);

  auto h = ipc::spawn<ipc::node::advanced>(io, "node", {script("handles.js")});
  auto p = tcp_pair(io);
  h.channel().send(json_value::object({{"n", 9}}), std::move(p.second));
  BOOST_TEST(*h.channel().receive().value["got"].as_string() == "net.Socket");
  BOOST_TEST(read_to_end(p.first) == "node got socket {\"n\":9}\n");
  h.channel().close();
  BOOST_TEST(h.wait().code == 0);
}

BOOST_AUTO_TEST_CASE(cpp_parent_and_node_child_agree_on_values_json_lacks)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto c = ipc::spawn<ipc::node::advanced>(io, "node", {script("values.js")});
  // Node's values arrive as the json_values the test builds.
  c.channel().send("send");
  json_value got = c.channel().receive().value;
  BOOST_REQUIRE(got.find("invalid_date") && got["invalid_date"].as_date());
  BOOST_TEST(std::isnan(got["invalid_date"].as_date()->ms));
  json_value want = node_values();
  *got.find("invalid_date") = date(0); // NaN never compares equal
  *want.find("invalid_date") = date(0);
  BOOST_TEST((got == want));
  // Ours arrive in Node deep-equal to what Node builds (classes included).
  c.channel().send(node_values());
  BOOST_TEST(*c.channel().receive().value.as_string() == "equal");
  c.channel().close();
  BOOST_TEST(c.wait().code == 0);

  // A 'json' channel refuses them and stays usable.
  auto j = ipc::spawn<ipc::node::json>(io, "node", {script("echo.js")});
  std::error_code ec;
  j.channel().send(node_values(), ec);
  BOOST_TEST(ec == ipc::errc::unrepresentable_value);
  j.channel().send("still here");
  BOOST_TEST(*j.channel().receive().value.as_string() == "still here");
  j.channel().close();
  BOOST_TEST(j.wait().code == 0);
}

BOOST_AUTO_TEST_CASE(node_parent_talks_to_a_cpp_child_in_advanced_mode, *boost::unit_test::precondition(examples_built))
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  ipc::spawn_options o;
  o.stdio = {ipc::stdio::inherit, ipc::stdio::pipe, ipc::stdio::inherit};
  o.env["IPC_TEST_SERIALIZATION"] = "advanced";
  auto c = ipc::spawn<ipc::node::json>(io, "node", {script("parent.js"), node_peer(), "messages", "values", "handles"}, o);
  const std::string out = read_all(*c.stdout_pipe());
  BOOST_TEST(c.wait().code == 0, out);
  BOOST_TEST(out.find("ok handles") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(advanced_frames_that_break_the_rules_are_reported)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  ipc::node::channel_options opt;
  opt.serialization = ipc::node::serialization::advanced;
  opt.max_message_size = 1000;
  ipc::node::channel ch(io.get_executor(), ipc::native_handle(sv[0]), opt);
  ipc::native_handle raw(sv[1]);
  const std::string input = unhex("0000000aff0f6f22016149027b01"   // {a: 1}
                                   "0000000bff0f440000000000000000" // new Date(0)
                                   "00000007ff0f5222016100"         // /a/
                                   "00000002ffff"                   // garbage
                                   "80000000");                     // 2 GiB: beyond the limit
  BOOST_REQUIRE(::write(raw.get(), input.data(), input.size()) == ssize_t(input.size()));
  std::error_code ec;
  BOOST_TEST((ch.receive(ec).value == json_value::object({{"a", 1}})));
  BOOST_TEST((ch.receive(ec).value == json_value(ipc::json_date{0})));
  ch.receive(ec);
  BOOST_TEST(ec == ipc::node::errc::unsupported_value);
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::protocol_mismatch);
  ch.receive(ec);
  BOOST_TEST(ec == ipc::errc::message_too_large);
}

BOOST_AUTO_TEST_CASE(node_child_disconnect_is_end_of_stream)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto c = ipc::spawn<ipc::node::json>(io, "node", {script("echo.js")});
  c.channel().send(json_value::object({{"echo_test", "disconnect"}}));
  std::error_code ec;
  c.channel().receive(ec);
  BOOST_TEST(ec == asio::error::eof);
  BOOST_TEST(c.wait().code == 0);
}

BOOST_AUTO_TEST_CASE(parent_channel_needs_node_channel_fd)
{
  asio::io_context io;
  ::unsetenv("NODE_CHANNEL_FD");
  BOOST_TEST(!ipc::node::parent_channel(io).has_value());
  std::error_code ec;
  ::setenv("NODE_CHANNEL_FD", "abc", 1);
  (void)ipc::node::parent_channel(io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::invalid_handle);
  BOOST_TEST(std::getenv("NODE_CHANNEL_FD") == nullptr); // removed, even when invalid
  ::setenv("NODE_CHANNEL_FD", "0", 1);                   // stdin: not a socket, left open
  (void)ipc::node::parent_channel(io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::invalid_handle);
  BOOST_TEST(::fcntl(0, F_GETFD) >= 0);
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  ipc::native_handle keep(sv[1]);
  ::setenv("NODE_CHANNEL_FD", std::to_string(sv[0]).c_str(), 1);
  ::setenv("NODE_CHANNEL_SERIALIZATION_MODE", "yaml", 1);
  (void)ipc::node::parent_channel(io.get_executor(), ec);
  BOOST_TEST(ec == ipc::node::errc::unsupported_mode);
  BOOST_TEST(std::getenv("NODE_CHANNEL_SERIALIZATION_MODE") == nullptr);
  ::setenv("NODE_CHANNEL_FD", std::to_string(sv[0]).c_str(), 1);
  auto ch = ipc::node::parent_channel(io.get_executor(), ec);
  BOOST_TEST(!ec);
  BOOST_TEST(ch.is_open());
}

BOOST_AUTO_TEST_CASE(node_parent_talks_to_a_cpp_child, *boost::unit_test::precondition(examples_built))
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  ipc::spawn_options o;
  o.stdio = {ipc::stdio::inherit, ipc::stdio::pipe, ipc::stdio::inherit};
  auto c = ipc::spawn<ipc::node::json>(io, "node", {script("parent.js"), node_peer(), "messages"}, o);
  const std::string out = read_all(*c.stdout_pipe());
  const auto st = c.wait();
  BOOST_TEST(st.code == 0, out);
  BOOST_TEST(out.find("ok messages") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(node_parent_hands_sockets_and_servers_to_a_cpp_child, *boost::unit_test::precondition(examples_built))
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  ipc::spawn_options o;
  o.stdio = {ipc::stdio::inherit, ipc::stdio::pipe, ipc::stdio::inherit};
  auto c = ipc::spawn<ipc::node::json>(io, "node",
                                       {script("parent.js"), node_peer(), "handles", "child_exit"}, o);
  const std::string out = read_all(*c.stdout_pipe());
  BOOST_TEST(c.wait().code == 0, out);
  BOOST_TEST(out.find("ok handles") != std::string::npos, out);
  BOOST_TEST(out.find("ok child_exit") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(seed_scenario_node_server_hands_clients_to_a_cpp_child, *boost::unit_test::precondition(examples_built))
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  ipc::spawn_options o;
  o.stdio = {ipc::stdio::inherit, ipc::stdio::pipe, ipc::stdio::inherit};
  auto c = ipc::spawn<ipc::node::json>(
    io, "node", {example("node/parent.js"), (build_root() / "examples" / "node_child").string(), "0"}, o);
  std::string line;
  asio::read_until(*c.stdout_pipe(), asio::dynamic_buffer(line), '\n');
  BOOST_REQUIRE(line.rfind("listening on ", 0) == 0);
  const auto port = static_cast<unsigned short>(std::stoi(line.substr(13)));
  for (int i = 0; i < 10; ++i) {
    asio::ip::tcp::socket client(io);
    client.connect({asio::ip::make_address("127.0.0.1"), port});
    BOOST_TEST(read_to_end(client) == "Child handled it.");
  }
  c.kill(SIGTERM); // the parent disconnects its child, which exits, and the parent with it
  BOOST_TEST(c.wait().code == 0);
}

// ---- handles, C++ parent and Node child ---------------------------------------------------


BOOST_AUTO_TEST_CASE(cpp_parent_hands_sockets_servers_and_udp_to_a_node_child)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto c = ipc::spawn<ipc::node::json>(io, "node", {script("handles.js")});
  auto& ch = c.channel();

  // A connected TCP socket: our copy closes after the ACK, the client talks to Node.
  for (int i = 0; i < 5; ++i) {
    auto p = tcp_pair(io);
    ch.send(json_value::object({{"n", i}}), std::move(p.second)); // returns after the ACK
    BOOST_TEST(!p.second.is_open());
    const json_value report = ch.receive().value;
    BOOST_TEST(*report["got"].as_string() == "net.Socket");
    BOOST_TEST(*report["msg"]["n"].as_int64() == i);
    BOOST_TEST(read_to_end(p.first) == "node got socket {\"n\":" + std::to_string(i) + "}\n");
  }

  // A listening socket: Node accepts on it.
  {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto ep = a.local_endpoint();
    ch.send(json_value("server"), std::move(a));
    BOOST_TEST(*ch.receive().value["got"].as_string() == "net.Server");
    for (int i = 0; i < 3; ++i) {
      asio::ip::tcp::socket client(io);
      client.connect(ep);
      BOOST_TEST(read_to_end(client) == "node server\n");
    }
  }

  // A UDP socket, sent with async_send: it completes when Node has acknowledged it.
  {
    asio::ip::udp::socket u(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto ep = u.local_endpoint();
    std::error_code sent = asio::error::would_block;
    ch.async_send(json_value("udp"), std::move(u), [&](std::error_code ec) { sent = ec; });
    io.run();
    io.restart();
    BOOST_TEST(!sent);
    const json_value report = ch.receive().value;
    BOOST_TEST(*report["got"].as_string() == "dgram.Socket");
    asio::ip::udp::socket probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    probe.send_to(asio::buffer("ping", 4), ep);
    char buf[64];
    const std::size_t n = probe.receive(asio::buffer(buf));
    BOOST_TEST(std::string(buf, n) == "pong ping");
  }

  // Node sends back a socket its server accepted: it comes with the server's key, and the
  // connection counts in that server's getConnections() until our ticket goes.
  {
    ch.send(json_value::object({{"do", "serve"}}));
    const auto port = *ch.receive().value["port"].as_int64();
    asio::ip::tcp::socket client(io);
    client.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    ipc::node::message m = ch.receive();
    BOOST_REQUIRE(m.handle.has_value());
    BOOST_TEST(m.handle->type == "net.Socket");
    BOOST_TEST(m.handle->key == "4:127.0.0.1:0");
    BOOST_TEST(m.handle->ticket != nullptr);
    auto s = m.handle->take<asio::ip::tcp::socket>(io.get_executor());
    ch.send(json_value::object({{"do", "count"}}));
    BOOST_TEST(*ch.receive().value["count"].as_int64() == 1);
    asio::write(s, asio::buffer(std::string("from c++\n")));
    s.close();
    m.handle->ticket.reset();
    ch.send(json_value::object({{"do", "count"}}));
    BOOST_TEST(*ch.receive().value["count"].as_int64() == 0);
    ch.send(json_value::object({{"do", "close"}}));
    BOOST_TEST((ch.receive().value == json_value::object({{"closed", true}})));
    BOOST_TEST(read_to_end(client) == "from c++\n");
  }

  // Node sends a listening server: we accept on it.
  {
    ch.send(json_value::object({{"do", "send_server"}}));
    ipc::node::message m = ch.receive();
    BOOST_REQUIRE(m.handle.has_value());
    BOOST_TEST(m.handle->type == "net.Server");
    auto a = m.handle->take<asio::ip::tcp::acceptor>(io.get_executor());
    BOOST_TEST(a.local_endpoint().port() == *m.value["port"].as_int64());
  }

  ch.close();
  BOOST_TEST(c.wait().code == 0);
}

BOOST_AUTO_TEST_CASE(descriptors_node_cannot_take_are_refused)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto c = ipc::spawn<ipc::node::json>(io, "node", {script("echo.js")});
  auto& ch = c.channel();
  std::error_code ec;
  ch.send(json_value("file"), ipc::native_handle(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC)), ec);
  BOOST_TEST(ec == ipc::node::errc::unsupported_handle);
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  ipc::native_handle other(sv[1]);
  ch.send(json_value("seqpacket"), ipc::native_handle(sv[0]), ec);
  BOOST_TEST(ec == ipc::node::errc::unsupported_handle);
  int pfd[2];
  BOOST_REQUIRE(::pipe2(pfd, O_CLOEXEC) == 0);
  ipc::native_handle r(pfd[0]);
  ch.send(json_value("pipe"), ipc::native_handle(pfd[1]), ec);
  BOOST_TEST(ec == ipc::node::errc::unsupported_handle);
  // A type that does not fit the descriptor.
  asio::ip::udp::socket u(io, {asio::ip::make_address("127.0.0.1"), 0});
  ipc::node::handle h;
  h.type = "net.Server";
  h.descriptor = ipc::handle_converter<asio::ip::udp::socket>::send(std::move(u), ec);
  ch.send(json_value("mismatch"), std::move(h), ec);
  BOOST_TEST(ec == ipc::node::errc::unknown_handle_type);
  // The channel is unharmed.
  ch.send(json_value("still here"));
  BOOST_TEST((ch.receive().value == json_value("still here")));
  ch.close();
  BOOST_TEST(c.wait().code == 0);
}

BOOST_AUTO_TEST_CASE(nack_resends_the_handle_and_four_refusals_give_up)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  ipc::node::channel ch(io.get_executor(), ipc::native_handle(sv[0]));
  ipc::native_handle raw(sv[1]);

  // The raw peer (a thread; checks happen on the main thread): reads each NODE_HANDLE line
  // with its descriptor and answers with the scripted replies.
  struct seen_t {
    std::vector<std::string> lines;
    std::vector<int> fds_per_line;
  } seen;
  auto peer = [&](std::vector<std::string> replies) {
    using traits = ipc::platform::traits;
    std::string buf;
    for (const auto& reply : replies) {
      int fds = 0;
      while (buf.find('\n') == std::string::npos) {
        char chunk[4096];
        std::vector<int> got;
        std::error_code ec;
        const std::size_t n = traits::receive_some(raw.get(), {reinterpret_cast<std::byte*>(chunk), sizeof chunk},
                                                   got, 4, false, ec);
        if (ec || n == 0) return;
        fds += static_cast<int>(got.size());
        for (int fd : got) traits::close_handle(fd);
        buf.append(chunk, n);
      }
      const auto nl = buf.find('\n');
      seen.lines.push_back(buf.substr(0, nl));
      seen.fds_per_line.push_back(fds);
      buf.erase(0, nl + 1);
      const std::string line = reply + "\n";
      if (::write(raw.get(), line.data(), line.size()) != ssize_t(line.size())) return;
    }
  };

  const std::string nack = R"({"cmd":"NODE_HANDLE_NACK"})", ack = R"({"cmd":"NODE_HANDLE_ACK"})";
  {
    std::thread t(peer, std::vector<std::string>{nack, ack});
    auto p = tcp_pair(io);
    std::error_code ec;
    ch.send(json_value("again"), std::move(p.second), ec); // sync: returns after the ACK
    t.join();
    BOOST_TEST(!ec);
  }
  BOOST_REQUIRE(seen.lines.size() == 2u);
  BOOST_TEST(seen.lines[0] == seen.lines[1]);
  BOOST_TEST(seen.lines[0] == R"({"cmd":"NODE_HANDLE","type":"net.Socket","msg":"again"})");
  BOOST_TEST(seen.fds_per_line[0] == 1);
  BOOST_TEST(seen.fds_per_line[1] == 1);

  seen = {};
  {
    std::thread t(peer, std::vector<std::string>{nack, nack, nack, nack});
    auto p = tcp_pair(io);
    std::error_code sent = asio::error::would_block;
    ch.async_send(json_value("never"), std::move(p.second), [&](std::error_code e) { sent = e; });
    io.run();
    t.join();
    BOOST_TEST(sent == ipc::node::errc::handle_refused);
  }
  BOOST_TEST(seen.lines.size() == 4u);

  // A NODE_HANDLE whose descriptor never came is NACKed, and the message is not delivered.
  const std::string lone = R"({"cmd":"NODE_HANDLE","type":"net.Socket","msg":1})" "\n" R"("next")" "\n";
  BOOST_REQUIRE(::write(raw.get(), lone.data(), lone.size()) == ssize_t(lone.size()));
  BOOST_TEST((ch.receive().value == json_value("next")));
  char reply[64] = {};
  const ssize_t n = ::read(raw.get(), reply, sizeof reply);
  BOOST_TEST(std::string(reply, n > 0 ? std::size_t(n) : 0) == nack + "\n");

  // Node's retransmission wraps the first envelope in a net.Native one: the inner type, key
  // and message count, and one ACK answers it.
  {
    using traits = ipc::platform::traits;
    auto tp = tcp_pair(io);
    const std::string twice =
      R"({"cmd":"NODE_HANDLE","type":"net.Native","msg":{"cmd":"NODE_HANDLE","type":"net.Socket","msg":"inner","key":"4:127.0.0.1:0"}})"
      "\n" R"("then")" "\n";
    const asio::const_buffer b(twice.data(), twice.size());
    const int fd = tp.second.native_handle();
    std::error_code ec;
    BOOST_TEST(traits::send_some(raw.get(), {&b, 1}, {&fd, 1}, false, ec) == twice.size());
    ipc::node::message m = ch.receive();
    BOOST_REQUIRE(m.handle.has_value());
    BOOST_TEST(m.handle->type == "net.Socket");
    BOOST_TEST(m.handle->key == "4:127.0.0.1:0");
    BOOST_TEST((m.value == json_value("inner")));
    BOOST_TEST((ch.receive().value == json_value("then")));
    char r2[128] = {};
    const ssize_t n2 = ::read(raw.get(), r2, sizeof r2);
    BOOST_TEST(std::string(r2, n2 > 0 ? std::size_t(n2) : 0) == ack + "\n");
  }

  // Descriptors that come with ordinary messages wait for a NODE_HANDLE (as in Node), at most
  // max_pending_handles of them; the rest, and all of them at close, are closed.
  {
    using traits = ipc::platform::traits;
    auto tp = tcp_pair(io);
    const int fd = tp.second.native_handle();
    const std::string plain = "1\n";
    const asio::const_buffer b(plain.data(), plain.size());
    std::error_code ec;
    for (int i = 0; i < 40; ++i) {
      traits::send_some(raw.get(), {&b, 1}, {&fd, 1}, false, ec);
      BOOST_TEST((ch.receive().value == json_value(1)));
    }
    ch.close();
  }
}

BOOST_AUTO_TEST_CASE(received_handles_are_acknowledged_and_stray_descriptors_closed)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto p = ipc::node::channel::pair(io.get_executor());
  auto& a = p.first;
  auto& b = p.second;
  // A channel peer: the ACK comes back while the sender waits (a thread stands in for the
  // receiving process; it only calls the channel).
  std::error_code send_ec;
  std::thread t([&] {
    auto tp = tcp_pair(io);
    a.send(json_value::object({{"x", 1}}), std::move(tp.second), send_ec);
    a.send(json_value("after"), send_ec);
  });
  ipc::node::message m = b.receive();
  t.join();
  BOOST_TEST(!send_ec);
  BOOST_REQUIRE(m.handle.has_value());
  BOOST_TEST(m.handle->type == "net.Socket");
  BOOST_TEST(m.handle->key.empty());
  BOOST_TEST(m.handle->ticket == nullptr);
  BOOST_TEST((m.value == json_value::object({{"x", 1}})));
  BOOST_TEST((b.receive().value == json_value("after")));
}

BOOST_AUTO_TEST_SUITE_END()
