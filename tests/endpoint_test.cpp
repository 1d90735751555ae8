// tests/endpoint_test.cpp - named endpoints: listen, accept and connect by name, real processes.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/endpoint.hpp" // first: it configures Asio
#include "ipc/serializers/binary.hpp"

#include "support.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ep_test {

/// What the load tests' clients send.
struct request {
  int client = 0;
  int seq = 0;
  std::string text;
};
IPC_DESCRIBE(request, client, seq, text)

/// What the echo server answers: a value the client can check.
struct reply {
  int client = 0;
  int seq = 0;
  long value = 0;
};
IPC_DESCRIBE(reply, client, seq, value)

inline long expected_value(int client, int seq, std::size_t text_size)
{
  return long(client) * 1'000'003L + long(seq) * 7 + long(text_size);
}

} // namespace ep_test

BOOST_TEST_DONT_PRINT_LOG_VALUE(std::errc)
BOOST_TEST_DONT_PRINT_LOG_VALUE(ipc::endpoint_kind)

namespace {

using namespace std::chrono_literals;
using bin_channel = ipc::channel<ipc::binary>;
using bin_acceptor = ipc::acceptor<ipc::binary>;
using ep_test::reply;
using ep_test::request;
using clock_type = std::chrono::steady_clock;

/// A private directory under /tmp, removed with everything in it at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir()
  {
    char t[] = "/tmp/ipcxx-ep-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(t) != nullptr);
    path = t;
  }
  ~temp_dir()
  {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(std::string_view name) const { return path + "/" + std::string(name); }
  /// Names of the entries in the directory, sorted.
  std::vector<std::string> entries() const
  {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::directory_iterator(path))
      v.push_back(e.path().filename());
    std::sort(v.begin(), v.end());
    return v;
  }
};

/// The permission bits of @p path (-1 if it does not exist).
int mode_of(const std::string& path)
{
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? int(st.st_mode & 07777) : -1;
}

