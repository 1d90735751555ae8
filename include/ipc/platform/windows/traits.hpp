// ipc/platform/windows/traits.hpp - the Windows backend: a duplex pair of overlapped named pipes.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_WINDOWS_TRAITS_HPP
#define IPC_PLATFORM_WINDOWS_TRAITS_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"
#include "ipc/handle_kind.hpp"

// Asio first: it includes <winsock2.h> before <windows.h>, as Winsock 2 requires.
#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/windows/overlapped_ptr.hpp>
#include <asio/windows/stream_handle.hpp>

#include <winsock2.h>
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cwchar>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

IPC_BEGIN_NAMESPACE
namespace platform::windows {

/// Why this backend looks the way it does. The portable channel core is written for a
/// readiness model (try a non-blocking call, on `would_block` wait for readiness); Windows pipes
/// offer completions instead. The pieces that bridge the two:
///   - readable: an overlapped zero-byte ReadFile completes when data (or end of stream) is
///     there, and consumes nothing;
///   - a "non-blocking" read: PeekNamedPipe for the bytes available, then a ReadFile of at
///     most that many, which completes at once; when Peek sees none (wine does not count the
///     bytes of a write still pending in the peer), a ReadFile that is cancelled if it waits;
///   - a "non-blocking" write: WriteFile from a copy the pipe state owns. It is counted as
///     written at once (its bytes are in the pipe, in order); if it is still pending, the next
///     write reports `would_block` and "writable" means "the pending write has completed".
///     The copy is freed by the write's completion, which the io_context runs: a program that
///     only sends synchronously holds its copies until it runs (or destroys) the io_context.
/// Calls the core makes synchronously pass an OVERLAPPED whose event has its low bit set, which
/// keeps their completion off the I/O completion port the handle is (or will be) bound to.
///
/// Known gap (tests: suite channel_threads, not run on Windows yet): under wine, a sync send
/// whose write is pending sometimes waits for good while another thread blocks in a sync
/// receive on the other end. The async paths do not show it.
struct pipe_state : std::enable_shared_from_this<pipe_state> {
  explicit pipe_state(asio::any_io_executor ex) : executor(std::move(ex)), port(executor) {}

  asio::any_io_executor executor; // where write completions run
  /// Binds the handle to the io_context's completion port, which happens at the first operation
  /// that completes through the port (a non-blocking write, an async wait): see `bind`.
  asio::windows::stream_handle port;
  HANDLE handle = nullptr;        // owned by the stream (in `port` once bound), not by the state
  HANDLE read_event = nullptr;    // manual reset: synchronous reads and readiness waits
  HANDLE write_event = nullptr;   // manual reset: signalled when the last write completed
  bool write_pending = false;     // a write returned ERROR_IO_PENDING and has not completed
  bool closed = false;            // the stream closed the handle: waits report operation_aborted
  std::uint64_t write_id = 0;     // the id of that write
  std::error_code write_error;    // how a write counted as done failed later
  std::unique_ptr<asio::windows::overlapped_ptr> write_waiter; // an async "writable" wait
  /// The process at the other end, when the pipe cannot tell (set by spawn: the parent made
  /// both ends, so the pipe names the parent as both client and server). 0: ask the pipe (the
  /// answer is kept here once `peer_process` has found it).
  DWORD peer_pid = 0;
  /// Opened with PROCESS_DUP_HANDLE on the first handle sent. Held open, it also keeps the pid
  /// from naming another process while the channel lives (WSADuplicateSocketW takes a pid).
  HANDLE peer_process = nullptr;
  /// Earlier peers' process handles, held until the channel closes: handles sent to such a
  /// process before the move was known may still be closed there by the end's new holder
  /// (`errc::handle_misdirected`), which needs the pid to keep naming that process.
  std::vector<HANDLE> former_peers;
  /// The other end, when `pair()` made both in this process (see `partner_registry`).
  std::weak_ptr<pipe_state> partner;
  /// Set (from any thread) when this process sent the partner end to process `moved_to`:
  /// taken up by this end's next `peer_process`, unless the peer says where it is first.
  std::atomic<DWORD> moved_to{0};

  pipe_state(const pipe_state&) = delete;
  pipe_state& operator=(const pipe_state&) = delete;
  ~pipe_state()
  {
    if (read_event != nullptr) ::CloseHandle(read_event);
    if (write_event != nullptr) ::CloseHandle(write_event);
    if (peer_process != nullptr) ::CloseHandle(peer_process);
    for (HANDLE h : former_peers) ::CloseHandle(h);
  }

  /// Whether the pending write (if any) is still in the pipe's queue; notices a completion
  /// that the completion port has not reported yet (sync paths do not run the io_context).
  bool writing() noexcept
  {
    if (write_pending && ::WaitForSingleObject(write_event, 0) == WAIT_OBJECT_0)
      write_pending = false;
    return write_pending;
  }

  /// Binds the handle to the io_context's completion port, once: every operation whose
  /// completion comes through the port calls this first (an overlapped_ptr on a handle bound
  /// to no port would never complete). Until then the handle can still be given up
  /// (`pipe_stream::release`): a handle bound to a port stays bound to it on wine and before
  /// Windows 8.1.
  void bind(std::error_code& ec) noexcept
  {
    ec.clear();
    if (!bound()) port.assign(handle, ec);
  }

  /// Whether `handle` is bound to the completion port (`port` holds it then).
  bool bound() const noexcept { return port.is_open(); }

  /// The process the other end is in now, as far as this end knows: the peer said so
  /// (`moved_here`), or this process sent the partner end there.
  void peer_is(DWORD pid) noexcept
  {
    if (peer_pid == pid && peer_process != nullptr) return;
    if (peer_process != nullptr) former_peers.push_back(std::exchange(peer_process, nullptr));
    peer_pid = pid;
  }
};

/// Ends made by `pair()` in this process that were given up (`pipe_stream::release`, to be
/// sent over another channel), by handle value, with the end they are connected to. When one
/// of these handles is duplicated into process P (`traits::export_handles`), the other end
/// learns that its peer is P: until P says so itself (`moved_here`), the pipe would name this
/// process, and handles sent meanwhile would be duplicated into the wrong process. Entries go
/// when the handle is sent, closed (`traits::close_handle`) or adopted again here.
class partner_registry {
public:
  static partner_registry& get() noexcept
  {
    static partner_registry r;
    return r;
  }

