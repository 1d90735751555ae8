// fuzz/channel_fuzz.cpp - libFuzzer target: a whole receiving channel against a hostile peer.
// SPDX-License-Identifier: BSL-1.0
//
// The input scripts a peer at the other end of a real socketpair: it writes raw bytes, or frames
// built from fuzzed fields (sizes, sequence numbers, kinds, handle tables that may lie), split
// at fuzzed points, with real descriptors attached where the input says (pipe ends, memfds,
// /dev/null, sockets, the peer's own socket). A real ipc::channel receives (sync after the peer
// closed, or async interleaved with the writes) until end of stream or error, and takes the
// handles it is given as plain descriptors, files, shared memory, Asio sockets or channels.
//
// Checks: no crash, no sanitizer report, no hang (libFuzzer's -timeout), and afterwards exactly
// the descriptors that were open before (counted in /proc/self/fd): nothing the peer sent, and
// nothing the channel made, outlives the channel and its messages.
//
// Input format (read front to back; missing bytes read as 0):
//   u8 config   bits 0-1 serializer (raw string, binary aggregate, json value, raw view),
//               bit 2 sync receive after the peer closed, bits 3-5 max_handles,
//               bit 6 max_message_size 256 instead of 64 KiB
//   u8 actions  what the receiver does with each handle (mixed with the message sequence)
//   then operations until the input ends:
//   u8 op       bits 0-1: 0 raw bytes, 1 frame, 2 frame written in two parts, 3 a frame
//               preceded by raw bytes
//     raw:      u16 length (at most 4096), bytes, fd spec
//     frame:    u8 lies (bit 0 sequence, 1 kind and flags, 2 table size, 3 payload size,
//               4 handle count), u8 handles (0-7), each: u8 name (index into known names,
//               or a fuzzed name of that many bytes past the list), u16 payload length (at
//               most 4096), payload bytes, fd spec, [u16 split point for op 2]
//   fd spec:    u8 count (bit 7: as many as the frame announces; else bits 0-2), u8 kinds
//
// Build and run (clang), as scripts/test.sh does:
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DASIO_STANDALONE
//     -Iinclude fuzz/channel_fuzz.cpp -lsimdjson -o channel_fuzz
//   cp -r fuzz/corpus/channel /tmp/corpus && ./channel_fuzz -max_total_time=60 /tmp/corpus
//
// With IPC_FUZZ_STANDALONE (no libFuzzer) the program replays the files named on its command
// line, or with `--write-seeds DIR` writes the seed corpus.
#include "ipc/channel.hpp"
#include "ipc/converters/asio.hpp"
#include "ipc/converters/channel.hpp"
#include "ipc/file.hpp"
#include "ipc/serializers/binary.hpp"
#include "ipc/serializers/json.hpp"
#include "ipc/serializers/raw.hpp"
#include "ipc/shared_memory.hpp"

#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#ifdef IPC_FUZZ_STANDALONE
#include <fstream>
#include <iterator>
#endif

namespace fuzz {

struct record {
  std::string name;
  std::vector<std::uint32_t> values;
  std::optional<std::map<std::string, std::int32_t>> index;
};
IPC_DESCRIBE(record, name, values, index)

/// Messages delivered and errors seen (reported by the standalone replay, to check seeds).
int delivered = 0;
std::error_code last_error;

[[noreturn]] void fail(const char* what)
{
  std::fprintf(stderr, "channel_fuzz: %s\n", what);
  std::abort();
}

int open_fds()
{
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) fail("cannot list /proc/self/fd");
  int n = 0;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n - 3;
}

