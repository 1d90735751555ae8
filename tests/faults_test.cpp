// tests/faults_test.cpp - faults with real processes: peers killed mid-send, descriptor limits,
// full sockets, receivers that stop reading, and signals interrupting every blocking call.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/channel.hpp" // first: it configures Asio
#include "ipc/serializers/raw.hpp"

#include "support.hpp"

#include <asio/io_context.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using ipc_test::socket_pair;

using raw_channel = ipc::channel<ipc::raw>;

int dev_null() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

/// A pipe's read end that yields @p text (the write end is closed): a descriptor whose
/// identity the receiver can check.
int pipe_with(const std::string& text)
{
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  if (::write(p[1], text.data(), text.size()) != ssize_t(text.size())) {
    ::close(p[0]);
    p[0] = -1;
  }
  ::close(p[1]);
  return p[0];
}

std::string read_all(int fd)
{
  std::string s;
  char buf[256];
  for (int i = 0; i < 1 << 20; ++i) { // bounded; signals may interrupt reads
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, std::size_t(n));
  }
  return s;
}

/// The bytes of one frame as a real sender writes them: header, a "native" table entry per
/// descriptor, payload.
std::vector<std::byte> frame_bytes(std::uint32_t sequence, std::size_t handles,
                                   const std::string& payload)
{
  ipc::byte_buffer table;
  for (std::size_t i = 0; i < handles; ++i) (void)ipc::append_handle_entry(table, "native");
  std::vector<std::byte> f(ipc::frame_header_size + table.size() + payload.size());
  ipc::encode_frame_header({std::uint32_t(payload.size()), sequence, std::uint16_t(handles),
                            ipc::frame_kind::message, 0, std::uint32_t(table.size())},
                           f.data());
  std::byte* p = f.data() + ipc::frame_header_size;
  if (table.size() != 0) std::memcpy(p, table.data(), table.size());
  if (!payload.empty()) std::memcpy(p + table.size(), payload.data(), payload.size());
  return f;
}

/// One blocking sendmsg of all of @p bytes with @p fds on the first byte (the rest without).
bool write_frame_part(int fd, std::span<const std::byte> bytes, std::vector<int> fds)
{
  std::size_t done = 0;
  while (done < bytes.size()) {
    std::error_code ec;
    asio::const_buffer b(bytes.data() + done, bytes.size() - done);
    const std::size_t n = ipc::platform::traits::send_some(
      fd, {&b, 1}, done == 0 ? fds : std::vector<int>(), false, ec);
    if (ec || n == 0) return false;
    done += n;
  }
  return true;
}

/// Lowers this process's descriptor limit so that exactly @p room more descriptors can be
/// opened. RLIMIT_NOFILE bounds descriptor numbers, not their count, so the holes below the
/// highest open number are plugged first; returns the plugs (close them afterwards).
std::vector<int> leave_room_for(int room)
{
  int highest = -1;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(d);
    while (const dirent* e = ::readdir(d)) {
      const int fd = std::atoi(e->d_name);
      if (e->d_name[0] != '.' && fd != own) highest = std::max(highest, fd);
    }
    ::closedir(d);
  }
  std::vector<int> plugs;
  for (int i = 0; i < 4096; ++i) {
    const int f = dev_null();
    if (f < 0) break;
    if (f > highest) {
      ::close(f);
      break;
    }
    plugs.push_back(f);
  }
  const rlimit lim{rlim_t(highest + 1 + room), rlim_t(highest + 1 + room)};
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) plugs.push_back(-1);
  return plugs;
}

bool close_all(const std::vector<int>& fds)
{
  bool ok = true;
  for (int f : fds) ok = f >= 0 && ::close(f) == 0 && ok;
  return ok;
}

