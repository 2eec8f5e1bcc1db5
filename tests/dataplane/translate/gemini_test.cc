#include "dataplane/translate/gemini.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "dataplane/translate/count_tokens.h"
#include "dataplane/translate/json_util.h"
#include "dataplane/translate/openai_compat.h"
#include "tests/dataplane/translate/golden.h"

namespace finops::dp {
namespace {

using json = nlohmann::ordered_json;

Target gemini(bool vertex = false) {
  Target t;
  t.wire = Wire::kGemini;
  t.vertex = vertex;
  return t;
}

std::unique_ptr<Translator> toGemini() { return makeOpenAIToGemini("gemini/flash", gemini()); }
std::unique_ptr<Translator> toVertexGemini() {
  return makeOpenAIToGemini("gemini/flash", gemini(true));
}
std::unique_ptr<Translator> front() {
  return makeGeminiFront("openai/gpt-4o-mini",
                         makeOpenAICompat(Endpoint::kChatCompletions, "openai/gpt-4o-mini"));
}
std::unique_ptr<Translator> passthrough() { return makeGeminiPassthrough("gemini/pro", gemini()); }
std::unique_ptr<Translator> vertexPassthrough() {
  return makeGeminiPassthrough("gemini/pro", gemini(true));
}

// ---- Golden cases.

class OpenAIToGeminiGolden : public testing::TestWithParam<const char*> {};
TEST_P(OpenAIToGeminiGolden, Case) {
  golden::runCase(std::string("openai_to_gemini/") + GetParam(), toGemini);
}
INSTANTIATE_TEST_SUITE_P(
    Cases, OpenAIToGeminiGolden,
    testing::Values("text", "text_stream", "system_prompt", "consecutive_merge", "images", "tools",
                    "tools_parallel_stream", "tool_round_trip", "finish_max_tokens",
                    "finish_safety_stream", "finish_recitation", "prompt_blocked",
                    "prompt_blocked_stream", "usage_thoughts_cached", "include_usage", "error_429",
                    "error_400_array", "error_not_json", "stream_error", "stream_cut",
                    "bad_tool_call_id", "bad_n", "bad_arguments", "bad_content_part",
                    "generation_config", "json_object"));

TEST(OpenAIToGeminiGoldenVertex, Paths) {
  golden::runCase("openai_to_gemini/vertex", toVertexGemini);
  golden::runCase("openai_to_gemini/vertex_stream", toVertexGemini);
}

class GeminiFrontGolden : public testing::TestWithParam<const char*> {};
TEST_P(GeminiFrontGolden, Case) {
  golden::runCase(std::string("gemini_front/") + GetParam(), front);
}
INSTANTIATE_TEST_SUITE_P(Cases, GeminiFrontGolden,
                         testing::Values("text", "text_stream", "tools", "tools_stream",
                                         "error_chunk", "stream_cut", "bad_request",
                                         "unmatched_function_response", "unsupported_tool"));

class GeminiPassthroughGolden : public testing::TestWithParam<const char*> {};
TEST_P(GeminiPassthroughGolden, Case) {
  golden::runCase(std::string("gemini_passthrough/") + GetParam(), passthrough);
}
INSTANTIATE_TEST_SUITE_P(Cases, GeminiPassthroughGolden,
                         testing::Values("text", "stream", "stream_cut", "stream_error",
                                         "error_429"));

TEST(GeminiPassthroughGoldenVertex, Path) {
  golden::runCase("gemini_passthrough/vertex", vertexPassthrough);
}

// ---- Thought signatures ride in tool call ids and come back.

// The tool call ids a non-streamed Gemini response with these signatures becomes.
std::vector<std::string> idsFor(Translator& t, const std::vector<std::string>& signatures) {
  json parts = json::array();
  for (size_t i = 0; i < signatures.size(); ++i) {
    json p = {{"functionCall", {{"name", "f"}, {"args", {{"i", i}}}}}};
    if (!signatures[i].empty()) p["thoughtSignature"] = signatures[i];
    parts.push_back(p);
  }
  json resp = {{"candidates",
                {{{"content", {{"role", "model"}, {"parts", parts}}}, {"finishReason", "STOP"}}}}};
  json out = json::parse(t.translateResponse(resp.dump()));
  std::vector<std::string> ids;
  for (auto& tc : out["choices"][0]["message"]["tool_calls"]) ids.push_back(tc["id"]);
  return ids;
}

// The Gemini request for an assistant turn with these tool call ids.
json requestWithIds(const std::vector<std::string>& ids) {
  json calls = json::array();
  json messages = {{{"role", "user"}, {"content", "go"}}};
  for (auto& id : ids)
    calls.push_back(
        {{"id", id}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{}"}}}});
  messages.push_back({{"role", "assistant"}, {"tool_calls", calls}});
  for (auto& id : ids)
    messages.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", "ok"}});
  json out;
  EXPECT_FALSE(openAIRequestToGemini(json{{"model", "m"}, {"messages", messages}}, out));
  return out;
}

TEST(GeminiSignatures, RoundTripThroughToolCallIds) {
  std::string canonical(600, 'A');
  canonical += "+/+/a9Z=";  // standard alphabet with padding (length % 4 == 0)
  ASSERT_EQ(canonical.size() % 4, 0u);
  const std::vector<std::string> sigs = {canonical, "", "not base64: é/-_?", "YWJj"};
  auto t = toGemini();
  auto ids = idsFor(*t, sigs);
  ASSERT_EQ(ids.size(), sigs.size());
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  for (auto& id : ids) {
    EXPECT_TRUE(id.starts_with("call_")) << id;
    EXPECT_EQ(
        id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"),
        std::string::npos)
        << id;
  }
  json req = requestWithIds(ids);
  const json& model = req["contents"][1];
  ASSERT_EQ(model["role"], "model");
  ASSERT_EQ(model["parts"].size(), 4u);
  EXPECT_EQ(model["parts"][0]["thoughtSignature"], canonical);
  EXPECT_FALSE(model["parts"][1].contains("thoughtSignature"));  // not the first call
  EXPECT_EQ(model["parts"][2]["thoughtSignature"], "not base64: é/-_?");
  EXPECT_EQ(model["parts"][3]["thoughtSignature"], "YWJj");
  // The tool results found their calls' names.
  for (auto& p : req["contents"][2]["parts"]) EXPECT_EQ(p["functionResponse"]["name"], "f");
}

TEST(GeminiSignatures, FirstUnsignedCallGetsTheDocumentedSentinel) {
  json req = requestWithIds({"call_abc", "toolu_2"});
  EXPECT_EQ(req["contents"][1]["parts"][0]["thoughtSignature"], "skip_thought_signature_validator");
  EXPECT_FALSE(req["contents"][1]["parts"][1].contains("thoughtSignature"));
}

TEST(GeminiSignatures, IdsDifferAcrossResponses) {
  auto a = idsFor(*toGemini(), {""});
  auto b = idsFor(*toGemini(), {""});
  EXPECT_NE(a, b);
}

// ---- Streams.

TEST(OpenAIToGeminiStream, ChunksShareIdCreatedAndModel) {
  auto t = toGemini();
  std::string body =
      R"({"model":"gemini/flash","stream":true,"messages":[{"role":"user","content":"x"}]})";
  auto scan = json_scan::scan(body);
  UpstreamCall call;
  ASSERT_FALSE(t->buildRequest(ClientRequest{body, scan, true}, "gemini-2.5-flash", call));
  std::string up =
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\r\n\r\n"
      "data: "
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"STOP\"}]}"
      "\r\n\r\n";
  bool complete = false;
  std::string out = golden::runStream(*t, up, false, &complete);
  EXPECT_TRUE(complete);
  std::set<std::string> ids;
  std::set<int64_t> created;
  int chunks = 0;
  for (auto& e : golden::parseEvents(out)) {
    if (e.data == "[DONE]") continue;
    json j = json::parse(e.data);
    ids.insert(j["id"].get<std::string>());
    created.insert(j["created"].get<int64_t>());
    EXPECT_EQ(j["model"], "gemini/flash");
    ++chunks;
  }
  EXPECT_EQ(chunks, 4);  // role, a, b, finish
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_TRUE(ids.begin()->starts_with("chatcmpl-"));
  EXPECT_EQ(created.size(), 1u);
  EXPECT_EQ(t->contentChunks(), 2);
  EXPECT_FALSE(t->usage().known);  // Gemini sent no usageMetadata: no fake zeros
}

TEST(OpenAIToGeminiStream, GarbageEventsNeverThrow) {
  auto t = toGemini();
  std::string out;
  for (const char* data :
       {"", "null", "[]", "[1]", "{\"candidates\":5}", "{\"candidates\":[null]}",
        "{\"candidates\":[{\"content\":{\"parts\":[1,{\"text\":5},{\"functionCall\":3}]}}]}",
        "{\"usageMetadata\":{\"promptTokenCount\":\"x\"}}", "{\"error\":\"boom\"}"}) {
    sse::Event e;
    e.data = data;
    t->onStreamEvent(e, out);
  }
  EXPECT_FALSE(t->onStreamEnd(out));
  EXPECT_TRUE(out.ends_with("\n\n"));
}

// ---- Requests that must fail cleanly.

TEST(OpenAIRequestToGemini, RejectsBadShapesWithAParam) {
  const char* bodies[] = {
      R"({"messages":"hi"})",
      R"({"messages":[]})",
      R"({"messages":[5]})",
      R"({"messages":[{"role":"user"}]})",
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:;base64,AA"}}]}]})",
      R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search"}]})",
      R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes","tools":[]})",
      R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})",
      R"({"messages":[{"role":"user","content":"x"}],"reasoning_effort":"extreme"})",
      R"({"messages":[{"role":"user","content":"x"}],"functions":[]})",
      R"({"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"1"}}]}]})",
  };
  for (const char* body : bodies) {
    json out;
    auto err = openAIRequestToGemini(json::parse(body), out);
    ASSERT_TRUE(err) << body;
    EXPECT_EQ(err->status, 400) << body;
    EXPECT_EQ(err->type, "invalid_request_error") << body;
    EXPECT_FALSE(err->param.empty()) << body;
  }
}

