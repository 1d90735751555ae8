// ipc/serializers/binary.hpp - a compact little-endian binary serializer for C++ value types.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_SERIALIZERS_BINARY_HPP
#define IPC_SERIALIZERS_BINARY_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/describe.hpp"
#include "ipc/error.hpp"
#include "ipc/serializer.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE

// How it works: `kind_of<T>` sorts a type into one of a few kinds; `codable<T>` checks that the
// type and all its parts are supported; `min_size<T>` is the smallest encoding of a T, which
// bounds every count read from the wire; `encode_value` and `decode_value` switch on the kind
// with `if constexpr`, so each type gets straight-line code with no virtual calls or tags.
namespace detail::bin {

static_assert(std::endian::native == std::endian::little ||
                std::endian::native == std::endian::big,
              "ipc::binary supports little- and big-endian hosts only");

// How deep values may nest inside a message type. The decoder recurses through the type, not
// through the data, so its depth is fixed at compile time; this bound is what makes recursive
// types (a struct holding a vector of itself) fail the concept instead of the compiler.
inline constexpr std::size_t max_depth = 32;

// ---- recognizing the standard templates --------------------------------------------------

template <class T>
inline constexpr bool is_vector = false;
template <class T, class A>
inline constexpr bool is_vector<std::vector<T, A>> = true;

template <class T>
inline constexpr bool is_std_array = false;
template <class T, std::size_t N>
inline constexpr bool is_std_array<std::array<T, N>> = true;

template <class T>
inline constexpr bool is_ordered_map = false;
template <class K, class V, class C, class A>
inline constexpr bool is_ordered_map<std::map<K, V, C, A>> = true;

template <class T>
inline constexpr bool is_unordered_map = false;
template <class K, class V, class H, class E, class A>
inline constexpr bool is_unordered_map<std::unordered_map<K, V, H, E, A>> = true;

template <class T>
inline constexpr bool is_optional = false;
template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;

template <class T>
inline constexpr bool is_tuple = false;
template <class A, class B>
inline constexpr bool is_tuple<std::pair<A, B>> = true;
template <class... Ts>
inline constexpr bool is_tuple<std::tuple<Ts...>> = true;

// Trivially copyable, but a pointer to memory in the sender's address space: copying their
// bytes to another process would hand it a dangling pointer, so they are refused outright.
template <class T>
inline constexpr bool is_view = false;
template <class C, class Tr>
inline constexpr bool is_view<std::basic_string_view<C, Tr>> = true;
template <class T, std::size_t N>
inline constexpr bool is_view<std::span<T, N>> = true;

// ---- classification ----------------------------------------------------------------------

enum class kind {
  unsupported,
  boolean,
  integer,
  floating,
  enumeration,
  string,
  sequence,      // std::vector
  fixed_array,   // std::array, T[N]
  ordered_map,   // std::map
  unordered_map, // std::unordered_map
  optional,
  tuple,         // std::pair, std::tuple
  described,
  object,        // any other trivially copyable class: its object representation
};

// `E{u}` compiles only for an enumeration with a fixed underlying type ([dcl.init.list]).
// Only those have every value of the underlying type as a valid value; for the others a
// peer's out-of-range number would be undefined behaviour once stored.
template <class E>
concept fixed_enum = std::is_enum_v<E> && requires(std::underlying_type_t<E> u) { E{u}; };

// Every compile-time property below is a variable template computed by a consteval function
// that reads the properties of the parts only through those variables. A variable template is
// computed once per argument list, while a consteval call is evaluated afresh at each use, so
// a type whose parts repeat (std::pair<P, P> nested n deep) costs n steps instead of 2^n.

// The number of bytes a floating type occupies on the wire, or 0 if it is not supported.
// x87's 80-bit long double sits in 12 or 16 bytes of which only the first 10 are the value;
// the rest are padding with unspecified contents, which must neither leak nor break the
// byte-for-byte canonical form, so exactly 10 bytes travel. Formats whose every byte is
// significant (binary32/64/128, double-double) travel whole.
template <class T>
consteval std::size_t floating_width_of()
{
  if constexpr (!std::same_as<T, long double>)
    return sizeof(T);
  else if constexpr (std::numeric_limits<long double>::digits == 64)
    return std::endian::native == std::endian::little && sizeof(long double) >= 10 ? 10 : 0;
  else
    return sizeof(T);
}

template <class T>
inline constexpr std::size_t floating_width = floating_width_of<T>();

template <class T>
consteval kind classify()
{
  if constexpr (std::is_const_v<T> || std::is_volatile_v<T> || std::is_reference_v<T>)
    return kind::unsupported; // nothing to decode into
  else if constexpr (std::same_as<T, bool>)
    return kind::boolean;
  else if constexpr (std::is_integral_v<T>)
    return kind::integer;
  else if constexpr (std::is_floating_point_v<T>)
    return floating_width<T> != 0 ? kind::floating : kind::unsupported;
  else if constexpr (std::is_enum_v<T>)
    return fixed_enum<T> ? kind::enumeration : kind::unsupported;
  else if constexpr (std::same_as<T, std::string>)
    return kind::string;
  else if constexpr (is_vector<T>)
    return kind::sequence;
  else if constexpr (is_std_array<T> || std::is_bounded_array_v<T>)
    return kind::fixed_array;
  else if constexpr (is_ordered_map<T>)
    return kind::ordered_map;
  else if constexpr (is_unordered_map<T>)
    return kind::unordered_map;
  else if constexpr (is_optional<T>)
    return kind::optional;
  else if constexpr (is_tuple<T>)
    return kind::tuple;
  // Only now ask for a description. The question is an argument-dependent lookup, and clang
  // walks the template arguments of the type as a tree: for std::vector<std::vector<...>>
  // (each level also naming std::allocator of the level below) that is exponential in the
  // depth. No standard container can be described anyway, so they are recognized first.
  else if constexpr (described<T>)
    return kind::described; // before `object`: a description wins over the memory layout
  else if constexpr ((std::is_class_v<T> || std::is_union_v<T>) &&
                     std::is_trivially_copyable_v<T> && !is_view<T>)
    return kind::object;
  else
    return kind::unsupported;
}

template <class T>
inline constexpr kind kind_of = classify<T>();

template <class T>
using array_element_t = std::remove_cvref_t<decltype(std::declval<T&>()[0])>;

template <class T>
consteval std::size_t array_extent_of()
{
  if constexpr (std::is_bounded_array_v<T>)
    return std::extent_v<T>;
  else
    return std::tuple_size_v<T>;
}

template <class T>
inline constexpr std::size_t array_extent = array_extent_of<T>();

template <class F>
struct field_member {
  static constexpr bool valid = false;
};
template <class C, class M>
struct field_member<field<C, M>> {
  static constexpr bool valid = true;
  using type = M;
};

template <class T>
using description_t = decltype(fields_of<T>());

// ---- which types are codable, and how small their encoding can be -----------------------

template <class T, std::size_t Depth>
consteval bool check_codable();

// T can be encoded and decoded when it sits @p Depth levels deep inside the message type.
template <class T, std::size_t Depth = 0>
inline constexpr bool codable = check_codable<T, Depth>();

template <class T>
consteval std::size_t compute_min_size();

// The fewest bytes any valid encoding of T occupies (defined for codable types only). A count
// read from the wire is checked as count <= remaining / min_size before anything is
// allocated for it.
template <class T>
inline constexpr std::size_t min_size = compute_min_size<T>();

template <class Tuple, std::size_t Depth, std::size_t... I>
consteval bool elements_codable(std::index_sequence<I...>)
{
  return (codable<std::tuple_element_t<I, Tuple>, Depth + 1> && ...);
}

template <class Field, std::size_t Depth>
consteval bool field_codable()
{
  if constexpr (!field_member<Field>::valid)
    return false; // a hand-written ipc_fields returned something other than ipc::field
  else
    return codable<typename field_member<Field>::type, Depth + 1>;
}

template <class Description, std::size_t Depth, std::size_t... I>
consteval bool fields_codable(std::index_sequence<I...>)
{
  return (field_codable<std::tuple_element_t<I, Description>, Depth>() && ...);
}

template <class T, std::size_t Depth>
consteval bool check_codable()
{
  constexpr kind k = kind_of<T>;
  if constexpr (Depth > max_depth || k == kind::unsupported) {
    return false;
  } else if constexpr (k == kind::sequence) {
    using E = typename T::value_type;
    // A vector of values that encode to nothing (std::tuple<>, an empty described struct)
    // could claim four billion elements in four bytes; the count check needs every element
    // to cost at least one byte, so such vectors are refused at compile time.
    if constexpr (!codable<E, Depth + 1>)
      return false;
    else
      return min_size<E> > 0 && std::default_initializable<E>;
  } else if constexpr (k == kind::fixed_array) {
    return codable<array_element_t<T>, Depth + 1>;
  } else if constexpr (k == kind::ordered_map || k == kind::unordered_map) {
    using K = typename T::key_type;
    using V = typename T::mapped_type;
    if constexpr (!codable<K, Depth + 1> || !codable<V, Depth + 1>)
      return false;
    else
      return min_size<K> + min_size<V> > 0 && std::default_initializable<K> &&
             std::default_initializable<V>;
  } else if constexpr (k == kind::optional) {
    using V = typename T::value_type;
    if constexpr (!codable<V, Depth + 1>)
      return false;
    else
      return std::default_initializable<V>;
  } else if constexpr (k == kind::tuple) {
    return elements_codable<T, Depth>(std::make_index_sequence<std::tuple_size_v<T>>{});
  } else if constexpr (k == kind::described) {
    using D = description_t<T>;
    if constexpr (!requires { std::tuple_size<D>::value; })
      return false;
    else
      return fields_codable<D, Depth>(std::make_index_sequence<std::tuple_size_v<D>>{});
  } else {
    return true; // scalars, strings and objects have no parts to check
  }
}

template <class Tuple, std::size_t... I>
consteval std::size_t elements_min_size(std::index_sequence<I...>)
{
  return (std::size_t{0} + ... + min_size<std::tuple_element_t<I, Tuple>>);
}

template <class Description, std::size_t... I>
consteval std::size_t fields_min_size(std::index_sequence<I...>)
{
  return (std::size_t{0} + ... +
          min_size<typename field_member<std::tuple_element_t<I, Description>>::type>);
}

template <class T>
consteval std::size_t compute_min_size()
{
  constexpr kind k = kind_of<T>;
  if constexpr (k == kind::boolean)
    return 1;
  else if constexpr (k == kind::integer)
    return sizeof(T);
  else if constexpr (k == kind::floating)
    return floating_width<T>;
  else if constexpr (k == kind::enumeration)
    return min_size<std::underlying_type_t<T>>;
  else if constexpr (k == kind::fixed_array)
    return array_extent<T> * min_size<array_element_t<T>>;
  else if constexpr (k == kind::optional)
    return 1;
  else if constexpr (k == kind::tuple)
    return elements_min_size<T>(std::make_index_sequence<std::tuple_size_v<T>>{});
  else if constexpr (k == kind::described)
    return fields_min_size<description_t<T>>(
      std::make_index_sequence<std::tuple_size_v<description_t<T>>>{});
  else if constexpr (k == kind::object)
    return sizeof(T);
  else
    return 4; // string, sequence and maps: the u32 count alone
}

template <class T>
consteval bool check_encodes_as_object();

// True when T's encoding is, on this host, exactly its object representation, so a T (or a
// contiguous run of them) can be written with one memcpy and handed out by `bytes_of`.
template <class T>
inline constexpr bool encodes_as_object = check_encodes_as_object<T>();

template <class T>
consteval bool check_encodes_as_object()
{
  constexpr kind k = kind_of<T>;
  constexpr bool little = std::endian::native == std::endian::little;
  if constexpr (k == kind::boolean || k == kind::integer)
    return little;
  else if constexpr (k == kind::floating)
    return little && floating_width<T> == sizeof(T);
  else if constexpr (k == kind::enumeration)
    return encodes_as_object<std::underlying_type_t<T>>;
  else if constexpr (k == kind::fixed_array)
    return encodes_as_object<array_element_t<T>> &&
           sizeof(T) == array_extent<T> * sizeof(array_element_t<T>);
  else
    return k == kind::object;
}

template <class T>
consteval bool check_decodes_as_object();

// As above, and in addition every byte pattern is a valid T, so it can be read with one
// memcpy. bool is the exception: a byte other than 0 or 1 must be refused, not stored.
template <class T>
inline constexpr bool decodes_as_object = check_decodes_as_object<T>();

template <class T>
consteval bool check_decodes_as_object()
{
  constexpr kind k = kind_of<T>;
  if constexpr (k == kind::boolean)
    return false;
  else if constexpr (k == kind::enumeration)
    return decodes_as_object<std::underlying_type_t<T>>;
  else if constexpr (k == kind::fixed_array)
    return decodes_as_object<array_element_t<T>> && encodes_as_object<T>;
  else
    return encodes_as_object<T>;
}

// ---- primitives ----------------------------------------------------------------------------

// Writes the first floating_width/sizeof bytes of an arithmetic value in little-endian order.
// memcpy, never a store through a cast pointer: the output position has no alignment.
template <class T>
void store(std::byte* p, T value) noexcept
{
  constexpr std::size_t width = std::is_floating_point_v<T> ? floating_width<T> : sizeof(T);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &value, width);
  } else {
    std::byte tmp[sizeof(T)];
    std::memcpy(tmp, &value, sizeof(T));
    std::reverse_copy(tmp, tmp + width, p);
  }
}