/// Waits (without a timeout: the other side's progress is what ends the wait) until @p fd has
/// something to read or has hung up.
void wait_readable(int fd)
{
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(faults)

// ---- a sender killed in the middle of a send ----------------------------------------------------

BOOST_AUTO_TEST_CASE(sender_killed_at_any_point_of_a_frame_loses_that_frame_only)
{
  // The child sends one whole frame with a descriptor, then a second frame with two
  // descriptors cut at a kill point, then SIGKILLs itself. The receiver gets the first frame,
  // then truncated_frame (or eof when nothing of the second left), and holds no descriptor
  // afterwards. Both the sync and the async receive paths are checked.
  const std::string payload(64 << 10, 'p');
  const std::vector<std::byte> second = frame_bytes(2, 2, payload);
  const std::size_t head = ipc::frame_header_size + 2 * ipc::handle_entry_size("native");
  const std::vector<std::size_t> cuts = {0,         1,        ipc::frame_header_size - 1,
                                         ipc::frame_header_size, head - 3, head,
                                         head + payload.size() / 2, second.size() - 1};
  int kills = 0;
  for (const bool async : {false, true}) {
    for (const std::size_t cut : cuts) {
      BOOST_TEST_CONTEXT("cut at byte " << cut << (async ? ", async" : ", sync"))
      {
        ipc_test::fd_guard guard;
        auto ends = socket_pair();
        auto& mine = ends.first;
        auto& theirs = ends.second;
        ipc_test::child_process child([&, fd = theirs.get()] {
          ::close(mine.get());
          const std::vector<std::byte> first = frame_bytes(1, 1, "first");
          const int d1 = pipe_with("one");
          if (!write_frame_part(fd, first, {d1})) return false;
          const int d2 = pipe_with("two"), d3 = dev_null();
          if (cut > 0 && !write_frame_part(fd, std::span(second).first(cut), {d2, d3}))
            return false;
          ::raise(SIGKILL);
          return true;
        });
        theirs.reset();
        BOOST_TEST(child.wait() == 128 + SIGKILL);
        ++kills;
        asio::io_context io;
        raw_channel ch(io.get_executor(), std::move(mine));
        std::error_code ec1, ec2;
        std::string value;
        std::string from_pipe;
        if (async) {
          ch.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
            ec1 = ec;
            value = m.value;
            if (!ec && m.handle_count() == 1) from_pipe = read_all(m.take_handle(0).get());
            ch.async_receive<std::string>(
              [&](std::error_code e, ipc::message<std::string>) { ec2 = e; });
          });
          io.run();
        } else {
          auto m = ch.receive<std::string>(ec1);
          value = m.value;
          if (!ec1 && m.handle_count() == 1) from_pipe = read_all(m.take_handle(0).get());
          (void)ch.receive<std::string>(ec2);
        }
        BOOST_TEST(!ec1);
        BOOST_TEST(value == "first");
        BOOST_TEST(from_pipe == "one");
        if (cut == 0) BOOST_TEST((ec2 == asio::error::eof));
        else BOOST_TEST((ec2 == ipc::errc::truncated_frame));
      }
    }
  }
  BOOST_TEST_MESSAGE("faults: " << kills << " senders killed mid-frame");
}

