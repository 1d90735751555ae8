// tests/windows_support.hpp - helpers shared by the Windows suites (run under wine in CI): the
// helper program's path, temporary files, forged frames, and counting this process's open
// handles for the leak checks.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_TESTS_WINDOWS_SUPPORT_HPP
#define IPC_TESTS_WINDOWS_SUPPORT_HPP

#include "ipc/frame.hpp"
#include "ipc/native_handle.hpp"
#include "ipc/serializers/binary.hpp"

#include <asio/buffer.hpp>
#include <boost/test/unit_test.hpp>

#include <windows.h>

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
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

/// Asserts that a scope leaves the process's handle count as it found it. @p WarmUp runs first:
/// wine allocates some handles for good the first time a process does certain things (starts
/// a child, makes a connection), and a suite's warm-up does those before the first count, so
/// that only what a test leaks is counted. Declare it before the io_context, so that the
/// io_context (whose completions keep pipe state alive) is gone when it counts.
template <void (*WarmUp)() = nullptr> struct handle_guard {
  DWORD before = (warm_up(), process_handle_count());
  ~handle_guard() { BOOST_CHECK_EQUAL(settled_count(before), before); }

private:
  /// The count once it is back at @p want, or after three seconds: wine closes some handles of a
  /// finished operation (its thread pool's, a child's) a moment after the call returns.
  static DWORD settled_count(DWORD want)
  {
    DWORD n = process_handle_count();
    for (int i = 0; i < 300 && n != want; ++i) {
      ::Sleep(10);
      n = process_handle_count();
    }
    return n;
  }

  static void warm_up()
  {
    if constexpr (WarmUp != nullptr) {
      static const bool done = (WarmUp(), true);
      (void)done;
    }
  }
};

/// The helper program built beside the tests (tests/windows_child_helper). Meson gives its Unix
/// path; under wine that is on drive Z:.
inline std::string child_helper()
{
  const char* p = std::getenv("IPC_TEST_CHILD");
  BOOST_REQUIRE_MESSAGE(p != nullptr, "IPC_TEST_CHILD must name tests/windows_child_helper");
  std::string s = p;
  if (!s.empty() && s[0] == '/') s = "Z:" + s;
  return s;
}

/// A path in the temporary directory, unique to this process.
inline std::wstring temp_path(const wchar_t* name)
{
  wchar_t dir[MAX_PATH];
  ::GetTempPathW(MAX_PATH, dir);
  return std::wstring(dir) + name + std::to_wstring(::GetCurrentProcessId());
}

/// A read-write temporary file holding @p text, deleted when its last handle closes.
inline ipc::native_handle temp_file(const wchar_t* name, const std::string& text = {})
{
  HANDLE h = ::CreateFileW(temp_path(name).c_str(), GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           CREATE_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, nullptr);
  BOOST_REQUIRE(h != INVALID_HANDLE_VALUE);
  DWORD n = 0;
  if (!text.empty())
    BOOST_REQUIRE(::WriteFile(h, text.data(), static_cast<DWORD>(text.size()), &n, nullptr));
  return ipc::native_handle(h);
}

/// The first bytes of a file (up to 256), read from its start.
inline std::string read_from_start(HANDLE h)
{
  ::SetFilePointer(h, 0, nullptr, FILE_BEGIN);
  char buf[256];
  DWORD n = 0;
  BOOST_REQUIRE(::ReadFile(h, buf, sizeof buf, &n, nullptr));
  return std::string(buf, n);
}

/// Writes into the pipe end @p w, raw, a frame numbered @p sequence with one handle-table entry
/// (type @p type, blob @p blob) and the binary-encoded string "forged" as its payload: what a
/// peer that does not play by the rules could send.
inline void write_forged(HANDLE w, std::uint32_t sequence, std::string_view type,
                         std::span<const std::byte> blob)
{
  ipc::byte_buffer frame;
  frame.resize(ipc::frame_header_size);
  BOOST_REQUIRE(!ipc::append_handle_entry(frame, type, blob));
  ipc::frame_header h;
  h.sequence = sequence;
  h.handle_count = 1;
  h.table_size = static_cast<std::uint32_t>(frame.size() - ipc::frame_header_size);
  const std::size_t head = frame.size();
  BOOST_REQUIRE(!ipc::binary::encode(std::string("forged"), frame));
  h.payload_size = static_cast<std::uint32_t>(frame.size() - head);
  ipc::encode_frame_header(h, frame.data());
  const asio::const_buffer buf(frame.data(), frame.size());
  std::error_code ec;
  ipc::platform::traits::send_some(w, {&buf, 1}, {}, false, ec);
  BOOST_REQUIRE(!ec);
}

} // namespace ipc_test

#endif // IPC_TESTS_WINDOWS_SUPPORT_HPP
