// tests/converters_test.cpp - typed handles (Asio sockets, acceptors, channels) across processes.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/channel.hpp" // first: it configures Asio
#include "ipc/converters/asio.hpp"
#include "ipc/converters/channel.hpp"
#include "ipc/detail/frame_reader.hpp"
#include "ipc/file.hpp"
#include "ipc/shared_memory.hpp"
#include "ipc/serializers/binary.hpp"

#include "support.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

namespace user {
/// A type of the user's own: the write end of a pipe, with a converter written by the user.
struct pipe_writer {
  ipc::native_handle fd;
};
/// A converter that lies: it labels any descriptor as a TCP socket.
struct liar {
  ipc::native_handle fd;
};
} // namespace user

template <>
struct ipc::handle_converter<user::pipe_writer> {
  static constexpr std::string_view type_name = "example.pipe_writer";
  static constexpr ipc::handle_kind kind = ipc::handle_kind::pipe;
  static ipc::native_handle send(user::pipe_writer&& w, std::error_code& ec)
  {
    ec.clear();
    return std::move(w.fd);
  }
  static user::pipe_writer got(ipc::native_handle&& h, const asio::any_io_executor&,
                               std::error_code& ec)
  {
    ec.clear();
    return user::pipe_writer{std::move(h)};
  }
};

template <>
struct ipc::handle_converter<user::liar> {
  static constexpr std::string_view type_name = "asio.tcp.socket";
  static constexpr ipc::handle_kind kind = ipc::handle_kind::socket;
  static ipc::native_handle send(user::liar&& l, std::error_code& ec)
  {
    ec.clear();
    return std::move(l.fd);
  }
  static user::liar got(ipc::native_handle&& h, const asio::any_io_executor&, std::error_code& ec)
  {
    ec.clear();
    return user::liar{std::move(h)};
  }
};

static_assert(ipc::transferable<asio::ip::tcp::socket>);
static_assert(ipc::transferable<asio::ip::tcp::acceptor>);
static_assert(ipc::transferable<asio::ip::udp::socket>);
static_assert(ipc::transferable<asio::local::stream_protocol::socket>);
static_assert(ipc::transferable<asio::local::stream_protocol::acceptor>);
static_assert(ipc::transferable<ipc::native_handle>);
static_assert(ipc::transferable<ipc::channel<ipc::binary>>);
static_assert(ipc::transferable<user::pipe_writer>);
static_assert(ipc::transferable<ipc::file>);
static_assert(ipc::transferable<ipc::shared_memory>);
static_assert(!ipc::transferable<int>);
static_assert(!ipc::transferable<std::string>);

namespace {

using ipc_test::read_line;
using ipc_test::socket_pair;

using bin_channel = ipc::channel<ipc::binary>;
using tcp = asio::ip::tcp;

/// A forked child with a binary channel to this process.
template <class Body>
ipc_test::child_process forked(ipc::native_handle& mine, ipc::native_handle& theirs, Body body)
{
  return ipc_test::forked<bin_channel>(mine, theirs, std::move(body));
}

} // namespace

BOOST_AUTO_TEST_SUITE(converters)

BOOST_AUTO_TEST_CASE(a_connected_tcp_socket_moves_to_a_child_and_the_connection_continues)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();

  // The parent serves the first line itself...
  asio::write(client, asio::buffer(std::string("one\n")));
  BOOST_TEST(read_line(server) == "one\n");

  auto ends = socket_pair();
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    tcp::socket s = m.take_handle<tcp::socket>(0, cio.get_executor());
    // ...and the child the rest of the same connection.
    if (read_line(s) != "two\n") return false;
    asio::write(s, asio::buffer(std::string("Child handled it.\n")));
    return true;
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  ch.send(std::string("take this connection"), std::move(server));
  BOOST_TEST(!server.is_open()); // the sender's object is emptied by the send
  asio::write(client, asio::buffer(std::string("two\n")));
  BOOST_TEST(read_line(client) == "Child handled it.\n");
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_connected_local_stream_socket_moves_to_a_child)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  using local = asio::local::stream_protocol;
  local::socket mine(io), theirs(io);
  asio::local::connect_pair(mine, theirs);
  auto ends = socket_pair();
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    local::socket s = m.take_handle<local::socket>(0, cio.get_executor());
    std::string line;
    asio::read_until(s, asio::dynamic_buffer(line), '\n');
    asio::write(s, asio::buffer("echo: " + line));
    return true;
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  ch.send(std::string("yours"), std::move(theirs));
  BOOST_TEST(!theirs.is_open());
  asio::write(mine, asio::buffer(std::string("ping\n")));
  std::string reply;
  asio::read_until(mine, asio::dynamic_buffer(reply), '\n');
  BOOST_TEST(reply == "echo: ping\n");
  BOOST_TEST(child.wait() == 0);
  std::error_code ec;
  (void)ch.receive<std::string>(ec); // the child's ACK, then the end of the stream
  BOOST_TEST((ec == asio::error::eof));
  BOOST_TEST(ch.acknowledgements().acknowledged == 1u);
}

