#include "dataplane/schema/json_limits.h"

#include <string>

namespace finops::dp::json_limits {

int maxDepth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool inString = false;
  const char* p = text.data();
  const char* end = p + text.size();
  for (; p < end; ++p) {
    char c = *p;
    if (inString) {
      if (c == '\\') {
        if (++p == end) break;  // skip the escaped character, whatever it is
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        inString = true;
        break;
      case '{':
      case '[':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return limit + 1;
        }
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

size_t arrayLength(std::string_view arrayText) {
  size_t commas = 0;
  bool any = false;
  int depth = 0;
  bool inString = false;
  for (size_t i = 0; i < arrayText.size(); ++i) {
    char c = arrayText[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    switch (c) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        continue;
      case '"':
        inString = true;
        break;
      case '{':
      case '[':
        ++depth;
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      case ',':
        if (depth == 1) ++commas;
        break;
      default:
        break;
    }
    // Anything but whitespace and the outer brackets is part of an element.
    if (depth >= 1 && !(depth == 1 && (c == '[' || c == ','))) any = true;
  }
  return any ? commas + 1 : 0;
}

long long memberArrayLength(std::string_view text, const json_scan::Result& scan,
                            std::string_view key) {
  long long longest = -1;
  for (const auto& m : scan.members) {
    if (m.kind != 'a') continue;
    bool match = m.rawKey == key;
    if (!match && m.rawKey.find('\\') != std::string_view::npos && m.rawKey.data() > text.data()) {
      // Decode the key: it sits between quotes right around rawKey.
      json_scan::Member k;
      k.valueBegin = static_cast<size_t>(m.rawKey.data() - text.data()) - 1;
      k.valueEnd = k.valueBegin + m.rawKey.size() + 2;
      k.kind = 's';
      match = json_scan::stringValue(text, k) == key;
    }
    if (!match) continue;
    long long n =
        static_cast<long long>(arrayLength(text.substr(m.valueBegin, m.valueEnd - m.valueBegin)));
    if (n > longest) longest = n;
  }
  return longest;
}

}  // namespace finops::dp::json_limits
