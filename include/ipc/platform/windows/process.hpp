// ipc/platform/windows/process.hpp - starting, waiting for and terminating child processes.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_WINDOWS_PROCESS_HPP
#define IPC_PLATFORM_WINDOWS_PROCESS_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/platform/windows/traits.hpp"

#include <asio/windows/basic_object_handle.hpp>

#include <windows.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE
namespace platform::windows {

/// Process primitives over CreateProcessW. The portable layer speaks in POSIX shapes (pids,
/// descriptor numbers, signals); this maps them:
///   - a child inherits exactly the handles named by the plan: they are made inheritable for
///     the call only and listed in PROC_THREAD_ATTRIBUTE_HANDLE_LIST (without the list,
///     `bInheritHandles` hands over every inheritable handle of the parent);
///   - descriptor numbers 0-2 are the STARTUPINFO standard handles; the channel keeps its
///     handle value in the child, and that value is what the environment announces;
///   - the pid is what the portable layer holds; the process handle stays in a table here (as
///     an unreaped zombie would on POSIX, it keeps the pid from being reused) until `wait`
///     reaps it;
///   - "signals" are TerminateProcess: a child we terminated with `kill(sig)` reports
///     `sig` as the signal that ended it, as on POSIX.
struct process {
  using pid_type = long;
  using fd_type = HANDLE;
  static constexpr fd_type invalid_fd = nullptr;
  static bool valid_fd(fd_type h) noexcept { return h != nullptr && h != INVALID_HANDLE_VALUE; }

  /// Waits for a process handle inside an event loop, in the shape of a POSIX descriptor wait.
  template <class Executor>
  class exit_waiter {
  public:
    enum wait_type { wait_read };
    using executor_type = Executor;
    explicit exit_waiter(const Executor& ex) : handle_(ex) {}
    executor_type get_executor() noexcept { return handle_.get_executor(); }
    void assign(HANDLE h, std::error_code& ec) { handle_.assign(h, ec); }
    bool is_open() const noexcept { return handle_.is_open(); }
    void close(std::error_code& ec) { handle_.close(ec); }
    template <class Handler>
    void async_wait(wait_type, Handler&& handler)
    {
      handle_.async_wait(std::forward<Handler>(handler));
    }

  private:
    asio::windows::basic_object_handle<Executor> handle_;
  };

  /// A handle to hand to the child: `target` 0-2 are its stdin, stdout and stderr (`source`
  /// nullptr: the NUL device); any other target is inherited with its value unchanged.
  struct fd_mapping {
    int target;
    fd_type source;
  };

  /// What to start. Strings are UTF-8, NUL-terminated, and outlive the call.
  struct spawn_plan {
    const char* path = nullptr;       // searched as CreateProcessW searches when not a path
    std::vector<char*> argv;          // ends with nullptr; argv[0] is the program
    std::vector<char*> envp;          // ends with nullptr
    const char* cwd = nullptr;        // nullptr: the parent's
    std::vector<fd_mapping> mappings; // targets are distinct
  };

  /// Appends @p arg to @p out quoted so that CommandLineToArgvW (and the C runtime's argv
  /// parser) gives back exactly @p arg: backslashes are literal except before a quote, where
  /// 2n backslashes + quote mean n backslashes and a delimiter, and 2n+1 mean n and a quote.
  static void append_quoted(std::wstring_view arg, std::wstring& out)
  {
    if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring_view::npos) {
      out += arg;
      return;
    }
    out += L'"';
    for (std::size_t i = 0;; ++i) {
      std::size_t slashes = 0;
      while (i < arg.size() && arg[i] == L'\\') {
        ++slashes;
        ++i;
      }
      if (i == arg.size()) {
        out.append(slashes * 2, L'\\'); // the closing quote must stay a quote
        break;
      }
      if (arg[i] == L'"') {
        out.append(slashes * 2 + 1, L'\\');
        out += L'"';
      } else {
        out.append(slashes, L'\\');
        out += arg[i];
      }
    }
    out += L'"';
  }