BOOST_AUTO_TEST_CASE(a_listening_acceptor_is_shared_with_a_child_that_accepts_on_it)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const tcp::endpoint where = acceptor.local_endpoint();
  auto ends = socket_pair();
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    tcp::acceptor a = m.take_handle<tcp::acceptor>(0, cio.get_executor());
    tcp::socket s = a.accept();
    asio::write(s, asio::buffer(std::string("accepted by the child\n")));
    return true;
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  ch.send(std::string("listen for me"), std::move(acceptor));
  tcp::socket client(io);
  client.connect(where);
  BOOST_TEST(read_line(client) == "accepted by the child\n");
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_udp_socket_moves_to_a_child_that_receives_on_it)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  asio::ip::udp::socket rx(io, asio::ip::udp::endpoint(asio::ip::address_v4::loopback(), 0));
  const auto where = rx.local_endpoint();
  auto ends = socket_pair();
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    auto s = m.take_handle<asio::ip::udp::socket>(0, cio.get_executor());
    char buf[64];
    asio::ip::udp::endpoint from;
    const std::size_t n = s.receive_from(asio::buffer(buf), from);
    return std::string(buf, n) == "datagram";
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  ch.send(std::string("udp"), std::move(rx));
  // Queued in the socket itself, so it reaches the child whenever it starts reading.
  asio::ip::udp::socket tx(io, asio::ip::udp::v4());
  tx.send_to(asio::buffer(std::string("datagram")), where);
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_channel_end_travels_to_a_third_process)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = socket_pair();
  auto cd = socket_pair();
  // Child A gets one end of a fresh pair, child B the other: they talk without the parent.
  auto a = forked(ab.first, ab.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    auto direct = m.take_handle<bin_channel>(0, cio.get_executor());
    direct.send(std::string("hello from A"));
    return direct.receive<std::string>().value == "hello from B";
  });
  auto b = forked(cd.first, cd.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    auto direct = m.take_handle<bin_channel>(0, cio.get_executor());
    if (direct.receive<std::string>().value != "hello from A") return false;
    direct.send(std::string("hello from B"));
    return true;
  });
  bin_channel to_a(io.get_executor(), std::move(ab.first));
  bin_channel to_b(io.get_executor(), std::move(cd.first));
  auto fresh = bin_channel::pair(io.get_executor());
  to_a.send(std::string("yours"), std::move(fresh.first));
  to_b.send(std::string("yours"), std::move(fresh.second));
  BOOST_TEST(!fresh.first.is_open());
  BOOST_TEST(a.wait() == 0);
  BOOST_TEST(b.wait() == 0);
}

