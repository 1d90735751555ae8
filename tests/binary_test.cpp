// tests/binary_test.cpp - the binary and raw serializers: formats, round trips, hostile input.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/serializers/binary.hpp"
#include "ipc/serializers/raw.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

// ---- message types -----------------------------------------------------------------------

// All of this file's types and helpers have internal linkage: every suite links into one test
// executable, and another file's `point` must not meet this one's.
namespace {

namespace test_types {

enum class color : std::uint8_t { red, green, blue };
enum class toggle : bool { off, on };
enum legacy : std::int16_t { legacy_a = -1, legacy_b = 300 }; // unscoped, fixed underlying
enum unfixed { unfixed_a, unfixed_b };                          // no fixed underlying type

/// Trivially copyable and not described: travels as its object representation.
struct point {
  std::int32_t x;
  std::int32_t y;
  bool operator==(const point&) const = default;
};

struct inner {
  std::string name;
  std::vector<std::int64_t> values;
  bool enabled = false;
  bool operator==(const inner&) const = default;
};
IPC_DESCRIBE(inner, name, values, enabled)

struct outer {
  std::uint32_t id = 0;
  inner child;
  std::optional<inner> maybe;
  std::map<std::string, inner> by_name;
  std::array<double, 2> range{};
  color hue = color::red;
  point where{};
  std::uint16_t grid[2][3]{};
  std::vector<bool> bits;
  std::pair<std::int8_t, std::string> tagged;
  std::tuple<> nothing;
  bool operator==(const outer&) const = default;
};
IPC_DESCRIBE(outer, id, child, maybe, by_name, range, hue, where, grid, bits, tagged, nothing)

/// Described, though trivially copyable: the description wins, so no bytes_of.
struct described_pod {
  std::int32_t a;
  std::int64_t b;
  bool operator==(const described_pod&) const = default;
};
IPC_DESCRIBE(described_pod, a, b)

/// Not described and not trivially copyable: no serializer can guess its layout.
struct undescribed_with_string {
  int id;
  std::string text;
};

/// Recursive: refused, because the decoder's depth would then be the peer's to choose.
struct node {
  int value = 0;
  std::vector<node> children;
};
IPC_DESCRIBE(node, value, children)

/// Described with no fields: encodes to nothing, so a vector of it is refused.
struct nothing_at_all {
  bool operator==(const nothing_at_all&) const = default;
};
inline auto ipc_fields(ipc::type_tag<nothing_at_all>) { return ipc::fields(); }

struct with_const_member {
  const int fixed = 1;
};
IPC_DESCRIBE(with_const_member, fixed)

} // namespace test_types

namespace user_space {

/// Described by a hand-written `ipc_fields` (not constexpr, not the macro), found by ADL.
struct rect {
  test_types::point origin{};
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<std::string> labels;
  bool operator==(const rect&) const = default;
};

inline auto ipc_fields(ipc::type_tag<rect>)
{
  // Deliberately not in declaration order: the wire follows the description.
  return ipc::fields(ipc::field{"labels", &rect::labels}, ipc::field{"origin", &rect::origin},
                     ipc::field{"width", &rect::width}, ipc::field{"height", &rect::height});
}

} // namespace user_space

using test_types::color;
using test_types::inner;
using test_types::outer;
using test_types::point;

// An optional nested N deep around an int: nested_t<0> is int, nested_t<2> is
// optional<optional<int>>. (Not vector: the name of a deeply nested vector doubles with each
// level, through its allocator argument, and compilers choke on it.)
template <int N>
struct nested {
  using type = std::optional<typename nested<N - 1>::type>;
};
template <>
struct nested<0> {
  using type = int;
};
template <int N>
using nested_t = typename nested<N>::type;

template <int N>
nested_t<N> make_nested(int leaf)
{
  if constexpr (N == 0)
    return leaf;
  else
    return nested_t<N>{make_nested<N - 1>(leaf)};
}

// Records the largest single allocation, to prove a hostile count allocates nothing big.
inline std::size_t largest_allocation = 0;

template <class T>
struct counting_allocator {
  using value_type = T;
  counting_allocator() = default;
  template <class U>
  counting_allocator(const counting_allocator<U>&) noexcept
  {
  }
  T* allocate(std::size_t n)
  {
    largest_allocation = std::max(largest_allocation, n * sizeof(T));
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>{}.deallocate(p, n); }
  template <class U>
  bool operator==(const counting_allocator<U>&) const noexcept
  {
    return true;
  }
};

std::error_code err(ipc::errc e) { return ipc::make_error_code(e); }

// The channel hands decoders a view into its receive buffer with payload_padding bytes after
// it; decoding from such a copy (and never from the encoder's own buffer) mirrors that.
ipc::byte_buffer padded_copy(std::span<const std::byte> bytes)
{
  ipc::byte_buffer copy;
  copy.append(bytes);
  return copy;
}

ipc::byte_buffer bytes(std::initializer_list<unsigned> values)
{
  ipc::byte_buffer buffer;
  for (unsigned v : values) buffer.push_back(static_cast<std::byte>(v));
  return buffer;
}

std::vector<unsigned> hex(std::span<const std::byte> bytes)
{
  std::vector<unsigned> out;
  for (std::byte b : bytes) out.push_back(std::to_integer<unsigned>(b));
  return out;
}

template <class T>
std::vector<unsigned> binary_encoding(const T& value)
{
  ipc::byte_buffer out;
  const std::error_code ec = ipc::binary::encode(value, out);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  return hex(out.span());
}

template <class T>
std::error_code binary_decode(std::span<const std::byte> in, T& target)
{
  const ipc::byte_buffer copy = padded_copy(in);
  return ipc::binary::decode(copy.span(), target);
}

/// Encodes @p value, checks `bytes_of` agrees with `encode` where it exists, decodes the bytes
/// and checks that encoding the result gives the same bytes again (unless @p Canonical is
/// false: an unordered_map's order depends on its history); returns the decoded value.
template <class T, bool Canonical = true>
T binary_round_trip(const T& value)
{
  ipc::byte_buffer out;
  std::error_code ec = ipc::binary::encode(value, out);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  if constexpr (ipc::contiguous_serializer_for<ipc::binary, T>)
    BOOST_TEST(hex(ipc::binary::bytes_of(value)) == hex(out.span()));

  T decoded{};
  ec = binary_decode(out.span(), decoded);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  if constexpr (Canonical) BOOST_TEST(binary_encoding(decoded) == hex(out.span()));
  return decoded;
}

/// Every strict prefix of a valid encoding is a truncated payload: never a crash, never a
/// value. The encoding is prefix-free, so no prefix can be a complete value.
template <class T>
void check_every_prefix_is_truncated(const T& value)
{
  ipc::byte_buffer out;
  BOOST_TEST_REQUIRE(!ipc::binary::encode(value, out));
  for (std::size_t n = 0; n < out.size(); ++n) {
    T decoded{};
    const std::error_code ec = binary_decode(out.span().first(n), decoded);
    BOOST_TEST(ec == err(ipc::errc::truncated_payload), "prefix of " << n << " bytes: " << ec);
  }
}

template <class T, bool Canonical = true>
void check_round_trips(std::initializer_list<T> values)
{
  for (const T& v : values) BOOST_TEST((binary_round_trip<T, Canonical>(v) == v));
}

/// The smallest, the most negative, zero and the largest value of an arithmetic type.
template <class T>
void check_limits()
{
  using limits = std::numeric_limits<T>;
  check_round_trips<T>({limits::min(), limits::lowest(), T{}, limits::max()});
}

outer sample_outer()
{
  outer o;
  o.id = 0xDEADBEEF;
  o.child = {"child", {1, -2, std::numeric_limits<std::int64_t>::min()}, true};
  o.maybe = inner{"", {}, false};
  o.by_name = {{"alpha", {"a", {1}, true}},
               {"beta", {"b", {}, false}},
               {"", {"empty", {2, 3}, true}}};
  o.range = {-0.5, 1e300};
  o.hue = color::blue;
  o.where = {-7, 7};
  o.grid[0][0] = 1;
  o.grid[1][2] = 0xFFFF;
  o.bits = {true, false, true, true};
  o.tagged = {-128, "tag"};
  return o;
}

} // namespace

