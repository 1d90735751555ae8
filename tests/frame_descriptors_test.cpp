// tests/frame_descriptors_test.cpp - the frame reader matching descriptors that arrive out of
// band (SCM_RIGHTS) to their frames: POSIX only (on Windows handles travel in the table).
// SPDX-License-Identifier: BSL-1.0
#include "frame_support.hpp"

#include "support.hpp"

#include <fcntl.h>

#include <cstring>
#include <string>
#include <vector>

using namespace frame_test;

namespace {

int dev_null() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

} // namespace

BOOST_AUTO_TEST_SUITE(frame_descriptors)

BOOST_AUTO_TEST_CASE(a_keyed_frame_carries_its_key_before_the_handle_entries)
{
  auto keyed = [](std::string_view key, std::size_t claimed_key_size) {
    ipc::byte_buffer table;
    std::byte* p = table.extend(1 + key.size());
    ipc::write_connection_key(p, key);
    p[0] = static_cast<std::byte>(claimed_key_size);
    BOOST_REQUIRE(!ipc::append_handle_entry(table, "asio.tcp.socket"));
    ipc::frame_header h;
    h.payload_size = 2;
    h.sequence = 1;
    h.handle_count = 1;
    h.flags = ipc::frame_flag_keyed;
    h.table_size = static_cast<std::uint32_t>(table.size());
    std::vector<std::byte> out(ipc::frame_header_size + table.size() + 2, std::byte{'x'});
    ipc::encode_frame_header(h, out.data());
    std::memcpy(out.data() + ipc::frame_header_size, table.data(), table.size());
    return out;
  };
  {
    frame_reader r;
    int fd = dev_null();
    auto bytes = keyed("tcp 127.0.0.1:80 #1", 19);
    feed(r, bytes, {fd});
    incoming_frame f;
    std::error_code ec;
    BOOST_REQUIRE(r.next(f, ec));
    BOOST_TEST(f.key == "tcp 127.0.0.1:80 #1");
    std::string name;
    BOOST_TEST(!ipc::decode_handle_table(f.entries, 1, [&](const ipc::handle_entry& e) {
      name = e.type_name;
    }));
    BOOST_TEST(name == "asio.tcp.socket");
    BOOST_TEST(f.handles.size() == 1u);
  }
  for (std::size_t lie : {std::size_t{200}, std::size_t{18}}) { // past the table, or into it
    frame_reader r;
    auto bytes = keyed("tcp 127.0.0.1:80 #1", lie);
    feed(r, bytes, {dev_null()});
    incoming_frame f;
    std::error_code ec;
    BOOST_TEST(!r.next(f, ec));
    BOOST_TEST(ec == ipc::errc::malformed_frame);
  }
}

BOOST_AUTO_TEST_CASE(reader_matches_descriptors_to_their_frame)
{
  ipc_test::fd_guard guard;
  frame_reader r;
  auto f1 = make_frame(1, "no handles");
  auto f2 = make_frame(2, "two", 2);
  std::vector<std::byte> both(f1);
  both.insert(both.end(), f2.begin(), f2.end());
  feed(r, both, {dev_null(), dev_null()}); // one read, as the kernel may deliver it
  incoming_frame f;
  std::error_code ec;
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(f.handles.size() == 0u);
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(f.handles.size() == 2u);
  BOOST_TEST(text(f.payload) == "two");
}

BOOST_AUTO_TEST_CASE(reader_reports_descriptors_no_frame_claims_and_closes_them)
{
  ipc_test::fd_guard guard;
  {
    frame_reader r;
    feed(r, make_frame(1, "a"), {dev_null()}); // frame 1 claims none
    feed(r, make_frame(2, "b"));
    incoming_frame f;
    std::error_code ec;
    BOOST_TEST(r.next(f, ec));               // the batch may still belong to a later frame
    BOOST_TEST(!r.next(f, ec));
    BOOST_TEST(ec == ipc::errc::unexpected_handles);
  }
}

BOOST_AUTO_TEST_CASE(reader_reports_more_descriptors_than_claimed)
{
  ipc_test::fd_guard guard;
  frame_reader r;
  feed(r, make_frame(1, "a", 1), {dev_null(), dev_null()});
  incoming_frame f;
  std::error_code ec;
  BOOST_TEST(!r.next(f, ec));
  BOOST_TEST(ec == ipc::errc::unexpected_handles);
}

BOOST_AUTO_TEST_CASE(reader_reports_missing_descriptors)
{
  frame_reader r;
  feed(r, make_frame(1, "a", 2));
  incoming_frame f;
  std::error_code ec;
  BOOST_TEST(!r.next(f, ec));
  BOOST_TEST(ec == ipc::errc::handles_truncated);
}

BOOST_AUTO_TEST_CASE(internal_frames_behind_an_untaken_message_are_applied_once_in_order)
{
  // message 1, ack 2, message 3 (with a descriptor), nack 4, ack 5 (incomplete at first)
  ipc_test::fd_guard guard;
  frame_reader r;
  auto seq = [](std::uint32_t v) {
    std::string p(4, '\0');
    std::memcpy(p.data(), &v, 4); // little-endian hosts only, as the wire
    return p;
  };
  const auto ack5 = make_frame(5, seq(50), 0, ipc::frame_kind::ack);
  feed(r, make_frame(1, "first"));
  feed(r, make_frame(2, seq(20), 0, ipc::frame_kind::ack));
  feed(r, make_frame(3, "second", 1), {dev_null()});
  feed(r, make_frame(4, seq(40), 0, ipc::frame_kind::nack));
  feed(r, std::span(ack5).first(10));

  incoming_frame f;
  std::error_code ec;
  BOOST_TEST(!r.next(f, ec, /*internal_only=*/true)); // a user message is at the head
  BOOST_TEST(!ec);
  BOOST_TEST(r.message_at_head());
  std::vector<std::pair<int, std::uint32_t>> applied;
  auto apply = [&](const incoming_frame& g) {
    std::uint32_t v;
    std::memcpy(&v, g.payload.data(), 4);
    applied.emplace_back(int(g.header.kind), v);
    return std::error_code();
  };
  BOOST_TEST(!r.apply_ahead(apply));
  BOOST_TEST(applied.size() == 2u);
  BOOST_TEST((applied == std::vector<std::pair<int, std::uint32_t>>{
                {int(ipc::frame_kind::ack), 20u}, {int(ipc::frame_kind::nack), 40u}}));
  BOOST_TEST(!r.apply_ahead(apply)); // nothing twice
  BOOST_TEST(applied.size() == 2u);
  feed(r, std::span(ack5).subspan(10));
  BOOST_TEST(!r.apply_ahead(apply)); // resumes where it stopped
  BOOST_TEST(applied.size() == 3u);
  BOOST_TEST(applied.back().second == 50u);

  // The user's frames come out in order, with their descriptors; the applied ones never do.
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(text(f.payload) == "first");
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(text(f.payload) == "second");
  BOOST_TEST(f.handles.size() == 1u);
  BOOST_TEST(!r.next(f, ec));
  BOOST_TEST(!ec);
  BOOST_TEST(!r.mid_frame());
  // The sequence carries on after the skipped frames.
  feed(r, make_frame(6, "third"));
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(text(f.payload) == "third");
}

BOOST_AUTO_TEST_SUITE_END()
