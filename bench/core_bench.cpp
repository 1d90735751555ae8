// bench/core_bench.cpp - the core paths of ipcxx against a raw baseline over the same transport,
// in the same run, on Linux and on Windows (the mingw-w64 build, run under wine).
// SPDX-License-Identifier: BSL-1.0
//
// Every figure is a ratio to the platform's own floor measured in the same round, so that the
// Linux and the wine columns can stand side by side (wine is not Windows: its absolute figures
// say nothing about Windows, its ratios say a little). Measurements (the method is in
// /work/shared/BENCHMARKING.md; the helpers in measure.hpp):
//
//  rt     ping-pong round trip at 8 B, 1 KiB, 64 KiB, 1 MiB: the parent sends, the child echoes.
//         p50 and p99 per measurement.
//  tp     one-way stream of 64 B and of 1 MiB messages, then an end marker that the child
//         acknowledges with its count: time per message.
//  fd     one-way stream of 8 B messages each carrying one handle, which the child takes (so
//         ipcxx acknowledges it: ACKs on) and closes: time per message. Sent in windows of 256
//         messages, each acknowledged by the child (see handle_window).
//  spawn  from the call that starts the child to the first message received from it.
//
// Rows:
//   raw            the floor, written here. Linux: a socketpair, one sendmsg of {u32 length,
//                  payload} per message and blocking recv loops (harness.hpp's raw_send /
//                  raw_receive), SCM_RIGHTS for a descriptor. Windows: one duplex byte-mode named
//                  pipe opened without FILE_FLAG_OVERLAPPED, one blocking WriteFile of {u32
//                  length, payload} per message and blocking ReadFile loops, a handle passed by
//                  DuplicateHandle into the child with its value in the payload. Spawn: Linux
//                  posix_spawn, Windows CreateProcessW, with one inherited end the child writes
//                  one byte to.
//   ipc-raw        ipc::channel<ipc::raw>, sync send(std::string_view) / receive<string_view>.
//   ipc-raw-async  the same channel with async_send / async_receive on an io_context (both ends).
//   ipc-binary     ipc::channel<ipc::binary>, sync send / receive of std::string.
//
// Every measurement starts a fresh child: this executable with --child, started by ipc::spawn
// (the raw row receives its end of the raw link over the spawned channel, then uses only that).
// Each process does one thing at a time. Rounds rotate the order of the rows.
//
// Build: meson setup build -Dbench=true && meson compile -C build core_bench
//        (the Windows cross build too, see bench/wine_compare)
// Run:   taskset -c 0 ./core_bench [--quick] [--rounds N] [--markdown]
//        bench/wine_compare builds both, runs both pinned and prints the tables side by side.
#include <ipc/channel.hpp>
#include <ipc/native_handle.hpp>
#include <ipc/process.hpp>
#include <ipc/serializers/binary.hpp>
#include <ipc/serializers/raw.hpp>

#include "measure.hpp"
#include "ping.hpp"

#include <asio/io_context.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

// ==== the operating system: the raw floor, handles to pass, processes ===========================
//
// The only OS-specific part of this program. Each side offers the same few names:
//   os::handle                   what a raw end and a passed handle are (int / HANDLE)
//   os::raw_pair()               both ends of a fresh raw link
//   os::raw_send(end, peer, payload, n, pass)   one message; 4 writable bytes must precede
//                                @p payload (Windows writes the header there: one WriteFile)
//   os::raw_receive(end, buf, out, passed)      one message; false at end of stream
//   os::open_null(), os::dup(h), os::close(h)   the handle that is passed, and its copies
//   os::peer_of(pid)             what raw_send needs to pass a handle to that process
//   os::self_path()              this executable, to start it again as the child
//   os::raw_spawn(path, args)    the spawn floor: start the child with one inherited end;
//                                returns when its one byte arrived (after reaping the child)
//   os::raw_spawned_child(arg)   the child's half of that
//   os::cpus()                   the CPUs this process may run on

#ifdef _WIN32
#include <windows.h>

namespace bench::os {

using handle = HANDLE;
inline const handle no_handle = nullptr;

[[noreturn]] inline void fail_win(const char* what)
{
  throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), what);
}

