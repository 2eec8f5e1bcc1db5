#include "dataplane/schema/json_scan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace finops::dp::json_scan {
namespace {

TEST(JsonScan, FindsTopLevelMembersOnly) {
  std::string t = R"( {"a":{"model":"inner"},"model":"openai/x","stream":true,"n":-1.5e3,"z":null} )";
  auto r = scan(t);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.isObject);
  ASSERT_EQ(r.members.size(), 5u);
  const Member* m = r.find("model");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, 's');
  EXPECT_EQ(stringValue(t, *m), "openai/x");
  EXPECT_EQ(r.find("stream")->kind, 't');
  EXPECT_EQ(r.find("n")->kind, 'n');
  EXPECT_EQ(r.find("z")->kind, 'z');
  EXPECT_EQ(r.find("a")->kind, 'o');
  std::string out = splice(t, *m, "\"x\"");
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["model"], "x");
  EXPECT_EQ(j["a"]["model"], "inner");
}

TEST(JsonScan, AgreesWithNlohmannOnValidity) {
  const char* cases[] = {
      "{}", "[]", "1", "\"s\"", "{\"a\":[1,2,{\"b\":null}]}", "{\"a\":\"\\u00e9\\n\"}",
      "{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xf0\x9f\x98\x80\"}",
      // invalid
      "", "{", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "01", "1.", "-", "tru",
      "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\\x\"}",
      "{\"a\":\"\x01\"}", "{\"a\":\"\\ud800\"}", "{\"a\":1} x", "\"unterminated",
      "{\"a\":\"\xe2\x82\"}",
  };
  for (const char* c : cases) {
    bool ours = scan(c).ok;
    bool theirs = nlohmann::json::accept(c);
    EXPECT_EQ(ours, theirs) << "input: " << c;
  }
}

TEST(JsonScan, BoundsNesting) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  auto r = scan(deep, 128);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("nesting"), std::string::npos);
  EXPECT_TRUE(scan(deep, 256).ok);
}

TEST(JsonScan, DecodesEscapedStrings) {
  std::string t = R"({"model":"a\/b\u00e9\ud83d\ude00\""})";
  auto r = scan(t);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(stringValue(t, *r.find("model")), "a/b\xc3\xa9\xf0\x9f\x98\x80\"");
  std::string s;
  appendString(s, "q\"\\\n\x01");
  EXPECT_EQ(s, "\"q\\\"\\\\\\n\\u0001\"");
}

}  // namespace
}  // namespace finops::dp::json_scan
