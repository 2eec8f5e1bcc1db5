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

void buildsWithoutCrashing(Translator& t) {
  std::string body = deepToolCallBody();
  auto scan = json_scan::scan(body);
  ASSERT_TRUE(scan.ok);
  UpstreamCall call;
  auto err = t.buildRequest(ClientRequest{body, scan}, "m", call);
  // Either refused as a bad request or sent with the deep value dropped; never a crash.
  if (err) {
    EXPECT_EQ(err->status, 400);
  } else {
    EXPECT_LT(json_limits::maxDepth(call.body, 1000), 1000);
  }
}

TEST(DeepJson, ToolArgumentsToAnthropic) {
  Target t;
  t.wire = Wire::kAnthropic;
  t.defaultMaxTokens = 1024;
  auto tr = makeOpenAIToAnthropic("anthropic/c", t);
  buildsWithoutCrashing(*tr);
}

TEST(DeepJson, ToolArgumentsToGemini) {
  Target t;
  t.wire = Wire::kGemini;
  auto tr = makeOpenAIToGemini("gemini/g", t);
  buildsWithoutCrashing(*tr);
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
