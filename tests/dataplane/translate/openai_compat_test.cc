#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dataplane/translate/openai_compat.h"

namespace finops::dp {
namespace {

using nlohmann::json;

std::unique_ptr<Translator> chat(const std::string& clientModel = "openai/gpt-4o-mini") {
  return makeOpenAICompat(Endpoint::kChatCompletions,
                        clientModel);
}

TEST(OpenAICompat, RequestGetsTheUpstreamModelAndKeepsEverythingElse) {
  auto t = chat();
  UpstreamCall call;
  json req = {{"model", "openai/gpt-4o-mini"},
              {"messages", {{{"role", "user"}, {"content", "hi \u00e9"}}}},
              {"temperature", 0.5},
              {"stream", true}};
  std::string text = req.dump();
  auto scan = json_scan::scan(text);
  ASSERT_TRUE(scan.ok);
  ASSERT_FALSE(t->buildRequest(ClientRequest{text, scan}, "gpt-4o-mini", call));
  EXPECT_EQ(call.path, "/chat/completions");
  json sent = json::parse(call.body);
  EXPECT_EQ(sent["model"], "gpt-4o-mini");
  EXPECT_EQ(sent["messages"], req["messages"]);
  EXPECT_EQ(sent["temperature"], 0.5);
  EXPECT_EQ(sent["stream"], true);
}

TEST(OpenAICompat, EndpointPaths) {
  UpstreamCall call;
  std::string text = R"({"model":"x/y","input":"a"})";
  auto scan = json_scan::scan(text);
  makeOpenAICompat(Endpoint::kEmbeddings, "x/y")
      ->buildRequest(ClientRequest{text, scan}, "y\"q", call);
  EXPECT_EQ(call.path, "/embeddings");
  EXPECT_EQ(call.body, R"({"model":"y\"q","input":"a"})");
  makeOpenAICompat(Endpoint::kCompletions, "x/y")
      ->buildRequest(ClientRequest{text, scan}, "y", call);
  EXPECT_EQ(call.path, "/completions");
}

TEST(OpenAICompat, ResponseEchoesTheClientModel) {
  auto t = chat();
  json out = json::parse(t->translateResponse(
      R"({"id":"c1","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[]})"));
  EXPECT_EQ(out["model"], "openai/gpt-4o-mini");
  EXPECT_EQ(out["id"], "c1");
}

TEST(OpenAICompat, StreamRewritesEveryChunkAndEndsWithDone) {
  const std::string upstream =
      "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-2024\","
      "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
      ": keep-alive\n\n"
      "data: {\"id\":\"c\",\"model\":\"gpt-4o-mini-2024\",\"choices\":[{\"index\":0,\"delta\":"
      "{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  for (size_t piece : {size_t{1}, size_t{5}, upstream.size()}) {
    auto t = chat();
    sse::Parser parser;
    std::string out;
    for (size_t i = 0; i < upstream.size(); i += piece)
      parser.feed(std::string_view(upstream).substr(i, piece),
                  [&](const sse::Event& e) { t->onStreamEvent(e, out); });
    EXPECT_TRUE(t->onStreamEnd(out));
    sse::Parser check;
    std::vector<std::string> datas;
    check.feed(out, [&](const sse::Event& e) { datas.push_back(e.data); });
    ASSERT_EQ(datas.size(), 3u) << out;
    EXPECT_EQ(json::parse(datas[0])["model"], "openai/gpt-4o-mini");
    EXPECT_EQ(json::parse(datas[1])["model"], "openai/gpt-4o-mini");
    EXPECT_EQ(json::parse(datas[1])["choices"][0]["delta"]["content"], "Hi");
    EXPECT_EQ(datas[2], "[DONE]");
  }
}

TEST(OpenAICompat, TruncatedStreamEndsWithAnErrorEventAndNoDone) {
  auto t = chat();
  std::string out;
  t->onStreamEvent(sse::Event{"", R"({"model":"m","choices":[]})"}, out);
  out.clear();
  EXPECT_FALSE(t->onStreamEnd(out));
  EXPECT_NE(out.find("\"error\""), std::string::npos);
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
}

// What an OpenAI client receives for an upstream error body.
std::string normalizeUpstreamError(int status, std::string_view body) {
  return errorBody(openAIUpstreamError(status, body));
}

TEST(UpstreamErrors, KeepsOpenAIShapedErrors) {
  json e = json::parse(normalizeUpstreamError(
      429, R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})"));
  EXPECT_EQ(e["error"]["message"], "Rate limit reached");
  EXPECT_EQ(e["error"]["type"], "requests");
  EXPECT_EQ(e["error"]["code"], "rate_limit_exceeded");
}

TEST(UpstreamErrors, WrapsMistralAndPlainTextBodies) {
  json m = json::parse(normalizeUpstreamError(
      400, R"({"object":"error","message":"bad tool id","type":"invalid_request_message_error","param":null,"code":null})"));
  EXPECT_EQ(m["error"]["message"], "bad tool id");
  EXPECT_EQ(m["error"]["type"], "invalid_request_message_error");
  json t = json::parse(normalizeUpstreamError(500, "upstream exploded"));
  EXPECT_EQ(t["error"]["type"], "server_error");
  EXPECT_NE(t["error"]["message"].get<std::string>().find("upstream exploded"), std::string::npos);
  EXPECT_TRUE(t["error"].contains("param"));
}

}  // namespace
}  // namespace finops::dp
