// ipc/serializers/json.hpp - the JSON serializer: simdjson DOM to read, our own writer to write.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_SERIALIZERS_JSON_HPP
#define IPC_SERIALIZERS_JSON_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/describe.hpp"
#include "ipc/error.hpp"
#include "ipc/serializer.hpp"
#include "ipc/serializers/json_value.hpp"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE

namespace detail::json_impl {

namespace dom = simdjson::dom;

// Deepest nesting of arrays and objects read or written. The parser enforces it on input
// (simdjson's default, checked below), which bounds the recursion of our walkers and of
// json_value's destructor whatever the peer sends; the writer enforces it on output so that we
// never send what we would refuse to read.
inline constexpr std::size_t max_depth = 1024;
static_assert(max_depth == simdjson::DEFAULT_MAX_DEPTH);

// Internally errc{} (no enumerator has the value 0) means success: a 4-byte enum is cheaper to
// pass up a recursive walk than a std::error_code.
inline constexpr errc ok{};

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

inline constexpr std::uint64_t ones = 0x0101010101010101u;
inline constexpr std::uint64_t highs = 0x8080808080808080u;

inline std::uint64_t load8(const char* p) noexcept
{
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// Nonzero iff some byte of w is below n (n <= 128): the classic "haszero" bit trick. Bytes with
// the high bit set never match, so UTF-8 continuation bytes pass through untouched.
constexpr std::uint64_t has_less(std::uint64_t w, std::uint8_t n) noexcept
{
  return (w - ones * n) & ~w & highs;
}

constexpr std::uint64_t has_byte(std::uint64_t w, std::uint8_t b) noexcept
{
  return has_less(w ^ (ones * b), 1);
}

inline bool is_ascii(std::string_view s) noexcept
{
  const char* p = s.data();
  const char* end = p + s.size();
  std::uint64_t acc = 0;
  for (; end - p >= 8; p += 8)
    acc |= load8(p);
  for (; p != end; ++p)
    acc |= static_cast<unsigned char>(*p);
  return (acc & highs) == 0;
}

// For each byte: 0 if it is written as is, else the letter after the backslash ('u' for the
// \u00XX form). RFC 8259 requires escaping only '"', '\\' and U+0000..U+001F; everything else,
// including non-BMP code points, is written as raw UTF-8.
inline constexpr std::array<char, 256> escape_table = [] {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c)
    t[c] = 'u';
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}();

// Appends @p s as a JSON string. Returns false (and may have appended part of it) if @p s is
// not valid UTF-8: a peer's strict parser would reject the whole message.
[[nodiscard]] inline bool write_string(byte_buffer& out, std::string_view s)
{
  if (!is_ascii(s) && !simdjson::validate_utf8(s.data(), s.size())) return false;
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* run = p; // start of the bytes not yet copied
  while (p != end) {
    // Most strings need no escaping at all: skip them 8 bytes at a time.
    while (end - p >= 8) {
      const std::uint64_t w = load8(p);
      if (has_less(w, 0x20) | has_byte(w, '"') | has_byte(w, '\\')) break;
      p += 8;
    }
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p);
    const char e = escape_table[c];
    if (e == 0) {
      ++p;
      continue;
    }
    out.append(run, static_cast<std::size_t>(p - run));
    if (e == 'u') {
      constexpr char hex[] = "0123456789abcdef";
      const char seq[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      out.append(seq, sizeof seq);
    } else {
      const char seq[2] = {'\\', e};
      out.append(seq, sizeof seq);
    }
    run = ++p;
  }
  out.append(run, static_cast<std::size_t>(end - run));
  out.push_back('"');
  return true;
}

template <class I>
void write_integer(byte_buffer& out, I value)
{
  // Straight into the buffer: 20 digits and a sign is the most a 64-bit integer takes.
  const std::size_t at = out.size();
  auto* p = reinterpret_cast<char*>(out.extend(24));
  auto r = std::to_chars(p, p + 24, value);
  out.resize(at + static_cast<std::size_t>(r.ptr - p));
}

// Whether @p name can be written between quotes as it is: printable ASCII, no quote, no
// backslash. Decided at compile time for described field names.
constexpr bool is_plain(std::string_view name) noexcept
{
  for (char c : name)
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  return true;
}

// Shortest form that reads back to the same value (std::to_chars without a precision). An
// integral value prints as "1"; we add ".0" so that readers that keep integers and doubles
// apart (json_value, on both sides) get a double back.
//
// A float is read back through a double (the parser has no float), which rounds twice. For two
// floats, +-7.038531e-26 (found by checking all 2^32), the shortest text then lands on a
// neighbour; for those we write the float's exact value as a double, which reads back exactly.
template <class F>
[[nodiscard]] errc write_floating(byte_buffer& out, F value)
{
  if (!std::isfinite(value)) return errc::unrepresentable_value;
  char buf[48];
  auto r = std::to_chars(buf, buf + sizeof buf - 2, value);
  if constexpr (std::is_same_v<F, float>) {
    double reread = 0;
    std::from_chars(buf, r.ptr, reread);
    if (static_cast<float>(reread) != value)
      r = std::to_chars(buf, buf + sizeof buf - 2, static_cast<double>(value));
  }
  bool integral = true;
  for (const char* p = buf; p != r.ptr; ++p)
    if (*p == '.' || *p == 'e') integral = false;
  if (integral) {
    *r.ptr++ = '.';
    *r.ptr++ = '0';
  }
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Reading. The parser has validated the whole document before any of this runs, so a getter
// that fails means the value has another type or is out of range: a shape error.
// ---------------------------------------------------------------------------------------------

inline errc shape_error(simdjson::error_code e) noexcept
{
  return e == simdjson::SUCCESS ? ok : errc::type_mismatch;
}

// Builds a json_value from @p v. Recursion is bounded by the parser's depth limit.
inline void read_json_value(dom::element v, json_value& out)
{
  switch (v.type()) {
  case dom::element_type::ARRAY: {
    out = json_value::array_type{};
    auto& elements = *out.as_array();
    dom::array array = v.get_array().value_unsafe();
    elements.reserve(array.size()); // counted by the parser: bounded by the input
    for (dom::element element : array)
      read_json_value(element, elements.emplace_back());
    return;
  }
  case dom::element_type::OBJECT: {
    out = json_value::object_type{};
    auto& members = *out.as_object();
    dom::object object = v.get_object().value_unsafe();
    members.reserve(object.size());
    for (dom::key_value_pair member : object)
      read_json_value(member.value,
                      members.emplace_back(std::string(member.key), json_value()).second);
    return;
  }
  case dom::element_type::INT64:
    out = v.get_int64().value_unsafe();
    return;
  case dom::element_type::UINT64:
    out = v.get_uint64().value_unsafe();
    return;
  case dom::element_type::DOUBLE:
    out = v.get_double().value_unsafe();
    return;
  case dom::element_type::STRING:
    out = v.get_string().value_unsafe();
    return;
  case dom::element_type::BOOL:
    out = v.get_bool().value_unsafe();
    return;
  case dom::element_type::NULL_VALUE:
    out = nullptr;
    return;
  }
}

// Writes @p v; fails on NaN/infinity, invalid UTF-8 or nesting beyond max_depth.
inline errc write_json_value(const json_value& v, byte_buffer& out, std::size_t depth)
{
  switch (v.type()) {
  case json_type::null:
    out.append(std::string_view("null"));
    return ok;
  case json_type::boolean:
    out.append(*v.as_bool() ? std::string_view("true") : std::string_view("false"));
    return ok;
  case json_type::signed_integer:
    write_integer(out, *v.as_int64());
    return ok;
  case json_type::unsigned_integer:
    write_integer(out, *v.as_uint64());
    return ok;
  case json_type::floating_point:
    return write_floating(out, *v.as_double());
  case json_type::string:
    return write_string(out, *v.as_string()) ? ok : errc::unrepresentable_value;
  case json_type::array: {
    if (depth >= max_depth) return errc::unrepresentable_value;
    out.push_back('[');
    bool first = true;
    for (const json_value& element : *v.as_array()) {
      if (!first) out.push_back(',');
      first = false;
      if (errc r = write_json_value(element, out, depth + 1); r != ok) return r;
    }
    out.push_back(']');
    return ok;
  }
  case json_type::object: {
    if (depth >= max_depth) return errc::unrepresentable_value;
    out.push_back('{');
    bool first = true;
    for (const auto& [key, value] : *v.as_object()) {
      if (!first) out.push_back(',');
      first = false;
      if (!write_string(out, key)) return errc::unrepresentable_value;
      out.push_back(':');
      if (errc r = write_json_value(value, out, depth + 1); r != ok) return r;
    }
    out.push_back('}');
    return ok;
  }
  case json_type::bigint:
  case json_type::date:
  case json_type::map:
  case json_type::set:
  case json_type::bytes:
    return errc::unrepresentable_value; // no JSON form (JSON.stringify would lose or throw)
  }
  return errc::unrepresentable_value;
}

// ---------------------------------------------------------------------------------------------
// Codecs: codec<T>::write(const T&, byte_buffer&, depth) and codec<T>::read(dom::element, T&).
// A class template rather than overloaded functions so that the codec for vector<T> finds the
// codec for T whatever the order of declaration.
// ---------------------------------------------------------------------------------------------

template <class T>
struct codec {};

template <class T>
concept has_writer = requires(const T& value, byte_buffer& out, std::size_t depth) {
  { codec<T>::write(value, out, depth) } -> std::same_as<errc>;
};

template <class T>
concept has_reader = requires(dom::element v, T& target) {
  { codec<T>::read(v, target) } -> std::same_as<errc>;
};

template <>
struct codec<bool> {
  static errc write(bool value, byte_buffer& out, std::size_t)
  {
    out.append(value ? std::string_view("true") : std::string_view("false"));
    return ok;
  }
  static errc read(dom::element v, bool& out) { return shape_error(v.get_bool().get(out)); }
};

// A fraction or an exponent is a type_mismatch even when the value is integral ("1.0"): the
// peer did not send an integer.
template <class T>
  requires json_integer<T> && (sizeof(T) <= 8)
struct codec<T> {
  static errc write(T value, byte_buffer& out, std::size_t)
  {
    write_integer(out, value);
    return ok;
  }
  static errc read(dom::element v, T& out)
  {
    if constexpr (std::is_signed_v<T>) {
      std::int64_t x;
      if (auto e = v.get_int64().get(x)) return shape_error(e);
      if (!std::in_range<T>(x)) return errc::type_mismatch;
      out = static_cast<T>(x);
    } else {
      std::uint64_t x;
      if (auto e = v.get_uint64().get(x)) return shape_error(e);
      if (!std::in_range<T>(x)) return errc::type_mismatch;
      out = static_cast<T>(x);
    }
    return ok;
  }
};

// Integers are accepted too. A value beyond the range of a float is a type_mismatch. A float is
// the nearest float to the nearest double, which write_floating takes into account: every
// float we write reads back as itself.
template <class T>
  requires std::same_as<T, float> || std::same_as<T, double>
struct codec<T> {
  static errc write(T value, byte_buffer& out, std::size_t) { return write_floating(out, value); }
  static errc read(dom::element v, T& out)
  {
    double d;
    if (auto e = v.get_double().get(d)) return shape_error(e);
    out = static_cast<T>(d);
    return std::isinf(out) ? errc::type_mismatch : ok; // the parser refuses infinite doubles
  }
};

template <class S>
struct string_writer {
  static errc write(const S& value, byte_buffer& out, std::size_t)
  {
    return write_string(out, value) ? ok : errc::unrepresentable_value;
  }
};

template <>
struct codec<std::string> : string_writer<std::string> {
  static errc read(dom::element v, std::string& out)
  {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return shape_error(e);
    out.assign(s);
    return ok;
  }
};

template <>
struct codec<std::string_view> : string_writer<std::string_view> {
  // The view points into the parser's string buffer (escapes already decoded): valid until the
  // next decode with the same ipc::json object.
  static errc read(dom::element v, std::string_view& out)
  {
    return shape_error(v.get_string().get(out));
  }
};

template <class C>
  requires std::same_as<C, const char*> || std::same_as<C, char*>
struct codec<C> {
  // Write-only: there is no storage to decode into. A null pointer is written as null.
  static errc write(const char* value, byte_buffer& out, std::size_t)
  {
    if (value == nullptr) {
      out.append(std::string_view("null"));
      return ok;
    }
    return write_string(out, value) ? ok : errc::unrepresentable_value;
  }
};

template <std::size_t N>
struct codec<char[N]> {
  // Write-only, for literals: `codec.encode("text", out)`. The string ends at the first NUL.
  static errc write(const char (&value)[N], byte_buffer& out, std::size_t)
  {
    std::string_view s(value, N);
    return write_string(out, s.substr(0, s.find('\0'))) ? ok : errc::unrepresentable_value;
  }
};

template <class T>
struct codec<std::optional<T>> {
  static errc write(const std::optional<T>& value, byte_buffer& out, std::size_t depth)
    requires has_writer<T>
  {
    if (!value) {
      out.append(std::string_view("null"));
      return ok;
    }
    return codec<T>::write(*value, out, depth);
  }
  static errc read(dom::element v, std::optional<T>& out)
    requires has_reader<T>
  {
    if (v.is_null()) {
      out.reset();
      return ok;
    }
    if (!out) out.emplace();
    return codec<T>::read(v, *out);
  }
};

template <class T, class A>
struct codec<std::vector<T, A>> {
  static errc write(const std::vector<T, A>& value, byte_buffer& out, std::size_t depth)
    requires has_writer<T>
  {
    if (depth >= max_depth) return errc::unrepresentable_value;
    out.push_back('[');
    bool first = true;
    for (const auto& element : value) {
      if (!first) out.push_back(',');
      first = false;
      if (errc r = codec<T>::write(element, out, depth + 1); r != ok) return r;
    }
    out.push_back(']');
    return ok;
  }
  static errc read(dom::element v, std::vector<T, A>& out)
    requires has_reader<T>
  {
    dom::array array;
    if (auto e = v.get_array().get(array)) return shape_error(e);
    out.clear();
    // The parser counted the elements (saturating at 2^24 - 1). Reserving sizeof(T) per
    // element before any is checked lets a peer make us allocate sizeof(T) / 2 times its input
    // for nothing ("[1,1,..." into a vector of large structs), so only small T get the hint;
    // the others grow with what actually decodes.
    if constexpr (sizeof(T) <= 64) out.reserve(array.size());
    for (dom::element element : array) {
      if constexpr (std::is_same_v<T, bool>) { // vector<bool> has no bool& to decode into
        bool b = false;
        if (errc r = codec<bool>::read(element, b); r != ok) return r;
        out.push_back(b);
      } else {
        if (errc r = codec<T>::read(element, out.emplace_back()); r != ok) return r;
      }
    }
    return ok;
  }
};

template <class T, std::size_t N>
struct codec<std::array<T, N>> {
  static errc write(const std::array<T, N>& value, byte_buffer& out, std::size_t depth)
    requires has_writer<T>
  {
    if (depth >= max_depth) return errc::unrepresentable_value;
    out.push_back('[');
    for (std::size_t i = 0; i < N; ++i) {
      if (i != 0) out.push_back(',');
      if (errc r = codec<T>::write(value[i], out, depth + 1); r != ok) return r;
    }
    out.push_back(']');
    return ok;
  }
  // Exactly N elements, or type_mismatch.
  static errc read(dom::element v, std::array<T, N>& out)
    requires has_reader<T>
  {
    dom::array array;
    if (auto e = v.get_array().get(array)) return shape_error(e);
    std::size_t i = 0;
    for (dom::element element : array) {
      if (i == N) return errc::type_mismatch;
      if (errc r = codec<T>::read(element, out[i++]); r != ok) return r;
    }
    return i == N ? ok : errc::type_mismatch;
  }
};

// std::map / std::unordered_map with std::string keys. Duplicate keys: the last one wins, as in
// JSON.parse.
template <class Map, class T>
struct map_codec {
  static errc write(const Map& value, byte_buffer& out, std::size_t depth)
    requires has_writer<T>
  {
    if (depth >= max_depth) return errc::unrepresentable_value;
    out.push_back('{');
    bool first = true;
    for (const auto& [key, element] : value) {
      if (!first) out.push_back(',');
      first = false;
      if (!write_string(out, key)) return errc::unrepresentable_value;
      out.push_back(':');
      if (errc r = codec<T>::write(element, out, depth + 1); r != ok) return r;
    }
    out.push_back('}');
    return ok;
  }
  static errc read(dom::element v, Map& out)
    requires has_reader<T>
  {
    dom::object object;
    if (auto e = v.get_object().get(object)) return shape_error(e);
    out.clear();
    for (dom::key_value_pair member : object)
      if (errc r = codec<T>::read(member.value, out[std::string(member.key)]); r != ok) return r;
    return ok;
  }
};

template <class T, class C, class A>
struct codec<std::map<std::string, T, C, A>> : map_codec<std::map<std::string, T, C, A>, T> {
};

template <class T, class H, class E, class A>
struct codec<std::unordered_map<std::string, T, H, E, A>>
    : map_codec<std::unordered_map<std::string, T, H, E, A>, T> {
};

template <>
struct codec<json_value> {
  static errc write(const json_value& value, byte_buffer& out, std::size_t depth)
  {
    return write_json_value(value, out, depth);
  }
  static errc read(dom::element v, json_value& out)
  {
    read_json_value(v, out);
    return ok;
  }
};

template <class F>
struct field_member;

template <class C, class M>
struct field_member<field<C, M>> {
  using type = M;
};

// The type of the I-th described member.
template <class Fields, std::size_t I>
using member_of = typename field_member<std::tuple_element_t<I, Fields>>::type;

template <class Fields>
struct fields_support;

template <class... F>
struct fields_support<std::tuple<F...>> {
  static constexpr bool writable = (has_writer<typename field_member<F>::type> && ...);
  static constexpr bool readable = (has_reader<typename field_member<F>::type> && ...);
};

template <class T>
struct is_optional : std::false_type {};

template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// Aggregates described with ipc_fields / IPC_DESCRIBE: a JSON object, fields in description
// order. On read, unknown members are ignored, a missing std::optional field becomes nullopt,
// any other missing field is a type_mismatch, and a repeated member is decoded again (the last
// one wins).
template <class T>
  requires described<T>
struct codec<T> {
  using fields_type = decltype(fields_of<T>());
  static constexpr fields_type fields = fields_of<T>();
  static constexpr std::size_t count = std::tuple_size_v<fields_type>;
  template <std::size_t I>
  using member_t = member_of<fields_type, I>;

  static errc write(const T& value, byte_buffer& out, std::size_t depth)
    requires fields_support<fields_type>::writable
  {
    if (depth >= max_depth) return errc::unrepresentable_value;
    out.push_back('{');
    if (errc r = write_fields(value, out, depth, std::make_index_sequence<count>{}); r != ok)
      return r;
    out.push_back('}');
    return ok;
  }

  static errc read(dom::element v, T& out)
    requires fields_support<fields_type>::readable
  {
    dom::object object;
    if (auto e = v.get_object().get(object)) return shape_error(e);
    std::array<bool, count> seen{};
    // Peers (our encoder, and JavaScript objects built in one place) usually send the members
    // in description order: the field after the previous one is compared first.
    std::size_t next = 0;
    for (dom::key_value_pair member : object) {
      const std::size_t i =
          next < count && names[next] == member.key ? next : find_field(member.key);
      if (i == count) continue; // unknown
      seen[i] = true;
      next = i + 1;
      if (errc r = readers[i](member.value, out); r != ok) return r;
    }
    return fill_missing(out, seen, std::make_index_sequence<count>{});
  }

private:
  template <std::size_t... I>
  static errc write_fields([[maybe_unused]] const T& value, [[maybe_unused]] byte_buffer& out,
                           [[maybe_unused]] std::size_t depth, std::index_sequence<I...>)
  {
    errc r = ok;
    (void)(((r = write_field<I>(value, out, depth)) == ok) && ...);
    return r;
  }

  template <std::size_t I>
  static errc write_field(const T& value, byte_buffer& out, std::size_t depth)
  {
    const auto& f = std::get<I>(fields);
    if constexpr (I != 0) out.push_back(',');
    if constexpr (is_plain(std::get<I>(fields).name)) {
      out.push_back('"');
      out.append(f.name);
      out.append(std::string_view("\":"));
    } else {
      if (!write_string(out, f.name)) return errc::unrepresentable_value;
      out.push_back(':');
    }
    return codec<member_t<I>>::write(value.*(f.pointer), out, depth + 1);
  }

  // The index of the field named @p key, or count.
  static std::size_t find_field(std::string_view key) noexcept
  {
    for (std::size_t i = 0; i < count; ++i)
      if (names[i] == key) return i;
    return count;
  }

  template <std::size_t I>
  static errc read_member(dom::element v, T& out)
  {
    return codec<member_t<I>>::read(v, out.*(std::get<I>(fields).pointer));
  }

  template <std::size_t... I>
  static errc fill_missing([[maybe_unused]] T& out,
                           [[maybe_unused]] const std::array<bool, count>& seen,
                           std::index_sequence<I...>)
  {
    errc r = ok;
    (void)((seen[I] || ((r = fill_missing_field<I>(out)) == ok)) && ...);
    return r;
  }

  template <std::size_t I>
  static errc fill_missing_field(T& out)
  {
    if constexpr (is_optional<member_t<I>>::value) {
      (out.*(std::get<I>(fields).pointer)).reset();
      return ok;
    } else {
      return errc::type_mismatch;
    }
  }

  static constexpr std::array<std::string_view, count> names =
    []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<std::string_view, count>{std::get<I>(fields).name...};
    }(std::make_index_sequence<count>{});

  // Dispatch by index: one indirect call per member instead of comparing every name.
  using reader = errc (*)(dom::element, T&);
  static constexpr std::array<reader, count> readers =
    []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<reader, count>{&read_member<I>...};
    }(std::make_index_sequence<count>{});
};

