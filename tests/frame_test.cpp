// tests/frame_test.cpp - the wire format and the frame reader, without any I/O and without
// descriptors: runs on every platform (descriptors out of band: frame_descriptors_test.cpp).
// SPDX-License-Identifier: BSL-1.0
#include "frame_support.hpp"

#include <cstring>
#include <string>
#include <vector>

using namespace frame_test;

BOOST_AUTO_TEST_SUITE(frame)

BOOST_AUTO_TEST_CASE(header_round_trips_and_is_little_endian)
{
  ipc::frame_header h{0x01020304u, 7, 2, ipc::frame_kind::ack, 0, 20};
  std::byte buf[ipc::frame_header_size];
  ipc::encode_frame_header(h, buf);
  BOOST_TEST(std::to_integer<int>(buf[0]) == 'I');
  BOOST_TEST(std::to_integer<int>(buf[4]) == 0x04);
  BOOST_TEST(std::to_integer<int>(buf[7]) == 0x01);
  ipc::frame_header d;
  BOOST_TEST(!ipc::decode_frame_header(std::span<const std::byte, 20>(buf), {1u << 30, 64}, d));
  BOOST_TEST(d.payload_size == h.payload_size);
  BOOST_TEST(d.sequence == 7u);
  BOOST_TEST(d.handle_count == 2);
  BOOST_TEST(d.table_size == 20u);
  BOOST_TEST((d.kind == ipc::frame_kind::ack));
}

BOOST_AUTO_TEST_CASE(header_with_top_bit_length_is_too_large_not_negative)
{
  ipc::frame_header h{0x80000000u, 1, 0, ipc::frame_kind::message, 0, 0};
  std::byte buf[ipc::frame_header_size];
  ipc::encode_frame_header(h, buf);
  ipc::frame_header d;
  BOOST_TEST(ipc::decode_frame_header(std::span<const std::byte, 20>(buf), {}, d) ==
             ipc::errc::message_too_large);
}

BOOST_AUTO_TEST_CASE(header_checks_magic_kind_flags_handles_and_table)
{
  auto check = [](auto mutate, ipc::errc expected) {
    ipc::frame_header h{4, 1, 1, ipc::frame_kind::message, 0, 9};
    std::byte buf[ipc::frame_header_size];
    ipc::encode_frame_header(h, buf);
    mutate(buf);
    ipc::frame_header d;
    const std::error_code ec =
      ipc::decode_frame_header(std::span<const std::byte, 20>(buf), {1024, 4}, d);
    if (expected == ipc::errc{}) BOOST_TEST(!ec, ec.message());
    else BOOST_TEST(ec == expected);
  };
  check([](std::byte* b) { b[0] = std::byte{'X'}; }, ipc::errc::protocol_mismatch);
  check([](std::byte* b) { b[3] = std::byte{2}; }, ipc::errc::protocol_mismatch);
  check([](std::byte* b) { b[14] = std::byte{9}; }, ipc::errc::malformed_frame);
  check([](std::byte* b) { b[15] = std::byte{2}; }, ipc::errc::malformed_frame); // unknown flag
  check([](std::byte* b) { b[15] = std::byte{1}; }, ipc::errc{});                // keyed: fine
  check([](std::byte* b) { b[15] = std::byte{1}, b[14] = std::byte{1}; },         // keyed ACK
        ipc::errc::malformed_frame);
  check([](std::byte* b) { b[15] = std::byte{1}, b[12] = std::byte{0}, b[16] = std::byte{0}; },
        ipc::errc::malformed_frame); // keyed without handles
  check([](std::byte* b) { b[12] = std::byte{5}; }, ipc::errc::too_many_handles);
  check([](std::byte* b) { b[16] = std::byte{2}; }, ipc::errc::malformed_frame);   // < 3 per entry
  check([](std::byte* b) { b[17] = std::byte{0x10}; }, ipc::errc::malformed_frame); // > max entry
}

BOOST_AUTO_TEST_CASE(handle_table_must_be_consumed_exactly)
{
  ipc::byte_buffer t;
  BOOST_REQUIRE(!ipc::append_handle_entry(t, "native"));
  BOOST_REQUIRE(!ipc::append_handle_entry(t, "asio.tcp.socket"));
  std::vector<std::string> names;
  BOOST_TEST(!ipc::decode_handle_table(t.span(), 2, [&](const ipc::handle_entry& e) {
    names.emplace_back(e.type_name);
  }));
  BOOST_TEST(names.size() == 2u);
  BOOST_TEST(names[1] == "asio.tcp.socket");
  auto nop = [](const ipc::handle_entry&) {};
  BOOST_TEST(ipc::decode_handle_table(t.span(), 1, nop) == ipc::errc::malformed_frame);
  BOOST_TEST(ipc::decode_handle_table(t.span(), 3, nop) == ipc::errc::malformed_frame);
  BOOST_TEST(ipc::decode_handle_table(t.span().first(t.size() - 1), 2, nop) ==
             ipc::errc::malformed_frame);
  BOOST_TEST(ipc::append_handle_entry(t, std::string(256, 'x')) ==
             ipc::errc::unrepresentable_value);
}