BOOST_AUTO_TEST_CASE(sender_killed_while_blocked_in_a_real_send_leaves_no_descriptors)
{
  // A real channel send of 8 MiB with three descriptors blocks once the socket is full; the
  // receiver takes in part of it, then the sender is killed. To make "part" exact, the sender
  // is stopped (SIGSTOP) while the receiver drains the socket, then let go until it has
  // written again: each round moves at most one socket buffer, far less than 8 MiB.
  for (int rounds = 0; rounds <= 6; rounds += 2) {
    BOOST_TEST_CONTEXT(rounds << " rounds before the kill")
    {
      ipc_test::fd_guard guard;
      auto ends = socket_pair();
      auto& mine = ends.first;
      auto& theirs = ends.second;
      auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
        ch.send(std::string(8 << 20, 'k'), ipc::native_handle(pipe_with("a")),
                ipc::native_handle(dev_null()), ipc::native_handle(pipe_with("c")));
        return true; // not reached: the parent reads too little for the send to finish
      });
      asio::io_context io;
      raw_channel ch(io.get_executor(), std::move(mine));
      std::error_code got = asio::error::would_block;
      ch.async_receive<std::string_view>(
        [&](std::error_code ec, ipc::message<std::string_view>) { got = ec; });
      for (int i = 0; i < rounds; ++i) {
        wait_readable(ch.native_handle());
        child.kill(SIGSTOP);
        int st = 0;
        BOOST_REQUIRE(::waitpid(child.pid(), &st, WUNTRACED) == child.pid());
        BOOST_REQUIRE(WIFSTOPPED(st));
        io.poll(); // drains the socket: the sender is stopped
        io.restart();
        child.kill(SIGCONT);
      }
      wait_readable(ch.native_handle());
      child.kill();
      BOOST_TEST(child.wait() == 128 + SIGKILL);
      io.run();
      BOOST_TEST((got == ipc::errc::truncated_frame));
    }
  }
}

// ---- a receiver killed while we send ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(receiver_killed_fails_queued_sends_and_closes_their_descriptors)
{
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    for (int i = 0; i < 3; ++i) (void)ch.receive<std::string_view>();
    ::raise(SIGKILL);
    return true;
  });
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  const int n = 64;
  int ok = 0, failed = 0;
  for (int i = 0; i < n; ++i)
    ch.async_send(std::string(256 << 10, char('a' + i % 26)), ipc::native_handle(dev_null()),
                  [&](std::error_code ec) { ++(ec ? failed : ok); });
  io.run();
  BOOST_TEST(ok + failed == n);
  BOOST_TEST(ok >= 3);
  BOOST_TEST(failed > 0);
  BOOST_TEST(child.wait() == 128 + SIGKILL);
  // The sending side is broken for good; a sync send reports it (no SIGPIPE: MSG_NOSIGNAL).
  std::error_code ec;
  ch.send(std::string(1 << 20, 'x'), ipc::native_handle(dev_null()), ec);
  BOOST_TEST(!!ec);
  BOOST_TEST_MESSAGE("faults: receiver killed with " << failed << " of " << n
                                                     << " sends outstanding");
}

BOOST_AUTO_TEST_CASE(sync_send_to_a_receiver_killed_mid_message_reports_an_error)
{
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  ipc_test::child_process child([&, fd = theirs.get()] {
    ::close(mine.get());
    char buf[4096];
    // Read part of the frame, then die.
    for (int i = 0; i < 16; ++i)
      if (::read(fd, buf, sizeof buf) <= 0) return false;
    ::raise(SIGKILL);
    return true;
  });
  theirs.reset();
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  std::error_code ec;
  ch.send(std::string(16 << 20, 'x'), ipc::native_handle(dev_null()), ec);
  BOOST_TEST(((ec == std::errc::broken_pipe) || (ec == std::errc::connection_reset)));
  BOOST_TEST(child.wait() == 128 + SIGKILL);
}

