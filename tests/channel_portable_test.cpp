// tests/channel_portable_test.cpp - the channel contract every platform keeps, with no OS calls.
// SPDX-License-Identifier: BSL-1.0
//
// Runs unchanged on Linux (socketpairs) and on Windows (named pipes, under wine in CI). Peers
// are threads here, not processes, so that nothing in the file needs fork or spawn.
#include "ipc/channel.hpp" // first: it configures Asio
#include "ipc/describe.hpp"
#include "ipc/serializers/binary.hpp"
#include "ipc/serializers/raw.hpp"

#include <boost/test/unit_test.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <algorithm>
#include <functional>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace portable_demo {
struct order {
  int id = 0;
  std::string item;
  std::vector<double> prices;
  bool operator==(const order&) const = default;
};
IPC_DESCRIBE(order, id, item, prices)
} // namespace portable_demo

namespace {
using bin_channel = ipc::channel<ipc::binary>;
using raw_channel = ipc::channel<ipc::raw>;
using portable_demo::order;
} // namespace

BOOST_AUTO_TEST_SUITE(channel_portable)

BOOST_AUTO_TEST_CASE(pair_round_trips_typed_messages_in_order)
{
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  for (int i = 0; i < 100; ++i) a.send(order{i, "book", {1.5, double(i)}});
  for (int i = 0; i < 100; ++i) {
    auto m = b.receive<order>();
    BOOST_TEST(m.value.id == i);
    BOOST_TEST(m.value.item == "book");
    BOOST_TEST(m.sequence() == std::uint32_t(i + 1));
  }
  b.send(std::string("reply"));
  BOOST_TEST(a.receive<std::string>().value == "reply");
}

BOOST_AUTO_TEST_CASE(error_code_overloads_do_not_throw_and_close_is_end_of_stream)
{
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  std::error_code ec;
  a.send(42, ec);
  BOOST_TEST(!ec);
  auto m = b.receive<int>(ec);
  BOOST_TEST(!ec);
  BOOST_TEST(m.value == 42);
  a.close();
  a.send(1, ec);
  BOOST_TEST(ec == ipc::errc::channel_closed);
  (void)a.receive<int>(ec);
  BOOST_TEST(ec == ipc::errc::channel_closed);
  BOOST_CHECK_THROW(a.send(1), std::system_error);
  (void)b.receive<int>(ec);
  BOOST_TEST(ec == asio::error::eof);
}

BOOST_AUTO_TEST_CASE(raw_views_point_into_the_receive_buffer)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  a.send(std::string_view("zero copy"));
  BOOST_TEST(b.receive<std::string_view>().value == "zero copy");
}

BOOST_AUTO_TEST_CASE(sender_refuses_a_message_larger_than_the_limit)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor(), {.max_message_size = 1000});
  auto& a = ab.first;
  auto& b = ab.second;
  std::error_code ec;
  a.send(std::string(1001, 'x'), ec);
  BOOST_TEST(ec == ipc::errc::message_too_large);
  a.send(std::string("ok")); // nothing was sent: the channel still works
  BOOST_TEST(b.receive<std::string>().value == "ok");
}

BOOST_AUTO_TEST_CASE(async_sends_complete_in_order_and_all_arrive)
{
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  std::vector<int> completed;
  constexpr int n = 2000;
  for (int i = 0; i < n; ++i)
    a.async_send(std::vector<int>(i % 700, i), [&, i](std::error_code ec) {
      BOOST_TEST(!ec);
      completed.push_back(i);
    });
  int received = 0;
  std::function<void()> next = [&] {
    b.async_receive<std::vector<int>>([&](std::error_code ec, ipc::message<std::vector<int>> m) {
      BOOST_REQUIRE(!ec);
      BOOST_TEST(m.value.size() == std::size_t(received % 700));
      if (!m.value.empty()) BOOST_TEST(m.value.front() == received);
      if (++received < n) next();
    });
  };
  next();
  io.run();
  BOOST_TEST(received == n);
  BOOST_REQUIRE_EQUAL(completed.size(), std::size_t(n));
  for (int i = 0; i < n; ++i) BOOST_TEST(completed[i] == i);
}

BOOST_AUTO_TEST_CASE(async_works_with_futures_coroutines_and_deferred)
{
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  auto work = asio::make_work_guard(io);
  std::thread t([&] { io.run(); });

  auto sent = a.async_send(order{7, "future", {}}, asio::use_future);
  auto got = b.async_receive<order>(asio::use_future);
  sent.get();
  BOOST_TEST(got.get().value.item == "future");

  std::promise<std::string> done;
  asio::co_spawn(
    io,
    [&]() -> asio::awaitable<void> {
      co_await a.async_send(std::string("coroutine"), asio::use_awaitable);
      auto m = co_await b.async_receive<std::string>(asio::use_awaitable);
      done.set_value(m.value);
    },
    asio::detached);
  BOOST_TEST(done.get_future().get() == "coroutine");

  auto op = b.async_receive<int>(asio::experimental::deferred);
  a.async_send(99, asio::experimental::deferred)([](std::error_code) {});
  std::promise<int> p;
  std::move(op)([&](std::error_code ec, ipc::message<int> m) { p.set_value(ec ? -1 : m.value); });
  BOOST_TEST(p.get_future().get() == 99);

  work.reset();
  t.join();
}