TEST(OpenAIToGemini, NonJsonBodyIs400) {
  auto t = toGemini();
  std::string body = "[1,2]";
  auto scan = json_scan::scan(body);
  UpstreamCall call;
  auto err = t->buildRequest(ClientRequest{body, scan, false}, "m", call);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->status, 400);
}

// ---- Errors, usage.

TEST(GeminiUpstreamError, StatusFromTheBodyWhenHttpSaysNothing) {
  ApiError e =
      geminiUpstreamError(0, R"({"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}})");
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(e.type, "server_error");
  EXPECT_EQ(e.message, "busy");
  e = geminiUpstreamError(
      200, R"({"error":{"code":504,"message":"slow","status":"DEADLINE_EXCEEDED"}})");
  EXPECT_EQ(e.status, 504);
  e = geminiUpstreamError(200,
                          R"({"error":{"code":403,"message":"no","status":"PERMISSION_DENIED"}})");
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.type, "permission_error");
  e = geminiUpstreamError(
      404, R"({"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}})");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.retryAfterSeconds, -1);
  e = geminiUpstreamError(500, "");
  EXPECT_EQ(e.message, "upstream returned HTTP 500");
}

TEST(GeminiUsage, PromptIncludesToolUseAndCompletionIncludesThoughts) {
  Usage u;
  parseGeminiUsage(json::parse(R"({"promptTokenCount":10,"toolUsePromptTokenCount":3,
      "candidatesTokenCount":4,"thoughtsTokenCount":6,"cachedContentTokenCount":8})"),
                   u);
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.promptTokens, 13);
  EXPECT_EQ(u.completionTokens, 10);
  EXPECT_EQ(u.cachedTokens, 8);
  Usage none;
  parseGeminiUsage(json("x"), none);
  EXPECT_FALSE(none.known);
}

