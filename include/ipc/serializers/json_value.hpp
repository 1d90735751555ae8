// ipc/serializers/json_value.hpp - a dynamic JSON value, for messages whose shape varies.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_SERIALIZERS_JSON_VALUE_HPP
#define IPC_SERIALIZERS_JSON_VALUE_HPP

#include "ipc/platform/config.hpp"

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

IPC_BEGIN_NAMESPACE

/// The kind of value a `json_value` holds.
///
/// Numbers keep the form they were received in: an integer that fits `std::int64_t` is
/// `signed_integer`, a larger positive one is `unsigned_integer`, and anything with a fraction
/// or an exponent (or an integer beyond 64 bits) is `floating_point`. That way a 64-bit id sent
/// by a peer comes back bit for bit instead of being rounded through a double.
enum class json_type : std::uint8_t {
  null,
  boolean,
  signed_integer,
  unsigned_integer,
  floating_point,
  string,
  array,
  object,
  // JavaScript values that JSON has no form for. Only Node's 'advanced' serialization carries
  // them (`ipc::node::read_v8` / `write_v8`); every JSON writer refuses them.
  bigint,
  date,
  map,
  set,
  bytes,
};

class json_value;

/// A JavaScript BigInt, any size: its decimal digits, with a leading '-' when negative
/// (`"-12345678901234567890"`). Canonical form: no leading zeros, no "-0", no '+'; a writer
/// refuses anything else.
struct json_bigint {
  std::string digits;
  friend bool operator==(const json_bigint&, const json_bigint&) = default;
};

/// A JavaScript Date: milliseconds since 1970-01-01T00:00:00Z, as `Date.prototype.getTime()`
/// gives them (NaN for an invalid date).
struct json_date {
  double ms = 0;
  friend bool operator==(const json_date&, const json_date&) = default;
};

/// A JavaScript Map: entries in insertion order; keys are any values.
struct json_map {
  std::vector<std::pair<json_value, json_value>> entries;
  friend bool operator==(const json_map& a, const json_map& b) noexcept; // below json_value
};

/// A JavaScript Set: elements in insertion order.
struct json_set {
  std::vector<json_value> elements;
  friend bool operator==(const json_set& a, const json_set& b) noexcept; // below json_value
};

/// What a `json_bytes` was in JavaScript. The values are the indices Node's
/// `v8.DefaultSerializer` writes (`array_buffer`, which V8 writes itself, aside).
enum class json_bytes_type : std::uint8_t {
  int8_array = 0,
  uint8_array = 1,
  uint8_clamped_array = 2,
  int16_array = 3,
  uint16_array = 4,
  int32_array = 5,
  uint32_array = 6,
  float32_array = 7,
  float64_array = 8,
  data_view = 9,
  buffer = 10, ///< Node's `Buffer`
  bigint64_array = 11,
  biguint64_array = 12,
  array_buffer = 255,
};

/// The size in bytes of one element of @p t (1 for buffers, data views and array buffers).
constexpr std::size_t element_size(json_bytes_type t) noexcept
{
  switch (t) {
  case json_bytes_type::int16_array:
  case json_bytes_type::uint16_array: return 2;
  case json_bytes_type::int32_array:
  case json_bytes_type::uint32_array:
  case json_bytes_type::float32_array: return 4;
  case json_bytes_type::float64_array:
  case json_bytes_type::bigint64_array:
  case json_bytes_type::biguint64_array: return 8;
  default: return 1;
  }
}

/// An ArrayBuffer, a typed array, a DataView or a Buffer: its type and its bytes (the view's
/// bytes only, in host order). `data.size()` is a multiple of `element_size(type)`.
struct json_bytes {
  json_bytes_type type = json_bytes_type::uint8_array;
  std::vector<std::byte> data;
  friend bool operator==(const json_bytes&, const json_bytes&) = default;
};

namespace detail {

// The integer types a json_value (and the JSON serializer) treats as numbers. Character types
// are left out on purpose: whether a `char` is a number or a one-letter string is a guess we
// refuse to make.
template <class T>
concept json_integer =
    std::integral<T> && !std::same_as<std::remove_cv_t<T>, bool> &&
    !std::same_as<std::remove_cv_t<T>, char> && !std::same_as<std::remove_cv_t<T>, wchar_t> &&
    !std::same_as<std::remove_cv_t<T>, char8_t> && !std::same_as<std::remove_cv_t<T>, char16_t> &&
    !std::same_as<std::remove_cv_t<T>, char32_t>;

} // namespace detail

