// ipc/detail/frame_reader.hpp - reassembles frames and their descriptors from a byte stream.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_DETAIL_FRAME_READER_HPP
#define IPC_DETAIL_FRAME_READER_HPP

#include "ipc/platform/config.hpp"
#include "ipc/byte_buffer.hpp"
#include "ipc/frame.hpp"
#include "ipc/native_handle.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <span>
#include <system_error>
#include <vector>

IPC_BEGIN_NAMESPACE
namespace detail {

/// A complete frame; `table` and `payload` view the reader's buffer until the next `prepare`.
struct incoming_frame {
  frame_header header;
  std::span<const std::byte> table;   // the whole handle table
  std::string_view key;               // its connection key (keyed frames), else empty
  std::span<const std::byte> entries; // its entries, after the key
  std::span<const std::byte> payload;
  std::vector<native_handle> handles;
};

/// No I/O: the transport reads into `prepare()`, reports with `commit()`, and takes complete
/// frames from `next()`. Kept apart from the socket so that it can be fuzzed byte by byte.
///
/// Descriptor matching. The sender attaches a frame's descriptors to the frame's first byte, in
/// a `sendmsg` of its own, so the kernel hands them over in the `recvmsg` that returns that byte
/// (Linux never merges two descriptor-carrying writes into one read). Each batch of
/// descriptors is recorded with the stream range its read covered; the frame whose header
/// starts inside that range claims it and must claim all of it. A batch that ends before the
/// next frame starts was claimed by no frame: the peer is misbehaving, and the batch is closed.
class frame_reader {
public:
  /// Bytes read ahead beyond the frame in progress (small frames coalesce into one read).
  static constexpr std::size_t read_chunk = 64 * 1024;

  explicit frame_reader(frame_limits limits = {}) : limits_(limits) {}

  const frame_limits& limits() const noexcept { return limits_; }

  /// Where the next read should go; never empty. Invalidates views of earlier frames.
  ///
  /// With @p bounded, a read into a frame larger than `read_chunk` stops at that frame's end:
  /// reading past it would leave the next frame's first bytes at the end of the buffer, to be
  /// moved to the front (a copy of up to half of all bytes received, at 1 MiB frames). Without
  /// it the span is at least `read_chunk` bytes.
  std::span<std::byte> prepare(bool bounded = true)
  {
    delivered_end_ = 0; // views of earlier frames are invalidated from here on
    if (begin_ == buffer_.size()) {
      base_ += begin_;
      buffer_.clear();
      begin_ = 0;
    }
    const std::size_t have = buffer_.size() - begin_;
    // Grow towards the frame in progress geometrically, not in one step: a peer must send the
    // bytes it announces before it makes us allocate for them. Read a chunk past the frame so
    // that small frames coalesce into one read.
    std::size_t want = have + read_chunk;
    if (header_) {
      const std::size_t total = frame_size(*header_) + read_chunk;
      const std::size_t step = have * 2 > want ? have * 2 : want;
      want = total < step ? total : step;
    }
    if (begin_ + want > buffer_.capacity() && begin_ > 0) {
      base_ += begin_;
      buffer_.consume(begin_);
      begin_ = 0;
    }
    buffer_.reserve(begin_ + want);
    std::size_t room = buffer_.capacity() - buffer_.size();
    if (bounded && header_ && frame_size(*header_) > read_chunk) {
      const std::size_t left = frame_size(*header_) - (buffer_.size() - begin_);
      if (left < room) room = left;
    }
    return {buffer_.data() + buffer_.size(), room};
  }

  /// Free space after the buffered bytes, without moving or reallocating anything: for reads
  /// made while the user may still hold views of the last frame. May be empty.
  ///
  /// When every byte after the last user message handed out has been consumed (the channel's
  /// own frames), that space is reused: the views end before it. Without this, a sender that
  /// keeps reading verdicts while the user holds views would run out of room for them.
  std::span<std::byte> prepare_in_place() noexcept
  {
    if (begin_ == buffer_.size() && begin_ > delivered_end_ && batches_.empty() && applied_.empty()) {
      base_ += begin_ - delivered_end_;
      buffer_.resize(delivered_end_);
      begin_ = delivered_end_;
    }
    return {buffer_.data() + buffer_.size(), buffer_.capacity() - buffer_.size()};
  }

