// tests/channel_test.cpp - the channel over real sockets, real descriptors and real processes.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/channel.hpp" // first: it configures Asio
#include "ipc/serializers/binary.hpp"
#include "ipc/serializers/json.hpp"
#include "ipc/serializers/raw.hpp"

#include "support.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/io_context.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace demo {
struct order {
  int id = 0;
  std::string item;
  std::vector<double> prices;
  bool operator==(const order&) const = default;
};
IPC_DESCRIBE(order, id, item, prices)
} // namespace demo

namespace {

using ipc_test::socket_pair;

using bin_channel = ipc::channel<ipc::binary>;
using raw_channel = ipc::channel<ipc::raw>;

std::pair<ipc::native_handle, ipc::native_handle> make_pipe()
{
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  return {ipc::native_handle(p[0]), ipc::native_handle(p[1])};
}

/// Writes raw bytes (and descriptors) to @p fd, as a misbehaving peer would.
void raw_write(int fd, std::span<const std::byte> bytes, std::vector<int> fds = {})
{
  std::error_code ec;
  asio::const_buffer b(bytes.data(), bytes.size());
  std::size_t n = ipc::platform::traits::send_some(fd, {&b, 1}, fds, false, ec);
  BOOST_REQUIRE(!ec);
  BOOST_REQUIRE_EQUAL(n, bytes.size());
}

std::vector<std::byte> header_bytes(std::uint32_t payload, std::uint32_t seq = 1,
                                    std::uint16_t handles = 0, std::uint32_t table = 0)
{
  std::vector<std::byte> h(ipc::frame_header_size);
  ipc::encode_frame_header({payload, seq, handles, ipc::frame_kind::message, 0, table}, h.data());
  return h;
}

int dev_null() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

} // namespace

BOOST_AUTO_TEST_SUITE(channel)

BOOST_AUTO_TEST_CASE(peer_credentials_name_the_process_that_made_the_connection)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  const ipc::peer_credentials p = ab.first.peer();
  BOOST_TEST(p.pid == long(::getpid()));
  BOOST_TEST(p.uid == long(::getuid()));
  BOOST_TEST(p.gid == long(::getgid()));
  ab.first.close();
  std::error_code ec;
  (void)ab.first.peer(ec);
  BOOST_TEST(ec == ipc::errc::channel_closed);
}

BOOST_AUTO_TEST_CASE(sender_refuses_what_it_would_refuse_to_receive)
{
  asio::io_context io;
  auto [a, b] = raw_channel::pair(io.get_executor(), {.max_message_size = 1000, .max_handles = 2});
  std::error_code ec;
  a.send(std::string(1001, 'x'), ec);
  BOOST_TEST(ec == ipc::errc::message_too_large);
  ipc_test::fd_guard guard;
  a.send(std::string("3"), ipc::native_handle(dev_null()), ipc::native_handle(dev_null()),
         ipc::native_handle(dev_null()), ec);
  BOOST_TEST(ec == ipc::errc::too_many_handles);
  // Nothing was sent: the channel still works.
  a.send(std::string("ok"));
  BOOST_TEST(b.receive<std::string>().value == "ok");
}

BOOST_AUTO_TEST_CASE(cancelled_queued_send_is_withdrawn_whole)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  // Fill the socket so that later sends queue.
  std::string big(4 << 20, 'b');
  std::error_code big_ec = asio::error::would_block;
  a.async_send(big, [&](std::error_code ec) { big_ec = ec; });
  asio::cancellation_signal sig;
  std::error_code small_ec;
  a.async_send(std::string("withdrawn"),
               asio::bind_cancellation_slot(sig.slot(), [&](std::error_code ec) { small_ec = ec; }));
  a.async_send(std::string("after"), [](std::error_code ec) { BOOST_TEST(!ec); });
  sig.emit(asio::cancellation_type::terminal);
  io.poll();
  BOOST_TEST(small_ec == asio::error::operation_aborted);
  std::vector<std::string> got;
  std::function<void()> next = [&] {
    b.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      BOOST_REQUIRE(!ec);
      got.push_back(m.value.size() > 100 ? "big" : m.value);
      if (got.size() < 2) next();
    });
  };
  next();
  io.run();
  BOOST_TEST(!big_ec);
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_TEST(got[0] == "big");
  BOOST_TEST(got[1] == "after"); // the withdrawn one never went out, and the stream is intact
}

