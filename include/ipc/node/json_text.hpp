// ipc/node/json_text.hpp - JSON text as Node's JSON.stringify / JSON.parse see it (WTF-8 strings).
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_NODE_JSON_TEXT_HPP
#define IPC_NODE_JSON_TEXT_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/serializers/json_value.hpp"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

IPC_BEGIN_NAMESPACE
namespace node {

/// Deepest nesting of arrays and objects `parse_json` accepts and `write_json` writes.
inline constexpr std::size_t max_json_depth = 1024;

/**
 * @name Strings and lone surrogates
 *
 * JavaScript strings are UTF-16 and may hold lone surrogates (`"\uD800"`), which no UTF-8 text
 * can carry. Node's JSON.stringify writes them as `\udXXX` escapes, and JSON.parse reads such
 * escapes back. To round-trip them, strings in a `json_value` produced or consumed by the Node
 * channel are **WTF-8**: UTF-8, except that a lone surrogate U+D800..U+DFFF is held as its
 * 3-byte generalized UTF-8 form (`ED A0 80` .. `ED BF BF`). A surrogate *pair* is always one
 * 4-byte UTF-8 code point. So:
 *
 * - every string that is valid UTF-8 means what it says, unchanged;
 * - `"\uD800"` from Node becomes the 3 bytes `ED A0 80` in C++, and those 3 bytes are sent back
 *   as `\ud800`; Node sees the same lone surrogate it sent;
 * - any other invalid UTF-8 in a string being sent is refused (`errc::unrepresentable_value`);
 *   raw bytes in received text must be valid UTF-8 (`errc::invalid_utf8`).
 *
 * `node::is_wtf8_surrogate` helps code that wants to spot them.
 * @{
 */

namespace detail_json {

using errc = ipc::errc; // not node::errc: these are the errors the JSON serializer reports too

inline bool is_cont(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

/// Length of the valid UTF-8 sequence at @p p (at most @p n bytes), or 0. With @p wtf8, the
/// 3-byte encodings of U+D800..U+DFFF count as valid.
inline std::size_t utf8_seq(const unsigned char* p, std::size_t n, bool wtf8) noexcept
{
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return n >= 2 && is_cont(p[1]) ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || !is_cont(p[1]) || !is_cont(p[2])) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;             // overlong
    if (c == 0xED && p[1] >= 0xA0 && !wtf8) return 0;   // surrogate
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || !is_cont(p[1]) || !is_cont(p[2]) || !is_cont(p[3])) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0; // overlong
    if (c == 0xF4 && p[1] >= 0x90) return 0; // beyond U+10FFFF
    return 4;
  }
  return 0;
}

/// Whether the 8 bytes at @p p are all printable ASCII other than '"' and '\\' (copied as
/// they are, in both directions): lets long plain strings go 8 bytes at a time.
inline bool plain8(const char* p) noexcept
{
  constexpr std::uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  auto less = [&](std::uint64_t x, std::uint8_t n) { return (x - ones * n) & ~x & highs; };
  const std::uint64_t bad = (w & highs) | less(w, 0x20) | less(w ^ (ones * '"'), 1) |
                            less(w ^ (ones * '\\'), 1);
  return bad == 0;
}