bool is_socket(const std::string& path)
{
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

ino_t inode_of(const std::string& path)
{
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool cloexec(int fd)
{
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

constexpr std::filesystem::perms rw_owner =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;
constexpr std::filesystem::perms rw_group =
    std::filesystem::perms::group_read | std::filesystem::perms::group_write;
constexpr std::filesystem::perms rw_others =
    std::filesystem::perms::others_read | std::filesystem::perms::others_write;

/// An abstract name no other test (or test run) uses.
std::string unique_abstract(std::string_view tag)
{
  static int counter = 0;
  return "@ipcxx-test-" + std::to_string(::getpid()) + "-" + std::string(tag) + "-" +
         std::to_string(++counter);
}

/// A close-on-exec pipe whose ends close themselves.
struct pipe_pair {
  ipc::native_handle read, write;
  pipe_pair()
  {
    int p[2];
    BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    read.reset(p[0]);
    write.reset(p[1]);
  }
};

bool write_byte(int fd, char c = 'x')
{
  return ::write(fd, &c, 1) == 1;
}
bool read_byte(int fd)
{
  char c;
  return ::read(fd, &c, 1) == 1;
}

/// In a forked child: become the unprivileged user `nobody` (65534). Only for root.
bool become_nobody()
{
  return ::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0;
}

/// One client of the load tests: @p count requests in windows of @p window (all of a window sent,
/// then all its replies read), every reply checked. If @p pause_fd >= 0, waits for a byte on it
/// after the first half.
bool run_client(const std::string& where, int id, int count, int window, int pause_fd = -1)
{
  asio::io_context io;
  bin_channel ch = ipc::connect<ipc::binary>(io, where);
  for (int base = 0; base < count; base += window) {
    if (pause_fd >= 0 && base == count / 2 && !read_byte(pause_fd)) return false;
    const int n = std::min(window, count - base);
    for (int i = 0; i < n; ++i)
      ch.send(request{id, base + i, std::string(std::size_t((base + i) % 40), 'r')});
    for (int i = 0; i < n; ++i) {
      const reply r = ch.receive<reply>().value;
      const int seq = base + i;
      if (r.client != id || r.seq != seq ||
          r.value != ep_test::expected_value(id, seq, std::size_t(seq % 40))) {
        std::fprintf(stderr, "client %d: bad reply %d/%d/%ld for %d\n", id, r.client, r.seq,
                     r.value, seq);
        return false;
      }
    }
  }
  ch.close();
  return true;
}

/// The server of the load tests: accepts forever; each session answers every request until
/// its client goes. Records how each session ended.
struct echo_server {
  bin_acceptor acceptor;
  int accepted = 0;
  int ended_cleanly = 0;
  long messages = 0;
  std::map<std::string, int> failures; // error message -> sessions that ended with it
  std::function<void()> on_session_end;

  echo_server(asio::io_context& io, const std::string& where, ipc::acceptor_options o = {})
      : acceptor(io, where, std::move(o))
  {
    accept_next();
  }

  void accept_next()
  {
    acceptor.async_accept([this](std::error_code ec, bin_channel ch) {
      if (ec) return; // closed
      ++accepted;
      serve(std::make_shared<bin_channel>(std::move(ch)));
      accept_next();
    });
  }

  void serve(std::shared_ptr<bin_channel> ch)
  {
    ch->async_receive<request>([this, ch](std::error_code ec, ipc::message<request> m) {
      if (ec) {
        if (ec == asio::error::eof)
          ++ended_cleanly;
        else
          ++failures[ec.message()];
        if (on_session_end) on_session_end();
        return;
      }
      ++messages;
      const request& q = m.value;
      ch->async_send(
          reply{q.client, q.seq, ep_test::expected_value(q.client, q.seq, q.text.size())},
          [](std::error_code) {});
      serve(ch);
    });
  }
  int ended() const
  {
    int n = ended_cleanly;
    for (const auto& f : failures)
      n += f.second;
    return n;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(endpoint)

// ---- names --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(endpoints_parse_and_print_paths_abstract_names_and_pipe_names)
{
  const ipc::endpoint p("/run/app.sock");
  BOOST_TEST(p.kind() == ipc::endpoint_kind::path);
  BOOST_TEST(p.name() == "/run/app.sock");
  BOOST_TEST(p.path() == std::filesystem::path("/run/app.sock"));
  BOOST_TEST(p.to_string() == "/run/app.sock");

  const ipc::endpoint rel(std::string("app.sock"));
  BOOST_TEST(rel.kind() == ipc::endpoint_kind::path);
  BOOST_TEST(ipc::endpoint("./@not-abstract").kind() == ipc::endpoint_kind::path);
  BOOST_TEST(ipc::endpoint(std::filesystem::path("/tmp") / "x.sock").str() == "/tmp/x.sock");

  const ipc::endpoint a("@my app\x01");
  BOOST_TEST(a.kind() == ipc::endpoint_kind::abstract);
  BOOST_TEST(a.name() == "my app\x01");
  BOOST_TEST(a.to_string() == "@my app\x01");
  BOOST_TEST(a.path().empty());

  const ipc::endpoint w("\\\\.\\PIPE\\my-app");
  BOOST_TEST(w.kind() == ipc::endpoint_kind::pipe);
  BOOST_TEST(w.name() == "my-app");
  BOOST_TEST(w.to_string() == "\\\\.\\pipe\\my-app"); // the prefix is printed canonically
  BOOST_TEST((ipc::endpoint(w.to_string()) == w));

  for (const ipc::endpoint& e : {p, rel, a, w}) {
    BOOST_TEST(e.valid());
    BOOST_TEST(!e.error());
    BOOST_TEST((ipc::endpoint::parse(e.to_string()) == e));
    std::ostringstream os;
    os << e;
    BOOST_TEST(os.str() == e.to_string());
  }
  BOOST_TEST(!(p == rel));
  BOOST_TEST(!(ipc::endpoint("@x") == ipc::endpoint("x")));
}

BOOST_AUTO_TEST_CASE(invalid_names_are_a_clear_error)
{
  ipc_test::fd_guard guard;
  const std::size_t max_path = ipc::platform::endpoint_traits::max_path_size;
  struct bad {
    std::string text;
    std::errc why;
  };
  const std::vector<bad> cases = {
      {"", std::errc::invalid_argument},
      {std::string("/tmp/a\0b", 8), std::errc::invalid_argument},
      {std::string("@a\0b", 4), std::errc::invalid_argument},
      {"@", std::errc::invalid_argument},
      {"\\\\.\\pipe\\", std::errc::invalid_argument},
      {"\\\\.\\pipe\\a\\b", std::errc::invalid_argument},
      {"/tmp/dir/", std::errc::is_a_directory},
      {"/tmp/..", std::errc::is_a_directory},
      {"/tmp/" + std::string(max_path - 4, 'x'), std::errc::filename_too_long},
      {"@" + std::string(max_path + 1, 'x'), std::errc::filename_too_long},
      {"\\\\.\\pipe\\" + std::string(250, 'x'), std::errc::filename_too_long},
  };
  asio::io_context io;
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("name \"" << c.text << "\"")
    {
      const ipc::endpoint e(c.text);
      BOOST_TEST(!e.valid());
      BOOST_TEST(e.kind() == ipc::endpoint_kind::none);
      BOOST_TEST(e.error() == c.why);
      std::error_code ec;
      (void)ipc::endpoint::parse(c.text, ec);
      BOOST_TEST(ec == c.why);
      try {
        (void)ipc::endpoint::parse(c.text);
        BOOST_ERROR("parse did not throw");
      } catch (const std::system_error& x) {
        BOOST_TEST(x.code() == c.why);
        BOOST_TEST(std::string(x.what()).find("ipc::endpoint") != std::string::npos);
      }
      // Listening and connecting report the same error, through both forms.
      bin_acceptor a(io, c.text, ec);
      BOOST_TEST(ec == c.why);
      BOOST_TEST(!a.is_open());
      BOOST_CHECK_THROW((void)bin_acceptor(io, c.text), std::system_error);
      (void)ipc::connect<ipc::binary>(io, c.text, ec);
      BOOST_TEST(ec == c.why);
      BOOST_CHECK_THROW(ipc::connect<ipc::binary>(io, c.text), std::system_error);
    }
  }
  BOOST_TEST(ipc::endpoint().error() == std::errc::invalid_argument);
  // The longest names that fit are fine.
  BOOST_TEST(ipc::endpoint("/" + std::string(max_path - 1, 'x')).valid());
  BOOST_TEST(ipc::endpoint("@" + std::string(max_path, 'x')).valid());
  BOOST_TEST(ipc::endpoint("\\\\.\\pipe\\" + std::string(247, 'x')).valid());
}

BOOST_AUTO_TEST_CASE(pipe_names_are_refused_by_the_posix_backend)
{
  ipc_test::fd_guard guard;
  asio::io_context io;
  std::error_code ec;
  bin_acceptor a(io, "\\\\.\\pipe\\ipcxx-test", ec);
  BOOST_TEST(ec == std::errc::address_family_not_supported);
  (void)ipc::connect<ipc::binary>(io, "\\\\.\\pipe\\ipcxx-test", ec);
  BOOST_TEST(ec == std::errc::address_family_not_supported);
  try {
    bin_acceptor b(io, "\\\\.\\pipe\\ipcxx-test");
    BOOST_ERROR("listen did not throw");
  } catch (const std::system_error& x) {
    BOOST_TEST(std::string(x.what()).find("pipe\\ipcxx-test") != std::string::npos);
  }
}

// ---- connecting and accepting -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sync_connect_and_accept_exchange_typed_messages_between_processes)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "sync.sock";
  asio::io_context io;
  bin_acceptor server(io, where);
  BOOST_TEST(server.is_open());
  BOOST_TEST((server.local_endpoint() == ipc::endpoint(where)));

  ipc_test::child_process client([&] {
    asio::io_context cio;
    bin_channel ch = ipc::connect<ipc::binary>(cio, where);
    if (ch.peer().pid != long(::getppid())) return false;
    ch.send(request{7, 1, "hello"});
    const reply r = ch.receive<reply>().value;
    return r.client == 7 && r.seq == 1 && r.value == 42;
  });
  bin_channel ch = server.accept();
  BOOST_TEST(ch.is_open());
  BOOST_TEST(ch.peer().pid == long(client.pid()));
  const request q = ch.receive<request>().value;
  BOOST_TEST(q.client == 7);
  BOOST_TEST(q.text == "hello");
  ch.send(reply{7, 1, 42});
  BOOST_TEST(client.wait() == 0);
  std::error_code ec;
  (void)ch.receive<request>(ec);
  BOOST_TEST(ec == asio::error::eof);
}

BOOST_AUTO_TEST_CASE(async_connect_and_accept_exchange_typed_messages)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "async.sock";
  asio::io_context io;
  bin_acceptor server(io.get_executor(), where);
  std::optional<bin_channel> served, client;
  std::string got_by_server, got_by_client;
  server.async_accept([&](std::error_code ec, bin_channel ch) {
    BOOST_REQUIRE(!ec);
    served.emplace(std::move(ch));
    served->async_receive<request>([&](std::error_code rec, ipc::message<request> m) {
      BOOST_REQUIRE(!rec);
      got_by_server = m.value.text;
      served->async_send(reply{m.value.client, m.value.seq, 99},
                         [](std::error_code sec) { BOOST_TEST(!sec); });
    });
  });
  bool connected_inline = true;
  ipc::async_connect<ipc::binary>(
      io.get_executor(), where, [&](std::error_code ec, bin_channel ch) {
        connected_inline = false;
        BOOST_REQUIRE(!ec);
        client.emplace(std::move(ch));
        client->async_send(request{1, 2, "async hello"}, [](std::error_code) {});
        client->async_receive<reply>([&](std::error_code rec, ipc::message<reply> m) {
          BOOST_REQUIRE(!rec);
          got_by_client = std::to_string(m.value.value);
        });
      });
  BOOST_TEST(connected_inline); // the handler never runs inside the initiating call
  io.run();
  BOOST_TEST(got_by_server == "async hello");
  BOOST_TEST(got_by_client == "99");
  BOOST_TEST(served->peer().pid == long(::getpid()));
}

BOOST_AUTO_TEST_CASE(listening_accepted_and_connected_sockets_are_close_on_exec)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "cloexec.sock";
  asio::io_context io;
  bin_acceptor server(io, where);
  BOOST_TEST(cloexec(server.native_handle()));
  bin_channel c1 = ipc::connect<ipc::binary>(io, where);
  BOOST_TEST(cloexec(c1.native_handle()));
  bin_channel s1 = server.accept();
  BOOST_TEST(cloexec(s1.native_handle()));
  std::optional<bin_channel> c2, s2;
  ipc::async_connect<ipc::binary>(io.get_executor(), where,
                                  [&](std::error_code ec, bin_channel ch) {
                                    BOOST_TEST(!ec);
                                    c2.emplace(std::move(ch));
                                  });
  server.async_accept([&](std::error_code ec, bin_channel ch) {
    BOOST_TEST(!ec);
    s2.emplace(std::move(ch));
  });
  io.run();
  BOOST_TEST(cloexec(c2->native_handle()));
  BOOST_TEST(cloexec(s2->native_handle()));
  // And the sockets are in blocking mode, as channels expect (their sync receive blocks).
  BOOST_TEST((::fcntl(c2->native_handle(), F_GETFL) & O_NONBLOCK) == 0);
  BOOST_TEST((::fcntl(s2->native_handle(), F_GETFL) & O_NONBLOCK) == 0);
}

BOOST_AUTO_TEST_CASE(two_hundred_clients_with_a_thousand_messages_each_all_get_their_replies)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "load.sock";
  constexpr int clients = 200;
  constexpr int per_client = 1000;
  const auto started = clock_type::now();
  asio::io_context io;
  echo_server server(io, where);
  // All clients are forked before the server runs: at fork time the parent holds no accepted
  // connection a child could inherit. They queue in connect until the server accepts them.
  std::vector<std::unique_ptr<ipc_test::child_process>> children;
  for (int i = 0; i < clients; ++i)
    children.push_back(std::make_unique<ipc_test::child_process>(
        [&, i] { return run_client(where, i, per_client, 25); }));
  server.on_session_end = [&] {
    if (server.ended() == clients) server.acceptor.close();
  };
  io.run_for(45s);
  int ok = 0;
  if (server.ended() == clients)
    for (auto& c : children)
      ok += c->wait() == 0;
  const double secs = std::chrono::duration<double>(clock_type::now() - started).count();
  BOOST_TEST_MESSAGE("endpoint load: " << clients << " clients x " << per_client << " messages in "
                                       << secs << " s");
  BOOST_TEST(server.accepted == clients);
  BOOST_TEST(server.ended_cleanly == clients);
  BOOST_TEST(server.failures.empty());
  BOOST_TEST(server.messages == long(clients) * per_client);
  BOOST_TEST(ok == clients);
  BOOST_TEST(!is_socket(where)); // removed when the acceptor closed
}

