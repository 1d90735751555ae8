// tests/shared_server_test.cpp - connections handed to worker processes, counted and closed
// across the process boundary (ipc::shared_server).
// SPDX-License-Identifier: BSL-1.0
#include "ipc/channel.hpp" // first: it configures Asio
#include "ipc/node.hpp"
#include "ipc/shared_server.hpp"
#include "ipc/serializers/binary.hpp"

#include "support.hpp"

#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using ipc_test::read_line;

using bin_channel = ipc::channel<ipc::binary>;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// A worker process on the other end of a socketpair, and the parent's channel to it.
struct worker {
  ipc_test::child_process process;
  bin_channel channel;
};

/// The worker's loop: it keeps every connection it is handed (after writing "hello\n" on it),
/// closes the newest N on "close N" and then says "closed", and returns on "quit" or when the
/// parent goes away. A receive is always outstanding, so counts are answered without it.
bool worker_loop(asio::io_context& io, bin_channel& ch, bool answer_and_close = false)
{
  std::vector<tcp::socket> held;
  std::function<void()> next = [&] {
    ch.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      if (ec) return;
      if (m.value == "conn") {
        tcp::socket s = m.take_handle<tcp::socket>(0, io.get_executor());
        const std::string hello = answer_and_close ? std::to_string(::getpid()) + "\n" : "hello\n";
        asio::write(s, asio::buffer(hello));
        if (answer_and_close) s.close();
        else held.push_back(std::move(s));
      } else if (m.value.rfind("close ", 0) == 0) {
        for (int n = std::stoi(m.value.substr(6)); n > 0 && !held.empty(); --n) held.pop_back();
        ch.send(std::string("closed"));
      } else if (m.value == "quit") {
        return;
      }
      next();
    });
  };
  next();
  io.run();
  return true;
}

/// A worker that passes every connection on to a worker of its own (a grandchild of the test),
/// and relays "close N" to it (answering "closed" once the grandchild has).
bool relay_loop(asio::io_context& io, bin_channel& up)
{
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  const int up_fd = up.native_handle();
  ipc_test::child_process grandchild([=] {
    ::close(sv[0]);
    ::close(up_fd);
    asio::io_context gio;
    bin_channel ch(gio.get_executor(), ipc::native_handle(sv[1]));
    return worker_loop(gio, ch);
  });
  ::close(sv[1]);
  bin_channel down(io.get_executor(), ipc::native_handle(sv[0]));
  std::function<void()> next_up = [&] {
    up.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      if (ec || m.value == "quit") {
        down.send(std::string("quit"));
        return;
      }
      if (m.value == "conn") // passed on as it came: still this server's connection
        down.send(std::string("conn"), m.take_handle<tcp::socket>(0, io.get_executor()));
      else
        down.send(m.value);
      next_up();
    });
  };
  std::function<void()> next_down = [&] {
    down.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      if (ec) return;
      up.send(m.value);
      next_down();
    });
  };
  next_up();
  next_down();
  io.run();
  return grandchild.wait() == 0;
}

worker start_relay(asio::io_context& io)
{
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  ipc_test::child_process c([=] {
    ::close(sv[0]);
    asio::io_context cio;
    bin_channel ch(cio.get_executor(), ipc::native_handle(sv[1]));
    return relay_loop(cio, ch);
  });
  ::close(sv[1]);
  return worker{std::move(c), bin_channel(io.get_executor(), ipc::native_handle(sv[0]))};
}

worker start_worker(asio::io_context& io, bool answer_and_close = false)
{
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  ipc_test::child_process c([=] {
    ::close(sv[0]);
    asio::io_context cio;
    bin_channel ch(cio.get_executor(), ipc::native_handle(sv[1]));
    return worker_loop(cio, ch, answer_and_close);
  });
  ::close(sv[1]);
  return worker{std::move(c), bin_channel(io.get_executor(), ipc::native_handle(sv[0]))};
}

