#include "dataplane/upstream/eventstream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace finops::dp::eventstream {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// The test vector from the reference (made with @smithy/eventstream-codec).
const std::string kVector = unhex(
    "0000009f00000057c37babff0b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c7461"
    "0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74"
    "7970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b22"
    "74657874223a224869227d2c2270223a2261626364227df2ace5ff");

void appendBE(std::string& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A frame with the given raw headers section and payload, correct CRCs, and (when given)
// lengths that lie.
std::string rawFrame(const std::string& headers, const std::string& payload, int64_t totalLen = -1,
                     int64_t headersLen = -1) {
  std::string f;
  appendBE(f, totalLen >= 0 ? totalLen : 16 + headers.size() + payload.size(), 4);
  appendBE(f, headersLen >= 0 ? headersLen : headers.size(), 4);
  appendBE(f, crc32(f), 4);
  f += headers;
  f += payload;
  appendBE(f, crc32(f), 4);
  return f;
}

std::string stringHeader(std::string_view name, std::string_view value) {
  std::string h;
  h.push_back(static_cast<char>(name.size()));
  h += name;
  h.push_back(7);
  appendBE(h, value.size(), 2);
  h += value;
  return h;
}

struct Result {
  std::vector<Frame> frames;
  bool ok = true;
  bool finished = true;
  std::string error;
};

Result decode(std::string_view bytes, size_t piece = 0, Limits limits = {}) {
  Result r;
  Decoder d(limits);
  if (piece == 0) piece = bytes.size() ? bytes.size() : 1;
  for (size_t i = 0; i < bytes.size() && r.ok; i += piece)
    r.ok = d.feed(bytes.substr(i, piece), [&](Frame&& f) { r.frames.push_back(std::move(f)); });
  r.finished = d.finish();
  r.error = d.error();
  return r;
}

Frame allTypes() {
  Frame f;
  auto add = [&](std::string name, HeaderType type, int64_t number, std::string bytes = "") {
    f.headers.push_back({std::move(name), HeaderValue{type, number, std::move(bytes)}});
  };
  add("t", HeaderType::kTrue, 1);
  add("f", HeaderType::kFalse, 0);
  add("b", HeaderType::kByte, -2);
  add("s", HeaderType::kShort, -300);
  add("i", HeaderType::kInt, -70000);
  add("l", HeaderType::kLong, -5000000000LL);
  add("bytes", HeaderType::kBytes, 0, std::string("\x00\xff\x01", 3));
  add("str", HeaderType::kString, 0, "h\xc3\xa9llo");
  add("ts", HeaderType::kTimestamp, 1700000000123LL);
  add("uuid", HeaderType::kUuid, 0, std::string("0123456789abcdef"));
  f.payload = "{\"x\":1}";
  return f;
}

TEST(EventStreamCrc, MatchesZlib) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("6789", crc32("12345")), 0xCBF43926u);
  EXPECT_EQ(crc32(std::string_view(kVector).substr(0, 8)), 0xc37babffu);
  EXPECT_EQ(crc32(std::string_view(kVector).substr(0, kVector.size() - 4)), 0xf2ace5ffu);
}

void expectVectorFrame(const Frame& f) {
  ASSERT_EQ(f.headers.size(), 3u);
  EXPECT_EQ(f.headers[0].name, ":event-type");
  EXPECT_EQ(f.stringHeader(":event-type"), "contentBlockDelta");
  EXPECT_EQ(f.stringHeader(":content-type"), "application/json");
  EXPECT_EQ(f.stringHeader(":message-type"), "event");
  EXPECT_EQ(f.stringHeader(":missing"), "");
  EXPECT_EQ(f.header(":missing"), nullptr);
  EXPECT_EQ(f.payload, R"({"contentBlockIndex":0,"delta":{"text":"Hi"},"p":"abcd"})");
}

TEST(EventStreamDecoder, TestVectorWhole) {
  ASSERT_EQ(kVector.size(), 159u);
  Result r = decode(kVector);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.finished);
  ASSERT_EQ(r.frames.size(), 1u);
  expectVectorFrame(r.frames[0]);
}

