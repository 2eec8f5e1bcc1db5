#include "dataplane/server/cors.h"

#include <gtest/gtest.h>

#include "dataplane/config/snapshot.h"

namespace finops::dp::cors {
namespace {

std::vector<OriginPattern> origins(std::vector<std::string> texts) {
  std::vector<OriginPattern> out;
  for (const auto& t : texts) {
    auto p = parseOriginPattern(t, nullptr);
    EXPECT_TRUE(p) << t;
    if (p) out.push_back(*p);
  }
  return out;
}

HeaderMatcher headers(std::vector<std::string> names) {
  HeaderMatcher m;
  for (const auto& n : names) m.add(n);
  return m;
}

std::string header(const Decision& d, std::string_view name) {
  for (const auto& [n, v] : d.headers)
    if (n == name) return v;
  return "<absent>";
}

const auto kDefaultOrigins = origins(defaultAllowedOrigins());
const auto kDefaultHeaders = headers(defaultAllowedHeaders());
// What the openai SDK sends from a browser, as Chromium lists it.
constexpr std::string_view kSdkHeaders =
    "authorization,content-type,x-stainless-arch,x-stainless-lang,x-stainless-os,"
    "x-stainless-package-version,x-stainless-retry-count,x-stainless-runtime,"
    "x-stainless-runtime-version,x-stainless-timeout";

TEST(CorsPreflight, AllowedOriginEchoesOriginAndRequestedHeaders) {
  auto d = preflight(kDefaultOrigins, kDefaultHeaders, "http://localhost:5173", "POST",
                     "Content-Type, Authorization,x-stainless-timeout");
  ASSERT_TRUE(d.allowed) << d.message;
  EXPECT_EQ(header(d, "Access-Control-Allow-Origin"), "http://localhost:5173");
  EXPECT_EQ(header(d, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(header(d, "Access-Control-Allow-Methods"), "GET, POST, DELETE, OPTIONS");
  EXPECT_EQ(header(d, "Access-Control-Allow-Headers"),
            "content-type, authorization, x-stainless-timeout");
  EXPECT_EQ(header(d, "Access-Control-Max-Age"), "86400");
  EXPECT_NE(header(d, "Vary").find("Origin"), std::string::npos);
}

TEST(CorsPreflight, NoRequestedHeadersMeansNoAllowHeaders) {
  auto d = preflight(kDefaultOrigins, kDefaultHeaders, "http://127.0.0.1:8000", "GET", "");
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(header(d, "Access-Control-Allow-Headers"), "<absent>");
}

TEST(CorsPreflight, RefusedOriginNamesItAndTheCommand) {
  auto d = preflight(kDefaultOrigins, kDefaultHeaders, "http://app.example.test:8080", "POST",
                     "content-type");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, "cors_origin_not_allowed");
  EXPECT_NE(d.message.find("'http://app.example.test:8080'"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("finopsctl settings set allowed_origins=+http://app.example.test:8080"),
            std::string::npos)
      << d.message;
  EXPECT_TRUE(d.headers.empty());
  // Look-alikes of the default localhost entries.
  for (const char* o : {"http://evil-localhost.com", "http://localhost.evil.com",
                        "https://127.0.0.1.nip.io", "null", ""})
    EXPECT_FALSE(preflight(kDefaultOrigins, kDefaultHeaders, o, "POST", "").allowed) << o;
}

TEST(CorsPreflight, RefusedHeadersAreAllNamedWithAStainlessPattern) {
  auto d =
      preflight(kDefaultOrigins, kDefaultHeaders, "http://localhost:3000", "POST", kSdkHeaders);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, "cors_header_not_allowed");
  EXPECT_NE(d.message.find("'x-stainless-arch'"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("'x-stainless-runtime-version'"), std::string::npos) << d.message;
  EXPECT_EQ(d.message.find("'x-stainless-timeout'"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("allowed_headers=+x-stainless-*"), std::string::npos) << d.message;
  d = preflight(kDefaultOrigins, kDefaultHeaders, "http://localhost:3000", "POST",
                "content-type,openai-project");
  EXPECT_EQ(d.code, "cors_header_not_allowed");
  EXPECT_NE(d.message.find("allowed_headers=+openai-project"), std::string::npos) << d.message;
}

TEST(CorsPreflight, RefusedMethod) {
  auto d = preflight(kDefaultOrigins, kDefaultHeaders, "http://localhost:3000", "PUT", "");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, "cors_method_not_allowed");
  EXPECT_NE(d.message.find("PUT"), std::string::npos);
}

TEST(CorsPreflight, StarHeadersStillEchoTheList) {
  auto d = preflight(kDefaultOrigins, headers({"*"}), "http://localhost:3000", "POST", kSdkHeaders);
  ASSERT_TRUE(d.allowed) << d.message;
  EXPECT_EQ(header(d, "Access-Control-Allow-Headers").find('*'), std::string::npos);
  EXPECT_NE(header(d, "Access-Control-Allow-Headers").find("authorization"), std::string::npos);
}

TEST(CorsPreflight, StainlessPrefixAllowsTheSdk) {
  auto h = headers(defaultAllowedHeaders());
  h.add("x-stainless-*");
  auto d = preflight(kDefaultOrigins, h, "http://localhost:3000", "POST", kSdkHeaders);
  ASSERT_TRUE(d.allowed) << d.message;
}

TEST(CorsPreflight, StarOriginAllowsAnyOriginWithoutCredentials) {
  auto o = origins({"*"});
  auto d = preflight(o, kDefaultHeaders, "https://anything.example", "POST", "content-type");
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(header(d, "Access-Control-Allow-Origin"), "https://anything.example");
  EXPECT_EQ(header(d, "Access-Control-Allow-Credentials"), "<absent>");
  // An explicit entry next to "*" still gets credentials.
  o = origins({"*", "https://app.example.com"});
  d = preflight(o, kDefaultHeaders, "https://app.example.com", "POST", "");
  EXPECT_EQ(header(d, "Access-Control-Allow-Credentials"), "true");
  d = preflight(o, kDefaultHeaders, "https://other.example.com", "POST", "");
  EXPECT_EQ(header(d, "Access-Control-Allow-Credentials"), "<absent>");
}

TEST(CorsActual, AllowedOriginExposesRetryAndRateLimitHeaders) {
  auto d = actual(kDefaultOrigins, "http://[::1]:8080");
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(header(d, "Access-Control-Allow-Origin"), "http://[::1]:8080");
  EXPECT_EQ(header(d, "Vary"), "Origin");
  std::string expose = header(d, "Access-Control-Expose-Headers");
  for (const char* h :
       {"x-request-id", "request-id", "retry-after", "retry-after-ms", "x-should-retry",
        "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
        "x-ratelimit-limit-budget", "x-ratelimit-remaining-concurrency"})
    EXPECT_NE(expose.find(h), std::string::npos) << h;
}

TEST(CorsActual, RefusedOrigin) {
  auto d = actual(kDefaultOrigins, "https://evil.example");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, "cors_origin_not_allowed");
  EXPECT_TRUE(d.headers.empty());
  EXPECT_EQ(matchOrigin(origins({"*"}), "null"), OriginMatch::kAny);
  EXPECT_EQ(matchOrigin(kDefaultOrigins, "null"), OriginMatch::kNone);
}

TEST(CorsSnapshot, SettingsCompileIntoTheSnapshot) {
  finops::v1::Snapshot s;
  auto* st = s.mutable_settings();
  st->add_allowed_origins("https://*.example.com");
  st->add_allowed_headers("X-Stainless-*");
  st->add_extra_headers("openai-project");
  std::string error;
  auto c = compileSnapshot(s, &error);
  ASSERT_TRUE(c) << error;
  ASSERT_EQ(c->corsOrigins.size(), 1u);
  EXPECT_EQ(matchOrigin(c->corsOrigins, "https://a.example.com"), OriginMatch::kExplicit);
  EXPECT_TRUE(c->corsAllowedHeaders.matches("x-stainless-os"));
  EXPECT_TRUE(c->extraHeaders.matches("openai-project"));
  st->add_allowed_origins("https://example.com/path");
  EXPECT_FALSE(compileSnapshot(s, &error));
  EXPECT_NE(error.find("allowed_origins"), std::string::npos) << error;
}

TEST(CorsUnparsedHead, FindsACompleteOriginLine) {
  // From the first unparsed field, as Beast leaves it after a header_limit error.
  EXPECT_EQ(originInUnparsedHead("X-Big: aaaa\r\nORIGIN:  http://app.test:8080 \r\nX-More: a"),
            "http://app.test:8080");
  // Or from the request line (a path that looks like a header is not one).
  EXPECT_EQ(originInUnparsedHead("GET /origin:x HTTP/1.1\r\nOrigin: http://a.test\r\n"),
            "http://a.test");
  // Not after the blank line that ends the head; not from a line cut off by the read.
  EXPECT_EQ(originInUnparsedHead("Host: x\r\n\r\nOrigin: http://a.test\r\n"), "");
  EXPECT_EQ(originInUnparsedHead("Host: x\r\nOrigin: http://app.te"), "");
  EXPECT_EQ(originInUnparsedHead("Origins: http://a.test\r\nX-Origin: b\r\n"), "");
  EXPECT_EQ(originInUnparsedHead(""), "");
}

}  // namespace
}  // namespace finops::dp::cors