BOOST_AUTO_TEST_CASE(clients_killed_in_the_middle_of_a_frame_do_not_disturb_the_others)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "kill.sock";
  constexpr int steady = 8, killers = 3, per_client = 400;
  asio::io_context io;
  echo_server server(io, where);
  pipe_pair go, dying;
  std::vector<std::unique_ptr<ipc_test::child_process>> normal, doomed;
  for (int i = 0; i < steady; ++i)
    normal.push_back(std::make_unique<ipc_test::child_process>(
        [&, i] { return run_client(where, i, per_client, 1, go.read.get()); }));
  for (int k = 0; k < killers; ++k)
    doomed.push_back(std::make_unique<ipc_test::child_process>([&, k] {
      asio::io_context cio;
      bin_channel ch = ipc::connect<ipc::binary>(cio, where);
      for (int i = 0; i < 5; ++i) {
        ch.send(request{100 + k, i, "before"});
        if (ch.receive<reply>().value.seq != i) return false;
      }
      // Half a frame that carries a descriptor: header + handle table + 100 of 100000 payload
      // bytes, sent raw on the socket with a pipe end attached; then die while the server waits
      // for the rest.
      std::vector<std::byte> frame(ipc::frame_header_size + ipc::handle_entry_size("native") + 100,
                                   std::byte{'p'});
      std::error_code ec;
      ipc::write_handle_entry(frame.data() + ipc::frame_header_size, "native", {}, ec);
      ipc::encode_frame_header({100000, 6, 1, ipc::frame_kind::message, 0,
                                std::uint32_t(ipc::handle_entry_size("native"))},
                               frame.data());
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return false;
      const asio::const_buffer b(frame.data(), frame.size());
      const int fds[1] = {p[0]};
      if (ipc::platform::traits::send_some(ch.native_handle(), {&b, 1}, fds, false, ec) !=
          frame.size())
        return false;
      const char id = char('0' + k);
      if (::write(dying.write.get(), &id, 1) != 1) return false;
      for (;;)
        ::pause(); // SIGKILL arrives here
    }));
  // Kill each doomed client as soon as it reports its half frame written.
  const auto deadline = clock_type::now() + 40s;
  ::fcntl(dying.read.get(), F_SETFL, O_NONBLOCK);
  int killed = 0;
  while (killed < killers && clock_type::now() < deadline) {
    io.run_for(5ms);
    char id;
    while (::read(dying.read.get(), &id, 1) == 1) {
      auto& victim = *doomed.at(std::size_t(id - '0'));
      victim.kill(SIGKILL);
      BOOST_TEST(victim.wait() == 128 + SIGKILL);
      ++killed;
    }
  }
  BOOST_REQUIRE(killed == killers);
  // The server notices each death as a truncated frame; the steady clients, half-way through
  // their conversations, then finish.
  while (server.failures[ipc::make_error_code(ipc::errc::truncated_frame).message()] < killers &&
         clock_type::now() < deadline)
    io.run_for(5ms);
  for (int i = 0; i < steady; ++i)
    BOOST_REQUIRE(write_byte(go.write.get()));
  server.on_session_end = [&] {
    if (server.ended() == steady + killers) server.acceptor.close();
  };
  if (server.ended() < steady + killers)
    io.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()));
  int ok = 0;
  for (auto& c : normal)
    ok += c->wait() == 0;
  BOOST_TEST(ok == steady);
  BOOST_TEST(server.accepted == steady + killers);
  BOOST_TEST(server.ended_cleanly == steady);
  BOOST_TEST(server.failures.size() == 1u);
  BOOST_TEST(server.failures[ipc::make_error_code(ipc::errc::truncated_frame).message()] ==
             killers);
  BOOST_TEST(server.messages == long(steady) * per_client + 5L * killers);
}

