// tests/windows_child_helper.cpp - the program the Windows process tests spawn (argv[1] picks
// what it does). Windows only: it reads its own command line with CommandLineToArgvW.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/endpoint.hpp"
#include "ipc/process.hpp"
#include "ipc/converters/asio.hpp"
#include "ipc/converters/channel.hpp"
#include "ipc/serializers/binary.hpp"

#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <windows.h>
#include <shellapi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using channel = ipc::channel<ipc::binary>;

channel up(asio::io_context& io)
{
  auto ch = ipc::parent_channel<ipc::binary>(io.get_executor());
  if (!ch) {
    std::fprintf(stderr, "windows_child_helper: no parent channel\n");
    std::exit(90);
  }
  return std::move(*ch);
}

std::string narrow(const wchar_t* w)
{
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, w, -1, nullptr, 0, nullptr, nullptr);
  std::string s(static_cast<std::size_t>(n > 0 ? n - 1 : 0), '\0');
  if (n > 1) ::WideCharToMultiByte(CP_UTF8, 0, w, -1, s.data(), n, nullptr, nullptr);
  return s;
}

/// A read-write file at @p path holding @p text (the position after it), deleted when its last
/// handle closes; empty when it cannot be made.
ipc::native_handle file_holding(const std::wstring& path, std::string_view text)
{
  HANDLE f = ::CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           CREATE_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, nullptr);
  if (f == INVALID_HANDLE_VALUE) return {};
  DWORD n = 0;
  ::WriteFile(f, text.data(), static_cast<DWORD>(text.size()), &n, nullptr);
  return ipc::native_handle(f);
}

/// @p name followed by this process's id, in the temporary directory.
std::wstring temp_path(const wchar_t* name)
{
  wchar_t dir[MAX_PATH];
  ::GetTempPathW(MAX_PATH, dir);
  return std::wstring(dir) + name + std::to_wstring(::GetCurrentProcessId());
}

/// The arguments as CommandLineToArgvW splits this process's command line (UTF-8).
std::vector<std::string> wide_args()
{
  int argc = 0;
  wchar_t** argv = ::CommandLineToArgvW(::GetCommandLineW(), &argc);
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) out.push_back(narrow(argv[i]));
  ::LocalFree(argv);
  return out;
}

} // namespace

