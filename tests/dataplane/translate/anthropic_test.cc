// OpenAI chat <-> Anthropic Messages: golden cases (tests/dataplane/translate/golden/
// {openai_to_anthropic,anthropic_front,anthropic_passthrough}/<case>) and direct checks.
#include "dataplane/translate/anthropic.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dataplane/translate/json_util.h"
#include "dataplane/translate/openai_compat.h"
#include "tests/dataplane/translate/golden.h"

namespace finops::dp {
namespace {

using nlohmann::json;

Target anthropicTarget(bool vertex = false) {
  Target t;
  t.wire = Wire::kAnthropic;
  t.vertex = vertex;
  t.defaultMaxTokens = 4096;
  return t;
}

void openAIToAnthropic(std::string_view name, bool vertex = false) {
  golden::runCase("openai_to_anthropic/" + std::string(name), [vertex] {
    return makeOpenAIToAnthropic("anthropic/claude-sonnet-4-5", anthropicTarget(vertex));
  });
}

void front(std::string_view name) {
  golden::runCase("anthropic_front/" + std::string(name), [] {
    return makeAnthropicFront("openai/gpt-4o",
                              makeOpenAICompat(Endpoint::kChatCompletions, "openai/gpt-4o"));
  });
}

void passthrough(std::string_view name, bool vertex = false) {
  golden::runCase("anthropic_passthrough/" + std::string(name), [vertex] {
    return makeAnthropicPassthrough("anthropic/claude-sonnet-4-5", anthropicTarget(vertex));
  });
}

// ---- OpenAI client, Anthropic upstream.

TEST(OpenAIToAnthropic, Text) { openAIToAnthropic("text"); }
TEST(OpenAIToAnthropic, TextStream) { openAIToAnthropic("text_stream"); }
TEST(OpenAIToAnthropic, SystemAndDeveloperPrompts) { openAIToAnthropic("system_prompts"); }
TEST(OpenAIToAnthropic, SameRoleTurnsMerge) { openAIToAnthropic("merge_roles"); }
TEST(OpenAIToAnthropic, Images) { openAIToAnthropic("images"); }
TEST(OpenAIToAnthropic, Tools) { openAIToAnthropic("tools"); }
TEST(OpenAIToAnthropic, ToolChoiceNamed) { openAIToAnthropic("tool_choice_named"); }
TEST(OpenAIToAnthropic, ToolChoiceNone) { openAIToAnthropic("tool_choice_none"); }
TEST(OpenAIToAnthropic, ParallelToolCallsOff) { openAIToAnthropic("tool_choice_parallel_off"); }
TEST(OpenAIToAnthropic, ParallelToolsStream) { openAIToAnthropic("tools_parallel_stream"); }
TEST(OpenAIToAnthropic, ToolRoundTrip) { openAIToAnthropic("tool_round_trip"); }
TEST(OpenAIToAnthropic, StopMaxTokens) { openAIToAnthropic("stop_max_tokens"); }
TEST(OpenAIToAnthropic, StopSequence) { openAIToAnthropic("stop_sequence"); }
TEST(OpenAIToAnthropic, StopRefusal) { openAIToAnthropic("stop_refusal"); }
TEST(OpenAIToAnthropic, StopContextWindow) { openAIToAnthropic("stop_context_window"); }
TEST(OpenAIToAnthropic, StopPauseTurn) { openAIToAnthropic("stop_pause_turn"); }
TEST(OpenAIToAnthropic, CacheUsage) { openAIToAnthropic("cache_usage"); }
TEST(OpenAIToAnthropic, IncludeUsage) { openAIToAnthropic("include_usage"); }
TEST(OpenAIToAnthropic, ThinkingStream) { openAIToAnthropic("thinking_stream"); }
TEST(OpenAIToAnthropic, ThinkingResponse) { openAIToAnthropic("thinking_response"); }
TEST(OpenAIToAnthropic, UpstreamOverloaded) { openAIToAnthropic("upstream_overloaded"); }
TEST(OpenAIToAnthropic, UpstreamBadRequest) { openAIToAnthropic("upstream_bad_request"); }
TEST(OpenAIToAnthropic, UpstreamRateLimited) { openAIToAnthropic("upstream_rate_limited"); }
TEST(OpenAIToAnthropic, UpstreamNotJson) { openAIToAnthropic("upstream_not_json"); }
TEST(OpenAIToAnthropic, StreamError) { openAIToAnthropic("stream_error"); }
TEST(OpenAIToAnthropic, StreamCut) { openAIToAnthropic("stream_cut"); }
TEST(OpenAIToAnthropic, Vertex) { openAIToAnthropic("vertex", true); }
TEST(OpenAIToAnthropic, VertexStream) { openAIToAnthropic("vertex_stream", true); }

TEST(OpenAIToAnthropic, BadRequests) {
  for (const char* name :
       {"bad_no_messages", "bad_messages_type", "bad_no_role", "bad_tool_no_id", "bad_content_type",
        "bad_content_value", "bad_n", "bad_image_url", "bad_reasoning_effort"})
    openAIToAnthropic(name);
}

// Builds a request for `body`; returns the upstream JSON (null on an error, put in *err).
json build(Translator& t, const json& body, std::optional<ApiError>* err = nullptr,
           UpstreamCall* callOut = nullptr, std::string_view beta = {}) {
  std::string text = body.dump();
  auto scan = json_scan::scan(text);
  UpstreamCall call;
  bool stream = body.contains("stream") && body["stream"] == true;
  auto e = t.buildRequest(ClientRequest{text, scan, stream, beta}, "claude-x", call);
  if (err) *err = e;
  if (callOut) *callOut = call;
  if (e) return nullptr;
  return json::parse(call.body);
}

TEST(OpenAIToAnthropic, ReasoningEffortBudgets) {
  struct Case {
    const char* effort;
    int64_t budget;
  };
  for (Case c :
       {Case{"minimal", 1024}, Case{"low", 1024}, Case{"medium", 4096}, Case{"high", 16384}}) {
    auto t = makeOpenAIToAnthropic("c", anthropicTarget());
    json sent = build(*t, {{"model", "c"},
                           {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                           {"reasoning_effort", c.effort},
                           {"temperature", 0.5},
                           {"top_p", 0.9}});
    EXPECT_EQ(sent["thinking"], json({{"type", "enabled"}, {"budget_tokens", c.budget}}))
        << c.effort;
    EXPECT_GT(sent["max_tokens"].get<int64_t>(), c.budget) << c.effort;
    EXPECT_FALSE(sent.contains("temperature")) << c.effort;
    EXPECT_FALSE(sent.contains("top_p")) << c.effort;
  }
  auto t = makeOpenAIToAnthropic("c", anthropicTarget());
  json sent = build(*t, {{"model", "c"},
                         {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                         {"reasoning_effort", "none"},
                         {"temperature", 0.5}});
  EXPECT_FALSE(sent.contains("thinking"));
  EXPECT_EQ(sent["temperature"], 0.5);
}

TEST(OpenAIToAnthropic, MaxTokensSources) {
  Target target = anthropicTarget();
  target.defaultMaxTokens = 777;
  auto t = makeOpenAIToAnthropic("c", target);
  json msgs = {{{"role", "user"}, {"content", "hi"}}};
  EXPECT_EQ(build(*t, {{"messages", msgs}})["max_tokens"], 777);
  EXPECT_EQ(build(*t, {{"messages", msgs}, {"max_tokens", 10}})["max_tokens"], 10);
  EXPECT_EQ(build(*t, {{"messages", msgs}, {"max_completion_tokens", 20}})["max_tokens"], 20);
  EXPECT_EQ(build(*t, {{"messages", msgs}, {"max_tokens", nullptr}})["max_tokens"], 777);
  std::optional<ApiError> err;
  build(*t, {{"messages", msgs}, {"max_tokens", "ten"}}, &err);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->param, "max_tokens");
}

TEST(OpenAIToAnthropic, StopArrayAndFileParts) {
  auto t = makeOpenAIToAnthropic("c", anthropicTarget());
  json sent = build(
      *t,
      {{"stop", {"A", "B"}},
       {"messages",
        {{{"role", "user"},
          {"content",
           {{{"type", "file"},
             {"file",
              {{"filename", "a.pdf"}, {"file_data", "data:application/pdf;base64,JVBE"}}}}}}}}}});
  EXPECT_EQ(sent["stop_sequences"], json({"A", "B"}));
  EXPECT_EQ(sent["messages"][0]["content"][0],
            json({{"type", "document"},
                  {"source",
                   {{"type", "base64"}, {"media_type", "application/pdf"}, {"data", "JVBE"}}}}));
}

TEST(OpenAIToAnthropic, AnthropicBetaIsForwarded) {
  auto t = makeOpenAIToAnthropic("c", anthropicTarget());
  UpstreamCall call;
  build(*t, {{"messages", {{{"role", "user"}, {"content", "hi"}}}}}, nullptr, &call,
        "context-1m-2025-08-07");
  ASSERT_EQ(call.headers.size(), 1u);
  EXPECT_EQ(call.headers[0].first, "anthropic-beta");
  EXPECT_EQ(call.headers[0].second, "context-1m-2025-08-07");
}

TEST(OpenAIToAnthropic, GarbageNeverThrows) {
  for (std::string body : {R"([1,2])", R"({"messages":[null]})", R"({"messages":[{"role":1}]})",
                           R"({"messages":[{"role":"assistant","tool_calls":[{"id":"a"}]}]})",
                           R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})",
                           R"({"messages":[],"tools":[{"type":"function"}]})",
                           R"({"messages":[],"tool_choice":7})", R"({"messages":[],"stop":[1]})"}) {
    auto t = makeOpenAIToAnthropic("c", anthropicTarget());
    auto scan = json_scan::scan(body);
    UpstreamCall call;
    auto err = t->buildRequest(ClientRequest{body, scan}, "m", call);
    ASSERT_TRUE(err) << body;
    EXPECT_EQ(err->status, 400) << body;
  }
  auto t = makeOpenAIToAnthropic("c", anthropicTarget());
  json r = json::parse(t->translateResponse("not json"));
  EXPECT_TRUE(r.contains("error"));
  std::string out;
  t->onStreamEvent(sse::Event{"content_block_delta", "{broken"}, out);
  t->onStreamEvent(sse::Event{"", "[1,2,3]"}, out);
  EXPECT_FALSE(t->onStreamEnd(out));
}

TEST(OpenAIToAnthropic, ContentChunksCountContentAndToolArguments) {
  auto t = makeOpenAIToAnthropic("c", anthropicTarget());
  auto text = golden::readFile(golden::caseDir("openai_to_anthropic/tools_parallel_stream") +
                               "/upstream_stream.txt");
  ASSERT_TRUE(text);
  golden::runStream(*t, *text, false);
  // One text delta, two tool starts, three argument pieces (an empty one is skipped).
  EXPECT_EQ(t->contentChunks(), 6);
}

// ---- Pieces.

TEST(AnthropicUsage, MergesPartialObjects) {
  Usage u;
  parseAnthropicUsage(json::parse(R"({"input_tokens":10,"output_tokens":1,
      "cache_creation_input_tokens":5,"cache_read_input_tokens":100})"),
                      u);
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.promptTokens, 115);
  EXPECT_EQ(u.cachedTokens, 100);
  EXPECT_EQ(u.cacheWriteTokens, 5);
  parseAnthropicUsage(json::parse(R"({"output_tokens":42})"), u);
  EXPECT_EQ(u.promptTokens, 115);
  EXPECT_EQ(u.completionTokens, 42);
  Usage none;
  parseAnthropicUsage(json::parse(R"({"server_tool_use":{}})"), none);
  parseAnthropicUsage(json(nullptr), none);
  EXPECT_FALSE(none.known);
}

