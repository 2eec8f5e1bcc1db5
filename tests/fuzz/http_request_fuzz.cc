// HTTP request handling up to the route: Beast's request parser with the data plane's header
// and body limits, then the pure request code the server runs on what it parsed:
// resolve() / allowedMethod() / presentedKeys() (dataplane/server/request_route.h), the CORS
// decisions (dataplane/server/cors.h) and the choice of client headers that go upstream
// (dataplane/routes/forward_headers.h).
//
// Input: byte 0: bits 0-1 the CORS settings, bits 2-3 the forwarding settings, bits 4-7 how
// the bytes are split into reads (fuzz_util.h pieces()). The rest is what the client sends.
// Checks: a request parses the same whole or in pieces; the route's view
// of the path stays inside the path; each presented key is the header (or query parameter)
// it comes from; a CORS answer never carries a header value with a line break, credentials
// only for an explicitly allowed origin, and only allowed, well-formed header names; a
// refusal has a code and a message; no credential, hop-by-hop, gateway-set or x-bf-* header,
// nor one the client's Connection header names, is ever forwarded.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/header_policy.h"
#include "dataplane/routes/forward_headers.h"
#include "dataplane/server/cors.h"
#include "dataplane/server/request_route.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using finops::HeaderMatcher;
using finops::OriginPattern;

// The data plane's defaults (ServerOptions in dataplane/server/server.h).
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr uint64_t kMaxBodyBytes = 4 * 1024 * 1024;

struct Parsed {
  bool done = false;
  boost::system::error_code ec;  // the first error other than need_more
  Request req;
};

// Feeds the pieces as successive reads, the way Beast's read loop does: what the parser does
// not consume stays buffered and is offered again with the next read.
Parsed parse(const std::vector<std::string_view>& reads) {
  Parsed r;
  http::request_parser<http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  // As the server does: the head is read alone (async_read_header is not eager) with no body
  // limit, then the Content-Length is checked before the body is started (a string body
  // reserves Content-Length bytes when it starts) and the limit is set for the body.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.eager(false);
  std::string buffer;
  bool headSeen = false;
  for (std::string_view read : reads) {
    buffer.append(read);
    while (!buffer.empty() && !parser.is_done()) {
      boost::system::error_code ec;
      size_t used = parser.put(boost::asio::buffer(buffer), ec);
      buffer.erase(0, used);
      if (!ec && !headSeen && parser.is_header_done()) {
        headSeen = true;
        if (auto length = parser.content_length(); length && *length > kMaxBodyBytes)
          ec = http::error::body_limit;
        else
          parser.body_limit(kMaxBodyBytes);
        parser.eager(true);  // then the body, as async_read does
      }
      if (ec == http::error::need_more) break;
      if (ec) {
        r.ec = ec;
        return r;
      }
      if (used == 0) break;
    }
    if (parser.is_done()) break;
  }
  r.done = parser.is_done();
  if (r.done) r.req = parser.release();
  return r;
}

bool within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool cleanValue(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::vector<OriginPattern> origins(std::initializer_list<std::string_view> entries) {
  std::vector<OriginPattern> out;
  for (std::string_view e : entries) {
    std::string error;
    auto p = finops::parseOriginPattern(e, &error);
    FUZZ_CHECK(p.has_value(), std::string(e) + ": " + error);
    out.push_back(*p);
  }
  return out;
}

struct Settings {
  std::vector<OriginPattern> origins;
  HeaderMatcher allowedHeaders;
  std::unordered_set<std::string> forward;
  HeaderMatcher extra;
};

Settings settings(uint8_t flags) {
  Settings s;
  switch (flags & 3) {
    case 0: {  // the defaults
      for (const auto& o : finops::defaultAllowedOrigins()) {
        std::string error;
        auto p = finops::parseOriginPattern(o, &error);
        FUZZ_CHECK(p.has_value(), o + ": " + error);
        s.origins.push_back(*p);
      }
      for (const auto& h : finops::defaultAllowedHeaders())
        s.allowedHeaders.add(finops::asciiLower(h));
      break;
    }
    case 1:
      s.origins = origins({"*"});
      s.allowedHeaders.add("*");
      break;
    case 2:
      s.origins = origins({"https://app.example.com", "https://*.example.org:*", "http://[::1]:*"});
      for (const auto& h : finops::defaultAllowedHeaders())
        s.allowedHeaders.add(finops::asciiLower(h));
      s.allowedHeaders.add("x-stainless-*");
      break;
    default:
      break;  // nothing allowed
  }
  switch ((flags >> 2) & 3) {
    case 0:
      break;
    case 1:
      // Settings that name headers the rule must drop anyway.
      s.forward = {"x-custom",      "openai-organization",
                   "authorization", "connection",
                   "host",          "x-bf-vk",
                   "content-type",  "te",
                   "x-api-key",     "cookie"};
      s.extra.add("*");
      break;
    case 2:
      s.forward = {"x-custom", "openai-beta"};
      s.extra.add("x-trace-*");
      s.extra.add("helicone-auth");
      break;
    default:
      s.extra.add("*");
      break;
  }
  return s;
}

void checkDecision(const finops::dp::cors::Decision& d, std::string_view origin,
                   const Settings& s) {
  using finops::dp::cors::OriginMatch;
  if (!d.allowed) {
    FUZZ_CHECK(d.code == "cors_origin_not_allowed" || d.code == "cors_header_not_allowed" ||
                   d.code == "cors_method_not_allowed",
               d.code);
    FUZZ_CHECK(!d.message.empty(), d.code);
    FUZZ_CHECK(d.headers.empty(), "headers on a refusal");
    return;
  }
  const OriginMatch m = finops::dp::cors::matchOrigin(s.origins, origin);
  FUZZ_CHECK(m != OriginMatch::kNone, std::string(origin));
  int acao = 0;
  for (const auto& [name, value] : d.headers) {
    FUZZ_CHECK(finops::isHttpToken(name), name);
    FUZZ_CHECK(cleanValue(value), name + ": " + value);
    if (name == "Access-Control-Allow-Origin") ++acao;
    if (name == "Access-Control-Allow-Credentials")
      FUZZ_CHECK(m == OriginMatch::kExplicit, "credentials for an origin only '*' allows");
    if (name == "Access-Control-Allow-Headers") {
      std::string_view list = value;
      while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        std::string h(item);
        FUZZ_CHECK(finops::isHttpToken(h), h);
        FUZZ_CHECK(h == "accept" || h == "accept-language" || h == "content-language" ||
                       s.allowedHeaders.matches(h),
                   "allows a header the settings do not: " + h);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      }
    }
  }
  FUZZ_CHECK(acao == 1, "Access-Control-Allow-Origin " + std::to_string(acao) + " times");
}

