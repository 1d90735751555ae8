// tests/windows_handles_test.cpp - handles that cross processes on Windows (DuplicateHandle into
// the peer, the value in the handle table's blob); run under wine in CI.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/process.hpp" // first: it configures Asio
#include "ipc/file.hpp"
#include "ipc/frame.hpp"
#include "ipc/shared_memory.hpp"
#include "ipc/serializers/binary.hpp"

#include <boost/test/unit_test.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <windows.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

using bin_channel = ipc::channel<ipc::binary>;
using bin_child = ipc::child<ipc::binary>;

std::string helper()
{
  const char* p = std::getenv("IPC_TEST_CHILD");
  BOOST_REQUIRE_MESSAGE(p != nullptr, "IPC_TEST_CHILD must name tests/windows_child_helper");
  std::string s = p;
  if (!s.empty() && s[0] == '/') s = "Z:" + s;
  return s;
}

DWORD handle_count()
{
  DWORD n = 0;
  ::GetProcessHandleCount(::GetCurrentProcess(), &n);
  return n;
}

struct handle_guard {
  DWORD before = handle_count();
  ~handle_guard() { BOOST_CHECK_EQUAL(handle_count(), before); }
};

std::wstring temp_path(const wchar_t* name)
{
  wchar_t dir[MAX_PATH];
  ::GetTempPathW(MAX_PATH, dir);
  return std::wstring(dir) + name + std::to_wstring(::GetCurrentProcessId());
}

/// A read-write temporary file, deleted when its last handle closes.
ipc::native_handle temp_file(const wchar_t* name)
{
  HANDLE h = ::CreateFileW(temp_path(name).c_str(), GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           CREATE_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, nullptr);
  BOOST_REQUIRE(h != INVALID_HANDLE_VALUE);
  return ipc::native_handle(h);
}

std::string read_from_start(HANDLE h)
{
  ::SetFilePointer(h, 0, nullptr, FILE_BEGIN);
  char buf[256];
  DWORD n = 0;
  BOOST_REQUIRE(::ReadFile(h, buf, sizeof buf, &n, nullptr));
  return std::string(buf, n);
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
  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"take_handle"});
  c.channel().send(std::string("written by the child"), ipc::keep_open(file));
  BOOST_TEST(c.channel().receive<std::string>().value == "done");
  BOOST_TEST(c.channel().acknowledgements().acknowledged == 1u);
  BOOST_TEST(c.wait().success());
  BOOST_TEST(read_from_start(file.get()) == "written by the child");
}

BOOST_AUTO_TEST_CASE(a_handle_outlives_the_child_that_sent_it)
{
  asio::io_context io;
  const std::wstring wpath = temp_path(L"ipcxx-from-child");
  const std::string path(wpath.begin(), wpath.end());
  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"send_file_and_exit", path});
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
    bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"sleep"});
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

BOOST_AUTO_TEST_CASE(sockets_are_refused_with_a_clear_error)
{
  asio::io_context io;
  asio::ip::tcp::socket s(io, asio::ip::tcp::v4());
  // Asio's socket is bound to the io_context's completion port; a raw one shows the refusal.
  SOCKET raw = ::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
  BOOST_REQUIRE(raw != INVALID_SOCKET);
  auto [a, b] = bin_channel::pair(io.get_executor());
  std::error_code ec;
  ipc::native_handle h(reinterpret_cast<HANDLE>(raw));
  a.send(std::string("x"), ipc::keep_open(h), ec); // would need a duplicate of a socket
  BOOST_TEST((ec == std::errc::operation_not_supported), ec.message());
  a.send(std::string("x"), std::move(h), ec); // would need DuplicateHandle into the peer
  BOOST_TEST((ec == std::errc::operation_not_supported), ec.message());
  BOOST_TEST(a.acknowledgements().unacknowledged == 0u);
}

BOOST_AUTO_TEST_CASE(a_blob_that_names_no_handle_breaks_the_channel)
{
  asio::io_context io;
  auto [w, r] = ipc::platform::traits::create_pair(*std::make_unique<std::error_code>());
  bin_channel ch(io.get_executor(), ipc::native_handle(r));
  ipc::byte_buffer frame;
  frame.resize(ipc::frame_header_size);
  const std::byte blob[9] = {std::byte{1}, std::byte{3}}; // 3: not a handle value
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