BOOST_AUTO_TEST_CASE(descriptors_pass_over_a_named_connection)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "fds.sock";
  asio::io_context io;
  bin_acceptor server(io, where);
  ipc_test::child_process client([&] {
    asio::io_context cio;
    bin_channel ch = ipc::connect<ipc::binary>(cio, where);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return false;
    if (::write(p[1], "through the pipe", 16) != 16) return false;
    ::close(p[1]);
    ch.send(std::string("a pipe for you"), ipc::native_handle(p[0]));
    auto back = ch.receive<std::string>();
    if (back.value != "and one back" || back.handle_count() != 1) return false;
    ipc::native_handle w = back.take_handle(0);
    return ::write(w.get(), "child", 5) == 5;
  });
  bin_channel ch = server.accept();
  auto m = ch.receive<std::string>();
  BOOST_TEST(m.value == "a pipe for you");
  BOOST_REQUIRE(m.handle_count() == 1u);
  ipc::native_handle r = m.take_handle(0);
  BOOST_TEST(cloexec(r.get()));
  char buf[32] = {};
  BOOST_TEST(::read(r.get(), buf, sizeof buf) == 16);
  BOOST_TEST(std::string(buf, 16) == "through the pipe");
  pipe_pair back;
  ch.send(std::string("and one back"), std::move(back.write));
  BOOST_TEST(::read(back.read.get(), buf, 5) == 5);
  BOOST_TEST(std::string(buf, 5) == "child");
  BOOST_TEST(client.wait() == 0);
}

BOOST_AUTO_TEST_CASE(abstract_names_work_without_a_file)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string name = unique_abstract("abstract");
  asio::io_context io;
  struct cwd_guard {
    std::filesystem::path saved = std::filesystem::current_path();
    ~cwd_guard() { std::filesystem::current_path(saved); }
  } restore;
  std::filesystem::current_path(dir.path); // a file made by mistake would land here
  {
    bin_acceptor server(io, name, {.permissions = std::filesystem::perms::all}); // ignored
    BOOST_TEST(dir.entries().empty()); // no file anywhere here
    ipc_test::child_process client([&] {
      asio::io_context cio;
      bin_channel ch = ipc::connect<ipc::binary>(cio, name);
      ch.send(std::string("over the abstract namespace"));
      return ch.receive<std::string>().value == "ok";
    });
    bin_channel ch = server.accept();
    BOOST_TEST(ch.peer().pid == long(client.pid()));
    BOOST_TEST(ch.receive<std::string>().value == "over the abstract namespace");
    ch.send(std::string("ok"));
    BOOST_TEST(client.wait() == 0);
    // The name is taken while the server listens.
    std::error_code ec;
    bin_acceptor second(io, name, ec);
    BOOST_TEST(ec == std::errc::address_in_use);
  }
  // And free again once it closed: nobody listens, then a new server can have it.
  std::error_code ec;
  (void)ipc::connect<ipc::binary>(io, name, ec);
  BOOST_TEST(ec == std::errc::connection_refused);
  bin_acceptor again(io, name, ec);
  BOOST_TEST(!ec);
}

