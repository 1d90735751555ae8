// tests/soak.cpp - several processes exchanging mixed messages and descriptors for a while.
// SPDX-License-Identifier: BSL-1.0
//
// A parent and three forked children. Each child has a binary channel to the parent (it sends
// with sync sends, the parent receives and answers with async sends) and a json channel to the
// next child in a ring (async both ways). Messages carry a sequence number, content derived
// from it, and sometimes a pipe or a memfd holding a tag the receiver checks. At the deadline
// the parent says stop; every sender then says how many messages it sent, and every receiver
// checks that it got exactly those, once each, in order, with the right descriptors. Each
// process also checks that its open descriptors are back to where they were before the
// traffic, and that its resident memory did not keep growing after a warm-up third of the run.
//
//   soak [--seconds N]      N defaults to 60; IPC_SOAK_SECONDS in the environment wins
//
// Exit status 0 when every check in every process passed.
#include "ipc/channel.hpp" // first: it configures Asio
#include "ipc/serializers/binary.hpp"
#include "ipc/serializers/json.hpp"

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace soak {

enum kind : std::uint8_t { data = 0, stop = 1, end = 2, report = 3 };

struct msg {
  std::uint32_t from = 0;
  std::uint64_t seq = 0;
  std::uint8_t kind = data;
  std::string text;
  std::vector<std::uint32_t> values;
  std::uint64_t count = 0;     // stop, end: messages sent before it; report: received
  std::int64_t fd_delta = 0;   // report
  std::int64_t rss_growth = 0; // report, KiB
  std::string problem;         // report: empty when all is well
};
IPC_DESCRIBE(msg, from, seq, kind, text, values, count, fd_delta, rss_growth, problem)

using parent_link = ipc::channel<ipc::binary>;
using ring_link = ipc::channel<ipc::json>;

constexpr int children = 3;
constexpr std::uint32_t parent_id = 100;
constexpr std::int64_t rss_slack_kib = 32 << 10;

int open_fds()
{
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n - 3;
}

std::int64_t rss_kib()
{
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long size = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return n == 2 ? std::int64_t(resident) * (::sysconf(_SC_PAGESIZE) / 1024) : -1;
}

std::string tag(std::uint32_t from, std::uint64_t seq)
{
  return std::to_string(from) + ":" + std::to_string(seq);
}

/// The data message @p from sends as its @p seq-th; its descriptors (0, 1 or 2) hold the tag.
msg make(std::uint32_t from, std::uint64_t seq)
{
  msg m;
  m.from = from;
  m.seq = seq;
  m.text.assign(std::size_t((seq * 37 + from) % 3000), char('a' + (seq + from) % 26));
  m.values.resize(std::size_t(seq % 50));
  for (std::size_t k = 0; k < m.values.size(); ++k) m.values[k] = std::uint32_t(seq ^ k);
  return m;
}

std::size_t descriptors_for(std::uint64_t seq) { return seq % 16 == 1 ? 2 : seq % 4 == 0 ? 1 : 0; }

int pipe_holding(const std::string& s)
{
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  if (::write(p[1], s.data(), s.size()) != ssize_t(s.size())) {
    ::close(p[0]);
    p[0] = -1;
  }
  ::close(p[1]);
  return p[0];
}

int memfd_holding(const std::string& s)
{
  const int m = ::memfd_create("soak", MFD_CLOEXEC);
  if (m >= 0 && ::write(m, s.data(), s.size()) != ssize_t(s.size())) {
    ::close(m);
    return -1;
  }
  return m;
}

/// What a descriptor holds (pipes are read, memfds read from offset 0).
std::string contents(int fd)
{
  char buf[64];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n < 0 && errno == ESPIPE) n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, std::size_t(n)) : std::string();
}

/// Checks one received message against what its sender must have sent; returns a problem.
template <class M>
std::string check(M& m, std::uint32_t from, std::uint64_t expected_seq)
{
  const msg want = make(from, expected_seq);
  const msg& got = m.value;
  if (got.from != from || got.seq != expected_seq)
    return "from " + std::to_string(from) + ": expected #" + std::to_string(expected_seq) +
           ", got " + tag(got.from, got.seq);
  if (got.text != want.text || got.values != want.values) return "content of " + tag(from, got.seq);
  const std::size_t n = descriptors_for(expected_seq);
  if (m.handle_count() != n) return "descriptors of " + tag(from, got.seq);
  for (std::size_t i = 0; i < n; ++i)
    if (contents(m.take_handle(i).get()) != tag(from, got.seq))
      return "descriptor contents of " + tag(from, got.seq);
  return {};
}