/// One duplex byte-mode named pipe, both ends synchronous (blocking ReadFile / WriteFile), with
/// the buffer size ipcxx gives its own pipes.
inline std::pair<ipc::native_handle, ipc::native_handle> raw_pair()
{
  static unsigned counter = 0;
  const std::wstring name = L"\\\\.\\pipe\\ipcxx-core-bench-" +
                            std::to_wstring(::GetCurrentProcessId()) + L"-" +
                            std::to_wstring(++counter);
  HANDLE server = ::CreateNamedPipeW(
    name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
    PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 64u << 10,
    64u << 10, 0, nullptr);
  if (server == INVALID_HANDLE_VALUE) fail_win("CreateNamedPipeW");
  ipc::native_handle s(server);
  HANDLE client = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                                OPEN_EXISTING, 0, nullptr);
  if (client == INVALID_HANDLE_VALUE) fail_win("CreateFileW (pipe client)");
  ipc::native_handle c(client);
  if (!::ConnectNamedPipe(server, nullptr) && ::GetLastError() != ERROR_PIPE_CONNECTED)
    fail_win("ConnectNamedPipe");
  return {std::move(s), std::move(c)};
}

/// The peer's process, opened for DuplicateHandle.
struct peer {
  HANDLE process = nullptr;
  peer() = default;
  explicit peer(HANDLE p) : process(p) {}
  peer(peer&& o) noexcept : process(std::exchange(o.process, nullptr)) {}
  peer& operator=(peer&&) = delete;
  ~peer()
  {
    if (process) ::CloseHandle(process);
  }
};

inline peer peer_of(long pid)
{
  HANDLE p = ::OpenProcess(PROCESS_DUP_HANDLE, FALSE, static_cast<DWORD>(pid));
  if (!p) fail_win("OpenProcess");
  return peer(p);
}

inline void write_all(handle h, const char* p, std::size_t n)
{
  while (n) {
    DWORD done = 0;
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(n, 1u << 30));
    if (!::WriteFile(h, p, chunk, &done, nullptr)) fail_win("raw WriteFile");
    p += done;
    n -= done;
  }
}

/// False on end of stream before the first byte.
inline bool read_exact(handle h, char* p, std::size_t n)
{
  std::size_t got = 0;
  while (got < n) {
    DWORD done = 0;
    if (!::ReadFile(h, p + got, static_cast<DWORD>(n - got), &done, nullptr)) {
      const DWORD e = ::GetLastError();
      if ((e == ERROR_BROKEN_PIPE || e == ERROR_PIPE_NOT_CONNECTED) && got == 0) return false;
      fail_win("raw ReadFile");
    }
    if (done == 0) {
      if (got == 0) return false;
      fail("raw ReadFile: truncated message");
    }
    got += done;
  }
  return true;
}

/// With @p pass, the handle is duplicated into @p to and its value there replaces the first 8
/// bytes of the payload (the handle's entry, as ipcxx writes one into its frame).
inline void raw_send(handle h, const peer& to, char* payload, std::size_t n,
                     handle pass = no_handle)
{
  if (pass) {
    HANDLE remote = nullptr;
    if (n < 8) fail("raw: a passed handle needs 8 bytes of payload");
    if (!::DuplicateHandle(::GetCurrentProcess(), pass, to.process, &remote, 0, FALSE,
                           DUPLICATE_SAME_ACCESS))
      fail_win("DuplicateHandle");
    const std::uint64_t v = reinterpret_cast<std::uintptr_t>(remote);
    std::memcpy(payload, &v, 8);
  }
  const std::uint32_t len = static_cast<std::uint32_t>(n);
  std::memcpy(payload - 4, &len, 4);
  write_all(h, payload - 4, n + 4);
}

/// The payload lands 4 bytes into @p buf (after its header), so it can be echoed in place.
inline bool raw_receive(handle h, rx_buffer& buf, std::string_view& out, handle* passed = nullptr)
{
  std::uint32_t len = 0;
  if (!read_exact(h, reinterpret_cast<char*>(&len), 4)) return false;
  buf.reserve(4 + std::size_t{len});
  if (len && !read_exact(h, buf.data.get() + 4, len)) fail("raw: truncated message");
  out = std::string_view(buf.data.get() + 4, len);
  if (passed && len == 0) {
    *passed = no_handle; // the end marker carries none
  } else if (passed) {
    std::uint64_t v = 0;
    if (len < 8) fail("raw: handle missing");
    std::memcpy(&v, out.data(), 8);
    *passed = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(v));
  }
  return true;
}

inline handle open_null()
{
  HANDLE h = ::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                           OPEN_EXISTING, 0, nullptr);
  if (h == INVALID_HANDLE_VALUE) fail_win("CreateFileW NUL");
  return h;
}
inline handle dup(handle h)
{
  HANDLE d = nullptr;
  if (!::DuplicateHandle(::GetCurrentProcess(), h, ::GetCurrentProcess(), &d, 0, FALSE,
                         DUPLICATE_SAME_ACCESS))
    fail_win("DuplicateHandle");
  return d;
}
inline void close(handle h)
{
  ::CloseHandle(h);
}