// ---- permissions and stale files ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(socket_files_are_owner_only_by_default_and_take_the_configured_mode)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  asio::io_context io;
  using std::filesystem::perms;
  const mode_t old_umask = ::umask(0);
  // umask 0 would make a plain bind() create 0777: the default is still 0600.
  bin_acceptor owner_only(io, dir / "default.sock");
  BOOST_TEST(mode_of(dir / "default.sock") == 0600);
  // umask 077 would strip the group bits: a configured 0660 is still 0660.
  ::umask(077);
  bin_acceptor group(io, dir / "group.sock", {.permissions = rw_owner | rw_group});
  BOOST_TEST(mode_of(dir / "group.sock") == 0660);
  bin_acceptor everyone(io, dir / "everyone.sock",
                        {.permissions = rw_owner | rw_group | rw_others});
  BOOST_TEST(mode_of(dir / "everyone.sock") == 0666);
  ::umask(old_umask);
  // Nothing but the sockets is left in the directory (the staging directories are gone).
  BOOST_TEST(
      (dir.entries() == std::vector<std::string>{"default.sock", "everyone.sock", "group.sock"}));
  // Bits beyond rwxrwxrwx are refused.
  std::error_code ec;
  bin_acceptor bad(io, dir / "bad.sock", ec, {.permissions = perms::set_uid | perms::owner_read});
  BOOST_TEST(ec == std::errc::invalid_argument);
  BOOST_TEST(!std::filesystem::exists(dir / "bad.sock"));

  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("not root: the check that another user is kept out by 0600 is skipped");
    return;
  }
  // The modes do what they say: another user cannot connect to 0600 but can to 0666.
  BOOST_REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
  ipc_test::child_process stranger([&] {
    if (!become_nobody()) return false;
    asio::io_context cio;
    std::error_code e1, e2;
    (void)ipc::connect<ipc::binary>(cio, dir / "default.sock", e1);
    bin_channel ok = ipc::connect<ipc::binary>(cio, dir / "everyone.sock", e2);
    return e1 == std::errc::permission_denied && !e2;
  });
  BOOST_TEST(stranger.wait() == 0);
  bin_channel from_stranger = everyone.accept();
  BOOST_TEST(from_stranger.peer().uid == 65534);
}

BOOST_AUTO_TEST_CASE(paths_as_long_as_sun_path_allows_are_served)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  asio::io_context io;
  const std::size_t max_path = ipc::platform::endpoint_traits::max_path_size;
  // The staging directory's path is longer than this target, so the backend binds through
  // another route; the result must be the same.
  const std::string longest = dir.path + "/" + std::string(max_path - dir.path.size() - 1, 'L');
  BOOST_REQUIRE(longest.size() == max_path);
  bin_acceptor server(io, longest);
  BOOST_TEST(mode_of(longest) == 0600);
  bin_channel c = ipc::connect<ipc::binary>(io, longest);
  bin_channel s = server.accept();
  c.send(std::string("long"));
  BOOST_TEST(s.receive<std::string>().value == "long");
  BOOST_TEST(dir.entries().size() == 1u);
  server.close();
  BOOST_TEST(dir.entries().empty());
}

BOOST_AUTO_TEST_CASE(a_stale_socket_file_from_a_killed_server_is_replaced)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "stale.sock";
  pipe_pair ready;
  ipc_test::child_process old_server([&] {
    asio::io_context sio;
    bin_acceptor a(sio, where);
    write_byte(ready.write.get());
    for (;;)
      ::pause();
    return true;
  });
  BOOST_REQUIRE(read_byte(ready.read.get()));
  old_server.kill(SIGKILL);
  BOOST_TEST(old_server.wait() == 128 + SIGKILL);
  BOOST_REQUIRE(is_socket(where)); // left behind
  const ino_t stale = inode_of(where);
  asio::io_context io;
  std::error_code ec;
  (void)ipc::connect<ipc::binary>(io, where, ec);
  BOOST_TEST(ec == std::errc::connection_refused);

  bin_acceptor server(io, where);
  BOOST_TEST(is_socket(where));
  BOOST_TEST(inode_of(where) != stale);
  BOOST_TEST(mode_of(where) == 0600);
  bin_channel c = ipc::connect<ipc::binary>(io, where);
  bin_channel s = server.accept();
  c.send(std::string("fresh"));
  BOOST_TEST(s.receive<std::string>().value == "fresh");
  BOOST_TEST(dir.entries() == std::vector<std::string>{"stale.sock"});
}