  /// Records @p n bytes read into the span from `prepare()` and the descriptors that came
  /// with them (ownership moves into the reader).
  void commit(std::size_t n, std::vector<native_handle::native_type>& handles)
  {
    const std::uint64_t start = base_ + buffer_.size();
    buffer_.resize(buffer_.size() + n);
    if (!handles.empty()) {
      batch b{{}, start, start + n};
      b.handles.reserve(handles.size());
      for (auto h : handles) b.handles.emplace_back(h);
      handles.clear();
      batches_.push_back(std::move(b));
      // Reads happen only while the frame in progress is incomplete, and Linux hands over at
      // most one sender's batch per read, so an honest peer leaves at most two batches here:
      // the frame in progress's and one for a frame that the last read began. More means a
      // peer attaching descriptors to the middle of a frame: refuse it now, before it makes us
      // hold an unbounded number of them.
      if (batches_.size() > 2) overflow_ = true;
    }
  }

  /// Takes the next complete frame. Returns false when more bytes are needed, or with @p ec set
  /// when the stream is broken (the reader must not be used afterwards). With @p internal_only,
  /// a complete user message is left in place (false is returned): the channel processes its
  /// own frames ahead of the next user message without taking that message.
  bool next(incoming_frame& out, std::error_code& ec, bool internal_only = false)
  {
    ec.clear();
    if (overflow_) {
      ec = errc::unexpected_handles;
      return false;
    }
    skip_applied();
    const std::size_t have = buffer_.size() - begin_;
    if (!header_) {
      if (have < frame_header_size) return false;
      frame_header h;
      ec = decode_frame_header(
        std::span<const std::byte, frame_header_size>(buffer_.data() + begin_, frame_header_size),
        limits_, h);
      if (ec) return false;
      if (h.sequence != expected_sequence_) {
        // A channel end that moved to another process numbers its frames afresh, starting
        // with the internal frame that announces it; the end that moved takes up the peer's
        // numbering wherever it has got to.
        if (any_sequence_ || (h.kind == frame_kind::internal && h.sequence == 1)) {
          expected_sequence_ = h.sequence;
        } else {
          ec = errc::malformed_frame;
          return false;
        }
      }
      any_sequence_ = false;
      header_ = h;
    }
    const frame_header& h = *header_;
    const std::size_t total = frame_size(h);
    if (have < total) return false;
    if (internal_only && h.kind == frame_kind::message) return false;

    const std::uint64_t frame_start = base_ + begin_;
    if (!batches_.empty() && batches_.front().end <= frame_start) {
      ec = errc::unexpected_handles;
      return false;
    }
    out.handles.clear();
    if constexpr (platform::traits::max_handle_blob > 0) {
      // The handles travel in the table's blobs (Windows): taken below, once the table is known
      // to be well formed.
    } else if (h.handle_count != 0) {
      if (batches_.empty() || batches_.front().start > frame_start) {
        ec = errc::handles_truncated;
        return false;
      }
      batch& b = batches_.front();
      if (b.handles.size() != h.handle_count) {
        ec = b.handles.size() > h.handle_count ? errc::unexpected_handles : errc::handles_truncated;
        return false;
      }
      out.handles = std::move(b.handles);
      batches_.pop_front();
    }
    ec = view_frame(begin_, h, out);
    if (!ec) ec = decode_handle_table(out.entries, h.handle_count, [](const handle_entry&) {});
    if constexpr (platform::traits::max_handle_blob > 0)
      if (!ec) ec = handles_from_table<platform::traits>(out.entries, h.handle_count, out.handles);
    if (ec) {
      out.handles.clear();
      return false;
    }
    begin_ += total;
    header_.reset();
    ++expected_sequence_;
    if (out.header.kind == frame_kind::message) delivered_end_ = begin_;
    return true;
  }

  /// Applies, through @p apply (`std::error_code(const incoming_frame&)`), the complete frames
  /// without handles other than user messages that are buffered behind the complete user
  /// message at the head, in stream order, and remembers them so that `next` passes over them
  /// later: a sender's verdicts and the channel's own questions and answers must not wait for
  /// the user to take a message first. Stops at the first frame that is incomplete, malformed
  /// or out of sequence (`next` reports it when it gets there). Returns the first error of
  /// @p apply (the stream is then broken).
  template <class Apply>
  std::error_code apply_ahead(Apply&& apply)
  {
    if (!header_ || header_->kind != frame_kind::message) return {};
    std::size_t at = begin_ + frame_size(*header_);
    std::uint32_t sequence = expected_sequence_ + 1;
    if (ahead_at_ > base_ + at) { // resume where the last scan stopped
      at = static_cast<std::size_t>(ahead_at_ - base_);
      sequence = ahead_sequence_;
    }
    while (buffer_.size() >= at && buffer_.size() - at >= frame_header_size) {
      frame_header h;
      if (decode_frame_header(std::span<const std::byte, frame_header_size>(buffer_.data() + at,
                                                                          frame_header_size),
                              limits_, h) ||
          h.sequence != sequence || buffer_.size() - at < frame_size(h))
        break;
      if (h.kind != frame_kind::message && h.handle_count == 0) {
        incoming_frame f;
        std::error_code ec = view_frame(at, h, f);
        if (!ec) ec = apply(static_cast<const incoming_frame&>(f));
        if (ec) return ec;
        applied_.push_back({base_ + at, base_ + at + frame_size(h)});
      }
      at += frame_size(h);
      ++sequence;
      ahead_at_ = base_ + at;
      ahead_sequence_ = sequence;
    }
    return {};
  }