// ---- compile-time contracts --------------------------------------------------------------

static_assert(ipc::serializer<ipc::binary>);
static_assert(ipc::serializer<ipc::raw>);

// Everything the binary format supports...
static_assert(ipc::serializer_for<ipc::binary, bool>);
static_assert(ipc::serializer_for<ipc::binary, char>);
static_assert(ipc::serializer_for<ipc::binary, char8_t>);
static_assert(ipc::serializer_for<ipc::binary, wchar_t>);
static_assert(ipc::serializer_for<ipc::binary, std::int64_t>);
static_assert(ipc::serializer_for<ipc::binary, double>);
static_assert(ipc::serializer_for<ipc::binary, long double>);
static_assert(ipc::serializer_for<ipc::binary, color>);
static_assert(ipc::serializer_for<ipc::binary, test_types::toggle>);
static_assert(ipc::serializer_for<ipc::binary, test_types::legacy>);
static_assert(ipc::serializer_for<ipc::binary, std::byte>);
static_assert(ipc::serializer_for<ipc::binary, std::string>);
static_assert(ipc::serializer_for<ipc::binary, std::vector<std::string>>);
static_assert(ipc::serializer_for<ipc::binary, std::vector<bool>>);
static_assert(ipc::serializer_for<ipc::binary, std::array<std::string, 3>>);
static_assert(ipc::serializer_for<ipc::binary, std::map<std::string, std::vector<int>>>);
static_assert(ipc::serializer_for<ipc::binary, std::unordered_map<int, std::string>>);
static_assert(ipc::serializer_for<ipc::binary, std::optional<std::optional<int>>>);
static_assert(ipc::serializer_for<ipc::binary, std::pair<int, std::string>>);
static_assert(ipc::serializer_for<ipc::binary, std::tuple<>>);
static_assert(ipc::serializer_for<ipc::binary, std::tuple<int, std::string, inner>>);
static_assert(ipc::serializer_for<ipc::binary, point>);
static_assert(ipc::serializer_for<ipc::binary, inner>);
static_assert(ipc::serializer_for<ipc::binary, outer>);
static_assert(ipc::serializer_for<ipc::binary, user_space::rect>);
static_assert(ipc::serializer_for<ipc::binary, test_types::nothing_at_all>);

