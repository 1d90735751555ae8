// fuzz/frame_fuzz.cpp - libFuzzer target: arbitrary byte streams and descriptor batches into
// the frame reader, with internal frames applied ahead of untaken messages now and then (as a
// sender collecting verdicts does). Checks: no crash, no out-of-bounds read, no descriptor
// outlives the reader unless a frame handed it out, and every frame comes out once: applied
// ahead or taken, never both, in sequence order (numbering restarts at an internal frame
// numbered 1, as when the peer's end moved to another process).
// SPDX-License-Identifier: BSL-1.0
#include "ipc/detail/frame_reader.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  FuzzedDataProvider in(data, size);
  std::vector<int> created;
  {
    ipc::detail::frame_reader reader({in.ConsumeIntegralInRange<std::size_t>(0, 1 << 16),
                                      in.ConsumeIntegralInRange<std::size_t>(0, 8)});
    std::vector<int> fds;
    std::set<std::uint32_t> delivered; // sequence numbers of frames applied or taken
    // False if frame @p f came out before, in this numbering.
    auto first_time = [&](const ipc::detail::incoming_frame& f) {
      if (f.header.kind == ipc::frame_kind::internal && f.header.sequence == 1) delivered.clear();
      return delivered.insert(f.header.sequence).second;
    };
    bool broken = false;
    while (in.remaining_bytes() > 0 && !broken) {
      const auto len = in.ConsumeIntegralInRange<std::size_t>(0, 4096);
      const auto nfds = in.ConsumeIntegralInRange<int>(0, 3);
      std::vector<std::uint8_t> chunk = in.ConsumeBytes<std::uint8_t>(len);
      for (int i = 0; i < nfds; ++i) {
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) std::abort();
        created.push_back(fd);
        fds.push_back(fd);
      }
      std::size_t off = 0;
      do {
        auto space = reader.prepare();
        const std::size_t n = std::min(space.size(), chunk.size() - off);
        if (n) std::memcpy(space.data(), chunk.data() + off, n);
        reader.commit(n, fds);
        off += n;
      } while (off < chunk.size());
      ipc::detail::incoming_frame f;
      std::error_code ec;
      if (in.ConsumeBool()) {
        // A sender collecting verdicts: its own frames at the head, then those behind a
        // user message it has not taken.
        while (reader.next(f, ec, /*internal_only=*/true))
          if (f.header.kind == ipc::frame_kind::message || !first_time(f))
            std::abort();
        if (!ec && reader.message_at_head())
          ec = reader.apply_ahead([&](const ipc::detail::incoming_frame& g) {
            volatile std::uint8_t sink = 0;
            for (auto b : g.payload) sink = sink ^ std::to_integer<std::uint8_t>(b);
            (void)sink;
            if (g.header.kind == ipc::frame_kind::message || g.header.handle_count != 0 ||
                !first_time(g))
              std::abort();
            return std::error_code();
          });
        if (ec) break;
      }
      while (reader.next(f, ec)) {
        if (!first_time(f)) std::abort(); // applied ahead, or twice
        // Touch every byte the frame claims, so ASan checks the bounds.
        volatile std::uint8_t sink = 0;
        for (auto b : f.payload) sink = sink ^ std::to_integer<std::uint8_t>(b);
        for (auto b : f.table) sink = sink ^ std::to_integer<std::uint8_t>(b);
        if (f.handles.size() != f.header.handle_count) std::abort();
        (void)sink;
      }
      broken = static_cast<bool>(ec);
    }
  }
  // Every descriptor was owned by the reader or by a frame; all are gone now.
  for (int fd : created)
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) std::abort();
  return 0;
}