inline std::filesystem::path self_path()
{
  std::wstring p(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = ::GetModuleFileNameW(nullptr, p.data(), static_cast<DWORD>(p.size()));
    if (n == 0) fail_win("GetModuleFileNameW");
    if (n < p.size()) {
      p.resize(n);
      return p;
    }
    p.resize(p.size() * 2);
  }
}

/// CreateProcessW of @p path with @p args (simple words, no quoting needed) and the child end of
/// an anonymous pipe inherited, its value appended as the last argument. Returns when the
/// child's byte arrived, after waiting for the child.
inline clock::time_point raw_spawn(const std::filesystem::path& path,
                                   const std::vector<std::string>& args)
{
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  HANDLE rd = nullptr, wr = nullptr;
  if (!::CreatePipe(&rd, &wr, &sa, 0)) fail_win("CreatePipe");
  ipc::native_handle r(rd), w(wr);
  ::SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
  std::wstring cmd = L"\"" + path.wstring() + L"\"";
  for (const auto& a : args)
    cmd += L" " + std::wstring(a.begin(), a.end());
  cmd += L" " + std::to_wstring(reinterpret_cast<std::uintptr_t>(wr));
  // Only the pipe's end is inherited (as ipc::spawn restricts it too).
  SIZE_T size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
  std::vector<char> storage(size);
  auto* list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage.data());
  if (!::InitializeProcThreadAttributeList(list, 1, 0, &size))
    fail_win("InitializeProcThreadAttributeList");
  if (!::UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, &wr, sizeof wr,
                                   nullptr, nullptr))
    fail_win("UpdateProcThreadAttribute");
  STARTUPINFOEXW si{};
  si.StartupInfo.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  const BOOL ok = ::CreateProcessW(path.wstring().c_str(), cmd.data(), nullptr, nullptr, TRUE,
                                   EXTENDED_STARTUPINFO_PRESENT, nullptr, nullptr,
                                   &si.StartupInfo, &pi);
  ::DeleteProcThreadAttributeList(list);
  if (!ok) fail_win("CreateProcessW");
  ::CloseHandle(pi.hThread);
  ipc::native_handle process(pi.hProcess);
  w.reset();
  char byte = 0;
  if (!read_exact(rd, &byte, 1)) fail("raw spawn: no byte from the child");
  const auto arrived = clock::now();
  ::WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 1;
  ::GetExitCodeProcess(pi.hProcess, &code);
  if (code != 0) fail("raw spawn: child failed");
  return arrived;
}

inline void raw_spawned_child(const char* arg)
{
  HANDLE h = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(std::strtoull(arg, nullptr, 10)));
  write_all(h, "u", 1);
  ::CloseHandle(h);
}

inline std::string cpus()
{
  DWORD_PTR mine = 0, system = 0;
  if (!::GetProcessAffinityMask(::GetCurrentProcess(), &mine, &system)) return "?";
  std::string s;
  for (int c = 0; c < static_cast<int>(8 * sizeof mine); ++c)
    if (mine & (DWORD_PTR{1} << c)) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

} // namespace bench::os

#else // POSIX: the socketpair floor of harness.hpp
#include "harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace bench::os {

using handle = int;
inline constexpr handle no_handle = -1;

inline std::pair<ipc::native_handle, ipc::native_handle> raw_pair()
{
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail_errno("socketpair");
  return {ipc::native_handle(sv[0]), ipc::native_handle(sv[1])};
}

/// Nothing to open: the kernel duplicates a descriptor into the receiver.
struct peer {};
inline peer peer_of(long)
{
  return {};
}

inline void raw_send(handle h, const peer&, char* payload, std::size_t n, handle pass = no_handle)
{
  bench::raw_send(h, payload, n, pass);
}

inline bool raw_receive(handle h, rx_buffer& buf, std::string_view& out, handle* passed = nullptr)
{
  return bench::raw_receive(h, buf, out, passed);
}

inline handle open_null()
{
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("/dev/null");
  return fd;
}
inline handle dup(handle h)
{
  const int d = ::fcntl(h, F_DUPFD_CLOEXEC, 0);
  if (d < 0) fail_errno("dup");
  return d;
}
inline void close(handle h)
{
  ::close(h);
}

inline std::filesystem::path self_path()
{
  return std::filesystem::read_symlink("/proc/self/exe");
}

