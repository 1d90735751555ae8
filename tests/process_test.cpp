// tests/process_test.cpp - spawning real children with an inherited channel.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/process.hpp" // first: it configures Asio
#include "ipc/serializers/binary.hpp"

#include "support.hpp"

#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using ipc_test::read_all;

using bin_child = ipc::child<ipc::binary>;

/// The helper program built beside the tests (its path comes from meson through the
/// environment; a plain build can set it by hand).
std::string helper()
{
  const char* p = std::getenv("IPC_TEST_CHILD");
  BOOST_REQUIRE_MESSAGE(p != nullptr, "IPC_TEST_CHILD must name tests/child_helper");
  return p;
}

} // namespace

BOOST_AUTO_TEST_SUITE(process)

BOOST_AUTO_TEST_CASE(typed_messages_flow_both_ways_and_exit_code_is_seen)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"echo"});
  BOOST_TEST(c.pid() > 0);
  for (int i = 0; i < 50; ++i) {
    c.channel().send("ping " + std::to_string(i));
    BOOST_TEST(c.channel().receive<std::string>().value == "echo:ping " + std::to_string(i));
  }
  c.channel().send(std::string("quit"));
  ipc::exit_status s = c.wait();
  BOOST_TEST(s.success());
  BOOST_TEST(s.code == 0);
}

BOOST_AUTO_TEST_CASE(descriptors_flow_both_ways_through_a_spawned_child)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"pass-fd"});
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  ipc::native_handle r(p[0]);
  c.channel().send(std::string("hi"), ipc::native_handle(p[1]));
  char buf[64] = {};
  BOOST_TEST(::read(r.get(), buf, sizeof buf) == 13);
  BOOST_TEST(std::string(buf, 13) == "child says hi");
  auto m = c.channel().receive<std::string>();
  ipc::native_handle back = m.take_handle(0);
  BOOST_TEST(::read(back.get(), buf, sizeof buf) == 4);
  c.channel().send(std::string("done"));
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(piped_stdio_is_captured)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  ipc::spawn_options o;
  o.stdio = {ipc::stdio::pipe, ipc::stdio::pipe, ipc::stdio::pipe};
  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"stdio"}, o);
  BOOST_REQUIRE(c.stdin_pipe() && c.stdout_pipe() && c.stderr_pipe());
  asio::write(*c.stdin_pipe(), asio::buffer(std::string("hello\n")));
  c.stdin_pipe()->close();
  BOOST_TEST(read_all(*c.stdout_pipe()) == "out:hello\n");
  BOOST_TEST(read_all(*c.stderr_pipe()) == "err:hello\n");
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(ignored_stdio_is_dev_null_and_a_given_descriptor_is_placed)
{
  ipc_test::fd_guard guard;
  char path[] = "/tmp/ipcxx-stdout-XXXXXX";
  const int file = ::mkstemp(path);
  BOOST_REQUIRE(file >= 0);
  {
    asio::io_context io;
    ipc::spawn_options o;
    o.stdio = {ipc::stdio::ignore, ipc::stdio::from(file), ipc::stdio::ignore};
    bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"stdio"}, o);
    BOOST_TEST(c.wait().success()); // stdin is /dev/null: reads end of file at once
  }
  ::close(file);
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  BOOST_TEST(line == "out:");
  ::unlink(path);
}