BOOST_AUTO_TEST_CASE(descriptors_cross_a_process_boundary_both_ways)
{
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& parent_end = ends.first;
  auto& child_end = ends.second;
  auto out = make_pipe();
  auto& out_read = out.first;
  auto& out_write = out.second;
  char path[] = "/tmp/ipcxx-test-XXXXXX";
  int file = ::mkstemp(path);
  BOOST_REQUIRE(file >= 0);
  ::unlink(path);
  BOOST_REQUIRE(::write(file, "0123456789", 10) == 10);
  BOOST_REQUIRE(::lseek(file, 4, SEEK_SET) == 4);

  ipc_test::child_process child([&, fd = child_end.get()] {
    ::close(parent_end.get());
    asio::io_context io;
    bin_channel ch(io.get_executor(), ipc::native_handle(fd));
    auto m = ch.receive<std::string>();
    if (m.value != "here you go" || m.handle_count() != 2) return false;
    if (m.handle_type(0) != "native") return false;
    ipc::native_handle pipe_w = m.take_handle(0);
    ipc::native_handle f = m.take_handle(1);
    char buf[6] = {};
    // The file arrives at the sender's offset: the description is shared, not copied.
    if (::read(f.get(), buf, 6) != 6 || std::string(buf, 6) != "456789") return false;
    if (::write(pipe_w.get(), "child wrote this", 16) != 16) return false;
    // And one descriptor back the other way: a pipe the parent reads from.
    int p[2];
    if (::pipe(p) != 0) return false;
    if (::write(p[1], "from child", 10) != 10) return false;
    ::close(p[1]);
    ch.send(std::string("yours"), ipc::native_handle(p[0]));
    return ch.receive<std::string>().value == "bye";
  });
  child_end.reset();
  {
    asio::io_context io;
    bin_channel ch(io.get_executor(), std::move(parent_end));
    ch.send(std::string("here you go"), std::move(out_write), ipc::native_handle(file));
    char buf[32] = {};
    BOOST_TEST(::read(out_read.get(), buf, sizeof buf) == 16);
    BOOST_TEST(std::string(buf, 16) == "child wrote this");
    auto m = ch.receive<std::string>();
    BOOST_TEST(m.value == "yours");
    ipc::native_handle p = m.take_handle(0);
    BOOST_TEST(::read(p.get(), buf, sizeof buf) == 10);
    BOOST_TEST(fcntl(p.get(), F_GETFD) == FD_CLOEXEC); // received close-on-exec
    ch.send(std::string("bye"));
    BOOST_TEST(child.wait() == 0);
  }
  out_read.reset();
}

BOOST_AUTO_TEST_CASE(max_handles_in_one_message_pass)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto [a, b] = raw_channel::pair(io.get_executor(), {.max_message_size = 1 << 20, .max_handles = 4});
  a.send(std::string("four"), ipc::native_handle(dev_null()), ipc::native_handle(dev_null()),
         ipc::native_handle(dev_null()), ipc::native_handle(dev_null()));
  auto m = b.receive<std::string>();
  BOOST_TEST(m.handle_count() == 4u);
}