// ...and `bytes_of` exactly where the encoding is the object's own memory.
static_assert(ipc::contiguous_serializer_for<ipc::binary, bool>);
static_assert(ipc::contiguous_serializer_for<ipc::binary, std::uint32_t>);
static_assert(ipc::contiguous_serializer_for<ipc::binary, double>);
static_assert(ipc::contiguous_serializer_for<ipc::binary, color>);
static_assert(ipc::contiguous_serializer_for<ipc::binary, std::array<float, 4>>);
static_assert(ipc::contiguous_serializer_for<ipc::binary, point>);
static_assert(ipc::contiguous_serializer_for<ipc::binary, std::array<point, 2>>);
static_assert(!ipc::contiguous_serializer_for<ipc::binary, std::string>);
static_assert(!ipc::contiguous_serializer_for<ipc::binary, std::vector<int>>);
static_assert(!ipc::contiguous_serializer_for<ipc::binary, std::optional<int>>); // tag + value
static_assert(!ipc::contiguous_serializer_for<ipc::binary, std::pair<int, int>>);
static_assert(!ipc::contiguous_serializer_for<ipc::binary, test_types::described_pod>);
static_assert(!ipc::contiguous_serializer_for<ipc::binary, inner>);
static_assert(std::numeric_limits<long double>::digits != 64 ||
              !ipc::contiguous_serializer_for<ipc::binary, long double>); // 10 of 16 bytes

// What the binary format refuses, as a concept failure rather than a wrong wire.
static_assert(!ipc::serializer_for<ipc::binary, test_types::undescribed_with_string>);
static_assert(!ipc::serializer_for<ipc::binary, std::string_view>);
static_assert(!ipc::serializer_for<ipc::binary, std::span<const int>>);
static_assert(!ipc::serializer_for<ipc::binary, int*>);
static_assert(!ipc::serializer_for<ipc::binary, const char*>);
static_assert(!ipc::serializer_for<ipc::binary, test_types::unfixed>);
static_assert(!ipc::serializer_for<ipc::binary, test_types::node>);
static_assert(!ipc::serializer_for<ipc::binary, test_types::with_const_member>);
static_assert(!ipc::serializer_for<ipc::binary, std::vector<std::tuple<>>>);
static_assert(!ipc::serializer_for<ipc::binary, std::vector<test_types::nothing_at_all>>);
static_assert(!ipc::serializer_for<ipc::binary, std::vector<std::string_view>>);
static_assert(
  !ipc::serializer_for<ipc::binary, std::optional<test_types::undescribed_with_string>>);

// The nesting limit is exact: max_depth containers around a leaf, and not one more.
static_assert(ipc::binary::max_depth == 32);
static_assert(ipc::binary_codable<nested_t<32>>);
static_assert(!ipc::binary_codable<nested_t<33>>);

// raw: the byte containers and views, and nothing else.
static_assert(ipc::contiguous_serializer_for<ipc::raw, std::string>);
static_assert(ipc::contiguous_serializer_for<ipc::raw, std::string_view>);
static_assert(ipc::contiguous_serializer_for<ipc::raw, std::vector<std::byte>>);
static_assert(ipc::contiguous_serializer_for<ipc::raw, std::vector<char>>);
static_assert(ipc::contiguous_serializer_for<ipc::raw, std::vector<unsigned char>>);
static_assert(ipc::contiguous_serializer_for<ipc::raw, std::span<const std::byte>>);
static_assert(ipc::contiguous_serializer_for<ipc::raw, std::span<const char>>);
static_assert(ipc::contiguous_serializer_for<ipc::raw, std::span<const unsigned char>>);
static_assert(!ipc::serializer_for<ipc::raw, int>);
static_assert(!ipc::serializer_for<ipc::raw, std::vector<int>>);
static_assert(!ipc::serializer_for<ipc::raw, std::vector<signed char>>);
static_assert(!ipc::serializer_for<ipc::raw, std::wstring>);
static_assert(!ipc::serializer_for<ipc::raw, std::span<std::byte>>);           // not const
static_assert(!ipc::serializer_for<ipc::raw, std::span<const std::byte, 4>>);  // fixed extent
static_assert(!ipc::serializer_for<ipc::raw, inner>);

// ---- binary --------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(binary)

BOOST_AUTO_TEST_CASE(numbers_are_fixed_width_little_endian)
{
  BOOST_TEST(binary_encoding(std::uint32_t{0x01020304}) == (std::vector<unsigned>{4, 3, 2, 1}));
  BOOST_TEST(binary_encoding(std::int16_t{-2}) == (std::vector<unsigned>{0xFE, 0xFF}));
  BOOST_TEST(binary_encoding(std::uint8_t{0xAB}) == (std::vector<unsigned>{0xAB}));
  BOOST_TEST(binary_encoding(std::int64_t{1}) == (std::vector<unsigned>{1, 0, 0, 0, 0, 0, 0, 0}));
  BOOST_TEST(binary_encoding(1.0) == (std::vector<unsigned>{0, 0, 0, 0, 0, 0, 0xF0, 0x3F}));
  BOOST_TEST(binary_encoding(-2.0f) == (std::vector<unsigned>{0, 0, 0, 0xC0}));
  BOOST_TEST(binary_encoding(true) == (std::vector<unsigned>{1}));
  BOOST_TEST(binary_encoding(false) == (std::vector<unsigned>{0}));
  BOOST_TEST(binary_encoding(color::blue) == (std::vector<unsigned>{2}));
  BOOST_TEST(binary_encoding(test_types::legacy_b) == (std::vector<unsigned>{0x2C, 0x01}));
}

