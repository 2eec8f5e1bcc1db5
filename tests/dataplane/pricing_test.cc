#include "dataplane/governance/pricing.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "dataplane/governance/usage.h"

namespace finops::dp {
namespace {

// Nano-dollars per million tokens for a price given in dollars per million: $0.15/M is
// 150'000'000 nano per million tokens, i.e. 150 nano per token.
constexpr int64_t kPerM015 = 150'000'000;     // $0.15 / M
constexpr int64_t kPerM060 = 600'000'000;     // $0.60 / M
constexpr int64_t kPerM00375 = 37'500'000;    // $0.0375 / M
constexpr int64_t kPerM250 = 2'500'000'000;   // $2.50 / M
constexpr int64_t kPerM125 = 1'250'000'000;   // $1.25 / M
constexpr int64_t kPerM300 = 3'000'000'000;   // $3.00 / M
constexpr int64_t kPerM030 = 300'000'000;     // $0.30 / M
constexpr int64_t kPerM375 = 3'750'000'000;   // $3.75 / M
constexpr int64_t kPerM100 = 100'000'000'000;  // $100 / M

Price inputOutput(int64_t input, int64_t output) {
  Price p;
  p.input = input;
  p.output = output;
  return p;
}

Usage tokens(int64_t prompt, int64_t completion, int64_t cached = 0, int64_t cacheWrite = 0) {
  Usage u;
  u.promptTokens = prompt;
  u.completionTokens = completion;
  u.cachedTokens = cached;
  u.cacheWriteTokens = cacheWrite;
  u.known = true;
  return u;
}

// --- costNano

TEST(CostNano, NoTokensCostNothing) {
  EXPECT_EQ(costNano(inputOutput(kPerM015, kPerM060), tokens(0, 0)), 0);
}

TEST(CostNano, OneTokenCostsThePricePerMillionOverAMillion) {
  Price p = inputOutput(kPerM015, kPerM060);
  EXPECT_EQ(costNano(p, tokens(1, 0)), 150);
  EXPECT_EQ(costNano(p, tokens(0, 1)), 600);
}

TEST(CostNano, AMillionTokensCostExactlyThePricePerMillion) {
  Price p = inputOutput(kPerM015, kPerM060);
  EXPECT_EQ(costNano(p, tokens(1'000'000, 0)), kPerM015);
  EXPECT_EQ(costNano(p, tokens(0, 1'000'000)), kPerM060);
  EXPECT_EQ(costNano(p, tokens(1'000'000, 1'000'000)), kPerM015 + kPerM060);
}

TEST(CostNano, InputAndOutputTokensAreChargedAtTheirOwnPrices) {
  // 1000 * 150 + 500 * 600 nano.
  EXPECT_EQ(costNano(inputOutput(kPerM015, kPerM060), tokens(1000, 500)), 450'000);
}

TEST(CostNano, FractionsOfANanoDollarRoundHalfUp) {
  Price p = inputOutput(kPerM00375, 0);  // 37.5 nano per token
  EXPECT_EQ(costNano(p, tokens(1, 0)), 38);   // 37.5 -> 38
  EXPECT_EQ(costNano(p, tokens(2, 0)), 75);   // exact
  EXPECT_EQ(costNano(p, tokens(3, 0)), 113);  // 112.5 -> 113
  EXPECT_EQ(costNano(inputOutput(37'400'000, 0), tokens(1, 0)), 37);  // 37.4 -> 37
  EXPECT_EQ(costNano(inputOutput(37'600'000, 0), tokens(1, 0)), 38);  // 37.6 -> 38
}

TEST(CostNano, RoundsTheSumOnceNotEachPart) {
  // 1 input token at 0.4 nano and 1 output token at 0.4 nano: 0.8 -> 1 (rounding each part
  // first would give 0).
  EXPECT_EQ(costNano(inputOutput(400'000, 400'000), tokens(1, 1)), 1);
}

TEST(CostNano, CachedTokensAreChargedAtTheCachedPrice) {
  Price p = inputOutput(kPerM250, 0);
  p.cachedInput = kPerM125;
  p.hasCachedInput = true;
  // 600 plain * 2500 + 400 cached * 1250 nano.
  EXPECT_EQ(costNano(p, tokens(1000, 0, 400)), 2'000'000);
}

TEST(CostNano, CachedTokensAreChargedAtTheInputPriceWhenNoCachedPriceIsSet) {
  Price p = inputOutput(kPerM250, 0);
  EXPECT_EQ(costNano(p, tokens(1000, 0, 400)), 2'500'000);
  EXPECT_EQ(costNano(p, tokens(1000, 0, 400)), costNano(p, tokens(1000, 0)));
}

TEST(CostNano, AZeroCachedPriceThatIsSetMakesCachedTokensFree) {
  Price p = inputOutput(kPerM250, 0);
  p.cachedInput = 0;
  p.hasCachedInput = true;
  EXPECT_EQ(costNano(p, tokens(1000, 0, 400)), 1'500'000);
}

TEST(CostNano, CachedTokensNeverExceedThePromptTokens) {
  Price p = inputOutput(kPerM250, 0);
  p.cachedInput = kPerM125;
  p.hasCachedInput = true;
  // All 1000 prompt tokens cached; the excess 1000 is ignored.
  EXPECT_EQ(costNano(p, tokens(1000, 0, 2000)), 1'250'000);
}

TEST(CostNano, CacheWriteTokensAreChargedAtTheCacheWritePrice) {
  Price p = inputOutput(kPerM300, 0);
  p.cachedInput = kPerM030;
  p.hasCachedInput = true;
  p.cacheWrite = kPerM375;
  p.hasCacheWrite = true;
  // 500 plain * 3000 + 200 cached * 300 + 300 written * 3750 nano.
  EXPECT_EQ(costNano(p, tokens(1000, 0, 200, 300)), 2'685'000);
}

TEST(CostNano, CacheWriteTokensAreChargedAtTheInputPriceWhenNoCacheWritePriceIsSet) {
  Price p = inputOutput(kPerM300, 0);
  p.cachedInput = kPerM030;
  p.hasCachedInput = true;
  // 500 plain * 3000 + 200 cached * 300 + 300 written * 3000 nano.
  EXPECT_EQ(costNano(p, tokens(1000, 0, 200, 300)), 2'460'000);
}

TEST(CostNano, CacheWriteTokensAreLimitedToThePromptTokensNotCached) {
  Price p = inputOutput(kPerM300, 0);
  p.cacheWrite = kPerM375;
  p.hasCacheWrite = true;
  p.cachedInput = kPerM030;
  p.hasCachedInput = true;
  // 1000 prompt: 200 cached, so at most 800 written; no plain tokens left.
  EXPECT_EQ(costNano(p, tokens(1000, 0, 200, 5000)), 200 * 300 + 800 * 3750);
}

TEST(CostNano, HugeCountsDoNotOverflow) {
  // 1e12 tokens each way at $100/M: 2e12 * 1e11 = 2e23 in the intermediate sum (beyond
  // int64), 2e17 nano-dollars ($200M) in the result.
  Price p = inputOutput(kPerM100, kPerM100);
  EXPECT_EQ(costNano(p, tokens(1'000'000'000'000, 1'000'000'000'000)), 200'000'000'000'000'000);
}

TEST(CostNano, ACostBeyondInt64Saturates) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(costNano(inputOutput(kMax, 0), tokens(kMax, 0)), kMax);
}

// --- PriceTable

Price priced(int64_t input) { return inputOutput(input, input * 4); }

TEST(PriceTable, FindsAnExactEntry) {
  PriceTable t;
  t.add("openai", "gpt-4o-mini", priced(kPerM015));
  t.add("openai", "gpt-4o", priced(kPerM250));
  EXPECT_EQ(t.size(), 2u);
  const Price* p = t.find("openai", "gpt-4o-mini");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->input, kPerM015);
  EXPECT_EQ(p->output, kPerM060);
  p = t.find("openai", "gpt-4o");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->input, kPerM250);
}

TEST(PriceTable, AddingTheSameModelAgainReplacesItsPrice) {
  PriceTable t;
  t.add("openai", "gpt-4o", priced(kPerM250));
  t.add("openai", "gpt-4o", priced(kPerM300));
  EXPECT_EQ(t.size(), 1u);
  ASSERT_NE(t.find("openai", "gpt-4o"), nullptr);
  EXPECT_EQ(t.find("openai", "gpt-4o")->input, kPerM300);
}

TEST(PriceTable, ADatedModelFallsBackToItsUndatedEntry) {
  PriceTable t;
  t.add("openai", "gpt-4o", priced(kPerM250));
  t.add("anthropic", "claude-x", priced(kPerM300));
  const Price* p = t.find("openai", "gpt-4o-2024-08-06");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->input, kPerM250);
  p = t.find("anthropic", "claude-x-20250929");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->input, kPerM300);
}