BOOST_AUTO_TEST_CASE(a_live_servers_socket_file_is_never_taken)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "live.sock";
  pipe_pair ready, done;
  ipc_test::child_process live([&] {
    asio::io_context sio;
    bin_acceptor a(sio, where);
    write_byte(ready.write.get());
    // Serves exactly one real client, after the parent's attempts to take the name.
    read_byte(done.read.get());
    for (;;) {
      bin_channel ch = a.accept();
      std::error_code ec;
      auto m = ch.receive<std::string>(ec);
      if (ec) continue; // the probes of the refused servers: connections that close at once
      ch.send(std::string("still here: " + m.value));
      return true;
    }
  });
  BOOST_REQUIRE(read_byte(ready.read.get()));
  const ino_t theirs = inode_of(where);
  asio::io_context io;
  std::error_code ec;
  bin_acceptor thief(io, where, ec);
  BOOST_TEST(ec == std::errc::address_in_use);
  BOOST_TEST(!thief.is_open());
  BOOST_CHECK_THROW((void)bin_acceptor(io, where), std::system_error);
  BOOST_TEST(inode_of(where) == theirs);
  // In one process too: a second acceptor on a name this process serves.
  {
    bin_acceptor mine(io, dir / "mine.sock");
    bin_acceptor second(io, dir / "mine.sock", ec);
    BOOST_TEST(ec == std::errc::address_in_use);
    BOOST_TEST(mine.is_open());
    second.close(); // closing the refused one leaves the name alone
    BOOST_TEST(is_socket(dir / "mine.sock"));
  }
  BOOST_TEST(write_byte(done.write.get()));
  bin_channel c = ipc::connect<ipc::binary>(io, where);
  c.send(std::string("hi"));
  BOOST_TEST(c.receive<std::string>().value == "still here: hi");
  BOOST_TEST(live.wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_socket_is_left_alone)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  asio::io_context io;
  const std::string regular = dir / "precious.txt";
  std::ofstream(regular) << "do not delete";
  std::error_code ec;
  bin_acceptor a(io, regular, ec);
  BOOST_TEST(ec == std::errc::file_exists);
  try {
    bin_acceptor b(io, regular);
    BOOST_ERROR("listen did not throw");
  } catch (const std::system_error& x) {
    BOOST_TEST(x.code() == std::errc::file_exists);
    BOOST_TEST(std::string(x.what()).find(regular) != std::string::npos);
  }
  std::ifstream in(regular);
  std::string content;
  std::getline(in, content);
  BOOST_TEST(content == "do not delete");
  // A directory and a symbolic link (even one to a stale socket) are not sockets either.
  std::filesystem::create_directory(dir / "subdir");
  bin_acceptor d(io, dir / "subdir", ec);
  BOOST_TEST(ec == std::errc::file_exists);
  std::filesystem::create_symlink(regular, dir / "link");
  bin_acceptor l(io, dir / "link", ec);
  BOOST_TEST(ec == std::errc::file_exists);
  BOOST_TEST(std::filesystem::is_symlink(dir / "link"));
  BOOST_TEST((dir.entries() == std::vector<std::string>{"link", "precious.txt", "subdir"}));
  // A missing directory is the OS's error.
  bin_acceptor m(io, dir / "missing/x.sock", ec);
  BOOST_TEST(ec == std::errc::no_such_file_or_directory);
}

BOOST_AUTO_TEST_CASE(the_socket_file_is_removed_on_close_only_if_it_is_still_ours)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  asio::io_context io;
  const std::string where = dir / "ours.sock";
  {
    bin_acceptor a(io, where);
    BOOST_TEST(is_socket(where));
  }
  BOOST_TEST(!std::filesystem::exists(where)); // destroyed: removed
  {
    bin_acceptor a(io, where);
    a.close();
    BOOST_TEST(!std::filesystem::exists(where)); // closed: removed
    a.close();                                   // twice is harmless
  }
  // Replaced by someone else's socket: closing leaves the new one alone.
  {
    bin_acceptor a(io, where);
    bin_acceptor other(io, dir / "other.sock");
    BOOST_REQUIRE(::rename((dir / "other.sock").c_str(), where.c_str()) == 0);
    const ino_t replacement = inode_of(where);
    a.close();
    BOOST_TEST(inode_of(where) == replacement);
    other.close(); // its own name is gone; nothing to remove
    BOOST_TEST(inode_of(where) == replacement);
    std::filesystem::remove(where);
  }
  // A forked child that closes its copy of the acceptor does not take the parent's file.
  {
    bin_acceptor a(io, where);
    ipc_test::child_process child([&] {
      a.close();
      return !is_socket(where) ? false : true;
    });
    BOOST_TEST(child.wait() == 0);
    BOOST_TEST(is_socket(where));
    bin_channel c = ipc::connect<ipc::binary>(io, where);
    bin_channel s = a.accept();
    BOOST_TEST(s.is_open());
  }
  BOOST_TEST(dir.entries().empty());
}

// ---- peers --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(peer_credentials_name_the_connecting_process)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "creds.sock";
  asio::io_context io;
  bin_acceptor server(io, where);
  pipe_pair hold;
  ipc_test::child_process client([&] {
    asio::io_context cio;
    bin_channel ch = ipc::connect<ipc::binary>(cio, where);
    const ipc::peer_credentials p = ch.peer();
    ch.send(long(p.pid));
    return read_byte(hold.read.get()) && p.pid == long(::getppid()) && p.uid == long(::geteuid());
  });
  bin_channel ch = server.accept();
  const ipc::peer_credentials p = ch.peer();
  BOOST_TEST(p.pid == long(client.pid()));
  BOOST_TEST(p.uid == long(::geteuid()));
  BOOST_TEST(p.gid == long(::getegid()));
  BOOST_TEST(p.uid == ipc::current_user_id());
  BOOST_TEST(ch.receive<long>().value == long(::getpid()));
  write_byte(hold.write.get());
  BOOST_TEST(client.wait() == 0);
}

