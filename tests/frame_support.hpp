// tests/frame_support.hpp - building and feeding frames for the frame reader's tests.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_TESTS_FRAME_SUPPORT_HPP
#define IPC_TESTS_FRAME_SUPPORT_HPP

#include "ipc/frame.hpp"
#include "ipc/detail/frame_reader.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace frame_test {

using ipc::detail::frame_reader;
using ipc::detail::incoming_frame;
using handle_list = std::vector<ipc::native_handle::native_type>;

/// Encodes a whole frame (header + table of "native" entries + payload).
inline std::vector<std::byte> make_frame(std::uint32_t seq, std::string_view payload, int handles = 0,
                                         ipc::frame_kind kind = ipc::frame_kind::message)
{
  ipc::byte_buffer table;
  for (int i = 0; i < handles; ++i) BOOST_REQUIRE(!ipc::append_handle_entry(table, "native"));
  ipc::frame_header h;
  h.payload_size = static_cast<std::uint32_t>(payload.size());
  h.sequence = seq;
  h.handle_count = static_cast<std::uint16_t>(handles);
  h.kind = kind;
  h.table_size = static_cast<std::uint32_t>(table.size());
  std::vector<std::byte> out(ipc::frame_header_size + table.size() + payload.size());
  ipc::encode_frame_header(h, out.data());
  if (!table.empty()) std::memcpy(out.data() + ipc::frame_header_size, table.data(), table.size());
  if (!payload.empty())
    std::memcpy(out.data() + ipc::frame_header_size + table.size(), payload.data(), payload.size());
  return out;
}

/// Feeds @p bytes to @p r as one read carrying @p fds (descriptors that arrived out of band).
inline void feed(frame_reader& r, std::span<const std::byte> bytes, handle_list fds = {})
{
  while (!bytes.empty() || !fds.empty()) {
    auto space = r.prepare();
    const std::size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    r.commit(n, fds);
    bytes = bytes.subspan(n);
  }
}

inline std::string text(std::span<const std::byte> s)
{
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

} // namespace frame_test

#endif // IPC_TESTS_FRAME_SUPPORT_HPP
