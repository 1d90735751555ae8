// tests/windows_handles_test.cpp - handles that cross processes on Windows (DuplicateHandle into
// the peer, the value in the handle table's blob; sockets by WSADuplicateSocketW, their protocol
// info in the blob); run under wine in CI.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/process.hpp" // first: it configures Asio
#include "ipc/converters/asio.hpp"
#include "ipc/file.hpp"
#include "ipc/frame.hpp"
#include "ipc/shared_memory.hpp"
#include "ipc/serializers/binary.hpp"

#include "windows_support.hpp"

#include <boost/test/unit_test.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <windows.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

using ipc_test::read_from_start;
using ipc_test::temp_file;
using ipc_test::temp_path;

using bin_channel = ipc::channel<ipc::binary>;
using bin_child = ipc::child<ipc::binary>;

/// Wine opens a handle of its own, for good, the first time a process makes a connection: it
/// is made before the first count, so that only what a test leaks is counted.
void warm_up_winsock();
using handle_guard = ipc_test::handle_guard<warm_up_winsock>;

/// A socket made without Asio, so bound to no completion port: what an Asio socket is after
/// `release()` on Windows 8.1 and later. Sent under the Asio converters' type names, it lets the
/// receiving side (converter, completion port, async I/O) run under wine, whose Asio cannot
/// release (no FileReplaceCompletionInformation).
template <class Object>
struct unbound {
  SOCKET s = INVALID_SOCKET;
};

} // namespace

template <class Object>
struct ipc::handle_converter<unbound<Object>> {
  static constexpr std::string_view type_name = ipc::handle_converter<Object>::type_name;
  static constexpr ipc::handle_kind kind = ipc::handle_kind::socket;
  static ipc::native_handle send(unbound<Object>&& u, std::error_code& ec)
  {
    ec.clear();
    return ipc::native_handle(reinterpret_cast<HANDLE>(std::exchange(u.s, INVALID_SOCKET)));
  }
  static unbound<Object> got(ipc::native_handle&& h, const asio::any_io_executor&, std::error_code& ec)
  {
    ec.clear();
    return {static_cast<SOCKET>(reinterpret_cast<std::uintptr_t>(h.release()))};
  }
};

namespace {

using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

SOCKET raw_socket(int type)
{
  const SOCKET s = ::WSASocketW(AF_INET, type, type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP,
                                nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  BOOST_REQUIRE(s != INVALID_SOCKET);
  return s;
}

/// Binds @p s to a free loopback port (and listens, for a stream socket) and returns the port.
unsigned short bind_loopback(SOCKET s, bool listen)
{
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  if (listen) BOOST_REQUIRE(::listen(s, 8) == 0);
  int len = sizeof a;
  BOOST_REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  return ntohs(a.sin_port);
}

/// A loopback TCP connection: @p client (Asio) and the accepted end, unbound.
SOCKET connected(tcp::socket& client)
{
  const SOCKET l = raw_socket(SOCK_STREAM);
  const unsigned short port = bind_loopback(l, true);
  client.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
  const SOCKET s = ::accept(l, nullptr, nullptr);
  ::closesocket(l);
  BOOST_REQUIRE(s != INVALID_SOCKET);
  return s;
}

void warm_up_winsock()
{
  static const bool done = [] {
    asio::io_context io;
    tcp::socket client(io);
    ::closesocket(connected(client));
    return true;
  }();
  (void)done;
}

/// Reads until end of stream, for at most @p seconds; what was read, and whether it ended.
std::pair<std::string, bool> read_to_end(tcp::socket& s, int seconds)
{
  std::string out;
  char buf[256];
  const DWORD timeout = seconds * 1000;
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&timeout), sizeof timeout);
  for (;;) {
    std::error_code ec;
    const std::size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec == asio::error::eof) return {out, true};
    if (ec) return {out, false};
  }
}

