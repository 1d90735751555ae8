// tests/support.hpp - helpers shared by the POSIX suites: descriptor counting, forked children
// (with a channel to them), socket pairs and reading peers' output.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_TESTS_SUPPORT_HPP
#define IPC_TESTS_SUPPORT_HPP

#include "ipc/native_handle.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/basic_readable_pipe.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>

#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <utility>

namespace ipc_test {

/// Open descriptors of this process (entries of /proc/self/fd, minus the one used to list them).
inline int open_fds()
{
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n - 3; // ".", ".." and the directory's own descriptor
}

/// Asserts that a scope leaves the number of open descriptors as it found it.
struct fd_guard {
  int before = open_fds();
  ~fd_guard() { BOOST_CHECK_EQUAL(open_fds(), before); }
};

/// A connected Unix stream socketpair as owned, close-on-exec handles (for channels adopted in
/// forked children).
inline std::pair<ipc::native_handle, ipc::native_handle> socket_pair()
{
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  return {ipc::native_handle(sv[0]), ipc::native_handle(sv[1])};
}

/// One line from @p s, its newline included (blocks until it is there).
inline std::string read_line(asio::ip::tcp::socket& s)
{
  std::string line;
  asio::read_until(s, asio::dynamic_buffer(line), '\n');
  return line.substr(0, line.find('\n') + 1);
}

/// Everything a child writes to @p p until it closes it.
inline std::string read_all(asio::basic_readable_pipe<asio::any_io_executor>& p)
{
  std::string out;
  std::error_code ec;
  asio::read(p, asio::dynamic_buffer(out), ec);
  BOOST_TEST((!ec || ec == asio::error::eof));
  return out;
}

/// A forked child running @p body; its exit status is 0 when @p body returns true. Exceptions
/// and failed checks in the child become a non-zero status (the child never returns into the
/// test runner).
class child_process {
public:
  explicit child_process(std::function<bool()> body)
  {
    std::fflush(nullptr);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int code = 1;
      try {
        code = body() ? 0 : 2;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: exception: %s\n", e.what());
        code = 3;
      } catch (...) {
        code = 4;
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
  }
  child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), reaped_(other.reaped_)
  {
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process()
  {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }

  pid_t pid() const { return pid_; }

  /// Waits and returns the exit code (128 + signal for a signalled child).
  int wait()
  {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0) {
    }
    reaped_ = true;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
  }

  void kill(int sig = SIGKILL) { ::kill(pid_, sig); }

private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// A forked child that talks to this process over one end of a socket pair: it closes its copy
/// of @p mine, adopts @p theirs as a @p Channel on an io_context of its own and returns
/// `body(io, channel)`. This process's copy of @p theirs is closed; @p mine stays for the
/// caller to adopt.
template <class Channel, class Body>
child_process forked(ipc::native_handle& mine, ipc::native_handle& theirs, Body body)
{
  const int keep = theirs.get(), drop = mine.get();
  child_process child([=]() mutable {
    ::close(drop);
    asio::io_context io;
    Channel ch(io.get_executor(), ipc::native_handle(keep));
    return body(io, ch);
  });
  theirs.reset();
  return child;
}

} // namespace ipc_test

#endif // IPC_TESTS_SUPPORT_HPP
