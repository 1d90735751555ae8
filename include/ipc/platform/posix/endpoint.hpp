// ipc/platform/posix/endpoint.hpp - named Unix domain sockets: listen, accept, connect.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_POSIX_ENDPOINT_HPP
#define IPC_PLATFORM_POSIX_ENDPOINT_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/platform/posix/traits.hpp"

#include <asio/basic_socket_acceptor.hpp>
#include <asio/error.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

IPC_BEGIN_NAMESPACE
namespace platform::posix {

/// Named local endpoints: Unix domain stream sockets bound to a filesystem path or (Linux) to a
/// name in the abstract namespace. Every descriptor made here is close-on-exec from birth.
struct endpoint_traits {
  using native_handle_type = int;

  /// Longest path: `sun_path` less its terminating NUL (107 bytes on Linux, 103 on the BSDs).
  static constexpr std::size_t max_path_size = sizeof(sockaddr_un{}.sun_path) - 1;
  /// Longest abstract name: `sun_path` less the leading NUL that marks the namespace.
  static constexpr std::size_t max_abstract_size = sizeof(sockaddr_un{}.sun_path) - 1;
  /// Longest Windows pipe name (parsed everywhere, served only by the Windows backend).
  static constexpr std::size_t max_pipe_size = 256;
#if defined(__linux__)
  static constexpr bool has_abstract_namespace = true;
#else
  static constexpr bool has_abstract_namespace = false;
#endif
  static constexpr bool has_socket_files = true;
  static constexpr bool has_named_pipes = false;
  /// Peers are told apart by user id (SO_PEERCRED), so `acceptor_options::peer_uid` works.
  static constexpr bool has_peer_uid = true;

  /// A name as the socket layer sees it: a path, or an abstract name (without its '@'); `pipe`
  /// (a Windows pipe name) never reaches this backend.
  struct address {
    std::string_view name;
    bool abstract = false;
    bool pipe = false;
  };

  /// The socket file an acceptor created: it removes the file at close only if the path still
  /// names this inode and the closing process is the one that created it (a forked child that
  /// destroys its copy of the acceptor must not take the name from its parent).
  struct file_identity {
    ::dev_t dev = 0;
    ::ino_t ino = 0;
    ::pid_t owner = -1;
  };

  /// Timeouts this long (or `max()`) mean "no timeout": past them a steady_clock deadline
  /// would overflow.
  static constexpr std::chrono::milliseconds forever_threshold = std::chrono::hours(24 * 365 * 100);

  /// The effective user id, which the kernel reports to peers (SO_PEERCRED).
  static long effective_uid() noexcept
  {
    return static_cast<long>(::geteuid());
  }

  /// Binds, sets the permissions of and listens on a new non-blocking socket named @p a.
  ///
  /// A path is made race-free: the socket is bound inside a fresh 0700 directory (mkdtemp, next
  /// to the target so that it is on the same filesystem), chmod'ed there where nobody else can
  /// reach it, made to listen, and only then hard-linked to the target name. link() never
  /// replaces, so an existing name is examined instead: a socket nobody listens on
  /// (ECONNREFUSED) is stale and is moved away (only if it is still the inode that was probed);
  /// one with a listener is `address_in_use`; anything that is not a socket is `file_exists`
  /// and stays untouched. @p mode is applied with chmod, so the umask does not narrow it.
  static native_handle_type listen(const address& a, unsigned mode, int backlog, file_identity& id,
                                   std::error_code& ec)
  {
    id = file_identity{};
    if (a.abstract) return listen_abstract(a.name, backlog, ec);
    if ((mode & ~0777u) != 0) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return -1;
    }
    const std::string target(a.name);
    const std::size_t slash = target.rfind('/');
    const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
    if (base.empty() || base == "." || base == "..") {
      ec = std::make_error_code(std::errc::is_a_directory);
      return -1;
    }
    std::string dir = slash == std::string::npos ? std::string(".") : target.substr(0, slash);
    if (dir.empty()) dir = "/";
    staging s;
    s.dir = dir + (dir.back() == '/' ? "" : "/") + ".ipc" + "XXXXXX";
    if (::mkdtemp(s.dir.data()) == nullptr) {
      ec.assign(errno, std::system_category());
      s.dir.clear();
      return -1;
    }
    // mkdtemp asks for 0700 but the umask applies; make sure the owner can use it.
    if (!sys(::chmod(s.dir.c_str(), 0700), ec)) return -1;
    s.sock = s.dir + "/s";
    std::string bind_path = s.sock;
    if (bind_path.size() > max_path_size) {
#if defined(__linux__)
      // The staging path may be longer than the target: name the directory through procfs.
      s.dir_fd = ::open(s.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (s.dir_fd < 0) {
        ec.assign(errno, std::system_category());
        return -1;
      }
      bind_path = "/proc/self/fd/" + std::to_string(s.dir_fd) + "/s";
#else
      ec = std::make_error_code(std::errc::filename_too_long);
      return -1;
#endif
    }
    int fd = open_socket(/*nonblocking=*/true, ec);
    if (fd < 0) return -1;
    struct stat st {};
    if (!bind_to(fd, {bind_path, false}, ec) || !sys(::chmod(s.sock.c_str(), mode), ec) ||
        !sys(::lstat(s.sock.c_str(), &st), ec) || !sys(::listen(fd, backlog), ec)) {
      ::close(fd);
      return -1;
    }
    // A few rounds: each one that finds a stale file removes it; a name that keeps coming back
    // (servers racing for it) ends as address_in_use.
    ec = std::make_error_code(std::errc::address_in_use);
    for (int attempt = 0; attempt < 8; ++attempt) {
      if (::link(s.sock.c_str(), target.c_str()) == 0) {
        id = {st.st_dev, st.st_ino, ::getpid()};
        ec.clear();
        return fd;
      }
      if (errno != EEXIST) {
        ec.assign(errno, std::system_category());
        break;
      }
      if (!replace_stale(target, s, ec)) break;
      ec = std::make_error_code(std::errc::address_in_use);
    }
    ::close(fd);
    return -1;
  }