BOOST_AUTO_TEST_CASE(containers_have_a_u32_count_and_no_padding)
{
  BOOST_TEST(binary_encoding(std::string("ab")) == (std::vector<unsigned>{2, 0, 0, 0, 'a', 'b'}));
  BOOST_TEST(binary_encoding(std::vector<std::uint16_t>{1, 0x0203}) ==
             (std::vector<unsigned>{2, 0, 0, 0, 1, 0, 3, 2}));
  BOOST_TEST(binary_encoding(std::array<std::uint8_t, 3>{7, 8, 9}) ==
             (std::vector<unsigned>{7, 8, 9}));
  BOOST_TEST(binary_encoding(std::optional<std::uint8_t>{}) == (std::vector<unsigned>{0}));
  BOOST_TEST(binary_encoding(std::optional<std::uint8_t>{5}) == (std::vector<unsigned>{1, 5}));
  BOOST_TEST(binary_encoding(std::pair<std::uint8_t, bool>{3, true}) ==
             (std::vector<unsigned>{3, 1}));
  BOOST_TEST(binary_encoding(std::map<std::uint8_t, std::uint8_t>{{2, 20}, {1, 10}}) ==
             (std::vector<unsigned>{2, 0, 0, 0, 1, 10, 2, 20}));
  BOOST_TEST(binary_encoding(std::tuple<>{}).empty());
  BOOST_TEST(binary_encoding(test_types::nothing_at_all{}).empty());
}

BOOST_AUTO_TEST_CASE(described_fields_travel_in_description_order_without_names)
{
  const test_types::described_pod pod{0x11, 0x22};
  BOOST_TEST(binary_encoding(pod) ==
             (std::vector<unsigned>{0x11, 0, 0, 0, 0x22, 0, 0, 0, 0, 0, 0, 0})); // no padding

  const user_space::rect r{{1, 2}, 3, 4, {"x"}};
  BOOST_TEST(binary_encoding(r) == (std::vector<unsigned>{1, 0, 0, 0, 1, 0, 0, 0, 'x', // labels
                                                           1, 0, 0, 0, 2, 0, 0, 0,     // origin
                                                           3, 0, 0, 0, 4, 0, 0, 0}));  // sizes
}

BOOST_AUTO_TEST_CASE(every_integer_type_round_trips_its_extremes)
{
  check_limits<bool>();
  check_limits<char>();
  check_limits<signed char>();
  check_limits<unsigned char>();
  check_limits<char8_t>();
  check_limits<char16_t>();
  check_limits<char32_t>();
  check_limits<wchar_t>();
  check_limits<short>();
  check_limits<unsigned short>();
  check_limits<int>();
  check_limits<unsigned>();
  check_limits<long>();
  check_limits<unsigned long>();
  check_limits<long long>();
  check_limits<unsigned long long>();
  check_round_trips<char>({'a', '\0'});
  check_round_trips<int>({-1, 1});
  check_round_trips<std::uint64_t>({0x0102030405060708});
}