// Runs @p f, turning an allocation failure into an error code: serializers report, they do not
// throw, and a huge (but legal) message can exhaust memory.
template <class F>
std::error_code no_throw(F&& f)
{
#if defined(__cpp_exceptions)
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  } catch (const std::length_error&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
#else
  return f();
#endif
}

} // namespace detail::json_impl

/// @p T can be written by `ipc::json`: bool, integers (not character types), float, double,
/// `std::string`, `std::string_view`, `const char*` and string literals, `std::vector`,
/// `std::array`, `std::optional`, `std::map`/`std::unordered_map` with `std::string` keys,
/// `ipc::json_value`, and types described with `ipc_fields`/`IPC_DESCRIBE` whose fields are all
/// writable.
template <class T>
concept json_encodable = detail::json_impl::has_writer<std::remove_cvref_t<T>>;

/// @p T can be read by `ipc::json`: as `json_encodable`, except `const char*` and literals.
/// Elements, mapped values and optionals must be default-constructible. A described type may
/// not contain itself (use `json_value` for trees).
template <class T>
concept json_decodable = detail::json_impl::has_reader<T>;

/**
 * The JSON serializer: `ipc::channel<ipc::json>`.
 *
 * Writing is our own: shortest round-trip numbers (`std::to_chars`), strings validated as UTF-8
 * and escaped as RFC 8259 requires (quote, backslash, U+0000..U+001F as `\b \t \n \f \r` or
 * `\u00XX`), everything else, non-BMP code points included, as raw UTF-8. Described aggregates
 * are written as objects in description order; `std::nullopt` as `null`. An integral double is
 * written with a trailing `.0` so that it reads back as a double.
 *
 * Reading parses the payload in place with simdjson's DOM parser, which validates the whole
 * document (UTF-8 included) before anything is decoded; the span must be followed by
 * `ipc::payload_padding` readable bytes, as every channel buffer is. DOM was chosen over
 * On-Demand by measurement (bench/json_bench.cpp): this decoder on DOM was about 40% faster
 * than the same decoder on On-Demand for small structs and 1000-int arrays and a little faster
 * for 1 KiB strings, because a correct decoder on simdjson 3.0's On-Demand has to validate
 * what it skips and to parse numbers itself (some of On-Demand's are wrong in 3.0). Errors:
 *
 * - `errc::invalid_utf8`: the payload is not UTF-8;
 * - `errc::invalid_json`: it is not exactly one JSON value (anything but whitespace after it
 *   included), it nests deeper than `max_depth`, a string escape is bad, or a number
 *   cannot be read: beyond the range of a double (`1e400`), or an integer beyond 64 bits
 *   without fraction or exponent (`18446744073709551616`; simdjson 3.0 refuses those, and
 *   JavaScript writes numbers between 2^64 and 1e21 that way). A `\uD800`-style escape that is
 *   not part of a surrogate pair names no code point and cannot become UTF-8, so it is
 *   rejected this way too (simdjson reports it as a string error);
 * - `errc::type_mismatch`: valid JSON of the wrong shape: another type, an integer out of the
 *   target's range (300 into `std::uint8_t`) or with a fraction or exponent, a `std::array` of
 *   another length, a missing field that is not `std::optional`, a float beyond `FLT_MAX`;
 * - `errc::message_too_large`: beyond simdjson's 4 GiB;
 * - `std::errc::not_enough_memory` if an allocation fails.
 *
 * On failure, the decode target is left in a valid but unspecified state.
 *
 * Lifetime: a decoded `std::string_view` (alone or as a field) points into this object's parser
 * buffers, with escapes decoded; it is valid until the next `decode` or `shrink_to` on this
 * object (for a channel, until the next receive) or until this object is destroyed. Everything
 * else is copied out.
 *
 * Memory: the parser keeps buffers sized for the largest message decoded so far, about 14 bytes
 * per input byte (see `shrink_to`); decoded values take memory proportional to the input.
 * Stack: decoding, encoding, comparing or destroying a `json_value` nested `max_depth` deep
 * recurses that deep, about 256 KiB of stack in an optimized build (up to 1 MiB at -O0).
 *
 * Thread safety: distinct objects safe; shared objects unsafe (decode reuses the parser).
 */