BOOST_AUTO_TEST_CASE(handles_keep_flowing_while_a_message_from_the_peer_waits_unreceived)
{
  // The receiver says "hello" first, then takes 6,000 descriptors; the sender streams them,
  // 3,000 with sync sends and 3,000 with async ones, without receiving. The verdicts queue
  // up behind "hello" in the sender's stream and are applied anyway: the sender never reaches
  // max_unacknowledged_handles (1,024), and its copies close as the verdicts come.
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  constexpr int n = 3000;
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    ch.send(std::string_view("hello"));
    for (int i = 0; i < 2 * n; ++i) {
      auto m = ch.receive<std::string_view>();
      if (!m.take_handle(0)) return false;
    }
    ch.send(std::string_view("done"));
    return ch.receive<std::string_view>().value == "bye";
  });
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  const int base = ipc_test::open_fds();
  int most = 0;
  for (int i = 0; i < n; ++i) {
    ch.send(std::string_view("sync"), ipc::native_handle(dev_null()));
    if (i % 100 == 0) most = std::max(most, ipc_test::open_fds() - base);
  }
  int sent = 0;
  std::error_code failed;
  std::function<void()> next = [&] {
    if (sent % 100 == 0) most = std::max(most, ipc_test::open_fds() - base);
    if (sent == n) return;
    ch.async_send(std::string_view("async"), ipc::native_handle(dev_null()), [&](std::error_code ec) {
      if (ec) {
        failed = ec;
        return;
      }
      ++sent;
      next();
    });
  };
  next();
  io.run();
  BOOST_TEST(!failed);
  BOOST_TEST(sent == n);
  BOOST_TEST(ch.receive<std::string_view>().value == "hello");
  BOOST_TEST(ch.receive<std::string_view>().value == "done");
  ch.send(std::string_view("bye"));
  BOOST_TEST(child.wait() == 0);
  BOOST_TEST(most <= 1024 + 64);
  BOOST_TEST_MESSAGE("channel: at most " << most << " descriptors held while streaming");
}

BOOST_AUTO_TEST_CASE(ten_thousand_descriptors_leave_no_growth)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  for (int i = 0; i < 10000; ++i) {
    a.send(std::string_view("fd"), ipc::native_handle(dev_null()));
    auto m = b.receive<std::string_view>();
    BOOST_REQUIRE_EQUAL(m.handle_count(), 1u);
  }
}

// ---- a misbehaving peer ------------------------------------------------------------------------

struct hostile_peer {
  asio::io_context io;
  ipc::native_handle peer;
  raw_channel ch{io.get_executor()};
  hostile_peer(ipc::channel_options o = {})
  {
    auto xy = socket_pair();
    peer = std::move(xy.first);
    ch = raw_channel(io.get_executor(), std::move(xy.second), o);
  }
  std::error_code receive_error()
  {
    std::error_code ec;
    (void)ch.receive<std::string>(ec);
    return ec;
  }
};

BOOST_AUTO_TEST_CASE(oversized_length_is_refused_before_allocation)
{
  ipc_test::fd_guard guard;
  hostile_peer p({.max_message_size = 1 << 20});
  raw_write(p.peer.get(), header_bytes(0xFFFFFFF0u));
  BOOST_TEST(p.receive_error() == ipc::errc::message_too_large);
  BOOST_TEST(!p.ch.is_open()); // a protocol violation closes the channel
  BOOST_TEST(p.receive_error() == ipc::errc::message_too_large);
}

BOOST_AUTO_TEST_CASE(truncated_header_then_close_is_truncated_frame)
{
  hostile_peer p;
  auto h = header_bytes(10);
  raw_write(p.peer.get(), std::span(h).first(7));
  p.peer.reset();
  BOOST_TEST(p.receive_error() == ipc::errc::truncated_frame);
}

BOOST_AUTO_TEST_CASE(peer_closing_mid_payload_is_truncated_frame)
{
  hostile_peer p;
  auto h = header_bytes(100);
  h.resize(h.size() + 40, std::byte{'x'});
  raw_write(p.peer.get(), h);
  p.peer.reset();
  BOOST_TEST(p.receive_error() == ipc::errc::truncated_frame);
}