/// posix_spawn of @p path with @p args and one end of a socketpair at descriptor 3 (the number
/// appended as the last argument). Returns when the child's byte arrived, after reaping it.
inline clock::time_point raw_spawn(const std::filesystem::path& path,
                                   const std::vector<std::string>& args)
{
  auto [mine, theirs] = raw_pair();
  if (theirs.get() == 3) theirs = ipc::native_handle(dup(3)); // dup2(3, 3) would keep CLOEXEC
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_adddup2(&fa, theirs.get(), 3); // dup2 clears close-on-exec
  std::vector<std::string> all = {path.string()};
  all.insert(all.end(), args.begin(), args.end());
  all.push_back("3");
  std::vector<char*> argv;
  for (auto& a : all)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int e = ::posix_spawn(&pid, path.c_str(), &fa, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  if (e != 0) throw std::system_error(e, std::system_category(), "posix_spawn");
  theirs.reset();
  char byte = 0;
  const bool got = ::recv(mine.get(), &byte, 1, 0) == 1;
  const auto arrived = clock::now();
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!got) fail("raw spawn: no byte from the child");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("raw spawn: child failed");
  return arrived;
}

inline void raw_spawned_child(const char* arg)
{
  const int fd = std::atoi(arg);
  if (::send(fd, "u", 1, MSG_NOSIGNAL) != 1) fail_errno("raw spawn: send");
  ::close(fd);
}

inline std::string cpus()
{
  return affinity();
}

} // namespace bench::os
#endif // _WIN32

// ==== the benchmark (portable from here on) =====================================================