/// A frame with one handle-table entry whose blob is @p blob, written raw into a pipe whose other
/// end a channel reads: what that channel's receive reports.
std::error_code receive_forged(std::span<const std::byte> blob)
{
  asio::io_context io;
  std::error_code ec;
  auto [w, r] = ipc::platform::traits::create_pair(ec);
  BOOST_REQUIRE(!ec);
  bin_channel ch(io.get_executor(), ipc::native_handle(r));
  ipc_test::write_forged(w, 1, "asio.tcp.socket", blob);
  (void)ch.receive<std::string>(ec);
  ::CloseHandle(w);
  return ec;
}

} // namespace

BOOST_AUTO_TEST_SUITE(windows_handles)

BOOST_AUTO_TEST_CASE(a_file_handle_crosses_a_pair_and_is_acknowledged)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  ipc::native_handle file = temp_file(L"ipcxx-pair");
  a.send(std::string("take this"), ipc::keep_open(file));
  BOOST_TEST(a.acknowledgements().unacknowledged == 1u);
  {
    auto m = b.receive<std::string>();
    BOOST_REQUIRE_EQUAL(m.handle_count(), 1u);
    BOOST_TEST(m.handle_type(0) == "native");
    ipc::native_handle got = m.take_handle(0);
    BOOST_TEST(got.get() != file.get()); // a handle of its own
    DWORD n = 0;
    BOOST_TEST(::WriteFile(got.get(), "shared", 6, &n, nullptr));
  }
  b.send(std::string("thanks")); // carries the ACK ahead of it
  BOOST_TEST(a.receive<std::string>().value == "thanks");
  BOOST_TEST(a.acknowledgements().acknowledged == 1u);
  BOOST_TEST(a.acknowledgements().unacknowledged == 0u);
  BOOST_TEST(read_from_start(file.get()) == "shared"); // the same file object
}

BOOST_AUTO_TEST_CASE(ipc_file_arrives_as_the_same_open_file)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  const std::filesystem::path path(temp_path(L"ipcxx-file"));
  {
    ipc::file f = ipc::file::open(path, ipc::file::read | ipc::file::write | ipc::file::create |
                                          ipc::file::truncate);
    std::error_code ec;
    const std::string text = "0123456789";
    f.write_some(std::as_bytes(std::span(text)), ec);
    BOOST_REQUIRE(!ec);
    f.seek(0, ipc::file::seek_origin::begin, ec);
    a.send(std::string("file"), ipc::keep_open(f));
    auto m = b.receive<std::string>();
    ipc::file g = m.take_handle<ipc::file>(0, io.get_executor());
    BOOST_TEST(g.size(ec) == 10u);
    std::byte buf[4];
    BOOST_TEST(g.read_some(buf, ec) == 4u);
    BOOST_TEST(f.offset(ec) == 4u); // one open file, one offset
  }
  ::DeleteFileW(path.c_str());
}

BOOST_AUTO_TEST_CASE(shared_memory_is_shared_both_ways)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  {
    ipc::shared_memory m = ipc::shared_memory::create(100);
    m.data()[0] = std::byte{42};
    a.send(std::string("mem"), ipc::keep_open(m));
    auto msg = b.receive<std::string>();
    ipc::shared_memory r = msg.take_handle<ipc::shared_memory>(0, io.get_executor());
    BOOST_TEST(r.size() >= 100u); // whole pages on Windows
    BOOST_TEST(r.writable());
    BOOST_TEST(std::to_integer<int>(r.bytes()[0]) == 42);
    r.data()[1] = std::byte{7};
    BOOST_TEST(std::to_integer<int>(m.bytes()[1]) == 7);
    std::error_code ec;
    m.seal_read_only(ec);
    BOOST_TEST((ec == std::errc::operation_not_supported));
    // A handle that is neither a file nor a section, sent as a file, is refused on arrival.
    HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    a.send(std::string("event"), ipc::file(ipc::native_handle(event)));
    auto e = b.receive<std::string>();
    (void)e.take_handle<ipc::file>(0, io.get_executor(), ec);
    BOOST_TEST((ec == ipc::errc::invalid_handle), ec.message());
  }
}