// Found by fuzzing (regress-usage-overflow): two INT64_MAX counts were added (overflow).
TEST(GeminiUsage, ClampsHostileCounts) {
  Usage u;
  parseGeminiUsage(json::parse(R"({"promptTokenCount":9223372036854775807,
      "toolUsePromptTokenCount":9223372036854775807,"candidatesTokenCount":1e300,
      "thoughtsTokenCount":-4,"cachedContentTokenCount":18446744073709551615})"),
                   u);
  EXPECT_EQ(u.promptTokens, 2 * kMaxTokenCount);
  EXPECT_EQ(u.completionTokens, kMaxTokenCount);
  EXPECT_EQ(u.cachedTokens, kMaxTokenCount);
}

// Found by fuzzing (regress-total-tokens-out-of-range): totalTokens 1e300 was converted to
// int64_t (undefined behaviour).
TEST(CountTokens, GeminiCountIsClamped) {
  auto t = makeCountTokens(gemini());
  ASSERT_TRUE(t);
  EXPECT_EQ(json::parse(t->translateResponse(R"({"totalTokens":1e300})"))["input_tokens"],
            kMaxTokenCount);
  EXPECT_EQ(json::parse(t->translateResponse(R"({"totalTokens":-3})"))["input_tokens"], 0);
  EXPECT_EQ(json::parse(t->translateResponse(R"({"totalTokens":17})"))["input_tokens"], 17);
  EXPECT_EQ(json::parse(t->translateResponse("not json"))["input_tokens"], 0);
}

