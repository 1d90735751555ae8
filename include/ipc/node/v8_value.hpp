// ipc/node/v8_value.hpp - the subset of V8's ValueSerializer format Node's 'advanced' mode needs.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_NODE_V8_VALUE_HPP
#define IPC_NODE_V8_VALUE_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/node/error.hpp"
#include "ipc/node/json_text.hpp"
#include "ipc/serializers/json_value.hpp"

#include <algorithm>
#include <bit>
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
#include <vector>

IPC_BEGIN_NAMESPACE
namespace node {

/// The ValueSerializer format version written (what V8 11.3 in Node 20 writes and reads).
inline constexpr std::uint32_t v8_format_version = 15;

/// The largest BigInt read or written, in bytes of magnitude (2^17 bits, about 39,000 decimal
/// digits). Converting between binary and decimal takes time quadratic in the size, so the
/// bound keeps a peer's message from buying seconds of work; V8's own limit is 2^30 bits.
inline constexpr std::size_t max_bigint_bytes = 16 * 1024;

/// The conversion work all the BigInts of one message may cost, counted as the square of each
/// one's size in 32-bit limbs: about four of the largest, or thousands of 64-bit ones (a few
/// tens of milliseconds). Beyond it the message is refused, however many small BigInts led there.
inline constexpr std::uint64_t max_bigint_work = std::uint64_t{1} << 26;

namespace detail_v8 {

static_assert(std::endian::native == std::endian::little,
              "doubles travel in host order; only little-endian hosts are supported");

inline void put_varint(std::string& out, std::uint64_t v)
{
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_double(std::string& out, double d)
{
  char b[8];
  std::memcpy(b, &d, 8);
  out.append(b, 8);
}

/// Decodes WTF-8 @p s into UTF-16 units; false if it is not WTF-8.
inline bool to_utf16(std::string_view s, std::vector<std::uint16_t>& units, bool& latin1)
{
  latin1 = true;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p != end) {
    const std::size_t n = detail_json::utf8_seq(p, static_cast<std::size_t>(end - p), true);
    if (n == 0) return false;
    std::uint32_t cp = n == 1   ? p[0]
                       : n == 2 ? (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu)
                       : n == 3 ? (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu)
                                : (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 |
                                    (p[3] & 0x3Fu);
    p += n;
    if (cp > 0xFF) latin1 = false;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push_back(static_cast<std::uint16_t>(0xD800 + (cp >> 10)));
      units.push_back(static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      units.push_back(static_cast<std::uint16_t>(cp));
    }
  }
  return true;
}

inline std::size_t varint_size(std::uint64_t v)
{
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

/// Writes a string as V8 does: one-byte (Latin-1) when every code point fits, else two-byte
/// UTF-16LE, padded so that the UTF-16 data starts at an even offset from @p base.
inline bool put_string(std::string& out, std::size_t base, std::string_view s)
{
  std::vector<std::uint16_t> units;
  bool latin1 = true;
  if (!to_utf16(s, units, latin1)) return false;
  if (latin1) {
    out.push_back('"');
    put_varint(out, units.size());
    for (auto u : units) out.push_back(static_cast<char>(u));
    return true;
  }
  const std::size_t bytes = units.size() * 2;
  if ((out.size() - base + 1 + varint_size(bytes)) % 2 != 0) out.push_back('\0'); // padding
  out.push_back('c');
  put_varint(out, bytes);
  for (auto u : units) {
    out.push_back(static_cast<char>(u & 0xFF));
    out.push_back(static_cast<char>(u >> 8));
  }
  return true;
}

/// Decimal digits of a canonical BigInt (`-?(0|[1-9][0-9]*)`) to little-endian 32-bit limbs of
/// its magnitude; false if @p digits is not canonical or too large.
inline bool bigint_from_decimal(std::string_view digits, bool& negative, std::vector<std::uint32_t>& limbs)
{
  negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  if (digits.empty() || (digits.size() > 1 && digits.front() == '0') || (negative && digits == "0"))
    return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  // 2^(8 * max_bigint_bytes) has fewer than 8 * max_bigint_bytes * log10(2) + 1 digits.
  if (digits.size() > max_bigint_bytes * 8 * 30103 / 100000 + 1) return false;
  limbs.clear();
  std::size_t i = 0;
  while (i < digits.size()) {
    const std::size_t n = std::min<std::size_t>(9, digits.size() - i);
    std::uint64_t chunk = 0, scale = 1;
    for (std::size_t k = 0; k < n; ++k, ++i) {
      chunk = chunk * 10 + static_cast<std::uint64_t>(digits[i] - '0');
      scale *= 10;
    }
    std::uint64_t carry = chunk;
    for (auto& l : limbs) {
      const std::uint64_t x = l * scale + carry;
      l = static_cast<std::uint32_t>(x);
      carry = x >> 32;
    }
    if (carry) limbs.push_back(static_cast<std::uint32_t>(carry));
  }
  if (limbs.size() * 4 > max_bigint_bytes + 4) return false;
  return true;
}

/// Little-endian magnitude bytes to decimal digits (with '-' when @p negative and not zero).
inline std::string bigint_to_decimal(const unsigned char* p, std::size_t n, bool negative)
{
  std::vector<std::uint32_t> limbs((n + 3) / 4, 0);
  for (std::size_t i = 0; i < n; ++i) limbs[i / 4] |= static_cast<std::uint32_t>(p[i]) << (8 * (i % 4));
  while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  if (limbs.empty()) return "0";
  std::string rev; // least significant digit first
  while (!limbs.empty()) {
    std::uint64_t rem = 0;
    for (std::size_t i = limbs.size(); i-- > 0;) {
      const std::uint64_t x = rem << 32 | limbs[i];
      limbs[i] = static_cast<std::uint32_t>(x / 1000000000u);
      rem = x % 1000000000u;
    }
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    for (int k = 0; k < 9 && (rem != 0 || !limbs.empty()); ++k) {
      rev.push_back(static_cast<char>('0' + rem % 10));
      rem /= 10;
    }
  }
  if (negative) rev.push_back('-');
  return std::string(rev.rbegin(), rev.rend());
}

/// Writes a BigInt as V8 does: tag `Z`, a varint bitfield (bit 0 the sign, the rest the byte
/// length), then the magnitude in little-endian 64-bit digits.
inline bool put_bigint(std::string& out, std::string_view digits)
{
  bool negative = false;
  std::vector<std::uint32_t> limbs;
  if (!bigint_from_decimal(digits, negative, limbs)) return false;
  if (limbs.size() % 2 != 0) limbs.push_back(0);
  const std::size_t bytes = limbs.size() * 4;
  if (bytes > max_bigint_bytes) return false;
  out.push_back('Z');
  put_varint(out, (std::uint64_t{bytes} << 1) | (negative ? 1u : 0u));
  for (auto l : limbs)
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>(l >> (8 * k)));
  return true;
}

/// Writes bytes as Node's ChildProcessSerializer does: an ArrayBuffer as V8's `B`, a view as a
/// host object (`\`, Node's sub-tag 0, the view type, the byte length, the bytes).
inline bool put_bytes(std::string& out, const json_bytes& b)
{
  const auto t = static_cast<unsigned>(b.type);
  if (b.type != json_bytes_type::array_buffer && t > static_cast<unsigned>(json_bytes_type::biguint64_array))
    return false;
  // Node builds the view with byteLength / BYTES_PER_ELEMENT elements and throws on a fraction.
  if (b.data.size() % element_size(b.type) != 0 || b.data.size() > 0xFFFFFFFFu) return false;
  if (b.type == json_bytes_type::array_buffer) {
    out.push_back('B');
  } else {
    out.push_back('\\');
    put_varint(out, 0);
    put_varint(out, t);
  }
  put_varint(out, b.data.size());
  out.append(reinterpret_cast<const char*>(b.data.data()), b.data.size());
  return true;
}

inline std::error_code put_value(std::string& out, std::size_t base, const json_value& v,
                                 std::size_t depth)
{
  switch (v.type()) {
  case json_type::null: out.push_back('0'); return {};
  case json_type::boolean: out.push_back(*v.as_bool() ? 'T' : 'F'); return {};
  case json_type::signed_integer:
  case json_type::unsigned_integer: {
    const auto i = v.as_int64();
    if (i && *i >= std::numeric_limits<std::int32_t>::min() &&
        *i <= std::numeric_limits<std::int32_t>::max()) {
      const auto x = static_cast<std::int32_t>(*i);
      out.push_back('I');
      put_varint(out, (static_cast<std::uint32_t>(x) << 1) ^ static_cast<std::uint32_t>(x >> 31));
    } else {
      out.push_back('N'); // a JavaScript number: integers beyond 2^53 are rounded
      put_double(out, *v.as_double());
    }
    return {};
  }
  case json_type::floating_point:
    out.push_back('N');
    put_double(out, *v.as_double());
    return {};
  case json_type::string:
    if (!put_string(out, base, *v.as_string())) return ipc::errc::unrepresentable_value;
    return {};
  case json_type::array: {
    if (depth >= max_json_depth) return ipc::errc::unrepresentable_value;
    const auto& a = *v.as_array();
    out.push_back('A');
    put_varint(out, a.size());
    for (const auto& e : a)
      if (auto ec = put_value(out, base, e, depth + 1)) return ec;
    out.push_back('$');
    put_varint(out, 0);
    put_varint(out, a.size());
    return {};
  }
  case json_type::object: {
    if (depth >= max_json_depth) return ipc::errc::unrepresentable_value;
    const auto& o = *v.as_object();
    out.push_back('o');
    for (const auto& [k, e] : o) {
      if (!put_string(out, base, k)) return ipc::errc::unrepresentable_value;
      if (auto ec = put_value(out, base, e, depth + 1)) return ec;
    }
    out.push_back('{');
    put_varint(out, o.size());
    return {};
  }
  case json_type::bigint:
    if (!put_bigint(out, v.as_bigint()->digits)) return ipc::errc::unrepresentable_value;
    return {};
  case json_type::date:
    out.push_back('D');
    put_double(out, v.as_date()->ms);
    return {};
  case json_type::map: {
    if (depth >= max_json_depth) return ipc::errc::unrepresentable_value;
    const auto& m = v.as_map()->entries;
    out.push_back(';');
    for (const auto& [k, e] : m) {
      if (auto ec = put_value(out, base, k, depth + 1)) return ec;
      if (auto ec = put_value(out, base, e, depth + 1)) return ec;
    }
    out.push_back(':');
    put_varint(out, 2 * m.size());
    return {};
  }
  case json_type::set: {
    if (depth >= max_json_depth) return ipc::errc::unrepresentable_value;
    const auto& e = v.as_set()->elements;
    out.push_back('\'');
    for (const auto& x : e)
      if (auto ec = put_value(out, base, x, depth + 1)) return ec;
    out.push_back(',');
    put_varint(out, e.size());
    return {};
  }
  case json_type::bytes:
    if (!put_bytes(out, *v.as_bytes())) return ipc::errc::unrepresentable_value;
    return {};
  }
  return ipc::errc::unrepresentable_value;
}

/// Reads one ValueSerializer buffer. Objects and arrays seen twice (back-references) are
/// copied, within a budget of values so that a small buffer cannot expand without bound. When
/// the buffer may hold back-references, a first pass finds which objects are referenced, and
/// the second keeps a copy of just those (pointers into the tree being built would not stay
/// valid while its vectors grow).
class reader {
public:
  reader(std::string_view in, std::size_t budget) noexcept
    : p_(reinterpret_cast<const unsigned char*>(in.data())), end_(p_ + in.size()), budget_(budget)
  {
  }

  std::error_code run(json_value& out)
  {
    const unsigned char* start = p_;
    const std::size_t budget = budget_;
    if (std::memchr(p_, '^', static_cast<std::size_t>(end_ - p_)) != nullptr) {
      first_pass_ = true;
      if (auto ec = pass(out)) return ec;
      first_pass_ = false;
      p_ = start;
      budget_ = budget;
      bigint_work_ = max_bigint_work;
      next_id_ = 0;
    }
    return pass(out);
  }

private:
  std::error_code pass(json_value& out)
  {
    if (p_ == end_ || *p_ != 0xFF) return ipc::errc::invalid_json;
    ++p_;
    std::uint64_t version;
    if (!varint(version) || version < 13 || version > v8_format_version) return ipc::errc::protocol_mismatch;
    if (auto ec = value(out, 0)) return ec;
    return p_ == end_ ? std::error_code() : make_error_code(ipc::errc::truncated_payload);
  }

  /// An object or array is complete: keep a copy if a back-reference wants it.
  std::error_code completed(std::size_t id, const json_value& v)
  {
    if (first_pass_ || id >= wanted_.size() || !wanted_[id]) return {};
    if (!charge(count_values(v))) return errc::unsupported_value;
    copies_.emplace_back(id, v);
    return {};
  }

  bool varint(std::uint64_t& v) noexcept
  {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const unsigned char b = *p_++;
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }

  bool length(std::uint64_t& n) noexcept
  {
    return varint(n) && n <= static_cast<std::uint64_t>(end_ - p_);
  }

  bool charge(std::size_t n = 1) noexcept
  {
    if (budget_ < n) return false;
    budget_ -= n;
    return true;
  }

  int tag() noexcept
  {
    while (p_ != end_ && *p_ == 0x00) ++p_; // padding
    return p_ == end_ ? -1 : *p_++;
  }

  static void utf16_to_wtf8(const unsigned char* p, std::size_t units, std::string& out)
  {
    for (std::size_t i = 0; i < units; ++i) {
      std::uint32_t u = p[2 * i] | static_cast<std::uint32_t>(p[2 * i + 1]) << 8;
      if (u >= 0xD800 && u < 0xDC00 && i + 1 < units) {
        const std::uint32_t low = p[2 * i + 2] | static_cast<std::uint32_t>(p[2 * i + 3]) << 8;
        if (low >= 0xDC00 && low < 0xE000) {
          u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
          ++i;
        }
      }
      detail_json::append_utf8(out, u);
    }
  }

  std::error_code string_body(int t, std::string& out)
  {
    std::uint64_t n;
    if (!length(n)) return ipc::errc::truncated_payload;
    if (t == '"') {
      for (std::uint64_t i = 0; i < n; ++i) detail_json::append_utf8(out, p_[i]);
    } else if (t == 'c') {
      if (n % 2 != 0) return ipc::errc::invalid_json;
      utf16_to_wtf8(p_, n / 2, out);
    } else { // 'S': UTF-8
      const auto* q = p_;
      const auto* e = p_ + n;
      while (q != e) {
        const std::size_t k = detail_json::utf8_seq(q, static_cast<std::size_t>(e - q), false);
        if (k == 0) return ipc::errc::invalid_utf8;
        q += k;
      }
      out.append(reinterpret_cast<const char*>(p_), n);
    }
    p_ += n;
    return {};
  }

  static std::string number_key(double d)
  {
    // Index-like keys travel as numbers; as object keys they are their decimal text.
    char buf[40];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
  }

  std::error_code key(std::string& out)
  {
    const int t = tag();
    switch (t) {
    case '"':
    case 'c':
    case 'S': return string_body(t, out);
    case 'I': {
      std::uint64_t z;
      if (!varint(z)) return ipc::errc::truncated_payload;
      const auto u = static_cast<std::uint32_t>(z);
      out = std::to_string(static_cast<std::int32_t>((u >> 1) ^ (~(u & 1) + 1)));
      return {};
    }
    case 'U': {
      std::uint64_t u;
      if (!varint(u)) return ipc::errc::truncated_payload;
      out = std::to_string(static_cast<std::uint32_t>(u));
      return {};
    }
    case 'N': {
      double d;
      if (!read_double(d)) return ipc::errc::truncated_payload;
      out = number_key(d);
      return {};
    }
    case -1: return ipc::errc::truncated_payload;
    default: return errc::unsupported_value;
    }
  }

  bool read_double(double& d) noexcept
  {
    if (end_ - p_ < 8) return false;
    std::memcpy(&d, p_, 8);
    p_ += 8;
    return true;
  }

  /// Object properties up to @p end_tag; returns the count read.
  std::error_code properties(json_value::object_type& members, int end_tag, std::size_t depth,
                             std::uint64_t& count)
  {
    count = 0;
    for (;;) {
      while (p_ != end_ && *p_ == 0x00) ++p_;
      if (p_ == end_) return ipc::errc::truncated_payload;
      if (*p_ == end_tag) {
        ++p_;
        return {};
      }
      if (!charge()) return errc::unsupported_value;
      auto& m = members.emplace_back();
      if (auto ec = key(m.first)) return ec;
      if (auto ec = value(m.second, depth + 1)) return ec;
      ++count;
    }
  }

  std::error_code value(json_value& out, std::size_t depth)
  {
    if (!charge()) return errc::unsupported_value;
    const int t = tag();
    switch (t) {
    case -1: return ipc::errc::truncated_payload;
    case '_': // undefined: JSON has no such value; null is the closest (as in an array)
    case '0': out = json_value(); return {};
    case '-': out = json_value(); return {}; // an array hole
    case 'T': out = json_value(true); return {};
    case 'F': out = json_value(false); return {};
    case 'I': {
      std::uint64_t z;
      if (!varint(z)) return ipc::errc::truncated_payload;
      const auto u = static_cast<std::uint32_t>(z);
      out = json_value(static_cast<std::int64_t>(static_cast<std::int32_t>((u >> 1) ^ (~(u & 1) + 1))));
      return {};
    }
    case 'U': {
      std::uint64_t u;
      if (!varint(u)) return ipc::errc::truncated_payload;
      out = json_value(static_cast<std::uint64_t>(static_cast<std::uint32_t>(u)));
      return {};
    }
    case 'N': {
      double d;
      if (!read_double(d)) return ipc::errc::truncated_payload;
      out = json_value(d);
      return {};
    }
    case '"':
    case 'c':
    case 'S': {
      std::string s;
      if (auto ec = string_body(t, s)) return ec;
      out = json_value(std::move(s));
      return {};
    }
    case 'o': {
      if (depth >= max_json_depth) return ipc::errc::invalid_json;
      const std::size_t id = next_id_++;
      json_value::object_type members;
      std::uint64_t count, declared;
      if (auto ec = properties(members, '{', depth, count)) return ec;
      if (!varint(declared) || declared != count) return ipc::errc::invalid_json;
      out = json_value(std::move(members));
      return completed(id, out);
    }
    case 'A':
    case 'a': {
      if (depth >= max_json_depth) return ipc::errc::invalid_json;
      const std::size_t id = next_id_++;
      std::uint64_t n;
      if (!varint(n)) return ipc::errc::truncated_payload;
      json_value::array_type elements;
      if (t == 'A') {
        if (n > static_cast<std::uint64_t>(end_ - p_)) return ipc::errc::truncated_payload;
        elements.resize(n);
        for (auto& e : elements)
          if (auto ec = value(e, depth + 1)) return ec;
      } else {
        // Sparse: holes become null, so the length is what we allocate: keep it within budget.
        if (!charge(n)) return errc::unsupported_value;
        elements.resize(n);
      }
      json_value::object_type extra;
      std::uint64_t count, props, len;
      if (auto ec = properties(extra, t == 'A' ? '$' : '@', depth, count)) return ec;
      if (!varint(props) || !varint(len) || props != count || len != n) return ipc::errc::invalid_json;
      for (auto& [k, v] : extra) {
        // Index properties (all a sparse array has) go in place; named ones have no JSON form.
        std::uint64_t index;
        auto r = std::from_chars(k.data(), k.data() + k.size(), index);
        if (r.ec != std::errc() || r.ptr != k.data() + k.size() || index >= n)
          return errc::unsupported_value;
        elements[index] = std::move(v);
      }
      out = json_value(std::move(elements));
      return completed(id, out);
    }
    case '^': {
      std::uint64_t id;
      if (!varint(id) || id >= next_id_) return ipc::errc::invalid_json;
      if (first_pass_) {
        if (wanted_.size() <= id) wanted_.resize(id + 1, false);
        wanted_[id] = true;
        out = json_value();
        return {};
      }
      // A DAG becomes a tree: the copy is charged against the budget. A reference to an
      // object not yet complete is a cycle, which JSON cannot hold.
      for (const auto& [cid, copy] : copies_)
        if (cid == id) {
          if (!charge(count_values(copy))) return errc::unsupported_value;
          out = copy;
          return {};
        }
      return errc::unsupported_value;
    }
    case 'D': {
      const std::size_t id = next_id_++;
      double ms;
      if (!read_double(ms)) return ipc::errc::truncated_payload;
      out = json_value(json_date{ms});
      return completed(id, out);
    }
    case 'Z': {
      std::uint64_t bits;
      if (!varint(bits)) return ipc::errc::truncated_payload;
      const std::uint64_t n = bits >> 1;
      if (n > static_cast<std::uint64_t>(end_ - p_)) return ipc::errc::truncated_payload;
      const std::uint64_t limbs = (n + 3) / 4;
      if (n > max_bigint_bytes || limbs * limbs > bigint_work_) return errc::unsupported_value;
      bigint_work_ -= limbs * limbs;
      if (!first_pass_) out = json_value(json_bigint{bigint_to_decimal(p_, n, (bits & 1) != 0)});
      p_ += n;
      return {};
    }
    case ';':
    case '\'': {
      if (depth >= max_json_depth) return ipc::errc::invalid_json;
      const std::size_t id = next_id_++;
      const bool is_map = t == ';';
      json_map m;
      json_set set;
      std::uint64_t count = 0, declared;
      for (;;) {
        while (p_ != end_ && *p_ == 0x00) ++p_;
        if (p_ == end_) return ipc::errc::truncated_payload;
        if (*p_ == (is_map ? ':' : ',')) {
          ++p_;
          break;
        }
        if (is_map) {
          auto& e = m.entries.emplace_back();
          if (auto ec = value(e.first, depth + 1)) return ec;
          if (auto ec = value(e.second, depth + 1)) return ec;
          count += 2;
        } else {
          if (auto ec = value(set.elements.emplace_back(), depth + 1)) return ec;
          ++count;
        }
      }
      if (!varint(declared) || declared != count) return ipc::errc::invalid_json;
      out = is_map ? json_value(std::move(m)) : json_value(std::move(set));
      return completed(id, out);
    }
    case 'B': {
      const std::size_t id = next_id_++;
      std::uint64_t n;
      if (!length(n)) return ipc::errc::truncated_payload;
      out = json_value(bytes(json_bytes_type::array_buffer, n));
      return completed(id, out);
    }
    case '\\': { // a host object, written by Node's ChildProcessSerializer
      const std::size_t id = next_id_++;
      std::uint64_t sub;
      if (!varint(sub)) return ipc::errc::truncated_payload;
      if (sub == 1) { // not a view: Node sends a plain-object copy of it
        if (depth >= max_json_depth) return ipc::errc::invalid_json;
        if (auto ec = value(out, depth + 1)) return ec;
        return completed(id, out);
      }
      std::uint64_t type, n;
      if (sub != 0) return ipc::errc::invalid_json;
      if (!varint(type) || !length(n)) return ipc::errc::truncated_payload;
      const auto bt = static_cast<json_bytes_type>(type);
      // Node throws on these: it has no constructor for the index, or the length is not a
      // whole number of elements.
      if (type > static_cast<std::uint64_t>(json_bytes_type::biguint64_array) || n % element_size(bt) != 0)
        return ipc::errc::invalid_json;
      out = json_value(bytes(bt, n));
      return completed(id, out);
    }
    default:
      // RegExps, errors, boxed primitives, V8's own array buffer views, shared memory...
      return errc::unsupported_value;
    }
  }

  /// The next @p n bytes (already checked to be there) as a json_bytes of type @p t.
  json_bytes bytes(json_bytes_type t, std::uint64_t n)
  {
    json_bytes b{t, {}};
    const auto* q = reinterpret_cast<const std::byte*>(p_);
    b.data.assign(q, q + n);
    p_ += n;
    return b;
  }

  /// What a copy of @p v costs: one per value, and one per 8 bytes of strings, BigInts and
  /// bytes, so that copies of one large string cannot multiply it past the budget.
  std::size_t count_values(const json_value& v) const noexcept
  {
    std::size_t n = 1;
    if (auto s = v.as_string()) n += s->size() / 8;
    if (auto* b = v.as_bigint()) n += b->digits.size() / 8;
    if (auto* b = v.as_bytes()) n += b->data.size() / 8;
    if (auto* m = v.as_map())
      for (auto& [k, e] : m->entries) {
        n += count_values(k) + count_values(e);
        if (n > budget_) return n;
      }
    if (auto* st = v.as_set())
      for (auto& e : st->elements) {
        n += count_values(e);
        if (n > budget_) return n;
      }
    if (auto* o = v.as_object())
      for (auto& m : *o) n += m.first.size() / 8;
    if (auto* a = v.as_array())
      for (auto& e : *a) {
        n += count_values(e);
        if (n > budget_) return n;
      }
    if (auto* o = v.as_object())
      for (auto& m : *o) {
        n += count_values(m.second);
        if (n > budget_) return n;
      }
    return n;
  }

  const unsigned char* p_;
  const unsigned char* end_;
  std::size_t budget_;
  std::uint64_t bigint_work_ = max_bigint_work;
  bool first_pass_ = false;
  std::size_t next_id_ = 0;                                 // V8 numbers objects and arrays in order
  std::vector<bool> wanted_;                                // ids some back-reference names
  std::vector<std::pair<std::size_t, json_value>> copies_; // their values, once complete

};

} // namespace detail_v8

/// Appends the V8 ValueSerializer encoding of @p v (header `FF 0F`, then the value) to @p out:
/// integers within 32 bits as Smis, other numbers as doubles (NaN and infinities included,
/// unlike JSON), strings as one-byte or two-byte strings (lone surrogates, held as WTF-8, as
/// themselves), arrays dense, objects plain; BigInts, Dates, Maps and Sets as V8 writes them;
/// ArrayBuffers as V8 writes them and views (typed arrays, DataViews, Buffers) as Node's
/// `ChildProcessSerializer` does, so that Node gets back the same class.
///
/// @returns success or `ipc::errc::unrepresentable_value` (a string that is not WTF-8, nesting
/// deeper than `max_json_depth`, a BigInt that is not canonical decimal or is larger than
/// `max_bigint_bytes`, bytes that are not a whole number of elements of their view type, which
/// Node would throw on); @p out is restored on failure.
inline std::error_code write_v8(const json_value& v, std::string& out)
{
  const std::size_t at = out.size();
  try {
    out.push_back(static_cast<char>(0xFF));
    detail_v8::put_varint(out, v8_format_version);
    if (auto ec = detail_v8::put_value(out, at, v, 0)) {
      out.resize(at);
      return ec;
    }
  } catch (const std::bad_alloc&) {
    out.resize(at);
    return std::make_error_code(std::errc::not_enough_memory);
  }
  return {};
}

/// Reads one V8 ValueSerializer buffer (versions 13 to 15) into @p out: null, booleans,
/// numbers, strings (one-byte, two-byte, UTF-8; lone surrogates become WTF-8), plain objects,
/// dense and sparse arrays (holes and `undefined` become null), BigInts (`json_bigint`, decimal),
/// Dates (`json_date`), Maps and Sets (`json_map`, `json_set`, in order), ArrayBuffers and the
/// views Node writes as host objects (`json_bytes`), and objects or arrays referenced twice
/// (copied). Number keys become their decimal text.
///
/// @returns success; `node::errc::unsupported_value` for RegExps, errors, boxed primitives,
/// V8's own array buffer views, shared memory and other objects, cycles, named properties on
/// arrays, BigInts larger than `max_bigint_bytes`, or more than @p max_values values
/// (back-references and sparse lengths count, and a copy of a string or bytes costs one per 8
/// bytes); `errc::invalid_json` or `errc::truncated_payload` for a malformed buffer (including
/// a view type or length Node would throw on); `errc::protocol_mismatch` for an unknown format
/// version.
inline std::error_code read_v8(std::string_view in, json_value& out, std::size_t max_values)
{
  try {
    detail_v8::reader r(in, max_values);
    return r.run(out);
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

} // namespace node
IPC_END_NAMESPACE

#endif // IPC_NODE_V8_VALUE_HPP
