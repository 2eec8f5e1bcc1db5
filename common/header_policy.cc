#include "common/header_policy.h"

#include <algorithm>
#include <array>

namespace finops {
namespace {

constexpr std::array<std::string_view, 6> kCredentials = {
    "authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "x-bf-vk", "cookie"};
constexpr std::array<std::string_view, 11> kHopByHop = {"connection",        "keep-alive",
                                                        "proxy-connection",  "te",
                                                        "trailer",           "transfer-encoding",
                                                        "upgrade",           "host",
                                                        "content-length",    "expect",
                                                        "proxy-authenticate"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool isHostnameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// "label(.label)*" with labels of [a-z0-9-]; `s` is lower case.
bool isHostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (isHostnameChar(c)) {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

bool isIpv6(std::string_view s) {
  if (s.size() < 2 || s.find(':') == std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
  });
}

// The parts of "scheme://host[:port]"; `wildcards` admits "*." before the host and ":*".
struct OriginParts {
  bool https = false;
  bool anySubdomain = false;
  std::string host;
  int32_t port = 0;  // -1: "*"
};

std::optional<OriginParts> parseOriginParts(std::string_view text, bool wildcards,
                                            std::string* error) {
  auto fail = [&](std::string why) -> std::optional<OriginParts> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  std::string lower = asciiLower(text);
  std::string_view s = lower;
  OriginParts p;
  if (s.starts_with("https://")) {
    p.https = true;
    s.remove_prefix(8);
  } else if (s.starts_with("http://")) {
    s.remove_prefix(7);
  } else {
    return fail("must start with http:// or https://");
  }
  if (s.find('/') != std::string_view::npos || s.find_first_of("?#") != std::string_view::npos)
    return fail("must not have a path, query or fragment (an origin is scheme://host[:port])");
  if (s.find('@') != std::string_view::npos) return fail("must not contain user info");
  if (wildcards && s.starts_with("*.")) {
    p.anySubdomain = true;
    s.remove_prefix(2);
  }
  std::string_view host, portText;
  bool hasPort = false;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return fail("has an unclosed '[' in its host");
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("has characters after its IPv6 host");
      hasPort = true;
      portText = rest.substr(1);
    }
    if (!isIpv6(host)) return fail("has an invalid IPv6 host");
    if (p.anySubdomain) return fail("cannot use '*.' with an IP address");
  } else {
    size_t colon = s.find(':');
    host = s.substr(0, colon);
    if (colon != std::string_view::npos) {
      hasPort = true;
      portText = s.substr(colon + 1);
    }
    if (host.empty()) return fail("has no host");
    if (host.find('*') != std::string_view::npos)
      return fail(wildcards ? "may use '*' only as '*.' at the start of the host, or as the port"
                            : "has an invalid host");
    if (!isHostname(host)) return fail("has an invalid host '" + std::string(host) + "'");
  }
  p.host = std::string(host);
  if (!hasPort) {
    p.port = p.https ? 443 : 80;
  } else if (wildcards && portText == "*") {
    p.port = -1;
  } else {
    if (portText.empty() || portText.size() > 5 ||
        !std::all_of(portText.begin(), portText.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return fail("has an invalid port '" + std::string(portText) + "'");
    int32_t port = std::stoi(std::string(portText));
    if (port < 1 || port > 65535) return fail("has a port out of range");
    p.port = port;
  }
  return p;
}

}  // namespace

std::vector<std::string> defaultAllowedHeaders() {
  return {"content-type", "authorization", "x-requested-with", "x-stainless-timeout", "x-api-key"};
}

std::vector<std::string> defaultAllowedOrigins() {
  return {"http://localhost:*",  "https://localhost:*", "http://127.0.0.1:*",
          "https://127.0.0.1:*", "http://[::1]:*",      "https://[::1]:*"};
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool isHttpToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool isCredentialHeader(std::string_view lowerName) { return contains(kCredentials, lowerName); }

bool isHopByHopHeader(std::string_view lowerName) { return contains(kHopByHop, lowerName); }

bool isNeverForwardedHeader(std::string_view lowerName) {
  return isCredentialHeader(lowerName) || isHopByHopHeader(lowerName) ||
         lowerName.starts_with("x-bf-") || lowerName.starts_with("x-finops-");
}

void HeaderMatcher::add(std::string_view lowerPattern) {
  if (lowerPattern == "*") {
    any_ = true;
  } else if (lowerPattern.size() > 1 && lowerPattern.back() == '*') {
    prefixes_.emplace_back(lowerPattern.substr(0, lowerPattern.size() - 1));
  } else if (!lowerPattern.empty()) {
    exact_.emplace(lowerPattern);
  }
}

bool HeaderMatcher::matches(std::string_view lowerName) const {
  if (lowerName.empty()) return false;
  if (any_) return true;
  if (exact_.find(lowerName) != exact_.end()) return true;
  for (const auto& p : prefixes_)
    if (lowerName.size() > p.size() && lowerName.starts_with(p)) return true;
  return false;
}

std::optional<OriginPattern> parseOriginPattern(std::string_view text, std::string* error) {
  text = trim(text);
  OriginPattern out;
  if (text == "*") {
    out.any = true;
    out.text = "*";
    return out;
  }
  std::string why;
  auto parts = parseOriginParts(text, true, &why);
  if (!parts) {
    if (error) *error = "'" + std::string(text) + "' " + why;
    return std::nullopt;
  }
  out.https = parts->https;
  out.anySubdomain = parts->anySubdomain;
  out.host = std::move(parts->host);
  out.port = parts->port;
  out.text = asciiLower(text);
  return out;
}

std::optional<Origin> parseOrigin(std::string_view text) {
  auto parts = parseOriginParts(trim(text), false, nullptr);
  if (!parts) return std::nullopt;
  return Origin{parts->https, std::move(parts->host), static_cast<uint16_t>(parts->port)};
}

bool originMatches(const OriginPattern& pattern, const Origin& origin) {
  if (pattern.any) return true;
  if (pattern.https != origin.https) return false;
  if (pattern.port != -1 && pattern.port != origin.port) return false;
  if (!pattern.anySubdomain) return origin.host == pattern.host;
  // "*.example.com": a.example.com, a.b.example.com; not example.com, not badexample.com.
  return origin.host.size() > pattern.host.size() + 1 && origin.host.ends_with(pattern.host) &&
         origin.host[origin.host.size() - pattern.host.size() - 1] == '.';
}

const char* settingListName(SettingList list) {
  switch (list) {
    case SettingList::kForwardHeaders:
      return "forward_headers";
    case SettingList::kAllowedHeaders:
      return "allowed_headers";
    case SettingList::kAllowedOrigins:
      return "allowed_origins";
    case SettingList::kExtraHeaders:
      return "extra_headers";
  }
  return "";
}

std::optional<std::string> normalizeSettingList(SettingList list,
                                                const std::vector<std::string>& in,
                                                std::vector<std::string>& out) {
  std::string name = settingListName(list);
  out.clear();
  if (in.size() > kMaxSettingEntries)
    return name + ": at most " + std::to_string(kMaxSettingEntries) + " entries, got " +
           std::to_string(in.size());
  for (const auto& raw : in) {
    std::string_view t = trim(raw);
    if (t.empty()) return name + ": empty entry";
    if (t.size() > kMaxSettingEntryLength)
      return name + ": entry longer than " + std::to_string(kMaxSettingEntryLength) + " characters";
    std::string entry;
    if (list == SettingList::kAllowedOrigins) {
      std::string error;
      auto p = parseOriginPattern(t, &error);
      if (!p)
        return name + ": " + error +
               " (an entry is '*' or scheme://host[:port], e.g. https://app.example.com, "
               "https://*.example.com, http://localhost:*)";
      entry = p->text;
    } else {
      entry = asciiLower(t);
      if (!isHttpToken(entry))
        return name + ": '" + entry +
               "' is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)";
      size_t star = entry.find('*');
      if (star != std::string::npos) {
        if (list == SettingList::kForwardHeaders)
          return name + ": '" + entry +
                 "': forward_headers takes exact header names; patterns ('*', 'x-*') are for "
                 "allowed_headers and extra_headers";
        if (star != entry.size() - 1)
          return name + ": '" + entry + "': '*' may only be used alone or at the end of a name";
      }
      if (list == SettingList::kForwardHeaders || list == SettingList::kExtraHeaders) {
        std::string_view stem = star == std::string::npos ? std::string_view(entry)
                                                          : std::string_view(entry).substr(0, star);
        bool forbidden =
            star == std::string::npos ? isNeverForwardedHeader(entry)
                                      : stem.starts_with("x-bf-") || stem.starts_with("x-finops-");
        if (forbidden)
          return name + ": '" + entry +
                 "' is never forwarded upstream (client credentials, connection and framing "
                 "headers, and the gateway's own x-bf-* and x-finops-* headers)";
      }
    }
    if (std::find(out.begin(), out.end(), entry) == out.end()) out.push_back(std::move(entry));
  }
  return std::nullopt;
}

}  // namespace finops