/// A JSON document held in memory: null, boolean, number, string, array or object; or one of
/// the JavaScript values Node's 'advanced' serialization adds (BigInt, Date, Map, Set, typed
/// arrays and buffers, see `json_type`), which JSON writers refuse.
///
/// - Numbers keep `std::int64_t`, `std::uint64_t` and `double` apart (see `json_type`).
/// - An object is an ordered vector of members. Members keep the order they were received or
///   inserted in, and duplicate keys are kept as received (`find` returns the first).
/// - Equality compares numbers by value across kinds (`1 == 1u == 1.0`), strings bytewise,
///   arrays elementwise and objects member by member *in order*.
///
/// Decoding a `json_value` with `ipc::json` never nests deeper than `ipc::json::max_depth`,
/// so destroying or comparing a received value cannot exhaust the stack. A value built by hand
/// may nest deeper; `ipc::json` refuses to encode it (`errc::unrepresentable_value`).
///
/// Thread safety: distinct objects safe; shared objects safe for concurrent reads only.
class json_value {
public:
  /// The storage of an array.
  using array_type = std::vector<json_value>;
  /// One member of an object: key and value.
  using member_type = std::pair<std::string, json_value>;
  /// The storage of an object: members in order, duplicates allowed.
  using object_type = std::vector<member_type>;

  /// A null value.
  json_value() noexcept = default;
  /// A null value.
  json_value(std::nullptr_t) noexcept {}

  /// A boolean. A template so that pointers and other scalars do not silently become `true`.
  template <class B>
    requires std::same_as<B, bool>
  json_value(B b) noexcept : value_(std::in_place_type<bool>, b)
  {
  }

  /// An integer: signed types become `signed_integer`, unsigned ones `unsigned_integer`.
  template <detail::json_integer I>
  json_value(I i) noexcept
  {
    if constexpr (std::is_signed_v<I>)
      value_.emplace<std::int64_t>(i);
    else
      value_.emplace<std::uint64_t>(i);
  }

  /// A floating-point number. NaN and infinities may be stored but cannot be encoded.
  json_value(double d) noexcept : value_(std::in_place_type<double>, d) {}

  /// A string (UTF-8; validated when encoded).
  json_value(std::string s) noexcept : value_(std::in_place_type<std::string>, std::move(s)) {}
  /// A string (UTF-8; validated when encoded).
  json_value(std::string_view s) : value_(std::in_place_type<std::string>, s) {}
  /// A string (UTF-8; validated when encoded). @p s must not be null.
  json_value(const char* s) : value_(std::in_place_type<std::string>, s) {}

  /// An array.
  json_value(array_type a) noexcept : value_(std::in_place_type<array_type>, std::move(a)) {}
  /// An object.
  json_value(object_type o) noexcept : value_(std::in_place_type<object_type>, std::move(o)) {}

  /// A BigInt (see `json_bigint`).
  json_value(json_bigint b) noexcept : value_(std::in_place_type<json_bigint>, std::move(b)) {}
  /// A Date (see `json_date`).
  json_value(json_date d) noexcept : value_(std::in_place_type<json_date>, d) {}
  /// A Map (see `json_map`).
  json_value(json_map m) noexcept : value_(std::in_place_type<json_map>, std::move(m)) {}
  /// A Set (see `json_set`).
  json_value(json_set s) noexcept : value_(std::in_place_type<json_set>, std::move(s)) {}
  /// Bytes: an ArrayBuffer, typed array, DataView or Buffer (see `json_bytes`).
  json_value(json_bytes b) noexcept : value_(std::in_place_type<json_bytes>, std::move(b)) {}

  /// An array of @p elements: `json_value::array({1, "two", nullptr})`.
  static json_value array(std::initializer_list<json_value> elements = {})
  {
    return json_value(array_type(elements));
  }

  /// An object of @p members in the given order: `json_value::object({{"id", 42}})`.
  static json_value object(std::initializer_list<member_type> members = {})
  {
    return json_value(object_type(members));
  }

  /// A Map of @p entries in the given order: `json_value::map({{1, "one"}, {"k", true}})`.
  static json_value map(std::initializer_list<std::pair<json_value, json_value>> entries = {})
  {
    return json_value(json_map{{entries.begin(), entries.end()}});
  }

  /// A Set of @p elements in the given order.
  static json_value set(std::initializer_list<json_value> elements = {})
  {
    return json_value(json_set{{elements.begin(), elements.end()}});
  }

  /// The kind of value held.
  json_type type() const noexcept { return static_cast<json_type>(value_.index()); }