// ---- descriptor limits (EMFILE) ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(kernel_installs_what_fits_and_sets_msg_ctrunc_at_the_descriptor_limit)
{
  // The kernel fact our handling rests on (Linux scm_detach_fds): a receiver at its
  // RLIMIT_NOFILE gets the descriptors that fit, MSG_CTRUNC, and the data; the rest are
  // dropped by the kernel. Checked in a child, whose limit we may lower.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  ipc_test::child_process child([&, fd = theirs.get()] {
    ::close(mine.get());
    const std::vector<int> plugs = leave_room_for(2);
    if (::write(fd, "r", 1) != 1) return false; // ready
    char data[16];
    iovec iov{data, sizeof data};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    std::size_t got = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < k; ++i) {
        int h;
        std::memcpy(&h, CMSG_DATA(c) + i * sizeof(int), sizeof h);
        ::close(h);
      }
      got += k;
    }
    return close_all(plugs) && n == 4 && (msg.msg_flags & MSG_CTRUNC) != 0 && got == 2;
  });
  theirs.reset();
  char ready;
  BOOST_REQUIRE(::read(mine.get(), &ready, 1) == 1);
  std::vector<int> six;
  for (int i = 0; i < 6; ++i) six.push_back(dev_null());
  const std::string data = "data";
  BOOST_REQUIRE(write_frame_part(mine.get(), std::as_bytes(std::span(data)), six));
  for (int f : six) ::close(f);
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(receiver_at_its_descriptor_limit_refuses_the_excess_and_leaks_nothing)
{
  // Five descriptor messages: the child has room for four descriptors. Messages that fit
  // arrive; the one that does not is refused (handles_truncated), the channel closes, and
  // the child's descriptor count is back where it started. The sender leaks nothing either.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    const int base = ipc_test::open_fds();
    const std::vector<int> plugs = leave_room_for(4);
    if (::write(ch.native_handle(), "r", 1) != 1) return false;
    std::error_code ec;
    auto m1 = ch.receive<std::string>(ec); // 2 descriptors: fit, kept
    if (ec || m1.handle_count() != 2) return false;
    auto m2 = ch.receive<std::string>(ec); // 2 more: fit exactly, kept
    if (ec || m2.handle_count() != 2) return false;
    (void)ch.receive<std::string>(ec); // 3 more: none fit
    if (ec != ipc::errc::handles_truncated || ch.is_open()) return false;
    (void)ch.receive<std::string>(ec); // the error stays
    if (ec != ipc::errc::handles_truncated) return false;
    m1 = {};
    m2 = {};
    return close_all(plugs) && ipc_test::open_fds() == base - 1; // minus the channel's socket
  });
  char ready;
  BOOST_REQUIRE(::read(mine.get(), &ready, 1) == 1);
  {
    asio::io_context io;
    raw_channel ch(io.get_executor(), std::move(mine));
    ch.send(std::string("two"), ipc::native_handle(dev_null()), ipc::native_handle(dev_null()));
    ch.send(std::string("two more"), ipc::native_handle(dev_null()),
            ipc::native_handle(dev_null()));
    ch.send(std::string("three"), ipc::native_handle(dev_null()), ipc::native_handle(dev_null()),
            ipc::native_handle(dev_null()));
    BOOST_TEST(child.wait() == 0);
    std::error_code ec;
    (void)ch.receive<std::string>(ec);
    BOOST_TEST((ec == asio::error::eof));
  }
}

BOOST_AUTO_TEST_CASE(receiver_out_of_descriptors_mid_batch_closes_the_part_that_arrived)
{
  // Room for one descriptor, a message with four: one is installed, then MSG_CTRUNC. The
  // installed one must be closed by the channel, not handed out or leaked.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    const int base = ipc_test::open_fds();
    const std::vector<int> plugs = leave_room_for(1);
    if (::write(ch.native_handle(), "r", 1) != 1) return false;
    std::error_code ec;
    (void)ch.receive<std::string>(ec);
    return ec == ipc::errc::handles_truncated && !ch.is_open() && close_all(plugs) &&
           ipc_test::open_fds() == base - 1;
  });
  char ready;
  BOOST_REQUIRE(::read(mine.get(), &ready, 1) == 1);
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  ch.send(std::string("four"), ipc::native_handle(dev_null()), ipc::native_handle(dev_null()),
          ipc::native_handle(dev_null()), ipc::native_handle(dev_null()));
  BOOST_TEST(child.wait() == 0);
}