BOOST_AUTO_TEST_CASE(a_refused_handle_is_closed_and_nacked)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  a.send(std::string("x"), temp_file(L"ipcxx-nack"));
  {
    auto m = b.receive<std::string>(); // dropped with its handle
  }
  b.send(std::string("no"));
  BOOST_TEST(a.receive<std::string>().value == "no");
  BOOST_TEST(a.acknowledgements().refused == 1u);
  BOOST_TEST(a.acknowledgements().unacknowledged == 0u);
}

BOOST_AUTO_TEST_CASE(async_sends_carry_handles_too)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  std::vector<ipc::native_handle> got;
  for (int i = 0; i < 10; ++i)
    a.async_send(std::string("n"), temp_file((L"ipcxx-async" + std::to_wstring(i)).c_str()),
                 [](std::error_code ec) { BOOST_TEST(!ec); });
  std::function<void()> next = [&] {
    b.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      BOOST_REQUIRE(!ec);
      got.push_back(m.take_handle(0));
      if (got.size() < 10) next();
    });
  };
  next();
  io.run();
  BOOST_REQUIRE_EQUAL(got.size(), 10u);
  for (auto& h : got) BOOST_TEST(::GetFileType(h.get()) == DWORD(FILE_TYPE_DISK));
}

BOOST_AUTO_TEST_CASE(a_handle_reaches_a_child_process)
{
  asio::io_context io;
  ipc::native_handle file = temp_file(L"ipcxx-child");
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"take_handle"});
  c.channel().send(std::string("written by the child"), ipc::keep_open(file));
  BOOST_TEST(c.channel().receive<std::string>().value == "done");
  BOOST_TEST(c.channel().acknowledgements().acknowledged == 1u);
  BOOST_TEST(c.wait().success());
  BOOST_TEST(read_from_start(file.get()) == "written by the child");
}

// Events, pipes and processes travel as handles too (native_handle): each works in the child.
BOOST_AUTO_TEST_CASE(an_event_a_pipe_and_a_process_work_in_the_child_they_reach)
{
  handle_guard guard;
  asio::io_context io;
  {
    HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    HANDLE r = nullptr, w = nullptr;
    BOOST_REQUIRE(event != nullptr && ::CreatePipe(&r, &w, nullptr, 0));
    ipc::native_handle ev(event), read_end(r), write_end(w);
    HANDLE self = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, ::GetCurrentProcessId());
    BOOST_REQUIRE(self != nullptr);
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"use_handles"});
    c.channel().send(std::string("through the pipe"), ipc::keep_open(ev), std::move(write_end),
                     ipc::native_handle(self));
    BOOST_TEST(c.channel().receive<std::string>().value == std::to_string(::GetCurrentProcessId()));
    BOOST_TEST(::WaitForSingleObject(ev.get(), 0) == WAIT_OBJECT_0);
    char buf[64];
    DWORD n = 0;
    BOOST_REQUIRE(::ReadFile(read_end.get(), buf, sizeof buf, &n, nullptr));
    BOOST_TEST(std::string(buf, n) == "through the pipe");
    BOOST_TEST(c.wait().success());
    BOOST_TEST(c.channel().acknowledgements().acknowledged == 1u);
  }
  io.run();
}

BOOST_AUTO_TEST_CASE(a_handle_outlives_the_child_that_sent_it)
{
  asio::io_context io;
  const std::wstring wpath = temp_path(L"ipcxx-from-child");
  const std::string path(wpath.begin(), wpath.end());
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"send_file_and_exit", path});
  BOOST_TEST(c.wait().success()); // gone before we read anything
  auto m = c.channel().receive<std::string>();
  BOOST_TEST(m.value == "file");
  ipc::native_handle h = m.take_handle(0);
  BOOST_TEST(read_from_start(h.get()) == "from child");
}