BOOST_AUTO_TEST_CASE(reader_reassembles_frames_split_at_every_byte)
{
  std::vector<std::byte> stream;
  for (std::uint32_t i = 1; i <= 3; ++i) {
    auto f = make_frame(i, std::string(i * 10, char('a' + i)));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    frame_reader r;
    std::vector<std::string> got;
    std::error_code ec;
    incoming_frame f;
    feed(r, std::span(stream).first(split));
    while (r.next(f, ec)) got.push_back(text(f.payload));
    BOOST_REQUIRE(!ec);
    feed(r, std::span(stream).subspan(split));
    while (r.next(f, ec)) got.push_back(text(f.payload));
    BOOST_REQUIRE(!ec);
    BOOST_REQUIRE_EQUAL(got.size(), 3u);
    BOOST_TEST(got[2] == std::string(30, 'd'));
    BOOST_TEST(!r.mid_frame());
  }
}

BOOST_AUTO_TEST_CASE(reader_rejects_out_of_order_sequence)
{
  frame_reader r;
  feed(r, make_frame(2, "x"));
  incoming_frame f;
  std::error_code ec;
  BOOST_TEST(!r.next(f, ec));
  BOOST_TEST(ec == ipc::errc::malformed_frame);
}

// A peer whose end moved to another process numbers afresh from an internal frame numbered 1;
// a user message numbered 1 out of turn is still malformed.
BOOST_AUTO_TEST_CASE(reader_restarts_its_count_at_an_internal_frame_numbered_one)
{
  frame_reader r;
  incoming_frame f;
  std::error_code ec;
  feed(r, make_frame(1, "a"));
  feed(r, make_frame(2, "b"));
  feed(r, make_frame(1, std::string(9, '\0'), 0, ipc::frame_kind::internal));
  feed(r, make_frame(2, "c"));
  for (const char* want : {"a", "b"}) {
    BOOST_REQUIRE(r.next(f, ec));
    BOOST_TEST(text(f.payload) == want);
  }
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST((f.header.kind == ipc::frame_kind::internal));
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(text(f.payload) == "c");

  feed(r, make_frame(1, "d"));
  BOOST_TEST(!r.next(f, ec));
  BOOST_TEST(ec == ipc::errc::malformed_frame);
}

// An end that moved here takes up its peer's numbering wherever it has got to, once.
BOOST_AUTO_TEST_CASE(a_moved_end_takes_up_the_peers_count_once)
{
  frame_reader r;
  r.accept_any_sequence();
  incoming_frame f;
  std::error_code ec;
  feed(r, make_frame(41, "a"));
  feed(r, make_frame(42, "b"));
  feed(r, make_frame(44, "skips one"));
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(f.header.sequence == 41u);
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(text(f.payload) == "b");
  BOOST_TEST(!r.next(f, ec));
  BOOST_TEST(ec == ipc::errc::malformed_frame);
}

BOOST_AUTO_TEST_CASE(reader_refuses_oversized_frame_before_buffering_it)
{
  frame_reader r({1024, 4});
  auto f = make_frame(1, std::string(2000, 'x'));
  feed(r, std::span(f).first(ipc::frame_header_size));
  incoming_frame out;
  std::error_code ec;
  BOOST_TEST(!r.next(out, ec));
  BOOST_TEST(ec == ipc::errc::message_too_large);
}

BOOST_AUTO_TEST_CASE(reader_grows_geometrically_toward_a_large_frame)
{
  // A header announcing 64 MiB must not make the reader allocate 64 MiB up front.
  frame_reader r({64u << 20, 4});
  ipc::frame_header h{64u << 20, 1, 0, ipc::frame_kind::message, 0, 0};
  std::byte buf[ipc::frame_header_size];
  ipc::encode_frame_header(h, buf);
  feed(r, std::span<const std::byte>(buf));
  incoming_frame out;
  std::error_code ec;
  BOOST_TEST(!r.next(out, ec));
  BOOST_TEST(!ec);
  BOOST_TEST(r.prepare().size() <= 4 * frame_reader::read_chunk);
}

BOOST_AUTO_TEST_CASE(applying_ahead_stops_at_a_bad_frame_which_next_reports)
{
  frame_reader r;
  feed(r, make_frame(1, "first"));
  feed(r, make_frame(3, "out of sequence", 0, ipc::frame_kind::ack));
  int applied = 0;
  BOOST_TEST(!r.apply_ahead([&](const incoming_frame&) {
    ++applied;
    return std::error_code();
  }));
  BOOST_TEST(applied == 0);
  incoming_frame f;
  std::error_code ec;
  BOOST_REQUIRE(r.next(f, ec));
  BOOST_TEST(!r.next(f, ec));
  BOOST_TEST(ec == ipc::errc::malformed_frame);
}

BOOST_AUTO_TEST_CASE(in_place_space_behind_a_delivered_message_is_reused_once_consumed)
{
  // A sender streaming handles reads verdicts in place while the user may hold views of the
  // last message it received: 10,000 ACK frames (far more than the buffer holds) must fit,
  // and the message's bytes must stay as they were.
  frame_reader r;
  feed(r, make_frame(1, "kept"));
  incoming_frame f;
  std::error_code ec;
  BOOST_REQUIRE(r.next(f, ec));
  const std::string_view view(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
  const std::size_t room = r.prepare_in_place().size();
  handle_list none;
  for (std::uint32_t seq = 2; seq < 10002; ++seq) {
    const auto ack = make_frame(seq, "aaaa", 0, ipc::frame_kind::ack);
    const auto space = r.prepare_in_place();
    BOOST_REQUIRE(space.size() >= ack.size());
    std::memcpy(space.data(), ack.data(), ack.size());
    r.commit(ack.size(), none);
    BOOST_REQUIRE(r.next(f, ec, /*internal_only=*/true));
  }
  BOOST_TEST(view == "kept");
  BOOST_TEST(r.prepare_in_place().size() == room);
}

BOOST_AUTO_TEST_SUITE_END()