inline void append_utf8(std::string& out, std::uint32_t cp)
{
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) { // lone surrogates land here too: that is WTF-8
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/// A recursive-descent reader over one line. Recursion is bounded by max_json_depth.
class reader {
public:
  reader(std::string_view text, std::size_t max_depth) noexcept
    : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth)
  {
  }

  errc run(json_value& out)
  {
    skip_ws();
    if (errc e = value(out, 0); e != errc{}) return e;
    skip_ws();
    return p_ == end_ ? errc{} : errc::invalid_json;
  }

private:
  void skip_ws() noexcept
  {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool literal(std::string_view word) noexcept
  {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::string_view(p_, word.size()) != word)
      return false;
    p_ += word.size();
    return true;
  }

  errc value(json_value& out, std::size_t depth)
  {
    if (p_ == end_) return errc::invalid_json;
    switch (*p_) {
    case '{': return object(out, depth);
    case '[': return array(out, depth);
    case '"': {
      std::string s;
      if (errc e = string(s); e != errc{}) return e;
      out = json_value(std::move(s));
      return {};
    }
    case 't': if (!literal("true")) return errc::invalid_json; out = json_value(true); return {};
    case 'f': if (!literal("false")) return errc::invalid_json; out = json_value(false); return {};
    case 'n': if (!literal("null")) return errc::invalid_json; out = json_value(); return {};
    default: return number(out);
    }
  }

  errc array(json_value& out, std::size_t depth)
  {
    if (depth >= max_depth_) return errc::invalid_json;
    ++p_; // '['
    json_value::array_type elements;
    skip_ws();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      out = json_value(std::move(elements));
      return {};
    }
    for (;;) {
      skip_ws();
      if (errc e = value(elements.emplace_back(), depth + 1); e != errc{}) return e;
      skip_ws();
      if (p_ == end_) return errc::invalid_json;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != ']') return errc::invalid_json;
      ++p_;
      out = json_value(std::move(elements));
      return {};
    }
  }

  errc object(json_value& out, std::size_t depth)
  {
    if (depth >= max_depth_) return errc::invalid_json;
    ++p_; // '{'
    json_value::object_type members;
    skip_ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      out = json_value(std::move(members));
      return {};
    }
    for (;;) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') return errc::invalid_json;
      auto& m = members.emplace_back();
      if (errc e = string(m.first); e != errc{}) return e;
      skip_ws();
      if (p_ == end_ || *p_ != ':') return errc::invalid_json;
      ++p_;
      skip_ws();
      if (errc e = value(m.second, depth + 1); e != errc{}) return e;
      skip_ws();
      if (p_ == end_) return errc::invalid_json;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != '}') return errc::invalid_json;
      ++p_;
      out = json_value(std::move(members));
      return {};
    }
  }

  static int hex(char c) noexcept
  {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(std::uint32_t& cp) noexcept
  {
    if (end_ - p_ < 4) return false;
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(p_[i]);
      if (h < 0) return false;
      cp = cp << 4 | static_cast<std::uint32_t>(h);
    }
    p_ += 4;
    return true;
  }

  errc string(std::string& out)
  {
    ++p_; // opening quote
    for (;;) {
      const char* run = p_;
      while (end_ - p_ >= 8 && plain8(p_)) p_ += 8;
      while (p_ != end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) {
        if (static_cast<unsigned char>(*p_) < 0x80) { // ASCII: most text
          ++p_;
          continue;
        }
        const auto n = utf8_seq(reinterpret_cast<const unsigned char*>(p_),
                                static_cast<std::size_t>(end_ - p_), false);
        if (n == 0) return errc::invalid_utf8;
        p_ += n;
      }
      out.append(run, static_cast<std::size_t>(p_ - run));
      if (p_ == end_) return errc::invalid_json;
      if (*p_ == '"') {
        ++p_;
        return {};
      }
      if (*p_ != '\\') return errc::invalid_json; // a raw control character
      ++p_;
      if (p_ == end_) return errc::invalid_json;
      const char e = *p_++;
      switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        std::uint32_t cp;
        if (!hex4(cp)) return errc::invalid_json;
        if (cp >= 0xD800 && cp < 0xDC00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
          // A high surrogate followed by a low one is one code point; anything else leaves
          // the high surrogate lone (and WTF-8 encoded).
          const char* save = p_;
          p_ += 2;
          std::uint32_t low;
          if (hex4(low) && low >= 0xDC00 && low < 0xE000)
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          else
            p_ = save;
        }
        append_utf8(out, cp);
        break;
      }
      default: return errc::invalid_json;
      }
    }
  }

  errc number(json_value& out)
  {
    const char* start = p_;
    bool negative = false, integral = true;
    if (p_ != end_ && *p_ == '-') {
      negative = true;
      ++p_;
    }
    if (p_ == end_) return errc::invalid_json;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return errc::invalid_json;
    }
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return errc::invalid_json;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    bool negative_exponent = false;
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) negative_exponent = *p_++ == '-';
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return errc::invalid_json;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (integral) {
      std::int64_t i;
      if (auto r = std::from_chars(start, p_, i); r.ec == std::errc() && r.ptr == p_) {
        // JSON.parse("-0") is -0: keep the sign the only way a double can.
        if (i == 0 && negative) out = json_value(-0.0);
        else out = json_value(i);
        return {};
      }
      std::uint64_t u;
      if (!negative)
        if (auto r = std::from_chars(start, p_, u); r.ec == std::errc() && r.ptr == p_) {
          out = json_value(u);
          return {};
        }
    }
    double d = 0;
    auto r = std::from_chars(start, p_, d);
    if (r.ec == std::errc::result_out_of_range) {
      // As JSON.parse does: overflow is an infinity, underflow a zero.
      d = negative_exponent ? 0.0 : std::numeric_limits<double>::infinity();
      if (negative) d = -d;
    } else if (r.ec != std::errc() || r.ptr != p_) {
      return errc::invalid_json;
    }
    out = json_value(d);
    return {};
  }

  const char* p_;
  const char* end_;
  std::size_t max_depth_;
};

inline void write_escaped_unit(std::string& out, std::uint32_t unit)
{
  constexpr char digits[] = "0123456789abcdef";
  const char seq[6] = {'\\', 'u', digits[(unit >> 12) & 15], digits[(unit >> 8) & 15],
                       digits[(unit >> 4) & 15], digits[unit & 15]};
  out.append(seq, sizeof seq);
}

