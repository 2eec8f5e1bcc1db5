#include "cli/args.h"

#include <gtest/gtest.h>

#include "cli/output.h"

namespace finops::cli {
namespace {

TEST(Args, ValueFlagsRepeatAndTakeEitherForm) {
  Args a({"openai", "--api-key-env", "A", "--api-key-env=B", "--no-list-models"},
         {"--api-key-env"}, {"--no-list-models"});
  EXPECT_EQ(a.positional(), std::vector<std::string>{"openai"});
  EXPECT_EQ(a.values("--api-key-env"), (std::vector<std::string>{"A", "B"}));
  EXPECT_TRUE(a.has("--no-list-models"));
}

TEST(Args, UnknownFlagsAndMissingValuesAreUsageErrors) {
  try {
    Args a({"--nope"}, {}, {});
    FAIL();
  } catch (const CliError& e) {
    EXPECT_EQ(e.code(), kExitUsage);
  }
  EXPECT_THROW(Args({"--name"}, {"--name"}, {}), CliError);
  Args a({"x", "y"}, {}, {});
  EXPECT_THROW(a.expectPositional(1, "one"), CliError);
}

TEST(Args, ShortFlagsAndRepeatedValues) {
  Args a({"-f", "a.yaml", "-", "--by", "key", "--by=model", "--dry-run"}, {"-f", "--by"},
         {"--dry-run"});
  EXPECT_EQ(a.value("-f"), "a.yaml");
  EXPECT_EQ(a.positional(), std::vector<std::string>{"-"});
  EXPECT_EQ(a.values("--by"), (std::vector<std::string>{"key", "model"}));
  EXPECT_EQ(a.value("--by"), "model");  // last wins
  EXPECT_TRUE(a.values("--nothing").empty());
  EXPECT_THROW(Args({"-x"}, {"-f"}, {}), CliError);
}

TEST(Args, SplitList) {
  EXPECT_EQ(splitList(" a, b,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(splitList("").empty());
}

TEST(Output, YamlQuotesStrings) {
  nlohmann::ordered_json j = {{"name", "x: y"}, {"n", 3}, {"list", {"a"}}};
  std::string y = toYaml(j);
  EXPECT_NE(y.find("name: \"x: y\""), std::string::npos) << y;
  EXPECT_NE(y.find("n: 3"), std::string::npos);
}

}  // namespace
}  // namespace finops::cli
