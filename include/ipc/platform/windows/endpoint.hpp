// ipc/platform/windows/endpoint.hpp - named endpoints on Windows: `\\.\pipe\name` servers and
// clients.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_WINDOWS_ENDPOINT_HPP
#define IPC_PLATFORM_WINDOWS_ENDPOINT_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/platform/windows/process.hpp"
#include "ipc/platform/windows/traits.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/windows/basic_object_handle.hpp>

#include <windows.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE
namespace platform::windows {

/// The security a server's pipe instances are created with: a DACL that allows the current
/// user (the process token's user SID) and LocalSystem, and nobody else. Without it a pipe gets
/// the default DACL, which lets Everyone (and the anonymous account) open it for reading.
/// LocalSystem is admitted because it can open any object anyway (it holds the privileges that
/// bypass a DACL), so leaving it out protects nothing, while keeping it in matches the default
/// DACL every object this process creates gets from its token.
class pipe_security {
public:
  pipe_security() = default;
  pipe_security(const pipe_security&) = delete;
  pipe_security& operator=(const pipe_security&) = delete;

  /// Builds the descriptor; afterwards `attributes()` may be handed to CreateNamedPipeW.
  void build(std::error_code& ec)
  {
    HANDLE token = nullptr;
    if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) {
      ec = last_error();
      return;
    }
    DWORD size = 0;
    (void)::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
    std::vector<std::uint64_t> user_info(size / sizeof(std::uint64_t) + 1);
    const BOOL got = ::GetTokenInformation(token, TokenUser, user_info.data(), size, &size);
    if (!got) ec = last_error();
    ::CloseHandle(token);
    if (!got) return;
    const PSID user = reinterpret_cast<TOKEN_USER*>(user_info.data())->User.Sid;

    std::uint64_t system[SECURITY_MAX_SID_SIZE / sizeof(std::uint64_t) + 1] = {};
    DWORD system_size = sizeof system;
    if (!::CreateWellKnownSid(WinLocalSystemSid, nullptr, system, &system_size)) {
      ec = last_error();
      return;
    }
    const DWORD acl_size = sizeof(ACL) + 2 * (sizeof(ACCESS_ALLOWED_ACE) - sizeof(DWORD)) +
                           ::GetLengthSid(user) + ::GetLengthSid(system);
    acl_.assign(acl_size / sizeof(std::uint64_t) + 1, 0);
    const auto acl = reinterpret_cast<ACL*>(acl_.data());
    if (!::InitializeAcl(acl, acl_size, ACL_REVISION) ||
        !::AddAccessAllowedAce(acl, ACL_REVISION, GENERIC_ALL, user) ||
        !::AddAccessAllowedAce(acl, ACL_REVISION, GENERIC_ALL, system) ||
        !::InitializeSecurityDescriptor(&descriptor_, SECURITY_DESCRIPTOR_REVISION) ||
        !::SetSecurityDescriptorDacl(&descriptor_, TRUE, acl, FALSE)) {
      ec = last_error();
      return;
    }
    attributes_.nLength = sizeof attributes_;
    attributes_.lpSecurityDescriptor = &descriptor_;
    attributes_.bInheritHandle = FALSE;
    ec.clear();
  }

  SECURITY_ATTRIBUTES* attributes() noexcept { return &attributes_; }

private:
  std::vector<std::uint64_t> acl_; // the ACL (DWORD-aligned storage)
  SECURITY_DESCRIPTOR descriptor_{};
  SECURITY_ATTRIBUTES attributes_{};
};

/// Named endpoints over named pipes. A server is a series of instances of one pipe: one waits
/// for a client (an overlapped ConnectNamedPipe), and when a client has connected the next
/// instance is created before the connected one is handed out, so the name is never free while
/// the acceptor listens. Clients open the name with CreateFileW and wait in WaitNamedPipeW
/// while every instance is taken. Only `\\.\pipe\` names are served; socket files and abstract
/// names are `address_family_not_supported` (decided in the portable layer from the flags).
struct endpoint_traits {
  using native_handle_type = HANDLE;

  /// Socket paths are parsed with the POSIX limits (the text of an endpoint means the same on
  /// every platform) but not served here.
  static constexpr std::size_t max_path_size = 107;
  static constexpr std::size_t max_abstract_size = 107;
  /// Longest pipe name, `\\.\pipe\` included.
  static constexpr std::size_t max_pipe_size = 256;
  static constexpr bool has_abstract_namespace = false;
  static constexpr bool has_socket_files = false;
  static constexpr bool has_named_pipes = true;
  /// Windows has no user ids to compare: `acceptor_options::peer_uid` is refused. The DACL
  /// already admits only this user (see `pipe_security`).
  static constexpr bool has_peer_uid = false;