namespace bench {

struct config {
  int rounds = 5;
  bool quick = false;
  clock::duration warmup_time = std::chrono::milliseconds(30);
  std::size_t warmup_count = 200;
  clock::duration latency_time = std::chrono::milliseconds(150);
  std::size_t latency_count = 20000;
  clock::duration stream_time = std::chrono::milliseconds(250);
  std::size_t stream_count = 4'000'000;
  std::size_t fd_count = 1'000'000;
  clock::duration spawn_time = std::chrono::milliseconds(600);
  std::size_t spawn_count = 10;
};

config cfg;

enum class row { raw, ipc_raw, ipc_raw_async, ipc_binary };
constexpr std::array all_rows = {row::raw, row::ipc_raw, row::ipc_raw_async, row::ipc_binary};

const char* row_name(row r)
{
  switch (r) {
  case row::raw:
    return "raw";
  case row::ipc_raw:
    return "ipc-raw";
  case row::ipc_raw_async:
    return "ipc-raw-async";
  case row::ipc_binary:
    return "ipc-binary";
  }
  return "?";
}

std::optional<row> row_named(std::string_view name)
{
  for (row r : all_rows)
    if (name == row_name(r)) return r;
  return std::nullopt;
}

/// A payload of @p size bytes with 4 bytes of room before it (os::raw_send's header).
struct raw_payload {
  std::string storage;
  explicit raw_payload(std::size_t size) : storage(4 + size, 'x') {}
  char* data() { return storage.data() + 4; }
  std::size_t size() const { return storage.size() - 4; }
};

/// Sends @p text over the raw link (the stream's acknowledgement).
void raw_send_text(os::handle h, std::string_view text)
{
  std::string frame(4, '\0');
  frame += text;
  os::raw_send(h, os::peer{}, frame.data() + 4, text.size());
}

// ---- the child -------------------------------------------------------------------------------
//
// `--child KIND ROW SIZE`: started by the parent with ipc::spawn; finds its channel with
// ipc::parent_channel and serves one measurement until the parent closes.

/// The raw row: the link's end arrives over the channel, then only the link is used.
void child_raw(asio::io_context& io, std::string_view kind)
{
  auto up = ipc::parent_channel<ipc::raw>(io);
  if (!up) fail("no parent channel");
  ipc::native_handle link;
  {
    auto m = up->receive<std::string_view>();
    link = m.take_handle(0);
  }
  // The ACK goes before this: the parent closes its copy of our end when it reads it, so that
  // our end of the link is ours alone (the parent would not see us go otherwise).
  up->send(std::string_view("ready"));
  const os::handle h = link.get();
  rx_buffer buf;
  std::string_view m;
  if (kind == "rt") {
    while (os::raw_receive(h, buf, m))
      os::raw_send(h, os::peer{}, const_cast<char*>(m.data()), m.size());
    return;
  }
  const bool with_handle = kind == "fd";
  std::uint64_t n = 0;
  for (;;) {
    os::handle passed = os::no_handle;
    if (!os::raw_receive(h, buf, m, with_handle ? &passed : nullptr)) break;
    if (m.empty()) {
      raw_send_text(h, ack_bytes(n));
      n = 0;
      continue;
    }
    if (with_handle) os::close(passed);
    ++n;
  }
}

template <class S, class T> void child_sync(asio::io_context& io, std::string_view kind)
{
  auto up = ipc::parent_channel<S>(io);
  if (!up) fail("no parent channel");
  auto& ch = *up;
  std::uint64_t n = 0;
  for (;;) {
    std::error_code ec;
    auto m = ch.template receive<T>(ec);
    if (ec) break;
    if (kind == "rt") {
      ch.send(m.value);
    } else if (m.value.empty()) {
      ch.send(ack_bytes(n));
      n = 0;
    } else {
      if (kind == "fd") (void)m.take_handle(0); // taken: an ACK; closed here
      ++n;
    }
  }
}

/// Async child: receives with async_receive; echoes (rt) or counts and acknowledges (tp, fd).
template <class S, class T> struct async_child {
  ipc::channel<S>& ch;
  bool echo, with_handle;
  std::uint64_t n = 0;
  std::error_code error{};
  void start()
  {
    ch.template async_receive<T>([this](std::error_code ec, ipc::message<T> m) {
      if (ec) {
        if (ec != asio::error::eof) error = ec;
        ch.close();
        return;
      }
      if (echo) {
        ch.async_send(m.value, [](std::error_code) {});
      } else if (m.value.empty()) {
        ch.async_send(ack_bytes(n), [](std::error_code) {});
        n = 0;
      } else {
        if (with_handle) (void)m.take_handle(0);
        ++n;
      }
      start();
    });
  }
};

int child_main(std::string_view kind, row r)
{
  asio::io_context io;
  if (kind == "spawn") {
    auto up = ipc::parent_channel<ipc::raw>(io);
    if (!up) fail("no parent channel");
    up->send(std::string_view("up"));
    std::error_code ec;
    (void)up->receive<std::string_view>(ec); // until the parent closes
    return 0;
  }
  switch (r) {
  case row::raw:
    child_raw(io, kind);
    break;
  case row::ipc_raw:
    child_sync<ipc::raw, std::string_view>(io, kind);
    break;
  case row::ipc_binary:
    child_sync<ipc::binary, std::string>(io, kind);
    break;
  case row::ipc_raw_async: {
    auto up = ipc::parent_channel<ipc::raw>(io);
    if (!up) fail("no parent channel");
    async_child<ipc::raw, std::string_view> c{*up, kind == "rt", kind == "fd"};
    c.start();
    io.run();
    if (c.error) throw std::system_error(c.error, "async child");
    break;
  }
  }
  return 0;
}

// ---- the parent ------------------------------------------------------------------------------

std::filesystem::path self;

/// Starts the child for one measurement and runs @p parent(child) ; then closes the channel
/// (the child sees the end) and checks the child's exit.
template <class S, class F> auto with_child(std::string_view kind, row r, std::size_t size, F&& parent)
{
  asio::io_context io;
  auto child = ipc::spawn<S>(io, self,
                             {"--child", std::string(kind), row_name(r), std::to_string(size)});
  auto result = parent(io, child);
  child.channel().close();
  const ipc::exit_status st = child.wait();
  if (!st.success()) fail(std::string("child failed: ") + std::string(kind) + " " + row_name(r));
  return result;
}

/// The raw row's parent: makes the link, sends the child its end, runs @p parent(end, peer).
template <class F> auto with_raw_child(std::string_view kind, std::size_t size, F&& parent)
{
  return with_child<ipc::raw>(kind, row::raw, size, [&](asio::io_context&, auto& child) {
    auto [mine, theirs] = os::raw_pair();
    child.channel().send(std::string_view("link"), std::move(theirs));
    if (child.channel().template receive<std::string_view>().value != "ready")
      fail("raw: the child did not take the link");
    const os::peer to = os::peer_of(child.pid());
    auto result = parent(mine.get(), to);
    mine.reset(); // the end of the stream for the child
    return result;
  });
}

latency_result latency_raw(std::size_t size)
{
  return with_raw_child("rt", size, [&](os::handle h, const os::peer& to) {
    raw_payload payload(size);
    rx_buffer buf;
    return ping_pong(cfg, [&] {
      os::raw_send(h, to, payload.data(), payload.size());
      std::string_view m;
      if (!os::raw_receive(h, buf, m)) fail("raw: peer closed");
      check_size(m.size(), size);
    });
  });
}

template <class S, class T> latency_result latency_sync(row r, std::size_t size)
{
  return with_child<S>("rt", r, size, [&](asio::io_context&, auto& child) {
    auto& ch = child.channel();
    const std::string storage(size, 'x');
    const T payload(storage);
    return ping_pong(cfg, [&] {
      ch.send(payload);
      auto m = ch.template receive<T>();
      check_size(m.value.size(), size);
    });
  });
}

latency_result latency_async(std::size_t size)
{
  return with_child<ipc::raw>("rt", row::ipc_raw_async, size, [&](asio::io_context& io,
                                                                   auto& child) {
    const std::string storage(size, 'x');
    const std::string_view payload(storage);
    using channel_type = std::remove_reference_t<decltype(child.channel())>;
    return async_pinger<channel_type, std::string_view>(child.channel(), payload, cfg)
      .run(io, "async ping-pong");
  });
}

latency_result measure_latency(row r, std::size_t size)
{
  switch (r) {
  case row::raw:
    return latency_raw(size);
  case row::ipc_raw:
    return latency_sync<ipc::raw, std::string_view>(r, size);
  case row::ipc_binary:
    return latency_sync<ipc::binary, std::string>(r, size);
  case row::ipc_raw_async:
    return latency_async(size);
  }
  fail("no such row");
}

// One-way streams (tp) and handle passing (fd), with measure.hpp's protocol: a warm-up batch,
// then the measured one, each closed by an end marker the child acknowledges with its count.
//
// With handles, a batch goes out in windows of `handle_window` messages, each closed by a marker
// and its acknowledgement (one round trip per window, in every row). ipcxx refuses a send past
// `max_unacknowledged_handles` (1024), and a receiver that is kept busy by buffered messages
// sends its ACKs late (they travel with its next send or its next wait), so an unbounded handle
// stream fails with too_many_unacknowledged_handles: a sender has to pace itself.
constexpr std::size_t handle_window = 256;

/// Whether a window sends one more message (@p i counts the batch's messages).
struct window_budget {
  const budget& b;
  std::size_t first, limit;
  bool more(std::size_t i) const { return b.more(i) && i - first < limit; }
};

/// timed_batches over windows: @p window(w, i) sends while `w.more(i)` (counting in @p i), then
/// the end marker, and returns the child's acknowledgement.
template <class Window> stream_result timed(Window&& window, std::size_t size, bool with_handle)
{
  auto batch = [&](budget b) {
    std::size_t i = 0;
    std::uint64_t total = 0;
    ack last{};
    do {
      const std::size_t first = i;
      last = window(window_budget{b, first, with_handle ? handle_window : SIZE_MAX}, i);
      if (last.count != i - first) fail("lost messages");
      total += last.count;
    } while (b.more(i));
    last.count = total;
    return last;
  };
  return timed_batches(batch, cfg.warmup_time, with_handle ? cfg.fd_count : cfg.stream_count,
                       cfg.stream_time, size);
}

stream_result stream_raw(std::string_view kind, std::size_t size, os::handle pass)
{
  return with_raw_child(kind, size, [&](os::handle h, const os::peer& to) {
    raw_payload payload(size);
    raw_payload marker(0);
    rx_buffer buf;
    auto window = [&](const window_budget& w, std::size_t& i) {
      for (; w.more(i); ++i)
        os::raw_send(h, to, payload.data(), payload.size(), pass);
      os::raw_send(h, to, marker.data(), 0);
      std::string_view m;
      if (!os::raw_receive(h, buf, m)) fail("raw: no ack");
      return parse_ack(m);
    };
    return timed(window, size, pass != os::no_handle);
  });
}

template <class S, class T>
stream_result stream_sync(std::string_view kind, row r, std::size_t size, os::handle pass)
{
  return with_child<S>(kind, r, size, [&](asio::io_context&, auto& child) {
    auto& ch = child.channel();
    const std::string storage(size, 'x');
    const T payload(storage);
    auto window = [&](const window_budget& w, std::size_t& i) {
      for (; w.more(i); ++i) {
        if (pass == os::no_handle)
          ch.send(payload);
        else
          ch.send(payload, ipc::native_handle(os::dup(pass)));
      }
      ch.send(T());
      return parse_ack(ch.template receive<std::string>().value);
    };
    return timed(window, size, pass != os::no_handle);
  });
}

/// The async sender of one window: one async_send at a time, the next started from the
/// previous one's completion; then the end marker and the acknowledgement.
template <class Channel> struct async_streamer {
  Channel& ch;
  std::string_view payload;
  os::handle pass;
  const window_budget& w;
  std::size_t& i;
  std::optional<ack> acked{};
  std::error_code error{};

  void next()
  {
    if (error) return;
    if (!w.more(i)) {
      ch.async_send(std::string_view(), [this](std::error_code ec) {
        if (ec) error = ec;
      });
      ch.template async_receive<std::string>(
        [this](std::error_code ec, ipc::message<std::string> m) {
          if (ec)
            error = ec;
          else
            acked = parse_ack(m.value);
        });
      return;
    }
    auto done = [this](std::error_code ec) {
      if (ec) {
        error = ec;
        return;
      }
      ++i;
      next();
    };
    if (pass == os::no_handle)
      ch.async_send(payload, done);
    else
      ch.async_send(payload, ipc::native_handle(os::dup(pass)), done);
  }
};

stream_result stream_async(std::string_view kind, std::size_t size, os::handle pass)
{
  return with_child<ipc::raw>(kind, row::ipc_raw_async, size, [&](asio::io_context& io,
                                                                  auto& child) {
    const std::string storage(size, 'x');
    auto window = [&](const window_budget& w, std::size_t& i) {
      async_streamer<std::remove_reference_t<decltype(child.channel())>> s{child.channel(),
                                                                            storage, pass, w, i};
      s.next();
      io.restart();
      io.run();
      if (s.error) throw std::system_error(s.error, "async sender");
      if (!s.acked) fail("ipc async: no acknowledgement");
      return *s.acked;
    };
    return timed(window, size, pass != os::no_handle);
  });
}

stream_result measure_stream(row r, std::size_t size, os::handle pass)
{
  const std::string_view kind = pass == os::no_handle ? "tp" : "fd";
  switch (r) {
  case row::raw:
    return stream_raw(kind, size, pass);
  case row::ipc_raw:
    return stream_sync<ipc::raw, std::string_view>(kind, r, size, pass);
  case row::ipc_binary:
    return stream_sync<ipc::binary, std::string>(kind, r, size, pass);
  case row::ipc_raw_async:
    return stream_async(kind, size, pass);
  }
  fail("no such row");
}

/// Spawn to first message: raw is the OS's own process start with one inherited end; ipc-raw
/// is ipc::spawn, then the child's ipc::parent_channel and its first message.
latency_result measure_spawn(row r)
{
  // One start: the time to the first message; the child's exit and reaping are outside it.
  auto once = [&] {
    const auto t0 = clock::now();
    if (r == row::raw) {
      return micros(os::raw_spawn(self, {"--raw-spawned"}) - t0);
    }
    asio::io_context io;
    auto child = ipc::spawn<ipc::raw>(io, self, {"--child", "spawn", "ipc-raw", "0"});
    auto m = child.channel().receive<std::string_view>();
    const double us = micros(clock::now() - t0);
    if (m.value != "up") fail("spawn: unexpected first message");
    child.channel().close();
    if (!child.wait().success()) fail("spawn: child failed");
    return us;
  };
  const budget warm(2, cfg.warmup_time);
  for (std::size_t i = 0; warm.more(i); ++i)
    (void)once();
  std::vector<double> us;
  const budget meas(cfg.spawn_count, cfg.spawn_time);
  for (std::size_t i = 0; meas.more(i); ++i)
    us.push_back(once());
  return summarize(us);
}

/// Ends this process if the run outlives @p limit: no configuration may hang a run (or CI).
void watchdog(std::chrono::seconds limit, const char* who)
{
  std::thread([limit, who] {
    std::this_thread::sleep_for(limit);
    std::fprintf(stderr, "core_bench: %s: watchdog after %lld s\n", who,
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(3);
  }).detach();
}

} // namespace bench

int main(int argc, char** argv)
{
  using namespace bench;
  if (argc == 3 && std::string_view(argv[1]) == "--raw-spawned") {
    try {
      os::raw_spawned_child(argv[2]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "core_bench child: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  if (argc == 5 && std::string_view(argv[1]) == "--child") {
    watchdog(std::chrono::seconds(60), "child");
    try {
      const std::optional<row> r = row_named(argv[3]);
      if (!r) fail("unknown row");
      return child_main(argv[2], *r);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "core_bench child: %s\n", e.what());
      return 1;
    }
  }
  bool markdown = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a(argv[i]);
    if (a == "--quick") {
      cfg.quick = true;
    } else if (a == "--rounds" && i + 1 < argc) {
      cfg.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--markdown") {
      markdown = true;
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--rounds N] [--markdown]\n", argv[0]);
      return 2;
    }
  }
  if (cfg.quick) {
    cfg.rounds = 1;
    cfg.warmup_time = std::chrono::milliseconds(5);
    cfg.warmup_count = 20;
    cfg.latency_time = std::chrono::milliseconds(10);
    cfg.stream_time = std::chrono::milliseconds(15);
    cfg.spawn_time = std::chrono::milliseconds(50);
    cfg.spawn_count = 2;
  }
  watchdog(std::chrono::seconds(cfg.quick ? 120 : 600), "parent");
#ifndef _WIN32
  ::signal(SIGPIPE, SIG_IGN);
#endif

