#include "common/money.h"

#include <gtest/gtest.h>

#include <limits>

namespace finops {
namespace {

TEST(Money, ParsesPlainDecimalsExactly) {
  EXPECT_EQ(parseDollars("5"), 5'000'000'000);
  EXPECT_EQ(parseDollars("5.00"), 5'000'000'000);
  EXPECT_EQ(parseDollars("$5"), 5'000'000'000);
  EXPECT_EQ(parseDollars("$0.30"), 300'000'000);
  EXPECT_EQ(parseDollars("2.50"), 2'500'000'000);
  EXPECT_EQ(parseDollars("0.000000001"), 1);
  EXPECT_EQ(parseDollars("0"), 0);
  EXPECT_EQ(parseDollars("0.1"), 100'000'000);  // no binary floating point on the way
  EXPECT_EQ(parseDollars("007.5"), 7'500'000'000);
}

TEST(Money, RefusesAnythingElse) {
  for (const char* bad : {"", "$", "1e-3", "-5", "+5", "5.", ".5", " 5", "5 ", "1,000", "$-5", "5$",
                          "0.0000000001", "1.2.3", "abc", "$$5", "0x10", "5.0a"})
    EXPECT_EQ(parseDollars(bad), std::nullopt) << bad;
}

TEST(Money, ParseChecksOverflow) {
  // INT64_MAX nano-dollars is $9223372036.854775807.
  EXPECT_EQ(parseDollars("9223372036.854775807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parseDollars("9223372036.854775808"), std::nullopt);
  EXPECT_EQ(parseDollars("9223372037"), std::nullopt);
  EXPECT_EQ(parseDollars("99999999999999999999999999"), std::nullopt);
}

TEST(Money, FormatsWithTwoToNineDecimals) {
  EXPECT_EQ(formatDollars(5'000'000'000), "$5.00");
  EXPECT_EQ(formatDollars(1'500'000), "$0.0015");
  EXPECT_EQ(formatDollars(1'234'500'000'000), "$1234.50");
  EXPECT_EQ(formatDollars(1), "$0.000000001");
  EXPECT_EQ(formatDollars(0), "$0.00");
  EXPECT_EQ(formatDollars(-500'000'000), "-$0.50");
  EXPECT_EQ(formatDollars(std::numeric_limits<int64_t>::max()), "$9223372036.854775807");
  EXPECT_EQ(formatDollars(std::numeric_limits<int64_t>::min()), "-$9223372036.854775808");
}

TEST(Money, PlainFormatHasNoDollarSign) {
  EXPECT_EQ(formatDollarsPlain(5'000'000'000), "5.00");
  EXPECT_EQ(formatDollarsPlain(-500'000'000), "-0.50");
  EXPECT_EQ(formatDollarsPlain(123'456'789), "0.123456789");
}

TEST(Money, FormatThenParseRoundTrips) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{10}, int64_t{999'999'999},
                    int64_t{1'000'000'000}, int64_t{42'420'000'001}})
    EXPECT_EQ(parseDollars(formatDollars(v)), v) << v;
}

}  // namespace
}  // namespace finops
