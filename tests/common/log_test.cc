#include "common/log.h"

#include <gtest/gtest.h>

#include <regex>

namespace finops::log {
namespace {

constexpr const char* kTs = "2026-11-22T10:00:00.123Z";

TEST(LogFormat, ParsesFlagValues) {
  Format f = Format::kJson;
  ASSERT_TRUE(parseFormat("text", &f));
  EXPECT_EQ(f, Format::kText);
  ASSERT_TRUE(parseFormat("json", &f));
  EXPECT_EQ(f, Format::kJson);
  EXPECT_FALSE(parseFormat("JSON", &f));
  EXPECT_FALSE(parseFormat("", &f));
  EXPECT_FALSE(parseFormat("logfmt", &f));
}

TEST(LogFormat, TextLineWithBareAndQuotedValues) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  fields["key"] = "value";
  fields["key2"] = "value with spaces";
  fields["n"] = 42;
  fields["ok"] = true;
  fields["none"] = nullptr;
  fields["ratio"] = 1.5;
  EXPECT_EQ(formatLine(Format::kText, Level::kInfo, kTs, "message", fields),
            "2026-11-22T10:00:00.123Z INFO message key=value key2=\"value with spaces\" n=42 "
            "ok=true none=null ratio=1.5");
}

TEST(LogFormat, TextLevels) {
  auto none = nlohmann::ordered_json();
  EXPECT_EQ(formatLine(Format::kText, Level::kWarn, kTs, "w", none), std::string(kTs) + " WARN w");
  EXPECT_EQ(formatLine(Format::kText, Level::kError, kTs, "e", none), std::string(kTs) + " ERROR e");
  EXPECT_EQ(formatLine(Format::kText, Level::kDebug, kTs, "d", none), std::string(kTs) + " DEBUG d");
}

TEST(LogFormat, TextEscapesQuotesBackslashesNewlinesAndEquals) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  fields["q"] = "say \"hi\"";
  fields["path"] = "C:\\dir";
  fields["lines"] = "one\ntwo";
  fields["eq"] = "a=b";
  fields["empty"] = "";
  fields["ctl"] = std::string("a\x01z");
  std::string line = formatLine(Format::kText, Level::kInfo, kTs, "multi\nline msg", fields);
  EXPECT_EQ(line, std::string(kTs) +
                      " INFO multi\\nline msg q=\"say \\\"hi\\\"\" path=\"C:\\\\dir\" "
                      "lines=\"one\\ntwo\" eq=\"a=b\" empty=\"\" ctl=\"a\\u0001z\"");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogFormat, TextNestedValuesAreCompactJson) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  fields["list"] = nlohmann::ordered_json::array({1, 2, 3});
  fields["obj"] = {{"a", 1}, {"b", "x y"}};
  EXPECT_EQ(formatLine(Format::kText, Level::kInfo, kTs, "m", fields),
            std::string(kTs) + " INFO m list=[1,2,3] obj=\"{\\\"a\\\":1,\\\"b\\\":\\\"x y\\\"}\"");
}

TEST(LogFormat, TextKeysStayOneWord) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  fields["bad key=x"] = 1;
  EXPECT_EQ(formatLine(Format::kText, Level::kInfo, kTs, "m", fields),
            std::string(kTs) + " INFO m bad_key_x=1");
}

TEST(LogFormat, JsonLineKeepsFieldOrder) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  fields["request_id"] = "req_1";
  fields["status"] = 200;
  fields["latency_ms"] = 1.25;
  std::string line = formatLine(Format::kJson, Level::kInfo, kTs, "request", fields);
  EXPECT_EQ(line,
            "{\"ts\":\"2026-11-22T10:00:00.123Z\",\"level\":\"info\",\"msg\":\"request\","
            "\"request_id\":\"req_1\",\"status\":200,\"latency_ms\":1.25}");
}

TEST(LogFormat, JsonReplacesInvalidUtf8) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  fields["s"] = std::string("a\xff" "b");
  std::string line = formatLine(Format::kJson, Level::kInfo, kTs, "m", fields);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["s"], "a\xEF\xBF\xBD" "b");
}

// The functions that write follow setFormat().
TEST(LogFormat, WriteFollowsTheFormat) {
  const Format saved = format();
  setFormat(Format::kText);
  testing::internal::CaptureStderr();
  info("hello world", {{"k", "v w"}});
  nlohmann::ordered_json f = nlohmann::ordered_json::object();
  f["request_id"] = "req_9";
  writeFields(Level::kInfo, "request", f);
  std::string text = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(std::regex_search(
      text, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO hello world k="v w"\n)")))
      << text;
  EXPECT_NE(text.find(" INFO request request_id=req_9\n"), std::string::npos) << text;

  setFormat(Format::kJson);
  testing::internal::CaptureStderr();
  info("hello world", {{"k", "v w"}});
  writeFields(Level::kInfo, "request", f);
  std::string json = testing::internal::GetCapturedStderr();
  setFormat(saved);
  auto nl = json.find('\n');
  ASSERT_NE(nl, std::string::npos) << json;
  auto first = nlohmann::json::parse(json.substr(0, nl));
  EXPECT_EQ(first["msg"], "hello world");
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["k"], "v w");
  auto second = nlohmann::json::parse(json.substr(nl + 1, json.find('\n', nl + 1) - nl - 1));
  EXPECT_EQ(second["msg"], "request");
  EXPECT_EQ(second["request_id"], "req_9");
}

}  // namespace
}  // namespace finops::log