  bool is_null() const noexcept { return type() == json_type::null; }
  bool is_bool() const noexcept { return type() == json_type::boolean; }
  /// Any number: signed, unsigned or floating point.
  bool is_number() const noexcept
  {
    return type() == json_type::signed_integer || type() == json_type::unsigned_integer ||
           type() == json_type::floating_point;
  }
  /// A number received or built as an integer (`signed_integer` or `unsigned_integer`).
  bool is_integer() const noexcept
  {
    return type() == json_type::signed_integer || type() == json_type::unsigned_integer;
  }
  bool is_double() const noexcept { return type() == json_type::floating_point; }
  bool is_string() const noexcept { return type() == json_type::string; }
  bool is_array() const noexcept { return type() == json_type::array; }
  bool is_object() const noexcept { return type() == json_type::object; }

  /// The boolean, or nothing if this is not a boolean.
  std::optional<bool> as_bool() const noexcept
  {
    if (auto* b = std::get_if<bool>(&value_)) return *b;
    return std::nullopt;
  }

  /// The integer if this is an integer that fits `std::int64_t`, else nothing. Doubles are not
  /// converted (use `as_double`).
  std::optional<std::int64_t> as_int64() const noexcept
  {
    if (auto* i = std::get_if<std::int64_t>(&value_)) return *i;
    if (auto* u = std::get_if<std::uint64_t>(&value_); u && std::in_range<std::int64_t>(*u))
      return static_cast<std::int64_t>(*u);
    return std::nullopt;
  }

  /// The integer if this is a non-negative integer, else nothing.
  std::optional<std::uint64_t> as_uint64() const noexcept
  {
    if (auto* u = std::get_if<std::uint64_t>(&value_)) return *u;
    if (auto* i = std::get_if<std::int64_t>(&value_); i && *i >= 0)
      return static_cast<std::uint64_t>(*i);
    return std::nullopt;
  }

  /// Any number as a double (integers beyond 2^53 are rounded), or nothing.
  std::optional<double> as_double() const noexcept
  {
    switch (type()) {
    case json_type::signed_integer:
      return static_cast<double>(std::get<std::int64_t>(value_));
    case json_type::unsigned_integer:
      return static_cast<double>(std::get<std::uint64_t>(value_));
    case json_type::floating_point:
      return std::get<double>(value_);
    default:
      return std::nullopt;
    }
  }

  /// A view of the string (valid while this value is alive and unchanged), or nothing.
  std::optional<std::string_view> as_string() const noexcept
  {
    if (auto* s = std::get_if<std::string>(&value_)) return std::string_view(*s);
    return std::nullopt;
  }

  /// The string for modification, or null if this is not a string.
  std::string* as_string_ptr() noexcept { return std::get_if<std::string>(&value_); }

  /// The elements, or null if this is not an array.
  const array_type* as_array() const noexcept { return std::get_if<array_type>(&value_); }
  array_type* as_array() noexcept { return std::get_if<array_type>(&value_); }

  /// The members, or null if this is not an object.
  const object_type* as_object() const noexcept { return std::get_if<object_type>(&value_); }
  object_type* as_object() noexcept { return std::get_if<object_type>(&value_); }

  /// The BigInt, Date, Map, Set or bytes, or null if this is not one.
  const json_bigint* as_bigint() const noexcept { return std::get_if<json_bigint>(&value_); }
  const json_date* as_date() const noexcept { return std::get_if<json_date>(&value_); }
  const json_map* as_map() const noexcept { return std::get_if<json_map>(&value_); }
  json_map* as_map() noexcept { return std::get_if<json_map>(&value_); }
  const json_set* as_set() const noexcept { return std::get_if<json_set>(&value_); }
  json_set* as_set() noexcept { return std::get_if<json_set>(&value_); }
  const json_bytes* as_bytes() const noexcept { return std::get_if<json_bytes>(&value_); }
  json_bytes* as_bytes() noexcept { return std::get_if<json_bytes>(&value_); }

  /// The first member named @p key, or null if there is none or this is not an object.
  const json_value* find(std::string_view key) const noexcept
  {
    if (auto* o = as_object())
      for (auto& [k, v] : *o)
        if (k == key) return &v;
    return nullptr;
  }
  json_value* find(std::string_view key) noexcept
  {
    return const_cast<json_value*>(std::as_const(*this).find(key));
  }

  /// The first member named @p key, or a null value if there is none or this is not an
  /// object, so lookups chain: `msg["cmd"]["id"].as_int64()`.
  const json_value& operator[](std::string_view key) const noexcept
  {
    const json_value* v = find(key);
    return v ? *v : null_value();
  }

  /// Element @p index, or a null value if it is out of range or this is not an array.
  const json_value& operator[](std::size_t index) const noexcept
  {
    if (auto* a = as_array(); a && index < a->size()) return (*a)[index];
    return null_value();
  }

  /// The number of elements or members; 0 for scalars.
  std::size_t size() const noexcept
  {
    if (auto* a = as_array()) return a->size();
    if (auto* o = as_object()) return o->size();
    return 0;
  }