BOOST_AUTO_TEST_CASE(a_peer_that_dies_before_acknowledging_leaks_nothing)
{
  handle_guard guard;
  asio::io_context io;
  {
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"sleep"});
    BOOST_TEST(c.channel().receive<std::string>().value == "ready");
    // The child never reads this: its copy dies with it, ours must be closed.
    c.channel().send(std::string("never read"), temp_file(L"ipcxx-dead"));
    BOOST_TEST(c.channel().acknowledgements().unacknowledged == 1u);
    c.kill();
    BOOST_TEST(c.wait().signaled());
    std::error_code ec;
    (void)c.channel().receive<std::string>(ec);
    BOOST_TEST(ec == asio::error::eof, ec.message());
    BOOST_TEST(c.channel().acknowledgements().unacknowledged == 0u);
  }
  io.run();
}

BOOST_AUTO_TEST_CASE(a_failed_duplicate_sends_nothing_and_leaks_nothing)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  // The second handle is not a handle at all: the first, already duplicated into the peer
  // (ourselves), must be closed there again.
  HANDLE bogus = reinterpret_cast<HANDLE>(std::uintptr_t(0x7ffffff0));
  std::error_code ec;
  a.send(std::string("x"), temp_file(L"ipcxx-fail"), ipc::native_handle(bogus), ec);
  BOOST_TEST(ec.value() == ERROR_INVALID_HANDLE, ec.message());
}

BOOST_AUTO_TEST_CASE(a_connected_tcp_socket_moves_to_a_child_and_the_client_sees_one_connection)
{
  handle_guard guard;
  asio::io_context io;
  tcp::socket client(io);
  {
    const SOCKET server = connected(client);
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"tcp_serve"});
    c.channel().send(std::string("serve"), unbound<tcp::socket>{server});
    asio::write(client, asio::buffer("hello", 5));
    std::string answer(11, '\0');
    asio::read(client, asio::buffer(answer));
    BOOST_TEST(answer == "child:hello");
    BOOST_TEST(c.channel().receive<std::string>().value == "hello"); // carries the ACK
    BOOST_TEST(c.channel().acknowledgements().acknowledged == 1u);
    BOOST_TEST(c.channel().acknowledgements().unacknowledged == 0u);
    BOOST_TEST(c.wait().success());
  }
  // The child is gone and our copy was closed after the ACK: nobody holds the server end.
  const auto [rest, ended] = read_to_end(client, 10);
  BOOST_TEST(rest == "");
  BOOST_TEST(ended);
}

BOOST_AUTO_TEST_CASE(a_listening_socket_moves_to_a_child_that_accepts_on_it)
{
  handle_guard guard;
  asio::io_context io;
  const SOCKET listener = raw_socket(SOCK_STREAM);
  const unsigned short port = bind_loopback(listener, true);
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"tcp_accept"});
  c.channel().send(std::string("accept"), unbound<tcp::acceptor>{listener});
  tcp::socket client(io);
  client.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
  const auto [text, ended] = read_to_end(client, 10);
  BOOST_TEST(text == "accepted");
  BOOST_TEST(ended);
  BOOST_TEST(c.channel().receive<std::string>().value == "done");
  BOOST_TEST(c.channel().acknowledgements().acknowledged == 1u);
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(a_udp_socket_moves_to_a_child)
{
  handle_guard guard;
  asio::io_context io;
  const SOCKET u = raw_socket(SOCK_DGRAM);
  const unsigned short port = bind_loopback(u, false);
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"udp_echo"});
  c.channel().send(std::string("echo"), unbound<udp::socket>{u});
  udp::socket me(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
  me.send_to(asio::buffer("ping", 4), udp::endpoint(asio::ip::address_v4::loopback(), port));
  char buf[64];
  udp::endpoint from;
  const std::size_t n = me.receive_from(asio::buffer(buf), from);
  BOOST_TEST(std::string(buf, n) == "udp:ping");
  BOOST_TEST(from.port() == port);
  BOOST_TEST(c.channel().receive<std::string>().value == "done");
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(sockets_sent_asynchronously_work_in_the_receiving_io_context)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  tcp::socket client(io);
  const SOCKET server = connected(client);
  bool sent = false;
  a.async_send(std::string("async"), unbound<tcp::socket>{server},
               [&](std::error_code ec) { BOOST_TEST(!ec); sent = true; });
  std::optional<tcp::socket> got;
  std::string text(5, '\0');
  b.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
    BOOST_REQUIRE(!ec);
    got.emplace(m.take_handle<tcp::socket>(0, io.get_executor()));
    asio::async_read(*got, asio::buffer(text), [&](std::error_code rec, std::size_t) {
      BOOST_TEST(!rec);
      asio::async_write(*got, asio::buffer("back", 4), [](std::error_code, std::size_t) {});
    });
  });
  asio::write(client, asio::buffer("early", 5));
  io.run();
  BOOST_TEST(sent);
  BOOST_TEST(text == "early");
  char back[4];
  asio::read(client, asio::buffer(back));
  BOOST_TEST(std::string(back, 4) == "back");
  b.send(std::string("ack")); // carries the ACK: the sender closes its copy
  BOOST_TEST(a.receive<std::string>().value == "ack");
  BOOST_TEST(a.acknowledgements().unacknowledged == 0u);
  got.reset();
  BOOST_TEST(read_to_end(client, 10).second); // no copy left open anywhere
}

