// ipc/describe.hpp - describe an aggregate's fields once, for every serializer.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_DESCRIBE_HPP
#define IPC_DESCRIBE_HPP

#include "ipc/platform/config.hpp"

#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

IPC_BEGIN_NAMESPACE

/// An empty tag that carries a type; the argument of the `ipc_fields` customization point.
/// Because `T` is a template argument, argument-dependent lookup finds an `ipc_fields`
/// declared in `T`'s own namespace: users never open `namespace ipc` to describe a type.
template <class T>
struct type_tag {
  using type = T;
};

/// One described data member: its name (the JSON key) and a pointer to it.
template <class Class, class Member>
struct field {
  std::string_view name;
  Member Class::*pointer;
};

template <class Class, class Member>
field(std::string_view, Member Class::*) -> field<Class, Member>;

/// Builds a description: `return ipc::fields(ipc::field{"id", &order::id}, ...);`
template <class... Fields>
constexpr auto fields(Fields... f) noexcept
{
  return std::tuple<Fields...>{f...};
}

namespace detail {

// Poison pill: ordinary lookup from inside ipc::detail must find nothing usable, so that only
// the user's declaration (found by ADL through type_tag<T>) is a candidate.
void ipc_fields() = delete;

template <class T>
concept has_ipc_fields = requires { ipc_fields(type_tag<T>{}); };

} // namespace detail

/// A type the user described with `ipc_fields` (or `IPC_DESCRIBE`).
template <class T>
concept described = detail::has_ipc_fields<std::remove_cvref_t<T>>;

/// The description of @p T: a tuple of `ipc::field`.
template <described T>
constexpr auto fields_of() noexcept
{
  using detail::ipc_fields;
  return ipc_fields(type_tag<std::remove_cvref_t<T>>{});
}

/// Calls @p f(field) for each described field of @p T, in declaration order.
template <described T, class F>
constexpr void for_each_field(F&& f)
{
  std::apply([&](const auto&... fs) { (f(fs), ...); }, fields_of<T>());
}

IPC_END_NAMESPACE

// IPC_DESCRIBE(Type, member, ...) declares `ipc_fields` for Type; write it in Type's namespace,
// after the type. Field names are the member names. Up to 32 members.
#define IPC_DETAIL_FIELD(Type, m) ::ipc::field{#m, &Type::m}
#define IPC_DETAIL_EXPAND(x) x
#define IPC_DETAIL_F1(T, a) IPC_DETAIL_FIELD(T, a)
#define IPC_DETAIL_F2(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F1(T, __VA_ARGS__))
#define IPC_DETAIL_F3(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F2(T, __VA_ARGS__))
#define IPC_DETAIL_F4(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F3(T, __VA_ARGS__))
#define IPC_DETAIL_F5(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F4(T, __VA_ARGS__))
#define IPC_DETAIL_F6(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F5(T, __VA_ARGS__))
#define IPC_DETAIL_F7(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F6(T, __VA_ARGS__))
#define IPC_DETAIL_F8(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F7(T, __VA_ARGS__))
#define IPC_DETAIL_F9(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F8(T, __VA_ARGS__))
#define IPC_DETAIL_F10(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F9(T, __VA_ARGS__))
#define IPC_DETAIL_F11(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F10(T, __VA_ARGS__))
#define IPC_DETAIL_F12(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F11(T, __VA_ARGS__))
#define IPC_DETAIL_F13(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F12(T, __VA_ARGS__))
#define IPC_DETAIL_F14(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F13(T, __VA_ARGS__))
#define IPC_DETAIL_F15(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F14(T, __VA_ARGS__))
#define IPC_DETAIL_F16(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F15(T, __VA_ARGS__))
#define IPC_DETAIL_F17(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F16(T, __VA_ARGS__))
#define IPC_DETAIL_F18(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F17(T, __VA_ARGS__))
#define IPC_DETAIL_F19(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F18(T, __VA_ARGS__))
#define IPC_DETAIL_F20(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F19(T, __VA_ARGS__))
#define IPC_DETAIL_F21(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F20(T, __VA_ARGS__))
#define IPC_DETAIL_F22(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F21(T, __VA_ARGS__))
#define IPC_DETAIL_F23(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F22(T, __VA_ARGS__))
#define IPC_DETAIL_F24(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F23(T, __VA_ARGS__))
#define IPC_DETAIL_F25(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F24(T, __VA_ARGS__))
#define IPC_DETAIL_F26(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F25(T, __VA_ARGS__))
#define IPC_DETAIL_F27(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F26(T, __VA_ARGS__))
#define IPC_DETAIL_F28(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F27(T, __VA_ARGS__))
#define IPC_DETAIL_F29(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F28(T, __VA_ARGS__))
#define IPC_DETAIL_F30(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F29(T, __VA_ARGS__))
#define IPC_DETAIL_F31(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F30(T, __VA_ARGS__))
#define IPC_DETAIL_F32(T, a, ...) IPC_DETAIL_FIELD(T, a), IPC_DETAIL_EXPAND(IPC_DETAIL_F31(T, __VA_ARGS__))
#define IPC_DETAIL_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, \
                        _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, \
                        N, ...)                                                                     \
  N
#define IPC_DETAIL_FIELDS(T, ...)                                                                  \
  IPC_DETAIL_EXPAND(IPC_DETAIL_PICK(__VA_ARGS__, IPC_DETAIL_F32, IPC_DETAIL_F31, IPC_DETAIL_F30,   \
                                    IPC_DETAIL_F29, IPC_DETAIL_F28, IPC_DETAIL_F27, IPC_DETAIL_F26, \
                                    IPC_DETAIL_F25, IPC_DETAIL_F24, IPC_DETAIL_F23, IPC_DETAIL_F22, \
                                    IPC_DETAIL_F21, IPC_DETAIL_F20, IPC_DETAIL_F19, IPC_DETAIL_F18, \
                                    IPC_DETAIL_F17, IPC_DETAIL_F16, IPC_DETAIL_F15, IPC_DETAIL_F14, \
                                    IPC_DETAIL_F13, IPC_DETAIL_F12, IPC_DETAIL_F11, IPC_DETAIL_F10, \
                                    IPC_DETAIL_F9, IPC_DETAIL_F8, IPC_DETAIL_F7, IPC_DETAIL_F6,     \
                                    IPC_DETAIL_F5, IPC_DETAIL_F4, IPC_DETAIL_F3, IPC_DETAIL_F2,     \
                                    IPC_DETAIL_F1)(T, __VA_ARGS__))

/// Describes the listed members of `Type` for every serializer:
/// `struct order { int id; std::string item; }; IPC_DESCRIBE(order, id, item)`.
#define IPC_DESCRIBE(Type, ...)                                               \
  [[maybe_unused]] inline constexpr auto ipc_fields(::ipc::type_tag<Type>) \
  {                                                                          \
    return ::ipc::fields(IPC_DETAIL_FIELDS(Type, __VA_ARGS__));             \
  }

#endif // IPC_DESCRIBE_HPP
