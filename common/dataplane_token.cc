#include "common/dataplane_token.h"

#include <algorithm>
#include <cstdio>

#include "common/process.h"

namespace finops {
namespace {

constexpr size_t kMaxFileBytes = 64 * 1024;

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Empty, or why `t` (trimmed, not empty) is not a token. Never quotes `t`.
std::string checkToken(std::string_view t) {
  if (t.size() < kMinDataPlaneTokenChars)
    return "a token must have at least " + std::to_string(kMinDataPlaneTokenChars) +
           " characters (this one has " + std::to_string(t.size()) +
           "); make one with: openssl rand -hex 32";
  if (t.size() > kMaxDataPlaneTokenChars)
    return "a token may have at most " + std::to_string(kMaxDataPlaneTokenChars) + " characters";
  for (char c : t) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e)
      return "a token may hold only printable ASCII characters, without spaces";
  }
  return {};
}

// Reads a token file (at most 64 KiB). Adds a warning when other users may read it.
std::optional<std::string> readTokenFile(const std::string& path, const std::string& source,
                                         std::vector<std::string>& warnings, std::string* error) {
  SmallFile f = readSmallFile(path, kMaxFileBytes);
  if (!f.ok()) {
    if (error)
      *error = source + ": " +
               (f.error == SmallFile::Error::kTooLarge
                    ? "is larger than 64 KiB; it should hold tokens only"
                    : f.why());
    return std::nullopt;
  }
  if (f.mode & 07) {
    warnings.push_back("the data-plane token file " + path +
                       " is accessible by other users (mode " + octalMode(f.mode) +
                       "); restrict it: chmod 600 " + path);
  }
  return std::move(f.text);
}

}  // namespace

std::optional<std::vector<std::string>> parseDataPlaneTokens(std::string_view text,
                                                             std::string_view source,
                                                             std::string* error) {
  std::vector<std::string> out;
  size_t lineNo = 0;
  for (size_t pos = 0; pos <= text.size();) {
    ++lineNo;
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (trim(line).starts_with("#")) continue;
    for (size_t start = 0;;) {
      size_t comma = line.find(',', start);
      std::string_view entry =
          trim(line.substr(start, comma == std::string_view::npos ? line.npos : comma - start));
      if (!entry.empty()) {
        if (std::string why = checkToken(entry); !why.empty()) {
          if (error) *error = std::string(source) + ": line " + std::to_string(lineNo) + ": " + why;
          return std::nullopt;
        }
        if (std::find(out.begin(), out.end(), entry) == out.end()) out.emplace_back(entry);
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  if (out.empty()) {
    if (error) *error = std::string(source) + ": holds no token";
    return std::nullopt;
  }
  return out;
}

std::optional<DataPlaneTokens> loadDataPlaneTokens(const std::string& file,
                                                   const std::optional<std::string>& env,
                                                   std::string_view flag, std::string* error) {
  DataPlaneTokens out;
  if (!file.empty() && env) {
    if (error)
      *error = std::string(flag) + " and " + std::string(kDataPlaneTokenEnv) +
               " are both given; use one";
    return std::nullopt;
  }
  if (!file.empty()) {
    out.source = std::string(flag) + " " + file;
    auto text = readTokenFile(file, out.source, out.warnings, error);
    if (!text) return std::nullopt;
    auto tokens = parseDataPlaneTokens(*text, out.source, error);
    if (!tokens) return std::nullopt;
    out.tokens = std::move(*tokens);
  } else if (env) {
    out.source = std::string(kDataPlaneTokenEnv);
    if (trim(*env).empty()) {
      if (error) *error = out.source + " is set but empty";
      return std::nullopt;
    }
    auto tokens = parseDataPlaneTokens(*env, out.source, error);
    if (!tokens) return std::nullopt;
    out.tokens = std::move(*tokens);
  }
  return out;
}

}  // namespace finops