/// Runs @p io until @p done, for at most @p limit.
template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 10s)
{
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_one_for(10ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

ipc::connection_counts count(asio::io_context& io, ipc::shared_server& srv, std::error_code& ec)
{
  std::optional<ipc::connection_counts> r;
  srv.async_get_connections([&](std::error_code e, ipc::connection_counts c) {
    ec = e;
    r = std::move(c);
  });
  BOOST_REQUIRE(run_until(io, [&] { return r.has_value(); }));
  return *r;
}

ipc::connection_counts count(asio::io_context& io, ipc::shared_server& srv)
{
  std::error_code ec;
  auto c = count(io, srv, ec);
  BOOST_TEST(!ec, ec.message());
  return c;
}

/// Counts until @p want holds (connections settle asynchronously), checking on the way that
/// the total is @p total every time: a connection in transit is never counted twice or lost.
bool counts_become(asio::io_context& io, ipc::shared_server& srv, std::size_t total,
                   std::function<bool(const ipc::connection_counts&)> want)
{
  for (int i = 0; i < 500; ++i) {
    const auto c = count(io, srv);
    BOOST_TEST(c.total() == total);
    if (want(c)) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

tcp::endpoint loopback() { return {asio::ip::address_v4::loopback(), 0}; }

/// True once the peer has closed @p s (reads until end of stream), running @p io meanwhile: the
/// parent's copy of a handed-off connection closes when the worker's ACK is read.
bool closed_by_peer(asio::io_context& io, tcp::socket& s)
{
  std::optional<std::error_code> end;
  char buf[64];
  std::function<void()> next = [&] {
    s.async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t) {
      if (ec) end = ec;
      else next();
    });
  };
  next();
  if (!run_until(io, [&] { return end.has_value(); })) {
    s.cancel();
    run_until(io, [&] { return end.has_value(); });
    return false;
  }
  return *end == asio::error::eof;
}

/// A raw frame of @p kind with @p payload, numbered @p seq.
std::vector<std::byte> raw_frame(std::uint32_t seq, ipc::frame_kind kind, std::vector<std::byte> payload)
{
  ipc::frame_header h;
  h.payload_size = static_cast<std::uint32_t>(payload.size());
  h.sequence = seq;
  h.kind = kind;
  std::vector<std::byte> out(ipc::frame_header_size);
  ipc::encode_frame_header(h, out.data());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

/// An internal connection-bookkeeping payload: op, id, then @p rest.
std::vector<std::byte> internal_payload(int op, std::uint32_t id, std::string_view rest)
{
  std::vector<std::byte> p(5);
  p[0] = std::byte(op);
  ipc::detail::store_u32(p.data() + 1, id);
  for (char c : rest) p.push_back(std::byte(c));
  return p;
}

void write_all(int fd, const std::vector<std::byte>& bytes)
{
  BOOST_REQUIRE(::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
}

/// tests/node/<name>, found from this file's path (relative to the build root under meson).
std::string node_script(const char* name)
{
  namespace fs = std::filesystem;
  fs::path here = __FILE__;
  if (here.is_relative()) {
    const char* child = std::getenv("IPC_TEST_CHILD"); // <build>/tests/child_helper
    const fs::path root = child ? fs::absolute(child).parent_path().parent_path() : fs::current_path();
    here = fs::exists(root / here) ? root / here : fs::absolute(here);
  }
  return (here.parent_path() / "node" / name).lexically_normal().string();
}

/// Receives from a Node worker until a message with @p field comes (running @p io, which the
/// channel's background reads need), and returns it.
ipc::json_value node_reply(asio::io_context& io, ipc::node::channel& ch, const char* field)
{
  for (;;) {
    std::optional<ipc::json_value> got;
    std::error_code ec;
    ch.async_receive([&](std::error_code e, ipc::node::message m) {
      ec = e;
      got = std::move(m.value);
    });
    BOOST_REQUIRE(run_until(io, [&] { return got.has_value(); }));
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    if (got->find(field) != nullptr) return *got;
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(shared_server)

BOOST_AUTO_TEST_CASE(node_workers_are_counted_through_their_own_socket_lists)
{
  // Node workers next to a C++ one: the server asks the Node processes with Node's own
  // NODE_SOCKET_GET_COUNT, answered by Node's socket lists, in both serialization modes.
  ipc_test::fd_guard guard;
  asio::io_context io;
  auto json_worker = ipc::spawn<ipc::node::json>(io, "node", {node_script("worker.js")});
  auto v8_worker = ipc::spawn<ipc::node::advanced>(io, "node", {node_script("worker.js")});
  auto idle = ipc::spawn<ipc::node::json>(io, "node", {node_script("worker.js")});
  worker cxx = start_worker(io);
  {
    ipc::shared_server srv(io, loopback());
    BOOST_TEST(srv.add_worker(json_worker.channel()) == 0u);
    BOOST_TEST(srv.add_worker(v8_worker.channel()) == 1u);
    BOOST_TEST(srv.add_worker(idle.channel()) == 2u); // never handed one: not even asked
    BOOST_TEST(srv.add_worker(cxx.channel) == 3u);
    std::vector<tcp::socket> clients;
    auto give = [&](auto& ch, const char* msg) {
      clients.emplace_back(io).connect(srv.local_endpoint());
      srv.hand_off(ch, ipc::json_value(msg), srv.accept()); // returns after Node's ACK
    };
    give(json_worker.channel(), "a");
    give(json_worker.channel(), "b");
    give(v8_worker.channel(), "c");
    clients.emplace_back(io).connect(srv.local_endpoint());
    srv.hand_off(cxx.channel, std::string("conn"), srv.accept());
    for (int i = 0; i < 3; ++i) BOOST_TEST(read_line(clients[i]) == "node worker\n");
    BOOST_TEST(read_line(clients[3]) == "hello\n");
    BOOST_TEST(counts_become(io, srv, 4, [](const ipc::connection_counts& c) {
      return c.workers == std::vector<std::size_t>{2, 1, 0, 1};
    }));

    // Node ends its sockets: its lists drop them, and the close completes once the C++
    // worker's connection closes too.
    bool closed = false;
    srv.async_close([&](std::error_code ec) {
      BOOST_TEST(!ec, ec.message());
      closed = true;
    });
    json_worker.channel().send(ipc::json_value::object({{"do", "end"}}));
    v8_worker.channel().send(ipc::json_value::object({{"do", "end"}}));
    BOOST_TEST(*node_reply(io, json_worker.channel(), "ended")["ended"].as_int64() == 2);
    BOOST_TEST(*node_reply(io, v8_worker.channel(), "ended")["ended"].as_int64() == 1);
    BOOST_TEST(!run_until(io, [&] { return closed; }, 200ms)); // the C++ worker still holds one
    cxx.channel.send(std::string("close 1"));
    BOOST_TEST(cxx.channel.receive<std::string>().value == "closed");
    BOOST_TEST(run_until(io, [&] { return closed; }));
    for (int i = 0; i < 4; ++i) BOOST_TEST(closed_by_peer(io, clients[i]));
    cxx.channel.send(std::string("quit"));
  }
  for (auto* c : {&json_worker, &idle}) {
    c->channel().close();
    BOOST_TEST(c->wait().code == 0);
  }
  v8_worker.channel().close();
  BOOST_TEST(v8_worker.wait().code == 0);
  BOOST_TEST(cxx.process.wait() == 0);
}

BOOST_AUTO_TEST_CASE(bad_bookkeeping_frames_from_a_peer_are_errors_or_ignored_never_crashes)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  {
    // An unknown op, a short payload, an oversized key: each breaks that channel, clearly.
    const std::vector<std::vector<std::byte>> bad = {
      internal_payload(9, 1, ""), {std::byte{1}, std::byte{0}}, internal_payload(1, 1, std::string(256, 'k')),
      internal_payload(2, 1, "12345")};
    for (const auto& payload : bad) {
      int sv[2];
      BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
      bin_channel ch(io.get_executor(), ipc::native_handle(sv[0]));
      write_all(sv[1], raw_frame(1, ipc::frame_kind::internal, payload));
      std::error_code ec;
      ch.receive<std::string>(ec);
      BOOST_TEST(ec == ipc::errc::malformed_frame);
      ::close(sv[1]);
    }
  }
  {
    // A flood of questions whose answers the peer never reads, and an answer to a question
    // never asked: the channel answers a bounded number, ignores the stray answer, and still
    // delivers the next message.
    int sv[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    bin_channel ch(io.get_executor(), ipc::native_handle(sv[0]));
    std::vector<std::byte> stream;
    std::uint32_t seq = 1;
    for (int i = 0; i < 5000; ++i) {
      auto f = raw_frame(seq++, ipc::frame_kind::internal, internal_payload(1, i, "some key"));
      stream.insert(stream.end(), f.begin(), f.end());
    }
    auto stray = raw_frame(seq++, ipc::frame_kind::internal,
                           internal_payload(2, 77, std::string("\x05\0\0\0", 4)));
    stream.insert(stream.end(), stray.begin(), stray.end());
    ipc::byte_buffer msg;
    BOOST_REQUIRE(!ipc::binary{}.encode(std::string("still here"), msg));
    auto m = raw_frame(seq++, ipc::frame_kind::message,
                       std::vector<std::byte>(msg.data(), msg.data() + msg.size()));
    stream.insert(stream.end(), m.begin(), m.end());
    std::thread writer([&] { write_all(sv[1], stream); });
    std::error_code ec;
    auto got = ch.receive<std::string>(ec);
    writer.join();
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(got.value == "still here");
    // The answers that were written are well-formed: count what the peer can read.
    std::size_t answers = 0;
    std::byte buf[29];
    while (::recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) == ssize_t(sizeof buf)) {
      BOOST_REQUIRE(std::to_integer<int>(buf[14]) == int(ipc::frame_kind::internal));
      BOOST_REQUIRE(std::to_integer<int>(buf[20]) == 2); // an answer
      BOOST_REQUIRE(ipc::detail::load_u32(buf + 25) == 0u); // holds none of that key
      ++answers;
    }
    BOOST_TEST(answers > 0u);
    BOOST_TEST(answers <= 5000u);
    ::close(sv[1]);
  }
}

BOOST_AUTO_TEST_CASE(counts_follow_connections_into_workers_and_out_as_they_close)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  worker w0 = start_worker(io), w1 = start_worker(io);
  {
    ipc::shared_server srv(io, loopback());
    BOOST_TEST(srv.add_worker(w0.channel) == 0u);
    BOOST_TEST(srv.add_worker(w1.channel) == 1u);
    BOOST_TEST(srv.add_worker(w0.channel) == 0u); // idempotent

    std::vector<tcp::socket> clients;
    std::vector<tcp::socket> accepted;
    for (int i = 0; i < 5; ++i) {
      clients.emplace_back(io).connect(srv.local_endpoint());
      accepted.push_back(srv.accept());
    }
    BOOST_TEST(srv.local_connections() == 5u);
    auto c = count(io, srv);
    BOOST_TEST(c.local == 5u);
    BOOST_TEST((c.workers == std::vector<std::size_t>{0, 0}));

    // Three to worker 0 (one of them queued asynchronously), one to worker 1, one kept.
    srv.hand_off(w0.channel, std::string("conn"), std::move(accepted[0]));
    srv.hand_off(w0.channel, std::string("conn"), std::move(accepted[1]));
    bool sent = false;
    srv.async_hand_off(w0.channel, std::string("conn"), std::move(accepted[2]),
                       [&](std::error_code ec) { sent = !ec; });
    srv.hand_off(w1.channel, std::string("conn"), std::move(accepted[3]));
    BOOST_TEST(counts_become(io, srv, 5, [](const ipc::connection_counts& c) {
      return c.local == 1 && c.workers == std::vector<std::size_t>{3, 1};
    }));
    BOOST_TEST(sent);
    // The workers really hold them: each said hello on its connection.
    for (int i = 0; i < 4; ++i) BOOST_TEST(read_line(clients[i]) == "hello\n");

    // Worker 0 closes two; the parent closes its own.
    w0.channel.send(std::string("close 2"));
    BOOST_TEST(w0.channel.receive<std::string>().value == "closed");
    accepted[4].close();
    c = count(io, srv);
    BOOST_TEST(c.local == 0u);
    BOOST_TEST((c.workers == std::vector<std::size_t>{1, 1}));
    BOOST_TEST(closed_by_peer(io, clients[2]));
    BOOST_TEST(closed_by_peer(io, clients[1]));

    w0.channel.send(std::string("quit"));
    w1.channel.send(std::string("quit"));
  }
  BOOST_TEST(w0.process.wait() == 0);
  BOOST_TEST(w1.process.wait() == 0);
}

BOOST_AUTO_TEST_CASE(close_completes_once_every_handed_off_connection_has_closed)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  worker w = start_worker(io);
  {
    ipc::shared_server srv(io, loopback());
    const auto ep = srv.local_endpoint();
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 2; ++i) {
      clients.emplace_back(io).connect(ep);
      srv.hand_off(w.channel, std::string("conn"), srv.accept());
    }
    bool closed = false;
    std::error_code close_ec = asio::error::would_block;
    srv.async_close([&](std::error_code ec) {
      closed = true;
      close_ec = ec;
    });
    BOOST_TEST(!srv.is_open());
    // Not accepting any more: a new connection is refused.
    tcp::socket late(io);
    std::error_code ec;
    late.connect(ep, ec);
    BOOST_TEST(ec == asio::error::connection_refused);

    BOOST_TEST(!run_until(io, [&] { return closed; }, 300ms)); // two still open in the worker
    w.channel.send(std::string("close 1"));
    BOOST_TEST(w.channel.receive<std::string>().value == "closed");
    BOOST_TEST(!run_until(io, [&] { return closed; }, 300ms)); // one still open
    w.channel.send(std::string("close 1"));
    BOOST_TEST(w.channel.receive<std::string>().value == "closed");
    BOOST_TEST(run_until(io, [&] { return closed; }));
    BOOST_TEST(!close_ec, close_ec.message());
    w.channel.send(std::string("quit"));
  }
  BOOST_TEST(w.process.wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_worker_killed_with_connections_counts_as_holding_none)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  worker w0 = start_worker(io), w1 = start_worker(io);
  {
    ipc::shared_server srv(io, loopback());
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 4; ++i) {
      clients.emplace_back(io).connect(srv.local_endpoint());
      srv.hand_off(i % 2 ? w1.channel : w0.channel, std::string("conn"), srv.accept());
    }
    BOOST_TEST(counts_become(io, srv, 4, [](const ipc::connection_counts& c) {
      return c.workers == std::vector<std::size_t>{2, 2};
    }));
    w0.process.kill();
    BOOST_TEST(w0.process.wait() == 128 + SIGKILL);
    const auto c = count(io, srv);
    BOOST_TEST((c.workers == std::vector<std::size_t>{0, 2}));
    BOOST_TEST(c.local == 0u);
    BOOST_TEST(closed_by_peer(io, clients[0])); // the kernel closed what the worker held
    // The dead worker is not picked any more.
    for (int i = 0; i < 3; ++i) BOOST_TEST(srv.pick().value() == 1u);
    w1.channel.send(std::string("quit"));
  }
  BOOST_TEST(w1.process.wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_worker_that_does_not_answer_gives_an_error_not_a_hang)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  // A worker that takes one connection and then stops reading its channel.
  ipc_test::child_process stuck([=] {
    ::close(sv[0]);
    asio::io_context cio;
    bin_channel ch(cio.get_executor(), ipc::native_handle(sv[1]));
    auto m = ch.receive<std::string>();
    tcp::socket s = m.take_handle<tcp::socket>(0, cio.get_executor());
    ::pause();
    return true;
  });
  ::close(sv[1]);
  bin_channel ch(io.get_executor(), ipc::native_handle(sv[0]));
  {
    ipc::shared_server srv(io, loopback(), {.key = "stuck", .answer_timeout = 300ms});
    BOOST_TEST(srv.key() == "stuck");
    tcp::socket client(io);
    client.connect(srv.local_endpoint());
    srv.hand_off(ch, std::string("conn"), srv.accept());
    const auto t0 = std::chrono::steady_clock::now();
    std::error_code ec;
    count(io, srv, ec);
    BOOST_TEST(ec == ipc::errc::worker_not_responding);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
    // close gives up the same way.
    std::optional<std::error_code> closed;
    srv.async_close([&](std::error_code e) { closed = e; });
    BOOST_REQUIRE(run_until(io, [&] { return closed.has_value(); }));
    BOOST_TEST(*closed == ipc::errc::worker_not_responding);
  }
  stuck.kill();
  stuck.wait();
}

BOOST_AUTO_TEST_CASE(five_hundred_connections_over_four_workers_are_all_answered)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  std::vector<worker> workers;
  for (int i = 0; i < 4; ++i) workers.push_back(start_worker(io, /*answer_and_close=*/true));
  std::vector<int> pids;
  for (auto& w : workers) pids.push_back(w.process.pid());
  {
    ipc::shared_server srv(io, loopback());
    for (auto& w : workers) srv.add_worker(w.channel);
    std::vector<int> served(4, 0);
    for (int i = 0; i < 500; ++i) {
      tcp::socket client(io);
      client.connect(srv.local_endpoint());
      const std::size_t k = srv.pick(ipc::distribution::round_robin).value();
      srv.hand_off(workers[k].channel, std::string("conn"), srv.accept());
      const int pid = std::stoi(read_line(client));
      BOOST_REQUIRE(pid == pids[k]);
      ++served[k];
      BOOST_REQUIRE(closed_by_peer(io, client));
    }
    BOOST_TEST((served == std::vector<int>{125, 125, 125, 125}));
    BOOST_TEST(counts_become(io, srv, 0, [](const ipc::connection_counts&) { return true; }));
    for (auto& w : workers) w.channel.send(std::string("quit"));
  }
  for (auto& w : workers) BOOST_TEST(w.process.wait() == 0);
}