// An end that has been used numbers its frames where it had got to, and its peer has numbered
// its own: the move must not break either count. Messages and descriptors both ways, before
// the move, in the child, and after the end comes back.
BOOST_AUTO_TEST_CASE(a_used_channel_end_moves_to_a_child_and_back_and_keeps_talking)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& [a, b] = ab;
  auto pass_pipe_end = [](bin_channel& from, bin_channel& to, const char* text) {
    int p[2];
    BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    ipc::native_handle r(p[0]);
    from.send(std::string(text), ipc::native_handle(p[1]));
    auto m = to.receive<std::string>();
    ipc::native_handle w = m.take_handle(0);
    BOOST_TEST(m.value == text);
    BOOST_REQUIRE(::write(w.get(), "x", 1) == 1);
    char c = 0;
    BOOST_TEST(::read(r.get(), &c, 1) == 1);
  };
  pass_pipe_end(a, b, "one");
  pass_pipe_end(b, a, "two");
  a.send(std::string("three"));
  BOOST_TEST(b.receive<std::string>().value == "three");

  auto ends = socket_pair();
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    auto moved = m.take_handle<bin_channel>(0, cio.get_executor());
    // A message the parent sent before the move, still unread in the socket.
    if (moved.receive<std::string>().value != "sent before the move") return false;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return false;
    ipc::native_handle r(p[0]);
    moved.send(std::string("from the child"), ipc::native_handle(p[1]));
    char c = 0;
    if (::read(r.get(), &c, 1) != 1 || c != 'y') return false;
    auto back = moved.receive<std::string>();
    if (back.value != "now go back") return false;
    // Everything received was taken and acknowledged: the end is idle and moves on.
    ch.send(std::string("back to you"), std::move(moved));
    return true;
  });
  bin_channel to_child(io.get_executor(), std::move(ends.first));
  a.send(std::string("sent before the move"));
  to_child.send(std::string("moves"), std::move(b));
  {
    auto m = a.receive<std::string>();
    BOOST_TEST(m.value == "from the child");
    ipc::native_handle w = m.take_handle(0);
    BOOST_REQUIRE(::write(w.get(), "y", 1) == 1);
  }
  a.send(std::string("now go back"));
  auto back = to_child.receive<std::string>();
  BOOST_TEST(back.value == "back to you");
  bin_channel home = back.take_handle<bin_channel>(0, io.get_executor());
  BOOST_TEST(child.wait() == 0);
  pass_pipe_end(a, home, "four");
  pass_pipe_end(home, a, "five");
  BOOST_TEST(a.acknowledgements().refused == 0u);
}

// A process that only passes an end on makes no announcement of its own: the process that
// uses the end makes it. (On Windows the unused end could not move on once it had written.)
// The peer here is a bare socket, to see exactly which frames arrive.
BOOST_AUTO_TEST_CASE(a_channel_end_passes_through_a_process_that_does_not_use_it)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = socket_pair();
  bin_channel b(io.get_executor(), std::move(ab.second));
  auto ends = socket_pair();
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    auto end = m.take_handle<bin_channel>(0, cio.get_executor());
    ch.send(std::string("passed on"), std::move(end));
    return ch.receive<std::string>().value == "bye";
  });
  bin_channel to_child(io.get_executor(), std::move(ends.first));
  to_child.send(std::string("through you"), std::move(b));
  auto back = to_child.receive<std::string>();
  bin_channel home = back.take_handle<bin_channel>(0, io.get_executor());
  home.send(std::string("after"));
  to_child.send(std::string("bye"));
  BOOST_TEST(child.wait() == 0);

  // What the peer got: this process's announcement, numbered 1, then the message.
  ipc::detail::frame_reader reader;
  std::vector<ipc::detail::incoming_frame> frames(2);
  std::size_t got = 0;
  std::error_code ec;
  while (got < 2) {
    if (reader.next(frames[got], ec)) {
      ++got;
      continue;
    }
    BOOST_REQUIRE(!ec);
    auto space = reader.prepare();
    const ssize_t n = ::read(ab.first.get(), space.data(), space.size());
    BOOST_REQUIRE(n > 0);
    std::vector<int> none;
    reader.commit(static_cast<std::size_t>(n), none);
  }
  BOOST_TEST((frames[0].header.kind == ipc::frame_kind::internal));
  BOOST_TEST(frames[0].header.sequence == 1u);
  BOOST_REQUIRE(frames[0].payload.size() == 9u);
  BOOST_TEST(std::to_integer<int>(frames[0].payload[0]) == 3); // moved_here
  std::uint32_t pid = 0;
  std::memcpy(&pid, frames[0].payload.data() + 5, 4); // little-endian hosts only, as the wire
  BOOST_TEST(pid == static_cast<std::uint32_t>(::getpid()));
  BOOST_TEST((frames[1].header.kind == ipc::frame_kind::message));
  BOOST_TEST(frames[1].header.sequence == 2u);
}