BOOST_AUTO_TEST_CASE(peers_of_another_user_are_rejected_and_the_acceptor_goes_on)
{
  // Runs for any user: requiring a uid that is not ours makes our own clients the strangers.
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "uid.sock";
  asio::io_context io;
  std::vector<ipc::peer_credentials> refused;
  bin_acceptor server(io, where,
                      {.peer_uid = ipc::current_user_id() + 1,
                       .on_reject = [&](const ipc::peer_credentials& c) { refused.push_back(c); }});
  bool accepted = false;
  std::error_code accept_ec;
  server.async_accept([&](std::error_code ec, bin_channel) {
    accepted = !ec;
    accept_ec = ec;
  });
  bin_channel a = ipc::connect<ipc::binary>(io, where);
  bin_channel b = ipc::connect<ipc::binary>(io, where);
  const auto deadline = clock_type::now() + 10s;
  while (server.rejected() < 2 && clock_type::now() < deadline)
    io.run_one_for(10ms);
  BOOST_TEST(server.rejected() == 2u);
  BOOST_REQUIRE(refused.size() == 2u);
  BOOST_TEST(refused[0].pid == long(::getpid()));
  BOOST_TEST(refused[0].uid == ipc::current_user_id());
  // Each rejected client finds its connection closed.
  std::error_code ec;
  (void)a.receive<std::string>(ec);
  BOOST_TEST(ec == asio::error::eof);
  (void)b.receive<std::string>(ec);
  BOOST_TEST(ec == asio::error::eof);
  BOOST_TEST(!accepted); // the accept is still waiting for an admitted peer
  server.close();
  io.run_for(100ms);
  BOOST_TEST(accept_ec == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(a_process_of_another_user_is_rejected_by_the_uid_check)
{
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("not root: cannot start a process of another user; covered by "
                       "peers_of_another_user_are_rejected_and_the_acceptor_goes_on");
    return;
  }
  ipc_test::fd_guard guard;
  temp_dir dir;
  BOOST_REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
  const std::string where = dir / "root-only.sock";
  asio::io_context io;
  std::vector<ipc::peer_credentials> refused;
  // World-writable, so that only the uid check stands between nobody and the server.
  bin_acceptor server(io, where,
                      {.permissions = rw_owner | rw_others,
                       .peer_uid = ipc::current_user_id(),
                       .on_reject = [&](const ipc::peer_credentials& c) { refused.push_back(c); }});
  pipe_pair connected;
  ipc_test::child_process stranger([&] {
    if (!become_nobody()) return false;
    asio::io_context cio;
    bin_channel ch = ipc::connect<ipc::binary>(cio, where);
    write_byte(connected.write.get());
    std::error_code ec;
    (void)ch.receive<std::string>(ec);
    return ec == asio::error::eof; // closed by the server without a word
  });
  BOOST_REQUIRE(read_byte(connected.read.get())); // queued first
  ipc_test::child_process friend_([&] {
    asio::io_context cio;
    bin_channel ch = ipc::connect<ipc::binary>(cio, where);
    return ch.receive<std::string>().value == "welcome";
  });
  bin_channel ch = server.accept(); // skips the stranger
  BOOST_TEST(ch.peer().pid == long(friend_.pid()));
  ch.send(std::string("welcome"));
  BOOST_TEST(friend_.wait() == 0);
  BOOST_TEST(stranger.wait() == 0);
  BOOST_TEST(server.rejected() == 1u);
  BOOST_REQUIRE(refused.size() == 1u);
  BOOST_TEST(refused[0].uid == 65534);
  BOOST_TEST(refused[0].pid == long(stranger.pid()));
}

// ---- failures, timeouts, cancellation -----------------------------------------------------

BOOST_AUTO_TEST_CASE(connect_reports_a_missing_or_dead_server)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  asio::io_context io;
  std::error_code ec;
  bin_channel c = ipc::connect<ipc::binary>(io, dir / "nobody-here.sock", ec);
  BOOST_TEST(ec == std::errc::no_such_file_or_directory);
  BOOST_TEST(!c.is_open());
  (void)ipc::connect<ipc::binary>(io, unique_abstract("absent"), ec);
  BOOST_TEST(ec == std::errc::connection_refused);
  std::error_code async_ec;
  ipc::async_connect<ipc::binary>(io.get_executor(), dir / "nobody-here.sock",
                                  [&](std::error_code e, bin_channel ch) {
                                    async_ec = e;
                                    BOOST_TEST(!ch.is_open());
                                  });
  io.run();
  BOOST_TEST(async_ec == std::errc::no_such_file_or_directory);
  try {
    (void)ipc::connect<ipc::binary>(io, dir / "nobody-here.sock");
    BOOST_ERROR("connect did not throw");
  } catch (const std::system_error& x) {
    BOOST_TEST(std::string(x.what()).find("nobody-here.sock") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(connect_times_out_while_the_servers_backlog_stays_full)
{
  // A local connect completes as soon as the kernel queues it, before the server accepts: a
  // server that never accepts is only noticed once its backlog is full. That is the wait the
  // timeout bounds, and where it is tested.
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "busy.sock";
  asio::io_context io;
  bin_acceptor server(io, where, {.backlog = 1});
  std::vector<bin_channel> queued;
  for (int i = 0; i < 64; ++i) {
    std::error_code ec;
    bin_channel c = ipc::connect<ipc::binary>(io, where, ec, {.timeout = 0ms});
    if (ec) {
      BOOST_TEST(ec == std::errc::timed_out);
      break;
    }
    queued.push_back(std::move(c));
  }
  BOOST_TEST_MESSAGE("backlog 1 holds " << queued.size() << " connections");
  BOOST_REQUIRE(!queued.empty());
  BOOST_REQUIRE(queued.size() < 64u);

  // Sync: waits for room, then gives up.
  auto t0 = clock_type::now();
  std::error_code ec;
  (void)ipc::connect<ipc::binary>(io, where, ec, {.timeout = 150ms});
  auto waited = clock_type::now() - t0;
  BOOST_TEST(ec == std::errc::timed_out);
  BOOST_TEST((waited >= 120ms)); // SO_SNDTIMEO counts in scheduler ticks
  BOOST_TEST((waited < 3s));
  BOOST_CHECK_THROW(ipc::connect<ipc::binary>(io, where, {.timeout = 10ms}), std::system_error);

  // Async: the same.
  t0 = clock_type::now();
  std::error_code async_ec;
  ipc::async_connect<ipc::binary>(io.get_executor(), where, {.timeout = 150ms},
                                  [&](std::error_code e, bin_channel) { async_ec = e; });
  io.run();
  io.restart();
  waited = clock_type::now() - t0;
  BOOST_TEST(async_ec == std::errc::timed_out);
  BOOST_TEST((waited >= 150ms));
  BOOST_TEST((waited < 3s));

  // Room made while an async connect waits: it connects.
  t0 = clock_type::now();
  std::optional<bin_channel> late;
  async_ec = asio::error::would_block;
  ipc::async_connect<ipc::binary>(io.get_executor(), where, {.timeout = 10s},
                                  [&](std::error_code e, bin_channel ch) {
                                    async_ec = e;
                                    late.emplace(std::move(ch));
                                  });
  std::vector<bin_channel> accepted;
  asio::steady_timer make_room(io, 100ms);
  make_room.async_wait([&](std::error_code) { accepted.push_back(server.accept()); });
  io.run();
  io.restart();
  waited = clock_type::now() - t0;
  BOOST_TEST(!async_ec);
  BOOST_TEST((waited >= 100ms));
  BOOST_TEST((waited < 3s));
  // The late connection is real: accept everything queued and talk over the last one.
  while (accepted.size() < queued.size() + 1)
    accepted.push_back(server.accept());
  BOOST_REQUIRE(late && late->is_open());
  late->send(std::string("made it"));
  BOOST_TEST(accepted.back().receive<std::string>().value == "made it");
}

BOOST_AUTO_TEST_CASE(async_connect_can_be_cancelled_while_it_waits)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "cancel.sock";
  asio::io_context io;
  bin_acceptor server(io, where, {.backlog = 0});
  std::vector<bin_channel> queued;
  for (;;) {
    std::error_code ec;
    bin_channel c = ipc::connect<ipc::binary>(io, where, ec, {.timeout = 0ms});
    if (ec) break;
    queued.push_back(std::move(c));
  }
  asio::cancellation_signal cancel;
  std::error_code result;
  ipc::async_connect<ipc::binary>(
      io.get_executor(), where,
      asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code e, bin_channel ch) {
        result = e;
        BOOST_TEST(!ch.is_open());
      }));
  asio::steady_timer t(io, 50ms);
  t.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  const auto t0 = clock_type::now();
  io.run();
  BOOST_TEST(result == asio::error::operation_aborted);
  BOOST_TEST((clock_type::now() - t0 < 2s));
}