BOOST_AUTO_TEST_CASE(a_raw_socket_travels_as_a_native_handle_moved_or_kept)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  tcp::socket client(io);
  const SOCKET server = connected(client);
  ipc::native_handle h(reinterpret_cast<HANDLE>(server));
  a.send(std::string("kept"), ipc::keep_open(h)); // a duplicate made the Winsock way
  a.send(std::string("moved"), std::move(h));
  for (const char* word : {"kept", "moved"}) {
    auto m = b.receive<std::string>();
    BOOST_TEST(m.value == word);
    ipc::native_handle got = m.take_handle(0);
    BOOST_TEST(got.get() != reinterpret_cast<HANDLE>(server));
    sockaddr_in peer{}, local{};
    int len = sizeof peer;
    BOOST_REQUIRE(::getpeername(reinterpret_cast<SOCKET>(got.get()), reinterpret_cast<sockaddr*>(&peer), &len) == 0);
    len = sizeof local;
    ::getsockname(client.native_handle(), reinterpret_cast<sockaddr*>(&local), &len);
    BOOST_TEST(peer.sin_port == local.sin_port); // the same connection
    BOOST_TEST(::send(reinterpret_cast<SOCKET>(got.get()), word, int(std::strlen(word)), 0) == int(std::strlen(word)));
  }
  char buf[9];
  asio::read(client, asio::buffer(buf));
  BOOST_TEST(std::string(buf, 9) == "keptmoved");
  b.send(std::string("ack"));
  BOOST_TEST(a.receive<std::string>().value == "ack");
  BOOST_TEST(a.acknowledgements().acknowledged == 2u);
  BOOST_TEST(a.acknowledgements().unacknowledged == 0u);
  BOOST_TEST(read_to_end(client, 10).second);
}

BOOST_AUTO_TEST_CASE(an_asio_socket_is_released_or_refused_clearly)
{
  handle_guard guard;
  asio::io_context io;
  auto [a, b] = bin_channel::pair(io.get_executor());
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(io), server(io);
  client.connect(acc.local_endpoint());
  acc.accept(server);
  std::error_code ec;
  // keep_open would send a copy bound to this io_context's completion port: refused.
  a.send(std::string("x"), ipc::keep_open(server), ec);
  BOOST_TEST((ec == std::errc::operation_not_supported), ec.message());
  a.send(std::string("socket"), std::move(server), ec);
  if (ec) {
    // No FileReplaceCompletionInformation (wine 8): nothing was sent, the socket is still ours.
    BOOST_TEST_MESSAGE("release() cannot un-bind a socket here: " << ec.message());
    BOOST_TEST((ec == std::errc::operation_not_supported), ec.message());
    BOOST_TEST(server.is_open());
    asio::write(server, asio::buffer("still", 5));
    char buf[5];
    asio::read(client, asio::buffer(buf));
    BOOST_TEST(std::string(buf, 5) == "still");
    BOOST_TEST(a.acknowledgements().unacknowledged == 0u);
    b.send(std::string("after")); // the channel still works both ways
    BOOST_TEST(a.receive<std::string>().value == "after");
    return;
  }
  // Windows 8.1 and later: released, sent, and usable in another io_context.
  BOOST_TEST(!server.is_open());
  asio::io_context other;
  auto m = b.receive<std::string>();
  tcp::socket got = m.take_handle<tcp::socket>(0, other.get_executor());
  asio::write(client, asio::buffer("moved", 5));
  char buf[5];
  asio::async_read(got, asio::buffer(buf), [](std::error_code rec, std::size_t) { BOOST_TEST(!rec); });
  other.run();
  BOOST_TEST(std::string(buf, 5) == "moved");
}

