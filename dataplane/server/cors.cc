#include "dataplane/server/cors.h"

#include <algorithm>

namespace finops::dp::cors {

const std::string_view kExposeHeaders =
    "x-request-id, request-id, x-finops-overhead-us, retry-after, retry-after-ms, x-should-retry, "
    "x-ratelimit-limit-requests, x-ratelimit-limit-tokens, x-ratelimit-limit-budget, "
    "x-ratelimit-limit-concurrency, x-ratelimit-remaining-requests, "
    "x-ratelimit-remaining-tokens, x-ratelimit-remaining-budget, "
    "x-ratelimit-remaining-concurrency, x-ratelimit-reset-requests, x-ratelimit-reset-tokens, "
    "x-ratelimit-reset-budget, x-ratelimit-reset-concurrency";

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Request headers browsers treat as safe: they need no allowed_headers entry.
bool isSafelisted(std::string_view lowerName) {
  return lowerName == "accept" || lowerName == "accept-language" || lowerName == "content-language";
}

Headers originHeaders(std::string_view origin, OriginMatch m) {
  Headers h;
  h.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  if (m == OriginMatch::kExplicit) h.emplace_back("Access-Control-Allow-Credentials", "true");
  return h;
}

Decision refuseOrigin(std::string_view origin) {
  Decision d;
  d.code = "cors_origin_not_allowed";
  d.message = "Origin '" + std::string(origin) +
              "' is not allowed to call this gateway from a browser (setting allowed_origins).";
  if (parseOrigin(origin))
    d.message += " An admin can allow it with: finopsctl settings set allowed_origins=+" +
                 asciiLower(trim(origin));
  else
    d.message += " Only an allowed_origins entry '*' admits this origin.";
  return d;
}

std::string quotedList(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) {
    if (!s.empty()) s += ", ";
    s += "'" + i + "'";
  }
  return s;
}

}  // namespace

OriginMatch matchOrigin(const std::vector<OriginPattern>& allowed, std::string_view origin) {
  if (trim(origin).empty()) return OriginMatch::kNone;
  auto parsed = parseOrigin(origin);
  bool any = false;
  for (const auto& p : allowed) {
    if (p.any) {
      any = true;
    } else if (parsed && originMatches(p, *parsed)) {
      return OriginMatch::kExplicit;
    }
  }
  return any ? OriginMatch::kAny : OriginMatch::kNone;
}

Decision preflight(const std::vector<OriginPattern>& origins, const HeaderMatcher& allowedHeaders,
                   std::string_view origin, std::string_view method,
                   std::string_view requestHeaders) {
  OriginMatch m = matchOrigin(origins, origin);
  if (m == OriginMatch::kNone) return refuseOrigin(origin);
  Decision d;
  method = trim(method);
  bool methodOk = false;
  for (std::string_view allowed : {"GET", "POST", "DELETE", "OPTIONS"})
    if (method == allowed) methodOk = true;
  if (!methodOk) {
    d.code = "cors_method_not_allowed";
    d.message = "Method '" + std::string(method) +
                "' is not allowed from a browser (allowed: " + std::string(kAllowMethods) + ").";
    return d;
  }
  std::vector<std::string> requested, refused, suggestions;
  while (!requestHeaders.empty()) {
    size_t comma = requestHeaders.find(',');
    std::string name = asciiLower(trim(requestHeaders.substr(0, comma)));
    requestHeaders =
        comma == std::string_view::npos ? std::string_view{} : requestHeaders.substr(comma + 1);
    if (name.empty()) continue;
    if (!isHttpToken(name) || (!isSafelisted(name) && !allowedHeaders.matches(name))) {
      std::string suggestion = name.starts_with("x-stainless-") ? "x-stainless-*" : name;
      if (std::find(suggestions.begin(), suggestions.end(), suggestion) == suggestions.end())
        suggestions.push_back(suggestion);
      refused.push_back(std::move(name));
      continue;
    }
    if (std::find(requested.begin(), requested.end(), name) == requested.end())
      requested.push_back(std::move(name));
  }
  if (!refused.empty()) {
    d.code = "cors_header_not_allowed";
    bool one = refused.size() == 1;
    std::string plus;
    for (const auto& s : suggestions) plus += (plus.empty() ? "" : ",") + s;
    d.message = std::string(one ? "Request header " : "Request headers ") + quotedList(refused) +
                (one ? " is" : " are") +
                " not allowed from a browser (setting allowed_headers). An admin can allow " +
                (one ? "it" : "them") + " with: finopsctl settings set allowed_headers=+" + plus;
    return d;
  }
  d.allowed = true;
  d.headers = originHeaders(trim(origin), m);
  d.headers.emplace_back("Vary",
                         "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  d.headers.emplace_back("Access-Control-Allow-Methods", std::string(kAllowMethods));
  if (!requested.empty()) {
    std::string list;
    for (const auto& h : requested) list += (list.empty() ? "" : ", ") + h;
    d.headers.emplace_back("Access-Control-Allow-Headers", std::move(list));
  }
  d.headers.emplace_back("Access-Control-Max-Age", std::string(kMaxAgeSeconds));
  return d;
}

Decision actual(const std::vector<OriginPattern>& origins, std::string_view origin) {
  OriginMatch m = matchOrigin(origins, origin);
  if (m == OriginMatch::kNone) return refuseOrigin(origin);
  Decision d;
  d.allowed = true;
  d.headers = originHeaders(trim(origin), m);
  d.headers.emplace_back("Vary", "Origin");
  d.headers.emplace_back("Access-Control-Expose-Headers", std::string(kExposeHeaders));
  return d;
}

std::string_view originInUnparsedHead(std::string_view raw) {
  constexpr std::string_view kName = "origin:";
  for (size_t eol = raw.find("\r\n"); eol != std::string_view::npos; eol = raw.find("\r\n")) {
    std::string_view line = raw.substr(0, eol);
    if (line.empty()) break;  // the end of the head
    if (line.size() >= kName.size() && asciiLower(line.substr(0, kName.size())) == kName)
      return trim(line.substr(kName.size()));
    raw.remove_prefix(eol + 2);
  }
  return {};  // none, or only in a line not complete yet
}

}  // namespace finops::dp::cors