  void add(HANDLE h, std::weak_ptr<pipe_state> partner)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& e : entries_)
      if (e.first == h) {
        e.second = std::move(partner);
        return;
      }
    entries_.emplace_back(h, std::move(partner));
    size_.store(entries_.size(), std::memory_order_release);
  }

  std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }

  /// Forgets @p h; the end it was connected to, if it was registered and still lives.
  std::shared_ptr<pipe_state> take(HANDLE h) noexcept
  {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->first == h) {
        auto partner = it->second.lock();
        entries_.erase(it);
        size_.store(entries_.size(), std::memory_order_release);
        return partner;
      }
    return nullptr;
  }

private:
  std::mutex mutex_;
  std::vector<std::pair<HANDLE, std::weak_ptr<pipe_state>>> entries_;
  std::atomic<std::size_t> size_{0};
};

/// Un-binds @p h from its completion port: NtSetInformationFile(FileReplaceCompletionInformation)
/// with no port, which Windows 8.1 and later have (wine 8 answers STATUS_NOT_IMPLEMENTED).
inline bool unbind_from_port(HANDLE h) noexcept
{
  using set_info_fn = LONG(WINAPI*)(HANDLE, void*, void*, ULONG, ULONG);
  static const auto set_info = reinterpret_cast<set_info_fn>(reinterpret_cast<void*>(
    ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "NtSetInformationFile")));
  if (set_info == nullptr) return false;
  ULONG_PTR iosb[2] = {0, 0};
  void* info[2] = {nullptr, nullptr}; // FILE_COMPLETION_INFORMATION { Port, Key }
  return set_info(h, iosb, info, sizeof info, 61 /* FileReplaceCompletionInformation */) >= 0;
}

/// What the channel core reads as its socket's `native_handle()`: the pipe handle, plus the
/// state the traits' calls need. Converts to the plain `HANDLE` everywhere else.
struct pipe_ref {
  HANDLE handle = nullptr;
  pipe_state* state = nullptr;
  operator HANDLE() const noexcept { return handle; }
};

/// The tag Asio's `assign(protocol, handle)` shape wants; pipes have no protocol.
struct pipe_protocol {};

inline std::error_code last_error() noexcept
{
  return std::error_code(static_cast<int>(::GetLastError()), asio::error::get_system_category());
}

/// An event for an OVERLAPPED whose completion must not be queued to the completion port.
inline HANDLE no_port(HANDLE event) noexcept
{
  return reinterpret_cast<HANDLE>(reinterpret_cast<std::uintptr_t>(event) | 1);
}

/// An `asio::windows::stream_handle` over one end of a channel's pipe, with the socket-like
/// surface (`assign`, `async_wait`, `release`) the channel core uses.
template <class Executor>
class pipe_stream {
public:
  using executor_type = Executor;
  using native_handle_type = pipe_ref;
  enum wait_type { wait_read, wait_write, wait_error };