template <class T>
T load(const std::byte* p) noexcept
{
  constexpr std::size_t width = std::is_floating_point_v<T> ? floating_width<T> : sizeof(T);
  T value{}; // zero first: a 10-byte long double leaves its padding bytes untouched
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, p, width);
  } else {
    std::byte tmp[sizeof(T)];
    std::reverse_copy(p, p + width, tmp);
    std::memcpy(&value, tmp, sizeof(T));
  }
  return value;
}

// A bounds-checked cursor over the payload. Callers check `remaining()` before `advance`.
class reader {
public:
  explicit reader(std::span<const std::byte> in) noexcept
    : pos_(in.data()), end_(in.data() + in.size())
  {
  }

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - pos_); }

  const std::byte* advance(std::size_t n) noexcept
  {
    IPC_ASSERT(n <= remaining());
    const std::byte* p = pos_;
    pos_ += n;
    return p;
  }

private:
  const std::byte* pos_;
  const std::byte* end_;
};

inline std::error_code write_count(byte_buffer& out, std::size_t n)
{
  if (static_cast<std::uint64_t>(n) > std::numeric_limits<std::uint32_t>::max())
    return errc::unrepresentable_value;
  store(out.extend(4), static_cast<std::uint32_t>(n));
  return {};
}

// Reads a u32 count of elements that each occupy at least @p min_element_size bytes. A count
// the remaining bytes cannot hold is refused here, before anything is allocated for it: four
// billion claimed with ten bytes left is a truncated payload, not a 4 GB allocation.
inline std::error_code read_count(reader& in, std::size_t min_element_size, std::size_t& count)
{
  IPC_ASSERT(min_element_size > 0);
  if (in.remaining() < 4) return errc::truncated_payload;
  const std::uint32_t n = load<std::uint32_t>(in.advance(4));
  if (n > in.remaining() / min_element_size) return errc::truncated_payload;
  count = n;
  return {};
}

