#include "dataplane/upstream/eventstream.h"

#include <array>
#include <cstdio>

namespace finops::dp::eventstream {
namespace {

constexpr size_t kPreludeBytes = 12;
constexpr size_t kCrcBytes = 4;

constexpr std::array<uint32_t, 256> makeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = makeCrcTable();

uint64_t readBE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void appendBE(std::string& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// Sign-extends the low `bits` bits of `v`.
int64_t signExtend(uint64_t v, int bits) {
  if (bits == 64) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool validUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i <= static_cast<size_t>(extra)) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += extra + 1;
  }
  return true;
}

// Bytes of a fixed-size value, or -1 for the length-prefixed types, -2 for an unknown type.
int fixedSize(uint8_t type) {
  switch (static_cast<HeaderType>(type)) {
    case HeaderType::kTrue:
    case HeaderType::kFalse:
      return 0;
    case HeaderType::kByte:
      return 1;
    case HeaderType::kShort:
      return 2;
    case HeaderType::kInt:
      return 4;
    case HeaderType::kLong:
    case HeaderType::kTimestamp:
      return 8;
    case HeaderType::kUuid:
      return 16;
    case HeaderType::kBytes:
    case HeaderType::kString:
      return -1;
  }
  return -2;
}

}  // namespace

uint32_t crc32(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (char ch : data) crc = kCrcTable[(crc ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::string_view typeName(HeaderType type) {
  switch (type) {
    case HeaderType::kTrue:
      return "true";
    case HeaderType::kFalse:
      return "false";
    case HeaderType::kByte:
      return "byte";
    case HeaderType::kShort:
      return "short";
    case HeaderType::kInt:
      return "int";
    case HeaderType::kLong:
      return "long";
    case HeaderType::kBytes:
      return "bytes";
    case HeaderType::kString:
      return "string";
    case HeaderType::kTimestamp:
      return "timestamp";
    case HeaderType::kUuid:
      return "uuid";
  }
  return "unknown";
}

const HeaderValue* Frame::header(std::string_view name) const {
  for (const Header& h : headers)
    if (h.name == name) return &h.value;
  return nullptr;
}

std::string_view Frame::stringHeader(std::string_view name) const {
  const HeaderValue* v = header(name);
  return v && v->type == HeaderType::kString ? std::string_view(v->bytes) : std::string_view();
}

bool encode(const Frame& frame, std::string& out, std::string* error) {
  auto refuse = [&](std::string why) {
    if (error) *error = std::move(why);
    return false;
  };
  std::string headers;
  for (size_t i = 0; i < frame.headers.size(); ++i) {
    const Header& h = frame.headers[i];
    if (h.name.empty() || h.name.size() > 255)
      return refuse("header #" + std::to_string(i) + ": the name must be 1 to 255 bytes");
    for (size_t j = 0; j < i; ++j)
      if (frame.headers[j].name == h.name) return refuse("duplicate header '" + h.name + "'");
    headers.push_back(static_cast<char>(h.name.size()));
    headers.append(h.name);
    const auto type = static_cast<uint8_t>(h.value.type);
    const int size = fixedSize(type);
    if (size == -2) return refuse("header '" + h.name + "': unknown type");
    headers.push_back(static_cast<char>(type));
    if (size == -1) {
      if (h.value.bytes.size() > 0xFFFF)
        return refuse("header '" + h.name + "': value longer than 65535 bytes");
      appendBE(headers, h.value.bytes.size(), 2);
      headers.append(h.value.bytes);
    } else if (h.value.type == HeaderType::kUuid) {
      if (h.value.bytes.size() != 16) return refuse("header '" + h.name + "': a uuid is 16 bytes");
      headers.append(h.value.bytes);
    } else if (size > 0) {
      appendBE(headers, static_cast<uint64_t>(h.value.number), size);
    }
  }
  const uint64_t total = kPreludeBytes + headers.size() + frame.payload.size() + kCrcBytes;
  if (total > 0xFFFFFFFFu) return refuse("frame larger than 4 GiB");
  const size_t start = out.size();
  appendBE(out, total, 4);
  appendBE(out, headers.size(), 4);
  appendBE(out, crc32(std::string_view(out).substr(start, 8)), 4);
  out.append(headers);
  out.append(frame.payload);
  appendBE(out, crc32(std::string_view(out).substr(start)), 4);
  return true;
}

Decoder::Step Decoder::fail(std::string message) {
  error_ = "event-stream frame at byte " + std::to_string(streamPos_) + ": " + message;
  return Step::kError;
}

Decoder::Step Decoder::next(Frame& out) {
  const size_t avail = buffer_.size() - pos_;
  const char* p = buffer_.data() + pos_;
  if (!preludeChecked_) {
    if (avail < kPreludeBytes) return Step::kNeedMore;
    const uint32_t total = static_cast<uint32_t>(readBE(p, 4));
    const uint32_t headers = static_cast<uint32_t>(readBE(p + 4, 4));
    const uint32_t wantCrc = static_cast<uint32_t>(readBE(p + 8, 4));
    // The CRC first: when it is wrong the lengths mean nothing.
    if (uint32_t crc = crc32(std::string_view(p, 8)); crc != wantCrc)
      return fail("prelude CRC mismatch (computed " + hex32(crc) + ", frame says " +
                  hex32(wantCrc) + ")");
    if (total < kMinFrameBytes)
      return fail("total length " + std::to_string(total) + " is less than the minimum of " +
                  std::to_string(kMinFrameBytes) + " bytes");
    if (total > limits_.maxFrameBytes)
      return fail("total length " + std::to_string(total) + " exceeds the limit of " +
                  std::to_string(limits_.maxFrameBytes) + " bytes");
    if (headers > total - kMinFrameBytes)
      return fail("headers length " + std::to_string(headers) + " does not fit in a frame of " +
                  std::to_string(total) + " bytes");
    if (headers > limits_.maxHeadersBytes)
      return fail("headers length " + std::to_string(headers) + " exceeds the limit of " +
                  std::to_string(limits_.maxHeadersBytes) + " bytes");
    totalLen_ = total;
    headersLen_ = headers;
    preludeChecked_ = true;
  }
  if (avail < totalLen_) return Step::kNeedMore;
  const std::string_view frame(p, totalLen_);
  const uint32_t wantCrc = static_cast<uint32_t>(readBE(p + totalLen_ - kCrcBytes, 4));
  if (uint32_t crc = crc32(frame.substr(0, totalLen_ - kCrcBytes)); crc != wantCrc)
    return fail("message CRC mismatch (computed " + hex32(crc) + ", frame says " + hex32(wantCrc) +
                ")");
  if (!parseHeaders(frame.substr(kPreludeBytes, headersLen_), out)) return Step::kError;
  const size_t payloadBegin = kPreludeBytes + headersLen_;
  out.payload.assign(frame.substr(payloadBegin, totalLen_ - kCrcBytes - payloadBegin));
  pos_ += totalLen_;
  streamPos_ += totalLen_;
  preludeChecked_ = false;
  return Step::kFrame;
}

bool Decoder::parseHeaders(std::string_view s, Frame& out) {
  size_t i = 0;
  while (i < s.size()) {
    const std::string index = "header #" + std::to_string(out.headers.size());
    const size_t nameLen = static_cast<unsigned char>(s[i++]);
    if (nameLen == 0) {
      fail(index + " has an empty name");
      return false;
    }
    if (s.size() - i < nameLen) {
      fail(index + ": the name (" + std::to_string(nameLen) +
           " bytes) overruns the headers section");
      return false;
    }
    std::string_view name = s.substr(i, nameLen);
    i += nameLen;
    if (!validUtf8(name)) {
      fail(index + ": the name is not valid UTF-8");
      return false;
    }
    const std::string quoted = "header '" + std::string(name) + "'";
    if (out.header(name)) {
      fail("duplicate " + quoted);
      return false;
    }
    if (i == s.size()) {
      fail(quoted + " has no value type (the headers section ends)");
      return false;
    }
    const auto type = static_cast<uint8_t>(s[i++]);
    const int size = fixedSize(type);
    if (size == -2) {
      fail(quoted + " has an unknown value type " + std::to_string(type));
      return false;
    }
    Header h;
    h.name.assign(name);
    h.value.type = static_cast<HeaderType>(type);
    const std::string what = quoted + " (" + std::string(typeName(h.value.type)) + ")";
    if (size == -1) {
      if (s.size() - i < 2) {
        fail(what + ": the value length overruns the headers section");
        return false;
      }
      const size_t len = readBE(s.data() + i, 2);
      i += 2;
      if (s.size() - i < len) {
        fail(what + ": the value (" + std::to_string(len) + " bytes) overruns the headers section");
        return false;
      }
      h.value.bytes.assign(s.substr(i, len));
      i += len;
      if (h.value.type == HeaderType::kString && !validUtf8(h.value.bytes)) {
        fail(what + ": the value is not valid UTF-8");
        return false;
      }
    } else {
      if (s.size() - i < static_cast<size_t>(size)) {
        fail(what + ": the value (" + std::to_string(size) +
             " bytes) overruns the headers section");
        return false;
      }
      if (h.value.type == HeaderType::kUuid) {
        h.value.bytes.assign(s.substr(i, 16));
      } else if (h.value.type == HeaderType::kTrue) {
        h.value.number = 1;
      } else if (size > 0) {
        h.value.number = signExtend(readBE(s.data() + i, size), size * 8);
      }
      i += size;
    }
    out.headers.push_back(std::move(h));
  }
  return true;
}

void Decoder::compact() {
  // Drop consumed frames; keep at most one partial frame.
  if (pos_ == 0) return;
  buffer_.erase(0, pos_);
  pos_ = 0;
}

bool Decoder::finish() {
  if (failed()) return false;
  const size_t left = buffer_.size() - pos_;
  if (left == 0) return true;
  if (!preludeChecked_) {
    fail("the stream ends inside a frame prelude (" + std::to_string(left) + " of " +
         std::to_string(kPreludeBytes) + " bytes)");
  } else {
    fail("the stream ends inside a frame (" + std::to_string(left) + " of " +
         std::to_string(totalLen_) + " bytes)");
  }
  return false;
}

}  // namespace finops::dp::eventstream
