// ipc/platform/windows/traits.hpp - the Windows backend: a duplex pair of overlapped named pipes.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_WINDOWS_TRAITS_HPP
#define IPC_PLATFORM_WINDOWS_TRAITS_HPP

#include "ipc/platform/config.hpp"
#include "ipc/error.hpp"

// Asio first: it includes <winsock2.h> before <windows.h>, as Winsock 2 requires.
#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/windows/overlapped_ptr.hpp>
#include <asio/windows/stream_handle.hpp>

#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cwchar>
#include <cstring>
#include <memory>
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
/// keeps their completion off the I/O completion port the Asio handle is bound to.
///
/// Known gap (tests: suite channel_threads, not run on Windows yet): under wine, a sync send
/// whose write is pending sometimes waits for good while another thread blocks in a sync
/// receive on the other end. The async paths do not show it.
struct pipe_state : std::enable_shared_from_this<pipe_state> {
  explicit pipe_state(asio::any_io_executor ex) : executor(std::move(ex)) {}

  asio::any_io_executor executor; // where write completions run
  HANDLE handle = nullptr;        // owned by the stream, not by the state
  HANDLE read_event = nullptr;    // manual reset: synchronous reads and readiness waits
  HANDLE write_event = nullptr;   // manual reset: signalled when the last write completed
  bool write_pending = false;     // a write returned ERROR_IO_PENDING and has not completed
  bool closed = false;            // the stream closed the handle: waits report operation_aborted
  std::uint64_t write_id = 0;     // the id of that write
  std::error_code write_error;    // how a write counted as done failed later
  std::unique_ptr<asio::windows::overlapped_ptr> write_waiter; // an async "writable" wait
  /// The process at the other end, when the pipe cannot tell (set by spawn: the parent made
  /// both ends, so the pipe names the parent as both client and server). 0: ask the pipe.
  DWORD peer_pid = 0;
  HANDLE peer_process = nullptr;  // opened with PROCESS_DUP_HANDLE on the first handle sent

  pipe_state(const pipe_state&) = delete;
  pipe_state& operator=(const pipe_state&) = delete;
  ~pipe_state()
  {
    if (read_event != nullptr) ::CloseHandle(read_event);
    if (write_event != nullptr) ::CloseHandle(write_event);
    if (peer_process != nullptr) ::CloseHandle(peer_process);
  }

  /// Whether the pending write (if any) is still in the pipe's queue; notices a completion
  /// that the completion port has not reported yet (sync paths do not run the io_context).
  bool writing() noexcept
  {
    if (write_pending && ::WaitForSingleObject(write_event, 0) == WAIT_OBJECT_0)
      write_pending = false;
    return write_pending;
  }
};

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

  explicit pipe_stream(const executor_type& ex) : handle_(ex) {}
  pipe_stream(pipe_stream&&) = default;
  pipe_stream& operator=(pipe_stream&&) = default;

  executor_type get_executor() noexcept { return handle_.get_executor(); }
  bool is_open() const noexcept { return handle_.is_open(); }
  native_handle_type native_handle() noexcept { return {handle_.native_handle(), state_.get()}; }

  /// Takes ownership of @p h (an overlapped pipe end) and binds it to the completion port.
  void assign(pipe_protocol, HANDLE h, std::error_code& ec)
  {
    auto st = std::make_shared<pipe_state>(asio::any_io_executor(handle_.get_executor()));
    st->read_event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    st->write_event = ::CreateEventW(nullptr, TRUE, TRUE, nullptr);
    if (st->read_event == nullptr || st->write_event == nullptr) {
      ec = last_error();
      return;
    }
    handle_.assign(h, ec);
    if (ec) return;
    st->handle = h;
    state_ = std::move(st);
  }

  void close(std::error_code& ec)
  {
    if (state_) {
      state_->closed = true;
      if (auto waiter = std::move(state_->write_waiter))
        waiter->complete(asio::error::operation_aborted, 0);
    }
    handle_.close(ec);
    state_.reset();
  }

  /// A handle bound to a completion port stays bound to it: it cannot be given up.
  HANDLE release(std::error_code& ec)
  {
    ec = std::make_error_code(std::errc::operation_not_supported);
    return nullptr;
  }

  /// Completes when the pipe is readable (data or end of stream), or when the write the last
  /// send left pending has completed. Cancelled by `close()`; a connected cancellation slot of
  /// @p handler cancels a read wait.
  template <class Handler>
  void async_wait(wait_type w, Handler&& handler)
  {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto ex = handle_.get_executor();
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
    const HANDLE h = handle_.native_handle();
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

  asio::windows::basic_stream_handle<Executor> handle_;
  std::shared_ptr<pipe_state> state_;
};

/// Everything the portable layers need from the OS, as static functions over `HANDLE`s.
struct traits {
  using native_handle_type = HANDLE;
  static constexpr native_handle_type invalid_handle = nullptr;

  template <class Executor>
  using stream = pipe_stream<Executor>;
  using protocol = pipe_protocol;

  /// Handles travel in the frame's handle table: the sender duplicates each into the peer's
  /// process as the frame's first byte is written (see `export_handles`), and the entry's blob
  /// carries the value the handle has there: u8 method (1: DuplicateHandle), u64 value. Every
  /// entry reserves this many blob bytes.
  static constexpr std::size_t max_handle_blob = 9;
  static constexpr std::size_t max_handles_per_message = 253;
  static constexpr std::uint8_t blob_duplicated = 1;

  /// Largest piece one write copies and hands to the pipe.
  static constexpr std::size_t max_write = 256u << 10;
  /// Each end's buffer, a hint to the pipe file system.
  static constexpr DWORD pipe_buffer = 64u << 10;