BOOST_AUTO_TEST_CASE(a_user_defined_converter_round_trips)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  ipc::native_handle r(p[0]);
  ab.first.send(std::string("w"), user::pipe_writer{ipc::native_handle(p[1])});
  auto m = ab.second.receive<std::string>();
  BOOST_TEST(m.handle_type(0) == "example.pipe_writer");
  user::pipe_writer w = m.take_handle<user::pipe_writer>(0, io.get_executor());
  BOOST_TEST(::write(w.fd.get(), "x", 1) == 1);
  char c = 0;
  BOOST_TEST(::read(r.get(), &c, 1) == 1);
}

BOOST_AUTO_TEST_CASE(a_type_mismatch_is_reported_and_the_handle_closed)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  ab.first.send(std::string("a file"), ipc::native_handle(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
  auto m = ab.second.receive<std::string>();
  std::error_code ec;
  auto s = m.take_handle<tcp::socket>(0, io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::handle_type_mismatch);
  BOOST_TEST(!s.has_value());
  (void)m.take_handle(0, ec);
  BOOST_TEST(ec == ipc::errc::no_such_handle); // gone: closed, not leaked (fd_guard checks)
}

BOOST_AUTO_TEST_CASE(a_descriptor_that_is_not_what_its_name_claims_is_refused)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  ab.first.send(std::string("a pipe dressed as a socket"),
                user::liar{ipc::native_handle(::open("/dev/null", O_RDONLY | O_CLOEXEC))});
  auto m = ab.second.receive<std::string>();
  std::error_code ec;
  auto s = m.take_handle<tcp::socket>(0, io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::invalid_handle);
  BOOST_CHECK_THROW((void)m.take_handle<tcp::socket>(0, io.get_executor()), std::system_error);
}

BOOST_AUTO_TEST_CASE(a_busy_channel_refuses_to_be_sent)
{
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto cd = bin_channel::pair(io.get_executor());
  cd.second.send(std::string("unread")); // cd.first now has input waiting in the kernel...
  (void)cd.first.receive<std::string>();  // ...taken; but another frame is buffered next:
  cd.second.send(std::string("a"));
  cd.second.send(std::string("b"));
  (void)cd.first.receive<std::string>(); // reads "a" and, greedily, "b" into its buffer
  std::error_code ec;
  ab.first.send(std::string("channel"), std::move(cd.first), ec);
  BOOST_TEST(ec == ipc::errc::channel_not_idle);
}

BOOST_AUTO_TEST_CASE(a_thousand_sockets_pass_with_no_descriptor_growth)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  for (int i = 0; i < 1000; ++i) {
    asio::ip::udp::socket s(io, asio::ip::udp::v4());
    ab.first.send(i, std::move(s));
    auto m = ab.second.receive<int>();
    auto r = m.take_handle<asio::ip::udp::socket>(0, io.get_executor());
    BOOST_REQUIRE(r.is_open());
  }
}