// ---- a child ----------------------------------------------------------------------------------

class child {
public:
  child(std::uint32_t id, int up, int ring_out, int ring_in, int seconds)
    : id_(id), seconds_(seconds), up_(io_.get_executor(), ipc::native_handle(up)),
      out_(io_.get_executor(), ipc::native_handle(ring_out)),
      in_(io_.get_executor(), ipc::native_handle(ring_in))
  {
  }

  int run()
  {
    const int fds_before = open_fds();
    const auto start = std::chrono::steady_clock::now();
    std::int64_t rss_warm = -1;
    receive_parent();
    receive_ring();
    // Bounded: the parent ends the traffic at its deadline and kills us after a grace period.
    for (long turn = 0; turn < 2'000'000'000L && problem_.empty(); ++turn) {
      io_.poll();
      io_.restart();
      if (rss_warm < 0 && std::chrono::steady_clock::now() - start > std::chrono::seconds(seconds_) / 3)
        rss_warm = rss_kib();
      if (!stopped_) {
        // To the parent: a sync send (which takes in what the parent sends while it waits).
        const std::uint64_t seq = ++up_sent_;
        const msg m = make(id_, seq);
        send(up_, m, seq, nullptr);
        if (ring_outstanding_ < 32) {
          const std::uint64_t rseq = ++ring_sent_;
          ++ring_outstanding_;
          send(out_, make(id_, rseq), rseq, [this](std::error_code ec) {
            --ring_outstanding_;
            if (ec) fail("ring send: " + ec.message());
          });
        }
        continue;
      }
      if (!ends_sent_) {
        msg e;
        e.from = id_;
        e.kind = end;
        e.count = up_sent_;
        up_.send(e);
        e.count = ring_sent_;
        ++ring_outstanding_;
        out_.async_send(e, [this](std::error_code ec) {
          --ring_outstanding_;
          if (ec) fail("ring end: " + ec.message());
        });
        ends_sent_ = true;
        continue;
      }
      if (ring_ended_ && ring_outstanding_ == 0) break;
      io_.run_one();
    }
    msg r;
    r.from = id_;
    r.kind = report;
    r.count = from_parent_ + from_ring_;
    // Copies of handles sent and not yet acknowledged are still ours: the peers stopped
    // receiving, and the channels close them when they close.
    r.fd_delta = std::int64_t(open_fds()) - fds_before -
                 std::int64_t(up_.acknowledgements().unacknowledged + out_.acknowledgements().unacknowledged);
    r.rss_growth = rss_warm < 0 ? 0 : rss_kib() - rss_warm;
    r.problem = problem_;
    if (r.problem.empty() && r.fd_delta != 0) r.problem = "descriptors left open";
    if (r.problem.empty() && r.rss_growth > rss_slack_kib) r.problem = "resident memory grew";
    if (!r.problem.empty()) std::fprintf(stderr, "soak: %s\n", r.problem.c_str());
    std::error_code ec;
    up_.send(r, ec);
    // The parent closes first; wait for that, so that the report is read before we vanish.
    (void)up_.receive<msg>(ec);
    return r.problem.empty() ? 0 : 1;
  }

private:
  template <class Channel, class Handler>
  void send(Channel& ch, const msg& m, std::uint64_t seq, Handler&& handler)
  {
    const std::string t = tag(id_, seq);
    constexpr bool sync = std::is_same_v<std::decay_t<Handler>, std::nullptr_t>;
    auto go = [&](auto&&... hs) {
      if constexpr (sync) {
        std::error_code ec;
        ch.send(m, std::move(hs)..., ec);
        if (ec) fail("sync send: " + ec.message());
      } else {
        ch.async_send(m, std::move(hs)..., std::forward<Handler>(handler));
      }
    };
    switch (descriptors_for(seq)) {
    case 0: go(); break;
    case 1: go(ipc::native_handle(pipe_holding(t))); break;
    default: go(ipc::native_handle(pipe_holding(t)), ipc::native_handle(memfd_holding(t))); break;
    }
  }

  void receive_parent()
  {
    up_.async_receive<msg>([this](std::error_code ec, ipc::message<msg> m) {
      if (ec) {
        if (!stopped_ || !ends_sent_) fail("from parent: " + ec.message());
        return;
      }
      if (m.value.kind == stop) {
        if (m.value.count != from_parent_) fail("parent sent " + std::to_string(m.value.count) +
                                                ", got " + std::to_string(from_parent_));
        stopped_ = true;
        return; // nothing more comes from the parent until we report
      }
      std::string p = check(m, parent_id, from_parent_ + 1);
      if (!p.empty()) fail(p);
      ++from_parent_;
      receive_parent();
    });
  }