BOOST_AUTO_TEST_CASE(async_connect_cancelled_just_as_its_retry_timer_expires_gives_up)
{
  // The retry timer has expired and its completion is queued when the cancellation arrives, so
  // the timer itself can no longer be cancelled: the operation must notice on its own.
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "cancel-race.sock";
  asio::io_context io;
  bin_acceptor server(io, where, {.backlog = 0});
  std::vector<bin_channel> queued;
  for (;;) {
    std::error_code ec;
    bin_channel c = ipc::connect<ipc::binary>(io, where, ec, {.timeout = 0ms});
    if (ec) break;
    queued.push_back(std::move(c));
  }
  asio::cancellation_signal cancel;
  std::error_code result;
  // First retry 250 us after this call; the canceller's timer expires before it.
  ipc::async_connect<ipc::binary>(
      io.get_executor(), where, {.timeout = 3s},
      asio::bind_cancellation_slot(cancel.slot(),
                                   [&](std::error_code e, bin_channel) { result = e; }));
  asio::steady_timer t(io, 50us);
  t.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  std::this_thread::sleep_for(5ms); // both expire before the loop looks: completed together
  io.run();
  BOOST_TEST(result == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(async_accept_can_be_cancelled_and_is_aborted_by_close)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  const std::string where = dir / "accept-cancel.sock";
  asio::io_context io;
  bin_acceptor server(io, where);
  asio::cancellation_signal cancel;
  std::error_code first = asio::error::would_block;
  server.async_accept(
      asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code e, bin_channel ch) {
        first = e;
        BOOST_TEST(!ch.is_open());
      }));
  io.poll();
  io.restart();
  BOOST_TEST(first == asio::error::would_block); // still waiting
  // A client connects, but the accept is cancelled before it runs again.
  bin_channel c = ipc::connect<ipc::binary>(io, where);
  cancel.emit(asio::cancellation_type::total);
  io.poll();
  io.restart();
  BOOST_TEST(first == asio::error::operation_aborted);
  // Nothing was lost: the connection is still queued for the next accept.
  std::optional<bin_channel> got;
  server.async_accept([&](std::error_code e, bin_channel ch) {
    BOOST_TEST(!e);
    got.emplace(std::move(ch));
  });
  io.run();
  io.restart();
  BOOST_REQUIRE(got && got->is_open());
  c.send(std::string("queued"));
  BOOST_TEST(got->receive<std::string>().value == "queued");
  // Closing aborts a pending accept; accepting on a closed acceptor fails in both forms.
  std::error_code second = asio::error::would_block;
  server.async_accept([&](std::error_code e, bin_channel) { second = e; });
  io.poll();
  io.restart();
  server.close();
  io.run();
  io.restart();
  BOOST_TEST(second == asio::error::operation_aborted);
  BOOST_TEST(!std::filesystem::exists(where));
  std::error_code ec;
  (void)server.accept(ec);
  BOOST_TEST(ec == asio::error::bad_descriptor);
  BOOST_CHECK_THROW(server.accept(), std::system_error);
  std::error_code third;
  server.async_accept([&](std::error_code e, bin_channel) { third = e; });
  io.run();
  BOOST_TEST(third == asio::error::bad_descriptor);
}

BOOST_AUTO_TEST_CASE(an_acceptor_listens_once_and_can_be_moved)
{
  ipc_test::fd_guard guard;
  temp_dir dir;
  asio::io_context io;
  bin_acceptor a(io.get_executor());
  BOOST_TEST(!a.is_open());
  BOOST_TEST(a.native_handle() == ipc::native_handle::invalid);
  a.listen(dir / "once.sock");
  std::error_code ec;
  a.listen(dir / "twice.sock", ec);
  BOOST_TEST(ec == asio::error::already_open);
  BOOST_TEST(!std::filesystem::exists(dir / "twice.sock"));
  bin_acceptor b = std::move(a);
  BOOST_TEST(b.is_open());
  bin_channel c = ipc::connect<ipc::binary>(io, dir / "once.sock");
  bin_channel s = b.accept();
  BOOST_TEST(s.is_open());
  bin_acceptor other(io, dir / "other.sock");
  b = std::move(other); // closes once.sock's acceptor, and removes its file
  BOOST_TEST(!std::filesystem::exists(dir / "once.sock"));
  BOOST_TEST(std::filesystem::exists(dir / "other.sock"));
}

BOOST_AUTO_TEST_SUITE_END()
