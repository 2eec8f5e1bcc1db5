// JSON nested inside strings (tool-call arguments, tool results) or arriving from an upstream
// is parsed by the translators after the body's own depth check; parseUntrusted bounds it, so
// a deep value is refused instead of overflowing a worker's stack when it is serialised.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dataplane/schema/json_scan.h"
#include "dataplane/translate/anthropic.h"
#include "dataplane/translate/gemini.h"
#include "dataplane/translate/json_util.h"

namespace finops::dp {
namespace {

using nlohmann::json;

std::string nested(int depth) {
  return "{\"a\":" + std::string(depth, '[') + "1" + std::string(depth, ']') + "}";
}

TEST(ParseUntrusted, BoundsDepth) {
  EXPECT_TRUE(parseUntrusted<json>(nested(kMaxJsonDepth - 1)).is_object());
  EXPECT_TRUE(parseUntrusted<json>(nested(kMaxJsonDepth)).is_discarded());
  EXPECT_TRUE(parseUntrusted<json>("{broken").is_discarded());
  EXPECT_TRUE(parseUntrusted<nlohmann::ordered_json>("[\"[[[[\"]").is_array());
}

// The body itself is shallow (its depth check passes); the arguments string holds 200k levels.
std::string deepToolCallBody() {
  json args = nested(200000);
  json body = {{"model", "m"},
               {"messages",
                {{{"role", "user"}, {"content", "hi"}},
                 {{"role", "assistant"},
                  {"tool_calls",
                   {{{"id", "c1"},
                     {"type", "function"},
                     {"function", {{"name", "f"}, {"arguments", args}}}}}}},
                 {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", args}}}}};
  return body.dump();
}

std::optional<ApiError> build(Translator& t, UpstreamCall& call) {
  std::string body = deepToolCallBody();
  auto scan = json_scan::scan(body);
  EXPECT_TRUE(scan.ok);
  return t.buildRequest(ClientRequest{body, scan}, "m", call);
}

// Anthropic keeps the call with empty input (as for any arguments that are not an object).
TEST(DeepJson, ToolArgumentsToAnthropicAreDropped) {
  Target t;
  t.wire = Wire::kAnthropic;
  t.defaultMaxTokens = 1024;
  auto tr = makeOpenAIToAnthropic("anthropic/c", t);
  UpstreamCall call;
  auto err = build(*tr, call);
  ASSERT_FALSE(err) << err->message;
  json sent = json::parse(call.body);
  const json& toolUse = sent["messages"][1]["content"][0];
  EXPECT_EQ(toolUse["type"], "tool_use");
  EXPECT_EQ(toolUse["input"], json::object());
  EXPECT_LT(json_limits::maxDepth(call.body, 1000), 20);
}

// Gemini needs an object for functionCall.args: the request is refused.
TEST(DeepJson, ToolArgumentsToGeminiAreRefused) {
  Target t;
  t.wire = Wire::kGemini;
  auto tr = makeOpenAIToGemini("gemini/g", t);
  UpstreamCall call;
  auto err = build(*tr, call);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->status, 400);
  EXPECT_EQ(err->param, "messages[1].tool_calls[0].function.arguments");
}

TEST(DeepJson, DeepUpstreamBodyIsAnErrorNotACrash) {
  Target t;
  t.wire = Wire::kAnthropic;
  auto tr = makeOpenAIToAnthropic("anthropic/c", t);
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  json out = json::parse(tr->translateResponse(deep), nullptr, false);
  EXPECT_TRUE(out.is_discarded() || out.contains("error"));
}

}  // namespace
}  // namespace finops::dp
