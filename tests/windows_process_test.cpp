// tests/windows_process_test.cpp - spawning real Windows children (run under wine in CI).
// SPDX-License-Identifier: BSL-1.0
#include "ipc/process.hpp" // first: it configures Asio
#include "ipc/serializers/binary.hpp"

#include "windows_support.hpp"

#include <boost/test/unit_test.hpp>

#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <windows.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

using ipc_test::read_from_start;
using ipc_test::temp_file;
using ipc_test::temp_path;

using bin_child = ipc::child<ipc::binary>;
using handle_guard = ipc_test::handle_guard<>;

bool ascii(const std::string& s)
{
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(windows_process)

BOOST_AUTO_TEST_CASE(arguments_survive_command_line_quoting)
{
  asio::io_context io;
  const std::vector<std::string> args = {
    "plain", "with space", "", "quote\"inside", "\"", "trailing\\", "trailing space\\",
    "two\\\\", "\\\\server\\share\\", "a\\\\\"b", "a\\b\\c", "tab\there", "new\nline",
    " leading", "\"quoted\"", "\\\"", "\xc3\xbcnic\xc3\xb6" "de \xe2\x82\xac", "*?<>|&^%"};
  std::vector<std::string> with_mode{"argv"};
  with_mode.insert(with_mode.end(), args.begin(), args.end());
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), with_mode);
  const auto wide = c.channel().receive<std::vector<std::string>>().value;
  const auto crt = c.channel().receive<std::vector<std::string>>().value;
  BOOST_TEST(wide == args, boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(crt.size(), args.size());
  for (std::size_t i = 0; i < args.size(); ++i)
    if (ascii(args[i])) BOOST_TEST(crt[i] == args[i]); // the C runtime's argv is in the ANSI code page
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(messages_flow_both_ways_and_exit_code_is_seen)
{
  handle_guard guard;
  asio::io_context io;
  {
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"echo"});
    BOOST_TEST(c.pid() > 0);
    for (int i = 0; i < 20; ++i) {
      c.channel().send("ping " + std::to_string(i));
      BOOST_TEST(c.channel().receive<std::string>().value == "echo:ping " + std::to_string(i));
    }
    c.channel().send(std::string("quit"));
    const ipc::exit_status s = c.wait();
    BOOST_TEST(s.exited());
    BOOST_TEST(s.code == 0);
  }
  io.run();
}

BOOST_AUTO_TEST_CASE(exit_codes_are_reported)
{
  asio::io_context io;
  for (int code : {0, 1, 42, 255, 1000}) {
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"exit", std::to_string(code)});
    const ipc::exit_status s = c.wait();
    BOOST_TEST(s.code == code);
    BOOST_TEST(!s.signaled());
  }
}

BOOST_AUTO_TEST_CASE(async_wait_completes_with_the_status)
{
  asio::io_context io;
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"exit", "7"});
  std::optional<ipc::exit_status> got;
  c.async_wait([&](std::error_code ec, ipc::exit_status s) {
    BOOST_TEST(!ec);
    got = s;
  });
  io.run();
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(got->code == 7);
  BOOST_TEST(c.status().has_value());
}

BOOST_AUTO_TEST_CASE(kill_terminates_and_reports_the_signal)
{
  asio::io_context io;
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"sleep"});
  BOOST_TEST(c.channel().receive<std::string>().value == "ready");
  std::error_code ec;
  BOOST_TEST(!c.try_wait(ec).has_value());
  c.kill();
  const ipc::exit_status s = c.wait();
  BOOST_TEST(s.signaled());
  BOOST_TEST(s.signal == 15);
  c.kill(15, ec);
  BOOST_TEST((ec == std::errc::no_such_process)); // reaped: the pid may be someone else's now
}

BOOST_AUTO_TEST_CASE(child_inherits_only_what_spawn_names)
{
  asio::io_context io;
  // An inheritable handle of the parent's that spawn was not told about.
  // Some non-inheritable handles first, so that its value is beyond the few a new process
  // starts with (an unrelated handle of the child's at the same value would hide a leak).
  std::vector<HANDLE> padding;
  for (int i = 0; i < 64; ++i) padding.push_back(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  HANDLE stray = ::CreateEventW(&sa, TRUE, FALSE, nullptr);
  BOOST_REQUIRE(stray != nullptr);
  const auto value = std::to_string(reinterpret_cast<std::uintptr_t>(stray));
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"handle_valid", value});
  const auto open = c.channel().receive<std::vector<int>>().value;
  BOOST_REQUIRE_EQUAL(open.size(), 1u);
  BOOST_TEST(open[0] == 0);
  BOOST_TEST(c.wait().success());
  ::CloseHandle(stray);
  for (HANDLE h : padding) ::CloseHandle(h);
}