TEST(EventStreamDecoder, TestVectorByteByByte) {
  Decoder d;
  std::vector<Frame> frames;
  for (size_t i = 0; i < kVector.size(); ++i) {
    ASSERT_TRUE(d.feed(std::string_view(kVector).substr(i, 1), [&](Frame&& f) {
      frames.push_back(std::move(f));
    })) << d.error();
    // The frame appears with its last byte, not before.
    EXPECT_EQ(frames.size(), i + 1 == kVector.size() ? 1u : 0u) << "after byte " << i;
    EXPECT_EQ(d.buffered(), i + 1 == kVector.size() ? 0u : i + 1);
  }
  EXPECT_TRUE(d.finish());
  ASSERT_EQ(frames.size(), 1u);
  expectVectorFrame(frames[0]);
}

TEST(EventStreamEncoder, ReproducesTheTestVector) {
  Frame f;
  f.headers.push_back({":event-type", HeaderValue::string("contentBlockDelta")});
  f.headers.push_back({":content-type", HeaderValue::string("application/json")});
  f.headers.push_back({":message-type", HeaderValue::string("event")});
  f.payload = R"({"contentBlockIndex":0,"delta":{"text":"Hi"},"p":"abcd"})";
  std::string out;
  ASSERT_TRUE(encode(f, out));
  EXPECT_EQ(out, kVector);
}

TEST(EventStreamDecoder, AllHeaderTypesRoundTrip) {
  Frame f = allTypes();
  std::string bytes;
  ASSERT_TRUE(encode(f, bytes));
  Result r = decode(bytes);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0], f);
  const Frame& g = r.frames[0];
  EXPECT_EQ(g.header("b")->number, -2);
  EXPECT_EQ(g.header("s")->number, -300);
  EXPECT_EQ(g.header("i")->number, -70000);
  EXPECT_EQ(g.header("l")->number, -5000000000LL);
  EXPECT_EQ(g.header("ts")->number, 1700000000123LL);
  EXPECT_EQ(g.header("t")->number, 1);
  EXPECT_EQ(g.header("uuid")->bytes, "0123456789abcdef");
  EXPECT_EQ(g.header("bytes")->bytes, std::string("\x00\xff\x01", 3));
  EXPECT_EQ(g.stringHeader("bytes"), "");  // not a string
}

TEST(EventStreamDecoder, SeveralFramesInOneChunkAndAtEverySplit) {
  Frame empty;  // no headers, no payload: the 16-byte minimum
  std::string bytes = kVector;
  ASSERT_TRUE(encode(allTypes(), bytes));
  ASSERT_TRUE(encode(empty, bytes));
  bytes += kVector;
  Result whole = decode(bytes);
  ASSERT_TRUE(whole.ok) << whole.error;
  ASSERT_EQ(whole.frames.size(), 4u);
  expectVectorFrame(whole.frames[0]);
  EXPECT_EQ(whole.frames[1], allTypes());
  EXPECT_EQ(whole.frames[2], empty);
  expectVectorFrame(whole.frames[3]);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    Decoder d;
    std::vector<Frame> frames;
    auto collect = [&](Frame&& f) { frames.push_back(std::move(f)); };
    ASSERT_TRUE(d.feed(std::string_view(bytes).substr(0, cut), collect));
    ASSERT_TRUE(d.feed(std::string_view(bytes).substr(cut), collect));
    ASSERT_TRUE(d.finish());
    ASSERT_EQ(frames, whole.frames) << "cut at " << cut;
  }
  for (size_t piece : {1, 3, 7, 64}) {
    Result r = decode(bytes, piece);
    EXPECT_TRUE(r.ok && r.finished) << r.error;
    EXPECT_EQ(r.frames, whole.frames) << "pieces of " << piece;
  }
}

// Decodes `bytes` (after one good frame) and expects the error to contain `what`.
void expectError(const std::string& bad, std::string_view what, Limits limits = {}) {
  for (size_t piece : {size_t{0}, size_t{1}}) {
    Result r = decode(kVector + bad, piece, limits);
    EXPECT_FALSE(r.ok) << "accepted; expected: " << what;
    EXPECT_FALSE(r.finished);
    ASSERT_EQ(r.frames.size(), 1u) << "the good frame before the bad one is delivered";
    EXPECT_NE(r.error.find("frame at byte 159: "), std::string::npos) << r.error;
    EXPECT_NE(r.error.find(what), std::string::npos)
        << "error: " << r.error << "\nexpected: " << what;
  }
}