  explicit pipe_stream(const executor_type& ex) : ex_(ex) {}
  pipe_stream(pipe_stream&& other) noexcept : ex_(other.ex_), state_(std::move(other.state_)) {}
  pipe_stream& operator=(pipe_stream&& other) noexcept
  {
    if (this != &other) {
      std::error_code ignored;
      close(ignored);
      ex_ = other.ex_;
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~pipe_stream()
  {
    std::error_code ignored;
    close(ignored);
  }

  executor_type get_executor() noexcept { return ex_; }
  bool is_open() const noexcept { return state_ != nullptr; }
  native_handle_type native_handle() noexcept
  {
    return {state_ ? state_->handle : INVALID_HANDLE_VALUE, state_.get()};
  }

  /// Takes ownership of @p h (an overlapped pipe end). It is bound to the io_context's
  /// completion port at the first operation that needs it (`pipe_state::bind`), not now: an end
  /// that is passed on before it was used can still be given up on systems that cannot
  /// un-bind a handle.
  void assign(pipe_protocol, HANDLE h, std::error_code& ec)
  {
    if (state_) {
      ec = asio::error::already_open;
      return;
    }
    auto st = std::make_shared<pipe_state>(asio::any_io_executor(ex_));
    st->read_event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    st->write_event = ::CreateEventW(nullptr, TRUE, TRUE, nullptr);
    if (st->read_event == nullptr || st->write_event == nullptr) {
      ec = last_error();
      return;
    }
    (void)partner_registry::get().take(h); // a value given up earlier and adopted again
    st->handle = h;
    state_ = std::move(st);
    ec.clear();
  }

  void close(std::error_code& ec)
  {
    ec.clear();
    if (!state_) return;
    std::shared_ptr<pipe_state> st = std::move(state_);
    st->closed = true;
    if (auto waiter = std::move(st->write_waiter)) waiter->complete(asio::error::operation_aborted, 0);
    if (st->bound()) st->port.close(ec);
    else if (!::CloseHandle(st->handle)) ec = last_error();
    st->handle = nullptr;
  }

  /// Gives up the handle (the caller owns it; the stream is closed). Waits for a write still
  /// pending. A handle never bound to the completion port is simply handed over. A bound one is
  /// un-bound first (Windows 8.1 and later); where that fails (wine 8) the result is
  /// `std::errc::operation_not_supported` and the stream stays open and usable.
  HANDLE release(std::error_code& ec)
  {
    if (!state_) {
      ec = asio::error::bad_descriptor;
      return nullptr;
    }
    pipe_state& st = *state_;
    if (st.writing()) {
      ::WaitForSingleObject(st.write_event, INFINITE);
      st.write_pending = false;
    }
    HANDLE out = st.handle;
    if (st.bound()) {
      // Asio's stream_handle has no release() (1.22): keep the file object open through a
      // duplicate, un-bind it, then let Asio close its handle.
      const HANDLE self = ::GetCurrentProcess();
      if (!::DuplicateHandle(self, st.handle, self, &out, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
        ec = last_error();
        return nullptr;
      }
      if (!unbind_from_port(out)) {
        ::CloseHandle(out);
        ec = std::make_error_code(std::errc::operation_not_supported);
        return nullptr;
      }
      std::error_code ignored;
      st.port.close(ignored);
    }
    st.handle = nullptr;
    st.closed = true;
    if (auto waiter = std::move(st.write_waiter)) waiter->complete(asio::error::operation_aborted, 0);
    if (auto partner = st.partner.lock(); partner && !partner->closed)
      partner_registry::get().add(out, partner);
    state_.reset();
    ec.clear();
    return out;
  }

  /// Completes when the pipe is readable (data or end of stream), or when the write the last
  /// send left pending has completed. Cancelled by `close()`; a connected cancellation slot of
  /// @p handler cancels a read wait.
  template <class Handler>
  void async_wait(wait_type w, Handler&& handler)
  {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto ex = ex_;
    if (w == wait_write) {
      auto op = std::make_unique<asio::windows::overlapped_ptr>(
        ex, [h = std::forward<Handler>(handler)](std::error_code ec, std::size_t) mutable {
          std::move(h)(ec);
        });
      if (!state_ || !state_->writing()) {
        op->complete(state_ ? std::error_code() : asio::error::bad_descriptor, 0);
        return;
      }
      state_->write_waiter = std::move(op);
      return;
    }
    // A read wait completes through the completion port: bind the handle to it first.
    std::error_code bec = state_ ? std::error_code() : asio::error::bad_descriptor;
    if (state_) state_->bind(bec);
    if (bec) {
      asio::post(ex, [h = std::forward<Handler>(handler), bec]() mutable { std::move(h)(bec); });
      return;
    }
    asio::windows::overlapped_ptr op(
      ex, [h = std::forward<Handler>(handler), slot, st = state_](std::error_code ec, std::size_t) mutable {
        if (slot.is_connected()) slot.clear();
        // End of stream and errors are "readable": the next read reports them. Closing the
        // handle ends the read with whatever the pipe says; the wait is then aborted.
        if (!st || st->closed) ec = asio::error::operation_aborted;
        else if (ec && ec != asio::error::operation_aborted) ec.clear();
        std::move(h)(ec);
      });
    static char dummy;
    const HANDLE h = state_->handle;
    OVERLAPPED* ov = op.get();
    if (slot.is_connected()) slot.template emplace<read_canceller>(read_canceller{h, ov});
    if (!::ReadFile(h, &dummy, 0, nullptr, ov) && ::GetLastError() != ERROR_IO_PENDING) {
      op.complete(last_error(), 0);
      return;
    }
    op.release();
  }

private:
  struct read_canceller {
    HANDLE handle;
    OVERLAPPED* ov;
    void operator()(asio::cancellation_type) const { ::CancelIoEx(handle, ov); }
  };

  Executor ex_;
  std::shared_ptr<pipe_state> state_;
};

/// Everything the portable layers need from the OS, as static functions over `HANDLE`s.
struct traits {
  using native_handle_type = HANDLE;
  static constexpr native_handle_type invalid_handle = nullptr;

  template <class Executor>
  using stream = pipe_stream<Executor>;
  using protocol = pipe_protocol;

  /// Handles travel in the frame's handle table: the sender makes each one the peer's as the
  /// frame's first byte is written (see `export_handles`), and the entry's blob says how the
  /// peer takes it. The blob starts with a method byte and the u32 pid of the process the
  /// handle was made for (the one the sender believed held the other end):
  ///   1 (`blob_duplicated`): DuplicateHandle made a copy in that process; u64 its value
  ///     there (13 bytes in all);
  ///   2 (`blob_socket`): a socket; the WSAPROTOCOL_INFOW that WSADuplicateSocketW filled in
  ///     for that pid, which the peer hands to WSASocketW (633 bytes in all). Sockets never go
  ///     through DuplicateHandle: layered providers would lose track of the copy.
  /// A receiver that is not that process (the channel end moved, and the sender did not know
  /// yet) does not adopt the value: see `handle_from_blob`.
  /// Each entry reserves the blob its kind of handle needs (`handle_blob_size`).
  static constexpr std::uint8_t blob_duplicated = 1;
  static constexpr std::uint8_t blob_socket = 2;
  static constexpr std::size_t blob_prefix = 1 + 4; // method, target pid
  static constexpr std::size_t duplicated_blob = blob_prefix + 8;
  static constexpr std::size_t socket_blob = blob_prefix + sizeof(WSAPROTOCOL_INFOW);
  static constexpr std::size_t max_handle_blob = std::max(duplicated_blob, socket_blob);
  static constexpr std::size_t max_handles_per_message = 253;

  /// The blob an entry reserves for @p h: a socket's protocol info, or a handle value. A
  /// converter that says `socket` is believed; any other handle is asked whether it is one.
  static std::size_t handle_blob_size(handle_kind kind, native_handle_type h) noexcept
  {
    // The channel converter says `socket` (a channel end is one on POSIX): here it is a pipe.
    if (kind == handle_kind::socket) return is_pipe(h) ? duplicated_blob : socket_blob;
    return is_socket(h) ? socket_blob : duplicated_blob;
  }

  /// Largest piece one write copies and hands to the pipe.
  static constexpr std::size_t max_write = 256u << 10;
  /// Each end's buffer, a hint to the pipe file system.
  static constexpr DWORD pipe_buffer = 64u << 10;

  /// Sockets held as handles (one that reached us as a `native_handle`) close as sockets.
  static void close_handle(native_handle_type h) noexcept
  {
    (void)partner_registry::get().take(h);
    if (is_socket(h)) ::closesocket(reinterpret_cast<SOCKET>(h));
    else ::CloseHandle(h);
  }

  /// A second handle to the same object, not inheritable. A socket is duplicated the Winsock
  /// way (WSADuplicateSocketW for this process, then WSASocketW), never with DuplicateHandle.
  /// The copy shares the socket's completion port binding (see docs/windows.md).
  static native_handle_type duplicate_handle(native_handle_type h, std::error_code& ec) noexcept
  {
    if (is_socket(h)) {
      WSAPROTOCOL_INFOW info{};
      if (::WSADuplicateSocketW(to_socket(h), ::GetCurrentProcessId(), &info) != 0) {
        ec = wsa_error();
        return nullptr;
      }
      const SOCKET s = ::WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                                    &info, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
      if (s == INVALID_SOCKET) {
        ec = wsa_error();
        return nullptr;
      }
      ec.clear();
      return from_socket(s);
    }
    HANDLE out = nullptr;
    const HANDLE self = ::GetCurrentProcess();
    if (!::DuplicateHandle(self, h, self, &out, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
      ec = last_error();
      return nullptr;
    }
    ec.clear();
    return out;
  }

  /// A connected pair of overlapped, non-inheritable named-pipe ends. The name is unique (pid,
  /// a counter and 64 random bits) and FILE_FLAG_FIRST_PIPE_INSTANCE refuses a name someone
  /// created before us; a nonce written through the pair before it is trusted shows that the
  /// client end we opened is connected to our own server end.
  static std::pair<native_handle_type, native_handle_type> create_pair(std::error_code& ec) noexcept
  {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    const std::uint64_t salt = (std::uint64_t(rd()) << 32) ^ rd();
    wchar_t name[96];
    std::swprintf(name, 96, L"\\\\.\\pipe\\ipcxx-%lu-%u-%016llx", ::GetCurrentProcessId(),
                  counter.fetch_add(1), static_cast<unsigned long long>(salt));
    HANDLE server = ::CreateNamedPipeW(
      name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
      pipe_buffer, pipe_buffer, 0, nullptr);
    if (server == INVALID_HANDLE_VALUE) {
      ec = last_error();
      return {nullptr, nullptr};
    }
    HANDLE client = ::CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                                  FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                                  nullptr);
    if (client == INVALID_HANDLE_VALUE) {
      ec = last_error();
      ::CloseHandle(server);
      return {nullptr, nullptr};
    }
    const std::uint64_t nonce[2] = {(std::uint64_t(rd()) << 32) ^ rd(), (std::uint64_t(rd()) << 32) ^ rd()};
    std::uint64_t echo[2] = {0, 0};
    const std::size_t sent = transfer(server, const_cast<std::uint64_t*>(nonce), sizeof nonce, true, ec);
    std::size_t got = 0;
    while (!ec && got < sizeof echo) {
      const std::size_t n = transfer(client, reinterpret_cast<char*>(echo) + got, sizeof echo - got, false, ec);
      if (n == 0 && !ec) ec = asio::error::eof;
      got += n;
    }
    if (!ec && (sent != sizeof nonce || std::memcmp(nonce, echo, sizeof nonce) != 0))
      ec = errc::invalid_handle;
    if (ec) {
      ::CloseHandle(server);
      ::CloseHandle(client);
      return {nullptr, nullptr};
    }
    return {server, client};
  }

  /// Checks that @p h is a pipe, the only kind of handle a channel can run over.
  static void check_channel_handle(native_handle_type h, std::error_code& ec) noexcept
  {
    if (!is_pipe(h)) {
      ec = errc::invalid_handle;
      return;
    }
    ec.clear();
  }

  // ---- sockets, for the Asio converters -------------------------------------------------------

  /// Asio's sockets are `SOCKET`s; a handle that crosses a channel is a `HANDLE` (a socket is
  /// one, for the kernel).
  using socket_handle_type = SOCKET;
  static SOCKET to_socket(native_handle_type h) noexcept
  {
    return static_cast<SOCKET>(reinterpret_cast<std::uintptr_t>(h));
  }
  static native_handle_type from_socket(SOCKET s) noexcept
  {
    return s == INVALID_SOCKET ? nullptr : reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(s));
  }

  /// An Asio socket bound to its io_context's completion port can be shared with `keep_open`
  /// on POSIX; here the copy would share the binding, and no other process (nor io_context)
  /// could use it asynchronously. The converters refuse to share them.
  static constexpr bool shares_bound_sockets = false;
  /// Whether Asio's local (AF_UNIX) sockets have converters: not on Windows (Asio has them, but
  /// nothing here has tested passing them).
  static constexpr bool transfers_local_sockets = false;

  /// What kind of socket a handle is, for converters that rebuild typed sockets. The family
  /// and type come from the socket's protocol info (getsockname fails on a socket not bound
  /// yet), listening from SO_ACCEPTCONN. Not a socket: `std::errc::not_a_socket`.
  enum class socket_family { local, ipv4, ipv6, other };
  enum class socket_type { stream, datagram, seqpacket, other };
  struct socket_info {
    socket_family family = socket_family::other;
    socket_type type = socket_type::other;
    bool listening = false;
  };
  static socket_info describe_socket(native_handle_type h, std::error_code& ec) noexcept
  {
    socket_info out;
    WSAPROTOCOL_INFOW info{};
    int size = sizeof info;
    if (::getsockopt(to_socket(h), SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&info),
                     &size) != 0) {
      const int err = ::WSAGetLastError();
      ec = err == WSAENOTSOCK ? std::make_error_code(std::errc::not_a_socket) : wsa_error(err);
      return out;
    }
    BOOL listening = FALSE;
    size = sizeof listening;
    if (info.iSocketType == SOCK_DGRAM ||
        ::getsockopt(to_socket(h), SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&listening),
                     &size) != 0)
      listening = FALSE;
    ec.clear();
    out.family = info.iAddressFamily == AF_UNIX    ? socket_family::local
                 : info.iAddressFamily == AF_INET  ? socket_family::ipv4
                 : info.iAddressFamily == AF_INET6 ? socket_family::ipv6
                                                   : socket_family::other;
    out.type = info.iSocketType == SOCK_STREAM      ? socket_type::stream
               : info.iSocketType == SOCK_DGRAM     ? socket_type::datagram
               : info.iSocketType == SOCK_SEQPACKET ? socket_type::seqpacket
                                                    : socket_type::other;
    out.listening = listening != FALSE;
    return out;
  }