BOOST_AUTO_TEST_CASE(environment_is_applied_and_channel_variables_are_consumed)
{
  asio::io_context io;
  ipc::spawn_options o;
  o.env["IPC_TEST_VALUE"] = "v\xc3\xa9 1";
  o.env_remove.push_back("IPC_TEST_REMOVED");
  ::_putenv_s("IPC_TEST_REMOVED", "x");
  ::_putenv_s("IPC_TEST_INHERITED", "kept");
  bin_child c = ipc::spawn<ipc::binary>(
    io, ipc_test::child_helper(),
    {"env", "IPC_TEST_VALUE", "IPC_TEST_REMOVED", "IPC_TEST_INHERITED", "IPC_CHANNEL_FD"}, o);
  const auto values = c.channel().receive<std::vector<std::string>>().value;
  BOOST_REQUIRE_EQUAL(values.size(), 4u);
  BOOST_TEST(values[1] == "<unset>");
  BOOST_TEST(values[2] == "kept");
  BOOST_TEST(values[3] == "<unset>"); // parent_channel removed it
  BOOST_TEST(c.wait().success());
  ::_putenv_s("IPC_TEST_REMOVED", "");
  ::_putenv_s("IPC_TEST_INHERITED", "");
}

BOOST_AUTO_TEST_CASE(stdio_pipes_connect_to_the_child)
{
  handle_guard guard;
  asio::io_context io;
  {
    ipc::spawn_options o;
    o.stdio = {ipc::stdio::pipe, ipc::stdio::pipe, ipc::stdio::pipe};
    bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"cat"}, o);
    const std::string text(100000, 'x');
    asio::write(*c.stdin_pipe(), asio::buffer(text));
    c.stdin_pipe()->close();
    std::string out, err;
    std::error_code ec;
    asio::read(*c.stdout_pipe(), asio::dynamic_buffer(out), ec);
    BOOST_TEST((!ec || ec == asio::error::eof || ec == asio::error::broken_pipe), ec.message());
    asio::read(*c.stderr_pipe(), asio::dynamic_buffer(err), ec);
    BOOST_TEST(out.size() == text.size());
    BOOST_TEST((out == text));
    BOOST_TEST(err == "done");
    BOOST_TEST(c.wait().success());
  }
  io.run();
}

BOOST_AUTO_TEST_CASE(ignored_stdio_reads_end_of_file)
{
  asio::io_context io;
  ipc::spawn_options o;
  o.stdio = {ipc::stdio::ignore, ipc::stdio::pipe, ipc::stdio::ignore};
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"cat"}, o);
  std::string out;
  std::error_code ec;
  asio::read(*c.stdout_pipe(), asio::dynamic_buffer(out), ec);
  BOOST_TEST(out.empty());
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(working_directory_is_set)
{
  asio::io_context io;
  wchar_t tmp[MAX_PATH];
  ::GetTempPathW(MAX_PATH, tmp);
  ipc::spawn_options o;
  o.cwd = std::filesystem::path(tmp);
  bin_child c = ipc::spawn<ipc::binary>(io, ipc_test::child_helper(), {"cwd"}, o);
  const std::string got = c.channel().receive<std::string>().value;
  std::string want = o.cwd.string();
  while (!want.empty() && want.back() == '\\') want.pop_back();
  BOOST_TEST(got == want);
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(a_missing_program_is_an_error_from_spawn)
{
  handle_guard guard;
  asio::io_context io;
  std::error_code ec;
  auto c = ipc::spawn<ipc::binary>(io.get_executor(), "Z:/no/such/program.exe", {}, {}, ec);
  BOOST_TEST((ec.value() == ERROR_PATH_NOT_FOUND || ec.value() == ERROR_FILE_NOT_FOUND), ec.message());
  BOOST_TEST(c.pid() == -1);
}

BOOST_AUTO_TEST_CASE(numbered_extra_handles_are_refused)
{
  asio::io_context io;
  ipc::spawn_options o;
  HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  o.handles.push_back({5, event});
  std::error_code ec;
  auto c = ipc::spawn<ipc::binary>(io.get_executor(), ipc_test::child_helper(), {"exit"}, o, ec);
  BOOST_TEST((ec == std::errc::operation_not_supported), ec.message());
  ::CloseHandle(event);
}

BOOST_AUTO_TEST_SUITE_END()