// ---- Gemini -> OpenAI request details.

TEST(GeminiRequestToOpenAI, FunctionResponsesMatchByIdThenName) {
  json in = json::parse(R"({"contents":[
    {"role":"user","parts":[{"text":"go"}]},
    {"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":1},"id":"x1"}},
                             {"functionCall":{"name":"f","args":{"a":2}}}]},
    {"role":"user","parts":[{"functionResponse":{"name":"f","response":{"r":2}}},
                            {"functionResponse":{"name":"f","id":"x1","response":{"r":1}}}]}]})");
  json out;
  ASSERT_FALSE(geminiRequestToOpenAI(in, "gpt", true, out));
  EXPECT_EQ(out["model"], "gpt");
  EXPECT_EQ(out["stream"], true);
  const json& m = out["messages"];
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1]["tool_calls"][0]["id"], "x1");
  EXPECT_EQ(m[1]["tool_calls"][1]["id"], "call_1");
  EXPECT_EQ(m[2]["tool_call_id"], "x1");  // the name matches x1 first, in order
  EXPECT_EQ(m[3]["tool_call_id"], "call_1");
}

TEST(GeminiRequestToOpenAI, StringSystemInstructionAndResponseSchema) {
  json in = json::parse(
      R"({"systemInstruction":"Be brief.","contents":[{"role":"user","parts":[{"text":"x"}]}],
    "generationConfig":{"responseMimeType":"application/json","candidateCount":2,
      "responseSchema":{"type":"OBJECT","properties":{"n":{"type":"NUMBER"}}}}})");
  json out;
  ASSERT_FALSE(geminiRequestToOpenAI(in, "gpt", false, out));
  EXPECT_EQ(out["messages"][0], json({{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_FALSE(out.contains("stream"));
  EXPECT_EQ(out["n"], 2);
  EXPECT_EQ(out["response_format"]["type"], "json_schema");
  EXPECT_EQ(out["response_format"]["json_schema"]["schema"]["properties"]["n"]["type"], "number");
}

TEST(GeminiFront, DelegatesUsageAndErrorsToInner) {
  auto t = front();
  ApiError e = t->upstreamError(
      429, R"({"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}})");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.message, "slow down");
  EXPECT_FALSE(t->usage().known);
}

}  // namespace
}  // namespace finops::dp