TEST(PriceTable, AnExactDatedEntryWinsOverTheFallback) {
  PriceTable t;
  t.add("openai", "gpt-4o", priced(kPerM250));
  t.add("openai", "gpt-4o-2024-05-13", priced(5'000'000'000));
  ASSERT_NE(t.find("openai", "gpt-4o-2024-05-13"), nullptr);
  EXPECT_EQ(t.find("openai", "gpt-4o-2024-05-13")->input, 5'000'000'000);
  ASSERT_NE(t.find("openai", "gpt-4o-2024-08-06"), nullptr);
  EXPECT_EQ(t.find("openai", "gpt-4o-2024-08-06")->input, kPerM250);
}

TEST(PriceTable, OnlyADateSuffixIsStripped) {
  PriceTable t;
  t.add("openai", "gpt-4o", priced(kPerM250));
  EXPECT_EQ(t.find("openai", "gpt-4o-mini"), nullptr);
  EXPECT_EQ(t.find("openai", "gpt-4o-0613"), nullptr);         // not a date
  EXPECT_EQ(t.find("openai", "gpt-4o-2024"), nullptr);         // not a full date
  EXPECT_EQ(t.find("openai", "gpt-4o-2024-08-0x"), nullptr);   // not digits
  EXPECT_EQ(t.find("openai", "gpt-4o-1234567"), nullptr);      // 7 digits
  EXPECT_EQ(t.find("openai", "gpt-4o2024-08-06"), nullptr);    // no dash before the date
}

TEST(PriceTable, AnUnknownModelHasNoPrice) {
  PriceTable t;
  EXPECT_EQ(t.find("openai", "gpt-4o"), nullptr);
  t.add("openai", "gpt-4o", priced(kPerM250));
  EXPECT_EQ(t.find("openai", "o3"), nullptr);
  EXPECT_EQ(t.find("openai", ""), nullptr);
  EXPECT_EQ(t.find("openai", "o3-2025-04-16"), nullptr);
}

TEST(PriceTable, APriceBelongsToItsProviderOnly) {
  PriceTable t;
  t.add("openai", "gpt-4o", priced(kPerM250));
  EXPECT_EQ(t.find("azure", "gpt-4o"), nullptr);
  EXPECT_EQ(t.find("azure", "gpt-4o-2024-08-06"), nullptr);
  EXPECT_EQ(t.find("", "gpt-4o"), nullptr);
  EXPECT_NE(t.find("openai", "gpt-4o"), nullptr);
}

// --- parseOpenAIUsage

TEST(ParseOpenAIUsage, ReadsChatCompletionUsage) {
  Usage u;
  ASSERT_TRUE(parseOpenAIUsage(R"({"prompt_tokens":12,"completion_tokens":34,"total_tokens":46})", u));
  EXPECT_EQ(u.promptTokens, 12);
  EXPECT_EQ(u.completionTokens, 34);
  EXPECT_EQ(u.cachedTokens, 0);
  EXPECT_EQ(u.cacheWriteTokens, 0);
  EXPECT_TRUE(u.known);
}

TEST(ParseOpenAIUsage, ReadsEmbeddingsUsageWithOnlyPromptAndTotal) {
  Usage u;
  ASSERT_TRUE(parseOpenAIUsage(R"({"prompt_tokens":8,"total_tokens":8})", u));
  EXPECT_EQ(u.promptTokens, 8);
  EXPECT_EQ(u.completionTokens, 0);
  EXPECT_EQ(u.cachedTokens, 0);
  EXPECT_TRUE(u.known);
}

TEST(ParseOpenAIUsage, ReadsCachedTokensFromPromptTokenDetails) {
  Usage u;
  ASSERT_TRUE(parseOpenAIUsage(
      R"({"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,
          "prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},
          "completion_tokens_details":{"reasoning_tokens":0}})",
      u));
  EXPECT_EQ(u.promptTokens, 2006);
  EXPECT_EQ(u.completionTokens, 300);
  EXPECT_EQ(u.cachedTokens, 1920);
}

TEST(ParseOpenAIUsage, CachedTokensAreCappedAtThePromptTokens) {
  Usage u;
  ASSERT_TRUE(parseOpenAIUsage(
      R"({"prompt_tokens":10,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":50}})", u));
  EXPECT_EQ(u.cachedTokens, 10);
}