BOOST_AUTO_TEST_CASE(a_peer_that_dies_before_acknowledging_a_socket_leaks_nothing)
{
  handle_guard guard;
  asio::io_context io;
  tcp::socket client(io);
  {
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"sleep"});
    BOOST_TEST(c.channel().receive<std::string>().value == "ready");
    c.channel().send(std::string("never read"), unbound<tcp::socket>{connected(client)});
    BOOST_TEST(c.channel().acknowledgements().unacknowledged == 1u);
    c.kill();
    BOOST_TEST(c.wait().signaled());
    std::error_code ec;
    (void)c.channel().receive<std::string>(ec);
    BOOST_TEST(ec == asio::error::eof, ec.message());
    BOOST_TEST(c.channel().acknowledgements().unacknowledged == 0u);
  }
  io.run();
  BOOST_TEST(read_to_end(client, 10).second); // the child's copy died with it, ours is closed
}

BOOST_AUTO_TEST_CASE(socket_entries_carry_protocol_info_and_others_a_handle_value)
{
  handle_guard guard;
  using traits = ipc::platform::traits;
  asio::io_context io;
  std::error_code ec;
  auto [w, r] = traits::create_pair(ec);
  BOOST_REQUIRE(!ec);
  bin_channel ch(io.get_executor(), ipc::native_handle(w));
  tcp::socket client1(io), client2(io);
  // A socket the converter says is one, a socket only the handle knows is one, and a file.
  ch.send(std::string("three"), unbound<tcp::socket>{connected(client1)},
          ipc::native_handle(reinterpret_cast<HANDLE>(connected(client2))), temp_file(L"ipcxx-wire"));
  std::vector<std::byte> bytes(4096);
  std::vector<HANDLE> none;
  const std::size_t n = traits::receive_some(r, bytes, none, 0, false, ec);
  BOOST_REQUIRE(!ec);
  bytes.resize(n);
  ipc::frame_header h;
  BOOST_REQUIRE(!ipc::decode_frame_header(std::span<const std::byte, ipc::frame_header_size>(bytes.data(), ipc::frame_header_size), {}, h));
  BOOST_REQUIRE(bytes.size() >= ipc::frame_header_size + h.table_size);
  std::vector<ipc::native_handle> got;
  std::vector<std::size_t> sizes;
  BOOST_REQUIRE(!ipc::decode_handle_table(std::span(bytes).subspan(ipc::frame_header_size, h.table_size), 3,
                                          [&](const ipc::handle_entry& e) {
                                            sizes.push_back(e.blob.size());
                                            HANDLE v = nullptr;
                                            std::error_code hec;
                                            traits::handle_from_blob(e.blob, v, hec);
                                            BOOST_TEST(!hec, hec.message());
                                            got.emplace_back(v);
                                          }));
  BOOST_REQUIRE_EQUAL(sizes.size(), 3u);
  BOOST_TEST(sizes[0] == traits::socket_blob);
  BOOST_TEST(sizes[1] == traits::socket_blob);
  BOOST_TEST(sizes[2] == traits::duplicated_blob);
  BOOST_TEST(std::to_integer<int>(bytes[ipc::frame_header_size + 1 + 15 + 2]) == int(traits::blob_socket));
  for (int i = 0; i < 2; ++i) {
    WSAPROTOCOL_INFOW info{};
    int len = sizeof info;
    BOOST_TEST(::getsockopt(reinterpret_cast<SOCKET>(got[i].get()), SOL_SOCKET, SO_PROTOCOL_INFOW,
                            reinterpret_cast<char*>(&info), &len) == 0);
    BOOST_TEST(info.iSocketType == SOCK_STREAM);
  }
  BOOST_TEST(::GetFileType(got[2].get()) == DWORD(FILE_TYPE_DISK));
  ::CloseHandle(r);
}

