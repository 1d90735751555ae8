// tests/windows_channels_test.cpp - channel ends sent over channels on Windows (the channel
// converter): pipe ends handed to a real child, handles both ways over them, ends bound to a
// completion port, handles made for the wrong process; run under wine in CI.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/process.hpp" // first: it configures Asio
#include "ipc/converters/channel.hpp"
#include "ipc/frame.hpp"
#include "ipc/serializers/binary.hpp"

#include "windows_support.hpp"

#include <boost/test/unit_test.hpp>

#include <asio/io_context.hpp>

#include <windows.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

using ipc_test::read_from_start;
using ipc_test::temp_file;
using ipc_test::temp_path;
using ipc_test::write_forged;

using bin_channel = ipc::channel<ipc::binary>;
using bin_child = ipc::child<ipc::binary>;
using traits = ipc::platform::traits;

/// Wine allocates a few handles for good the first time a process starts a child: that happens
/// before the first count, so that only what a test leaks is counted.
void warm_up_spawn()
{
  asio::io_context io;
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"exit", "0"});
  (void)c.wait();
}
using handle_guard = ipc_test::handle_guard<warm_up_spawn>;

/// The child side ("take_channel" in windows_child_helper): takes a channel end from its parent
/// channel, says hello on it, writes the text of the next message there into the file handle
/// that comes with it, sends back a file of its own ("written by the child"), and exits on
/// "quit". Here: everything after sending it the end, with @p file_first sending the file
/// before the child has said anything on the new channel.
void talk_to_child_over_moved_end(bool file_first)
{
  handle_guard guard;
  asio::io_context io;
  {
    auto [first, second] = bin_channel::pair(io.get_executor());
    // Used, but only by synchronous receives: not bound to the completion port yet.
    first.send(std::string("before the move"));
    BOOST_TEST(second.receive<std::string>().value == "before the move");
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"take_channel"});
    c.channel().send(std::string("your end"), std::move(second));
    BOOST_TEST(!second.is_open());
    ipc::native_handle file = temp_file(L"ipcxx-moved-end");
    if (file_first) first.send(std::string("to the child"), ipc::keep_open(file));
    BOOST_TEST(first.receive<std::string>().value == "hello from the child");
    if (!file_first) first.send(std::string("to the child"), ipc::keep_open(file));
    auto m = first.receive<std::string>();
    BOOST_TEST(m.value == "wrote it");
    BOOST_REQUIRE_EQUAL(m.handle_count(), 1u);
    std::error_code ec;
    ipc::native_handle back = m.take_handle(0, ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(read_from_start(back.get()) == "written by the child");
    BOOST_TEST(read_from_start(file.get()) == "to the child");
    first.send(std::string("quit"));
    BOOST_TEST(c.wait().success());
    BOOST_TEST(first.acknowledgements().acknowledged == 1u);
    BOOST_TEST(first.acknowledgements().unacknowledged == 0u);
    (void)c.channel().receive<std::string>(ec); // the end of the stream, after the child's ACK
    BOOST_TEST(ec == asio::error::eof, ec.message());
    BOOST_TEST(c.channel().acknowledgements().acknowledged == 1u);
  }
  io.run();
}

std::vector<std::byte> blob_for(std::uint8_t method, DWORD pid, std::size_t size)
{
  std::vector<std::byte> blob(size);
  blob[0] = std::byte{method};
  for (int i = 0; i < 4; ++i) blob[1 + i] = std::byte((pid >> (8 * i)) & 0xff);
  return blob;
}

} // namespace

BOOST_AUTO_TEST_SUITE(windows_channels)

BOOST_AUTO_TEST_CASE(an_end_sent_to_a_child_carries_messages_and_files_both_ways)
{
  talk_to_child_over_moved_end(false);
}

BOOST_AUTO_TEST_CASE(a_file_sent_right_after_the_end_reaches_the_child)
{
  // The pipe still names this process as the peer of `first`: the file must be duplicated into
  // the child all the same (the end was sent there), not into ourselves.
  talk_to_child_over_moved_end(true);
}