TEST(EventStreamDecoder, RefusesCorruptedCrcs) {
  std::string bad = kVector;
  bad[5] ^= 0x01;  // headers_len: the prelude CRC no longer matches
  expectError(bad, "prelude CRC mismatch (computed 0x");
  bad = kVector;
  bad[9] ^= 0x40;  // the prelude CRC itself
  expectError(bad, "prelude CRC mismatch");
  bad = kVector;
  bad[100] ^= 0x20;  // a payload byte
  expectError(bad, "message CRC mismatch (computed 0x");
  bad = kVector;
  bad[20] ^= 0x01;  // a header byte
  expectError(bad, "message CRC mismatch");
  bad = kVector;
  bad.back() ^= 0x01;  // the message CRC itself
  expectError(bad, "message CRC mismatch (computed 0xf2ace5ff, frame says 0xf2ace5fe)");
}

TEST(EventStreamDecoder, RefusesBadLengths) {
  expectError(rawFrame("", "", 15), "total length 15 is less than the minimum of 16 bytes");
  expectError(rawFrame("", "", 0), "total length 0 is less than");
  expectError(rawFrame("", "x", 0xFFFFFFFF),
              "total length 4294967295 exceeds the limit of 16777216");
  Limits small;
  small.maxFrameBytes = 200;  // the good frame (159 bytes) fits
  expectError(rawFrame("", std::string(200, 'x')), "total length 216 exceeds the limit of 200",
              small);
  expectError(rawFrame("", "abcd", -1, 5), "headers length 5 does not fit in a frame of 20 bytes");
  expectError(rawFrame("", "", -1, 0xFFFFFFFF), "headers length 4294967295 does not fit");
  Limits fewHeaders;
  fewHeaders.maxHeadersBytes = 100;                             // the good frame's (87 bytes) fit
  std::string h = stringHeader("name", std::string(100, 'v'));  // 108 bytes
  expectError(rawFrame(h, ""), "headers length 108 exceeds the limit of 100 bytes", fewHeaders);
}

TEST(EventStreamDecoder, RefusesMalformedHeaders) {
  expectError(rawFrame(std::string("\0", 1), ""), "header #0 has an empty name");
  expectError(rawFrame(stringHeader("a", "1") + std::string("\x05xy", 3), ""),
              "header #1: the name (5 bytes) overruns the headers section");
  expectError(rawFrame(std::string("\x03"
                                   "abc",
                                   4),
                       "payload"),
              "header 'abc' has no value type");
  expectError(rawFrame(std::string("\x01"
                                   "a\x0a",
                                   3),
                       ""),
              "header 'a' has an unknown value type 10");
  expectError(rawFrame(std::string("\x01"
                                   "a\xff",
                                   3),
                       ""),
              "unknown value type 255");
  expectError(rawFrame(std::string("\x01"
                                   "a\x07\x00",
                                   4),
                       ""),
              "header 'a' (string): the value length overruns the headers section");
  expectError(rawFrame(std::string("\x01"
                                   "a\x07\x00\x05"
                                   "abc",
                                   7),
                       ""),
              "header 'a' (string): the value (5 bytes) overruns the headers section");
  expectError(rawFrame(std::string("\x01"
                                   "a\x06\xff\xff",
                                   5),
                       ""),
              "header 'a' (bytes): the value (65535 bytes) overruns");
  expectError(rawFrame(std::string("\x01"
                                   "a\x04\x00\x00\x01",
                                   6),
                       ""),
              "header 'a' (int): the value (4 bytes) overruns");
  expectError(rawFrame(std::string("\x01"
                                   "a\x05\x00",
                                   4),
                       ""),
              "header 'a' (long): the value (8 bytes)");
  expectError(rawFrame(std::string("\x01"
                                   "a\x09",
                                   3) +
                           "short",
                       ""),
              "header 'a' (uuid): the value (16 bytes)");
  expectError(rawFrame(std::string("\x01"
                                   "a\x08\x01",
                                   4),
                       ""),
              "header 'a' (timestamp)");
  expectError(rawFrame(std::string("\x01"
                                   "a\x03\x01",
                                   4),
                       ""),
              "header 'a' (short)");
  expectError(rawFrame(std::string("\x01"
                                   "a\x02",
                                   3),
                       ""),
              "header 'a' (byte)");
  expectError(rawFrame(stringHeader("a", "1") + stringHeader("a", "2"), ""),
              "duplicate header 'a'");
  expectError(rawFrame(stringHeader("a\xff", "1"), ""), "header #0: the name is not valid UTF-8");
  expectError(rawFrame(stringHeader("a", "\xc0\xaf"), ""),
              "header 'a' (string): the value is not valid UTF-8");
  expectError(rawFrame(stringHeader("a", "\xed\xa0\x80"), ""), "not valid UTF-8");  // a surrogate
  expectError(rawFrame(stringHeader("a", "\xf4\x90\x80\x80"), ""),
              "not valid UTF-8");                                               // > U+10FFFF
  expectError(rawFrame(stringHeader("a", "\xe2\x82"), ""), "not valid UTF-8");  // cut short
  // Bytes values are not text: anything goes.
  std::string bytesHeader(
      "\x01"
      "a\x06\x00\x02\xc0\xaf",
      7);
  Result r = decode(rawFrame(bytesHeader, ""));
  EXPECT_TRUE(r.ok) << r.error;
}