  const std::vector<std::size_t> lat_sizes = {8, 1024, 64 * 1024, 1024 * 1024};
  const std::vector<std::size_t> tp_sizes = {64, 1024 * 1024};
  const std::vector<row> rows(all_rows.begin(), all_rows.end());
  const std::vector<row> spawn_rows = {row::raw, row::ipc_raw};

  // Cells: (measurement, row) -> per-round ratios to raw of the same round (time per round
  // trip, per message or per spawn: 1 is the floor, higher is slower); and the floor itself.
  std::vector<std::string> order;
  std::map<std::string, std::map<row, series>> ratio;
  std::map<std::string, series> floor_value;
  std::map<std::string, std::string> floor_unit;
  auto record = [&](const std::string& what, row r, double cost, double raw_cost,
                    const char* unit, double raw_shown) {
    if (std::find(order.begin(), order.end(), what) == order.end()) order.push_back(what);
    ratio[what][r].v.push_back(cost / raw_cost);
    if (r == row::raw) {
      floor_value[what].v.push_back(raw_shown);
      floor_unit[what] = unit;
    }
  };

  const auto start = clock::now();
  try {
    self = os::self_path();
    const os::handle null_handle = os::open_null();
    // Process-level warm-up: one short pass of each kind, discarded.
    {
      const config saved = cfg;
      cfg.latency_time = cfg.stream_time = cfg.warmup_time;
      for (row r : rows) {
        (void)measure_latency(r, 1024);
        (void)measure_stream(r, 64, os::no_handle);
      }
      cfg = saved;
    }
    for (int round = 0; round < cfg.rounds; ++round) {
      for (std::size_t size : lat_sizes) {
        std::map<row, latency_result> got;
        for (row r : rotated(rows, round))
          got[r] = measure_latency(r, size);
        for (row r : rows) {
          record("rt " + size_name(size) + " p50", r, got[r].p50_us, got[row::raw].p50_us, "us",
                 got[r].p50_us);
          record("rt " + size_name(size) + " p99", r, got[r].p99_us, got[row::raw].p99_us, "us",
                 got[r].p99_us);
        }
      }
      for (std::size_t size : tp_sizes) {
        std::map<row, stream_result> got;
        for (row r : rotated(rows, round))
          got[r] = measure_stream(r, size, os::no_handle);
        const bool small = size < 1024;
        for (row r : rows)
          record("one-way " + size_name(size), r, 1 / got[r].msgs_per_s,
                 1 / got[row::raw].msgs_per_s, small ? "msgs/s" : "MB/s",
                 small ? got[r].msgs_per_s : got[r].mb_per_s);
      }
      {
        std::map<row, stream_result> got;
        for (row r : rotated(rows, round))
          got[r] = measure_stream(r, 8, null_handle);
        for (row r : rows)
          record("1 handle/msg", r, 1 / got[r].msgs_per_s, 1 / got[row::raw].msgs_per_s,
                 "msgs/s", got[r].msgs_per_s);
      }
      {
        std::map<row, latency_result> got;
        for (row r : rotated(spawn_rows, round))
          got[r] = measure_spawn(r);
        for (row r : spawn_rows)
          record("spawn to 1st msg p50", r, got[r].p50_us, got[row::raw].p50_us, "us",
                 got[r].p50_us);
      }
      std::fprintf(stderr, "core_bench: round %d done (%.1f s)\n", round + 1,
                   seconds(clock::now() - start));
    }
    os::close(null_handle);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "core_bench: %s\n", e.what());
    return 1;
  }