  /// Removes the socket file at @p path if it is still the one described by @p id (see
  /// `file_identity`). Called before the listening socket is closed: while it listens, no other
  /// server following these rules takes the name as stale, so the check and the unlink cannot be
  /// separated by a replacement.
  static void remove_socket_file(const std::string& path, const file_identity& id) noexcept
  {
    if (id.owner < 0 || id.owner != ::getpid()) return;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == id.dev &&
        st.st_ino == id.ino)
      ::unlink(path.c_str());
  }

  /// Takes one pending connection from the non-blocking @p listener: a blocking, close-on-exec
  /// socket. `would_block` when none is pending.
  static native_handle_type accept(native_handle_type listener, std::error_code& ec) noexcept
  {
    for (;;) {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
      // accept4: the descriptor is close-on-exec atomically, and (unlike accept on the BSDs)
      // does not inherit the listener's O_NONBLOCK.
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
#else
      const int fd = ::accept(listener, nullptr, nullptr);
      if (fd >= 0) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      }
#endif
      if (fd >= 0) {
        ec.clear();
        return fd;
      }
      // A connection reset before it was taken is not the acceptor's failure: take the next.
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        ec = asio::error::would_block;
      else
        ec.assign(errno, std::system_category());
      return -1;
    }
  }

  /// Connects a new blocking, close-on-exec socket to @p a. When the listener's backlog is full
  /// the kernel makes connect() wait for room; that wait is bounded by @p timeout (SO_SNDTIMEO,
  /// reset afterwards) and ends in `std::errc::timed_out`. `max()` (anything from
  /// `forever_threshold` on) waits as long as it takes; zero or less does not wait at all.
  static native_handle_type connect(const address& a, std::chrono::milliseconds timeout,
                                    std::error_code& ec)
  {
    sockaddr_un sa{};
    socklen_t len = 0;
    if (!make_address(a, sa, len, ec)) return -1;
    const bool forever = timeout >= forever_threshold;
    const bool poll_once = !forever && timeout.count() <= 0;
    int fd = open_socket(poll_once, ec);
    if (fd < 0) return -1;
    const auto deadline =
        std::chrono::steady_clock::now() + (forever ? std::chrono::milliseconds(0) : timeout);
    for (;;) {
      if (!forever && !poll_once) {
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          ec = std::make_error_code(std::errc::timed_out);
          break;
        }
        if (!set_send_timeout(fd, left, ec)) break;
      }
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) == 0) {
        if ((!forever && !poll_once && !set_send_timeout(fd, std::chrono::microseconds(0), ec)) ||
            (poll_once && !set_nonblocking(fd, false, ec)))
          break;
        ec.clear();
        return fd;
      }
      if (errno == EINTR) continue; // nothing happened yet on a local stream socket: retry
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        ec = std::make_error_code(std::errc::timed_out);
      else
        ec.assign(errno, std::system_category());
      break;
    }
    ::close(fd);
    return -1;
  }

  /// One non-blocking connect() attempt to @p a, on @p fd (opened here, non-blocking and
  /// close-on-exec, when it is -1; the caller owns it from then on, whatever the result). True
  /// once connected (@p fd is then switched to blocking mode, as channels expect);
  /// `would_block` while the listener's backlog is full (Linux gives EAGAIN and no readiness
  /// event to wait for: retry later).
  static bool try_connect(native_handle_type& fd, const address& a, std::error_code& ec)
  {
    sockaddr_un sa{};
    socklen_t len = 0;
    if (!make_address(a, sa, len, ec)) return false;
    if (fd < 0) {
      fd = open_socket(/*nonblocking=*/true, ec);
      if (fd < 0) return false;
    }
    for (;;) {
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) == 0 || errno == EISCONN)
        return set_nonblocking(fd, false, ec);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS || errno == EALREADY)
        ec = asio::error::would_block;
      else
        ec.assign(errno, std::system_category());
      return false;
    }
  }

  /// What an acceptor holds: a listening socket (an Asio acceptor, for its readiness waits) and
  /// the identity of the socket file it created, removed at close while still ours.
  template <class Executor>
  class listener {
  public:
    using executor_type = Executor;
    explicit listener(const Executor& ex) : socket_(ex) {}
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener() { close(); }

    Executor get_executor() noexcept { return socket_.get_executor(); }
    bool is_open() const noexcept { return socket_.is_open(); }
    native_handle_type native_handle() noexcept { return socket_.native_handle(); }

    /// Listens on @p a (see `endpoint_traits::listen`). @p file is the absolute path of a
    /// `path` endpoint, remembered so that a later chdir does not make close() look elsewhere;
    /// empty for the other kinds.
    void open(const address& a, std::string file, unsigned mode, int backlog, std::error_code& ec)
    {
      file_identity id;
      const int fd = endpoint_traits::listen(a, mode, backlog, id, ec);
      if (ec) return;
      socket_.assign(traits::protocol(), fd, ec);
      if (ec) {
        remove_socket_file(file, id);
        ::close(fd);
        return;
      }
      file_ = std::move(file);
      id_ = id;
    }

    /// Removes the socket file (if still ours) while still listening, then closes.
    void close() noexcept
    {
      if (!socket_.is_open()) return;
      if (!file_.empty()) remove_socket_file(file_, id_);
      file_.clear();
      std::error_code ignored;
      socket_.close(ignored);
    }

    /// One pending connection, or `would_block` (see `endpoint_traits::accept`).
    native_handle_type accept(std::error_code& ec)
    {
      if (!socket_.is_open()) {
        ec = asio::error::bad_descriptor;
        return -1;
      }
      return endpoint_traits::accept(socket_.native_handle(), ec);
    }

    /// Blocks until a connection is pending (or the socket fails).
    void wait(std::error_code& ec)
    {
      (void)traits::wait(socket_.native_handle(), int(traits::readiness::readable), ec);
    }

    /// Completes when a connection is pending; per-operation cancellation as Asio's.
    template <class Handler>
    void async_wait(Handler&& handler)
    {
      socket_.async_wait(socket_type::wait_read, std::forward<Handler>(handler));
    }

  private:
    using socket_type = asio::basic_socket_acceptor<traits::protocol, Executor>;
    socket_type socket_;
    std::string file_;
    file_identity id_;
  };

  /// Checks that @p a can be represented as a `sockaddr_un` (length, platform support).
  static void check_address(const address& a, std::error_code& ec) noexcept
  {
    sockaddr_un sa{};
    socklen_t len = 0;
    (void)make_address(a, sa, len, ec);
  }