void checkForwarded(const Request& req, const Settings& s) {
  http::fields upstream;
  upstream.set(http::field::host, "api.example.com");
  upstream.set(http::field::content_type, "application/json");
  upstream.set(http::field::authorization, "Bearer provider-key");
  upstream.set("anthropic-version", "2023-06-01");
  auto out = finops::dp::selectForwardHeaders(req, s.forward, s.extra, upstream);
  std::vector<std::string> named;  // what the client's Connection headers name
  for (const auto& f : req) {
    if (f.name() != http::field::connection) continue;
    std::string_view v = f.value();
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      named.push_back(finops::asciiLower(item));
      v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
  }
  for (const auto& [name, value] : out) {
    const std::string lower = finops::asciiLower(name);
    FUZZ_CHECK(finops::isHttpToken(name), name);
    FUZZ_CHECK(cleanValue(value), value);
    FUZZ_CHECK(!finops::isNeverForwardedHeader(lower), "forwards " + lower);
    FUZZ_CHECK(!finops::isCredentialHeader(lower) && !finops::isHopByHopHeader(lower),
               "forwards " + lower);
    FUZZ_CHECK(!lower.starts_with("x-bf-"), "forwards " + lower);
    FUZZ_CHECK(lower != "content-type" && lower != "accept" && lower != "accept-encoding" &&
                   lower != "anthropic-version" && lower != "anthropic-beta",
               "forwards the gateway's own " + lower);
    FUZZ_CHECK(upstream.find(lower) == upstream.end(), "overrides the upstream's " + lower);
    for (const auto& n : named)
      FUZZ_CHECK(n != lower, "forwards " + lower + " named in Connection");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  Parsed whole = parse({bytes});
  Parsed split = parse(finops::fuzz::pieces(bytes, static_cast<uint8_t>(flags >> 4)));
  // Beast may notice malformed bytes later when they arrive in pieces (it resumes its search
  // for the end of the header where it stopped), so a refusal and "need more" both count as
  // not done; what matters is that a request parses the same however it arrives.
  FUZZ_CHECK(whole.done == split.done, whole.ec.message() + " | " + split.ec.message());
  if (!whole.done) return 0;
  const Request& req = whole.req;
  FUZZ_CHECK(req.method() == split.req.method() && req.target() == split.req.target() &&
                 req.body() == split.req.body(),
             "whole and split parsing disagree");

  // The route, as dispatch() in server.cc computes it.
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  finops::dp::Resolved r = finops::dp::resolve(path);
  FUZZ_CHECK(within(r.rest, path), "the route's rest is not inside the path");
  const bool hasRest = r.route == finops::dp::Route::kModel || r.route == finops::dp::Route::kGenai;
  FUZZ_CHECK(hasRest == !r.rest.empty(), std::string(path));
  http::verb allowed = finops::dp::allowedMethod(r.route);
  FUZZ_CHECK(allowed == http::verb::get || allowed == http::verb::post, "");

  auto keys = finops::dp::presentedKeys(req);
  FUZZ_CHECK(keys[0] == req["x-bf-vk"], "");
  if (!keys[1].empty()) {
    std::string_view auth = req[http::field::authorization];
    FUZZ_CHECK(within(keys[1], auth) && auth.size() > 7 && keys[1].front() != ' ' &&
                   keys[1] == auth.substr(auth.size() - keys[1].size()),
               std::string(auth));
  }
  FUZZ_CHECK(keys[2] == req["x-api-key"], "");
  FUZZ_CHECK(keys[3] == req["x-goog-api-key"], "");
  if (!keys[4].empty()) {
    FUZZ_CHECK(within(keys[4], target) && keys[4].find('&') == std::string_view::npos &&
                   keys[4].data() > target.data() + path.size(),
               std::string(target));
  }

  const Settings s = settings(flags);
  std::string_view origin = req[http::field::origin];
  if (!origin.empty()) {
    auto pre = finops::dp::cors::preflight(s.origins, s.allowedHeaders, origin,
                                           req[http::field::access_control_request_method],
                                           req[http::field::access_control_request_headers]);
    checkDecision(pre, origin, s);
    auto act = finops::dp::cors::actual(s.origins, origin);
    checkDecision(act, origin, s);
    FUZZ_CHECK(act.allowed == (finops::dp::cors::matchOrigin(s.origins, origin) !=
                               finops::dp::cors::OriginMatch::kNone),
               std::string(origin));
    if (pre.allowed) FUZZ_CHECK(act.allowed, "a preflight allowed what the request is not");
  }
  checkForwarded(req, s);
  return 0;
}
