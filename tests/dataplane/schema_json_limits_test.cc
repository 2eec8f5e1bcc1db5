#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "dataplane/schema/json_limits.h"

namespace finops::dp::json_limits {
namespace {

std::string nested(int depth, char open = '[', char close = ']') {
  return std::string(static_cast<size_t>(depth), open) +
         std::string(static_cast<size_t>(depth), close);
}

TEST(JsonDepth, CountsContainersNotScalars) {
  EXPECT_EQ(maxDepth("", 64), 0);
  EXPECT_EQ(maxDepth("42", 64), 0);
  EXPECT_EQ(maxDepth(R"("text")", 64), 0);
  EXPECT_EQ(maxDepth("{}", 64), 1);
  EXPECT_EQ(maxDepth("[]", 64), 1);
  EXPECT_EQ(maxDepth(R"({"a":[1,{"b":[]}],"c":{}})", 64), 4);
  // Siblings do not add up: the deepest path counts.
  EXPECT_EQ(maxDepth("[[],[],[[]],[]]", 64), 3);
}

TEST(JsonDepth, ExactlyAtTheLimitPassesOneMoreFails) {
  for (int limit : {1, 2, 64, 128}) {
    EXPECT_FALSE(tooDeep(nested(limit), limit)) << limit;
    EXPECT_TRUE(tooDeep(nested(limit + 1), limit)) << limit;
    EXPECT_EQ(maxDepth(nested(limit + 1), limit), limit + 1);
  }
  // Objects nest the same way.
  std::string obj;
  for (int i = 0; i < 64; ++i) obj += R"({"k":)";
  obj += "1";
  for (int i = 0; i < 64; ++i) obj += "}";
  EXPECT_EQ(maxDepth(obj, 64), 64);
  EXPECT_FALSE(tooDeep(obj, 64));
  EXPECT_TRUE(tooDeep("[" + obj + "]", 64));
}

TEST(JsonDepth, StopsEarlyOnHugeNesting) {
  // A million brackets: the answer is limit + 1, found without reading to the end.
  std::string deep(1'000'000, '[');
  EXPECT_EQ(maxDepth(deep, 64), 65);
}

TEST(JsonDepth, BracketsInsideStringsDoNotCount) {
  EXPECT_EQ(maxDepth(R"({"content":"[[[[[[[[{{{{{{"})", 2), 1);
  EXPECT_FALSE(tooDeep(R"(["]]]]]][[[[[["])", 1));
  // An escaped quote does not end the string: the brackets after it are still inside.
  EXPECT_EQ(maxDepth(R"(["a\"[[[[["])", 64), 1);
  // An escaped backslash does end it: "\\" then a real bracket.
  EXPECT_EQ(maxDepth(R"(["a\\",[[]]])", 64), 3);
  // Unicode escapes and multi-byte UTF-8 are just string bytes.
  EXPECT_EQ(maxDepth("[\"\\u005b\\u005b \xE2\x9F\xA6[\"]", 64), 1);
  // Closing brackets inside a string do not lower the depth either.
  std::string s = "[[[\"]]]]]]]]\"[[]]]]]";
  EXPECT_EQ(maxDepth(s, 64), 5);
}

TEST(JsonDepth, AgreesWithAParserOnValidJson) {
  const char* docs[] = {
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"[{]}"}]}]})",
      R"([1,[2,[3,[4,"]\\"]]]])",
      R"({"a":"\\","b":["\"",{"c":[]}]})",
  };
  for (const char* d : docs) {
    auto j = nlohmann::json::parse(d);  // valid JSON, all of them
    // The depth nlohmann's DOM has.
    std::function<int(const nlohmann::json&)> depth = [&](const nlohmann::json& v) -> int {
      if (!v.is_structured()) return 0;
      int m = 0;
      for (const auto& c : v) m = std::max(m, depth(c));
      return m + 1;
    };
    EXPECT_EQ(maxDepth(d, 64), depth(j)) << d;
  }
}

TEST(JsonDepth, InvalidInputNeverCrashesOrGoesNegative) {
  EXPECT_EQ(maxDepth("]]]]}}}", 64), 0);
  EXPECT_EQ(maxDepth("]]][[", 64), 2);
  EXPECT_EQ(maxDepth("[\"unterminated", 64), 1);
  EXPECT_EQ(maxDepth("[\"ends with a backslash\\", 64), 1);
  EXPECT_EQ(maxDepth(std::string_view("[\0[\0]", 5), 64), 2);
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk) c = "[]{}\"\\ax,"[rng() % 9];
    int d = maxDepth(junk, 16);
    EXPECT_GE(d, 0);
    EXPECT_LE(d, 17);
  }
}

TEST(ArrayLength, CountsTopLevelElements) {
  EXPECT_EQ(arrayLength("[]"), 0u);
  EXPECT_EQ(arrayLength("[ \n ]"), 0u);
  EXPECT_EQ(arrayLength("[1]"), 1u);
  EXPECT_EQ(arrayLength("[1,2,3]"), 3u);
  EXPECT_EQ(arrayLength(R"([{"a":1,"b":[1,2,3]},[4,5],"x,y,z"])"), 3u);
  EXPECT_EQ(arrayLength(R"(["a\",b", "c"])"), 2u);
  EXPECT_EQ(arrayLength(R"([ {} , [] ])"), 2u);
  EXPECT_EQ(arrayLength("[null,false,true]"), 3u);
}

long long countIn(const std::string& body, std::string_view key) {
  auto scan = json_scan::scan(body);
  EXPECT_TRUE(scan.ok) << scan.error;
  return memberArrayLength(body, scan, key);
}

std::string chatBody(int n) {
  std::string b = R"({"model":"openai/gpt-4o-mini","messages":[)";
  for (int i = 0; i < n; ++i) {
    if (i) b += ",";
    b += R"({"role":"user","content":"hi, [there]"})";
  }
  return b + "]}";
}

TEST(MessageCount, OpenAIAndAnthropicMessages) {
  EXPECT_EQ(countIn(chatBody(0), "messages"), 0);
  EXPECT_EQ(countIn(chatBody(1), "messages"), 1);
  EXPECT_EQ(countIn(chatBody(4097), "messages"), 4097);
  // Anthropic: messages beside a system prompt array that must not count.
  std::string anthropic =
      R"({"model":"claude","system":[{"type":"text","text":"a"},{"type":"text","text":"b"}],)"
      R"("max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]})";
  EXPECT_EQ(countIn(anthropic, "messages"), 1);
  // Nested "messages" keys are not the conversation.
  EXPECT_EQ(countIn(R"({"metadata":{"messages":[1,2,3]}})", "messages"), -1);
}

TEST(MessageCount, GeminiContents) {
  std::string gemini =
      R"({"contents":[{"role":"user","parts":[{"text":"a"}]},{"role":"model","parts":[{"text":"b"}]},)"
      R"({"role":"user","parts":[{"text":"c"},{"text":"d"}]}],"generationConfig":{"maxOutputTokens":5}})";
  EXPECT_EQ(countIn(gemini, "contents"), 3);
  EXPECT_EQ(countIn(gemini, "messages"), -1);
}

TEST(MessageCount, AbsentOrNotAnArray) {
  EXPECT_EQ(countIn(R"({"model":"x"})", "messages"), -1);
  EXPECT_EQ(countIn(R"({"messages":"not an array"})", "messages"), -1);
  EXPECT_EQ(countIn(R"({"messages":{"0":{}}})", "messages"), -1);
}

TEST(MessageCount, EscapedKeysAndDuplicatesCannotHideMessages) {
  // A parser decodes the key to "messages": so must the count.
  EXPECT_EQ(countIn(R"({"messag\u0065s":[1,2,3]})", "messages"), 3);
  // With duplicate keys, the longest array counts (parsers differ on which one wins).
  EXPECT_EQ(countIn(R"({"messages":[1],"messages":[1,2,3,4]})", "messages"), 4);
  EXPECT_EQ(countIn(R"({"messages":[1,2,3,4],"messages":[]})", "messages"), 4);
}

}  // namespace
}  // namespace finops::dp::json_limits