/// Reads the input front to back; past the end everything is 0.
class reader {
public:
  reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  std::uint8_t u8() { return p_ == end_ ? 0 : *p_++; }
  std::uint16_t u16()
  {
    const unsigned lo = u8();
    return static_cast<std::uint16_t>(lo | (unsigned(u8()) << 8));
  }
  std::vector<std::byte> bytes(std::size_t n)
  {
    const std::size_t have = std::min<std::size_t>(n, std::size_t(end_ - p_));
    std::vector<std::byte> out(reinterpret_cast<const std::byte*>(p_),
                               reinterpret_cast<const std::byte*>(p_) + have);
    p_ += have;
    return out;
  }

private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

constexpr std::string_view known_names[] = {
  "native", "file", "shared_memory", "asio.local.stream.socket", "asio.tcp.socket",
  ipc::handle_converter<ipc::channel<ipc::raw>>::type_name, "asio.local.stream.acceptor",
};
constexpr std::size_t n_known = sizeof known_names / sizeof known_names[0];

/// The peer: one end of the socketpair, and the descriptors it makes to send.
struct peer {
  int fd = -1;
  int self_copy_budget = 2; // sending the peer's own socket over itself: a few per input

  /// A descriptor of kind @p k, or -1.
  int make(unsigned k)
  {
    int p[2];
    switch (k % 7) {
    case 0: return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    case 1:
    case 2:
      if (::pipe2(p, O_CLOEXEC) != 0) return -1;
      ::close(p[k % 7 == 1 ? 1 : 0]);
      return p[k % 7 == 1 ? 0 : 1];
    case 3: {
      const int m = ::memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
      if (m >= 0 && ::ftruncate(m, static_cast<off_t>((k >> 3) * 4096)) != 0) {
        ::close(m);
        return -1;
      }
      if (m >= 0 && (k & 0x80))
        (void)::fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
      return m;
    }
    case 4:
    case 5:
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) return -1;
      ::close(p[1]);
      if (k % 7 == 5) (void)::listen(p[0], 1); // not listenable: stays a connected socket
      return p[0];
    default:
      if (self_copy_budget-- <= 0) return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      return ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }
  }

  std::vector<int> make_fds(reader& in, std::size_t announced)
  {
    const std::uint8_t spec = in.u8();
    const std::uint8_t kinds = in.u8();
    const std::size_t n = (spec & 0x80) ? std::min<std::size_t>(announced, 8) : (spec & 7);
    std::vector<int> fds;
    for (std::size_t i = 0; i < n; ++i) {
      const int f = make(unsigned(kinds) + unsigned(i) * 0x29u);
      if (f >= 0) fds.push_back(f);
    }
    return fds;
  }