TEST(EventStreamDecoder, RefusesTruncatedStreams) {
  for (size_t keep : {size_t{1}, size_t{11}}) {
    Result r = decode(kVector + kVector.substr(0, keep));
    EXPECT_TRUE(r.ok);
    EXPECT_FALSE(r.finished);
    EXPECT_EQ(r.frames.size(), 1u);
    EXPECT_NE(r.error.find("frame at byte 159: the stream ends inside a frame prelude (" +
                           std::to_string(keep) + " of 12 bytes)"),
              std::string::npos)
        << r.error;
  }
  for (size_t keep : {size_t{12}, size_t{158}}) {
    Result r = decode(kVector.substr(0, keep));
    EXPECT_TRUE(r.ok);
    EXPECT_FALSE(r.finished);
    EXPECT_TRUE(r.frames.empty());
    EXPECT_NE(
        r.error.find("the stream ends inside a frame (" + std::to_string(keep) + " of 159 bytes)"),
        std::string::npos)
        << r.error;
  }
  Result empty = decode("");
  EXPECT_TRUE(empty.ok && empty.finished);
}

TEST(EventStreamDecoder, StaysFailedAfterAnError) {
  std::string bad = kVector;
  bad[100] ^= 0x20;
  Decoder d;
  int frames = 0;
  auto count = [&](Frame&&) { ++frames; };
  EXPECT_FALSE(d.feed(bad, count));
  std::string first = d.error();
  EXPECT_FALSE(d.feed(kVector, count));
  EXPECT_FALSE(d.finish());
  EXPECT_EQ(frames, 0);
  EXPECT_EQ(d.error(), first);
}

TEST(EventStreamDecoder, RefusesAPreludeBeforeTheRestArrives) {
  // A frame declaring 16 MiB + 1 is refused on its 12th byte, without waiting for the rest.
  std::string f = rawFrame("", "", 16 * 1024 * 1024 + 1);
  Decoder d;
  EXPECT_TRUE(d.feed(std::string_view(f).substr(0, 11), [](Frame&&) {}));
  EXPECT_FALSE(d.feed(std::string_view(f).substr(11, 1), [](Frame&&) {}));
  EXPECT_NE(d.error().find("exceeds the limit"), std::string::npos) << d.error();
}

TEST(EventStreamEncoder, RefusesWhatCannotBeEncoded) {
  std::string out = "keep";
  std::string error;
  Frame f;
  f.headers.push_back({"", HeaderValue::string("x")});
  EXPECT_FALSE(encode(f, out, &error));
  EXPECT_EQ(error, "header #0: the name must be 1 to 255 bytes");
  f.headers[0].name = std::string(256, 'n');
  EXPECT_FALSE(encode(f, out));
  f.headers[0].name = "a";
  f.headers.push_back({"a", HeaderValue::string("y")});
  EXPECT_FALSE(encode(f, out, &error));
  EXPECT_EQ(error, "duplicate header 'a'");
  f.headers.pop_back();
  f.headers[0].value.bytes.assign(65536, 'v');
  EXPECT_FALSE(encode(f, out));
  f.headers[0].value = HeaderValue{HeaderType::kUuid, 0, "short"};
  EXPECT_FALSE(encode(f, out, &error));
  EXPECT_EQ(error, "header 'a': a uuid is 16 bytes");
  f.headers[0].value = HeaderValue{static_cast<HeaderType>(10), 0, ""};
  EXPECT_FALSE(encode(f, out));
  EXPECT_EQ(out, "keep");
}

}  // namespace
}  // namespace finops::dp::eventstream
