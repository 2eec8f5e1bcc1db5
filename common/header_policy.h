// Rules for HTTP header names and browser origins, shared by the control plane (validating and
// defaulting the settings), finopsctl (the defaults behind "default") and the data planes
// (CORS answers and which client headers go upstream). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace finops {

// What a browser may send (CORS Access-Control-Allow-Headers) when nothing was configured.
std::vector<std::string> defaultAllowedHeaders();
// The origins allowed when nothing was configured: localhost, 127.0.0.1 and [::1], http and
// https, any port.
std::vector<std::string> defaultAllowedOrigins();

std::string asciiLower(std::string_view s);

// RFC 9110 token (the characters a header name may have).
bool isHttpToken(std::string_view s);

// Client credentials: authorization, proxy-authorization, x-api-key, x-goog-api-key, x-bf-vk,
// cookie. `lowerName` is lower case.
bool isCredentialHeader(std::string_view lowerName);
// Connection-level and framing headers: connection, keep-alive, proxy-connection, te, trailer,
// transfer-encoding, upgrade, host, content-length, expect, proxy-authenticate.
bool isHopByHopHeader(std::string_view lowerName);
// Headers that never go from a client to an upstream, whatever the settings say: credentials,
// hop-by-hop and framing headers, and the gateway's own x-bf-* headers.
bool isNeverForwardedHeader(std::string_view lowerName);

// A set of header-name patterns: exact names, "*" (any) and "prefix*" (e.g. "x-stainless-*").
// Patterns and names are lower case.
class HeaderMatcher {
 public:
  void add(std::string_view lowerPattern);
  bool matches(std::string_view lowerName) const;
  bool matchesAny() const { return any_; }
  bool empty() const { return !any_ && exact_.empty() && prefixes_.empty(); }

 private:
  bool any_ = false;
  std::set<std::string, std::less<>> exact_;
  std::vector<std::string> prefixes_;
};

// An allowed-origin entry: "*", or "scheme://host[:port]" where the host may start with "*."
// (any subdomain, not the domain itself) and the port may be "*" (any port, or none).
struct OriginPattern {
  bool any = false;  // "*"
  bool https = false;
  bool anySubdomain = false;  // "*.example.com": host holds "example.com"
  std::string host;           // lower case, IPv6 without brackets
  int32_t port = 0;           // -1: any; otherwise the port (the scheme's default when omitted)
  std::string text;           // normalised entry, as stored
};

// Parses an allowed-origin entry. Returns nullopt and fills `error` when it is not one.
std::optional<OriginPattern> parseOriginPattern(std::string_view text, std::string* error);

// A request's Origin header ("scheme://host[:port]", as browsers send it).
struct Origin {
  bool https = false;
  std::string host;   // lower case, IPv6 without brackets
  uint16_t port = 0;  // explicit or the scheme's default
};
// Nullopt for "null", anything that is not http(s), and malformed values.
std::optional<Origin> parseOrigin(std::string_view text);

bool originMatches(const OriginPattern& pattern, const Origin& origin);

// The lists of finops.v1.Settings. `normalizeSettingList` trims and lower-cases each entry,
// drops duplicates (keeping the first), and checks it for its list; on the first bad entry it
// returns a message naming the setting and the entry (out is then unspecified).
enum class SettingList { kForwardHeaders, kAllowedHeaders, kAllowedOrigins, kExtraHeaders };
const char* settingListName(SettingList list);
std::optional<std::string> normalizeSettingList(SettingList list,
                                                const std::vector<std::string>& in,
                                                std::vector<std::string>& out);

// Limits on a settings list.
inline constexpr size_t kMaxSettingEntries = 200;
inline constexpr size_t kMaxSettingEntryLength = 256;

}  // namespace finops