BOOST_AUTO_TEST_CASE(floating_values_round_trip_bit_for_bit)
{
  check_limits<float>();
  check_limits<double>();
  check_limits<long double>();
  check_round_trips<float>({1.5f, std::numeric_limits<float>::infinity()});
  check_round_trips<double>({-1e-300, -std::numeric_limits<double>::infinity()});
  check_round_trips<long double>({-1.25L, std::numeric_limits<long double>::denorm_min()});

  // NaN payloads and the sign of zero survive: the bits travel, not the value.
  const double quiet = std::bit_cast<double>(std::uint64_t{0x7FF8'0000'0000'1234});
  BOOST_TEST(std::bit_cast<std::uint64_t>(binary_round_trip(quiet)) == 0x7FF8'0000'0000'1234u);
  BOOST_TEST(std::signbit(binary_round_trip(-0.0)));
  BOOST_TEST(std::isnan(binary_round_trip(std::numeric_limits<float>::quiet_NaN())));
}

BOOST_AUTO_TEST_CASE(an_x87_long_double_travels_as_its_ten_significant_bytes)
{
  if constexpr (std::numeric_limits<long double>::digits == 64) {
    BOOST_TEST(binary_encoding(1.0L).size() == 10u);
    BOOST_TEST(binary_encoding(std::vector<long double>{1.0L, 2.0L}).size() == 24u);
    BOOST_TEST((binary_round_trip(std::vector<long double>{1.0L, -3.5L}) ==
                std::vector<long double>{1.0L, -3.5L}));
  } else {
    BOOST_TEST(binary_encoding(1.0L).size() == sizeof(long double));
  }
}

BOOST_AUTO_TEST_CASE(enumerations_round_trip_through_their_underlying_type)
{
  check_round_trips<color>({color::red, color::blue, static_cast<color>(200)});
  check_round_trips<test_types::toggle>({test_types::toggle::off, test_types::toggle::on});
  check_round_trips<test_types::legacy>({test_types::legacy_a, test_types::legacy_b});
  check_round_trips<std::byte>({std::byte{0}, std::byte{0xFF}});
}

BOOST_AUTO_TEST_CASE(strings_round_trip_any_bytes)
{
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  check_round_trips<std::string>({"", "hello", std::string("nul\0inside", 10), "\xFF\xFE not utf-8",
                                  all_bytes, std::string(100'000, 'x')});
}

BOOST_AUTO_TEST_CASE(vectors_round_trip_through_fast_and_element_wise_paths)
{
  check_round_trips<std::vector<int>>({{}, {1}, {1, -2, 3, std::numeric_limits<int>::min()}});
  check_round_trips<std::vector<double>>({{}, {0.5, -1e10}});
  check_round_trips<std::vector<std::uint8_t>>({{}, {0, 255, 7}});
  check_round_trips<std::vector<std::byte>>({{std::byte{1}, std::byte{2}}});
  check_round_trips<std::vector<bool>>({{}, {true}, {true, false, false, true, true}});
  check_round_trips<std::vector<color>>({{color::green, color::red}});
  check_round_trips<std::vector<point>>({{{1, 2}, {-3, -4}}});
  check_round_trips<std::vector<std::array<float, 3>>>({{{1, 2, 3}, {4, 5, 6}}});
  check_round_trips<std::vector<std::string>>({{}, {""}, {"a", "", "bcd"}});
  check_round_trips<std::vector<std::vector<int>>>({{{}, {1}, {2, 3}}});
  check_round_trips<std::vector<std::optional<int>>>({{std::nullopt, 4, std::nullopt}});
  check_round_trips<std::vector<inner>>({{{"x", {1}, true}, {"", {}, false}}});

  std::vector<std::uint32_t> big(100'000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint32_t>(i * 2654435761u);
  BOOST_TEST((binary_round_trip(big) == big));
}

BOOST_AUTO_TEST_CASE(arrays_round_trip_with_no_count)
{
  check_round_trips<std::array<int, 4>>({{1, 2, 3, 4}});
  check_round_trips<std::array<bool, 3>>({{true, false, true}});
  check_round_trips<std::array<std::string, 2>>({{"a", "bc"}});
  check_round_trips<std::array<std::array<std::int16_t, 2>, 2>>({{{{1, 2}, {3, 4}}}});
  check_round_trips<std::array<int, 0>>({{}});
}

BOOST_AUTO_TEST_CASE(maps_round_trip)
{
  check_round_trips<std::map<std::string, int>>({{}, {{"a", 1}, {"b", -1}, {"", 0}}});
  check_round_trips<std::map<int, std::vector<std::string>>>({{{3, {"x"}}, {-1, {}}}});
  check_round_trips<std::map<int, int, std::greater<>>>({{{1, 1}, {2, 2}, {3, 3}}});
  check_round_trips<std::unordered_map<int, std::string>, false>(
    {{}, {{1, "one"}, {2, "two"}, {3, ""}}, {{10, "a"}, {20, "b"}, {30, "c"}, {40, "d"}}});
  check_round_trips<std::unordered_map<std::string, std::map<int, bool>>, false>(
    {{{"k", {{1, true}}}, {"l", {}}}});
}

BOOST_AUTO_TEST_CASE(optionals_pairs_and_tuples_round_trip)
{
  check_round_trips<std::optional<int>>({std::nullopt, 0, 42});
  check_round_trips<std::optional<std::string>>({std::nullopt, "", "s"});
  check_round_trips<std::optional<std::optional<int>>>(
    {std::nullopt, std::optional<int>{}, std::optional<int>{7}});
  check_round_trips<std::pair<int, std::string>>({{1, "one"}});
  check_round_trips<std::tuple<bool, double, std::vector<int>, inner>>(
    {{true, 2.5, {1, 2}, inner{"in", {9}, true}}});
  check_round_trips<std::tuple<>>({{}});
}

BOOST_AUTO_TEST_CASE(the_deepest_nesting_allowed_round_trips)
{
  const auto deep = make_nested<ipc::binary::max_depth>(7);
  const std::vector<unsigned> encoding = binary_encoding(deep);
  BOOST_TEST(encoding.size() == ipc::binary::max_depth + 4);
  BOOST_TEST((binary_round_trip(deep) == deep));
  check_every_prefix_is_truncated(deep);
}

BOOST_AUTO_TEST_CASE(described_nested_aggregates_round_trip)
{
  const outer o = sample_outer();
  BOOST_TEST((binary_round_trip(o) == o));
  BOOST_TEST((binary_round_trip(outer{}) == outer{}));

  const user_space::rect r{{-1, 1}, 640, 480, {"top", "", "left"}};
  BOOST_TEST((binary_round_trip(r) == r));
  check_round_trips<test_types::described_pod>({{-1, std::numeric_limits<std::int64_t>::max()}});
}

BOOST_AUTO_TEST_CASE(trivially_copyable_classes_travel_as_their_bytes)
{
  const point p{0x01020304, -1};
  BOOST_TEST((binary_round_trip(p) == p));
  BOOST_TEST(binary_encoding(p).size() == sizeof(point));
  const auto view = ipc::binary::bytes_of(p);
  BOOST_TEST(static_cast<const void*>(view.data()) == static_cast<const void*>(&p));
  BOOST_TEST(view.size() == sizeof(point));
}

BOOST_AUTO_TEST_CASE(bytes_of_points_at_the_value_itself)
{
  const std::uint64_t n = 0x0807060504030201;
  const auto view = ipc::binary::bytes_of(n);
  BOOST_TEST(static_cast<const void*>(view.data()) == static_cast<const void*>(&n));
  BOOST_TEST(hex(view) == binary_encoding(n));

  const std::array<std::int32_t, 3> a{1, 2, 3};
  BOOST_TEST(hex(ipc::binary::bytes_of(a)) == binary_encoding(a));
}

BOOST_AUTO_TEST_CASE(decoding_replaces_the_previous_contents_of_the_target)
{
  std::vector<std::string> strings{"old", "older", "oldest"};
  ipc::byte_buffer out;
  BOOST_TEST_REQUIRE(!ipc::binary::encode(std::vector<std::string>{"new"}, out));
  BOOST_TEST_REQUIRE(!binary_decode(out.span(), strings));
  BOOST_TEST((strings == std::vector<std::string>{"new"}));

  std::map<int, int> map{{5, 5}, {9, 9}};
  out.clear();
  BOOST_TEST_REQUIRE(!ipc::binary::encode(std::map<int, int>{{1, 1}}, out));
  BOOST_TEST_REQUIRE(!binary_decode(out.span(), map));
  BOOST_TEST((map == std::map<int, int>{{1, 1}}));

  std::optional<int> maybe = 3;
  out.clear();
  BOOST_TEST_REQUIRE(!ipc::binary::encode(std::optional<int>{}, out));
  BOOST_TEST_REQUIRE(!binary_decode(out.span(), maybe));
  BOOST_TEST(!maybe.has_value());
}

BOOST_AUTO_TEST_CASE(encoding_appends_to_what_the_buffer_already_holds)
{
  ipc::byte_buffer out;
  out.push_back(std::byte{0x55});
  BOOST_TEST_REQUIRE(!ipc::binary::encode(std::uint16_t{0x0102}, out));
  BOOST_TEST(hex(out.span()) == (std::vector<unsigned>{0x55, 2, 1}));
}

BOOST_AUTO_TEST_CASE(unaligned_input_is_read_without_unaligned_loads)
{
  // Built with -fsanitize=undefined this would report a misaligned load if the decoder ever
  // dereferenced a cast pointer instead of copying.
  const std::vector<std::uint64_t> values{1, 2, 3};
  using message = std::tuple<std::uint8_t, std::uint64_t, double, std::vector<std::uint64_t>>;
  const message t{1, 2, 3.0, values};
  ipc::byte_buffer out;
  out.push_back(std::byte{0});
  BOOST_TEST_REQUIRE(!ipc::binary::encode(t, out));
  const ipc::byte_buffer in = padded_copy(out.span());
  message decoded{};
  BOOST_TEST_REQUIRE(!ipc::binary::decode(in.span().subspan(1), decoded));
  BOOST_TEST((decoded == t));
}

BOOST_AUTO_TEST_CASE(every_truncation_of_a_valid_payload_is_an_error)
{
  check_every_prefix_is_truncated(sample_outer());
  check_every_prefix_is_truncated(user_space::rect{{1, 2}, 3, 4, {"a", "bc"}});
  check_every_prefix_is_truncated(std::vector<std::uint32_t>{1, 2, 3});
  check_every_prefix_is_truncated(std::vector<bool>{true, false});
  check_every_prefix_is_truncated(std::unordered_map<int, std::string>{{1, "a"}, {2, "b"}});
  check_every_prefix_is_truncated(std::optional<std::string>{"x"});
  check_every_prefix_is_truncated(point{1, 2});
  check_every_prefix_is_truncated(1.0L);
}

BOOST_AUTO_TEST_CASE(empty_input_is_a_truncated_payload_for_anything_with_bytes)
{
  const ipc::byte_buffer empty;
  int i = 0;
  BOOST_TEST(ipc::binary::decode(empty.span(), i) == err(ipc::errc::truncated_payload));
  std::string s;
  BOOST_TEST(ipc::binary::decode(empty.span(), s) == err(ipc::errc::truncated_payload));
  std::tuple<> nothing;
  BOOST_TEST(!ipc::binary::decode(empty.span(), nothing)); // zero bytes is its whole encoding
}

BOOST_AUTO_TEST_CASE(trailing_bytes_are_a_payload_size_mismatch)
{
  const ipc::byte_buffer int_and_more = bytes({1, 0, 0, 0, 9});
  std::int32_t i = 0;
  BOOST_TEST(ipc::binary::decode(int_and_more.span(), i) == err(ipc::errc::truncated_payload));

  const ipc::byte_buffer string_and_more = bytes({1, 0, 0, 0, 'a', 'b'});
  std::string s;
  BOOST_TEST(ipc::binary::decode(string_and_more.span(), s) == err(ipc::errc::truncated_payload));

  ipc::byte_buffer outer_and_more;
  BOOST_TEST_REQUIRE(!ipc::binary::encode(sample_outer(), outer_and_more));
  outer_and_more.push_back(std::byte{0});
  outer o;
  BOOST_TEST(binary_decode(outer_and_more.span(), o) == err(ipc::errc::truncated_payload));
}

BOOST_AUTO_TEST_CASE(huge_claimed_counts_are_refused_before_any_allocation)
{
  // Four billion elements claimed, ten bytes present.
  const ipc::byte_buffer huge = bytes({0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});

  largest_allocation = 0;
  std::vector<std::uint64_t, counting_allocator<std::uint64_t>> numbers;
  BOOST_TEST(ipc::binary::decode(huge.span(), numbers) == err(ipc::errc::truncated_payload));
  BOOST_TEST(largest_allocation == 0u);

  std::vector<std::string, counting_allocator<std::string>> strings;
  BOOST_TEST(ipc::binary::decode(huge.span(), strings) == err(ipc::errc::truncated_payload));
  BOOST_TEST(largest_allocation == 0u);

  std::string s;
  BOOST_TEST(ipc::binary::decode(huge.span(), s) == err(ipc::errc::truncated_payload));
  std::map<std::string, std::string> map;
  BOOST_TEST(ipc::binary::decode(huge.span(), map) == err(ipc::errc::truncated_payload));
  std::unordered_map<std::uint8_t, std::uint8_t> umap;
  BOOST_TEST(ipc::binary::decode(huge.span(), umap) == err(ipc::errc::truncated_payload));
  std::vector<bool> bits;
  BOOST_TEST(ipc::binary::decode(huge.span(), bits) == err(ipc::errc::truncated_payload));

  // A count that is one element too many for the bytes present.
  const ipc::byte_buffer three_for_two = bytes({3, 0, 0, 0, 1, 0, 2, 0});
  std::vector<std::uint16_t> shorts;
  BOOST_TEST(ipc::binary::decode(three_for_two.span(), shorts) ==
             err(ipc::errc::truncated_payload));
}

BOOST_AUTO_TEST_CASE(elements_larger_in_memory_than_on_the_wire_cannot_inflate_a_reservation)
{
  // Each element is one byte on the wire when empty but 4 KiB in memory: a count of 100000
  // backed by 100000 bad tags must fail at the first element without reserving 400 MB.
  using big = std::optional<std::array<double, 512>>;
  ipc::byte_buffer in = bytes({0xA0, 0x86, 0x01, 0x00}); // 100000
  std::memset(in.extend(100'000), 0x02, 100'000);

  largest_allocation = 0;
  std::vector<big, counting_allocator<big>> values;
  BOOST_TEST(ipc::binary::decode(in.span(), values) == err(ipc::errc::type_mismatch));
  BOOST_TEST(largest_allocation <= 100'000u);
}

BOOST_AUTO_TEST_CASE(a_bool_byte_other_than_zero_or_one_is_a_type_mismatch)
{
  for (unsigned b : {2u, 0x80u, 0xFFu}) {
    const ipc::byte_buffer in = bytes({b});
    bool value = false;
    BOOST_TEST(ipc::binary::decode(in.span(), value) == err(ipc::errc::type_mismatch));
    test_types::toggle t{};
    BOOST_TEST(ipc::binary::decode(in.span(), t) == err(ipc::errc::type_mismatch));
  }
  const ipc::byte_buffer in_vector = bytes({2, 0, 0, 0, 1, 2});
  std::vector<bool> bits;
  BOOST_TEST(ipc::binary::decode(in_vector.span(), bits) == err(ipc::errc::type_mismatch));
  std::array<bool, 2> fixed{};
  const ipc::byte_buffer in_array = bytes({0, 3});
  BOOST_TEST(ipc::binary::decode(in_array.span(), fixed) == err(ipc::errc::type_mismatch));
}

BOOST_AUTO_TEST_CASE(an_optional_tag_other_than_zero_or_one_is_a_type_mismatch)
{
  for (unsigned tag : {2u, 0xFFu}) {
    const ipc::byte_buffer in = bytes({tag, 0, 0, 0, 0});
    std::optional<std::int32_t> value;
    BOOST_TEST(ipc::binary::decode(in.span(), value) == err(ipc::errc::type_mismatch));
  }
}

BOOST_AUTO_TEST_CASE(map_keys_out_of_order_or_repeated_are_a_type_mismatch)
{
  std::map<std::uint8_t, std::uint8_t> map;
  const ipc::byte_buffer descending = bytes({2, 0, 0, 0, 2, 20, 1, 10});
  BOOST_TEST(ipc::binary::decode(descending.span(), map) == err(ipc::errc::type_mismatch));
  const ipc::byte_buffer repeated = bytes({2, 0, 0, 0, 1, 10, 1, 10});
  BOOST_TEST(ipc::binary::decode(repeated.span(), map) == err(ipc::errc::type_mismatch));

  std::unordered_map<std::uint8_t, std::uint8_t> umap;
  BOOST_TEST(ipc::binary::decode(repeated.span(), umap) == err(ipc::errc::type_mismatch));
  BOOST_TEST(!ipc::binary::decode(descending.span(), umap)); // any order is fine unordered
  BOOST_TEST(umap.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_successful_decode_of_altered_bytes_re_encodes_to_those_bytes)
{
  // The format is canonical: whatever the decoder accepts, the encoder reproduces exactly.
  // Altering each byte of a valid payload in a few ways must give an error or such a value.
  ipc::byte_buffer valid;
  BOOST_TEST_REQUIRE(!ipc::binary::encode(sample_outer(), valid));
  int accepted = 0;
  for (std::size_t i = 0; i < valid.size(); ++i) {
    for (unsigned replacement : {0x00u, 0x01u, 0x02u, 0x7Fu, 0x80u, 0xFFu}) {
      ipc::byte_buffer altered = padded_copy(valid.span());
      altered.data()[i] = static_cast<std::byte>(replacement);
      outer decoded;
      if (ipc::binary::decode(altered.span(), decoded)) continue;
      ++accepted;
      BOOST_TEST(binary_encoding(decoded) == hex(altered.span()));
    }
  }
  BOOST_TEST(accepted > 0);
}

BOOST_AUTO_TEST_CASE(a_count_beyond_32_bits_is_unrepresentable)
{
  // A real 4 GiB string is too much for a unit test; the count writer is where it is refused.
  ipc::byte_buffer out;
  if constexpr (sizeof(std::size_t) > 4) {
    BOOST_TEST(ipc::detail::bin::write_count(out, std::size_t{1} << 32) ==
               err(ipc::errc::unrepresentable_value));
    BOOST_TEST(out.empty());
  }
  BOOST_TEST(!ipc::detail::bin::write_count(out, 0xFFFFFFFFu));
  BOOST_TEST(hex(out.span()) == (std::vector<unsigned>{0xFF, 0xFF, 0xFF, 0xFF}));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- raw -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(raw)

namespace {

template <class T>
std::vector<unsigned> raw_encoding(const T& value)
{
  ipc::byte_buffer out;
  BOOST_TEST_REQUIRE(!ipc::raw::encode(value, out));
  BOOST_TEST(hex(ipc::raw::bytes_of(value)) == hex(out.span()));
  return hex(out.span());
}

} // namespace

BOOST_AUTO_TEST_CASE(every_source_type_sends_its_bytes_unchanged)
{
  const std::vector<unsigned> expected{'a', 0, 0xFF};
  const std::string s("a\0\xFF", 3);
  const std::vector<char> chars(s.begin(), s.end());
  const std::vector<unsigned char> uchars(s.begin(), s.end());
  std::vector<std::byte> bytes_vector;
  for (char c : s) bytes_vector.push_back(static_cast<std::byte>(c));

  BOOST_TEST(raw_encoding(s) == expected);
  BOOST_TEST(raw_encoding(std::string_view(s)) == expected);
  BOOST_TEST(raw_encoding(chars) == expected);
  BOOST_TEST(raw_encoding(uchars) == expected);
  BOOST_TEST(raw_encoding(bytes_vector) == expected);
  BOOST_TEST(raw_encoding(std::span<const char>(chars)) == expected);
  BOOST_TEST(raw_encoding(std::span<const unsigned char>(uchars)) == expected);
  BOOST_TEST(raw_encoding(std::span<const std::byte>(bytes_vector)) == expected);
  BOOST_TEST(raw_encoding(std::string()).empty());
}

BOOST_AUTO_TEST_CASE(bytes_of_points_into_the_callers_memory)
{
  const std::string s = "zero copy";
  BOOST_TEST(static_cast<const void*>(ipc::raw::bytes_of(s).data()) ==
             static_cast<const void*>(s.data()));
  const std::vector<std::byte> v(10);
  BOOST_TEST(static_cast<const void*>(ipc::raw::bytes_of(v).data()) ==
             static_cast<const void*>(v.data()));
}

BOOST_AUTO_TEST_CASE(owning_targets_receive_a_copy)
{
  const ipc::byte_buffer in = bytes({'h', 'i', 0, 0x80});
  std::string s = "previous contents";
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), s));
  BOOST_TEST(s == std::string("hi\0\x80", 4));
  BOOST_TEST(static_cast<const void*>(s.data()) != static_cast<const void*>(in.data()));

  std::vector<std::byte> b;
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), b));
  BOOST_TEST(hex(b) == hex(in.span()));
  std::vector<char> c{'x'};
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), c));
  BOOST_TEST(std::string(c.begin(), c.end()) == s);
  std::vector<unsigned char> u;
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), u));
  BOOST_TEST(u.size() == 4u);
  BOOST_TEST(u[3] == 0x80u);
}