[[nodiscard]] inline bool write_string(std::string& out, std::string_view s)
{
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p != end) {
    const unsigned char c = *p;
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      const auto* run = p;
      while (end - p >= 8 && plain8(reinterpret_cast<const char*>(p))) p += 8;
      while (p != end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') ++p;
      out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
      continue;
    }
    if (c < 0x80) {
      switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: write_escaped_unit(out, c);
      }
      ++p;
      continue;
    }
    const std::size_t n = utf8_seq(p, static_cast<std::size_t>(end - p), true);
    if (n == 0) return false;
    if (c == 0xED && p[1] >= 0xA0) {
      // A lone surrogate held as WTF-8: the escape is the only way to write it.
      write_escaped_unit(out, 0xD000u | (static_cast<std::uint32_t>(p[1] & 0x3F) << 6) |
                                (p[2] & 0x3Fu));
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
    }
    p += n;
  }
  out.push_back('"');
  return true;
}

inline errc write_value(std::string& out, const json_value& v, std::size_t depth)
{
  switch (v.type()) {
  case json_type::null: out.append("null"); return {};
  case json_type::boolean: out.append(*v.as_bool() ? "true" : "false"); return {};
  case json_type::signed_integer:
  case json_type::unsigned_integer: {
    char buf[24];
    auto r = v.type() == json_type::signed_integer
               ? std::to_chars(buf, buf + sizeof buf, *v.as_int64())
               : std::to_chars(buf, buf + sizeof buf, *v.as_uint64());
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
    return {};
  }
  case json_type::floating_point: {
    const double d = *v.as_double();
    if (!std::isfinite(d)) return errc::unrepresentable_value;
    char buf[40];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
    return {};
  }
  case json_type::string:
    return write_string(out, *v.as_string()) ? errc{} : errc::unrepresentable_value;
  case json_type::array: {
    if (depth >= max_json_depth) return errc::unrepresentable_value;
    out.push_back('[');
    bool first = true;
    for (const auto& e : *v.as_array()) {
      if (!first) out.push_back(',');
      first = false;
      if (errc r = write_value(out, e, depth + 1); r != errc{}) return r;
    }
    out.push_back(']');
    return {};
  }
  case json_type::object: {
    if (depth >= max_json_depth) return errc::unrepresentable_value;
    out.push_back('{');
    bool first = true;
    for (const auto& [k, e] : *v.as_object()) {
      if (!first) out.push_back(',');
      first = false;
      if (!write_string(out, k)) return errc::unrepresentable_value;
      out.push_back(':');
      if (errc r = write_value(out, e, depth + 1); r != errc{}) return r;
    }
    out.push_back('}');
    return {};
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

} // namespace detail_json

/// Whether @p s holds a lone surrogate (WTF-8, see above).
inline bool has_lone_surrogate(std::string_view s) noexcept
{
  for (std::size_t i = 0; i + 2 < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0)
      return true;
  return false;
}

/// Parses @p text, one complete JSON value with optional whitespace around it, as JSON.parse
/// would (numbers keep their integer/double kind as `json_value` describes; `-0` is a double;
/// beyond the range of a double is an infinity). Strings become WTF-8.
///
/// @returns success, `errc::invalid_json` (including nesting deeper than @p max_depth and an
/// empty text), or `errc::invalid_utf8` for raw bytes that are not UTF-8. On failure @p out is
/// unspecified but valid.
inline std::error_code parse_json(std::string_view text, json_value& out,
                                  std::size_t max_depth = max_json_depth)
{
  try {
    detail_json::reader r(text, max_depth);
    if (detail_json::errc e = r.run(out); e != detail_json::errc{}) return e;
    return {};
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

/// Appends the JSON text of @p v to @p out, as JSON.stringify would write it (no whitespace,
/// members in order; lone surrogates as `\udXXX`; integral doubles without a fraction).
///
/// @returns success, or `errc::unrepresentable_value` for NaN or an infinity (JSON.stringify
/// would silently write `null`), a string that is not WTF-8, or nesting deeper than
/// `max_json_depth`. On failure @p out is restored.
inline std::error_code write_json(const json_value& v, std::string& out)
{
  const std::size_t at = out.size();
  detail_json::errc e;
  try {
    e = detail_json::write_value(out, v, 0);
  } catch (const std::bad_alloc&) {
    out.resize(at);
    return std::make_error_code(std::errc::not_enough_memory);
  }
  if (e != detail_json::errc{}) {
    out.resize(at);
    return e;
  }
  return {};
}

/// @}

} // namespace node
IPC_END_NAMESPACE

#endif // IPC_NODE_JSON_TEXT_HPP
