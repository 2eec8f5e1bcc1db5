// CORS for browser clients (pure functions, no I/O): the answer to a preflight, and the headers
// an actual cross-origin request's response carries. The settings come compiled from the
// config snapshot (ConfigSnapshot::corsOrigins / corsAllowedHeaders).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/header_policy.h"

namespace finops::dp::cors {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Methods a preflight may ask for.
inline constexpr std::string_view kAllowMethods = "GET, POST, DELETE, OPTIONS";
// Response headers browser code may read: request ids, retry hints and every rate-limit
// header the governance code emits (x-ratelimit-{limit,remaining,reset}-{requests,tokens,
// budget,concurrency}).
extern const std::string_view kExposeHeaders;
inline constexpr std::string_view kMaxAgeSeconds = "86400";

enum class OriginMatch {
  kNone,
  kAny,       // only "*" matched: no credentials
  kExplicit,  // an entry other than "*" matched: credentials allowed
};
// `origin` is the request's Origin header. "null" and malformed origins match only "*".
OriginMatch matchOrigin(const std::vector<OriginPattern>& allowed, std::string_view origin);

struct Decision {
  bool allowed = false;
  Headers headers;  // to add to the response when allowed
  // When refused: "cors_origin_not_allowed", "cors_header_not_allowed" or
  // "cors_method_not_allowed", and a message naming what was refused and, where an admin can
  // allow it, the finopsctl command that would.
  std::string code;
  std::string message;
};

// A preflight: OPTIONS with Origin and Access-Control-Request-Method (`method`), and the
// Access-Control-Request-Headers list (`requestHeaders`, may be empty). Allowed: the
// headers of the 204 answer, echoing the requested headers.
Decision preflight(const std::vector<OriginPattern>& origins, const HeaderMatcher& allowedHeaders,
                   std::string_view origin, std::string_view method,
                   std::string_view requestHeaders);

// An actual request with an Origin header: allowed, the headers every response to it carries.
Decision actual(const std::vector<OriginPattern>& origins, std::string_view origin);

// The Origin header's value in the part of a request head the parser left unparsed when the
// head passed the header size limit: `raw` starts at a line boundary (the request line, or the
// first field not parsed yet); the first complete "Origin:" line before the blank line counts,
// trimmed. Empty when there is none in the bytes given.
std::string_view originInUnparsedHead(std::string_view raw);

}  // namespace finops::dp::cors