BOOST_AUTO_TEST_CASE(garbage_is_a_protocol_mismatch)
{
  hostile_peer p;
  std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_write(p.peer.get(), std::as_bytes(std::span(junk)));
  BOOST_TEST(p.receive_error() == ipc::errc::protocol_mismatch);
}

BOOST_AUTO_TEST_CASE(descriptors_with_no_frame_are_closed_and_reported)
{
  ipc_test::fd_guard guard;
  {
    hostile_peer p;
    auto f1 = header_bytes(1, 1);
    f1.push_back(std::byte{'a'});
    std::vector<int> stray{dev_null(), dev_null()};
    raw_write(p.peer.get(), f1, stray); // frame 1 claims none
    for (int fd : stray) ::close(fd);   // the receiver has its own copies
    auto f2 = header_bytes(1, 2);
    f2.push_back(std::byte{'b'});
    raw_write(p.peer.get(), f2);
    std::error_code ec;
    auto m = p.ch.receive<std::string>(ec);
    BOOST_TEST(!ec); // frame 1 itself is fine
    BOOST_TEST(p.receive_error() == ipc::errc::unexpected_handles);
  }
}

BOOST_AUTO_TEST_CASE(more_descriptors_than_max_handles_are_refused_without_leaks)
{
  ipc_test::fd_guard guard;
  std::vector<int> mine;
  {
    hostile_peer p({.max_message_size = 1 << 20, .max_handles = 4});
    auto f = header_bytes(1, 1, 4, 4 * 9);
    ipc::byte_buffer t;
    for (int i = 0; i < 4; ++i) BOOST_REQUIRE(!ipc::append_handle_entry(t, "native"));
    f.insert(f.end(), t.data(), t.data() + t.size());
    f.push_back(std::byte{'x'});
    for (int i = 0; i < 10; ++i) mine.push_back(dev_null());
    raw_write(p.peer.get(), f, mine); // 10 descriptors for a 4-handle frame
    BOOST_TEST(p.receive_error() == ipc::errc::handles_truncated);
  }
  for (int fd : mine) ::close(fd);
}

BOOST_AUTO_TEST_CASE(descriptors_sprinkled_through_a_frame_body_are_refused_promptly)
{
  // Regression: descriptors that came with the body of an unfinished frame piled up (2000 of
  // them with max_handles = 1) until the frame completed, which a peer need never do.
  ipc_test::fd_guard guard;
  std::vector<int> mine;
  {
    hostile_peer p({.max_message_size = 1 << 20, .max_handles = 1});
    raw_write(p.peer.get(), header_bytes(1 << 20));
    const std::vector<std::byte> one_byte(1, std::byte{'x'});
    for (int i = 0; i < 200; ++i) {
      std::vector<int> two{dev_null(), dev_null()};
      raw_write(p.peer.get(), one_byte, two); // each sendmsg is its own batch
      for (int fd : two) ::close(fd);
    }
    std::error_code got = asio::error::would_block;
    p.ch.async_receive<std::string>(
      [&](std::error_code ec, ipc::message<std::string>) { got = ec; });
    p.io.run_for(std::chrono::seconds(10));
    BOOST_TEST(got == ipc::errc::unexpected_handles);
  }
}

BOOST_AUTO_TEST_CASE(frame_claiming_descriptors_that_never_came_is_refused)
{
  hostile_peer p;
  auto f = header_bytes(1, 1, 1, 9);
  ipc::byte_buffer t;
  BOOST_REQUIRE(!ipc::append_handle_entry(t, "native"));
  f.insert(f.end(), t.data(), t.data() + t.size());
  f.push_back(std::byte{'x'});
  raw_write(p.peer.get(), f);
  BOOST_TEST(p.receive_error() == ipc::errc::handles_truncated);
}