  /// Appends @p v to this array; a null value first becomes an empty array. Returns the new
  /// element. Precondition: `is_array() || is_null()`.
  json_value& push_back(json_value v)
  {
    if (is_null()) value_.emplace<array_type>();
    IPC_ASSERT(is_array());
    return std::get<array_type>(value_).emplace_back(std::move(v));
  }

  /// Appends the member @p key: @p v to this object (an existing member of that name is kept);
  /// a null value first becomes an empty object. Returns the new value.
  /// Precondition: `is_object() || is_null()`.
  json_value& emplace(std::string key, json_value v)
  {
    if (is_null()) value_.emplace<object_type>();
    IPC_ASSERT(is_object());
    return std::get<object_type>(value_).emplace_back(std::move(key), std::move(v)).second;
  }

  /// Structural equality; see the class description for how numbers and objects compare.
  friend bool operator==(const json_value& a, const json_value& b) noexcept
  {
    if (a.is_number() && b.is_number()) return numbers_equal(a, b);
    if (a.value_.index() != b.value_.index()) return false;
    switch (a.type()) {
    case json_type::null:
      return true;
    case json_type::boolean:
      return std::get<bool>(a.value_) == std::get<bool>(b.value_);
    case json_type::string:
      return std::get<std::string>(a.value_) == std::get<std::string>(b.value_);
    case json_type::array:
      return std::get<array_type>(a.value_) == std::get<array_type>(b.value_);
    case json_type::object:
      return std::get<object_type>(a.value_) == std::get<object_type>(b.value_);
    case json_type::bigint:
      return std::get<json_bigint>(a.value_) == std::get<json_bigint>(b.value_);
    case json_type::date: // by value, as doubles compare: an invalid date equals no date
      return std::get<json_date>(a.value_) == std::get<json_date>(b.value_);
    case json_type::map:
      return std::get<json_map>(a.value_) == std::get<json_map>(b.value_);
    case json_type::set:
      return std::get<json_set>(a.value_) == std::get<json_set>(b.value_);
    case json_type::bytes:
      return std::get<json_bytes>(a.value_) == std::get<json_bytes>(b.value_);
    default:
      return false; // numbers were handled above
    }
  }

private:
  static const json_value& null_value() noexcept
  {
    static const json_value null;
    return null;
  }

  // Exact comparison across number kinds: converting both sides to double would call 2^53 and
  // 2^53 + 1 equal.
  static bool numbers_equal(const json_value& a, const json_value& b) noexcept
  {
    if (a.is_double() && b.is_double())
      return std::get<double>(a.value_) == std::get<double>(b.value_);
    if (a.is_double()) return double_equals_integer(std::get<double>(a.value_), b);
    if (b.is_double()) return double_equals_integer(std::get<double>(b.value_), a);
    if (a.type() == b.type()) {
      return a.type() == json_type::signed_integer
                 ? std::get<std::int64_t>(a.value_) == std::get<std::int64_t>(b.value_)
                 : std::get<std::uint64_t>(a.value_) == std::get<std::uint64_t>(b.value_);
    }
    // One signed, one unsigned: std::cmp_equal compares the mathematical values.
    auto& s = a.type() == json_type::signed_integer ? a : b;
    auto& u = a.type() == json_type::signed_integer ? b : a;
    return std::cmp_equal(std::get<std::int64_t>(s.value_), std::get<std::uint64_t>(u.value_));
  }

  static bool double_equals_integer(double d, const json_value& i) noexcept
  {
    // Outside [-2^63, 2^64) no 64-bit integer can be equal, and the casts below would be UB.
    if (!(d >= -9223372036854775808.0 && d < 18446744073709551616.0) || std::trunc(d) != d)
      return false;
    if (d < 0)
      return i.type() == json_type::signed_integer &&
             std::get<std::int64_t>(i.value_) == static_cast<std::int64_t>(d);
    auto u = static_cast<std::uint64_t>(d);
    return i.type() == json_type::unsigned_integer
               ? std::get<std::uint64_t>(i.value_) == u
               : std::cmp_equal(std::get<std::int64_t>(i.value_), u);
  }

  // The alternatives are in json_type order, so index() is the type.
  std::variant<std::nullptr_t, bool, std::int64_t, std::uint64_t, double, std::string, array_type,
               object_type, json_bigint, json_date, json_map, json_set, json_bytes>
      value_;
};

// Defined here, not defaulted in place: comparing the members needs json_value complete.
inline bool operator==(const json_map& a, const json_map& b) noexcept { return a.entries == b.entries; }
inline bool operator==(const json_set& a, const json_set& b) noexcept { return a.elements == b.elements; }

IPC_END_NAMESPACE

#endif // IPC_SERIALIZERS_JSON_VALUE_HPP