  /// Descriptor batches read and not yet claimed by a frame (reading ahead stops at two: see
  /// `commit`).
  std::size_t unclaimed_batches() const noexcept { return batches_.size(); }

  /// True when the next frame (complete or not) is a user message.
  bool message_at_head() const noexcept
  {
    return header_ && header_->kind == frame_kind::message;
  }

  /// True when some bytes of an unfinished frame are buffered (end of stream now means the
  /// peer died mid-frame).
  bool mid_frame() const noexcept { return header_.has_value() || buffer_.size() != begin_; }

  /// Drops every buffered byte and closes every unclaimed descriptor.
  void clear() noexcept
  {
    batches_.clear();
    overflow_ = false;
    buffer_.clear();
    begin_ = 0;
    header_.reset();
    applied_.clear();
    ahead_at_ = 0;
    delivered_end_ = 0;
  }

  /// Bytes buffered and not yet handed out as frames.
  std::size_t buffered() const noexcept { return buffer_.size() - begin_; }

  /// The next frame may carry any sequence number, and numbering continues from it: for an end
  /// that moved here from another process, whose peer has numbered frames all along.
  void accept_any_sequence() noexcept { any_sequence_ = true; }

private:
  struct batch {
    std::vector<native_handle> handles;
    std::uint64_t start, end; // stream range of the read that delivered them
  };

  /// Takes ownership of the handles a table's blobs name (in-band transports only). Each is
  /// owned as soon as it is parsed, so a bad entry closes those before it.
  template <class Traits>
  static std::error_code handles_from_table(std::span<const std::byte> table, std::size_t count,
                                            std::vector<native_handle>& out)
  {
    std::error_code ec;
    out.reserve(count);
    (void)decode_handle_table(table, count, [&](const handle_entry& e) {
      if (ec) return;
      typename Traits::native_handle_type v{};
      Traits::handle_from_blob(e.blob, v, ec);
      if (ec == errc::handle_misdirected) {
        ec.clear();
        out.emplace_back(); // made for another process: the message says so when it is taken
      } else if (!ec) {
        out.emplace_back(v);
      }
    });
    return ec;
  }

  static std::size_t frame_size(const frame_header& h) noexcept
  {
    return frame_header_size + std::size_t{h.table_size} + std::size_t{h.payload_size};
  }

  /// The frame with header @p h at buffer offset @p at, as views (its handles are not taken).
  std::error_code view_frame(std::size_t at, const frame_header& h, incoming_frame& out) const
  {
    const std::byte* p = buffer_.data() + at + frame_header_size;
    out.header = h;
    out.table = {p, h.table_size};
    out.payload = {p + h.table_size, h.payload_size};
    return split_handle_table(h, out.table, out.key, out.entries);
  }

  /// Passes over the frames at the head that `apply_ahead` already applied (whole, well formed
  /// and in sequence when it did).
  void skip_applied() noexcept
  {
    while (!header_ && !applied_.empty() && applied_.front().start == base_ + begin_) {
      begin_ += static_cast<std::size_t>(applied_.front().end - applied_.front().start);
      ++expected_sequence_;
      applied_.pop_front();
    }
  }

  frame_limits limits_;
  byte_buffer buffer_;
  std::size_t begin_ = 0;   // first byte not yet handed out
  std::size_t delivered_end_ = 0; // end of the last user message handed out (views may reach it)
  std::uint64_t base_ = 0;  // stream offset of buffer_[0]
  std::optional<frame_header> header_;
  std::uint32_t expected_sequence_ = 1;
  bool any_sequence_ = false;
  std::deque<batch> batches_;
  struct applied_frame {
    std::uint64_t start, end; // stream range of a frame apply_ahead applied
  };
  std::deque<applied_frame> applied_;
  std::uint64_t ahead_at_ = 0;        // stream offset where apply_ahead stopped ...
  std::uint32_t ahead_sequence_ = 0;  // ... and the sequence number expected there
  bool overflow_ = false; // descriptors arrived faster than frames could claim them
};

} // namespace detail
IPC_END_NAMESPACE

#endif // IPC_DETAIL_FRAME_READER_HPP