// How many elements to reserve before decoding @p count of them. The count is already known
// to fit the input, but an element may be far larger in memory than on the wire (an empty
// std::optional of a big struct costs one byte), so reserving it all up front would let a
// hostile count allocate many times the payload before the first element fails. The up-front
// reservation is therefore capped at the larger of the remaining input and 4 KiB; beyond that
// the container grows as elements actually decode.
template <class E>
std::size_t reservation(std::size_t count, std::size_t remaining) noexcept
{
  return std::min(count, std::max(remaining, std::size_t{4096}) / sizeof(E));
}

// ---- encode / decode -----------------------------------------------------------------------

template <class T>
std::error_code encode_value(const T& value, byte_buffer& out);

template <class T>
std::error_code decode_value(reader& in, T& value);

// Encodes each part in order, stopping at the first error (tuples and described structs).
template <class... Ts>
std::error_code encode_all(byte_buffer& out, const Ts&... parts)
{
  std::error_code ec;
  (void)(!(ec = encode_value(parts, out)) && ...);
  return ec;
}

// Decodes each part in order, stopping at the first error.
template <class... Ts>
std::error_code decode_all(reader& in, Ts&... parts)
{
  std::error_code ec;
  (void)(!(ec = decode_value(in, parts)) && ...);
  return ec;
}