  /// The command line for @p argv (argv[0] is the program; it is only quoted, never escaped,
  /// since the program name is parsed without backslash rules).
  static std::wstring command_line(const std::vector<char*>& argv, std::error_code& ec)
  {
    std::wstring line;
    for (std::size_t i = 0; i < argv.size() && argv[i] != nullptr; ++i) {
      const std::wstring w = widen(argv[i], ec);
      if (ec) return {};
      if (i == 0) {
        if (w.find(L'"') != std::wstring::npos) {
          ec = std::make_error_code(std::errc::invalid_argument);
          return {};
        }
        line += L'"';
        line += w;
        line += L'"';
      } else {
        line += L' ';
        append_quoted(w, line);
      }
    }
    ec.clear();
    return line;
  }

  /// Starts @p plan.
  static pid_type spawn(const spawn_plan& plan, std::error_code& ec)
  {
    // Only the channel keeps its value in the child; other numbered descriptors have no
    // Windows meaning (the child could not know their values).
    if (std::count_if(plan.mappings.begin(), plan.mappings.end(),
                      [](const fd_mapping& m) { return m.target > 2; }) > 1) {
      ec = std::make_error_code(std::errc::operation_not_supported);
      return -1;
    }
    std::wstring cmd = command_line(plan.argv, ec);
    if (ec) return -1;
    std::wstring env;
    for (std::size_t i = 0; i < plan.envp.size() && plan.envp[i] != nullptr; ++i) {
      env += widen(plan.envp[i], ec);
      if (ec) return -1;
      env += L'\0';
    }
    if (env.empty()) env += L'\0'; // an empty block still ends with two NULs
    env += L'\0';
    std::wstring cwd;
    if (plan.cwd != nullptr) {
      cwd = widen(plan.cwd, ec);
      if (ec) return -1;
    }

    // Handles the child gets: inheritable duplicates for the standard handles (the values do
    // not matter, STARTUPINFO names them), the originals made inheritable for the rest (their
    // values are what the child is told). All are restored or closed below.
    std::vector<HANDLE> owned;       // duplicates closed after the call
    std::vector<HANDLE> flagged;     // originals whose inherit flag is cleared again
    std::vector<HANDLE> list;        // PROC_THREAD_ATTRIBUTE_HANDLE_LIST
    HANDLE std_handles[3] = {nullptr, nullptr, nullptr};
    bool mapped[3] = {false, false, false};
    auto cleanup = [&] {
      for (HANDLE h : owned) ::CloseHandle(h);
      for (HANDLE h : flagged) ::SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0);
    };
    auto inheritable_copy = [&](HANDLE source, HANDLE& out) {
      const HANDLE self = ::GetCurrentProcess();
      if (!::DuplicateHandle(self, source, self, &out, 0, TRUE, DUPLICATE_SAME_ACCESS)) {
        ec = last_error();
        return false;
      }
      owned.push_back(out);
      return true;
    };
    for (const auto& m : plan.mappings) {
      if (m.target >= 0 && m.target < 3) {
        mapped[m.target] = true;
        HANDLE h = nullptr;
        if (!valid_fd(m.source)) {
          SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
          h = ::CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                            &sa, OPEN_EXISTING, 0, nullptr);
          if (h == INVALID_HANDLE_VALUE) {
            ec = last_error();
            cleanup();
            return -1;
          }
          owned.push_back(h);
        } else if (!inheritable_copy(m.source, h)) {
          cleanup();
          return -1;
        }
        std_handles[m.target] = h;
      } else {
        if (!::SetHandleInformation(m.source, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)) {
          ec = last_error();
          cleanup();
          return -1;
        }
        flagged.push_back(m.source);
        list.push_back(m.source);
      }
    }
    static constexpr DWORD std_ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
    for (int i = 0; i < 3; ++i) {
      if (mapped[i]) continue;
      // Inherited stdio: the parent's own, when it has one (a GUI program may not).
      const HANDLE parent = ::GetStdHandle(std_ids[i]);
      HANDLE h = nullptr;
      if (valid_fd(parent) && !inheritable_copy(parent, h)) h = nullptr;
      std_handles[i] = h;
    }
    ec.clear();
    for (HANDLE h : std_handles)
      if (h != nullptr && std::find(list.begin(), list.end(), h) == list.end()) list.push_back(h);

    SIZE_T size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
    std::vector<std::byte> storage(size);
    auto* attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage.data());
    if (!::InitializeProcThreadAttributeList(attrs, 1, 0, &size)) {
      ec = last_error();
      cleanup();
      return -1;
    }
    STARTUPINFOEXW si{};
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = std_handles[0];
    si.StartupInfo.hStdOutput = std_handles[1];
    si.StartupInfo.hStdError = std_handles[2];
    si.lpAttributeList = attrs;
    const bool inherit = !list.empty();
    if (inherit && !::UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                                list.data(), list.size() * sizeof(HANDLE), nullptr,
                                                nullptr)) {
      ec = last_error();
      ::DeleteProcThreadAttributeList(attrs);
      cleanup();
      return -1;
    }
    PROCESS_INFORMATION pi{};
    const BOOL ok = ::CreateProcessW(nullptr, cmd.data(), nullptr, nullptr, inherit ? TRUE : FALSE,
                                     EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT,
                                     env.data(), cwd.empty() ? nullptr : cwd.c_str(),
                                     &si.StartupInfo, &pi);
    if (!ok) ec = last_error();
    ::DeleteProcThreadAttributeList(attrs);
    cleanup();
    if (!ok) return -1;
    ::CloseHandle(pi.hThread);
    const pid_type pid = static_cast<pid_type>(pi.dwProcessId);
    {
      std::lock_guard lock(table_mutex());
      table()[pid] = entry{pi.hProcess, 0};
    }
    return pid;
  }

  /// A handle that is signalled when @p pid exits (a duplicate of the one kept here).
  static fd_type open_exit_notifier(pid_type pid, std::error_code& ec) noexcept
  {
    std::lock_guard lock(table_mutex());
    auto it = table().find(pid);
    if (it == table().end()) {
      ec = std::make_error_code(std::errc::no_child_process);
      return nullptr;
    }
    HANDLE out = nullptr;
    const HANDLE self = ::GetCurrentProcess();
    if (!::DuplicateHandle(self, it->second.process, self, &out, SYNCHRONIZE, FALSE, 0)) {
      ec = last_error();
      return nullptr;
    }
    ec.clear();
    return out;
  }

  struct status {
    bool done = false;
    int exit_code = -1;
    int signal = 0;
  };

  /// Reaps @p pid if it has ended (@p block: waits for it): its handle is closed, and the pid
  /// may be reused from then on.
  static status wait(pid_type pid, bool block, std::error_code& ec) noexcept
  {
    status s;
    HANDLE h = nullptr;
    {
      std::lock_guard lock(table_mutex());
      auto it = table().find(pid);
      if (it == table().end()) {
        ec = std::make_error_code(std::errc::no_child_process);
        return s;
      }
      h = it->second.process;
    }
    // Waiting outside the lock: another thread may reap the same pid meanwhile, which the
    // lookup below notices. The handle itself stays open until it is erased under the lock.
    const DWORD r = ::WaitForSingleObject(h, block ? INFINITE : 0);
    if (r == WAIT_TIMEOUT) {
      ec.clear();
      return s;
    }
    if (r != WAIT_OBJECT_0) {
      ec = last_error();
      return s;
    }
    std::lock_guard lock(table_mutex());
    auto it = table().find(pid);
    if (it == table().end()) {
      ec = std::make_error_code(std::errc::no_child_process);
      return s;
    }
    DWORD code = 0;
    ::GetExitCodeProcess(it->second.process, &code);
    s.done = true;
    if (it->second.killed_with != 0 && code == kill_code(it->second.killed_with))
      s.signal = it->second.killed_with;
    else
      s.exit_code = static_cast<int>(code);
    ::CloseHandle(it->second.process);
    table().erase(it);
    ec.clear();
    return s;
  }

  /// Terminates @p pid (there are no signals to deliver: any @p sig ends it at once, with exit
  /// code 128 + @p sig). A child that has already exited is left alone.
  static void kill(pid_type pid, int sig, std::error_code& ec) noexcept
  {
    std::lock_guard lock(table_mutex());
    auto it = table().find(pid);
    if (it == table().end()) {
      ec = std::make_error_code(std::errc::no_such_process);
      return;
    }
    ec.clear();
    if (::WaitForSingleObject(it->second.process, 0) == WAIT_OBJECT_0) return;
    if (!::TerminateProcess(it->second.process, kill_code(sig))) {
      if (::WaitForSingleObject(it->second.process, 0) != WAIT_OBJECT_0) ec = last_error();
      return;
    }
    it->second.killed_with = sig;
  }

  static constexpr int terminate_signal = 15; // SIGTERM's number, for the portable API
  static constexpr int kill_signal = 9;       // SIGKILL's

  static void close_fd(fd_type fd) noexcept { ::CloseHandle(fd); }

  /// A pipe for a child's standard stream, [read, write]. The end at @p parent_end (0 or 1)
  /// is overlapped, for the parent's Asio pipe object; the child's end is a plain synchronous
  /// handle, as programs expect of their stdio. Neither is inheritable.
  static bool make_stdio_pipe(fd_type (&fds)[2], int parent_end, std::error_code& ec) noexcept
  {
    static std::atomic<unsigned> counter{0};
    wchar_t name[96];
    std::swprintf(name, 96, L"\\\\.\\pipe\\ipcxx-stdio-%lu-%u-%p", ::GetCurrentProcessId(),
                  counter.fetch_add(1), static_cast<void*>(&counter));
    const bool parent_reads = parent_end == 0;
    HANDLE server = ::CreateNamedPipeW(
      name, (parent_reads ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND) | FILE_FLAG_OVERLAPPED |
              FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
      traits::pipe_buffer, traits::pipe_buffer, 0, nullptr);
    if (server == INVALID_HANDLE_VALUE) {
      ec = last_error();
      return false;
    }
    HANDLE client = ::CreateFileW(name, parent_reads ? GENERIC_WRITE : GENERIC_READ, 0, nullptr,
                                  OPEN_EXISTING, 0, nullptr);
    if (client == INVALID_HANDLE_VALUE) {
      ec = last_error();
      ::CloseHandle(server);
      return false;
    }
    fds[parent_end] = server;
    fds[1 - parent_end] = client;
    ec.clear();
    return true;
  }

  /// Tells the parent's end of a spawned channel which process holds the other end: the
  /// parent opened both ends of the pipe, so the pipe itself names the parent as the client
  /// (handles sent to the child must be duplicated into the child, not into ourselves).
  template <class Channel>
  static void set_channel_peer(Channel& ch, pid_type pid) noexcept
  {
    if (!ch.is_open()) return;
    if (pipe_state* st = ch.next_layer().native_handle().state) st->peer_pid = static_cast<DWORD>(pid);
  }

  /// The environment variable's text for the channel handed to the child: its handle value
  /// (unchanged by inheritance).
  static std::string inherited_value(int, fd_type source)
  {
    return std::to_string(reinterpret_cast<std::uintptr_t>(source));
  }

  /// Parses what `inherited_value` wrote. The handle was inherited inheritable: that flag is
  /// cleared, so that our own children do not inherit it by accident.
  static bool parse_inherited(std::string_view text, fd_type& out) noexcept
  {
    std::uint64_t v = 0;
    auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (err != std::errc() || end != text.data() + text.size() || v == 0) return false;
    out = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(v));
    DWORD flags = 0;
    if (!::GetHandleInformation(out, &flags)) return false;
    ::SetHandleInformation(out, HANDLE_FLAG_INHERIT, 0);
    return true;
  }

  static char** environment() noexcept { return _environ; }
  static const char* get_env(const char* name) noexcept { return std::getenv(name); }
  /// Removes @p name from the C runtime's copy and the process's environment block.
  static void unset_env(const char* name) noexcept
  {
    ::_putenv_s(name, "");
    ::SetEnvironmentVariableA(name, nullptr);
  }

  /// UTF-8 to UTF-16; invalid UTF-8 is an error, not a replacement character.
  static std::wstring widen(std::string_view s, std::error_code& ec)
  {
    ec.clear();
    if (s.empty()) return {};
    const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(),
                                        static_cast<int>(s.size()), nullptr, 0);
    if (n <= 0) {
      ec = last_error();
      return {};
    }
    std::wstring w(static_cast<std::size_t>(n), L'\0');
    ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()),
                          w.data(), n);
    return w;
  }

private:
  struct entry {
    HANDLE process;
    int killed_with; // the "signal" kill() terminated it with, else 0
  };
  static DWORD kill_code(int sig) noexcept { return static_cast<DWORD>(128 + sig); }
  static std::mutex& table_mutex() noexcept
  {
    static std::mutex m;
    return m;
  }
  static std::map<pid_type, entry>& table() noexcept
  {
    static std::map<pid_type, entry> t;
    return t;
  }
};

} // namespace platform::windows
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_WINDOWS_PROCESS_HPP
