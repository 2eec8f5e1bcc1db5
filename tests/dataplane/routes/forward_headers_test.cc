#include "dataplane/routes/forward_headers.h"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>

namespace finops::dp {
namespace {

namespace http = boost::beast::http;
using Out = std::vector<std::pair<std::string, std::string>>;

HeaderMatcher matcher(std::vector<std::string> names) {
  HeaderMatcher m;
  for (const auto& n : names) m.add(n);
  return m;
}

http::fields gatewayUpstream() {
  http::fields up;
  up.set(http::field::host, "api.openai.com");
  up.set(http::field::content_type, "application/json");
  up.set(http::field::authorization, "Bearer sk-upstream");
  up.set(http::field::user_agent, "finops/test");
  return up;
}

TEST(ForwardHeaders, ListedHeadersGoAsTheyAre) {
  http::fields client;
  client.set("X-Trace-Id", "t-1");
  client.set("OpenAI-Project", "proj_1");
  client.set("X-Other", "no");
  auto out = selectForwardHeaders(client, {"x-trace-id", "openai-project"}, {}, gatewayUpstream());
  EXPECT_EQ(out, (Out{{"X-Trace-Id", "t-1"}, {"OpenAI-Project", "proj_1"}}));
}

TEST(ForwardHeaders, NothingConfiguredForwardsNothing) {
  http::fields client;
  client.set("X-Trace-Id", "t-1");
  client.set("x-bf-eh-openai-project", "p");
  EXPECT_TRUE(selectForwardHeaders(client, {}, {}, gatewayUpstream()).empty());
}

TEST(ForwardHeaders, CredentialsAndHopByHopNeverPassEvenIfListed) {
  http::fields client;
  for (const char* h : {"authorization",
                        "x-api-key",
                        "x-goog-api-key",
                        "x-bf-vk",
                        "cookie",
                        "proxy-authorization",
                        "connection",
                        "keep-alive",
                        "te",
                        "trailer",
                        "upgrade",
                        "proxy-connection",
                        "host",
                        "content-length",
                        "transfer-encoding",
                        "expect",
                        "content-type",
                        "accept",
                        "accept-encoding",
                        "anthropic-version",
                        "anthropic-beta"})
    client.insert(h, "secret-or-framing");
  std::unordered_set<std::string> all;
  for (const auto& f : client) all.insert(asciiLower(f.name_string()));
  auto out = selectForwardHeaders(client, all, matcher({"*"}), http::fields{});
  EXPECT_TRUE(out.empty()) << out.front().first;
}

TEST(ForwardHeaders, ExtraHeadersAreMappedOnlyWhenAllowed) {
  http::fields client;
  client.set("x-bf-eh-openai-project", "proj_2");
  client.set("X-BF-EH-Helicone-Auth", "h");
  client.set("x-bf-eh-other", "o");
  auto out = selectForwardHeaders(client, {}, matcher({"openai-project", "helicone-*"}),
                                  gatewayUpstream());
  EXPECT_EQ(out, (Out{{"openai-project", "proj_2"}, {"helicone-auth", "h"}}));
}

TEST(ForwardHeaders, ExtraHeadersNeverSmuggleCredentialsOrFraming) {
  http::fields client;
  for (const char* h : {"x-bf-eh-authorization", "x-bf-eh-x-api-key", "x-bf-eh-x-bf-vk",
                        "x-bf-eh-host", "x-bf-eh-content-length", "x-bf-eh-transfer-encoding",
                        "x-bf-eh-connection", "x-bf-eh-content-type", "x-bf-eh-user-agent",
                        "x-bf-eh-", "x-bf-eh-cookie", "x-bf-eh-x-bf-eh-authorization"})
    client.insert(h, "v");
  EXPECT_TRUE(selectForwardHeaders(client, {}, matcher({"*"}), gatewayUpstream()).empty());
}

TEST(ForwardHeaders, HeadersNamedInConnectionAreDropped) {
  http::fields client;
  client.set(http::field::connection, "keep-alive, X-Trace-Id");
  client.set("x-trace-id", "t");
  client.set("x-user", "u");
  client.set("x-bf-eh-x-user2", "u2");
  client.insert(http::field::connection, "x-bf-eh-x-user2");
  auto out =
      selectForwardHeaders(client, {"x-trace-id", "x-user"}, matcher({"*"}), gatewayUpstream());
  EXPECT_EQ(out, (Out{{"x-user", "u"}}));
}

TEST(ForwardHeaders, NeverReplacesWhatTheGatewaySet) {
  http::fields client;
  client.set(http::field::user_agent, "browser");
  client.set("x-bf-eh-user-agent", "browser");
  auto up = gatewayUpstream();
  EXPECT_TRUE(selectForwardHeaders(client, {"user-agent"}, matcher({"*"}), up).empty());
  up.erase(http::field::user_agent);
  EXPECT_EQ(selectForwardHeaders(client, {"user-agent"}, {}, up).size(), 1u);
}

TEST(ForwardHeaders, RepeatedClientHeadersAllGo) {
  http::fields client;
  client.insert("x-tag", "a");
  client.insert("x-tag", "b");
  auto out = selectForwardHeaders(client, {"x-tag"}, {}, gatewayUpstream());
  EXPECT_EQ(out, (Out{{"x-tag", "a"}, {"x-tag", "b"}}));
}

}  // namespace
}  // namespace finops::dp
