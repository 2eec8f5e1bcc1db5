#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dataplane/translate/json_util.h"
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

// Found by fuzzing (tests/fuzz/corpus/translate_openai_compat/regress-duplicate-model): the
// upstream reads the last of duplicate members, so a second "model" would reach the provider
// instead of the one the gateway checked access for and priced.
TEST(OpenAICompat, RefusesDuplicateModelStreamAndStreamOptions) {
  struct Case {
    const char* body;
    const char* param;
  };
  for (const Case& c : {
           Case{R"({"model":"openai/gpt-4o-mini","model":"gpt-4.5"})", "model"},
           Case{R"({"model":"openai/gpt-4o-mini","mod\u0065l":"gpt-4.5"})", "model"},
           Case{R"({"mo\u0064el":"gpt-4.5","model":"openai/gpt-4o-mini"})", "model"},
           Case{R"({"model":"x/y","stream":false,"str\u0065am":true})", "stream"},
           Case{R"({"model":"x/y","stream":true,"stream_options":{},"stream_options":{"include_usage":false}})",
                "stream_options"},
       }) {
    auto scan = json_scan::scan(c.body);
    ASSERT_TRUE(scan.ok) << c.body;
    UpstreamCall call;
    auto err = chat()->buildRequest(ClientRequest{c.body, scan}, "gpt-4o-mini", call);
    ASSERT_TRUE(err.has_value()) << c.body;
    EXPECT_EQ(err->status, 400);
    EXPECT_EQ(err->code, "duplicate_member");
    EXPECT_EQ(err->param, c.param) << c.body;
    EXPECT_NE(err->message.find(std::string("more than one '") + c.param + "'"), std::string::npos)
        << err->message;
  }
  // Keys of nested objects are not top-level members.
  std::string ok = R"({"model":"x/y","messages":[{"role":"user","content":"hi","model":"z"}],"metadata":{"model":"q"}})";
  auto scan = json_scan::scan(ok);
  UpstreamCall call;
  EXPECT_FALSE(chat()->buildRequest(ClientRequest{ok, scan}, "y", call));
  EXPECT_EQ(json::parse(call.body)["model"], "y");
}

// Found by fuzzing (regress-usage-out-of-range): a float beyond int64_t was converted
// (undefined behaviour).
TEST(OpenAIUsage, ClampsHostileCounts) {
  Usage u;
  ASSERT_TRUE(parseOpenAIUsage(R"({"prompt_tokens":1e300,"completion_tokens":-2,
      "prompt_tokens_details":{"cached_tokens":18446744073709551615}})",
                               u));
  EXPECT_EQ(u.promptTokens, kMaxTokenCount);
  EXPECT_EQ(u.completionTokens, 0);
  EXPECT_EQ(u.cachedTokens, kMaxTokenCount);
  ASSERT_TRUE(parseOpenAIUsage(R"({"prompt_tokens":7.9,"total_tokens":1e19})", u));
  EXPECT_EQ(u.promptTokens, 7);
  EXPECT_EQ(u.completionTokens, kMaxTokenCount - 7);
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