class json {
public:
  /// The payload encoding's name, as a spawned child learns it.
  static constexpr std::string_view name = "json";

  /// Deepest nesting of arrays and objects read or written; deeper is `invalid_json` on
  /// decode and `unrepresentable_value` on encode.
  static constexpr std::size_t max_depth = detail::json_impl::max_depth;

  json() = default;

  /**
   * Appends the JSON text of @p value to @p out.
   *
   * @returns success, or `errc::unrepresentable_value` for a NaN or infinity, a string that is
   * not valid UTF-8, or nesting deeper than `max_depth`; `std::errc::not_enough_memory` if
   * growing @p out fails. On failure @p out is restored to its previous size.
   */
  template <json_encodable T>
  std::error_code encode(const T& value, byte_buffer& out) const
  {
    const std::size_t start = out.size();
    std::error_code ec = detail::json_impl::no_throw([&]() -> std::error_code {
      if (errc r = detail::json_impl::codec<std::remove_cvref_t<T>>::write(value, out, 0);
          r != detail::json_impl::ok)
        return r;
      return {};
    });
    if (ec) out.resize(start);
    return ec;
  }

  /**
   * Parses @p in (which must be followed by `ipc::payload_padding` readable bytes) into @p out.
   *
   * @returns success or one of the errors listed on the class.
   */
  template <json_decodable T>
  std::error_code decode(std::span<const std::byte> in, T& out)
  {
    return detail::json_impl::no_throw([&]() -> std::error_code {
      if (in.empty()) return errc::invalid_json; // and there is no pointer to hand the parser
      const auto* text = reinterpret_cast<const std::uint8_t*>(in.data());
      simdjson::dom::element root;
      // false: parse in place, without the padded copy; the padding is there.
      if (auto e = parser_.parse(text, in.size(), false).get(root)) return parse_error(e);
      if (errc r = detail::json_impl::codec<T>::read(root, out); r != detail::json_impl::ok)
        return r;
      return {};
    });
  }

  /// Frees the parser's buffers if they were sized for more than @p max_input bytes of input
  /// (after one huge message, say); the next decode allocates what it needs. Views from the
  /// previous decode become invalid.
  void shrink_to(std::size_t max_input) noexcept
  {
    if (parser_.capacity() > max_input) parser_ = simdjson::dom::parser{};
  }

private:
  static std::error_code parse_error(simdjson::error_code e) noexcept
  {
    switch (e) {
    case simdjson::UTF8_ERROR: return errc::invalid_utf8;
    case simdjson::MEMALLOC: return std::make_error_code(std::errc::not_enough_memory);
    case simdjson::CAPACITY: return errc::message_too_large; // beyond simdjson's 4 GiB
    default: return errc::invalid_json; // DEPTH_ERROR and NUMBER_ERROR included
    }
  }

  simdjson::dom::parser parser_;
};

IPC_END_NAMESPACE

#endif // IPC_SERIALIZERS_JSON_HPP