  /// Sockets held as handles (one that reached us as a `native_handle`) close as sockets.
  static void close_handle(native_handle_type h) noexcept
  {
    if (is_socket(h)) ::closesocket(reinterpret_cast<SOCKET>(h));
    else ::CloseHandle(h);
  }

  /// A second handle to the same object. Sockets are refused (`operation_not_supported`):
  /// DuplicateHandle must not be used on them (layered providers lose track of the copy).
  static native_handle_type duplicate_handle(native_handle_type h, std::error_code& ec) noexcept
  {
    if (is_socket(h)) {
      ec = std::make_error_code(std::errc::operation_not_supported);
      return nullptr;
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
    DWORD flags = 0;
    if (::GetFileType(h) != FILE_TYPE_PIPE ||
        !::GetNamedPipeInfo(h, &flags, nullptr, nullptr, nullptr)) {
      ec = errc::invalid_handle;
      return;
    }
    ec.clear();
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

  /// The handle a received handle-table entry names: a value the sender duplicated into this
  /// process for us, owned by the caller from now on. A blob that is not such a value is
  /// `malformed_frame`. The value itself cannot be checked: a peer is trusted not to name
  /// handles of ours it did not give us (docs/windows.md).
  static void handle_from_blob(std::span<const std::byte> blob, native_handle_type& out,
                               std::error_code& ec) noexcept
  {
    std::uint64_t v = 0;
    if (blob.size() == max_handle_blob && std::to_integer<std::uint8_t>(blob[0]) == blob_duplicated)
      for (int i = 8; i >= 1; --i) v = (v << 8) | std::to_integer<std::uint64_t>(blob[i]);
    // Real handle values are multiples of 4; 0 and the pseudo handles (-1, -2, ...) are not.
    if (v == 0 || (v & 3) != 0 || v > 0xffffffffull) {
      ec = errc::malformed_frame;
      return;
    }
    out = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(v));
    ec.clear();
  }

  /// The process at the other end of @p st's pipe, opened once for DuplicateHandle.
  static HANDLE peer_process(pipe_state& st, std::error_code& ec) noexcept
  {
    if (st.peer_process != nullptr) return st.peer_process;
    ULONG pid = st.peer_pid;
    DWORD flags = 0;
    if (pid == 0 &&
        (!::GetNamedPipeInfo(st.handle, &flags, nullptr, nullptr, nullptr) ||
         !((flags & PIPE_SERVER_END) ? ::GetNamedPipeClientProcessId(st.handle, &pid)
                                     : ::GetNamedPipeServerProcessId(st.handle, &pid)))) {
      ec = last_error();
      return nullptr;
    }
    st.peer_process = ::OpenProcess(PROCESS_DUP_HANDLE, FALSE, pid);
    if (st.peer_process == nullptr) ec = last_error();
    return st.peer_process;
  }

private:
  /// Duplicates @p handles into the peer's process and writes the values into the blobs of
  /// the handle table in @p head (a frame's first bytes). Sockets are refused: they must travel
  /// by WSADuplicateSocketW, never DuplicateHandle, and that is not implemented yet. On
  /// failure, whatever was already duplicated is closed again in the peer.
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
    std::size_t at = header;
    // A keyed frame (flags bit 0) starts its table with a connection key: u8 size, bytes.
    if ((std::to_integer<unsigned>(head[15]) & 1u) != 0 && head.size() > header)
      at += 1 + std::to_integer<std::size_t>(head[header]);
    for (const HANDLE h : handles) {
      if (head.size() < at + 1) break;
      at += 1 + std::to_integer<std::size_t>(head[at]);
      if (head.size() < at + 2 + max_handle_blob ||
          (std::to_integer<std::size_t>(head[at]) | (std::to_integer<std::size_t>(head[at + 1]) << 8)) !=
            max_handle_blob)
        break;
      at += 2;
      if (is_socket(h)) {
        ec = std::make_error_code(std::errc::operation_not_supported);
        revoke_handles(st, exported);
        return false;
      }
      HANDLE remote = nullptr;
      if (!::DuplicateHandle(::GetCurrentProcess(), h, peer, &remote, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
        ec = last_error();
        revoke_handles(st, exported);
        return false;
      }
      exported.push_back(remote);
      const auto v = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(remote));
      head[at] = std::byte{blob_duplicated};
      for (int i = 0; i < 8; ++i) head[at + 1 + i] = std::byte((v >> (8 * i)) & 0xff);
      at += max_handle_blob;
    }
    if (exported.size() != handles.size()) {
      revoke_handles(st, exported);
      ec = errc::malformed_frame;
      return false;
    }
    ec.clear();
    return true;
  }

  /// Closes, in the peer's process, handles duplicated there for a frame that never left:
  /// DUPLICATE_CLOSE_SOURCE with no target is the one way to close another process's handle.
  /// Only for frames not written, whose values the peer cannot have seen.
  static void revoke_handles(pipe_state& st, std::vector<HANDLE>& exported) noexcept
  {
    for (HANDLE remote : exported)
      ::DuplicateHandle(st.peer_process, remote, nullptr, nullptr, 0, FALSE, DUPLICATE_CLOSE_SOURCE);
    exported.clear();
  }

  static bool is_socket(HANDLE h) noexcept
  {
    int type = 0;
    int size = sizeof type;
    return ::getsockopt(reinterpret_cast<SOCKET>(h), SOL_SOCKET, SO_TYPE,
                        reinterpret_cast<char*>(&type), &size) == 0;
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