// Found by fuzzing (regress-usage-out-of-range): a float beyond int64_t was converted
// (undefined behaviour), negative counts were kept (a credit), and the sum could overflow.
TEST(AnthropicUsage, ClampsHostileCounts) {
  Usage u;
  parseAnthropicUsage(json::parse(R"({"input_tokens":1e300,"output_tokens":-5,
      "cache_read_input_tokens":9223372036854775807,
      "cache_creation_input_tokens":18446744073709551615})"),
                      u);
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.completionTokens, 0);
  EXPECT_EQ(u.cachedTokens, kMaxTokenCount);
  EXPECT_EQ(u.cacheWriteTokens, kMaxTokenCount);
  EXPECT_EQ(u.promptTokens, 3 * kMaxTokenCount);
  Usage v;
  parseAnthropicUsage(json::parse(R"({"input_tokens":-1e300,"output_tokens":12.9})"), v);
  EXPECT_EQ(v.promptTokens, 0);
  EXPECT_EQ(v.completionTokens, 12);
}

// Found by fuzzing (regress-thinking-budget-overflow): max_tokens + budget_tokens overflowed.
TEST(OpenAIToAnthropic, HugeThinkingBudgetSaturates) {
  auto t = makeOpenAIToAnthropic("c", anthropicTarget());
  std::optional<ApiError> err;
  json sent = build(*t, {{"model", "c"},
                         {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                         {"max_tokens", 5000000000000000000LL},
                         {"thinking", {{"type", "enabled"}, {"budget_tokens", INT64_MAX}}}},
                    &err);
  ASSERT_FALSE(err);
  EXPECT_EQ(sent["max_tokens"].get<int64_t>(), INT64_MAX);
}

TEST(AnthropicUpstreamError, StatusesAndTypes) {
  auto e = anthropicUpstreamError(
      401,
      R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})");
  EXPECT_EQ(e.status, 401);
  EXPECT_EQ(e.type, "authentication_error");
  EXPECT_EQ(e.message, "invalid x-api-key");
  e = anthropicUpstreamError(
      404, R"({"type":"error","error":{"type":"not_found_error","message":"model: claude-x"}})");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "model_not_found");
  e = anthropicUpstreamError(500,
                             R"({"type":"error","error":{"type":"api_error","message":"boom"}})");
  EXPECT_EQ(e.status, 500);
  EXPECT_EQ(e.type, "server_error");
  e = anthropicUpstreamError(503, "");
  EXPECT_EQ(e.message, "upstream returned HTTP 503");
  // Vertex wraps Google errors in an array.
  e = anthropicUpstreamError(
      429, R"([{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}])");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.message, "Quota exceeded");
}