BOOST_AUTO_TEST_CASE(environment_is_inherited_added_replaced_and_the_channel_variables_removed)
{
  asio::io_context io;
  ::setenv("IPCXX_TEST_INHERITED", "from parent", 1);
  ::setenv("IPCXX_TEST_REMOVED", "should go", 1);
  ipc::spawn_options o;
  o.env["IPCXX_TEST_ADDED"] = "added";
  o.env_remove = {"IPCXX_TEST_REMOVED"};
  bin_child c = ipc::spawn<ipc::binary>(io, helper(),
                                        {"env", "IPCXX_TEST_INHERITED", "IPCXX_TEST_ADDED",
                                         "IPCXX_TEST_REMOVED", "IPC_CHANNEL_FD",
                                         "IPC_CHANNEL_SERIALIZATION"},
                                        o);
  auto v = c.channel().receive<std::vector<std::string>>().value;
  BOOST_REQUIRE_EQUAL(v.size(), 5u);
  BOOST_TEST(v[0] == "from parent");
  BOOST_TEST(v[1] == "added");
  BOOST_TEST(v[2] == "<unset>");
  BOOST_TEST(v[3] == "<unset>"); // parent_channel removed them: grandchildren won't see them
  BOOST_TEST(v[4] == "<unset>");
  BOOST_TEST(c.wait().success());

  o.environment = ipc::env_mode::replace;
  o.env = {{"ONLY", "this"}};
  bin_child d = ipc::spawn<ipc::binary>(io, helper(), {"env", "ONLY", "IPCXX_TEST_INHERITED", "PATH"}, o);
  v = d.channel().receive<std::vector<std::string>>().value;
  BOOST_TEST(v[0] == "this");
  BOOST_TEST(v[1] == "<unset>");
  BOOST_TEST(v[2] == "<unset>");
  BOOST_TEST(d.wait().success());
  ::unsetenv("IPCXX_TEST_INHERITED");
  ::unsetenv("IPCXX_TEST_REMOVED");
}

BOOST_AUTO_TEST_CASE(cwd_is_applied)
{
  asio::io_context io;
  ipc::spawn_options o;
  o.cwd = "/tmp";
  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"cwd"}, o);
  BOOST_TEST(c.channel().receive<std::string>().value == "/tmp");
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(exit_codes_and_signals_are_visible_sync_and_async)
{
  asio::io_context io;
  bin_child a = ipc::spawn<ipc::binary>(io, helper(), {"exit", "7"});
  ipc::exit_status s = a.wait();
  BOOST_TEST(s.exited());
  BOOST_TEST(s.code == 7);

  bin_child b = ipc::spawn<ipc::binary>(io, helper(), {"abort"});
  s = b.wait();
  BOOST_TEST(s.signaled());
  BOOST_TEST(s.signal == SIGABRT);

  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"sleep"});
  std::optional<ipc::exit_status> got;
  c.async_wait([&](std::error_code ec, ipc::exit_status st) {
    BOOST_TEST(!ec);
    got = st;
  });
  io.poll();
  BOOST_TEST(!got);
  c.kill(SIGTERM);
  io.run();
  BOOST_REQUIRE(got);
  BOOST_TEST(got->signal == SIGTERM);
  std::error_code ec;
  c.kill(SIGTERM, ec);
  BOOST_TEST((ec == std::errc::no_such_process)); // reaped: its pid may belong to another now
}

BOOST_AUTO_TEST_CASE(spawn_failures_are_reported_by_spawn_itself)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  std::error_code ec;
  auto a = ipc::spawn<ipc::binary>(io, "/nonexistent/program", {}, {}, ec);
  BOOST_TEST((ec == std::errc::no_such_file_or_directory));
  BOOST_TEST(a.pid() == -1);

  auto b = ipc::spawn<ipc::binary>(io, "no-such-program-in-path-ipcxx", {}, {}, ec);
  BOOST_TEST((ec == std::errc::no_such_file_or_directory));

  char path[] = "/tmp/ipcxx-noexec-XXXXXX";
  const int f = ::mkstemp(path);
  BOOST_REQUIRE(f >= 0);
  ::close(f);
  ::chmod(path, 0600);
  auto c = ipc::spawn<ipc::binary>(io, path, {}, {}, ec);
  BOOST_TEST((ec == std::errc::permission_denied));
  ::unlink(path);

  ipc::spawn_options o;
  o.cwd = "/nonexistent/dir";
  auto d = ipc::spawn<ipc::binary>(io, helper(), {"exit", "0"}, o, ec);
  BOOST_TEST((ec == std::errc::no_such_file_or_directory));

  BOOST_CHECK_THROW(ipc::spawn<ipc::binary>(io, "/nonexistent/program"), std::system_error);
}