BOOST_AUTO_TEST_CASE(view_targets_point_into_the_input)
{
  const ipc::byte_buffer in = bytes({'v', 'i', 'e', 'w'});
  const void* start = in.data();

  std::string_view sv;
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), sv));
  BOOST_TEST(sv == "view");
  BOOST_TEST(static_cast<const void*>(sv.data()) == start);

  std::span<const std::byte> bytes_view;
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), bytes_view));
  BOOST_TEST(bytes_view.size() == 4u);
  BOOST_TEST(static_cast<const void*>(bytes_view.data()) == start);

  std::span<const char> chars_view;
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), chars_view));
  BOOST_TEST(static_cast<const void*>(chars_view.data()) == start);
  BOOST_TEST(chars_view.size() == 4u);

  std::span<const unsigned char> uchars_view;
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), uchars_view));
  BOOST_TEST(static_cast<const void*>(uchars_view.data()) == start);
}

BOOST_AUTO_TEST_CASE(an_empty_payload_decodes_to_empty_values)
{
  const ipc::byte_buffer empty;
  std::string s = "x";
  BOOST_TEST(!ipc::raw::decode(empty.span(), s));
  BOOST_TEST(s.empty());
  std::string_view sv = "x";
  BOOST_TEST(!ipc::raw::decode(empty.span(), sv));
  BOOST_TEST(sv.empty());
  std::vector<std::byte> v(3);
  BOOST_TEST(!ipc::raw::decode(empty.span(), v));
  BOOST_TEST(v.empty());
}

BOOST_AUTO_TEST_CASE(all_byte_values_round_trip)
{
  std::vector<unsigned char> all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<unsigned char>(i));
  ipc::byte_buffer out;
  BOOST_TEST_REQUIRE(!ipc::raw::encode(all, out));
  const ipc::byte_buffer in = padded_copy(out.span());
  std::vector<unsigned char> back;
  BOOST_TEST_REQUIRE(!ipc::raw::decode(in.span(), back));
  BOOST_TEST((back == all));
}

BOOST_AUTO_TEST_SUITE_END()
