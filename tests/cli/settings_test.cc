#include "cli/settings.h"

#include <gtest/gtest.h>

#include "cli/connection.h"
#include "common/header_policy.h"

namespace finops::cli {
namespace {

using List = std::vector<std::string>;

int usageCode(const std::string& key, const List& current, const std::string& value) {
  try {
    editSettingList(key, current, value);
  } catch (const CliError& e) {
    return e.code();
  }
  return 0;
}

TEST(SettingsEdit, PlainValueReplaces) {
  EXPECT_EQ(editSettingList("allowed_headers", {"a", "b"}, "c, d"), (List{"c", "d"}));
  EXPECT_EQ(editSettingList("allowed_origins", {"*"}, ""), List{});
}

TEST(SettingsEdit, PlusAddsToTheCurrentList) {
  EXPECT_EQ(
      editSettingList("allowed_headers", defaultAllowedHeaders(), "+x-stainless-*,openai-project"),
      (List{"content-type", "authorization", "x-requested-with", "x-stainless-timeout", "x-api-key",
            "x-stainless-*", "openai-project"}));
  // Already there (in any case): kept once.
  EXPECT_EQ(editSettingList("allowed_headers", {"a"}, "+A,b"), (List{"a", "b"}));
}

TEST(SettingsEdit, MinusRemoves) {
  EXPECT_EQ(editSettingList("allowed_headers", {"content-type", "x-api-key"}, "-x-api-key"),
            List{"content-type"});
  EXPECT_EQ(
      editSettingList("allowed_origins", {"http://a.test", "http://b.test"}, "-HTTP://A.test"),
      List{"http://b.test"});
  EXPECT_EQ(usageCode("allowed_headers", {"content-type"}, "-x-api-key"), kExitUsage);
}

TEST(SettingsEdit, SignsPerEntryOnceTheValueStartsWithOne) {
  EXPECT_EQ(editSettingList("extra_headers", {"a", "b"}, "+c,-a,+d"), (List{"b", "c", "d"}));
  // An entry without a sign takes the one before it.
  EXPECT_EQ(editSettingList("extra_headers", {"a", "b"}, "+c,-a,b"), List{"c"});
  EXPECT_EQ(usageCode("extra_headers", {"a"}, "c,-a"), kExitUsage);
  EXPECT_EQ(usageCode("extra_headers", {"a"}, "+"), kExitUsage);
  EXPECT_EQ(usageCode("extra_headers", {"a"}, "-"), kExitUsage);
}

TEST(SettingsEdit, DefaultRestoresTheDefault) {
  EXPECT_EQ(editSettingList("allowed_headers", {}, "default"), defaultAllowedHeaders());
  EXPECT_EQ(editSettingList("allowed_origins", {"*"}, "default"), defaultAllowedOrigins());
  EXPECT_EQ(editSettingList("forward_headers", {"x"}, "default"), List{});
  EXPECT_EQ(editSettingList("extra_headers", {"x"}, "default"), List{});
  EXPECT_TRUE(isListSetting("allowed_origins"));
  EXPECT_FALSE(isListSetting("enforce_keys"));
}

TEST(SettingsBool, EnforceKeysAndLogContent) {
  EXPECT_TRUE(isBoolSetting("enforce_keys"));
  EXPECT_TRUE(isBoolSetting("log_content"));
  EXPECT_FALSE(isBoolSetting("allowed_origins"));
  EXPECT_FALSE(isBoolSetting("log_contents"));
  EXPECT_FALSE(parseBoolSetting("log_content", "false"));
  EXPECT_FALSE(parseBoolSetting("log_content", "off"));
  EXPECT_TRUE(parseBoolSetting("log_content", "true"));
  EXPECT_TRUE(parseBoolSetting("log_content", "default"));
  try {
    parseBoolSetting("log_content", "maybe");
    FAIL();
  } catch (const CliError& e) {
    EXPECT_EQ(e.code(), kExitUsage);
    EXPECT_NE(std::string(e.what()).find("log_content must be true or false"), std::string::npos);
  }
}

}  // namespace
}  // namespace finops::cli