template <class T>
std::error_code encode_value(const T& value, byte_buffer& out)
{
  constexpr kind k = kind_of<T>;
  if constexpr (k == kind::boolean) {
    out.push_back(value ? std::byte{1} : std::byte{0});
  } else if constexpr (k == kind::integer || k == kind::floating) {
    store(out.extend(min_size<T>), value);
  } else if constexpr (k == kind::enumeration) {
    return encode_value(static_cast<std::underlying_type_t<T>>(value), out);
  } else if constexpr (k == kind::string) {
    if (auto ec = write_count(out, value.size())) return ec;
    out.append(value.data(), value.size());
  } else if constexpr (k == kind::sequence) {
    using E = typename T::value_type;
    if (auto ec = write_count(out, value.size())) return ec;
    if constexpr (encodes_as_object<E> && !std::same_as<E, bool>) {
      out.append(value.data(), value.size() * sizeof(E)); // one copy for the whole vector
    } else {
      for (const auto& element : value)
        if (auto ec = encode_value(static_cast<const E&>(element), out)) return ec;
    }
  } else if constexpr (k == kind::fixed_array) {
    if constexpr (encodes_as_object<T>) {
      out.append(&value, sizeof(T));
    } else {
      for (const auto& element : value)
        if (auto ec = encode_value(element, out)) return ec;
    }
  } else if constexpr (k == kind::ordered_map || k == kind::unordered_map) {
    if (auto ec = write_count(out, value.size())) return ec;
    for (const auto& [key, mapped] : value) {
      if (auto ec = encode_value(key, out)) return ec;
      if (auto ec = encode_value(mapped, out)) return ec;
    }
  } else if constexpr (k == kind::optional) {
    out.push_back(value ? std::byte{1} : std::byte{0});
    if (value) return encode_value(*value, out);
  } else if constexpr (k == kind::tuple) {
    return std::apply([&](const auto&... elements) { return encode_all(out, elements...); },
                      value);
  } else if constexpr (k == kind::described) {
    return std::apply([&](const auto&... f) { return encode_all(out, value.*(f.pointer)...); },
                      fields_of<T>());
  } else {
    static_assert(k == kind::object);
    out.append(&value, sizeof(T));
  }
  return {};
}