BOOST_AUTO_TEST_CASE(second_outstanding_receive_is_an_error)
{
  asio::io_context io;
  auto ab = bin_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  std::error_code second;
  bool first_done = false;
  b.async_receive<int>([&](std::error_code ec, ipc::message<int> m) {
    BOOST_TEST(!ec);
    BOOST_TEST(m.value == 5);
    first_done = true;
  });
  b.async_receive<int>([&](std::error_code ec, ipc::message<int>) { second = ec; });
  a.send(5);
  io.run();
  BOOST_TEST(first_done);
  BOOST_TEST(second == ipc::errc::receive_in_progress);
}

BOOST_AUTO_TEST_CASE(cancelled_receive_loses_nothing)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  asio::cancellation_signal sig;
  std::error_code first = asio::error::would_block;
  b.async_receive<std::string>(asio::bind_cancellation_slot(
    sig.slot(), [&](std::error_code ec, ipc::message<std::string>) { first = ec; }));
  io.poll();
  sig.emit(asio::cancellation_type::terminal);
  io.run();
  io.restart();
  BOOST_TEST(first == asio::error::operation_aborted);
  const std::string payload(100, 'p');
  a.send(payload);
  std::string got;
  b.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
    BOOST_TEST(!ec);
    got = m.value;
  });
  io.run();
  BOOST_TEST(got == payload);
}

BOOST_AUTO_TEST_CASE(closing_a_channel_aborts_its_pending_receive)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& b = ab.second;
  std::error_code ec = asio::error::would_block;
  b.async_receive<std::string>([&](std::error_code e, ipc::message<std::string>) { ec = e; });
  io.poll();
  b.close();
  io.run();
  BOOST_TEST(ec == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(peer_closing_ends_an_async_receive_with_eof)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  std::error_code ec;
  b.async_receive<std::string>([&](std::error_code e, ipc::message<std::string>) { ec = e; });
  io.poll();
  a.close();
  io.run();
  BOOST_TEST(ec == asio::error::eof);
}

BOOST_AUTO_TEST_CASE(large_async_messages_arrive_whole_both_ways)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  const std::string x(3 << 20, 'x'), y((5 << 20) + 7, 'y');
  int sent = 0;
  a.async_send(x, [&](std::error_code ec) { BOOST_TEST(!ec); ++sent; });
  b.async_send(y, [&](std::error_code ec) { BOOST_TEST(!ec); ++sent; });
  std::string at_a, at_b;
  a.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
    BOOST_TEST(!ec);
    at_a = std::move(m.value);
  });
  b.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
    BOOST_TEST(!ec);
    at_b = std::move(m.value);
  });
  io.run();
  BOOST_TEST(sent == 2);
  BOOST_TEST((at_a == y));
  BOOST_TEST((at_b == x));
}

BOOST_AUTO_TEST_SUITE_END()

// Sync sends and receives from two threads at once. Not yet run on Windows: under wine a sync
// send whose write is pending sometimes never sees it complete while the peer thread blocks in
// a read (see include/ipc/platform/windows/traits.hpp); the async paths above are unaffected.
BOOST_AUTO_TEST_SUITE(channel_threads)

BOOST_AUTO_TEST_CASE(sync_peers_sending_8_mib_to_each_other_do_not_deadlock)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  const std::string big(8 << 20, 'z');
  std::thread peer([&] {
    b.send(big);
    BOOST_TEST((b.receive<std::string_view>().value == big));
  });
  a.send(big);
  BOOST_TEST((a.receive<std::string_view>().value == big));
  peer.join();
}

BOOST_AUTO_TEST_CASE(many_sync_messages_of_every_size_keep_their_bytes)
{
  asio::io_context io;
  auto ab = raw_channel::pair(io.get_executor());
  auto& a = ab.first;
  auto& b = ab.second;
  std::thread peer([&] {
    for (std::size_t n = 0; n < 300000; n = n * 3 / 2 + 1) a.send(std::string(n, char('a' + n % 26)));
  });
  for (std::size_t n = 0; n < 300000; n = n * 3 / 2 + 1) {
    auto m = b.receive<std::string_view>();
    BOOST_REQUIRE_EQUAL(m.value.size(), n);
    BOOST_TEST(std::count(m.value.begin(), m.value.end(), char('a' + n % 26)) == std::ptrdiff_t(n));
  }
  peer.join();
}

BOOST_AUTO_TEST_SUITE_END()