BOOST_AUTO_TEST_CASE(payload_that_does_not_decode_loses_only_that_message)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  a.send(std::string("not an order"), ipc::native_handle(dev_null()));
  a.send(demo::order{1, "fine", {}});
  std::error_code ec;
  (void)b.receive<demo::order>(ec);
  BOOST_TEST(ec == ipc::errc::truncated_payload);
  BOOST_TEST(b.receive<demo::order>().value.item == "fine");
}

BOOST_AUTO_TEST_CASE(peer_killed_mid_message_gives_truncated_frame)
{
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  ipc_test::child_process child([&, fd = theirs.get()] {
    auto h = header_bytes(1 << 20);
    h.resize(h.size() + (300 << 10), std::byte{'k'});
    if (::write(fd, h.data(), h.size()) != ssize_t(h.size())) return false;
    ::raise(SIGKILL);
    return true;
  });
  theirs.reset();
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  std::error_code ec;
  (void)ch.receive<std::string>(ec);
  BOOST_TEST(ec == ipc::errc::truncated_frame);
  BOOST_TEST(child.wait() == 128 + SIGKILL);
}

BOOST_AUTO_TEST_CASE(adopting_something_that_is_not_a_stream_socket_fails_clearly)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  std::error_code ec;
  raw_channel ch(io.get_executor(), ipc::native_handle(dev_null()), ec);
  BOOST_TEST(ec == ipc::errc::invalid_handle);
  BOOST_TEST(!ch.is_open());
  int dg[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg) == 0);
  ::close(dg[1]);
  BOOST_CHECK_THROW(raw_channel(io.get_executor(), ipc::native_handle(dg[0])), std::system_error);
}

BOOST_AUTO_TEST_CASE(bad_json_from_the_peer_fails_that_message_only)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ends = socket_pair();
  raw_channel peer(io.get_executor(), std::move(ends.first)); // same framing, any payload bytes
  ipc::channel<ipc::json> ch(io.get_executor(), std::move(ends.second));
  auto receive_error = [&] {
    std::error_code ec;
    (void)ch.receive<demo::order>(ec);
    return ec;
  };
  peer.send(std::string_view(R"({"id": 1, "item": "x", "prices": [1,)"));
  BOOST_TEST(receive_error() == ipc::errc::invalid_json);
  peer.send(std::string_view("{\"id\": 1, \"item\": \"\xff\xfe\", \"prices\": []}"));
  BOOST_TEST(receive_error() == ipc::errc::invalid_utf8);
  peer.send(std::string_view(R"({"id": "one", "item": "x", "prices": []})"));
  BOOST_TEST(receive_error() == ipc::errc::type_mismatch);
  peer.send(std::string_view(R"({"item": "no id", "prices": []})"));
  BOOST_TEST(receive_error() == ipc::errc::type_mismatch);
  peer.send(std::string_view(R"({"id": 2, "item": "fine", "prices": [0.5]} trailing)"));
  BOOST_TEST(receive_error() == ipc::errc::invalid_json);
  peer.send(std::string_view(R"({"id": 3, "item": "fine", "prices": [0.5]})"));
  auto m = ch.receive<demo::order>();
  BOOST_TEST(m.value.id == 3);
  BOOST_TEST(m.value.prices.size() == 1u);
}

BOOST_AUTO_TEST_CASE(json_channel_round_trips_typed_and_dynamic_values)
{
  asio::io_context io;
  auto ab = ipc::channel<ipc::json>::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  demo::order o{9, "line\nbreak \"quoted\" \x01 \xf0\x9f\x98\x80", {1e-300, 2.5}};
  a.send(o);
  BOOST_TEST((b.receive<demo::order>().value == o));
  a.send(o);
  auto v = b.receive<ipc::json_value>().value;
  BOOST_TEST(v.is_object());
}