int main(int argc, char** argv)
{
  const std::string mode = argc > 1 ? argv[1] : "";
  asio::io_context io;

  if (mode == "argv") {
    // Everything after the mode, as parsed by both CommandLineToArgvW and the C runtime.
    channel ch = up(io);
    std::vector<std::string> wide = wide_args();
    wide.erase(wide.begin(), wide.begin() + std::min<std::size_t>(2, wide.size()));
    std::vector<std::string> crt(argv + std::min(argc, 2), argv + argc);
    ch.send(wide);
    ch.send(crt);
    return 0;
  }
  if (mode == "echo") {
    channel ch = up(io);
    for (;;) {
      std::error_code ec;
      auto m = ch.receive<std::string>(ec);
      if (ec) return 3;
      if (m.value == "quit") return 0;
      ch.send("echo:" + m.value);
    }
  }
  if (mode == "exit") return argc > 2 ? std::atoi(argv[2]) : 0;
  if (mode == "sleep") {
    channel ch = up(io);
    ch.send(std::string("ready"));
    ::Sleep(INFINITE);
    return 0;
  }
  if (mode == "handle_valid") {
    // Whether each handle value given is open in this process (it must not have been
    // inherited unless spawn named it).
    channel ch = up(io);
    std::vector<int> open;
    for (int i = 2; i < argc; ++i) {
      const auto v = std::strtoull(argv[i], nullptr, 10);
      DWORD flags = 0;
      open.push_back(::GetHandleInformation(reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(v)),
                                            &flags) ? 1 : 0);
    }
    ch.send(open);
    return 0;
  }
  if (mode == "env") {
    channel ch = up(io);
    std::vector<std::string> values;
    for (int i = 2; i < argc; ++i) {
      const char* v = std::getenv(argv[i]);
      values.push_back(v != nullptr ? std::string(v) : std::string("<unset>"));
    }
    ch.send(values);
    return 0;
  }
  if (mode == "cat") {
    // stdin to stdout, through the C runtime (the handles STARTUPINFO gave us).
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) std::fwrite(buf, 1, n, stdout);
    std::fflush(stdout);
    std::fputs("done", stderr);
    return 0;
  }
  if (mode == "cwd") {
    channel ch = up(io);
    wchar_t buf[MAX_PATH];
    ::GetCurrentDirectoryW(MAX_PATH, buf);
    ch.send(narrow(buf));
    return 0;
  }
  if (mode == "take_handle") {
    // Writes the message's text into the file handle that came with it.
    channel ch = up(io);
    auto m = ch.receive<std::string>();
    ipc::native_handle h = m.take_handle(0);
    DWORD n = 0;
    const BOOL ok = ::WriteFile(h.get(), m.value.data(), static_cast<DWORD>(m.value.size()), &n, nullptr);
    ch.send(std::string(ok ? "done" : "write failed"));
    return 0;
  }
  if (mode == "use_handles") {
    // An event to set, the write end of an anonymous pipe to write into, and a process handle
    // (the parent's) whose pid goes back: each must work here, in this process.
    channel ch = up(io);
    auto m = ch.receive<std::string>();
    ipc::native_handle event = m.take_handle(0), pipe = m.take_handle(1), process = m.take_handle(2);
    DWORD n = 0;
    const bool ok = ::SetEvent(event.get()) &&
                    ::WriteFile(pipe.get(), m.value.data(), static_cast<DWORD>(m.value.size()), &n, nullptr);
    ch.send(std::string(ok ? std::to_string(::GetProcessId(process.get())) : "failed"));
    return 0;
  }
  if (mode == "take_channel") {
    // Takes a channel end from the parent channel and, on it: says hello, writes the text of
    // the next message into the file handle that comes with it, sends a file of its own back,
    // and waits for "quit" (the parent's acknowledgement comes before it).
    channel parent = up(io);
    auto m = parent.receive<std::string>();
    channel ch = m.take_handle<channel>(0, io.get_executor());
    ch.send(std::string("hello from the child"));
    auto f = ch.receive<std::string>();
    std::error_code ec;
    ipc::native_handle h = f.take_handle(0, ec);
    if (ec) {
      ch.send("take failed: " + ec.message());
      return 5;
    }
    DWORD n = 0;
    if (!::WriteFile(h.get(), f.value.data(), static_cast<DWORD>(f.value.size()), &n, nullptr)) return 6;
    ipc::native_handle mine = file_holding(temp_path(L"ipcxx-child-file-"), "written by the child");
    if (!mine) return 7;
    ch.send(std::string("wrote it"), std::move(mine));
    return ch.receive<std::string>().value == "quit" ? 0 : 8;
  }
  if (mode == "take_channel_misdirected") {
    // Takes a channel end from the parent channel; its first message there carries a handle
    // made for the parent (sent before the end moved): says how taking it went, then waits for
    // "quit".
    channel parent = up(io);
    auto m = parent.receive<std::string>();
    channel ch = m.take_handle<channel>(0, io.get_executor());
    auto f = ch.receive<std::string>();
    std::error_code ec;
    ipc::native_handle h = f.take_handle(0, ec);
    ch.send(ec == ipc::errc::handle_misdirected && !h ? std::string("misdirected")
                                                        : "taken: " + ec.message());
    return ch.receive<std::string>().value == "quit" ? 0 : 8;
  }
  if (mode == "meet_peer") {
    // Takes one end of a pair whose other end went to another child; greets it and waits for
    // its greeting (so that each knows where the other is), sends it a file of its own, and
    // reports to the parent what the file it got says.
    channel parent = up(io);
    auto m = parent.receive<std::string>();
    channel ch = m.take_handle<channel>(0, io.get_executor());
    const std::string me = std::to_string(::GetCurrentProcessId());
    ch.send("hello from " + me);
    if (ch.receive<std::string>().value.rfind("hello from ", 0) != 0) return 5;
    ipc::native_handle mine = file_holding(temp_path(L"ipcxx-meet-"), "file of " + me);
    if (!mine) return 7;
    ch.send(std::string("file"), std::move(mine));
    auto f = ch.receive<std::string>();
    std::error_code ec;
    ipc::native_handle h = f.take_handle(0, ec);
    if (ec) {
      parent.send("take failed: " + ec.message());
      return 6;
    }
    char buf[64];
    DWORD n = 0;
    ::SetFilePointer(h.get(), 0, nullptr, FILE_BEGIN);
    if (!::ReadFile(h.get(), buf, sizeof buf, &n, nullptr)) n = 0;
    ch.send(std::string("bye")); // carries the ACK for the file
    (void)ch.receive<std::string>();
    parent.send(std::string(buf, n));
    return 0;
  }
  if (mode == "send_file_and_exit" && argc > 2) {
    // Sends a handle to a file it wrote, and exits at once: the handle must outlive us.
    channel ch = up(io);
    const std::wstring path(argv[2], argv[2] + std::strlen(argv[2]));
    ipc::native_handle f = file_holding(path, "from child");
    if (!f) return 4;
    ::SetFilePointer(f.get(), 0, nullptr, FILE_BEGIN);
    ch.send(std::string("file"), std::move(f));
    return 0;
  }
  if (mode == "connect_by_name" && argc > 2) {
    // Connects to the server named argv[2] (not through the parent channel), says hello, and
    // writes the text of the next message into the file handle that comes with it.
    channel ch = ipc::connect<ipc::binary>(io, argv[2], {.timeout = std::chrono::seconds(30)});
    ch.send("hello from " + std::to_string(::GetCurrentProcessId()));
    auto m = ch.receive<std::string>();
    ipc::native_handle h = m.take_handle(0);
    DWORD n = 0;
    const BOOL ok = ::WriteFile(h.get(), m.value.data(), static_cast<DWORD>(m.value.size()), &n, nullptr);
    ch.send(std::string(ok ? "done" : "write failed"));
    return 0;
  }
  if (mode == "tcp_serve") {
    // Takes a connected TCP socket, reads the client's 5 bytes and answers "child:" + them,
    // asynchronously on this process's io_context; then says what it read.
    channel ch = up(io);
    auto m = ch.receive<std::string>();
    std::error_code ec;
    auto taken = m.take_handle<asio::ip::tcp::socket>(0, io.get_executor(), ec);
    if (ec || !taken) {
      ch.send("take failed: " + ec.message());
      return 5;
    }
    asio::ip::tcp::socket& s = *taken;
    std::string got(5, '\0'), answer;
    asio::async_read(s, asio::buffer(got), [&](std::error_code rec, std::size_t) {
      if (rec) return;
      answer = "child:" + got;
      asio::async_write(s, asio::buffer(answer), [](std::error_code, std::size_t) {});
    });
    io.run();
    ch.send(got);
    return 0;
  }
  if (mode == "tcp_accept") {
    // Takes a listening TCP socket, accepts one connection on it and writes "accepted".
    channel ch = up(io);
    auto m = ch.receive<std::string>();
    std::error_code ec;
    auto taken = m.take_handle<asio::ip::tcp::acceptor>(0, io.get_executor(), ec);
    if (ec || !taken) {
      ch.send("take failed: " + ec.message());
      return 5;
    }
    asio::ip::tcp::acceptor& a = *taken;
    asio::ip::tcp::socket s(io);
    a.async_accept(s, [&](std::error_code aec) {
      if (!aec) asio::async_write(s, asio::buffer("accepted", 8), [](std::error_code, std::size_t) {});
    });
    io.run();
    ch.send(std::string("done"));
    return 0;
  }
  if (mode == "udp_echo") {
    // Takes a bound UDP socket and answers one datagram with "udp:" + it.
    channel ch = up(io);
    auto m = ch.receive<std::string>();
    std::error_code ec;
    auto taken = m.take_handle<asio::ip::udp::socket>(0, io.get_executor(), ec);
    if (ec || !taken) {
      ch.send("take failed: " + ec.message());
      return 5;
    }
    asio::ip::udp::socket& u = *taken;
    char buf[64];
    asio::ip::udp::endpoint from;
    std::string answer;
    u.async_receive_from(asio::buffer(buf), from, [&](std::error_code rec, std::size_t n) {
      if (rec) return;
      answer = "udp:" + std::string(buf, n);
      u.async_send_to(asio::buffer(answer), from, [](std::error_code, std::size_t) {});
    });
    io.run();
    ch.send(std::string("done"));
    return 0;
  }
  std::fprintf(stderr, "windows_child_helper: unknown mode '%s'\n", mode.c_str());
  return 99;
}