  void receive_ring()
  {
    in_.async_receive<msg>([this](std::error_code ec, ipc::message<msg> m) {
      if (ec) {
        fail("from ring: " + ec.message());
        return;
      }
      const std::uint32_t prev = (id_ + children - 1) % children;
      if (m.value.kind == end) {
        if (m.value.count != from_ring_) fail("ring neighbour sent " + std::to_string(m.value.count) +
                                              ", got " + std::to_string(from_ring_));
        ring_ended_ = true;
        return;
      }
      std::string p = check(m, prev, from_ring_ + 1);
      if (!p.empty()) fail(p);
      ++from_ring_;
      receive_ring();
    });
  }

  void fail(const std::string& what)
  {
    if (problem_.empty()) problem_ = "child " + std::to_string(id_) + ": " + what;
  }

  std::uint32_t id_;
  int seconds_;
  asio::io_context io_;
  parent_link up_;
  ring_link out_, in_;
  std::uint64_t up_sent_ = 0, ring_sent_ = 0, from_parent_ = 0, from_ring_ = 0;
  int ring_outstanding_ = 0;
  bool stopped_ = false, ends_sent_ = false, ring_ended_ = false;
  std::string problem_;
};

// ---- the parent ------------------------------------------------------------------------------

class parent {
public:
  parent(std::array<int, children> ends, int seconds)
    : seconds_(seconds), deadline_(io_), warm_(io_), watchdog_(io_)
  {
    for (int i = 0; i < children; ++i)
      links_[std::size_t(i)].emplace(io_.get_executor(), ipc::native_handle(ends[std::size_t(i)]));
  }

  /// Runs the exchange; returns the problems found (empty: all is well).
  std::string run()
  {
    const int fds_before = open_fds();
    for (int i = 0; i < children; ++i) receive(i);
    warm_.expires_after(std::chrono::seconds(seconds_) / 3);
    warm_.async_wait([this](std::error_code) { rss_warm_ = rss_kib(); });
    deadline_.expires_after(std::chrono::seconds(seconds_));
    deadline_.async_wait([this](std::error_code) { stop_all(); });
    // Everything must be over well after the deadline: a hang is a failure, not a stuck CI.
    watchdog_.expires_after(std::chrono::seconds(seconds_ + 120));
    watchdog_.async_wait([this](std::error_code ec) {
      if (ec) return;
      fail("watchdog: the exchange did not finish");
      for (auto& l : links_) l->close();
    });
    // Bounded by the watchdog, which closes every channel.
    while (reports_ < children && problem_.empty() && io_.run_one() != 0) {
    }
    watchdog_.cancel();
    const std::int64_t growth = rss_warm_ < 0 ? 0 : rss_kib() - rss_warm_;
    if (problem_.empty() && open_fds() != fds_before) fail("parent: descriptors left open");
    if (problem_.empty() && growth > rss_slack_kib) fail("parent: resident memory grew");
    std::printf("soak: %llu messages exchanged (parent received %llu, sent %llu; children "
                "received %llu), %llu descriptors through the parent; parent memory %+lld KiB "
                "after warm-up\n",
                (unsigned long long)(received_ + child_received_), (unsigned long long)received_,
                (unsigned long long)sent_total(), (unsigned long long)child_received_,
                (unsigned long long)descriptors_, (long long)growth);
    for (auto& l : links_) l->close();
    return problem_;
  }

  std::uint64_t sent_total() const
  {
    std::uint64_t n = 0;
    for (auto s : sent_) n += s;
    return n;
  }

private:
  void receive(int i)
  {
    links_[std::size_t(i)]->async_receive<msg>([this, i](std::error_code ec, ipc::message<msg> m) {
      const std::size_t k = std::size_t(i);
      if (ec) {
        fail("parent: from child " + std::to_string(i) + ": " + ec.message());
        return;
      }
      if (m.value.kind == report) {
        child_received_ += m.value.count;
        if (!m.value.problem.empty()) fail(m.value.problem);
        ++reports_;
        return;
      }
      if (m.value.kind == end) {
        if (m.value.count != got_[k])
          fail("child " + std::to_string(i) + " sent " + std::to_string(m.value.count) +
               ", parent got " + std::to_string(got_[k]));
        receive(i); // the report follows
        return;
      }
      descriptors_ += m.handle_count();
      std::string p = check(m, std::uint32_t(i), got_[k] + 1);
      if (!p.empty()) fail("parent: " + p);
      ++got_[k];
      ++received_;
      if (!stopping_ && outstanding_[k] < 64) send(i);
      receive(i);
    });
  }