  /// Keeps @p h from being inherited by children (the Windows side of close-on-exec; Asio
  /// opens sockets inheritable).
  static void set_close_on_exec(native_handle_type h, std::error_code& ec) noexcept
  {
    if (!::SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0)) ec = last_error();
    else ec.clear();
  }

  // ---- I/O through a channel's stream (pipe_ref): see pipe_state ------------------------------

  /// Writes the first non-empty buffer of @p buffers (at most `max_write` bytes of it) and
  /// returns the bytes counted as written; 0 with `would_block` while an earlier write is
  /// pending and @p nonblocking.
  static std::size_t send_some(pipe_ref p, std::span<const asio::const_buffer> buffers,
                               std::span<const native_handle_type> handles, bool nonblocking,
                               std::error_code& ec)
  {
    pipe_state& st = *p.state;
    if (nonblocking) {
      // Its completion comes through the port (before handles are made the peer's, so that a
      // failure here has nothing to take back).
      st.bind(ec);
      if (ec) return 0;
    }
    if (st.writing()) {
      if (nonblocking) {
        ec = asio::error::would_block;
        return 0;
      }
      ::WaitForSingleObject(st.write_event, INFINITE);
      st.write_pending = false;
    }
    if (st.write_error) {
      ec = st.write_error;
      return 0;
    }
    const auto b = std::find_if(buffers.begin(), buffers.end(),
                                [](const asio::const_buffer& x) { return x.size() != 0; });
    if (b == buffers.end()) {
      ec.clear();
      return 0;
    }
    const std::size_t n = std::min(b->size(), max_write);
    std::unique_ptr<std::byte[]> copy;
    std::vector<HANDLE> exported; // values in the peer, revoked if the frame does not leave
    if (!handles.empty()) {
      // The frame's first byte: its head (header and handle table, well under max_write) is
      // at the start of this buffer. Patch a copy with the values the handles get in the peer.
      copy.reset(new std::byte[n]);
      std::memcpy(copy.get(), b->data(), n);
      if (!export_handles(st, {copy.get(), n}, handles, exported, ec)) return 0;
    }
    if (!nonblocking) {
      // The caller's memory stays valid while we wait: no copy needed (unless patched).
      const std::size_t done = transfer(p.handle, copy ? copy.get() : const_cast<void*>(b->data()),
                                        n, true, ec);
      if (ec || done == 0) revoke_handles(st, exported);
      return done;
    }
    if (!copy) {
      copy.reset(new std::byte[n]);
      std::memcpy(copy.get(), b->data(), n);
    }
    const std::uint64_t id = ++st.write_id;
    std::byte* data = copy.get();

    // The completion keeps the copy and the state alive until the pipe is done with them.
    std::shared_ptr<pipe_state> keep = st.shared_from_this();
    asio::windows::overlapped_ptr op(
      st.executor, [keep, copy = std::move(copy), id](std::error_code wec, std::size_t) {
        pipe_state& s = *keep;
        if (wec && wec != asio::error::operation_aborted && !s.write_error) s.write_error = wec;
        if (s.write_pending && s.write_id == id) s.write_pending = false;
        if (s.write_waiter && !s.writing()) {
          auto waiter = std::move(s.write_waiter);
          waiter->complete(std::error_code(), 0);
        }
      });
    OVERLAPPED* ov = op.get();
    ov->hEvent = st.write_event;
    if (::WriteFile(p.handle, data, static_cast<DWORD>(n), nullptr, ov)) {
      op.release(); // the completion port still reports it, and frees the copy
      ec.clear();
      return n;
    }
    const DWORD err = ::GetLastError();
    if (err != ERROR_IO_PENDING) {
      ec = write_failure(err);
      revoke_handles(st, exported);
      op.complete(ec, 0);
      return 0;
    }
    op.release();
    st.write_pending = true;
    ec.clear();
    return n;
  }

  /// Reads what is there into @p buffer: with @p nonblocking, `would_block` when nothing is;
  /// otherwise waits for at least one byte. Returns 0 with no error at end of stream. No
  /// handles arrive out of band on Windows.
  static std::size_t receive_some(pipe_ref p, std::span<std::byte> buffer,
                                  std::vector<native_handle_type>& handles, std::size_t max_handles,
                                  bool nonblocking, std::error_code& ec)
  {
    (void)handles;
    (void)max_handles;
    std::size_t want = buffer.size();
    if (nonblocking) {
      DWORD avail = 0;
      if (!::PeekNamedPipe(p.handle, nullptr, 0, nullptr, &avail, nullptr))
        return read_failure(::GetLastError(), ec);
      // Bytes of a write still pending in the peer are not always counted as available (wine
      // counts only what is buffered): when none are, try a read and withdraw it if it waits.
      if (avail != 0) want = std::min<std::size_t>(want, avail);
    }
    return read(p.handle, p.state->read_event, buffer.data(), want, nonblocking, ec);
  }

  enum class readiness { readable = 1, writable = 2 };

  /// Blocks until @p p is readable and/or writable (whichever of @p want), for the sync paths.
  /// Waiting for both is what a sync send does while its write is pending (so that it can
  /// take in what the peer sends meanwhile): then it polls, reporting "readable" every
  /// millisecond without knowing (the next non-blocking read finds out). A zero-byte read
  /// pending on the end that has a write pending stalled wine's delivery of that write.
  static int wait(pipe_ref p, int want, std::error_code& ec)
  {
    pipe_state& st = *p.state;
    ec.clear();
    const bool want_read = (want & int(readiness::readable)) != 0;
    if (want & int(readiness::writable)) {
      if (!st.writing()) return int(readiness::writable);
      if (::WaitForSingleObject(st.write_event, want_read ? 1 : INFINITE) == WAIT_OBJECT_0) {
        st.write_pending = false;
        return int(readiness::writable);
      }
      return int(readiness::readable);
    }
    if (!want_read) return 0;
    // Only readable: a zero-byte read completes when data (or end of stream) is there.
    OVERLAPPED ov{};
    ov.hEvent = no_port(st.read_event);
    static char dummy;
    if (::ReadFile(p.handle, &dummy, 0, nullptr, &ov) || ::GetLastError() != ERROR_IO_PENDING)
      return int(readiness::readable);
    DWORD n = 0;
    (void)::GetOverlappedResult(p.handle, &ov, &n, TRUE);
    return int(readiness::readable);
  }

  // ---- I/O on a bare HANDLE (tests writing raw bytes; no channel state) -----------------------

  /// Writes all of the first non-empty buffer, waiting for the pipe to take it.
  static std::size_t send_some(native_handle_type h, std::span<const asio::const_buffer> buffers,
                               std::span<const native_handle_type> handles, bool nonblocking,
                               std::error_code& ec) noexcept
  {
    (void)nonblocking;
    if (!handles.empty()) {
      ec = errc::too_many_handles;
      return 0;
    }
    for (const auto& b : buffers) {
      if (b.size() == 0) continue;
      std::size_t done = 0;
      while (done < b.size() && !ec)
        done += transfer(h, const_cast<char*>(static_cast<const char*>(b.data())) + done,
                         std::min(b.size() - done, max_write), true, ec);
      return ec ? 0 : done;
    }
    ec.clear();
    return 0;
  }

  static std::size_t receive_some(native_handle_type h, std::span<std::byte> buffer,
                                  std::vector<native_handle_type>&, std::size_t, bool,
                                  std::error_code& ec) noexcept
  {
    const std::size_t n = transfer(h, buffer.data(), buffer.size(), false, ec);
    if (ec == asio::error::broken_pipe || ec.value() == ERROR_BROKEN_PIPE) ec.clear();
    return n;
  }

  static int wait(native_handle_type, int want, std::error_code& ec) noexcept
  {
    ec.clear();
    return want;
  }

  /// The peer's process id (uid and gid have no Windows meaning and stay -1).
  struct credentials {
    long pid = -1;
    long uid = -1;
    long gid = -1;
  };
  /// What a handle refers to (volume and file index), for telling whether a handle value still
  /// names the object it named earlier. Fails for objects without file information (sockets).
  struct handle_identity {
    std::uint64_t a = 0, b = 0;
    friend bool operator==(const handle_identity&, const handle_identity&) = default;
  };
  static handle_identity identify_handle(native_handle_type h, std::error_code& ec) noexcept
  {
    BY_HANDLE_FILE_INFORMATION info{};
    if (!::GetFileInformationByHandle(h, &info)) {
      ec = last_error();
      return {};
    }
    ec.clear();
    return {info.dwVolumeSerialNumber,
            (std::uint64_t{info.nFileIndexHigh} << 32) | info.nFileIndexLow};
  }

  static long process_id() noexcept { return static_cast<long>(::GetCurrentProcessId()); }

  /// The peer's end moved to process @p pid (it said so in its first frame): handles go there
  /// from now on.
  static void peer_moved(pipe_ref p, std::uint32_t pid) noexcept
  {
    pipe_state& st = *p.state;
    st.moved_to.store(0); // what the peer says is newer than where this process sent it
    st.peer_is(pid);
  }

  /// `pair()` made @p a and @p b in this process: each may learn where the other is sent
  /// (see `partner_registry`).
  static void link_pair(pipe_ref a, pipe_ref b) noexcept
  {
    if (a.state == nullptr || b.state == nullptr) return;
    a.state->partner = b.state->weak_from_this();
    b.state->partner = a.state->weak_from_this();
  }

  static credentials peer_credentials(native_handle_type h, std::error_code& ec) noexcept
  {
    credentials c;
    DWORD flags = 0;
    ULONG pid = 0;
    if (!::GetNamedPipeInfo(h, &flags, nullptr, nullptr, nullptr) ||
        !((flags & PIPE_SERVER_END) ? ::GetNamedPipeClientProcessId(h, &pid)
                                    : ::GetNamedPipeServerProcessId(h, &pid))) {
      ec = last_error();
      return c;
    }
    ec.clear();
    c.pid = static_cast<long>(pid);
    return c;
  }

  /// The handle a received handle-table entry names, owned by the caller from now on: a value
  /// the sender duplicated into this process for us, or a socket made from the protocol info
  /// the sender exported for us. A blob that is neither is `malformed_frame`; protocol info
  /// that yields no socket of the family and type it announces is `invalid_handle`. A handle
  /// made for another process (a former holder of this channel end) is
  /// `errc::handle_misdirected`: a duplicated one is closed in that process (the sender holds
  /// that process's handle open until the channel closes, so the pid still names it); an
  /// exported socket cannot be taken back. The value itself cannot be checked: a peer is
  /// trusted not to name handles of ours it did not give us (docs/windows.md).
  static void handle_from_blob(std::span<const std::byte> blob, native_handle_type& out,
                               std::error_code& ec) noexcept
  {
    const auto method = blob.empty() ? 0u : std::to_integer<unsigned>(blob[0]);
    DWORD target = 0;
    if (blob.size() >= blob_prefix)
      for (int i = 4; i >= 1; --i) target = (target << 8) | std::to_integer<DWORD>(blob[i]);
    if (blob.size() == socket_blob && method == blob_socket) {
      if (target != ::GetCurrentProcessId()) {
        ec = errc::handle_misdirected;
        return;
      }
      import_socket(blob.subspan(blob_prefix), out, ec);
      return;
    }
    std::uint64_t v = 0;
    if (blob.size() == duplicated_blob && method == blob_duplicated)
      for (int i = 8; i >= 1; --i) v = (v << 8) | std::to_integer<std::uint64_t>(blob[blob_prefix - 1 + i]);
    // Real handle values are multiples of 4; 0 and the pseudo handles (-1, -2, ...) are not.
    if (v == 0 || (v & 3) != 0 || v > 0xffffffffull || target == 0) {
      ec = errc::malformed_frame;
      return;
    }
    const HANDLE value = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(v));
    if (target != ::GetCurrentProcessId()) {
      if (const HANDLE there = ::OpenProcess(PROCESS_DUP_HANDLE, FALSE, target)) {
        close_in(there, value);
        ::CloseHandle(there);
      }
      ec = errc::handle_misdirected;
      return;
    }
    out = value;
    ec.clear();
  }

  /// The process at the other end of @p st's pipe, opened once for DuplicateHandle; its pid is
  /// then in `st.peer_pid` (for WSADuplicateSocketW), and cannot be reused while it is open.
  static HANDLE peer_process(pipe_state& st, std::error_code& ec) noexcept
  {
    if (const DWORD moved = st.moved_to.exchange(0); moved != 0) st.peer_is(moved);
    if (st.peer_process != nullptr) return st.peer_process;
    DWORD pid = st.peer_pid;
    if (pid == 0) {
      const credentials c = peer_credentials(st.handle, ec);
      if (ec) return nullptr;
      pid = static_cast<DWORD>(c.pid);
    }
    st.peer_process = ::OpenProcess(PROCESS_DUP_HANDLE, FALSE, pid);
    if (st.peer_process == nullptr) ec = last_error();
    else st.peer_pid = pid;
    return st.peer_process;
  }