template <class T>
std::error_code decode_value(reader& in, T& value)
{
  constexpr kind k = kind_of<T>;
  if constexpr (k == kind::boolean) {
    if (in.remaining() < 1) return errc::truncated_payload;
    const std::byte b = *in.advance(1);
    if (b != std::byte{0} && b != std::byte{1}) return errc::type_mismatch;
    value = b == std::byte{1};
  } else if constexpr (k == kind::integer || k == kind::floating) {
    if (in.remaining() < min_size<T>) return errc::truncated_payload;
    value = load<T>(in.advance(min_size<T>));
  } else if constexpr (k == kind::enumeration) {
    std::underlying_type_t<T> underlying{};
    if (auto ec = decode_value(in, underlying)) return ec;
    value = static_cast<T>(underlying); // in range: the underlying type is fixed
  } else if constexpr (k == kind::string) {
    std::size_t n = 0;
    if (auto ec = read_count(in, 1, n)) return ec;
    value.assign(reinterpret_cast<const char*>(in.advance(n)), n);
  } else if constexpr (k == kind::sequence) {
    using E = typename T::value_type;
    std::size_t n = 0;
    if (auto ec = read_count(in, min_size<E>, n)) return ec;
    if constexpr (decodes_as_object<E>) {
      // read_count has already proved that the n * min_size<E> bytes are there.
      static_assert(min_size<E> == sizeof(E));
      value.resize(n);
      if (n != 0) std::memcpy(value.data(), in.advance(n * sizeof(E)), n * sizeof(E));
    } else {
      value.clear();
      value.reserve(reservation<E>(n, in.remaining()));
      for (std::size_t i = 0; i < n; ++i) {
        if constexpr (std::same_as<E, bool>) { // vector<bool> has no bool& to decode into
          bool element = false;
          if (auto ec = decode_value(in, element)) return ec;
          value.push_back(element);
        } else {
          if (auto ec = decode_value(in, value.emplace_back())) return ec;
        }
      }
    }
  } else if constexpr (k == kind::fixed_array) {
    if constexpr (decodes_as_object<T>) {
      if (in.remaining() < sizeof(T)) return errc::truncated_payload;
      std::memcpy(&value, in.advance(sizeof(T)), sizeof(T));
    } else {
      for (auto& element : value)
        if (auto ec = decode_value(in, element)) return ec;
    }
  } else if constexpr (k == kind::ordered_map || k == kind::unordered_map) {
    using K = typename T::key_type;
    using V = typename T::mapped_type;
    std::size_t n = 0;
    if (auto ec = read_count(in, min_size<K> + min_size<V>, n)) return ec;
    value.clear();
    if constexpr (k == kind::unordered_map)
      value.reserve(reservation<typename T::value_type>(n, in.remaining()));
    for (std::size_t i = 0; i < n; ++i) {
      K key{};
      V mapped{};
      if (auto ec = decode_value(in, key)) return ec;
      if (auto ec = decode_value(in, mapped)) return ec;
      if constexpr (k == kind::ordered_map) {
        // The encoder writes a std::map in key order, so the decoder accepts only strictly
        // increasing keys: each value then has one encoding (re-encoding gives the same bytes)
        // and every insertion is at the end, O(1), whatever the peer sends.
        if (!value.empty() && !value.key_comp()(std::prev(value.end())->first, key))
          return errc::type_mismatch;
        value.emplace_hint(value.end(), std::move(key), std::move(mapped));
      } else {
        if (!value.try_emplace(std::move(key), std::move(mapped)).second)
          return errc::type_mismatch; // a duplicate key
      }
    }
  } else if constexpr (k == kind::optional) {
    if (in.remaining() < 1) return errc::truncated_payload;
    const std::byte tag = *in.advance(1);
    if (tag == std::byte{0}) {
      value.reset();
    } else if (tag == std::byte{1}) {
      if (!value) value.emplace();
      return decode_value(in, *value);
    } else {
      return errc::type_mismatch;
    }
  } else if constexpr (k == kind::tuple) {
    return std::apply([&](auto&... elements) { return decode_all(in, elements...); }, value);
  } else if constexpr (k == kind::described) {
    return std::apply([&](const auto&... f) { return decode_all(in, value.*(f.pointer)...); },
                      fields_of<T>());
  } else {
    static_assert(k == kind::object);
    if (in.remaining() < sizeof(T)) return errc::truncated_payload;
    std::memcpy(&value, in.advance(sizeof(T)), sizeof(T));
  }
  return {};
}

} // namespace detail::bin

