#include "dataplane/governance/rules.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/config/snapshot.h"

namespace finops::dp {
namespace {

KeyEntry key(std::vector<std::string> providers = {}, std::vector<std::string> models = {}) {
  KeyEntry k;
  k.id = "vk_1";
  k.name = "ci-bot";
  k.active = true;
  k.status = "active";
  k.allowedProviders = std::move(providers);
  k.allowedModels = std::move(models);
  return k;
}

// --- globMatch

TEST(GlobMatch, EmptyPatternMatchesOnlyEmptyText) {
  EXPECT_TRUE(globMatch("", ""));
  EXPECT_FALSE(globMatch("", "a"));
}

TEST(GlobMatch, WithoutStarsMatchesLiterally) {
  EXPECT_TRUE(globMatch("gpt-4o", "gpt-4o"));
  EXPECT_FALSE(globMatch("gpt-4o", "gpt-4o-mini"));
  EXPECT_FALSE(globMatch("gpt-4o", "gpt-4"));
  EXPECT_FALSE(globMatch("gpt-4o", "GPT-4o"));
  EXPECT_FALSE(globMatch("gpt-4o", ""));
  // Only '*' is special.
  EXPECT_FALSE(globMatch("gpt-?", "gpt-4"));
  EXPECT_TRUE(globMatch("gpt-?", "gpt-?"));
  EXPECT_FALSE(globMatch("gpt-[4]o", "gpt-4o"));
}

TEST(GlobMatch, StarMatchesAnyRunIncludingNoneAndSlashes) {
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("*", "gpt-4o"));
  EXPECT_TRUE(globMatch("*", "openai/gpt-4o"));
  EXPECT_TRUE(globMatch("**", "x"));
  EXPECT_TRUE(globMatch("gpt-4o*", "gpt-4o"));
  EXPECT_TRUE(globMatch("gpt-4o*", "gpt-4o-mini"));
  EXPECT_TRUE(globMatch("*-mini", "gpt-4o-mini"));
  EXPECT_FALSE(globMatch("*-mini", "gpt-4o-mini-2024"));
  EXPECT_TRUE(globMatch("openai/*", "openai/gpt-4o"));
  EXPECT_TRUE(globMatch("*/gpt-4o", "azure/gpt-4o"));
  EXPECT_FALSE(globMatch("openai/*", "anthropic/claude"));
}

TEST(GlobMatch, SeveralStars) {
  EXPECT_TRUE(globMatch("a*b*c", "abc"));
  EXPECT_TRUE(globMatch("a*b*c", "aXbYc"));
  EXPECT_TRUE(globMatch("a*b*c", "abbbcbc"));
  EXPECT_TRUE(globMatch("a*b*c", "axxbyyczc"));
  EXPECT_FALSE(globMatch("a*b*c", "acb"));
  EXPECT_FALSE(globMatch("a*b*c", "ab"));
  EXPECT_FALSE(globMatch("a*b*c", "abcd"));
  EXPECT_FALSE(globMatch("a*b*c", "xabc"));
}

TEST(GlobMatch, ManyStarsAgainstALongRunDoNotBlowUp) {
  // A backtracking matcher takes time exponential in the number of stars here.
  std::string run(50'000, 'a');
  EXPECT_FALSE(globMatch("a*a*a*a*a*b", run));
  EXPECT_TRUE(globMatch("a*a*a*a*a*b", run + "b"));
  EXPECT_TRUE(globMatch("*a*a*a*a*a*", run));
}

// --- modelAllowed

TEST(ModelAllowed, AKeyWithoutRulesMayUseEverything) {
  KeyEntry k = key();
  EXPECT_TRUE(modelAllowed(k, "openai", "gpt-4o"));
  EXPECT_TRUE(modelAllowed(k, "anthropic", "claude-sonnet-4"));
  EXPECT_TRUE(modelAllowed(k, "x", ""));
}

TEST(ModelAllowed, AProviderRuleAllowsEveryModelOfThatProviderOnly) {
  KeyEntry k = key({"openai"});
  EXPECT_TRUE(modelAllowed(k, "openai", "gpt-4o"));
  EXPECT_TRUE(modelAllowed(k, "openai", "o3"));
  EXPECT_FALSE(modelAllowed(k, "anthropic", "claude-sonnet-4"));
  EXPECT_FALSE(modelAllowed(k, "openai-eu", "gpt-4o"));
}

TEST(ModelAllowed, AFullPatternMatchesProviderSlashModel) {
  KeyEntry k = key({}, {"openai/gpt-4o*"});
  EXPECT_TRUE(modelAllowed(k, "openai", "gpt-4o"));
  EXPECT_TRUE(modelAllowed(k, "openai", "gpt-4o-mini"));
  EXPECT_FALSE(modelAllowed(k, "azure", "gpt-4o"));
  EXPECT_FALSE(modelAllowed(k, "openai", "o3"));
}

TEST(ModelAllowed, AFullPatternCanGlobTheProvider) {
  KeyEntry k = key({}, {"*/gpt-4o"});
  EXPECT_TRUE(modelAllowed(k, "openai", "gpt-4o"));
  EXPECT_TRUE(modelAllowed(k, "azure", "gpt-4o"));
  EXPECT_FALSE(modelAllowed(k, "azure", "gpt-4o-mini"));
}

TEST(ModelAllowed, AFullPatternMatchesModelNamesContainingSlashes) {
  KeyEntry k = key({}, {"openrouter/meta-llama/*"});
  EXPECT_TRUE(modelAllowed(k, "openrouter", "meta-llama/llama-3-70b"));
  EXPECT_FALSE(modelAllowed(k, "openrouter", "mistral/mixtral"));
}

TEST(ModelAllowed, ABarePatternMatchesTheModelOnAnyProvider) {
  KeyEntry k = key({}, {"gpt-4o*"});
  EXPECT_TRUE(modelAllowed(k, "openai", "gpt-4o"));
  EXPECT_TRUE(modelAllowed(k, "azure", "gpt-4o-mini"));
  EXPECT_FALSE(modelAllowed(k, "openai", "o3"));
}

TEST(ModelAllowed, ABarePatternIsNotMatchedAgainstTheProvider) {
  KeyEntry k = key({}, {"openai*"});
  EXPECT_FALSE(modelAllowed(k, "openai", "gpt-4o"));
  KeyEntry exact = key({}, {"gpt-4o"});
  EXPECT_TRUE(modelAllowed(exact, "openai", "gpt-4o"));
  EXPECT_FALSE(modelAllowed(exact, "openai", "gpt-4o-mini"));
}

TEST(ModelAllowed, RulesAreAUnion) {
  KeyEntry k = key({"anthropic"}, {"openai/gpt-4o-mini", "o3"});
  EXPECT_TRUE(modelAllowed(k, "anthropic", "claude-sonnet-4"));   // provider rule
  EXPECT_TRUE(modelAllowed(k, "openai", "gpt-4o-mini"));          // full pattern
  EXPECT_TRUE(modelAllowed(k, "azure", "o3"));                    // bare pattern
  EXPECT_FALSE(modelAllowed(k, "openai", "gpt-4o"));
  EXPECT_FALSE(modelAllowed(k, "azure", "gpt-4o-mini"));
}

TEST(ModelAllowed, AnyRuleDeniesWhatItDoesNotName) {
  EXPECT_FALSE(modelAllowed(key({}, {"nothing-matches"}), "openai", "gpt-4o"));
  EXPECT_FALSE(modelAllowed(key({"nobody"}), "openai", "gpt-4o"));
}

// --- keyUsable

constexpr int64_t kExpiry = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

TEST(KeyUsable, AnActiveKeyWithoutExpiryIsUsable) {
  KeyEntry k = key();
  EXPECT_FALSE(keyUsable(k, 0).has_value());
  EXPECT_FALSE(keyUsable(k, 4'000'000'000'000).has_value());
}

TEST(KeyUsable, ARevokedKeyIs401) {
  KeyEntry k = key();
  k.status = "revoked";
  auto e = keyUsable(k, kExpiry);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 401);
  EXPECT_EQ(e->type, "invalid_request_error");
  EXPECT_EQ(e->code, "invalid_api_key");
}

TEST(KeyUsable, ADisabledKeyIs403KeyDisabled) {
  KeyEntry k = key();
  k.status = "disabled";
  auto e = keyUsable(k, kExpiry);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 403);
  EXPECT_EQ(e->type, "permission_denied");
  EXPECT_EQ(e->code, "key_disabled");
  EXPECT_NE(e->message.find("ci-bot"), std::string::npos) << e->message;
}

