// ipc/platform/posix/process.hpp - starting, waiting for and signalling child processes.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_POSIX_PROCESS_HPP
#define IPC_PLATFORM_POSIX_PROCESS_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"

#include <asio/posix/basic_stream_descriptor.hpp>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

IPC_BEGIN_NAMESPACE
namespace platform::posix {

/// Process primitives. Children are started with `posix_spawn`: glibc runs the child side with
/// CLONE_VFORK and only async-signal-safe steps, reports a failed exec/chdir/dup2 as the return
/// value of the call (so a missing program is ENOENT from spawn, not a child exiting 127), and
/// is safe to call from several threads at once.
struct process {
  using pid_type = ::pid_t;
  using fd_type = int;
  static constexpr fd_type invalid_fd = -1;
  static bool valid_fd(fd_type fd) noexcept { return fd >= 0; }

  /// Waits on the descriptor from `open_exit_notifier` inside an event loop.
  template <class Executor>
  using exit_waiter = asio::posix::basic_stream_descriptor<Executor>;

  /// A descriptor to place at `target` in the child. `source` is one of the parent's descriptors
  /// (borrowed: the parent keeps it), or -1 for /dev/null.
  struct fd_mapping {
    fd_type target;
    fd_type source;
  };

  /// What to start. Strings are NUL-terminated and outlive the call.
  struct spawn_plan {
    const char* path = nullptr;          // searched in PATH when it has no '/'
    std::vector<char*> argv;             // ends with nullptr
    std::vector<char*> envp;             // ends with nullptr
    const char* cwd = nullptr;           // nullptr: the parent's
    std::vector<fd_mapping> mappings;    // targets are distinct
  };

  /// Starts @p plan. The child inherits exactly the mapped descriptors (plus 0-2 when not
  /// mapped, which it shares with the parent); every other descriptor is closed in the child even
  /// when it lacks FD_CLOEXEC. Signal mask emptied and dispositions reset to default.
  static pid_type spawn(const spawn_plan& plan, std::error_code& ec)
  {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    if (int e = ::posix_spawn_file_actions_init(&actions)) {
      ec.assign(e, std::system_category());
      return -1;
    }
    if (int e = ::posix_spawnattr_init(&attr)) {
      ::posix_spawn_file_actions_destroy(&actions);
      ec.assign(e, std::system_category());
      return -1;
    }
    int e = build(plan, actions, attr);
    pid_type pid = -1;
    if (e == 0) {
      char* const* argv = plan.argv.data();
      char* const* envp = plan.envp.data();
      if (std::strchr(plan.path, '/') != nullptr)
        e = ::posix_spawn(&pid, plan.path, &actions, &attr, argv, envp);
      else
        e = ::posix_spawnp(&pid, plan.path, &actions, &attr, argv, envp);
    }
    ::posix_spawnattr_destroy(&attr);
    ::posix_spawn_file_actions_destroy(&actions);
    if (e != 0) {
      ec.assign(e, std::system_category());
      return -1;
    }
    ec.clear();
    return pid;
  }

  /// A descriptor that becomes readable when @p pid exits (Linux pidfd): lets an event loop wait
  /// for one specific child without a SIGCHLD handler and without `wait(-1)`.
  static fd_type open_exit_notifier(pid_type pid, std::error_code& ec) noexcept
  {
    const long r = ::syscall(SYS_pidfd_open, pid, 0);
    if (r < 0) {
      ec.assign(errno, std::system_category());
      return -1;
    }
    const int fd = static_cast<int>(r);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC); // pidfds are close-on-exec already; be explicit
    ec.clear();
    return fd;
  }

  struct status {
    bool done = false; // reaped
    int exit_code = -1; // when it exited normally
    int signal = 0;     // when a signal ended it
  };

