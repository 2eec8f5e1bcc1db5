#include "cli/logs.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "cli/connection.h"
#include "cli/governance.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using Argv = std::vector<std::string>;

constexpr int64_t kNow = 1'798'761'600'000;  // 2027-01-01T00:00:00Z

// The exit code and message of a failed parse (0, "" when it parsed).
std::pair<int, std::string> failure(const Argv& argv) {
  try {
    parseLogsArgs(argv, kNow);
  } catch (const CliError& e) {
    return {e.code(), e.what()};
  }
  return {0, ""};
}

// Runs the test's body in UTC, whatever TZ the machine has.
class LogsFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* tz = std::getenv("TZ")) saved_ = tz;
    had_ = std::getenv("TZ") != nullptr;
    setenv("TZ", "UTC", 1);
    tzset();
  }
  void TearDown() override {
    if (had_)
      setenv("TZ", saved_.c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }

 private:
  bool had_ = false;
  std::string saved_;
};

v1::LogEntry sampleEntry() {
  v1::LogEntry e;
  e.set_id(12);
  v1::LogRecord* r = e.mutable_record();
  r->set_request_id("req_0123456789abcdef0123456789abcdef");
  r->set_ts_ms(kNow + 123);
  r->set_node("dp-a");
  r->set_key_id("vk_1");
  r->set_key_name("ci-bot");
  r->set_method("POST");
  r->set_route("/v1/chat/completions");
  r->set_provider("openai");
  r->set_model("openai/gpt-4o-mini");
  r->set_status(200);
  r->set_latency_us(812'345);
  r->set_ttft_us(95'000);
  r->set_overhead_us(420);
  r->set_prompt_tokens(12);
  r->set_completion_tokens(34);
  r->set_cost_nano(11'700'000);
  r->set_streamed(true);
  r->set_content_logged(true);
  r->set_request_content(R"({"messages":[{"role":"user","content":"hi"}]})");
  r->set_response_content("Hello there");
  r->set_dialect("client");
  return e;
}

TEST(LogsArgs, FiltersGoIntoTheQuery) {
  LogsListOptions o = parseLogsArgs(
      {"--provider", "openai", "--model=openai/gpt-4o", "--key", "ci-bot", "--team", "ml",
       "--customer", "acme", "--status", "5xx", "--error-type", "rate_limit_exceeded", "--search",
       "\"refund policy\"", "--limit", "20", "--cursor", "abc"},
      kNow);
  const v1::LogQuery& q = o.query;
  EXPECT_EQ(q.provider(), "openai");
  EXPECT_EQ(q.model(), "openai/gpt-4o");
  EXPECT_EQ(q.key(), "ci-bot");
  EXPECT_EQ(q.team(), "ml");
  EXPECT_EQ(q.customer(), "acme");
  EXPECT_EQ(q.status(), "5xx");  // passed through: the control plane checks it
  EXPECT_EQ(q.error_type(), "rate_limit_exceeded");
  EXPECT_EQ(q.search(), "\"refund policy\"");
  EXPECT_EQ(q.limit(), 20);
  EXPECT_EQ(q.cursor(), "abc");
  EXPECT_FALSE(q.has_since());
  EXPECT_FALSE(q.has_until());
  EXPECT_EQ(q.after_id(), 0);
  EXPECT_FALSE(o.follow);

  LogsListOptions none = parseLogsArgs({}, kNow);
  EXPECT_EQ(none.query.limit(), 0);  // the control plane's default
  EXPECT_TRUE(parseLogsArgs({"--follow"}, kNow).follow);
  EXPECT_TRUE(parseLogsArgs({"-f", "--key", "k"}, kNow).follow);
}

TEST(LogsArgs, SinceAndUntilTakeDurationsTimesAndUnixMillis) {
  LogsListOptions o = parseLogsArgs({"--since", "15m", "--until", "2m"}, kNow);
  EXPECT_EQ(timestampMs(o.query.since()), kNow - 15 * 60'000);
  EXPECT_EQ(timestampMs(o.query.until()), kNow - 2 * 60'000);
  EXPECT_EQ(timestampMs(parseLogsArgs({"--since", "7d"}, kNow).query.since()),
            kNow - 7 * 86'400'000LL);
  EXPECT_EQ(timestampMs(parseLogsArgs({"--since", "2026-12-31T23:00:00Z"}, kNow).query.since()),
            kNow - 3'600'000);
  EXPECT_EQ(timestampMs(parseLogsArgs({"--since", "2026-12-31"}, kNow).query.since()),
            kNow - 86'400'000);
  EXPECT_EQ(timestampMs(parseLogsArgs({"--since", "1798761600123"}, kNow).query.since()),
            kNow + 123);
  EXPECT_EQ(parseLogTime("2h", "--since", kNow), kNow - 7'200'000);
}

TEST(LogsArgs, BadInputIsAUsageErrorWithTheUsage) {
  for (const Argv& bad : std::vector<Argv>{
           {"--nope"},
           {"--provider"},  // missing value
           {"req_123"},     // a positional: that is `logs show`
           {"--since", "yesterday"},
           {"--since", "-5m"},
           {"--until", "2027-13-01"},
           {"--since", "1h", "--until", "2h"},  // since after until
           {"--limit", "0"},
           {"--limit", "1001"},
           {"--limit", "ten"},
           {"--limit", "-1"},
           {"--follow", "--cursor", "abc"},
           {"-f", "--until", "1h"},
       }) {
    auto [code, msg] = failure(bad);
    EXPECT_EQ(code, kExitUsage) << bad[0];
    EXPECT_NE(msg.find("usage: finopsctl logs"), std::string::npos) << msg;
  }
  EXPECT_NE(failure({"--since", "yesterday"}).second.find("--since takes a duration"),
            std::string::npos);
  EXPECT_NE(failure({"--nope"}).second.find("unknown flag --nope"), std::string::npos);
}

TEST_F(LogsFormat, JsonHasEveryFieldByItsProtoName) {
  v1::LogEntry e = sampleEntry();
  nlohmann::ordered_json j = logEntryJson(e, false);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"id",
                                            "request_id",
                                            "ts_ms",
                                            "node",
                                            "key_id",
                                            "key_name",
                                            "team_id",
                                            "team_name",
                                            "customer_id",
                                            "customer_name",
                                            "method",
                                            "route",
                                            "provider",
                                            "model",
                                            "status",
                                            "error_type",
                                            "latency_us",
                                            "ttft_us",
                                            "overhead_us",
                                            "prompt_tokens",
                                            "completion_tokens",
                                            "cached_tokens",
                                            "cost_nano",
                                            "cost_usd",
                                            "streamed",
                                            "content_logged",
                                            "content_truncated",
                                            "dialect"}));
  EXPECT_EQ(j["id"], 12);
  EXPECT_TRUE(j["ts_ms"].is_number_integer());
  EXPECT_EQ(j["ts_ms"], kNow + 123);
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["team_name"], "");
  EXPECT_EQ(j["cost_nano"], 11'700'000);
  EXPECT_DOUBLE_EQ(j["cost_usd"].get<double>(), 0.0117);
  EXPECT_EQ(j["streamed"], true);
  EXPECT_NE(j.dump().find("\"cost_usd\":0.0117"), std::string::npos) << j.dump();

  nlohmann::ordered_json full = logEntryJson(e, true);
  EXPECT_EQ(full["request_content"], R"({"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(full["response_content"], "Hello there");
  EXPECT_FALSE(j.contains("request_content"));
}

TEST_F(LogsFormat, TableCells) {
  v1::LogEntry e = sampleEntry();
  EXPECT_EQ(logTableHeader(false).size(), 10u);
  EXPECT_EQ(logTableHeader(true).back(), "ERROR");
  EXPECT_EQ(logTableCells(e, false),
            (std::vector<std::string>{
                "2027-01-01T00:00:00Z", "req_0123456789abcdef0123456789abcdef", "200", "openai",
                "openai/gpt-4o-mini", "ci-bot", "812ms", "95ms", "12/34", "$0.0117"}));
  e.mutable_record()->set_key_name("");
  e.mutable_record()->set_status(429);
  e.mutable_record()->set_error_type("rate_limit_exceeded");
  auto cells = logTableCells(e, true);
  EXPECT_EQ(cells[5], "vk_1");  // no name: the id
  EXPECT_EQ(cells[2], "429");
  EXPECT_EQ(cells.back(), "rate_limit_exceeded");
  e.mutable_record()->set_key_id("");
  e.mutable_record()->set_error_type("");
  cells = logTableCells(e, true);
  EXPECT_EQ(cells[5], "-");
  EXPECT_EQ(cells.back(), "-");
}

TEST(LogsFormatValues, DurationsAndCosts) {
  EXPECT_EQ(formatMicros(0), "-");
  EXPECT_EQ(formatMicros(420), "420us");
  EXPECT_EQ(formatMicros(2'340), "2.3ms");
  EXPECT_EQ(formatMicros(9'999), "10.0ms");
  EXPECT_EQ(formatMicros(812'345), "812ms");
  EXPECT_EQ(formatMicros(12'400'000), "12.4s");
  EXPECT_EQ(formatLogCost(0), "$0.00");
  EXPECT_EQ(formatLogCost(11'700'000), "$0.0117");
  EXPECT_EQ(formatLogCost(1'500'000'000), "$1.50");
  EXPECT_EQ(formatLogCost(1'234), "$0.000001");
  EXPECT_EQ(formatLogCost(499), "<$0.000001");
  EXPECT_EQ(formatLogCost(123'456'789'000), "$123.456789");
}

TEST_F(LogsFormat, LocalTimes) {
  EXPECT_EQ(localTime(kNow + 123, false), "2027-01-01T00:00:00Z");
  EXPECT_EQ(localTime(kNow + 5, true), "2027-01-01T00:00:00.005Z");
  setenv("TZ", "CET-1", 1);  // POSIX form: one hour east of UTC, no data files needed
  tzset();
  EXPECT_EQ(localTime(kNow, false), "2027-01-01T01:00:00+01:00");
  setenv("TZ", "EST+5", 1);
  tzset();
  EXPECT_EQ(localTime(kNow + 999, true), "2026-12-31T19:00:00.999-05:00");
}

TEST_F(LogsFormat, ShowTextHasEveryFieldAndTheContent) {
  v1::LogEntry e = sampleEntry();
  std::string t = logDetailText(e);
  for (const char* line : {"id: 12\n",
                           "request_id: req_0123456789abcdef0123456789abcdef\n",
                           "time: 2027-01-01T00:00:00.123Z\n",
                           "node: dp-a\n",
                           "key_name: ci-bot\n",
                           "key_id: vk_1\n",
                           "team_name: -\n",
                           "method: POST\n",
                           "route: /v1/chat/completions\n",
                           "dialect: client\n",
                           "provider: openai\n",
                           "model: openai/gpt-4o-mini\n",
                           "status: 200\n",
                           "error_type: -\n",
                           "streamed: true\n",
                           "latency: 812ms\n",
                           "ttft: 95ms\n",
                           "overhead: 420us\n",
                           "prompt_tokens: 12\n",
                           "completion_tokens: 34\n",
                           "cached_tokens: 0\n",
                           "cost: $0.0117\n",
                           "cost_nano: 11700000\n",
                           "content_logged: true\n",
                           "content_truncated: false\n"})
    EXPECT_NE(t.find(line), std::string::npos) << line << "in:\n" << t;
  EXPECT_NE(t.find("--- request ---\n{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n"
                   "--- response ---\nHello there\n"),
            std::string::npos)
      << t;

  e.mutable_record()->set_content_logged(false);
  e.mutable_record()->clear_request_content();
  e.mutable_record()->clear_response_content();
  t = logDetailText(e);
  EXPECT_NE(
      t.find("--- request ---\n(content not logged)\n--- response ---\n(content not logged)\n"),
      std::string::npos)
      << t;
}

TEST_F(LogsFormat, TerminalControlCharactersInLoggedTextAreShownEscaped) {
  v1::LogEntry e = sampleEntry();
  e.mutable_record()->set_response_content("red \x1b[31mtext\x1b[0m\nline two\tand\x07 \xc2\x9b" "2J");
  e.mutable_record()->set_model("openai/\x1b]0;title\x07");
  std::string t = logDetailText(e);
  EXPECT_EQ(t.find('\x1b'), std::string::npos) << t;
  EXPECT_EQ(t.find('\x07'), std::string::npos) << t;
  EXPECT_EQ(t.find("\xc2\x9b"), std::string::npos) << t;
  EXPECT_NE(t.find("red \\x1b[31mtext\\x1b[0m\nline two\tand\\x07 \\x9b2J"), std::string::npos) << t;
  EXPECT_NE(t.find("model: openai/\\x1b]0;title\\x07\n"), std::string::npos) << t;
  auto cells = logTableCells(e, true);
  EXPECT_EQ(cells[4], "openai/\\x1b]0;title\\x07");
  // Text that is not a control character is untouched (UTF-8 included).
  e.mutable_record()->set_model("openai/gpt-\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(logTableCells(e, true)[4], "openai/gpt-\xc3\xa9t\xc3\xa9");
}

}  // namespace
}  // namespace finops::cli
