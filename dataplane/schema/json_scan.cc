#include "dataplane/schema/json_scan.h"

#include <cstdint>

namespace finops::dp::json_scan {
namespace {

class Scanner {
 public:
  Scanner(std::string_view text, int maxDepth, Result& out)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), maxDepth_(maxDepth),
        out_(out) {}

  bool run() {
    ws();
    if (p_ == end_) return fail("empty body");
    out_.isObject = *p_ == '{';
    if (!value(0)) return false;
    ws();
    if (p_ != end_) return fail("unexpected data after the JSON value");
    return true;
  }

 private:
  bool fail(const char* why) {
    if (out_.error.empty())
      out_.error = std::string(why) + " at byte " + std::to_string(p_ - begin_);
    return false;
  }
  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool value(int depth) {
    if (p_ == end_) return fail("unexpected end");
    switch (*p_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return string();
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      return fail("invalid literal");
    p_ += word.size();
    return true;
  }

  bool digits() {
    const char* s = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != s;
  }

  bool number() {
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_) return fail("invalid number");
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      digits();
    } else {
      return fail("invalid value");
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return fail("invalid number");
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return fail("invalid number");
    }
    return true;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(uint32_t& v) {
    if (end_ - p_ < 4) return fail("invalid \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex(p_[i]);
      if (h < 0) return fail("invalid \\u escape");
      v = v * 16 + static_cast<uint32_t>(h);
    }
    p_ += 4;
    return true;
  }

  bool string() {
    ++p_;  // opening quote
    while (p_ < end_) {
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return fail("control character in string");
      if (c == '\\') {
        ++p_;
        if (p_ == end_) break;
        char e = *p_++;
        if (e == 'u') {
          uint32_t v;
          if (!hex4(v)) return false;
          if (v >= 0xDC00 && v <= 0xDFFF) return fail("lone low surrogate");
          if (v >= 0xD800 && v <= 0xDBFF) {
            uint32_t lo;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("lone high surrogate");
            p_ += 2;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("invalid surrogate pair");
          }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                   e != 'r' && e != 't') {
          return fail("invalid escape");
        }
        continue;
      }
      if (c < 0x80) {
        ++p_;
        continue;
      }
      // Multi-byte UTF-8: reject overlongs, surrogates and code points past U+10FFFF.
      size_t n;
      uint32_t cp;
      if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
      } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
      } else {
        return fail("invalid UTF-8");
      }
      if (static_cast<size_t>(end_ - p_) < n) return fail("invalid UTF-8");
      for (size_t i = 1; i < n; ++i) {
        unsigned char cc = static_cast<unsigned char>(p_[i]);
        if ((cc & 0xC0) != 0x80) return fail("invalid UTF-8");
        cp = (cp << 6) | (cc & 0x3F);
      }
      if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
          (cp >= 0xD800 && cp <= 0xDFFF))
        return fail("invalid UTF-8");
      p_ += n;
    }
    return fail("unterminated string");
  }

  bool object(int depth) {
    if (depth > maxDepth_) return fail("nesting too deep");
    ++p_;
    ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      ws();
      if (p_ == end_ || *p_ != '"') return fail("expected a member name");
      const char* keyStart = p_ + 1;
      if (!string()) return false;
      std::string_view key(keyStart, static_cast<size_t>(p_ - 1 - keyStart));
      ws();
      if (p_ == end_ || *p_ != ':') return fail("expected ':'");
      ++p_;
      ws();
      const char* vStart = p_;
      char kind = 0;
      if (p_ < end_) {
        switch (*p_) {
          case '"': kind = 's'; break;
          case '{': kind = 'o'; break;
          case '[': kind = 'a'; break;
          case 't': kind = 't'; break;
          case 'f': kind = 'f'; break;
          case 'n': kind = 'z'; break;
          default: kind = 'n';
        }
      }
      if (!value(depth)) return false;
      if (depth == 1)
        out_.members.push_back(Member{key, static_cast<size_t>(vStart - begin_),
                                      static_cast<size_t>(p_ - begin_), kind});
      ws();
      if (p_ == end_) return fail("unterminated object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool array(int depth) {
    if (depth > maxDepth_) return fail("nesting too deep");
    ++p_;
    ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      ws();
      if (!value(depth)) return false;
      ws();
      if (p_ == end_) return fail("unterminated array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  int maxDepth_;
  Result& out_;
};

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

const Member* Result::find(std::string_view key) const {
  for (const auto& m : members)
    if (m.rawKey == key) return &m;
  return nullptr;
}

Result scan(std::string_view text, int maxDepth) {
  Result r;
  r.members.reserve(16);
  Scanner s(text, maxDepth, r);
  r.ok = s.run();
  if (!r.ok) r.members.clear();
  return r;
}

std::string stringValue(std::string_view text, const Member& m) {
  std::string_view raw = text.substr(m.valueBegin + 1, m.valueEnd - m.valueBegin - 2);
  if (raw.find('\\') == std::string_view::npos) return std::string(raw);
  // Escapes were validated by scan(); decode them.
  std::string out;
  auto hexv = [](char c) -> uint32_t {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out.push_back(raw[i]);
      continue;
    }
    char e = raw[++i];
    switch (e) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        uint32_t cp = 0;
        for (int k = 1; k <= 4; ++k) cp = cp * 16 + hexv(raw[i + k]);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo = 0;
          for (int k = 3; k <= 6; ++k) lo = lo * 16 + hexv(raw[i + k]);
          i += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default: out.push_back(e);
    }
  }
  return out;
}

void appendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

std::string splice(std::string_view text, const Member& m, std::string_view replacement) {
  std::string out;
  out.reserve(text.size() + replacement.size());
  out.append(text.substr(0, m.valueBegin));
  out.append(replacement);
  out.append(text.substr(m.valueEnd));
  return out;
}

}  // namespace finops::dp::json_scan