BOOST_AUTO_TEST_CASE(a_file_sent_before_the_end_moved_is_refused_by_its_new_holder)
{
  // The frame is still in the pipe when `second` moves: its handle was duplicated into this
  // process (the peer then), so the child refuses it (handle_misdirected) and closes that copy
  // here; the NACK closes ours. The handle count shows both.
  handle_guard guard;
  asio::io_context io;
  {
    auto [first, second] = bin_channel::pair(io.get_executor());
    first.send(std::string("made for the parent"), temp_file(L"ipcxx-before-move"));
    BOOST_TEST(first.acknowledgements().unacknowledged == 1u);
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"take_channel_misdirected"});
    c.channel().send(std::string("your end"), std::move(second));
    BOOST_TEST(first.receive<std::string>().value == "misdirected");
    BOOST_TEST(first.acknowledgements().refused == 1u);
    BOOST_TEST(first.acknowledgements().unacknowledged == 0u);
    first.send(std::string("quit"));
    BOOST_TEST(c.wait().success());
  }
  io.run();
}

BOOST_AUTO_TEST_CASE(two_children_given_the_ends_of_a_pair_talk_directly)
{
  // Both ends move: each child greets the other and waits for its greeting before sending a
  // file (until then neither knows where the other is; see docs/windows.md).
  handle_guard guard;
  asio::io_context io;
  {
    auto [first, second] = bin_channel::pair(io.get_executor());
    bin_child a = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"meet_peer"});
    bin_child b = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"meet_peer"});
    a.channel().send(std::string("your end"), std::move(first));
    b.channel().send(std::string("your end"), std::move(second));
    BOOST_TEST(a.channel().receive<std::string>().value == "file of " + std::to_string(b.pid()));
    BOOST_TEST(b.channel().receive<std::string>().value == "file of " + std::to_string(a.pid()));
    BOOST_TEST(a.wait().success());
    BOOST_TEST(b.wait().success());
    BOOST_TEST(a.channel().acknowledgements().acknowledged == 1u);
    BOOST_TEST(b.channel().acknowledgements().acknowledged == 1u);
  }
  io.run();
}

BOOST_AUTO_TEST_CASE(an_end_bound_to_the_completion_port_is_released_or_refused_clearly)
{
  handle_guard guard;
  asio::io_context io;
  {
    auto [x, y] = bin_channel::pair(io.get_executor());
    auto [first, second] = bin_channel::pair(io.get_executor());
    second.send(std::string("bound now")); // a send completes through the port
    BOOST_TEST(first.receive<std::string>().value == "bound now");
    std::error_code ec;
    x.send(std::string("end"), std::move(second), ec);
    if (ec) {
      // No FileReplaceCompletionInformation (wine 8): nothing was sent, the end still works.
      BOOST_TEST_MESSAGE("a bound pipe cannot be un-bound here: " << ec.message());
      BOOST_TEST((ec == std::errc::operation_not_supported), ec.message());
      BOOST_TEST(second.is_open());
      second.send(std::string("still"));
      BOOST_TEST(first.receive<std::string>().value == "still");
      first.send(std::string("and back"));
      BOOST_TEST(second.receive<std::string>().value == "and back");
      x.send(std::string("x still works"));
      BOOST_TEST(y.receive<std::string>().value == "x still works");
      BOOST_TEST(x.acknowledgements().unacknowledged == 0u);
    } else {
      // Windows 8.1 and later: un-bound, sent, and bound again by its new holder.
      BOOST_TEST(!second.is_open());
      auto m = y.receive<std::string>();
      bin_channel moved = m.take_handle<bin_channel>(0, io.get_executor());
      moved.send(std::string("moved"));
      BOOST_TEST(first.receive<std::string>().value == "moved");
      first.send(std::string("and back"));
      BOOST_TEST(moved.receive<std::string>().value == "and back");
    }
  }
  io.run();
}

BOOST_AUTO_TEST_CASE(an_end_waiting_asynchronously_is_bound_and_still_works)
{
  handle_guard guard;
  asio::io_context io;
  {
    auto [first, second] = bin_channel::pair(io.get_executor());
    std::string got;
    second.async_receive<std::string>([&](std::error_code ec, ipc::message<std::string> m) {
      BOOST_TEST(!ec, ec.message());
      got = m.value;
    });
    first.async_send(std::string("async"), [](std::error_code ec) { BOOST_TEST(!ec, ec.message()); });
    io.run();
    BOOST_TEST(got == "async");
  }
  io.restart();
  io.run();
}