TEST(AnthropicRequestToOpenAI, SystemBlocksToolChoiceAndDroppedFields) {
  nlohmann::ordered_json out;
  auto err = anthropicRequestToOpenAI(nlohmann::ordered_json::parse(R"({
      "model":"m","max_tokens":10,"top_k":3,"thinking":{"type":"enabled","budget_tokens":2048},
      "system":[{"type":"text","text":"A"},{"type":"text","text":"B"}],
      "tools":[{"name":"t","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"t"},
      "messages":[{"role":"user","content":"hi"}],"stream":true})"),
                                      out);
  ASSERT_FALSE(err) << err->message;
  EXPECT_EQ(json(out["messages"][0]), json({{"role", "system"}, {"content", "A\nB"}}));
  EXPECT_EQ(json(out["tool_choice"]), json::parse(R"({"type":"function","function":{"name":"t"}})"));
  EXPECT_EQ(out["stream"], true);
  EXPECT_EQ(out["model"], "m");
  EXPECT_FALSE(out.contains("top_k"));
  EXPECT_FALSE(out.contains("thinking"));
  EXPECT_FALSE(out.contains("reasoning_effort"));
}

TEST(AnthropicRequestToOpenAI, InvalidInputIs400) {
  for (const char* body :
       {R"([])", R"({"max_tokens":1,"messages":[{"content":"x"}]})",
        R"({"max_tokens":1,"messages":[{"role":"user"}]})",
        R"({"max_tokens":1,"messages":[{"role":"user","content":[{"type":"x"}]}]})",
        R"({"max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result"}]}]})",
        R"({"max_tokens":1,"messages":[],"system":5})",
        R"({"max_tokens":1,"messages":[],"tool_choice":{"type":"x"}})"}) {
    nlohmann::ordered_json out;
    auto err = anthropicRequestToOpenAI(nlohmann::ordered_json::parse(body), out);
    ASSERT_TRUE(err) << body;
    EXPECT_EQ(err->status, 400) << body;
  }
}

// ---- Anthropic client, OpenAI-compatible upstream.

TEST(AnthropicFront, Text) { front("text"); }
TEST(AnthropicFront, TextStream) { front("text_stream"); }
TEST(AnthropicFront, ToolsStream) { front("tools_stream"); }
TEST(AnthropicFront, ToolRoundTrip) { front("tool_round_trip"); }
TEST(AnthropicFront, StopLength) { front("stop_length"); }
TEST(AnthropicFront, ErrorChunk) { front("error_chunk"); }
TEST(AnthropicFront, StreamCut) { front("stream_cut"); }
TEST(AnthropicFront, UpstreamErrorIsInners) { front("upstream_error"); }
TEST(AnthropicFront, BadRequests) {
  for (const char* name : {"bad_no_max_tokens", "bad_no_messages", "bad_server_tool"}) front(name);
}

TEST(AnthropicFront, UsageAndChunksAreInners) {
  auto t = makeAnthropicFront("c", makeOpenAICompat(Endpoint::kChatCompletions, "c"));
  json sent = build(*t, {{"model", "c"},
                         {"max_tokens", 5},
                         {"stream", true},
                         {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  EXPECT_EQ(sent["model"], "claude-x");
  auto text =
      golden::readFile(golden::caseDir("anthropic_front/text_stream") + "/upstream_stream.txt");
  ASSERT_TRUE(text);
  golden::runStream(*t, *text, true);
  EXPECT_TRUE(t->usage().known);
  EXPECT_EQ(t->usage().promptTokens, 20);
  EXPECT_GT(t->contentChunks(), 0);
}

TEST(AnthropicFront, ThinkingRequestedGetsThinkingBlocks) {
  auto t = makeAnthropicFront("c", makeOpenAICompat(Endpoint::kChatCompletions, "c"));
  build(*t, {{"model", "c"},
             {"max_tokens", 5},
             {"thinking", {{"type", "enabled"}, {"budget_tokens", 1024}}},
             {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  json r = json::parse(t->translateResponse(
      R"({"id":"x","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant",
          "content":"Hi","reasoning_content":"Hmm."}}]})"));
  ASSERT_EQ(r["content"].size(), 2u) << r.dump();
  EXPECT_EQ(r["content"][0]["type"], "thinking");
  EXPECT_EQ(r["content"][0]["thinking"], "Hmm.");
  EXPECT_EQ(r["content"][1]["text"], "Hi");
}

// ---- Anthropic client, Anthropic upstream.

TEST(AnthropicPassthrough, Text) { passthrough("text"); }
TEST(AnthropicPassthrough, StreamWithCacheUsage) { passthrough("stream_cache"); }
TEST(AnthropicPassthrough, StreamCut) { passthrough("stream_cut"); }
TEST(AnthropicPassthrough, StreamError) { passthrough("stream_error"); }
TEST(AnthropicPassthrough, Vertex) { passthrough("vertex", true); }
TEST(AnthropicPassthrough, UpstreamOverloaded) { passthrough("upstream_overloaded"); }
TEST(AnthropicPassthrough, BadNoModel) { passthrough("bad_no_model"); }

// Found by fuzzing (tests/fuzz/corpus/translate_anthropic_front/regress-duplicate-model):
// Anthropic reads the last of duplicate members, so a second "model" would reach it instead of
// the one the gateway checked and priced.
TEST(AnthropicPassthrough, RefusesDuplicateModelAndStream) {
  for (bool vertex : {false, true}) {
    for (std::string body : {
             std::string(R"({"model":"a/claude-haiku","max_tokens":5,"model":"claude-opus"})"),
             std::string(R"({"model":"a/claude-haiku","max_tokens":5,"m\u006fdel":"claude-opus"})"),
             std::string(R"({"model":"a/claude-haiku","stream":false,"stream":true})"),
         }) {
      auto t = makeAnthropicPassthrough("a/claude-haiku", anthropicTarget(vertex));
      auto scan = json_scan::scan(body);
      ASSERT_TRUE(scan.ok) << body;
      UpstreamCall call;
      auto err = t->buildRequest(ClientRequest{body, scan}, "claude-haiku", call);
      ASSERT_TRUE(err.has_value()) << body;
      EXPECT_EQ(err->status, 400);
      EXPECT_EQ(err->code, "duplicate_member");
      EXPECT_EQ(err->param, body.find("stream") != std::string::npos ? "stream" : "model");
      EXPECT_TRUE(call.body.empty());
    }
  }
}

TEST(AnthropicPassthrough, KeepsBytesAndForwardsBeta) {
  auto t = makeAnthropicPassthrough("client/m", anthropicTarget());
  std::string body =
      R"({"model":"client/m","max_tokens":5,"messages":[{"role":"user","content":"hi \u00e9"}]})";
  auto scan = json_scan::scan(body);
  UpstreamCall call;
  ASSERT_FALSE(t->buildRequest(ClientRequest{body, scan, false, "b1,b2"}, "claude-x", call));
  EXPECT_EQ(
      call.body,
      R"({"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"hi \u00e9"}]})");
  ASSERT_EQ(call.headers.size(), 1u);
  EXPECT_EQ(call.headers[0], (std::pair<std::string, std::string>("anthropic-beta", "b1,b2")));
  UpstreamCall noBeta;
  ASSERT_FALSE(t->buildRequest(ClientRequest{body, scan}, "claude-x", noBeta));
  EXPECT_TRUE(noBeta.headers.empty());
}

}  // namespace
}  // namespace finops::dp