/// A type `ipc::binary` can encode and decode; see `ipc::binary` for the list.
template <class T>
concept binary_codable = detail::bin::codable<T>;

/**
 * A compact binary format for C++ values: no field names, no type tags, fixed-width
 * little-endian numbers. Both ends must use the same C++ type; nothing on the wire says
 * what it is.
 *
 * Wire format of each supported type (all numbers little-endian, no alignment, no padding):
 *
 * | type                                   | bytes                                           |
 * |----------------------------------------|-------------------------------------------------|
 * | `bool`                                 | 1 byte, 0 or 1                                  |
 * | integer types, `char` types            | `sizeof(T)` bytes, two's complement             |
 * | `float`, `double`                      | `sizeof(T)` bytes, the IEEE 754 bits            |
 * | `long double`                          | 10 bytes on x87 (the 80-bit value), else sizeof |
 * | enumeration with a fixed underlying type (every `enum class`) | as the underlying type   |
 * | `std::string`                          | u32 byte count, then the bytes (any bytes)      |
 * | `std::vector<T>`                       | u32 element count, then the elements            |
 * | `std::array<T, N>`, `T[N]`             | the N elements                                  |
 * | `std::map<K, V>`, `std::unordered_map` | u32 count, then key, value, key, value, ...     |
 * | `std::optional<T>`                     | u8 0 (empty), or u8 1 then the value            |
 * | `std::pair`, `std::tuple`              | the elements in order                           |
 * | a described struct (`IPC_DESCRIBE`)    | the described fields in description order       |
 * | another trivially copyable class       | its `sizeof(T)` bytes of object representation  |
 *
 * Portability: the widths are those of this platform, so use the `<cstdint>` types in
 * messages between processes of different ABIs (`long` and `wchar_t` differ between Windows
 * and Linux). The last row is **same-machine only**: the bytes are the object as it sits in
 * memory (layout, endianness, and whatever its padding bytes hold), and they are not
 * validated, so use it only for types whose every bit pattern is a valid value: no pointers,
 * no `bool` members, no enumerations without a fixed underlying type. Describe the type
 * instead when that does not hold; a description always wins over the memory layout.
 * `std::string_view` and `std::span` are refused (they are pointers). Enumerations without a
 * fixed underlying type are refused too: a peer's value outside their range would be
 * undefined behaviour once stored. Values nest at most `max_depth` levels (each container,
 * optional, tuple or described struct is one level), which rules out recursive types.
 * `std::vector` of a type that encodes to zero bytes (an empty tuple) is refused.
 *
 * Canonical form: whatever `decode` accepts, encoding the decoded value gives back the same
 * bytes (the fuzz target checks this), so a value has one encoding and two peers can compare
 * payloads byte for byte. To that end a `std::map` travels in key order and the decoder
 * accepts only strictly increasing keys. The exception is `std::unordered_map`: it travels in
 * its iteration order, which depends on its history, and the decoder accepts any order but
 * refuses duplicate keys. (Its decoding time, like any hash table's, can be driven up by a
 * peer that sends colliding keys.)
 *
 * Decoding is safe on hostile input: every read is bounds-checked; a count is checked against
 * the bytes left (count times the smallest encoding of one element) before anything is
 * allocated, so memory use is bounded by the payload size times a factor fixed by the type;
 * recursion follows the type, not the data.
 *
 * Speed: vectors and arrays of numbers (and of the trivially copyable classes above) encode
 * and decode with one memcpy, and `bytes_of` lets the channel send a trivially copyable value
 * straight from the caller's memory.
 *
 * Thread safety: stateless; any number of threads may use it at once.
 */