  void send(int i)
  {
    const std::size_t k = std::size_t(i);
    const std::uint64_t seq = ++sent_[k];
    const msg m = make(parent_id, seq);
    const std::string t = tag(parent_id, seq);
    ++outstanding_[k];
    auto done = [this, k](std::error_code ec) {
      --outstanding_[k];
      if (ec) fail("parent: send: " + ec.message());
    };
    descriptors_ += descriptors_for(seq);
    switch (descriptors_for(seq)) {
    case 0: links_[k]->async_send(m, done); break;
    case 1: links_[k]->async_send(m, ipc::native_handle(pipe_holding(t)), done); break;
    default:
      links_[k]->async_send(m, ipc::native_handle(pipe_holding(t)),
                            ipc::native_handle(memfd_holding(t)), done);
      break;
    }
  }

  void stop_all()
  {
    stopping_ = true;
    for (int i = 0; i < children; ++i) {
      msg s;
      s.from = parent_id;
      s.kind = stop;
      s.count = sent_[std::size_t(i)];
      links_[std::size_t(i)]->async_send(s, [this](std::error_code ec) {
        if (ec) fail("parent: stop: " + ec.message());
      });
    }
  }

  void fail(const std::string& what)
  {
    if (problem_.empty()) problem_ = what;
  }

  int seconds_;
  asio::io_context io_;
  std::array<std::optional<parent_link>, children> links_;
  asio::steady_timer deadline_, warm_, watchdog_;
  std::array<std::uint64_t, children> sent_{}, got_{};
  std::array<int, children> outstanding_{};
  std::uint64_t received_ = 0, descriptors_ = 0, child_received_ = 0;
  int reports_ = 0;
  bool stopping_ = false;
  std::int64_t rss_warm_ = -1;
  std::string problem_;
};

} // namespace soak

int main(int argc, char** argv)
{
  int seconds = 60;
  if (argc == 3 && std::string_view(argv[1]) == "--seconds") seconds = std::atoi(argv[2]);
  if (const char* env = std::getenv("IPC_SOAK_SECONDS")) seconds = std::atoi(env);
  if (seconds < 3) seconds = 3;
  std::printf("soak: %d processes for %d s\n", soak::children + 1, seconds);
  std::fflush(stdout);

  // The channels: parent <-> child i, and child i -> child i+1 (the ring).
  std::array<int, soak::children> up_parent{}, up_child{}, ring_out{}, ring_in{};
  for (int i = 0; i < soak::children; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 2;
    up_parent[std::size_t(i)] = sv[0];
    up_child[std::size_t(i)] = sv[1];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 2;
    ring_out[std::size_t(i)] = sv[0];                                // held by child i
    ring_in[std::size_t((i + 1) % soak::children)] = sv[1];          // held by child i + 1
  }
  std::array<pid_t, soak::children> pids{};
  for (int i = 0; i < soak::children; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      const std::size_t k = std::size_t(i);
      for (int j = 0; j < soak::children; ++j) {
        const std::size_t o = std::size_t(j);
        ::close(up_parent[o]);
        if (o != k) {
          ::close(up_child[o]);
          ::close(ring_out[o]);
          ::close(ring_in[o]);
        }
      }
      int code = 1;
      try {
        soak::child c(std::uint32_t(i), up_child[k], ring_out[k], ring_in[k], seconds);
        code = c.run();
      } catch (const std::exception& e) {
        // Said here: the parent may see only the symptom (a broken pipe).
        std::fprintf(stderr, "soak: child %d: %s\n", i, e.what());
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
    pids[std::size_t(i)] = pid;
  }
  for (int i = 0; i < soak::children; ++i) {
    const std::size_t k = std::size_t(i);
    ::close(up_child[k]);
    ::close(ring_out[k]);
    ::close(ring_in[k]);
  }
  std::string problem;
  {
    soak::parent p(up_parent, seconds);
    problem = p.run();
  }
  int failed_children = 0;
  for (pid_t pid : pids) {
    int st = 0;
    if (!problem.empty()) ::kill(pid, SIGKILL);
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed_children;
  }
  if (problem.empty() && failed_children != 0) problem = "a child failed";
  if (!problem.empty()) {
    std::printf("soak: FAILED: %s\n", problem.c_str());
    return 1;
  }
  std::printf("soak: every message arrived exactly once and in order; no descriptor left open\n");
  return 0;
}