BOOST_AUTO_TEST_CASE(least_connections_picks_the_least_loaded_worker)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  worker w0 = start_worker(io), w1 = start_worker(io), w2 = start_worker(io);
  {
    ipc::shared_server srv(io, loopback());
    srv.add_worker(w0.channel);
    srv.add_worker(w1.channel);
    srv.add_worker(w2.channel);
    std::vector<tcp::socket> clients;
    auto give = [&](bin_channel& ch) {
      clients.emplace_back(io).connect(srv.local_endpoint());
      srv.hand_off(ch, std::string("conn"), srv.accept());
    };
    give(w0.channel);
    give(w0.channel);
    give(w1.channel);
    // Known without counting: what was handed since the last count.
    BOOST_TEST(srv.pick(ipc::distribution::least_connections).value() == 2u);
    give(w2.channel);
    give(w2.channel);
    BOOST_TEST(srv.pick(ipc::distribution::least_connections).value() == 1u);
    // After worker 0 closes both, a count tells the server so.
    w0.channel.send(std::string("close 2"));
    BOOST_TEST(w0.channel.receive<std::string>().value == "closed");
    BOOST_TEST(counts_become(io, srv, 3, [](const ipc::connection_counts& c) {
      return c.workers == std::vector<std::size_t>{0, 1, 2};
    }));
    BOOST_TEST(srv.pick(ipc::distribution::least_connections).value() == 0u);
    for (auto* w : {&w0, &w1, &w2}) w->channel.send(std::string("quit"));
  }
  BOOST_TEST(w0.process.wait() == 0);
  BOOST_TEST(w1.process.wait() == 0);
  BOOST_TEST(w2.process.wait() == 0);
}