private:
  /// Makes @p handles the peer's and writes how it takes them into the blobs of the handle
  /// table in @p head (a frame's first bytes): entries with a handle-value blob are duplicated
  /// into the peer's process, entries with a socket blob exported with WSADuplicateSocketW.
  ///
  /// Duplicates go first: if one fails, those already made are closed again in the peer
  /// (`revoke_handles`). An exported socket cannot be taken back (Winsock has no call for it),
  /// so sockets go last, and only while the peer still has its end of the pipe open: a socket
  /// exported for a frame that then fails to leave stays in the peer's process until it exits.
  static bool export_handles(pipe_state& st, std::span<std::byte> head,
                             std::span<const native_handle_type> handles,
                             std::vector<HANDLE>& exported, std::error_code& ec) noexcept
  {
    constexpr std::size_t header = 20; // frame_header_size: frame.hpp includes this file
    if (head.size() < header || (std::to_integer<std::size_t>(head[12]) |
                                 (std::to_integer<std::size_t>(head[13]) << 8)) != handles.size()) {
      ec = errc::malformed_frame;
      return false;
    }
    const HANDLE peer = peer_process(st, ec);
    if (peer == nullptr) return false;
    std::vector<HANDLE> sent; // handles that may be ends of pairs made here (partner_registry)
    // Calls f(handle, blob) for each entry in order; false when the table does not match the
    // handles, or when f says so.
    auto each_entry = [&](auto&& f) {
      std::size_t at = header;
      // A keyed frame (flags bit 0) starts its table with a connection key: u8 size, bytes.
      if ((std::to_integer<unsigned>(head[15]) & 1u) != 0 && head.size() > header)
        at += 1 + std::to_integer<std::size_t>(head[header]);
      for (const HANDLE h : handles) {
        if (head.size() < at + 1) return false;
        at += 1 + std::to_integer<std::size_t>(head[at]);
        if (head.size() < at + 2) return false;
        const std::size_t size = std::to_integer<std::size_t>(head[at]) |
                                 (std::to_integer<std::size_t>(head[at + 1]) << 8);
        at += 2;
        if ((size != duplicated_blob && size != socket_blob) || head.size() < at + size) return false;
        if (!f(h, head.subspan(at, size))) return false;
        at += size;
      }
      return true;
    };
    std::size_t sockets = 0;
    const bool duplicated = each_entry([&](HANDLE h, std::span<std::byte> blob) {
      if (blob.size() == socket_blob) {
        ++sockets;
        return true;
      }
      HANDLE remote = nullptr;
      if (!::DuplicateHandle(::GetCurrentProcess(), h, peer, &remote, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
        ec = last_error();
        return false;
      }
      exported.push_back(remote);
      if (partner_registry::get().size() != 0) sent.push_back(h);
      const auto v = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(remote));
      write_prefix(blob, blob_duplicated, st.peer_pid);
      for (int i = 0; i < 8; ++i) blob[blob_prefix + i] = std::byte((v >> (8 * i)) & 0xff);
      return true;
    });
    if (duplicated && sockets != 0) {
      // A peer that closed its end would never take them (ERROR_BROKEN_PIPE, ERROR_NO_DATA).
      DWORD avail = 0;
      if (!::PeekNamedPipe(st.handle, nullptr, 0, nullptr, &avail, nullptr)) {
        ec = write_failure(::GetLastError());
        revoke_handles(st, exported);
        return false;
      }
    }
    const bool done = duplicated && (sockets == 0 || each_entry([&](HANDLE h, std::span<std::byte> blob) {
      if (blob.size() != socket_blob) return true;
      WSAPROTOCOL_INFOW info{};
      if (::WSADuplicateSocketW(to_socket(h), st.peer_pid, &info) != 0) {
        ec = wsa_error();
        return false;
      }
      write_prefix(blob, blob_socket, st.peer_pid);
      std::memcpy(blob.data() + blob_prefix, &info, sizeof info);
      return true;
    }));
    if (!done) {
      revoke_handles(st, exported);
      if (!ec) ec = errc::malformed_frame;
      return false;
    }
    // Ends of pairs made here that go to the peer: their partners' peer is the peer now.
    for (const HANDLE h : sent)
      if (auto partner = partner_registry::get().take(h)) partner->moved_to.store(st.peer_pid);
    ec.clear();
    return true;
  }

  static void write_prefix(std::span<std::byte> blob, std::uint8_t method, DWORD pid) noexcept
  {
    blob[0] = std::byte{method};
    for (int i = 0; i < 4; ++i) blob[1 + i] = std::byte((pid >> (8 * i)) & 0xff);
  }

  /// Takes the socket a peer exported for us (WSADuplicateSocketW with our pid) from its
  /// protocol info, and checks it is a socket of the family and type the info announces:
  /// bytes from a peer are not trusted to be protocol info. A socket of another kind is
  /// closed; what is no socket at all is left alone (wine's WSASocketW returns the handle value
  /// the info names without looking, and it may name a handle of ours).
  static void import_socket(std::span<const std::byte> bytes, native_handle_type& out,
                            std::error_code& ec) noexcept
  {
    WSAPROTOCOL_INFOW info;
    std::memcpy(&info, bytes.data(), sizeof info);
    winsock_ready();
    const SOCKET s = ::WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                                  &info, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
      ec = errc::invalid_handle;
      return;
    }
    WSAPROTOCOL_INFOW got{};
    int size = sizeof got;
    if (::getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&got), &size) != 0) {
      ec = errc::invalid_handle;
      return;
    }
    if (got.iAddressFamily != info.iAddressFamily || got.iSocketType != info.iSocketType) {
      ::closesocket(s);
      ec = errc::invalid_handle;
      return;
    }
    out = from_socket(s);
    ec.clear();
  }

  /// Closes, in the peer's process, handles duplicated there for a frame that never left
  /// (`close_in`). Only for frames not written, whose values the peer cannot have seen.
  static void revoke_handles(pipe_state& st, std::vector<HANDLE>& exported) noexcept
  {
    for (HANDLE remote : exported) close_in(st.peer_process, remote);
    exported.clear();
  }

  /// Closes handle @p value of @p process: DUPLICATE_CLOSE_SOURCE is the one way to close
  /// another process's handle. Windows takes no target for it; wine 8 insists on one
  /// (ERROR_INVALID_HANDLE without), so the handle comes here on its way out and is closed.
  static void close_in(HANDLE process, HANDLE value) noexcept
  {
    HANDLE copy = nullptr;
    if (::DuplicateHandle(process, value, ::GetCurrentProcess(), &copy, 0, FALSE,
                          DUPLICATE_CLOSE_SOURCE | DUPLICATE_SAME_ACCESS) &&
        copy != nullptr)
      ::CloseHandle(copy);
  }

  static bool is_pipe(HANDLE h) noexcept
  {
    DWORD flags = 0;
    return ::GetFileType(h) == FILE_TYPE_PIPE &&
           ::GetNamedPipeInfo(h, &flags, nullptr, nullptr, nullptr) != FALSE;
  }

  static bool is_socket(HANDLE h) noexcept
  {
    int type = 0;
    int size = sizeof type;
    return ::getsockopt(to_socket(h), SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &size) == 0;
  }

  static std::error_code wsa_error(int err = ::WSAGetLastError()) noexcept
  {
    return std::error_code(err, asio::error::get_system_category());
  }

  /// Winsock is started once per process before this backend makes a socket itself: a
  /// receiver may import one before it has opened any (Asio starts Winsock only where its
  /// socket headers are used).
  static void winsock_ready() noexcept
  {
    static const bool started = [] {
      WSADATA data;
      return ::WSAStartup(MAKEWORD(2, 2), &data) == 0;
    }();
    (void)started;
  }

  /// One blocking overlapped ReadFile/WriteFile on a handle (kept off any completion port).
  static std::size_t transfer(HANDLE h, void* data, std::size_t size, bool write,
                              std::error_code& ec) noexcept
  {
    OVERLAPPED ov{};
    HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (event == nullptr) {
      ec = last_error();
      return 0;
    }
    ov.hEvent = no_port(event);
    DWORD n = 0;
    BOOL ok = write ? ::WriteFile(h, data, static_cast<DWORD>(size), nullptr, &ov)
                    : ::ReadFile(h, data, static_cast<DWORD>(size), nullptr, &ov);
    DWORD err = ok ? 0 : ::GetLastError();
    if (ok || err == ERROR_IO_PENDING) {
      ok = ::GetOverlappedResult(h, &ov, &n, TRUE);
      err = ok ? 0 : ::GetLastError();
    }
    ::CloseHandle(event);
    if (!ok) {
      if (!write && (err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED)) {
        ec.clear();
        return 0;
      }
      ec = write ? write_failure(err) : std::error_code(static_cast<int>(err), asio::error::get_system_category());
      return 0;
    }
    ec.clear();
    return n;
  }

  /// One ReadFile; with @p nonblocking, a read that would wait is cancelled (`would_block`,
  /// unless bytes arrived before the cancellation took effect).
  static std::size_t read(HANDLE h, HANDLE event, void* data, std::size_t size, bool nonblocking,
                          std::error_code& ec)
  {
    OVERLAPPED ov{};
    ov.hEvent = no_port(event);
    DWORD n = 0;
    BOOL ok = ::ReadFile(h, data, static_cast<DWORD>(std::min<std::size_t>(size, 1u << 30)), nullptr, &ov);
    if (!ok) {
      const DWORD err = ::GetLastError();
      if (err != ERROR_IO_PENDING) return read_failure(err, ec);
      if (nonblocking) ::CancelIoEx(h, &ov);
    }
    if (!::GetOverlappedResult(h, &ov, &n, TRUE)) {
      if (::GetLastError() == ERROR_OPERATION_ABORTED) {
        ec = asio::error::would_block;
        return 0;
      }
      return read_failure(::GetLastError(), ec);
    }
    ec.clear();
    return n;
  }

  /// End of stream is a read of 0 bytes, as on POSIX.
  static std::size_t read_failure(DWORD err, std::error_code& ec) noexcept
  {
    if (err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED || err == ERROR_HANDLE_EOF) {
      ec.clear();
      return 0;
    }
    ec = std::error_code(static_cast<int>(err), asio::error::get_system_category());
    return 0;
  }

  /// A write to a pipe whose reader is gone, as POSIX says it.
  static std::error_code write_failure(DWORD err) noexcept
  {
    if (err == ERROR_NO_DATA || err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED)
      return asio::error::broken_pipe;
    return std::error_code(static_cast<int>(err), asio::error::get_system_category());
  }
};

} // namespace platform::windows
IPC_END_NAMESPACE

#endif // IPC_PLATFORM_WINDOWS_TRAITS_HPP