TEST(ParseOpenAIUsage, NullDetailsMeanNoCachedTokens) {
  Usage u;
  u.cachedTokens = 7;  // left over from an earlier chunk
  ASSERT_TRUE(parseOpenAIUsage(
      R"({"prompt_tokens":10,"completion_tokens":1,"prompt_tokens_details":null})", u));
  EXPECT_EQ(u.cachedTokens, 0);
}

TEST(ParseOpenAIUsage, NegativeCountsAreReadAsZero) {
  Usage u;
  ASSERT_TRUE(parseOpenAIUsage(R"({"prompt_tokens":-5,"completion_tokens":3})", u));
  EXPECT_EQ(u.promptTokens, 0);
  EXPECT_EQ(u.completionTokens, 3);
}

TEST(ParseOpenAIUsage, RefusesGarbageAndLeavesTheUsageUnknown) {
  for (const char* text : {"", "not json", "{", R"({"prompt_tokens":)", "[]", "42", "null",
                           R"("usage")", "{}", R"({"foo":1})", R"([{"prompt_tokens":1}])"}) {
    Usage u;
    EXPECT_FALSE(parseOpenAIUsage(text, u)) << text;
    EXPECT_FALSE(u.known) << text;
    EXPECT_EQ(u.promptTokens, 0) << text;
  }
}

}  // namespace
}  // namespace finops::dp
