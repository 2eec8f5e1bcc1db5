#include "common/header_policy.h"

#include <gtest/gtest.h>

namespace finops {
namespace {

bool allows(std::string_view pattern, std::string_view origin) {
  std::string error;
  auto p = parseOriginPattern(pattern, &error);
  EXPECT_TRUE(p) << pattern << ": " << error;
  auto o = parseOrigin(origin);
  if (!p || !o) return false;
  return originMatches(*p, *o);
}

TEST(OriginPattern, PortStarMeansAnyPortOrNone) {
  EXPECT_TRUE(allows("http://localhost:*", "http://localhost:5173"));
  EXPECT_TRUE(allows("http://localhost:*", "http://localhost"));
  EXPECT_FALSE(allows("http://localhost:*", "https://localhost:5173"));
  EXPECT_TRUE(allows("http://[::1]:*", "http://[::1]:3000"));
  EXPECT_TRUE(allows("https://127.0.0.1:*", "https://127.0.0.1"));
}

TEST(OriginPattern, NoPortMeansTheSchemeDefault) {
  EXPECT_TRUE(allows("https://app.example.com", "https://app.example.com"));
  EXPECT_TRUE(allows("https://app.example.com", "https://app.example.com:443"));
  EXPECT_FALSE(allows("https://app.example.com", "https://app.example.com:8443"));
  EXPECT_TRUE(allows("http://app.example.com:8080", "http://app.example.com:8080"));
  EXPECT_FALSE(allows("http://app.example.com:8080", "http://app.example.com:8081"));
  EXPECT_FALSE(allows("http://app.example.com:8080", "http://app.example.com"));
}

TEST(OriginPattern, LookAlikeHostsDoNotMatch) {
  EXPECT_FALSE(allows("http://localhost:*", "http://evil-localhost.com"));
  EXPECT_FALSE(allows("http://localhost:*", "http://localhost.evil.com"));
  EXPECT_FALSE(allows("http://localhost:*", "http://localhost.evil.com:80"));
  EXPECT_FALSE(allows("https://*.example.com", "https://badexample.com"));
  EXPECT_FALSE(allows("https://*.example.com", "https://example.com.evil.net"));
}

TEST(OriginPattern, SubdomainWildcard) {
  EXPECT_TRUE(allows("https://*.example.com", "https://a.example.com"));
  EXPECT_TRUE(allows("https://*.example.com", "https://a.b.example.com"));
  EXPECT_FALSE(allows("https://*.example.com", "https://example.com"));
  EXPECT_FALSE(allows("https://*.example.com", "http://a.example.com"));
  EXPECT_TRUE(allows("https://*.example.com:*", "https://a.example.com:9000"));
}

TEST(OriginPattern, CaseAndStar) {
  EXPECT_TRUE(allows("HTTP://App.Example.COM", "http://app.example.com"));
  EXPECT_TRUE(allows("*", "http://anything.test:1"));
  auto p = parseOriginPattern("HTTPS://App.Example.COM:8443", nullptr);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->text, "https://app.example.com:8443");
}

TEST(OriginPattern, RefusesWhatIsNotAnOrigin) {
  for (const char* bad :
       {"app.example.com", "ftp://a.com", "http://a.com/", "http://a.com/path", "http://a.com?x",
        "http://user@a.com", "http://*", "http://a.*.com", "http://*a.com", "http://a.com:0",
        "http://a.com:70000", "http://a.com:8o", "http://[::1", "https://*.[::1]", "null",
        "http://", "http://a..com", "http://-:80x"}) {
    std::string error;
    EXPECT_FALSE(parseOriginPattern(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(Origin, NullAndMalformedOriginsDoNotParse) {
  EXPECT_FALSE(parseOrigin("null"));
  EXPECT_FALSE(parseOrigin("http://a.com/x"));
  EXPECT_FALSE(parseOrigin("http://*.a.com"));
  EXPECT_FALSE(parseOrigin("http://a.com:*"));
  auto o = parseOrigin("http://[::1]:8080");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 8080);
}

TEST(HeaderMatcher, ExactPrefixAndAny) {
  HeaderMatcher m;
  m.add("content-type");
  m.add("x-stainless-*");
  EXPECT_TRUE(m.matches("content-type"));
  EXPECT_TRUE(m.matches("x-stainless-lang"));
  EXPECT_FALSE(m.matches("x-stainless-"));
  EXPECT_FALSE(m.matches("x-stainless"));
  EXPECT_FALSE(m.matches("authorization"));
  EXPECT_FALSE(m.matchesAny());
  m.add("*");
  EXPECT_TRUE(m.matches("authorization"));
  EXPECT_TRUE(HeaderMatcher().empty());
}

TEST(NeverForwarded, CredentialsHopByHopAndGatewayHeaders) {
  for (const char* h :
       {"authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "x-bf-vk", "cookie",
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
        "upgrade", "proxy-connection", "expect", "x-bf-anything", "x-bf-eh-openai-project"})
    EXPECT_TRUE(isNeverForwardedHeader(h)) << h;
  for (const char* h : {"openai-project", "x-trace-id", "openai-organization", "x-bfoo"})
    EXPECT_FALSE(isNeverForwardedHeader(h)) << h;
}

std::optional<std::string> norm(SettingList l, std::vector<std::string> in,
                                std::vector<std::string>* out = nullptr) {
  std::vector<std::string> o;
  auto err = normalizeSettingList(l, in, o);
  if (out) *out = o;
  return err;
}

TEST(SettingLists, NormalisesAndDeduplicates) {
  std::vector<std::string> out;
  EXPECT_FALSE(norm(SettingList::kAllowedHeaders,
                    {" X-Stainless-* ", "Content-Type", "content-type", "*"}, &out));
  EXPECT_EQ(out, (std::vector<std::string>{"x-stainless-*", "content-type", "*"}));
  EXPECT_FALSE(norm(SettingList::kAllowedOrigins, {"HTTP://LOCALHOST:*", "*"}, &out));
  EXPECT_EQ(out, (std::vector<std::string>{"http://localhost:*", "*"}));
  EXPECT_FALSE(norm(SettingList::kAllowedHeaders, {}, &out));
  EXPECT_TRUE(out.empty());
}

TEST(SettingLists, DefaultsAreValid) {
  std::vector<std::string> out;
  EXPECT_FALSE(norm(SettingList::kAllowedHeaders, defaultAllowedHeaders(), &out));
  EXPECT_EQ(out, defaultAllowedHeaders());
  EXPECT_FALSE(norm(SettingList::kAllowedOrigins, defaultAllowedOrigins(), &out));
  EXPECT_EQ(out, defaultAllowedOrigins());
}

TEST(SettingLists, RefusalsNameTheSettingAndTheEntry) {
  auto e = norm(SettingList::kAllowedHeaders, {"x foo"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("allowed_headers"), std::string::npos) << *e;
  EXPECT_NE(e->find("'x foo'"), std::string::npos) << *e;
  EXPECT_TRUE(norm(SettingList::kAllowedHeaders, {"x-*-y"}));
  EXPECT_TRUE(norm(SettingList::kAllowedHeaders, {""}));
  EXPECT_TRUE(norm(SettingList::kAllowedHeaders, {"a:b"}));
  e = norm(SettingList::kAllowedOrigins, {"https://app.example.com/"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("allowed_origins"), std::string::npos) << *e;
  EXPECT_NE(e->find("path"), std::string::npos) << *e;
  // Credentials are fine for a browser to send (to the gateway), never to forward upstream.
  EXPECT_FALSE(norm(SettingList::kAllowedHeaders, {"authorization", "x-api-key"}));
  for (auto l : {SettingList::kForwardHeaders, SettingList::kExtraHeaders}) {
    for (const char* h :
         {"Authorization", "x-api-key", "x-goog-api-key", "x-bf-vk", "cookie", "host",
          "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
          "upgrade", "proxy-connection", "expect", "proxy-authorization", "x-bf-eh-foo"}) {
      e = norm(l, {h});
      ASSERT_TRUE(e) << h;
      EXPECT_NE(e->find("never forwarded"), std::string::npos) << *e;
    }
  }
  EXPECT_TRUE(norm(SettingList::kExtraHeaders, {"x-bf-*"}));
  EXPECT_FALSE(norm(SettingList::kExtraHeaders, {"*", "openai-*", "x-trace"}));
  e = norm(SettingList::kForwardHeaders, {"x-*"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("exact"), std::string::npos) << *e;
  EXPECT_TRUE(norm(SettingList::kForwardHeaders, {"*"}));
  EXPECT_TRUE(norm(SettingList::kAllowedHeaders, std::vector<std::string>(201, "a")));
  EXPECT_TRUE(norm(SettingList::kAllowedHeaders, {std::string(300, 'a')}));
}

}  // namespace
}  // namespace finops