BOOST_AUTO_TEST_CASE(a_file_arrives_at_its_offset_and_the_offset_is_shared)
{
  ipc_test::fd_guard guard;
  char path[] = "/tmp/ipcxx-file-XXXXXX";
  ipc::native_handle tmp(::mkstemp(path));
  BOOST_REQUIRE(tmp);
  tmp.reset();
  asio::io_context io;
  ipc::file f = ipc::file::open(path, ipc::file::read | ipc::file::write);
  ::unlink(path);
  std::error_code ec;
  const std::string digits = "0123456789";
  BOOST_TEST(f.write_some(std::as_bytes(std::span(digits)), ec) == 10u);
  f.seek(4, ipc::file::seek_origin::begin, ec);
  ipc::file mine(ipc::native_handle::duplicate_of(f.native_handle())); // same open file

  auto ends = socket_pair();
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    ipc::file g = m.take_handle<ipc::file>(0, cio.get_executor());
    std::error_code e;
    std::byte buf[3];
    if (g.read_some(buf, e) != 3 || char(buf[0]) != '4' || char(buf[2]) != '6') return false;
    ch.send(std::string("read three"));
    return true;
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  ch.send(std::string("a file"), std::move(f));
  BOOST_TEST(ch.receive<std::string>().value == "read three");
  BOOST_TEST(mine.offset(ec) == 7u); // the child's read moved our offset too
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(writable_shared_memory_is_shared_both_ways)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ends = socket_pair();
  ipc::shared_memory mem = ipc::shared_memory::create(1 << 20);
  std::fill(mem.data().begin(), mem.data().end(), std::byte{7});
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    auto region = m.take_handle<ipc::shared_memory>(0, cio.get_executor());
    if (region.size() != std::size_t(1 << 20) || !region.writable() || region.sealed()) return false;
    for (auto b : region.bytes())
      if (b != std::byte{7}) return false;
    region.data()[123] = std::byte{42}; // visible to the parent
    ch.send(std::string("wrote"));
    return true;
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  ch.send(std::string("memory"), mem.duplicate());
  BOOST_TEST(ch.receive<std::string>().value == "wrote");
  BOOST_TEST(std::to_integer<int>(mem.bytes()[123]) == 42);
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(sealed_shared_memory_is_read_only_for_everyone)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ends = socket_pair();
  ipc::shared_memory mem = ipc::shared_memory::create(4096);
  std::fill(mem.data().begin(), mem.data().end(), std::byte{9});
  mem.seal_read_only();
  BOOST_TEST(mem.sealed());
  BOOST_TEST(!mem.writable());
  BOOST_TEST(std::to_integer<int>(mem.bytes()[4095]) == 9); // still readable here
  auto child = forked(ends.first, ends.second, [](asio::io_context& cio, bin_channel& ch) {
    auto m = ch.receive<std::string>();
    auto region = m.take_handle<ipc::shared_memory>(0, cio.get_executor());
    if (!region.sealed() || region.writable() || !region.data().empty()) return false;
    if (region.bytes()[100] != std::byte{9}) return false;
    // Not even a fresh writable mapping of the same memory is allowed.
    std::error_code e;
    auto again = ipc::shared_memory::adopt(region.release(), 4096, true, e);
    return e && !again.is_open();
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  ch.send(std::string("frozen"), mem.duplicate());
  BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_gibibyte_of_shared_memory_costs_one_descriptor)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  const std::size_t gib = std::size_t(1) << 30;
  ipc::shared_memory mem = ipc::shared_memory::create(gib); // pages appear only when touched
  mem.data()[gib - 1] = std::byte{1};
  ab.first.send(std::string("big"), mem.duplicate());
  auto m = ab.second.receive<std::string>();
  auto region = m.take_handle<ipc::shared_memory>(0, io.get_executor());
  BOOST_TEST(region.size() == gib);
  BOOST_TEST(std::to_integer<int>(region.bytes()[gib - 1]) == 1);
}

BOOST_AUTO_TEST_CASE(a_socket_labelled_as_memory_or_file_is_refused)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto junk = socket_pair();
  // A socket sent as a plain descriptor is not taken as memory...
  ab.first.send(std::string("x"), ipc::native_handle(std::move(junk.first)));
  auto m = ab.second.receive<std::string>();
  std::error_code ec;
  (void)m.take_handle<ipc::shared_memory>(0, io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::handle_type_mismatch); // "native" is not "shared_memory"
  ipc::native_handle raw(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto f = ipc::handle_converter<ipc::file>::got(std::move(raw), io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::invalid_handle); // a device is not a regular file
  auto s = ipc::handle_converter<ipc::shared_memory>::got(std::move(junk.second), io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::invalid_handle);
}


// ---- acknowledgements --------------------------------------------------------------------

namespace {

std::pair<ipc::native_handle, ipc::native_handle> pipe_pair()
{
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  return {ipc::native_handle(p[0]), ipc::native_handle(p[1])};
}

ipc::native_handle dev_null() { return ipc::native_handle(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

/// Writes an internal frame of @p kind naming @p seqs (and carrying @p fds), as a peer would.
void raw_verdict(int fd, ipc::frame_kind kind, std::uint32_t frame_seq,
                 std::vector<std::uint32_t> seqs, std::vector<int> fds = {})
{
  std::vector<std::byte> f(ipc::frame_header_size + 4 * seqs.size());
  ipc::encode_frame_header({std::uint32_t(4 * seqs.size()), frame_seq, std::uint16_t(fds.size()),
                            kind, 0, 0},
                           f.data());
  for (std::size_t i = 0; i < seqs.size(); ++i)
    ipc::detail::store_u32(f.data() + ipc::frame_header_size + 4 * i, seqs[i]);
  std::error_code ec;
  asio::const_buffer b(f.data(), f.size());
  BOOST_REQUIRE_EQUAL(ipc::platform::traits::send_some(fd, {&b, 1}, fds, false, ec), f.size());
  BOOST_REQUIRE(!ec);
}

} // namespace

BOOST_AUTO_TEST_CASE(the_sender_keeps_its_copy_until_the_ack_then_closes_it)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  auto p = pipe_pair();
  const int base = ipc_test::open_fds();
  a.send(std::string("reader"), std::move(p.first));
  BOOST_TEST(ipc_test::open_fds() == base); // moved in: the channel holds it now
  BOOST_TEST(a.acknowledgements().unacknowledged == 1u);

  auto m = b.receive<std::string>();
  BOOST_TEST(ipc_test::open_fds() == base + 1); // the receiver's copy
  ipc::native_handle r = m.take_handle(0);
  b.send(std::string("took it")); // the ACK travels in front of this frame
  BOOST_TEST(a.receive<std::string>().value == "took it");
  BOOST_TEST(a.acknowledgements().unacknowledged == 0u);
  BOOST_TEST(a.acknowledgements().acknowledged == 1u);
  BOOST_TEST(ipc_test::open_fds() == base); // the sender's copy is closed, the receiver's open
  BOOST_TEST(::write(p.second.get(), "x", 1) == 1);
  char c = 0;
  BOOST_TEST(::read(r.get(), &c, 1) == 1);
}

BOOST_AUTO_TEST_CASE(a_refused_or_dropped_handle_is_nacked)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  a.send(std::string("wrong type"), dev_null());
  a.send(std::string("dropped"), dev_null(), dev_null());
  a.send(std::string("half taken"), dev_null(), dev_null());
  a.send(std::string("undecodable"), dev_null()); // received as an int: fails to decode
  BOOST_TEST(a.acknowledgements().unacknowledged == 6u);
  {
    auto m = b.receive<std::string>();
    std::error_code ec;
    (void)m.take_handle<tcp::socket>(0, io.get_executor(), ec);
    BOOST_TEST((ec == ipc::errc::handle_type_mismatch));
  }
  (void)b.receive<std::string>(); // destroyed with both handles in it
  {
    auto m = b.receive<std::string>();
    ipc::native_handle kept = m.take_handle(1);
  }
  std::error_code ec;
  (void)b.receive<int>(ec);
  BOOST_TEST((ec == ipc::errc::truncated_payload || ec == ipc::errc::type_mismatch));
  b.send(std::string("done"));
  BOOST_TEST(a.receive<std::string>().value == "done");
  BOOST_TEST(a.acknowledgements().refused == 4u);
  BOOST_TEST(a.acknowledgements().acknowledged == 0u);
  BOOST_TEST(a.acknowledgements().unacknowledged == 0u);
}

BOOST_AUTO_TEST_CASE(keep_open_sends_a_duplicate_and_the_sender_keeps_using_its_own)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto p = pipe_pair();
  ab.first.send(std::string("writer"), ipc::keep_open(p.second));
  BOOST_TEST(p.second.is_valid());
  auto m = ab.second.receive<std::string>();
  ipc::native_handle w = m.take_handle(0);
  ab.second.send(std::string("ok"));
  BOOST_TEST(ab.first.receive<std::string>().value == "ok");
  BOOST_TEST(ab.first.acknowledgements().acknowledged == 1u);
  // Both copies write into the same pipe: the sender's was kept open after the ACK.
  BOOST_TEST(::write(p.second.get(), "s", 1) == 1);
  BOOST_TEST(::write(w.get(), "r", 1) == 1);
  char buf[2] = {};
  BOOST_TEST(::read(p.first.get(), buf, 2) == 2);
  BOOST_TEST(std::string(buf, 2) == "sr");

  // keep_open works for typed handles too: the socket stays usable by the sender.
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  ab.first.send(std::string("acceptor"), ipc::keep_open(acc));
  BOOST_TEST(acc.is_open());
  auto m2 = ab.second.receive<std::string>();
  tcp::acceptor theirs = m2.take_handle<tcp::acceptor>(0, io.get_executor());
  BOOST_TEST(theirs.local_endpoint() == acc.local_endpoint());
}