class binary {
public:
  /// The name the channel and a spawned child use to agree on the payload encoding.
  static constexpr std::string_view name = "binary";

  /// How many levels values may nest inside a message type.
  static constexpr std::size_t max_depth = detail::bin::max_depth;

  /**
   * Appends the encoding of @p value to @p out.
   *
   * Errors: `errc::unrepresentable_value` if a string, vector or map has more than
   * 2^32 - 1 elements. On error, @p out is left as it was.
   */
  template <binary_codable T>
  [[nodiscard]] static std::error_code encode(const T& value, byte_buffer& out)
  {
    const std::size_t start = out.size();
    std::error_code ec = detail::bin::encode_value(value, out);
    if (ec) out.resize(start);
    return ec;
  }

  /**
   * Decodes the whole of @p in into @p target, which is overwritten (containers are cleared
   * first; an existing `std::string` or `std::vector` reuses its storage).
   *
   * Errors:
   * - `errc::truncated_payload`: the payload ends inside the value, claims more elements than
   *   it has bytes for, or has bytes left over after it (payload size mismatch);
   * - `errc::type_mismatch`: a `bool` or `std::optional` tag other than 0 or 1, or a map key
   *   out of order or repeated.
   *
   * On error, @p target holds a valid but unspecified value.
   */
  template <binary_codable T>
  [[nodiscard]] static std::error_code decode(std::span<const std::byte> in, T& target)
  {
    detail::bin::reader reader(in);
    if (auto ec = detail::bin::decode_value(reader, target)) return ec;
    if (reader.remaining() != 0) return errc::truncated_payload; // payload size mismatch
    return {};
  }

  /// The bytes of @p value as it sits in memory, which for these types is exactly what
  /// `encode` appends: numbers and enumerations (on a little-endian host, except the 10-byte
  /// long double), arrays of them, and trivially copyable classes that are not described.
  template <binary_codable T>
    requires detail::bin::encodes_as_object<T>
  [[nodiscard]] static std::span<const std::byte> bytes_of(const T& value) noexcept
  {
    return std::as_bytes(std::span<const T, 1>(&value, 1));
  }
};

static_assert(serializer<binary>);

IPC_END_NAMESPACE

#endif // IPC_SERIALIZERS_BINARY_HPP
