// AWS event-stream framing (`application/vnd.amazon.eventstream`, Bedrock ConverseStream):
// an incremental, validating decoder, and an encoder for tests and mock upstreams.
//
// A frame, all integers big-endian:
//
//   total_len u32 | headers_len u32 | prelude_crc u32 = CRC32(bytes 0..7)
//   headers: { name_len u8 | name | type u8 | value }...   (headers_len bytes)
//   payload (total_len - headers_len - 16 bytes) | message_crc u32 = CRC32(bytes 0..total_len-5)
//
// CRC32 is the IEEE 802.3 / zlib one. Header value types: 0 true, 1 false (no value bytes),
// 2 byte (i8), 3 short (i16), 4 int (i32), 5 long (i64), 6 bytes (u16 length + bytes),
// 7 string (u16 length + UTF-8), 8 timestamp (i64 milliseconds since the epoch), 9 uuid (16
// bytes).
//
// The decoder is strict: a frame is handed out only when both CRCs match, the lengths are
// consistent and within the limits, every header is well formed (non-empty UTF-8 name, known
// type, value inside the headers section, no duplicate name) and the headers fill their
// section exactly. The first error stops the decoder for good (the stream cannot be
// resynchronised). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace finops::dp::eventstream {

// CRC-32 with the IEEE polynomial (reflected 0xEDB88320), as zlib's crc32(): pass the previous
// result as `crc` to continue over several pieces (start with 0).
uint32_t crc32(std::string_view data, uint32_t crc = 0);

enum class HeaderType : uint8_t {
  kTrue = 0,
  kFalse = 1,
  kByte = 2,
  kShort = 3,
  kInt = 4,
  kLong = 5,
  kBytes = 6,
  kString = 7,
  kTimestamp = 8,
  kUuid = 9,
};

// The name of a type ("string", "uuid", ...), for messages.
std::string_view typeName(HeaderType type);

struct HeaderValue {
  HeaderType type = HeaderType::kString;
  // kTrue: 1, kFalse: 0; kByte, kShort, kInt, kLong: the (signed) value; kTimestamp:
  // milliseconds since the Unix epoch. 0 for the other types.
  int64_t number = 0;
  // kBytes: the raw bytes; kString: the UTF-8 text; kUuid: the 16 raw bytes. Empty otherwise.
  std::string bytes;

  static HeaderValue string(std::string s) { return {HeaderType::kString, 0, std::move(s)}; }
  bool operator==(const HeaderValue&) const = default;
};

struct Header {
  std::string name;  // UTF-8, 1..255 bytes
  HeaderValue value;
  bool operator==(const Header&) const = default;
};

struct Frame {
  std::vector<Header> headers;  // in wire order; names are unique
  std::string payload;

  // The header named `name`, or nullptr.
  const HeaderValue* header(std::string_view name) const;
  // The value of the string header `name`; "" when it is absent or not a string.
  std::string_view stringHeader(std::string_view name) const;
  bool operator==(const Frame&) const = default;
};

// Every frame has at least the prelude (12 bytes) and the message CRC (4 bytes).
inline constexpr size_t kMinFrameBytes = 16;

struct Limits {
  // Largest accepted frame, prelude and CRC included (AWS documents 16 MiB).
  size_t maxFrameBytes = 16 * 1024 * 1024;
  // Largest accepted headers section (AWS documents 128 KiB).
  size_t maxHeadersBytes = 128 * 1024;
};

// The bytes of `frame`. Returns false and leaves `out` untouched when the frame cannot be
// encoded: an empty name or one longer than 255 bytes, a duplicate name, a bytes or string
// value longer than 65535 bytes, a uuid that is not 16 bytes, an unknown type.
bool encode(const Frame& frame, std::string& out, std::string* error = nullptr);

class Decoder {
 public:
  explicit Decoder(Limits limits = {}) : limits_(limits) {}

  // Takes the next piece of the stream (any size, one byte included) and calls
  // `onFrame(Frame&&)` for every frame it completes, in order. Returns false when the stream
  // is malformed (then error() says where and why, and later calls do nothing and return
  // false); frames completed before the error have been handed out.
  template <typename F>
  bool feed(std::string_view chunk, F&& onFrame) {
    if (failed()) return false;
    buffer_.append(chunk.data(), chunk.size());
    for (;;) {
      Frame frame;
      Step s = next(frame);
      if (s == Step::kFrame) {
        onFrame(std::move(frame));
        continue;
      }
      compact();
      return s == Step::kNeedMore;
    }
  }

  // The stream ended. Returns false (with error() set) when it ended inside a frame or the
  // decoder had already failed.
  bool finish();

  bool failed() const { return !error_.empty(); }
  // Why the stream is malformed ("" while it is not), e.g.
  // "event-stream frame at byte 318: message CRC mismatch (computed 0x1a2b3c4d, frame says
  // 0x00000000)".
  const std::string& error() const { return error_; }
  // Bytes received but not yet part of a complete frame.
  size_t buffered() const { return buffer_.size() - pos_; }

 private:
  enum class Step { kFrame, kNeedMore, kError };
  Step next(Frame& out);
  Step fail(std::string message);
  bool parseHeaders(std::string_view section, Frame& out);
  void compact();

  Limits limits_;
  std::string buffer_;
  size_t pos_ = 0;          // start of the current frame in buffer_
  uint64_t streamPos_ = 0;  // offset of buffer_[pos_] in the whole stream
  bool preludeChecked_ = false;
  uint32_t totalLen_ = 0;
  uint32_t headersLen_ = 0;
  std::string error_;
};

}  // namespace finops::dp::eventstream