// ---- large messages both ways at once ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(sync_peers_sending_8_mib_to_each_other_do_not_deadlock)
{
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  const std::string big(8 << 20, 'z');
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    ch.send(big);
    return ch.receive<std::string_view>().value == big;
  });
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  ch.send(big);
  BOOST_TEST((ch.receive<std::string_view>().value == big));
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(sync_send_of_a_received_view_survives_draining_the_peer)
{
  // The child echoes a 4 MiB view of its receive buffer while the parent is already sending a
  // second 4 MiB message: the echo's send must drain that message somewhere other than the
  // buffer it is sending from (regression: it was overwritten and freed mid-send).
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  const std::size_t n = 4 << 20;
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    auto first = ch.receive<std::string_view>();
    const std::string_view held = first.value;
    ch.send(held);
    // The view is still intact after the send that drained (it stays valid until the next
    // receive), and the drained message arrives whole.
    if (std::count(held.begin(), held.end(), 'A') != std::ptrdiff_t(n)) return false;
    auto second = ch.receive<std::string_view>();
    return std::count(second.value.begin(), second.value.end(), 'B') == std::ptrdiff_t(n);
  });
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  const std::string a(n, 'A'), b(n, 'B');
  ch.send(std::string_view(a));
  ch.send(std::string_view(b));
  auto e = ch.receive<std::string_view>();
  BOOST_TEST(e.value.size() == n);
  BOOST_TEST(std::count(e.value.begin(), e.value.end(), 'A') == std::ptrdiff_t(n));
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(descriptors_drained_by_a_blocked_sync_send_still_arrive)
{
  ipc_test::fd_guard guard;
  auto ends = socket_pair();
  auto& mine = ends.first;
  auto& theirs = ends.second;
  auto child = ipc_test::forked<raw_channel>(mine, theirs, [&](auto&, raw_channel& ch) {
    for (int i = 0; i < 50; ++i)
      ch.send(std::string(1000, 'x'), ipc::native_handle(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
    ch.send(std::string(8 << 20, 'y'));
    return ch.receive<std::string_view>().value.size() == std::size_t(8 << 20);
  });
  asio::io_context io;
  raw_channel ch(io.get_executor(), std::move(mine));
  ch.send(std::string(8 << 20, 'z')); // blocks; drains the 50 descriptor messages meanwhile
  for (int i = 0; i < 50; ++i) {
    auto m = ch.receive<std::string>();
    BOOST_REQUIRE_EQUAL(m.handle_count(), 1u);
    BOOST_TEST(m.value.size() == 1000u);
  }
  BOOST_TEST(ch.receive<std::string_view>().value.size() == std::size_t(8 << 20));
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(async_peers_sending_8_mib_to_each_other_do_not_deadlock)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  const std::string big(8 << 20, 'q');
  int done = 0;
  for (auto* ch : {&a, &b}) {
    ch->async_send(big, [&](std::error_code ec) {
      BOOST_TEST(!ec);
      ++done;
    });
    ch->async_receive<std::string_view>([&](std::error_code ec, ipc::message<std::string_view> m) {
      BOOST_TEST(!ec);
      BOOST_TEST((m.value == big));
      ++done;
    });
  }
  io.run();
  BOOST_TEST(done == 4);
}

BOOST_AUTO_TEST_CASE(closing_aborts_pending_operations)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& b = ab.second;
  auto cd = raw_channel::pair(io.get_executor());
  auto& c = cd.first;
  std::error_code rec, snd, queued;
  // Nothing is sent to b: its receive waits. Nobody reads d: c's big send fills the socket and
  // the one behind it stays queued.
  b.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string>) { rec = ec; });
  c.async_send(std::string(16 << 20, 'x'), [&](std::error_code ec) { snd = ec; });
  c.async_send(std::string("queued"), ipc::native_handle(dev_null()),
               [&](std::error_code ec) { queued = ec; });
  io.poll();
  b.close();
  c.close();
  io.run();
  BOOST_TEST(rec == asio::error::operation_aborted);
  BOOST_TEST(snd == asio::error::operation_aborted);
  BOOST_TEST(queued == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_SUITE_END()