BOOST_AUTO_TEST_CASE(a_peer_killed_before_the_ack_leaves_nothing_open_on_either_side)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ends = socket_pair();
  // The child receives the message, reports the descriptors it now holds, and is killed with
  // the handles untaken (never acknowledged).
  auto child = forked(ends.first, ends.second, [](asio::io_context&, bin_channel& ch) {
    const int before = ipc_test::open_fds();
    auto m = ch.receive<std::string>();
    ch.send(ipc_test::open_fds() - before);
    (void)ch.receive<std::string>(); // blocks until killed
    return true;
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  const int base = ipc_test::open_fds();
  ch.send(std::string("four"), dev_null(), dev_null(), dev_null(), dev_null());
  BOOST_TEST(ch.receive<int>().value == 4); // the child holds its four copies
  BOOST_TEST(ch.acknowledgements().unacknowledged == 4u);
  BOOST_TEST(ipc_test::open_fds() == base + 4); // and the sender still holds its own
  child.kill();
  BOOST_TEST(child.wait() == 128 + SIGKILL);
  std::error_code ec;
  (void)ch.receive<int>(ec);
  BOOST_TEST((ec == asio::error::eof));
  BOOST_TEST(ch.acknowledgements().unacknowledged == 0u);
  BOOST_TEST(ipc_test::open_fds() == base);
}

BOOST_AUTO_TEST_CASE(a_sender_killed_before_the_receiver_acks_costs_the_receiver_nothing)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ends = socket_pair();
  auto child = forked(ends.first, ends.second, [](asio::io_context&, bin_channel& ch) {
    ch.send(std::string("two"), dev_null(), dev_null());
    ::pause(); // killed here, its copies unacknowledged
    return true;
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  const int base = ipc_test::open_fds();
  {
    auto m = ch.receive<std::string>();
    child.kill();
    BOOST_TEST(child.wait() == 128 + SIGKILL);
    ipc::native_handle a = m.take_handle(0), b = m.take_handle(1);
    BOOST_TEST(ipc_test::open_fds() == base + 2);
  }
  std::error_code ec;
  (void)ch.receive<std::string>(ec); // the ACK finds no one; then end of stream
  BOOST_TEST((ec == asio::error::eof));
  BOOST_TEST(ipc_test::open_fds() == base);
}

BOOST_AUTO_TEST_CASE(ten_thousand_handles_in_a_loop_leave_no_descriptor_behind)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ends = socket_pair();
  auto p = pipe_pair();
  constexpr int count = 10000;
  auto child = forked(ends.first, ends.second, [](asio::io_context&, bin_channel& ch) {
    const int before = ipc_test::open_fds();
    for (int i = 0; i < count; ++i) {
      auto m = ch.receive<int>();
      if (m.value != i) return false;
      ipc::native_handle w = m.take_handle(0);
      if (::write(w.get(), "x", 1) != 1) return false;
    }
    ch.send(ipc_test::open_fds() - before);
    return true;
  });
  // The pipe's read end is drained by a thread so the writes never block.
  std::thread drain([r = p.first.get()] {
    char buf[4096];
    while (::read(r, buf, sizeof buf) > 0) {
    }
  });
  bin_channel ch(io.get_executor(), std::move(ends.first));
  const int base = ipc_test::open_fds();
  int peak = base;
  std::size_t peak_unacked = 0;
  for (int i = 0; i < count; ++i) {
    ch.send(i, ipc::keep_open(p.second)); // this side never receives until the end
    peak = std::max(peak, ipc_test::open_fds());
    peak_unacked = std::max(peak_unacked, ch.acknowledgements().unacknowledged);
  }
  BOOST_TEST(ch.receive<int>().value == 0); // the child's descriptors are back where they were
  BOOST_TEST(ch.acknowledgements().acknowledged == std::uint64_t(count));
  BOOST_TEST(ch.acknowledgements().unacknowledged == 0u);
  BOOST_TEST(ipc_test::open_fds() == base);
  BOOST_TEST(peak_unacked < ch.options().max_unacknowledged_handles);
  BOOST_TEST(peak - base == int(peak_unacked)); // every extra descriptor is a copy in flight
  BOOST_TEST_MESSAGE("peak unacknowledged handles: " << peak_unacked);
  BOOST_TEST(child.wait() == 0);
  p.second.reset();
  drain.join();
}

BOOST_AUTO_TEST_CASE(past_the_unacknowledged_limit_sends_are_refused_until_acks_arrive)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  ipc::channel_options opt;
  opt.max_unacknowledged_handles = 4;
  auto ab = bin_channel::pair(io.get_executor(), opt);
  auto& a = ab.first;
  auto& b = ab.second;
  for (int i = 0; i < 4; ++i) a.send(i, dev_null());
  std::error_code ec;
  a.send(4, dev_null(), ec);
  BOOST_TEST((ec == ipc::errc::too_many_unacknowledged_handles));
  a.send(5, ec); // messages without handles are not limited
  BOOST_TEST(!ec);
  bool async_refused = false;
  a.async_send(6, dev_null(), [&](std::error_code e) {
    async_refused = e == ipc::errc::too_many_unacknowledged_handles;
  });
  io.run();
  BOOST_TEST(async_refused);
  for (int i = 0; i < 4; ++i) (void)b.receive<int>().take_handle(0);
  BOOST_TEST(b.receive<int>().value == 5);
  b.send(std::string("taken"));
  BOOST_TEST(a.receive<std::string>().value == "taken");
  a.send(7, dev_null(), ec);
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(async_receivers_acknowledge_before_they_wait)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  for (int i = 0; i < 3; ++i) a.async_send(i, dev_null(), [](std::error_code) {});
  int taken = 0;
  std::function<void()> next = [&] {
    b.async_receive<int>([&](std::error_code ec, ipc::message<int> m) {
      if (ec) return;
      if (m.take_handle(0)) ++taken;
      if (taken < 3) next();
      else {
        b.async_receive<int>([](std::error_code, ipc::message<int>) {}); // waits: ACKs go first
        io.stop();
      }
    });
  };
  next();
  io.run();
  BOOST_TEST(taken == 3);
  b.close();
  std::error_code ec;
  (void)a.receive<int>(ec); // the ACK frames come before the end of the stream
  BOOST_TEST((ec == asio::error::eof));
  BOOST_TEST(a.acknowledgements().acknowledged == 3u);
}