// ---- full sockets (EAGAIN) --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tiny_socket_buffers_force_short_writes_without_losing_order_or_descriptors)
{
  // Both socket buffers at the kernel's minimum: nearly every write is short or would block.
  // Descriptors must still go with each frame's first byte only (a retried short write that
  // sent them again would show up as unexpected_handles), and every message in order.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  const int small = 1; // the kernel rounds up to its minimum
  for (int fd : {mine.get(), theirs.get()}) {
    BOOST_REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
    BOOST_REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
  }
  const int n = 600;
  auto text = [](int i) { return std::string(std::size_t(1 + (i * 7919) % (48 << 10)), char('a' + i % 26)); };
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    for (int i = 0; i < 2 * n; ++i) {
      auto m = ch.receive<std::string>();
      if (m.value != text(i) || m.sequence() != std::uint32_t(i + 1)) return false;
      if (i % 3 == 0) {
        if (m.handle_count() != 1) return false;
        if (read_all(m.take_handle(0).get()) != std::to_string(i)) return false;
      } else if (m.handle_count() != 0) {
        return false;
      }
    }
    ch.send(std::string("all in order"));
    return true;
  });
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  // Async first, then sync: both write paths under pressure.
  int completed = 0;
  for (int i = 0; i < n; ++i) {
    if (i % 3 == 0)
      ch.async_send(text(i), ipc::native_handle(pipe_with(std::to_string(i))),
                    [&](std::error_code ec) { completed += !ec; });
    else
      ch.async_send(text(i), [&](std::error_code ec) { completed += !ec; });
  }
  io.run();
  BOOST_TEST(completed == n);
  for (int i = n; i < 2 * n; ++i) {
    if (i % 3 == 0) ch.send(text(i), ipc::native_handle(pipe_with(std::to_string(i))));
    else ch.send(text(i));
  }
  BOOST_TEST(ch.receive<std::string>().value == "all in order");
  BOOST_TEST(child.wait() == 0);
}

// ---- a receiver that stops reading ------------------------------------------------------------

namespace {

/// A child that waits for a byte on @p go before it reads @p n messages (checking their order
/// and descriptors), or exits at once when the byte is 'q'.
ipc_test::child_process stalled_reader(int fd, int other, int go, int n)
{
  return ipc_test::child_process([=] {
    ::close(other);
    char c = 0;
    if (::read(go, &c, 1) != 1) return false;
    if (c == 'q') return true;
    asio::io_context io;
    raw_channel ch(io.get_executor(), ipc::native_handle(fd));
    for (int i = 0; i < n; ++i) {
      auto m = ch.receive<std::string_view>();
      if (m.value.size() != 1024 || m.value[0] != char('a' + i % 26)) return false;
      if ((i % 100 == 0) != (m.handle_count() == 1)) return false;
    }
    return true;
  });
}

} // namespace

BOOST_AUTO_TEST_CASE(sends_queued_to_a_stalled_receiver_all_arrive_once_it_reads)
{
  // The async send queue has no bound of its own: 20000 sends (20 MB) are accepted while the
  // receiver reads nothing; only what fits in the socket completes. When the receiver reads,
  // every one arrives, in order.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  int go[2];
  BOOST_REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
  const int n = 20000;
  auto child = stalled_reader(ends.second.get(), ends.first.get(), go[0], n);
  ends.second.reset();
  ::close(go[0]);
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(ends.first));
  int completed = 0;
  for (int i = 0; i < n; ++i) {
    const std::string msg(1024, char('a' + i % 26));
    if (i % 100 == 0)
      ch.async_send(msg, ipc::native_handle(dev_null()), [&](std::error_code ec) { completed += !ec; });
    else
      ch.async_send(msg, [&](std::error_code ec) { completed += !ec; });
  }
  io.poll();
  const int before_reading = completed;
  BOOST_TEST(before_reading < n); // the rest waits in the sender's queue
  BOOST_TEST(::write(go[1], "g", 1) == 1);
  io.run();
  BOOST_TEST(completed == n);
  BOOST_TEST(child.wait() == 0);
  ::close(go[1]);
  BOOST_TEST_MESSAGE("faults: " << n - before_reading << " of " << n
                                << " sends queued while the receiver stalled");
}