  /// One sendmsg of @p bytes[at...] without blocking, @p fds attached; returns bytes written,
  /// 0 when the socket is full, -1 when the receiver is gone.
  long write_some(const std::vector<std::byte>& bytes, std::size_t at, const std::vector<int>& fds)
  {
    iovec iov{const_cast<std::byte*>(bytes.data() + at), bytes.size() - at};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
    if (!fds.empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      std::memset(control, 0, sizeof control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    const ssize_t r = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    return -1;
  }
};

/// One fuzz run for a channel of serializer S receiving T.
template <class S, class T>
class run {
public:
  run(reader& in, std::uint8_t config, std::uint8_t actions)
    : in_(in), actions_(actions), sync_((config & 4) != 0)
  {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
    peer_.fd = sv[0];
    const ipc::channel_options options{(config & 0x40) ? 256u : 64u << 10,
                                       std::size_t((config >> 3) & 7)};
    ch_.emplace(io_.get_executor(), ipc::native_handle(sv[1]), options);
  }

  void go()
  {
    if (!sync_) arm();
    while (!in_.empty() && !stop_writing_) operation();
    // End of stream: whatever is buffered must now complete or fail. shutdown, not close: the
    // receiver may hold a copy of the peer's own socket (sent to it as a handle), and while it
    // does, closing the peer's descriptor would not end the stream (a peer can do that; see
    // SECURITY.md).
    ::shutdown(peer_.fd, SHUT_WR);
    if (sync_) {
      for (int i = 0; i < 4096; ++i) {
        std::error_code ec;
        ipc::message<T> m = ch_->template receive<T>(ec);
        if (!ec) take(m);
        else last_error = ec;
        if (ec == asio::error::eof || (ec && !ch_->is_open())) break;
      }
    } else {
      io_.run();
      if (!done_) fail("async receive did not finish after end of stream");
    }
    ch_.reset();
    ::close(peer_.fd);
  }

private:
  void arm()
  {
    ch_->template async_receive<T>([this](std::error_code ec, ipc::message<T> m) {
      if (!ec) take(m);
      else last_error = ec;
      // A payload that does not decode loses that message only; anything else ends the run.
      if (ec == asio::error::eof || !ch_->is_open() || ++receives_ >= 4096) {
        done_ = true;
        return;
      }
      arm();
    });
  }

  void take(ipc::message<T>& m)
  {
    ++delivered;
    if (m.handle_count() > ch_->options().max_handles) fail("more handles than max_handles");
    const auto ex = io_.get_executor();
    for (std::size_t i = 0; i < m.handle_count(); ++i) {
      std::error_code ec;
      switch ((actions_ + m.sequence() * 3 + i) % 6) {
      case 0: break; // left in the message, closed with it
      case 1: (void)m.take_handle(i, ec); break;
      case 2: (void)m.template take_handle<ipc::file>(i, ex, ec); break;
      case 3: {
        std::optional<ipc::shared_memory> sm = m.template take_handle<ipc::shared_memory>(i, ex, ec);
        // Read only sealed regions: an unsealed one may be shrunk under us (documented).
        if (sm && sm->sealed() && sm->size() != 0) {
          volatile std::byte b = sm->bytes()[sm->size() - 1];
          (void)b;
        }
        break;
      }
      case 4: (void)m.template take_handle<asio::local::stream_protocol::socket>(i, ex, ec); break;
      default: (void)m.template take_handle<ipc::channel<ipc::raw>>(i, ex, ec); break;
      }
    }
  }

  /// Writes all of @p bytes (descriptors with the first byte), letting an async receiver make
  /// room when the socket is full.
  void write(const std::vector<std::byte>& bytes, std::vector<int> fds)
  {
    std::size_t at = 0;
    int stalls = 0;
    while (at < bytes.size() || (at == 0 && !fds.empty())) {
      if (bytes.empty()) break; // descriptors need at least one byte to travel with
      const long n = peer_.write_some(bytes, at, at == 0 ? fds : std::vector<int>());
      if (n < 0) {
        stop_writing_ = true;
        break;
      }
      if (n == 0) {
        // Full: a sync receiver reads only after the peer is done, an async one may have
        // stopped for good; either way the rest of the input is not written.
        if (sync_ || done_ || ++stalls > 64) {
          stop_writing_ = true;
          break;
        }
        io_.poll();
        io_.restart();
        continue;
      }
      at += std::size_t(n);
    }
    for (int f : fds) ::close(f); // the receiver has its own copies (or none)
    if (!sync_) {
      io_.poll();
      io_.restart();
    }
  }

  void operation()
  {
    const std::uint8_t op = in_.u8();
    if ((op & 3) == 0 || (op & 3) == 3) {
      const std::size_t len = in_.u16() % 4097;
      std::vector<std::byte> bytes = in_.bytes(len);
      write(bytes, peer_.make_fds(in_, 0));
      if ((op & 3) == 0) return;
    }
    frame(op);
  }

  void frame(std::uint8_t op)
  {
    const std::uint8_t lies = in_.u8();
    const std::size_t handles = in_.u8() & 7;
    ipc::byte_buffer table;
    for (std::size_t i = 0; i < handles; ++i) {
      const std::uint8_t name = in_.u8();
      if (name < n_known) {
        (void)ipc::append_handle_entry(table, known_names[name]);
      } else {
        const std::vector<std::byte> n = in_.bytes(name - n_known);
        const std::string s(reinterpret_cast<const char*>(n.data()), n.size());
        (void)ipc::append_handle_entry(table, s);
      }
    }
    const std::size_t payload_size = in_.u16() % 4097;
    const std::vector<std::byte> payload = in_.bytes(payload_size);

    ipc::frame_header h;
    h.payload_size = static_cast<std::uint32_t>(payload.size());
    h.sequence = sequence_;
    h.handle_count = static_cast<std::uint16_t>(handles);
    h.table_size = static_cast<std::uint32_t>(table.size());
    if (lies & 1) h.sequence = sequence_ + 1 + in_.u8();
    if (lies & 2) {
      h.kind = static_cast<ipc::frame_kind>(in_.u8() % 5);
      h.flags = in_.u8() & 3; // keyed, or an unknown flag
    }
    if (lies & 4) h.table_size = static_cast<std::uint32_t>(table.size() + in_.u8()) - 128u;
    if (lies & 8) h.payload_size = std::uint32_t(in_.u16()) << (in_.u8() % 17);
    if (lies & 16) h.handle_count = in_.u16();
    ++sequence_;

    std::vector<std::byte> bytes(ipc::frame_header_size);
    ipc::encode_frame_header(h, bytes.data());
    bytes.insert(bytes.end(), table.data(), table.data() + table.size());
    bytes.insert(bytes.end(), payload.begin(), payload.end());
    std::vector<int> fds = peer_.make_fds(in_, handles);
    if ((op & 3) == 2) {
      const std::size_t split = in_.u16() % (bytes.size() + 1);
      std::vector<std::byte> first(bytes.begin(), bytes.begin() + long(split));
      std::vector<std::byte> second(bytes.begin() + long(split), bytes.end());
      write(first, std::move(fds));
      if (!stop_writing_) write(second, peer_.make_fds(in_, 0));
    } else {
      write(bytes, std::move(fds));
    }
  }

  reader& in_;
  std::uint8_t actions_;
  bool sync_;
  asio::io_context io_;
  peer peer_;
  std::optional<ipc::basic_channel<S>> ch_;
  std::uint32_t sequence_ = 1;
  bool stop_writing_ = false;
  bool done_ = false;
  int receives_ = 0;
};

} // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  using namespace fuzz;
  const int before = open_fds();
  {
    reader in(data, size);
    const std::uint8_t config = in.u8();
    const std::uint8_t actions = in.u8();
    switch (config & 3) {
    case 0: run<ipc::raw, std::string>(in, config, actions).go(); break;
    case 1: run<ipc::binary, record>(in, config, actions).go(); break;
    case 2: run<ipc::json, ipc::json_value>(in, config, actions).go(); break;
    default: run<ipc::raw, std::string_view>(in, config, actions).go(); break;
    }
  }
  const int after = open_fds();
  if (after != before) {
    std::fprintf(stderr, "channel_fuzz: %d descriptors open before, %d after\n", before, after);
    std::abort();
  }
  return 0;
}