BOOST_AUTO_TEST_CASE(connections_a_worker_passes_on_stay_counted_in_its_answer)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  worker w = start_relay(io);
  {
    ipc::shared_server srv(io, loopback());
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 3; ++i) {
      clients.emplace_back(io).connect(srv.local_endpoint());
      srv.hand_off(w.channel, std::string("conn"), srv.accept());
    }
    // The grandchild holds them (it said hello), the worker answers for it.
    for (auto& c : clients) BOOST_TEST(read_line(c) == "hello\n");
    BOOST_TEST(counts_become(io, srv, 3, [](const ipc::connection_counts& c) {
      return c.local == 0 && c.workers == std::vector<std::size_t>{3};
    }));
    bool closed = false;
    srv.async_close([&](std::error_code ec) {
      BOOST_TEST(!ec, ec.message());
      closed = true;
    });
    BOOST_TEST(!run_until(io, [&] { return closed; }, 300ms));
    w.channel.send(std::string("close 2"));
    BOOST_TEST(w.channel.receive<std::string>().value == "closed");
    BOOST_TEST(!run_until(io, [&] { return closed; }, 300ms)); // one left, in the grandchild
    BOOST_TEST(count(io, srv).total() == 1u);
    w.channel.send(std::string("close 1"));
    BOOST_TEST(w.channel.receive<std::string>().value == "closed");
    BOOST_TEST(run_until(io, [&] { return closed; }));
    for (auto& c : clients) BOOST_TEST(closed_by_peer(io, c));
    w.channel.send(std::string("quit"));
  }
  BOOST_TEST(w.process.wait() == 0);
}