BOOST_AUTO_TEST_CASE(sends_queued_to_a_receiver_that_exits_fail_and_release_descriptors)
{
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  int go[2];
  BOOST_REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
  const int n = 5000;
  auto child = stalled_reader(ends.second.get(), ends.first.get(), go[0], n);
  ends.second.reset();
  ::close(go[0]);
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(ends.first));
  int ok = 0, failed = 0;
  for (int i = 0; i < n; ++i)
    ch.async_send(std::string(1024, 'x'), ipc::native_handle(dev_null()),
                  [&](std::error_code ec) { ++(ec ? failed : ok); });
  io.poll();
  BOOST_TEST(::write(go[1], "q", 1) == 1); // the receiver exits without reading
  BOOST_TEST(child.wait() == 0);
  io.run();
  BOOST_TEST(ok + failed == n);
  BOOST_TEST(failed > 0);
  ::close(go[1]);
}

BOOST_AUTO_TEST_CASE(closing_a_sender_with_a_full_queue_aborts_every_send_and_frees_descriptors)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  const int n = 3000;
  int aborted = 0, ok = 0;
  for (int i = 0; i < n; ++i)
    a.async_send(std::string(4096, 'x'), ipc::native_handle(dev_null()), [&](std::error_code ec) {
      if (ec == asio::error::operation_aborted) ++aborted;
      else if (!ec) ++ok;
    });
  io.poll();
  a.close();
  io.run();
  BOOST_TEST(ok + aborted == n);
  BOOST_TEST(aborted > 0);
}

// ---- signals (EINTR) --------------------------------------------------------------------------

namespace {

std::atomic<long> signals_caught{0};
extern "C" void count_signal(int) { signals_caught.fetch_add(1, std::memory_order_relaxed); }

/// Sends SIGUSR1 to one thread over and over while alive (bounded), with the handler installed
/// without SA_RESTART: every blocking call in that thread keeps failing with EINTR.
class signal_storm {
public:
  explicit signal_storm(pthread_t target)
  {
    struct sigaction sa {};
    sa.sa_handler = count_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART
    ::sigaction(SIGUSR1, &sa, &old_);
    thread_ = std::thread([this, target] {
      for (long i = 0; i < 50'000'000 && !stop_.load(); ++i) ::pthread_kill(target, SIGUSR1);
    });
  }
  ~signal_storm()
  {
    stop_ = true;
    thread_.join();
    ::sigaction(SIGUSR1, &old_, nullptr);
  }

private:
  struct sigaction old_ {};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace

BOOST_AUTO_TEST_CASE(large_sync_and_async_exchanges_survive_a_signal_storm)
{
  // Parent and child each have a thread that signals their main thread without pause; 4 MiB
  // messages (with a descriptor) go back and forth with sync and async calls. Every recvmsg,
  // sendmsg and poll is interrupted again and again, and must be resumed, not reported.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  const int rounds = 16;
  const std::size_t size = 4 << 20;
  auto body = [](int i) { return std::string(size, char('A' + i)); };
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    signals_caught = 0;
    signal_storm storm(::pthread_self());
    for (int i = 0; i < rounds; ++i) {
      auto m = ch.receive<std::string>();
      if (m.value != body(i) || m.handle_count() != 1) return false;
      ch.send(m.value, m.take_handle(0)); // echo, descriptor included
    }
    return signals_caught.load() > 0;
  });
  signals_caught = 0;
  int good = 0;
  {
    signal_storm storm(::pthread_self());
    asio::io_context io;
    raw_channel ch(io.get_executor(), std::move(mine));
    for (int i = 0; i < rounds; ++i) {
      const int fd = pipe_with(std::to_string(i));
      if (i % 2 == 0) {
        ch.send(body(i), ipc::native_handle(fd));
        auto m = ch.receive<std::string>();
        good += m.value == body(i) && m.handle_count() == 1 &&
                read_all(m.take_handle(0).get()) == std::to_string(i);
      } else {
        ch.async_send(body(i), ipc::native_handle(fd), [](std::error_code) {});
        ch.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
          good += !ec && m.value == body(i) && m.handle_count() == 1 &&
                  read_all(m.take_handle(0).get()) == std::to_string(i);
        });
        io.run();
        io.restart();
      }
    }
  }
  BOOST_TEST(good == rounds);
  BOOST_TEST(signals_caught.load() > 0);
  BOOST_TEST(child.wait() == 0);
  BOOST_TEST_MESSAGE("faults: " << signals_caught.load() << " signals delivered to the parent");
}