BOOST_AUTO_TEST_CASE(a_send_does_not_read_from_under_a_waiting_async_receive)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  std::string got;
  a.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
    if (!ec) got = m.value;
  });
  io.poll(); // the receive is now waiting for the socket
  for (int i = 0; i < 64; ++i) a.send(i, dev_null());
  for (int i = 0; i < 64; ++i) (void)b.receive<int>().take_handle(0);
  b.send(std::string("reply")); // ACKs, then the reply, all readable now
  a.send(64, dev_null()); // 64 unacknowledged: a send would collect verdicts here
  io.run_for(std::chrono::seconds(10));
  BOOST_TEST(got == "reply");
  BOOST_TEST(a.acknowledgements().acknowledged == 64u);
}

BOOST_AUTO_TEST_CASE(stray_or_malformed_acknowledgements_break_the_channel)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  {
    auto s = socket_pair();
    bin_channel ch(io.get_executor(), std::move(s.first));
    raw_verdict(s.second.get(), ipc::frame_kind::ack, 1, {7}); // names nothing sent
    std::error_code ec;
    (void)ch.receive<int>(ec);
    BOOST_TEST((ec == ipc::errc::malformed_frame));
  }
  {
    auto s = socket_pair();
    bin_channel ch(io.get_executor(), std::move(s.first));
    ch.send(1, dev_null());
    auto fd = dev_null();
    raw_verdict(s.second.get(), ipc::frame_kind::ack, 1, {1}, {fd.get()}); // with a descriptor
    std::error_code ec;
    (void)ch.receive<int>(ec);
    BOOST_TEST((ec == ipc::errc::malformed_frame));
    BOOST_TEST(ch.acknowledgements().unacknowledged == 0u); // closed with the channel
  }
  {
    auto s = socket_pair();
    bin_channel ch(io.get_executor(), std::move(s.first));
    raw_verdict(s.second.get(), ipc::frame_kind::internal, 1, {1}); // a kind not in use
    std::error_code ec;
    (void)ch.receive<int>(ec);
    BOOST_TEST((ec == ipc::errc::malformed_frame));
  }
}

BOOST_AUTO_TEST_SUITE_END()
