#include "common/url.h"

#include <gtest/gtest.h>

namespace finops {
namespace {

TEST(Url, ParsesHttpsWithPath) {
  std::string err;
  auto u = parseUrl("https://api.openai.com/v1/", &err);
  ASSERT_TRUE(u) << err;
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "api.openai.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->basePath, "/v1");
  EXPECT_EQ(u->hostHeader(), "api.openai.com");
}

TEST(Url, ParsesHttpWithPort) {
  auto u = parseUrl("http://127.0.0.1:11434/v1", nullptr);
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->port, 11434);
  EXPECT_EQ(u->hostHeader(), "127.0.0.1:11434");
}

TEST(Url, ParsesIpv6) {
  auto u = parseUrl("http://[::1]:8000", nullptr);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->basePath, "");
  EXPECT_EQ(u->hostHeader(), "[::1]:8000");
}

TEST(Url, RejectsBadUrls) {
  std::string err;
  EXPECT_FALSE(parseUrl("ftp://x", &err));
  EXPECT_FALSE(parseUrl("http://", &err));
  EXPECT_FALSE(parseUrl("http://host:99999", &err));
  EXPECT_FALSE(parseUrl("http://host:abc", &err));
  EXPECT_FALSE(parseUrl("http://user@host", &err));
  EXPECT_FALSE(parseUrl("http://host/v1?x=1", &err));
  EXPECT_FALSE(parseUrl("http://ho st/", &err));
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace finops