#ifdef IPC_FUZZ_STANDALONE

namespace {

/// Builds seed inputs in the format above from real payloads.
struct seed_writer {
  std::vector<std::uint8_t> out;
  void u8(unsigned v) { out.push_back(static_cast<std::uint8_t>(v)); }
  void u16(unsigned v)
  {
    u8(v & 0xff);
    u8(v >> 8);
  }
  void bytes(std::span<const std::byte> b)
  {
    for (auto x : b) out.push_back(std::to_integer<std::uint8_t>(x));
  }
  void fds(unsigned spec, unsigned kinds)
  {
    u8(spec);
    u8(kinds);
  }
  /// A frame with @p names (indices into known_names) and @p payload, honest unless told.
  void frame(unsigned op, std::vector<unsigned> names, std::span<const std::byte> payload,
             unsigned lies = 0, unsigned split = 0)
  {
    u8(op);
    u8(lies);
    u8(unsigned(names.size()));
    for (unsigned n : names) u8(n);
    u16(unsigned(payload.size()));
    bytes(payload);
    if (lies & 1) u8(3);
    if (lies & 2) {
      u8(1);
      u8(0);
    }
    if (lies & 4) u8(130);
    if (lies & 8) {
      u16(0xffff);
      u8(16);
    }
    if (lies & 16) u16(300);
    fds(0x80, names.empty() ? 0 : 0x11);
    if ((op & 3) == 2) {
      u16(split);
      fds(0, 0);
    }
  }
};

template <class S, class T>
std::vector<std::byte> encoded(const T& value)
{
  ipc::byte_buffer b;
  S s;
  if (s.encode(value, b)) fuzz::fail("seed value does not encode");
  return {b.data(), b.data() + b.size()};
}

int write_seeds(const char* dir)
{
  const fuzz::record rec{"seed", {1, 2, 3}, std::map<std::string, std::int32_t>{{"k", 7}}};
  const auto bin = encoded<ipc::binary>(rec);
  const auto text = encoded<ipc::json>(ipc::json_value::object(
    {{"a", ipc::json_value::array({1, 2, ipc::json_value::object({{"b", nullptr}})})}, {"c", "d"}}));
  const std::string hello = "hello";
  const auto raw = std::as_bytes(std::span(hello));

  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> seeds;
  auto add = [&](std::string name, unsigned config, auto body) {
    seed_writer w;
    w.u8(config);
    w.u8(0);
    body(w);
    seeds.emplace_back(std::move(name), std::move(w.out));
  };
  const unsigned handles4 = 4u << 3;
  add("raw_two_frames", 0 | handles4, [&](seed_writer& w) {
    w.frame(1, {}, raw);
    w.frame(1, {0}, raw);
  });
  add("raw_sync_handles", 0 | 4 | handles4, [&](seed_writer& w) { w.frame(1, {0, 1, 2}, raw); });
  add("binary_split", 1 | handles4, [&](seed_writer& w) {
    w.frame(2, {2}, bin, 0, 7);
    w.frame(1, {3, 5}, bin);
  });
  add("json_values", 2 | handles4, [&](seed_writer& w) {
    w.frame(1, {}, text);
    w.frame(1, {0}, text);
  });
  add("view_lies", 3 | handles4, [&](seed_writer& w) {
    w.frame(1, {}, raw);
    w.frame(1, {0}, raw, 16);
  });
  add("bad_sequence", 0 | handles4, [&](seed_writer& w) { w.frame(1, {}, raw, 1); });
  add("oversized", 0 | 0x40 | handles4, [&](seed_writer& w) { w.frame(1, {}, raw, 8); });
  add("stray_descriptors", 0 | handles4, [&](seed_writer& w) {
    w.u8(0);
    w.u16(3);
    w.bytes(std::as_bytes(std::span("abc", 3)));
    w.fds(2, 0);
    w.frame(1, {}, raw);
  });
  add("garbage_then_frame", 2 | 4, [&](seed_writer& w) {
    w.u8(3);
    w.u16(4);
    w.bytes(std::as_bytes(std::span("IPC\x01", 4)));
    w.fds(0, 0);
    w.u8(0);
    w.u8(0);
    w.u16(0);
    w.fds(0, 0);
  });
  for (const auto& [name, bytes] : seeds) {
    std::ofstream file(std::string(dir) + "/" + name, std::ios::binary);
    file.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!file) return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc == 3 && std::string_view(argv[1]) == "--write-seeds") return write_seeds(argv[2]);
  for (int i = 1; i < argc; ++i) {
    std::ifstream file(argv[i], std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "channel_fuzz: cannot open %s\n", argv[i]);
      return 1;
    }
    const std::string bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    fuzz::delivered = 0;
    fuzz::last_error.clear();
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    std::printf("%s: %d messages, then %s\n", argv[i], fuzz::delivered,
                fuzz::last_error.message().c_str());
  }
  return 0;
}

#endif // IPC_FUZZ_STANDALONE