BOOST_AUTO_TEST_CASE(a_handle_made_for_another_process_is_refused_and_closed_there)
{
  handle_guard guard;
  asio::io_context io;
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"sleep"});
  struct killer {
    bin_child& c;
    ~killer()
    {
      c.kill();
      BOOST_TEST(c.wait().signaled());
    }
  } kill_at_end{c};
  BOOST_TEST(c.channel().receive<std::string>().value == "ready");
  const DWORD child_pid = static_cast<DWORD>(c.pid());
  HANDLE child = ::OpenProcess(PROCESS_DUP_HANDLE, FALSE, child_pid);
  BOOST_REQUIRE(child != nullptr);
  {
    ipc::native_handle file = temp_file(L"ipcxx-misdirected");
    HANDLE remote = nullptr;
    BOOST_REQUIRE(::DuplicateHandle(::GetCurrentProcess(), file.get(), child, &remote, 0, FALSE,
                                    DUPLICATE_SAME_ACCESS));
    std::error_code ec;
    auto [w, r] = traits::create_pair(ec);
    BOOST_REQUIRE(!ec);
    bin_channel ch(io.get_executor(), ipc::native_handle(r));
    // A handle value made for the child: refused here, and closed in the child.
    auto blob = blob_for(traits::blob_duplicated, child_pid, traits::duplicated_blob);
    const auto v = reinterpret_cast<std::uintptr_t>(remote);
    for (int i = 0; i < 8; ++i) blob[traits::blob_prefix + i] = std::byte((v >> (8 * i)) & 0xff);
    write_forged(w, 1, "native", blob);
    auto m = ch.receive<std::string>(ec);
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    BOOST_REQUIRE_EQUAL(m.handle_count(), 1u);
    ipc::native_handle h = m.take_handle(0, ec);
    BOOST_TEST((ec == ipc::errc::handle_misdirected), ec.message());
    BOOST_TEST(!h);
    HANDLE probe = nullptr;
    BOOST_TEST(!::DuplicateHandle(child, remote, ::GetCurrentProcess(), &probe, 0, FALSE,
                                  DUPLICATE_SAME_ACCESS));
    // A socket exported for another process: refused without making anything.
    write_forged(w, 2, "native", blob_for(traits::blob_socket, child_pid, traits::socket_blob));
    auto s = ch.receive<std::string>(ec);
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    (void)s.take_handle(0, ec);
    BOOST_TEST((ec == ipc::errc::handle_misdirected), ec.message());
    ::CloseHandle(w);
  }
  ::CloseHandle(child);
}

BOOST_AUTO_TEST_CASE(handle_entries_name_the_process_they_were_made_for)
{
  handle_guard guard;
  asio::io_context io;
  std::error_code ec;
  auto [w, r] = traits::create_pair(ec);
  BOOST_REQUIRE(!ec);
  {
    bin_channel ch(io.get_executor(), ipc::native_handle(w));
    ch.send(std::string("one"), temp_file(L"ipcxx-target"));
    std::vector<std::byte> bytes(4096);
    std::vector<HANDLE> none;
    const std::size_t n = traits::receive_some(r, bytes, none, 0, false, ec);
    BOOST_REQUIRE(!ec);
    bytes.resize(n);
    ipc::frame_header h;
    BOOST_REQUIRE(!ipc::decode_frame_header(
      std::span<const std::byte, ipc::frame_header_size>(bytes.data(), ipc::frame_header_size), {}, h));
    BOOST_REQUIRE(!ipc::decode_handle_table(
      std::span(bytes).subspan(ipc::frame_header_size, h.table_size), 1, [&](const ipc::handle_entry& e) {
        BOOST_REQUIRE_EQUAL(e.blob.size(), traits::duplicated_blob);
        DWORD pid = 0;
        for (int i = 4; i >= 1; --i) pid = (pid << 8) | std::to_integer<DWORD>(e.blob[i]);
        BOOST_TEST(pid == ::GetCurrentProcessId()); // a pair made here: this process
        HANDLE v = nullptr;
        std::error_code hec;
        traits::handle_from_blob(e.blob, v, hec);
        BOOST_TEST(!hec, hec.message());
        BOOST_TEST(::GetFileType(v) == DWORD(FILE_TYPE_DISK));
        ::CloseHandle(v);
      }));
  }
  ::CloseHandle(r);
  io.run();
}

BOOST_AUTO_TEST_SUITE_END()