BOOST_AUTO_TEST_CASE(a_malformed_socket_blob_breaks_the_channel_cleanly)
{
  handle_guard guard;
  using traits = ipc::platform::traits;
  std::vector<std::byte> blob(traits::socket_blob);
  blob[0] = std::byte{traits::blob_socket};
  const DWORD self = ::GetCurrentProcessId(); // the process the blob says it was made for
  for (int i = 0; i < 4; ++i) blob[1 + i] = std::byte((self >> (8 * i)) & 0xff);
  // Protocol info of zeros, and of garbage: no socket can be made from it.
  BOOST_TEST((receive_forged(blob) == ipc::errc::invalid_handle));
  std::fill(blob.begin() + traits::blob_prefix, blob.end(), std::byte{0x5a});
  BOOST_TEST((receive_forged(blob) == ipc::errc::invalid_handle));
  // A socket blob of the wrong size, or of an unknown method.
  BOOST_TEST((receive_forged(std::span(blob).first(traits::duplicated_blob)) == ipc::errc::malformed_frame));
  BOOST_TEST((receive_forged(std::span(blob).first(100)) == ipc::errc::malformed_frame));
  blob[0] = std::byte{3};
  BOOST_TEST((receive_forged(blob) == ipc::errc::malformed_frame));
  // Real protocol info, but for a datagram socket it does not describe: refused (and the
  // stream socket it made closed again, as the handle count shows).
  const SOCKET s = raw_socket(SOCK_STREAM);
  WSAPROTOCOL_INFOW info{};
  BOOST_REQUIRE(::WSADuplicateSocketW(s, ::GetCurrentProcessId(), &info) == 0);
  info.iSocketType = SOCK_DGRAM;
  blob[0] = std::byte{traits::blob_socket};
  std::memcpy(blob.data() + traits::blob_prefix, &info, sizeof info);
  BOOST_TEST((receive_forged(blob) == ipc::errc::invalid_handle));
  ::closesocket(s);
}

BOOST_AUTO_TEST_CASE(a_blob_that_names_no_handle_breaks_the_channel)
{
  asio::io_context io;
  auto [w, r] = ipc::platform::traits::create_pair(*std::make_unique<std::error_code>());
  bin_channel ch(io.get_executor(), ipc::native_handle(r));
  ipc::byte_buffer frame;
  frame.resize(ipc::frame_header_size);
  std::byte blob[ipc::platform::traits::duplicated_blob] = {std::byte{1}};
  const DWORD self = ::GetCurrentProcessId();
  for (int i = 0; i < 4; ++i) blob[1 + i] = std::byte((self >> (8 * i)) & 0xff);
  blob[ipc::platform::traits::blob_prefix] = std::byte{3}; // 3: not a handle value
  BOOST_REQUIRE(!ipc::append_handle_entry(frame, "native", blob));
  ipc::frame_header h;
  h.sequence = 1;
  h.handle_count = 1;
  h.table_size = static_cast<std::uint32_t>(frame.size() - ipc::frame_header_size);
  ipc::encode_frame_header(h, frame.data());
  std::error_code ec;
  const asio::const_buffer buf(frame.data(), frame.size());
  ipc::platform::traits::send_some(w, {&buf, 1}, {}, false, ec);
  BOOST_REQUIRE(!ec);
  (void)ch.receive<std::string>(ec);
  BOOST_TEST((ec == ipc::errc::malformed_frame), ec.message());
  ::CloseHandle(w);
}

BOOST_AUTO_TEST_SUITE_END()