  /// Reaps @p pid if it has ended (@p block: waits for it). Only this pid: never `wait(-1)`.
  static status wait(pid_type pid, bool block, std::error_code& ec) noexcept
  {
    status s;
    int st = 0;
    for (;;) {
      const pid_type r = ::waitpid(pid, &st, block ? 0 : WNOHANG);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        ec.assign(errno, std::system_category());
        return s;
      }
      ec.clear();
      if (r == 0) return s;
      break;
    }
    s.done = true;
    if (WIFEXITED(st)) s.exit_code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) s.signal = WTERMSIG(st);
    return s;
  }

  static void kill(pid_type pid, int sig, std::error_code& ec) noexcept
  {
    if (::kill(pid, sig) != 0) ec.assign(errno, std::system_category());
    else ec.clear();
  }

  static constexpr int terminate_signal = SIGTERM;
  static constexpr int kill_signal = SIGKILL;

  static void close_fd(fd_type fd) noexcept { ::close(fd); }

  /// A pipe, both ends close-on-exec: [read, write].
  static bool make_pipe(fd_type (&fds)[2], std::error_code& ec) noexcept
  {
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      ec.assign(errno, std::system_category());
      return false;
    }
    ec.clear();
    return true;
  }

  /// A pipe for a child's standard stream: [read, write], as `make_pipe` (POSIX needs no
  /// different setup for the parent's end, @p parent_end).
  static bool make_stdio_pipe(fd_type (&fds)[2], int parent_end, std::error_code& ec) noexcept
  {
    (void)parent_end;
    return make_pipe(fds, ec);
  }

  /// The kernel knows who is at the other end of a socket: nothing to record.
  template <class Channel>
  static void set_channel_peer(Channel&, pid_type) noexcept
  {
  }

  /// The environment variable's text for the channel placed at @p target in the child.
  static std::string inherited_value(int target, fd_type) { return std::to_string(target); }

  /// Parses what `inherited_value` wrote.
  static bool parse_inherited(std::string_view text, fd_type& out) noexcept
  {
    int fd = -1;
    auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), fd);
    if (err != std::errc() || end != text.data() + text.size() || fd < 0) return false;
    out = fd;
    return true;
  }

  static char** environment() noexcept { return environ; }

  static const char* get_env(const char* name) noexcept { return std::getenv(name); }
  static void unset_env(const char* name) noexcept { ::unsetenv(name); }

private:
  static int build(const spawn_plan& plan, posix_spawn_file_actions_t& fa, posix_spawnattr_t& attr)
  {
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    if (int e = ::posix_spawnattr_setsigmask(&attr, &empty)) return e;
    if (int e = ::posix_spawnattr_setsigdefault(&attr, &all)) return e;
    if (int e = ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
      return e;

    // Move every source out of the way first (to numbers above all sources and targets), then
    // into place: mapping 3->4 and 4->3 must not clobber each other.
    int top = 2;
    for (const auto& m : plan.mappings) top = std::max({top, m.target, m.source});
    int temp = top + 1;
    std::vector<std::pair<int, int>> moves; // temp -> target
    for (const auto& m : plan.mappings) {
      if (m.source < 0) {
        if (int e = ::posix_spawn_file_actions_addopen(&fa, temp, "/dev/null", O_RDWR, 0)) return e;
      } else if (int e = ::posix_spawn_file_actions_adddup2(&fa, m.source, temp)) {
        return e;
      }
      moves.emplace_back(temp++, m.target);
    }
    for (auto [from, to] : moves)
      if (int e = ::posix_spawn_file_actions_adddup2(&fa, from, to)) return e;

    // Close everything not mapped: all above the highest target at once, and the gaps below it
    // that are open without FD_CLOEXEC in the parent now (those with it close at exec anyway).
    int max_target = 2;
    for (const auto& m : plan.mappings) max_target = std::max(max_target, m.target);
    if (int e = ::posix_spawn_file_actions_addclosefrom_np(&fa, max_target + 1)) return e;
    for (int fd = 3; fd < max_target; ++fd) {
      const bool mapped = std::any_of(plan.mappings.begin(), plan.mappings.end(),
                                      [fd](const fd_mapping& m) { return m.target == fd; });
      if (mapped) continue;
      const int flags = ::fcntl(fd, F_GETFD);
      if (flags >= 0 && !(flags & FD_CLOEXEC))
        if (int e = ::posix_spawn_file_actions_addclose(&fa, fd)) return e;
    }
    if (plan.cwd != nullptr)
      if (int e = ::posix_spawn_file_actions_addchdir_np(&fa, plan.cwd)) return e;
    return 0;
  }
};

} // namespace platform::posix
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_POSIX_PROCESS_HPP
