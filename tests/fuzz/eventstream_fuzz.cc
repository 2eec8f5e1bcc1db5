// The AWS event-stream decoder (dataplane/upstream/eventstream.h), fed a Bedrock stream.
//
// Input: byte 0: bits 0-6 choose how the stream is split into pieces (fuzz_util.h pieces());
// bit 7 set: before decoding, the target rewrites both CRCs of every frame that its lengths
// delimit, so that the fuzzer gets past the CRC checks and into the headers. The rest is the
// stream.
// Checks: whole and split feeding give the same frames, the same verdict and the same error;
// every frame handed out re-encodes to exactly the bytes it came from (so its CRCs were
// right and nothing was lost or invented); a stream decoded without error and finished is
// exactly the concatenation of its frames; an error message is never empty.
#include <string>
#include <vector>

#include "dataplane/upstream/eventstream.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace es = finops::dp::eventstream;

struct Decoded {
  std::vector<es::Frame> frames;
  bool ok = false;
  bool finished = false;
  std::string error;
};

Decoded decode(const std::vector<std::string_view>& pieces, es::Limits limits) {
  Decoded r;
  es::Decoder d(limits);
  r.ok = true;
  for (std::string_view p : pieces) {
    r.ok = d.feed(p, [&](es::Frame&& f) { r.frames.push_back(std::move(f)); });
    if (!r.ok) break;
  }
  r.finished = d.finish();
  r.error = d.error();
  return r;
}

uint32_t readBE32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

void writeBE32(std::string& s, size_t at, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * (3 - i))) & 0xFF);
}

// Rewrites the prelude and message CRCs of each frame, following the declared lengths.
void fixCrcs(std::string& s) {
  size_t at = 0;
  while (s.size() - at >= 12) {
    writeBE32(s, at + 8, es::crc32(std::string_view(s).substr(at, 8)));
    const uint32_t total = readBE32(s, at);
    if (total < 16 || total > s.size() - at) return;
    writeBE32(s, at + total - 4, es::crc32(std::string_view(s).substr(at, total - 4)));
    at += total;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (flags & 0x80) fixCrcs(stream);

  // Small limits, so that the fuzzer reaches them with small inputs.
  es::Limits limits;
  limits.maxFrameBytes = 4096;
  limits.maxHeadersBytes = 1024;

  Decoded whole = decode({stream}, limits);
  Decoded split = decode(finops::fuzz::pieces(stream, flags & 0x7F), limits);
  FUZZ_CHECK(whole.ok == split.ok && whole.finished == split.finished,
             whole.error + " | " + split.error);
  FUZZ_CHECK(whole.error == split.error, whole.error + " | " + split.error);
  FUZZ_CHECK(whole.frames == split.frames, "whole and split feeding gave different frames");
  FUZZ_CHECK(whole.finished == whole.error.empty(), whole.error);

  std::string encoded;
  for (const es::Frame& f : whole.frames) {
    std::string why;
    FUZZ_CHECK(es::encode(f, encoded, &why), "a decoded frame cannot be encoded: " + why);
  }
  FUZZ_CHECK(std::string_view(stream).substr(0, encoded.size()) == encoded,
             "the frames handed out are not the bytes received");
  if (whole.finished) FUZZ_CHECK(encoded == stream, "a finished stream has bytes left over");

  // The default limits accept everything the small ones do.
  Decoded big = decode({stream}, es::Limits{});
  FUZZ_CHECK(big.frames.size() >= whole.frames.size(), big.error);
  for (size_t i = 0; i < whole.frames.size(); ++i)
    FUZZ_CHECK(big.frames[i] == whole.frames[i], "different frames with larger limits");
  return 0;
}