BOOST_AUTO_TEST_CASE(child_inherits_exactly_the_descriptors_named)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  // A descriptor opened by "other code" without close-on-exec must not leak into the child.
  const int leaky = ::open("/dev/null", O_RDONLY);
  BOOST_REQUIRE(leaky >= 0);
  const int extra = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ipc::spawn_options o;
  o.handles = {{7, extra}};
  o.channel_fd = 5;
  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"fds"}, o);
  auto fds = c.channel().receive<std::vector<int>>().value;
  std::sort(fds.begin(), fds.end());
  BOOST_TEST(fds == (std::vector<int>{0, 1, 2, 5, 7}), boost::test_tools::per_element());
  BOOST_TEST(c.wait().success());
  ::close(leaky);
  ::close(extra);
}

BOOST_AUTO_TEST_CASE(bad_descriptor_plans_are_refused)
{
  asio::io_context io;
  std::error_code ec;
  ipc::spawn_options o;
  o.handles = {{3, 0}}; // collides with the channel's default number
  (void)ipc::spawn<ipc::binary>(io, helper(), {"exit"}, o, ec);
  BOOST_TEST((ec == std::errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(parent_channel_without_a_parent_is_empty_not_an_error)
{
  ::unsetenv(ipc::channel_fd_env);
  asio::io_context io;
  BOOST_TEST(!ipc::parent_channel<ipc::binary>(io).has_value());
  std::error_code ec;
  (void)ipc::parent_channel<ipc::binary>(io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::no_parent_channel);
  // A number that is not a channel is refused without closing what it names.
  ::setenv(ipc::channel_fd_env, "0", 1);
  (void)ipc::parent_channel<ipc::binary>(io.get_executor(), ec);
  BOOST_TEST(ec);
  BOOST_TEST(::fcntl(0, F_GETFD) != -1);
  ::setenv(ipc::channel_fd_env, "3x", 1);
  (void)ipc::parent_channel<ipc::binary>(io.get_executor(), ec);
  BOOST_TEST(ec == ipc::errc::invalid_handle);
  BOOST_TEST(std::getenv(ipc::channel_fd_env) == nullptr);

  bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"wrong-serializer"});
  BOOST_TEST(c.wait().success());
}

BOOST_AUTO_TEST_CASE(destroying_a_child_neither_blocks_nor_leaves_a_zombie)
{
  asio::io_context io;
  pid_t pid;
  {
    bin_child c = ipc::spawn<ipc::binary>(io, helper(), {"sleep", "200"});
    pid = c.pid();
  }
  const auto t0 = std::chrono::steady_clock::now();
  io.run(); // the background wait reaps it when it exits
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)));
  BOOST_TEST(::waitpid(pid, nullptr, WNOHANG) == -1);
  BOOST_TEST(errno == ECHILD);
}

BOOST_AUTO_TEST_CASE(a_hundred_children_from_four_threads_all_complete)
{
  ipc_test::fd_guard guard;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  const std::string exe = helper(); // Boost.Test's macros are not for other threads
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      asio::io_context io;
      std::vector<bin_child> kids;
      for (int i = 0; i < 25; ++i) kids.push_back(ipc::spawn<ipc::binary>(io, exe, {"echo"}));
      for (int i = 0; i < 25; ++i) {
        const std::string text = std::to_string(t) + "/" + std::to_string(i);
        kids[i].channel().send(text);
        if (kids[i].channel().receive<std::string>().value == "echo:" + text) {
          kids[i].channel().send(std::string("quit"));
          if (kids[i].wait().success()) ++ok;
        }
      }
    });
  for (auto& th : threads) th.join();
  BOOST_TEST(ok == 100);
}

BOOST_AUTO_TEST_SUITE_END()
