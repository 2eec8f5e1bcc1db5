#include "cli/spec.h"

#include <gtest/gtest.h>

namespace finops::cli {
namespace {

// The message of the SpecError that `f` throws ("" if it throws none).
template <typename F>
std::string errorOf(F f) {
  try {
    f();
  } catch (const SpecError& e) {
    return e.what();
  }
  return "";
}

TEST(Spec, LimitFlags) {
  LimitSpec b = parseLimitArg(LimitType::kBudget, "5.00/1d", false, "--budget");
  EXPECT_EQ(b.amount, 5'000'000'000);
  EXPECT_EQ(b.window, "1d");
  EXPECT_TRUE(b.calendar);
  EXPECT_EQ(b.effectiveName(), "budget-1d");

  LimitSpec p = parseLimitArg(LimitType::kRequests, "openai=30/1m", true, "--provider-requests");
  EXPECT_EQ(p.provider, "openai");
  EXPECT_EQ(p.amount, 30);
  EXPECT_EQ(p.effectiveName(), "requests-1m");

  LimitSpec c;
  c.type = LimitType::kConcurrency;
  EXPECT_EQ(c.effectiveName(), "concurrency");

  EXPECT_NE(errorOf([] { parseLimitArg(LimitType::kBudget, "5", false, "--budget"); }), "");
  EXPECT_NE(errorOf([] { parseLimitArg(LimitType::kBudget, "1e3/1d", false, "--budget"); }), "");
  EXPECT_NE(errorOf([] { parseLimitArg(LimitType::kBudget, "5/1x", false, "--budget"); }), "");
  EXPECT_NE(errorOf([] { parseLimitArg(LimitType::kTokens, "1.5/1h", false, "--tokens"); }), "");
  EXPECT_NE(errorOf([] { parseLimitArg(LimitType::kTokens, "-1/1h", false, "--tokens"); }), "");
  EXPECT_NE(errorOf([] { parseLimitArg(LimitType::kBudget, "=5/1d", true, "--provider-budget"); }),
            "");
}

TEST(Spec, DistinctLimitNames) {
  std::vector<LimitSpec> l = {
      parseLimitArg(LimitType::kBudget, "5/1d", false, "--budget"),
      parseLimitArg(LimitType::kBudget, "openai=2/1d", true, "--provider-budget")};
  EXPECT_NO_THROW(checkDistinct(l, "key k"));  // same name, different provider
  l.push_back(parseLimitArg(LimitType::kBudget, "6/1d", false, "--budget"));
  EXPECT_NE(errorOf([&] { checkDistinct(l, "key k"); }).find("budget-1d"), std::string::npos);
}

TEST(Spec, Times) {
  EXPECT_EQ(parseTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseTime("1970-01-01"), 0);
  EXPECT_EQ(parseTime("2027-01-01T00:00:00Z"), 1798761600000);
  EXPECT_EQ(parseTime("2027-01-01T01:00:00.250+01:00"), 1798761600250);
  EXPECT_EQ(parseTime("2026-12-31T19:00:00-05:00"), 1798761600000);
  EXPECT_EQ(parseTime("2024-02-29"), 1709164800000);
  for (const char* bad :
       {"", "2027-01-01T00:00:00", "2023-02-29", "2027-13-01", "2027-1-01", "2027-01-01T24:00:00Z",
        "2027-01-01T00:00:00.Z", "tomorrow", "2027-01-01 00:00:00Z", "2027-01-01T00:00:00+0100"})
    EXPECT_EQ(parseTime(bad), std::nullopt) << bad;
  EXPECT_EQ(parseDurationMs("24h"), 86'400'000);
  EXPECT_EQ(parseDurationMs("7d"), 7 * 86'400'000LL);
  EXPECT_EQ(parseDurationMs("30m"), 1'800'000);
  EXPECT_EQ(parseDurationMs("0d"), std::nullopt);
  EXPECT_EQ(parseDurationMs("d"), std::nullopt);
  EXPECT_EQ(parseDurationMs("1M"), std::nullopt);
}

const char* kFullFile = R"(
customers:
  - name: acme
    budgets: [{name: monthly, amount: 100, window: 1M}]
teams:
  - name: ml
    customer: acme
    budgets: [{amount: "20.00", window: 1w, calendar: false}]
    rate_limits: [{requests: 600, window: 1m}]
keys:
  - name: ci-bot
    team: ml
    expires_at: "2027-01-01T00:00:00Z"
    allowed_providers: [openai]
    allowed_models: ["anthropic/claude-*"]
    disabled: false
    budgets: [{amount: 5, window: 1d}]
    rate_limits: [{requests: 60, window: 1m}, {tokens: 100000, window: 1h}, {concurrency: 4}]
    providers:
      openai:
        budgets: [{amount: 2, window: 1d}]
        rate_limits: [{requests: 30, window: 1m}]
prices:
  - {model: openai/ft:gpt-4o-mini:acme, input: 0.30, output: 1.20, cached_input: 0.15}
)";

TEST(ApplyFile, ParsesTheDocumentedExample) {
  ApplyFile f = parseApplyFile(kFullFile, "f.yaml");
  ASSERT_EQ(f.customers.size(), 1u);
  ASSERT_EQ(f.customers[0].limits.size(), 1u);
  EXPECT_EQ(f.customers[0].limits[0].effectiveName(), "monthly");
  EXPECT_EQ(f.customers[0].limits[0].amount, 100'000'000'000);
  EXPECT_TRUE(f.customers[0].limits[0].calendar);

  ASSERT_EQ(f.teams.size(), 1u);
  EXPECT_EQ(f.teams[0].customer, "acme");
  ASSERT_EQ(f.teams[0].limits.size(), 2u);
  EXPECT_FALSE(f.teams[0].limits[0].calendar);
  EXPECT_EQ(f.teams[0].limits[0].amount, 20'000'000'000);
  EXPECT_EQ(f.teams[0].limits[1].type, LimitType::kRequests);

  ASSERT_EQ(f.keys.size(), 1u);
  const KeySpec& k = f.keys[0];
  EXPECT_EQ(k.team, "ml");
  EXPECT_EQ(k.customer, std::nullopt);
  EXPECT_EQ(k.expiresAtMs, 1798761600000);
  EXPECT_EQ(k.allowedProviders, std::vector<std::string>{"openai"});
  EXPECT_EQ(k.allowedModels, std::vector<std::string>{"anthropic/claude-*"});
  EXPECT_EQ(k.disabled, false);
  ASSERT_EQ(k.limits.size(), 6u);
  EXPECT_EQ(k.limits[3].type, LimitType::kConcurrency);
  EXPECT_EQ(k.limits[3].window, "");
  EXPECT_EQ(k.limits[4].provider, "openai");
  EXPECT_EQ(k.limits[4].effectiveName(), "budget-1d");
  EXPECT_EQ(k.limits[4].origin, "keys[0].providers.openai.budgets[0]");

  ASSERT_EQ(f.prices.size(), 1u);
  EXPECT_EQ(f.prices[0].provider, "openai");
  EXPECT_EQ(f.prices[0].model, "ft:gpt-4o-mini:acme");
  EXPECT_EQ(f.prices[0].input, 300'000'000);
  EXPECT_EQ(f.prices[0].cachedInput, 150'000'000);
  EXPECT_EQ(f.prices[0].cacheWrite, std::nullopt);
}

TEST(ApplyFile, FieldsLeftOutStayUnset) {
  ApplyFile f = parseApplyFile("keys: [{name: k}]\nteams: [{name: t, customer: null}]", "f");
  EXPECT_EQ(f.keys[0].team, std::nullopt);
  EXPECT_EQ(f.keys[0].expiresAtMs, std::nullopt);
  EXPECT_EQ(f.keys[0].allowedModels, std::nullopt);
  EXPECT_EQ(f.keys[0].disabled, std::nullopt);
  EXPECT_EQ(f.teams[0].customer, "");  // null detaches
  EXPECT_TRUE(parseApplyFile("", "f").empty());
  EXPECT_EQ(parseApplyFile("keys: [{name: k, expires_at: never}]", "f").keys[0].expiresAtMs, 0);
}

TEST(ApplyFile, ErrorsNameThePath) {
  auto err = [](const std::string& yaml) {
    return errorOf([&] { parseApplyFile(yaml, "f.yaml"); });
  };
  EXPECT_EQ(err("keys: [{name: k, budgets: [{amount: 1, window: 1d}, {amount: 1, windw: 1d}]}]")
                .rfind("keys[0].budgets[1].windw: unknown field", 0),
            0u);
  EXPECT_EQ(err("teem: []").rfind("teem: unknown field", 0), 0u);
  EXPECT_EQ(err("keys: [{name: k, budgets: [{amount: 1e-3, window: 1d}]}]")
                .rfind("keys[0].budgets[0].amount:", 0),
            0u);
  EXPECT_EQ(err("keys: [{name: k, budgets: [{amount: 1}]}]"),
            "keys[0].budgets[0].window: required");
  EXPECT_EQ(err("keys: [{name: k, rate_limits: [{requests: 1, tokens: 2}]}]"),
            "keys[0].rate_limits[0]: give exactly one of requests, tokens, concurrency");
  EXPECT_EQ(err("keys: [{name: k, rate_limits: [{concurrency: 2, window: 1m}]}]"),
            "keys[0].rate_limits[0].window: not allowed with concurrency");
  EXPECT_EQ(err("keys: [{name: k, team: t, customer: c}]"),
            "keys[0]: a key belongs to a team or to a customer, not both");
  EXPECT_EQ(err("keys: [{name: k}, {name: k}]"), "keys[1]: key 'k' is listed twice");
  EXPECT_EQ(err("keys: [{name: k, budgets: [{amount: 1, window: 1d}, {amount: 2, window: 1d}]}]")
                .rfind("keys[0].budgets[1]: key k already has a limit named 'budget-1d'", 0),
            0u);
  EXPECT_EQ(err("keys: [{name: k, providers: {openai: {budget: []}}}]")
                .rfind("keys[0].providers.openai.budget: unknown field", 0),
            0u);
  EXPECT_EQ(err("keys: [{name: k, rate_limits: [{concurrency: 0}]}]"),
            "keys[0].rate_limits[0].concurrency: must be at least 1");
  // Per-provider limits exist on keys only.
  EXPECT_EQ(err("teams: [{name: t, providers: {openai: {budgets: []}}}]")
                .rfind("teams[0].providers: unknown field", 0),
            0u);
  EXPECT_EQ(err("keys: [{name: k, disabled: maybe}]"), "keys[0].disabled: expected true or false");
  EXPECT_EQ(err("keys: [{name: k, expires_at: soon}]").rfind("keys[0].expires_at:", 0), 0u);
  EXPECT_EQ(err("keys: {name: k}"), "keys: expected a list");
  EXPECT_EQ(err("prices: [{model: gpt-4o, input: 1, output: 2}]").rfind("prices[0].model:", 0), 0u);
  EXPECT_EQ(err("prices: [{model: a/b, input: 1}]"), "prices[0].output: required");
  EXPECT_EQ(err("keys: [{name: [k]}]"), "keys[0].name: expected a single value");
  EXPECT_EQ(err("keys: [{name: k\n").rfind("f.yaml:", 0), 0u);
}

}  // namespace
}  // namespace finops::cli
