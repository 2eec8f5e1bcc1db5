// A validating JSON scanner that builds no DOM: it checks a text against RFC 8259 (UTF-8
// included, no lone surrogates, bounded nesting) and records where the members of the
// top-level object are, so the request path can read or replace a few fields ("model",
// "stream") without parsing and re-serialising the whole body. Not thread-safe per object;
// the functions are pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace finops::dp::json_scan {

struct Member {
  std::string_view rawKey;  // the key between its quotes, escapes not decoded
  size_t valueBegin = 0;    // byte offsets of the value in the text
  size_t valueEnd = 0;
  char kind = 0;  // 's' string, 'n' number, 'o' object, 'a' array, 't' true, 'f' false, 'z' null
};

struct Result {
  bool ok = false;
  bool isObject = false;
  std::string error;            // when !ok
  std::vector<Member> members;  // members of the top-level object, in order
  const Member* find(std::string_view key) const;
};

// Scans `text`. `maxDepth` bounds object/array nesting.
Result scan(std::string_view text, int maxDepth = 128);

// The decoded value of a string member (handles escapes).
std::string stringValue(std::string_view text, const Member& m);

// Appends `s` as a JSON string literal (with quotes, escaped).
void appendString(std::string& out, std::string_view s);

// `text` with the value of member `m` replaced by `replacement` (raw JSON).
std::string splice(std::string_view text, const Member& m, std::string_view replacement);

}  // namespace finops::dp::json_scan