BOOST_AUTO_TEST_CASE(two_servers_count_their_own_connections_in_the_same_worker)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  worker w = start_worker(io);
  {
    ipc::shared_server a(io, loopback()), b(io, loopback());
    BOOST_TEST(a.key() != b.key());
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 3; ++i) {
      ipc::shared_server& srv = i == 0 ? a : b;
      clients.emplace_back(io).connect(srv.local_endpoint());
      srv.hand_off(w.channel, std::string("conn"), srv.accept());
    }
    BOOST_TEST(counts_become(io, a, 1, [](const ipc::connection_counts& c) {
      return c.workers == std::vector<std::size_t>{1};
    }));
    BOOST_TEST(counts_become(io, b, 2, [](const ipc::connection_counts& c) {
      return c.workers == std::vector<std::size_t>{2};
    }));
    w.channel.send(std::string("quit"));
  }
  BOOST_TEST(w.process.wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_parent_receiving_on_the_channel_reads_the_answers_itself)
{
  // The parent keeps a receive outstanding on the worker's channel (as a parent that listens
  // to its workers does): the count's answer is taken by that receive, not lost to it.
  ipc_test::fd_guard guard;
  asio::io_context io;
  worker w = start_worker(io);
  {
    ipc::shared_server srv(io, loopback());
    tcp::socket client(io);
    client.connect(srv.local_endpoint());
    srv.hand_off(w.channel, std::string("conn"), srv.accept());
    std::optional<std::string> got;
    w.channel.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      if (!ec) got = m.value;
    });
    BOOST_TEST(counts_become(io, srv, 1, [](const ipc::connection_counts& c) {
      return c.workers == std::vector<std::size_t>{1};
    }));
    BOOST_TEST(!got.has_value());
    w.channel.send(std::string("close 1")); // its "closed" completes the receive
    BOOST_TEST(run_until(io, [&] { return got.has_value(); }));
    BOOST_TEST(*got == "closed");
    BOOST_TEST(count(io, srv).total() == 0u);
    w.channel.send(std::string("quit"));
  }
  BOOST_TEST(w.process.wait() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