private:
  /// The staging directory of one `listen`, removed on every path out.
  struct staging {
    std::string dir, sock;
    int dir_fd = -1;
    staging() = default;
    staging(const staging&) = delete;
    staging& operator=(const staging&) = delete;
    ~staging()
    {
      if (dir.empty()) return;
      ::unlink(sock.c_str()); // after a successful link the target name keeps the socket
      ::unlink((dir + "/old").c_str());
      ::rmdir(dir.c_str());
      if (dir_fd >= 0) ::close(dir_fd);
    }
  };

  static bool sys(int r, std::error_code& ec) noexcept
  {
    if (r == 0) return true;
    ec.assign(errno, std::system_category());
    return false;
  }

  static int open_socket(bool nonblocking, std::error_code& ec) noexcept
  {
    const int fd =
        ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
      ec.assign(errno, std::system_category());
    else
      ec.clear();
    return fd;
  }

  static bool set_nonblocking(int fd, bool on, std::error_code& ec) noexcept
  {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) != 0) {
      ec.assign(errno, std::system_category());
      return false;
    }
    ec.clear();
    return true;
  }

  static bool set_send_timeout(int fd, std::chrono::microseconds t, std::error_code& ec) noexcept
  {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(t.count() / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(t.count() % 1000000);
    return sys(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), ec);
  }

  static bool make_address(const address& a, sockaddr_un& sa, socklen_t& len,
                           std::error_code& ec) noexcept
  {
    sa.sun_family = AF_UNIX;
    if (a.name.empty() || a.name.find('\0') != std::string_view::npos) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return false;
    }
    if (a.abstract) {
      if (!has_abstract_namespace) {
        ec = std::make_error_code(std::errc::address_family_not_supported);
        return false;
      }
      if (a.name.size() > max_abstract_size) {
        ec = std::make_error_code(std::errc::filename_too_long);
        return false;
      }
      sa.sun_path[0] = '\0'; // the address is exactly the bytes given: no terminating NUL
      std::memcpy(sa.sun_path + 1, a.name.data(), a.name.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + a.name.size());
    } else {
      if (a.name.size() > max_path_size) {
        ec = std::make_error_code(std::errc::filename_too_long);
        return false;
      }
      std::memcpy(sa.sun_path, a.name.data(), a.name.size());
      sa.sun_path[a.name.size()] = '\0';
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + a.name.size() + 1);
    }
    ec.clear();
    return true;
  }

  static bool bind_to(int fd, const address& a, std::error_code& ec) noexcept
  {
    sockaddr_un sa{};
    socklen_t len = 0;
    if (!make_address(a, sa, len, ec)) return false;
    return sys(::bind(fd, reinterpret_cast<const sockaddr*>(&sa), len), ec);
  }

  static int listen_abstract(std::string_view name, int backlog, std::error_code& ec)
  {
    // No file, no permissions: the kernel refuses a taken name (EADDRINUSE) and frees it when
    // the last descriptor closes, so there is nothing stale to replace.
    int fd = open_socket(/*nonblocking=*/true, ec);
    if (fd < 0) return -1;
    if (!bind_to(fd, {name, true}, ec) || !sys(::listen(fd, backlog), ec)) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  /// Something exists at @p target. Returns true to retry the link (the name was freed or
  /// vanished by itself), false with @p ec set otherwise.
  static bool replace_stale(const std::string& target, const staging& s, std::error_code& ec)
  {
    struct stat seen {};
    if (::lstat(target.c_str(), &seen) != 0) {
      if (errno == ENOENT) return true;
      ec.assign(errno, std::system_category());
      return false;
    }
    if (!S_ISSOCK(seen.st_mode)) {
      ec = std::make_error_code(std::errc::file_exists); // never delete what is not a socket
      return false;
    }
    // Is anyone listening? A live server (even one with a full backlog) keeps its name; the
    // probe's connection reaches that server's queue and is closed at once.
    std::error_code probe;
    int p = open_socket(/*nonblocking=*/true, probe);
    if (p < 0) {
      ec = probe;
      return false;
    }
    sockaddr_un sa{};
    socklen_t len = 0;
    if (!make_address({target, false}, sa, len, ec)) {
      ::close(p);
      return false;
    }
    int r;
    do
      r = ::connect(p, reinterpret_cast<const sockaddr*>(&sa), len);
    while (r != 0 && errno == EINTR);
    const int err = r == 0 ? 0 : errno;
    ::close(p);
    if (err == ENOENT) return true;
    if (err != ECONNREFUSED) {
      // Connected, backlog full (EAGAIN), or not ours to judge (EACCES): never steal it.
      ec = std::make_error_code(std::errc::address_in_use);
      return false;
    }
    // Stale. Move it into the private staging directory (atomic, whatever is there now), and
    // check that what was moved is the inode that refused: if another server replaced it in the
    // meantime, put that one back and give up.
    const std::string old = s.dir + "/old";
    if (::rename(target.c_str(), old.c_str()) != 0) {
      if (errno == ENOENT) return true;
      ec.assign(errno, std::system_category());
      return false;
    }
    struct stat moved {};
    const bool same = ::lstat(old.c_str(), &moved) == 0 && moved.st_dev == seen.st_dev &&
                      moved.st_ino == seen.st_ino;
    if (!same) {
      (void)::link(old.c_str(), target.c_str());
      ::unlink(old.c_str());
      ec = std::make_error_code(std::errc::address_in_use);
      return false;
    }
    ::unlink(old.c_str());
    return true;
  }
};

} // namespace platform::posix
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_POSIX_ENDPOINT_HPP