#ifdef _WIN32
  const char* platform = "windows";
#else
  const char* platform = "linux";
#endif
  std::printf("core_bench (%s): CPUs allowed {%s}, %d round%s%s, %.1f s.\n"
              "Each cell: the row's time (per round trip, per message, per spawn) divided by the "
              "raw floor's of the same round; median over rounds [min-max]. 1 = the floor, "
              "higher is slower.\n",
              platform, os::cpus().c_str(), cfg.rounds, cfg.rounds == 1 ? "" : "s",
              cfg.quick ? " (--quick)" : "", seconds(clock::now() - start));
  if (markdown) {
    // One line per (measurement, row): bench/wine_compare joins two of these tables by those
    // two columns. The raw rows are left out (1 by definition).
    std::printf("\n| measurement | row | × raw floor |\n|---|---|---|\n");
    for (const auto& what : order)
      for (const auto& [r, s] : ratio[what])
        if (r != row::raw) std::printf("| %s | %s | %s |\n", what.c_str(), row_name(r), cell(s).c_str());
    return 0;
  }
  std::printf("\n%-22s %-22s", "measurement", "raw floor");
  for (row r : rows)
    if (r != row::raw) std::printf(" %-22s", row_name(r));
  std::printf("\n");
  for (const auto& what : order) {
    std::printf("%-22s %-22s", what.c_str(),
                (fmt(floor_value[what].median()) + " " + floor_unit[what]).c_str());
    for (row r : rows) {
      if (r == row::raw) continue;
      auto it = ratio[what].find(r);
      std::printf(" %-22s", it == ratio[what].end() ? "" : cell(it->second).c_str());
    }
    std::printf("\n");
  }
  return 0;
}