  struct address {
    std::string_view name; // without `\\.\pipe\`
    bool abstract = false;
    bool pipe = false;
  };

  static constexpr std::chrono::milliseconds forever_threshold = std::chrono::hours(24 * 365 * 100);

  /// No user ids on Windows: -1 (what `channel::peer().uid` reports too).
  static long effective_uid() noexcept { return -1; }

  /// The full name of @p a (`\\.\pipe\` and the name in UTF-16).
  static std::wstring pipe_name(const address& a, std::error_code& ec)
  {
    if (!a.pipe || a.name.empty()) {
      ec = std::make_error_code(std::errc::address_family_not_supported);
      return {};
    }
    std::wstring w = process::widen(a.name, ec);
    if (ec) {
      ec = std::make_error_code(std::errc::invalid_argument); // not UTF-8
      return {};
    }
    return L"\\\\.\\pipe\\" + w;
  }

  /// Waits for a listening instance of the pipe named @p a and opens it: an overlapped,
  /// non-inheritable client end that lets the server identify this process but not impersonate
  /// it. While every instance is taken (the server has not accepted the last client yet) it
  /// waits in WaitNamedPipeW, at most @p timeout in all: `max()` (anything from
  /// `forever_threshold` on) waits as long as it takes, zero or less does not wait.
  ///
  /// Errors: `no_such_file_or_directory` when nobody serves the name, `permission_denied` when
  /// its DACL excludes this user, `timed_out`, other system errors.
  static native_handle_type connect(const address& a, std::chrono::milliseconds timeout,
                                    std::error_code& ec)
  {
    const std::wstring name = pipe_name(a, ec);
    if (ec) return nullptr;
    const bool forever = timeout >= forever_threshold;
    const auto deadline = std::chrono::steady_clock::now() +
                          (forever ? std::chrono::milliseconds(0) : std::max(timeout, std::chrono::milliseconds(0)));
    for (;;) {
      DWORD err = 0;
      HANDLE h = open_client(name, err);
      if (h != nullptr) {
        ec.clear();
        return h;
      }
      if (err != ERROR_PIPE_BUSY) {
        ec = client_error(err);
        return nullptr;
      }
      DWORD wait = NMPWAIT_WAIT_FOREVER;
      if (!forever) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          ec = std::make_error_code(std::errc::timed_out);
          return nullptr;
        }
        // 0 would mean "the server's default timeout".
        wait = static_cast<DWORD>(std::clamp<std::int64_t>(left.count(), 1, 0x7fffffff));
      }
      // Whatever it says (an instance is free, the timeout passed, the server is gone), the
      // next CreateFileW finds out: another client may have taken the free instance first.
      (void)::WaitNamedPipeW(name.c_str(), wait);
    }
  }

  /// One attempt to open the pipe named @p a: true with @p h set once connected; `would_block`
  /// while every instance is taken (the asynchronous connect retries on a timer); other errors
  /// as `connect`. @p h stays null until an attempt succeeds.
  static bool try_connect(native_handle_type& h, const address& a, std::error_code& ec)
  {
    const std::wstring name = pipe_name(a, ec);
    if (ec) return false;
    DWORD err = 0;
    HANDLE got = open_client(name, err);
    if (got == nullptr) {
      ec = err == ERROR_PIPE_BUSY ? std::error_code(asio::error::would_block) : client_error(err);
      return false;
    }
    h = got;
    ec.clear();
    return true;
  }

  /// What an acceptor holds: the pipe instance that waits for the next client, the event its
  /// overlapped ConnectNamedPipe signals, and the security every instance is created with.
  ///
  /// The instance is not bound to the io_context's completion port while it waits: a handle
  /// stays bound to the port it was first bound to, and the channel an accepted instance
  /// becomes must bind it itself. So ConnectNamedPipe signals an event, and asynchronous waits
  /// wait for that event (asio::windows::object_handle, a thread-pool wait), each on a
  /// duplicate of it so that one wait can be cancelled without the others.
  template <class Executor>
  class listener {
  public:
    using executor_type = Executor;
    explicit listener(const Executor& ex) : ex_(ex) {}
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener() { close(); }

    Executor get_executor() const noexcept { return ex_; }
    bool is_open() const noexcept { return open_; }
    /// The instance that waits for the next client.
    native_handle_type native_handle() const noexcept { return instance_; }

    /// Creates the first instance of the pipe named @p a, with FILE_FLAG_FIRST_PIPE_INSTANCE so
    /// that a name someone already serves is refused (`address_in_use`) rather than shared,
    /// PIPE_REJECT_REMOTE_CLIENTS, and the DACL of `pipe_security`; then waits for a client.
    /// @p file, @p mode and @p backlog have no meaning for pipes.
    void open(const address& a, std::string file, unsigned mode, int backlog, std::error_code& ec)
    {
      (void)file;
      (void)mode;
      (void)backlog;
      name_ = pipe_name(a, ec);
      if (ec) return;
      security_ = std::make_unique<pipe_security>();
      security_->build(ec);
      if (ec) return;
      event_ = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
      if (event_ == nullptr) {
        ec = last_error();
        return;
      }
      instance_ = create_instance(/*first=*/true, ec);
      // FILE_FLAG_FIRST_PIPE_INSTANCE is what refuses a served name on Windows; wine (8)
      // ignores it and adds the instance to the existing pipe. Counting the pipe's instances
      // catches that too: the first instance of a pipe that is ours is the only one.
      DWORD instances = 0;
      if (!ec && ::GetNamedPipeHandleStateW(instance_, nullptr, &instances, nullptr, nullptr,
                                            nullptr, 0) &&
          instances != 1) {
        ::CloseHandle(instance_);
        instance_ = nullptr;
        ec = std::make_error_code(std::errc::address_in_use);
      }
      if (ec) {
        ::CloseHandle(event_);
        event_ = nullptr;
        return;
      }
      open_ = true;
      closed_ = std::make_shared<std::atomic<bool>>(false);
      start_connect(ec);
      if (ec) close();
    }

    /// Stops listening: the waiting instance (and a client connected to it but not accepted
    /// yet, which sees the pipe broken) is closed and waits complete with `operation_aborted`.
    void close() noexcept
    {
      if (!open_) return;
      open_ = false;
      closed_->store(true);
      if (instance_ != nullptr) {
        if (at_ == phase::listening) {
          // The OVERLAPPED is ours: wait until the cancelled ConnectNamedPipe lets go of it.
          ::CancelIoEx(instance_, &ov_);
          DWORD n = 0;
          (void)::GetOverlappedResult(instance_, &ov_, &n, TRUE);
        }
        ::CloseHandle(instance_);
        instance_ = nullptr;
      }
      at_ = phase::idle;
      ::SetEvent(event_); // wakes every waiter, which then sees the acceptor closed
      ::CloseHandle(event_);
      event_ = nullptr;
      security_.reset();
    }

    /// The instance a client has connected to, replaced by a new one first; `would_block` when
    /// no client has connected yet. A client that came and went before it was taken is
    /// skipped. If the next instance cannot be created, the error is reported and the
    /// connected client waits for the next accept.
    native_handle_type accept(std::error_code& ec)
    {
      for (;;) {
        if (!open_) {
          ec = asio::error::bad_descriptor;
          return nullptr;
        }
        if (at_ == phase::idle) {
          start_connect(ec);
          if (ec) return nullptr;
        }
        if (at_ == phase::listening) {
          DWORD n = 0;
          if (!::GetOverlappedResult(instance_, &ov_, &n, FALSE)) {
            const DWORD err = ::GetLastError();
            if (err == ERROR_IO_INCOMPLETE) {
              ec = asio::error::would_block;
              return nullptr;
            }
            at_ = phase::idle;
            if (gone(err)) {
              ::DisconnectNamedPipe(instance_);
              continue;
            }
            ec = std::error_code(static_cast<int>(err), asio::error::get_system_category());
            return nullptr;
          }
          at_ = phase::connected;
        }
        HANDLE next = create_instance(/*first=*/false, ec);
        if (next == nullptr) return nullptr;
        HANDLE out = instance_;
        instance_ = next;
        at_ = phase::idle;
        std::error_code ignored; // retried by the next accept
        start_connect(ignored);
        ec.clear();
        return out;
      }
    }

    /// Blocks until a client has connected (or the wait fails).
    void wait(std::error_code& ec)
    {
      if (!open_) {
        ec = asio::error::bad_descriptor;
        return;
      }
      if (::WaitForSingleObject(event_, INFINITE) == WAIT_FAILED)
        ec = last_error();
      else
        ec.clear();
    }

    /// Completes when a client has connected; `operation_aborted` when the handler's
    /// cancellation slot fires or the listener is closed.
    template <class Handler>
    void async_wait(Handler&& handler)
    {
      using waiter_type = asio::windows::basic_object_handle<Executor>;
      HANDLE dup = nullptr;
      const HANDLE self = ::GetCurrentProcess();
      if (!open_ || !::DuplicateHandle(self, event_, self, &dup, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
        const std::error_code ec = open_ ? last_error() : std::error_code(asio::error::bad_descriptor);
        asio::post(ex_, [h = std::forward<Handler>(handler), ec]() mutable { std::move(h)(ec); });
        return;
      }
      auto waiter = std::make_shared<waiter_type>(ex_, dup);
      auto slot = asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected()) slot.template emplace<canceller<waiter_type>>(waiter);
      waiter->async_wait([waiter, slot, closed = closed_,
                          h = std::forward<Handler>(handler)](std::error_code ec) mutable {
        if (slot.is_connected()) slot.clear();
        if (closed->load()) ec = asio::error::operation_aborted;
        std::move(h)(ec);
      });
    }

  private:
    enum class phase { idle, listening, connected };

    template <class Waiter>
    struct canceller {
      std::weak_ptr<Waiter> waiter;
      explicit canceller(const std::shared_ptr<Waiter>& w) : waiter(w) {}
      void operator()(asio::cancellation_type)
      {
        if (auto w = waiter.lock()) {
          std::error_code ignored;
          w->cancel(ignored);
        }
      }
    };

    /// The client closed its end before the connection was taken.
    static bool gone(DWORD err) noexcept
    {
      return err == ERROR_NO_DATA || err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED;
    }

    HANDLE create_instance(bool first, std::error_code& ec)
    {
      const DWORD open_mode =
          PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
      HANDLE h = ::CreateNamedPipeW(
          name_.c_str(), open_mode,
          PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
          PIPE_UNLIMITED_INSTANCES, traits::pipe_buffer, traits::pipe_buffer, 0,
          security_->attributes());
      if (h != INVALID_HANDLE_VALUE) {
        ec.clear();
        return h;
      }
      const DWORD err = ::GetLastError();
      if (first && (err == ERROR_ACCESS_DENIED || err == ERROR_PIPE_BUSY))
        ec = std::make_error_code(std::errc::address_in_use); // someone else serves the name
      else if (err == ERROR_INVALID_NAME || err == ERROR_BAD_PATHNAME)
        ec = std::make_error_code(std::errc::invalid_argument);
      else
        ec = std::error_code(static_cast<int>(err), asio::error::get_system_category());
      return nullptr;
    }

    /// Starts the overlapped ConnectNamedPipe on the current instance.
    void start_connect(std::error_code& ec)
    {
      for (;;) {
        ::ResetEvent(event_);
        ov_ = OVERLAPPED{};
        ov_.hEvent = event_;
        if (::ConnectNamedPipe(instance_, &ov_)) {
          at_ = phase::connected;
          ::SetEvent(event_);
          ec.clear();
          return;
        }
        const DWORD err = ::GetLastError();
        if (err == ERROR_IO_PENDING) {
          at_ = phase::listening;
          ec.clear();
          return;
        }
        if (err == ERROR_PIPE_CONNECTED) { // a client came between create and connect
          at_ = phase::connected;
          ::SetEvent(event_);
          ec.clear();
          return;
        }
        at_ = phase::idle;
        if (gone(err)) {
          ::DisconnectNamedPipe(instance_);
          continue;
        }
        ec = std::error_code(static_cast<int>(err), asio::error::get_system_category());
        return;
      }
    }

    Executor ex_;
    std::wstring name_;
    std::unique_ptr<pipe_security> security_;
    HANDLE instance_ = nullptr;
    HANDLE event_ = nullptr;
    OVERLAPPED ov_{};
    phase at_ = phase::idle;
    bool open_ = false;
    std::shared_ptr<std::atomic<bool>> closed_ = std::make_shared<std::atomic<bool>>(true);
  };

private:
  static HANDLE open_client(const std::wstring& name, DWORD& err) noexcept
  {
    HANDLE h = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                             FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                             nullptr);
    if (h == INVALID_HANDLE_VALUE) {
      err = ::GetLastError();
      return nullptr;
    }
    err = 0;
    return h;
  }

  static std::error_code client_error(DWORD err) noexcept
  {
    switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return std::make_error_code(std::errc::no_such_file_or_directory); // nobody serves it
    case ERROR_ACCESS_DENIED:
      return std::make_error_code(std::errc::permission_denied); // its DACL excludes us
    case ERROR_PIPE_BUSY:
    case ERROR_SEM_TIMEOUT:
      return std::make_error_code(std::errc::timed_out);
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
      return std::make_error_code(std::errc::invalid_argument);
    default:
      return std::error_code(static_cast<int>(err), asio::error::get_system_category());
    }
  }
};

} // namespace platform::windows
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_WINDOWS_ENDPOINT_HPP