// ---- sync sends while an async receive waits ------------------------------------------------

BOOST_AUTO_TEST_CASE(sync_senders_with_async_receives_pending_do_not_deadlock)
{
  // Both peers have an async_receive outstanding and make a sync send of 8 MiB. Each blocked
  // sync send takes in the peer's bytes (into the spill) and wakes its own waiting receive,
  // which then finds them there: DESIGN.md's "never let a blocking send deadlock two peers"
  // holds with receives outstanding too. Before, a blocked send did not read while a receive
  // was outstanding, and both blocked for good. The child's alarm bounds a regression.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  const std::string big(8 << 20, 'd');
  auto side = [&big](raw_channel& ch, asio::io_context& io) {
    bool got = false;
    ch.async_receive<std::string_view>(
      [&](std::error_code ec, ipc::message<std::string_view> m) { got = !ec && m.value == big; });
    io.poll();
    io.restart();
    std::error_code ec;
    ch.send(big, ec);
    if (ec) return false;
    io.run();
    return got;
  };
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto& io, raw_channel& ch) {
    ::alarm(30);
    return side(ch, io);
  });
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  BOOST_TEST(side(ch, io));
  ch.close();
  BOOST_TEST(child.wait() == 0);
}

// ---- a peer that hands us its own end ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(peer_sending_its_own_end_keeps_the_stream_open_after_it_dies)
{
  // Found by fuzz/channel_fuzz.cpp. A peer attaches a copy of its own end of the connection to
  // a frame it never finishes, then dies. The channel holds the descriptors of an unfinished
  // frame, so the connection has a live end (in our own descriptor table) and no end of
  // stream ever comes: the receive waits, as it would for a live peer that says nothing
  // (SECURITY.md: a peer can stall; put a deadline on receives from untrusted peers). Closing
  // the channel releases everything.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  ipc_test::child_process child([&, fd = theirs.get()] {
    ::close(mine.get());
    const std::vector<std::byte> f = frame_bytes(1, 1, std::string(100, 'x'));
    const int self = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return write_frame_part(fd, std::span(f).first(40), {self});
  });
  theirs.reset();
  BOOST_TEST(child.wait() == 0);
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  std::error_code got = asio::error::would_block;
  ch.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string>) { got = ec; });
  // Take in everything the dead peer wrote: the socket is then drained and, with the peer's
  // end alive in our table, neither readable nor hung up.
  for (int i = 0; i < 16; ++i) {
    io.poll();
    io.restart();
  }
  int pending = -1;
  BOOST_TEST(::ioctl(ch.native_handle(), FIONREAD, &pending) == 0);
  BOOST_TEST(pending == 0);
  pollfd p{ch.native_handle(), POLLIN, 0};
  BOOST_TEST(::poll(&p, 1, 0) == 0);
  BOOST_TEST((got == asio::error::would_block)); // still waiting
  ch.close();
  io.run();
  BOOST_TEST((got == asio::error::operation_aborted));
}

BOOST_AUTO_TEST_SUITE_END()
