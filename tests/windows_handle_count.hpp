// tests/windows_handle_count.hpp - counts this process's open handles, for the Windows suites'
// leak checks (run under wine in CI).
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_TESTS_WINDOWS_HANDLE_COUNT_HPP
#define IPC_TESTS_WINDOWS_HANDLE_COUNT_HPP

#include <boost/test/unit_test.hpp>

#include <windows.h>

#include <vector>

namespace ipc_test {

/// Open handles of this process, counted in the system's handle table
/// (SystemExtendedHandleInformation) by pid: wine 8's GetProcessHandleCount always reports 0,
/// which would make every leak check pass.
inline DWORD process_handle_count()
{
  struct entry {
    void* object;
    ULONG_PTR pid, value;
    ULONG access;
    USHORT trace, type;
    ULONG attributes, reserved;
  };
  struct table {
    ULONG_PTR count, reserved;
    entry handles[1];
  };
  using query_fn = LONG(WINAPI*)(int, void*, ULONG, ULONG*);
  static const auto query = reinterpret_cast<query_fn>(reinterpret_cast<void*>(
    ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "NtQuerySystemInformation")));
  BOOST_REQUIRE(query != nullptr);
  std::vector<char> buf(1u << 20);
  ULONG len = 0;
  LONG status;
  while ((status = query(64, buf.data(), static_cast<ULONG>(buf.size()), &len)) == LONG(0xC0000004))
    buf.resize(buf.size() * 2);
  BOOST_REQUIRE(status == 0);
  const auto* t = reinterpret_cast<const table*>(buf.data());
  DWORD n = 0;
  for (ULONG_PTR i = 0; i < t->count; ++i)
    if (t->handles[i].pid == ::GetCurrentProcessId()) ++n;
  return n;
}

} // namespace ipc_test

#endif // IPC_TESTS_WINDOWS_HANDLE_COUNT_HPP