TEST(KeyUsable, AKeyExpiresAtExactlyItsExpiryTime) {
  KeyEntry k = key();
  k.expiresAtMs = kExpiry;
  EXPECT_FALSE(keyUsable(k, kExpiry - 1).has_value());
  auto e = keyUsable(k, kExpiry);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 403);
  EXPECT_EQ(e->type, "permission_denied");
  EXPECT_EQ(e->code, "key_expired");
  EXPECT_NE(e->message.find("2023-11-14T22:13:20Z"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("ci-bot"), std::string::npos) << e->message;
  ASSERT_TRUE(keyUsable(k, kExpiry + 1).has_value());
  EXPECT_EQ(keyUsable(k, kExpiry + 1)->code, "key_expired");
}

TEST(KeyUsable, RevocationIsReportedBeforeExpiry) {
  KeyEntry k = key();
  k.status = "revoked";
  k.expiresAtMs = kExpiry;
  auto e = keyUsable(k, kExpiry + 1);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 401);
}

// --- checkModelAccess

TEST(CheckModelAccess, AllowedModelHasNoError) {
  KeyEntry k = key({"openai"});
  EXPECT_FALSE(checkModelAccess(k, "openai", "gpt-4o").has_value());
  EXPECT_FALSE(checkModelAccess(key(), "anthropic", "claude-sonnet-4").has_value());
}

TEST(CheckModelAccess, RefusalIs403ModelNotAllowedOnParamModel) {
  KeyEntry k = key({"openai"});
  auto e = checkModelAccess(k, "anthropic", "claude-sonnet-4");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 403);
  EXPECT_EQ(e->type, "permission_denied");
  EXPECT_EQ(e->code, "model_not_allowed");
  EXPECT_EQ(e->param, "model");
  EXPECT_NE(e->message.find("anthropic/claude-sonnet-4"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("ci-bot"), std::string::npos) << e->message;
}

}  // namespace
}  // namespace finops::dp
