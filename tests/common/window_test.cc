#include "common/window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

namespace finops {

// Found by GoogleTest through argument-dependent lookup, so it must live in namespace finops.
inline void PrintTo(const Period& p, std::ostream* os) {
  *os << "[" << formatUtc(p.startMs) << " (" << p.startMs << "), " << formatUtc(p.endMs) << " ("
      << p.endMs << "))";
}

namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kWeek = 7 * kDay;

// Milliseconds since the epoch of the given UTC date and time.
int64_t at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{mo}, day{d}};
  EXPECT_TRUE(ymd.ok()) << y << "-" << mo << "-" << d;
  return static_cast<int64_t>(sys_days{ymd}.time_since_epoch().count()) * kDay + h * kHour +
         mi * kMinute + s * 1000 + ms;
}

WindowSpec spec(std::string_view text) {
  auto w = parseWindow(text);
  EXPECT_TRUE(w) << text;
  return w.value_or(WindowSpec{});
}

Period P(int64_t start, int64_t end) { return {start, end}; }

// ---------------------------------------------------------------------------------------------
// parseWindow / formatWindow

TEST(WindowParse, AcceptsAllUnits) {
  struct Case {
    const char* text;
    int count;
    WindowUnit unit;
  } cases[] = {
      {"1m", 1, WindowUnit::kMinute},   {"5m", 5, WindowUnit::kMinute},
      {"1h", 1, WindowUnit::kHour},     {"1d", 1, WindowUnit::kDay},
      {"30d", 30, WindowUnit::kDay},    {"1w", 1, WindowUnit::kWeek},
      {"1M", 1, WindowUnit::kMonth},    {"1Q", 1, WindowUnit::kQuarter},
      {"1Y", 1, WindowUnit::kYear},     {"1000d", 1000, WindowUnit::kDay},
      {"10h", 10, WindowUnit::kHour},   {"999Y", 999, WindowUnit::kYear},
  };
  for (const auto& c : cases) {
    std::string err;
    auto w = parseWindow(c.text, &err);
    ASSERT_TRUE(w) << c.text << ": " << err;
    EXPECT_EQ(w->count, c.count) << c.text;
    EXPECT_EQ(w->unit, c.unit) << c.text;
    EXPECT_EQ(formatWindow(*w), c.text);
  }
}

TEST(WindowParse, RoundTripsEveryValidSpec) {
  const WindowUnit units[] = {WindowUnit::kMinute, WindowUnit::kHour,    WindowUnit::kDay,
                              WindowUnit::kWeek,   WindowUnit::kMonth,   WindowUnit::kQuarter,
                              WindowUnit::kYear};
  for (WindowUnit u : units) {
    for (int n = 1; n <= 1000; ++n) {
      WindowSpec w{n, u};
      std::string text = formatWindow(w);
      auto parsed = parseWindow(text);
      ASSERT_TRUE(parsed) << text;
      EXPECT_EQ(*parsed, w) << text;
    }
  }
}

TEST(WindowParse, RejectsBadSpecs) {
  const char* bad[] = {"",    "0d",   "1x",   "d",     "1mo",    "01d",  "+1d",  "-1d",
                       " 1d", "1d ",  "1 d",  "1001d", "10000d", "1D",   "1H",   "1W",
                       "1y",  "1q",   "1.5d", "1e3d",  "0",      "10",   "m",    "1dd",
                       "1M1", "0001d", "00m", "1ms",   "1d\n"};
  for (const char* text : bad) {
    std::string err;
    EXPECT_FALSE(parseWindow(text, &err)) << "'" << text << "'";
    EXPECT_FALSE(err.empty()) << "'" << text << "'";
  }
  EXPECT_FALSE(parseWindow(std::string_view("1\0d", 3)));
}

TEST(WindowParse, ErrorNamesAcceptedForms) {
  std::string err;
  EXPECT_FALSE(parseWindow("1mo", &err));
  EXPECT_NE(err.find("1mo"), std::string::npos) << err;
  EXPECT_NE(err.find("1..1000"), std::string::npos) << err;
  for (const char* unit : {"m (minute)", "h (hour)", "d (day)", "w (week)", "M (month)",
                           "Q (quarter)", "Y (year)"}) {
    EXPECT_NE(err.find(unit), std::string::npos) << err;
  }
}

TEST(WindowParse, NullErrorIsAllowed) {
  EXPECT_FALSE(parseWindow("0d", nullptr));
  EXPECT_FALSE(parseWindow("nope"));
  EXPECT_TRUE(parseWindow("7d", nullptr));
}

TEST(WindowParse, DefaultSpecIsOneDay) {
  EXPECT_EQ(formatWindow(WindowSpec{}), "1d");
}

// ---------------------------------------------------------------------------------------------
// calendarPeriod: fixed-length units

TEST(CalendarPeriod, Minute) {
  int64_t now = at(2026, 3, 10, 12, 34, 56, 789);
  EXPECT_EQ(calendarPeriod(spec("1m"), now), P(at(2026, 3, 10, 12, 34), at(2026, 3, 10, 12, 35)));
  // Exact boundary belongs to the new minute; one ms before belongs to the old one.
  int64_t b = at(2026, 3, 10, 12, 35);
  EXPECT_EQ(calendarPeriod(spec("1m"), b).startMs, b);
  EXPECT_EQ(calendarPeriod(spec("1m"), b - 1).endMs, b);
}

TEST(CalendarPeriod, FiveMinutesAlignToWallClock) {
  WindowSpec w = spec("5m");
  EXPECT_EQ(calendarPeriod(w, at(2026, 3, 10, 12, 34, 56, 789)),
            P(at(2026, 3, 10, 12, 30), at(2026, 3, 10, 12, 35)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 3, 10, 12, 35)),
            P(at(2026, 3, 10, 12, 35), at(2026, 3, 10, 12, 40)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 3, 10, 12, 34, 59, 999)),
            P(at(2026, 3, 10, 12, 30), at(2026, 3, 10, 12, 35)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 3, 10, 23, 59, 59, 999)),
            P(at(2026, 3, 10, 23, 55), at(2026, 3, 11)));
  // 7m does not divide an hour: blocks are counted from the epoch, not from the hour.
  int64_t start = calendarPeriod(spec("7m"), at(2026, 3, 10, 12, 0)).startMs;
  EXPECT_EQ(start % (7 * kMinute), 0);
}

TEST(CalendarPeriod, Hour) {
  EXPECT_EQ(calendarPeriod(spec("1h"), at(2026, 3, 10, 12, 34, 56)),
            P(at(2026, 3, 10, 12), at(2026, 3, 10, 13)));
  EXPECT_EQ(calendarPeriod(spec("1h"), at(2026, 3, 10, 13)),
            P(at(2026, 3, 10, 13), at(2026, 3, 10, 14)));
  EXPECT_EQ(calendarPeriod(spec("6h"), at(2026, 3, 10, 13, 1)),
            P(at(2026, 3, 10, 12), at(2026, 3, 10, 18)));
  EXPECT_EQ(calendarPeriod(spec("6h"), at(2026, 3, 10, 23, 59, 59, 999)),
            P(at(2026, 3, 10, 18), at(2026, 3, 11)));
}

TEST(CalendarPeriod, DayIsMidnightToMidnightUtc) {
  EXPECT_EQ(calendarPeriod(spec("1d"), at(2026, 11, 22, 15, 30)),
            P(at(2026, 11, 22), at(2026, 11, 23)));
  EXPECT_EQ(calendarPeriod(spec("1d"), at(2026, 11, 22)), P(at(2026, 11, 22), at(2026, 11, 23)));
  EXPECT_EQ(calendarPeriod(spec("1d"), at(2026, 11, 22) - 1),
            P(at(2026, 11, 21), at(2026, 11, 22)));
  // Cross-check against a literal epoch value (2026-11-22T00:00:00Z = 1795305600 s).
  EXPECT_EQ(calendarPeriod(spec("1d"), 1795305600000 + 5).startMs, 1795305600000);
  // Leap day.
  EXPECT_EQ(calendarPeriod(spec("1d"), at(2024, 2, 29, 12)), P(at(2024, 2, 29), at(2024, 3, 1)));
  EXPECT_EQ(at(2024, 2, 29), 1709164800000);
}

TEST(CalendarPeriod, MultiDayBlocksCountFromEpoch) {
  // 1970-01-01 + 2 days = 1970-01-03 starts the second 2d block.
  EXPECT_EQ(calendarPeriod(spec("2d"), at(1970, 1, 2, 5)), P(at(1970, 1, 1), at(1970, 1, 3)));
  EXPECT_EQ(calendarPeriod(spec("2d"), at(1970, 1, 3)), P(at(1970, 1, 3), at(1970, 1, 5)));
  Period p = calendarPeriod(spec("30d"), at(2026, 3, 10, 8));
  EXPECT_EQ(p.startMs % (30 * kDay), 0);
  EXPECT_EQ(p.endMs - p.startMs, 30 * kDay);
  EXPECT_LE(p.startMs, at(2026, 3, 10, 8));
  EXPECT_GT(p.endMs, at(2026, 3, 10, 8));
}

TEST(CalendarPeriod, WeekStartsMonday) {
  WindowSpec w = spec("1w");
  // 2026-11-22 is a Sunday: still the week that began Monday 2026-11-16.
  EXPECT_EQ(calendarPeriod(w, at(2026, 11, 22, 23, 59, 59, 999)),
            P(at(2026, 11, 16), at(2026, 11, 23)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 11, 22)), P(at(2026, 11, 16), at(2026, 11, 23)));
  // 2026-11-23 is a Monday: a new week starts exactly at midnight.
  EXPECT_EQ(calendarPeriod(w, at(2026, 11, 23)), P(at(2026, 11, 23), at(2026, 11, 30)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 11, 23, 9)), P(at(2026, 11, 23), at(2026, 11, 30)));
  // Thursday 1970-01-01 belongs to the week that began Monday 1969-12-29.
  EXPECT_EQ(calendarPeriod(w, 0), P(at(1969, 12, 29), at(1970, 1, 5)));
  // A week spanning a year boundary.
  EXPECT_EQ(calendarPeriod(w, at(2026, 1, 1)), P(at(2025, 12, 29), at(2026, 1, 5)));
}

TEST(CalendarPeriod, MultiWeekBlocksCountFromFirstMonday) {
  // Monday 2026-11-16 is week 2967 after Monday 1970-01-05 (odd), so the 2w block containing
  // it began a week earlier, on 2026-11-09.
  WindowSpec w = spec("2w");
  EXPECT_EQ(calendarPeriod(w, at(2026, 11, 22)), P(at(2026, 11, 9), at(2026, 11, 23)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 11, 23)), P(at(2026, 11, 23), at(2026, 12, 7)));
  EXPECT_EQ(calendarPeriod(w, at(1970, 1, 5)), P(at(1970, 1, 5), at(1970, 1, 19)));
  EXPECT_EQ(calendarPeriod(w, at(1970, 1, 4, 23)), P(at(1969, 12, 22), at(1970, 1, 5)));
}

// ---------------------------------------------------------------------------------------------
// calendarPeriod: months, quarters, years

TEST(CalendarPeriod, MonthEnds) {
  WindowSpec w = spec("1M");
  // Jan 31.
  EXPECT_EQ(calendarPeriod(w, at(2023, 1, 31, 23, 59, 59, 999)), P(at(2023, 1, 1), at(2023, 2, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2023, 2, 1)), P(at(2023, 2, 1), at(2023, 3, 1)));
  // Feb 28 in a non-leap year: February has 28 days.
  Period feb23 = calendarPeriod(w, at(2023, 2, 28, 23, 59, 59, 999));
  EXPECT_EQ(feb23, P(at(2023, 2, 1), at(2023, 3, 1)));
  EXPECT_EQ(feb23.endMs - feb23.startMs, 28 * kDay);
  EXPECT_EQ(calendarPeriod(w, at(2023, 3, 1)), P(at(2023, 3, 1), at(2023, 4, 1)));
  // Feb 29 2024 (leap year): February has 29 days.
  Period feb24 = calendarPeriod(w, at(2024, 2, 29, 12));
  EXPECT_EQ(feb24, P(at(2024, 2, 1), at(2024, 3, 1)));
  EXPECT_EQ(feb24.endMs - feb24.startMs, 29 * kDay);
  EXPECT_EQ(calendarPeriod(w, at(2024, 2, 28, 23, 59, 59, 999)), feb24);
  // Dec 31 -> the next period is January of the next year.
  EXPECT_EQ(calendarPeriod(w, at(2025, 12, 31, 23, 59, 59, 999)),
            P(at(2025, 12, 1), at(2026, 1, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 1, 1)), P(at(2026, 1, 1), at(2026, 2, 1)));
  // Months of 30 days.
  EXPECT_EQ(calendarPeriod(w, at(2026, 4, 30, 18)), P(at(2026, 4, 1), at(2026, 5, 1)));
}

TEST(CalendarPeriod, EveryMonthOfAYear) {
  for (unsigned m = 1; m <= 12; ++m) {
    int64_t start = at(2026, m, 1);
    int64_t end = m == 12 ? at(2027, 1, 1) : at(2026, m + 1, 1);
    EXPECT_EQ(calendarPeriod(spec("1M"), start), P(start, end)) << m;
    EXPECT_EQ(calendarPeriod(spec("1M"), end - 1), P(start, end)) << m;
  }
}

TEST(CalendarPeriod, MultiMonthBlocksCountFromJanuary1970) {
  EXPECT_EQ(calendarPeriod(spec("2M"), at(2026, 2, 14)), P(at(2026, 1, 1), at(2026, 3, 1)));
  EXPECT_EQ(calendarPeriod(spec("2M"), at(2026, 3, 1)), P(at(2026, 3, 1), at(2026, 5, 1)));
  EXPECT_EQ(calendarPeriod(spec("6M"), at(2026, 7, 1)), P(at(2026, 7, 1), at(2027, 1, 1)));
  EXPECT_EQ(calendarPeriod(spec("6M"), at(2026, 6, 30, 23)), P(at(2026, 1, 1), at(2026, 7, 1)));
  // 5M: month index of 2026-03 is 56*12 + 2 = 674; 674 / 5 = 134 -> block starts at month 670
  // (2025-11) and ends at 675 (2026-04).
  EXPECT_EQ(calendarPeriod(spec("5M"), at(2026, 3, 15)), P(at(2025, 11, 1), at(2026, 4, 1)));
}

TEST(CalendarPeriod, ThreeMonthsEqualsOneQuarter) {
  for (unsigned m = 1; m <= 12; ++m) {
    for (unsigned d : {1u, 15u, 28u}) {
      int64_t now = at(2025, m, d, 7);
      EXPECT_EQ(calendarPeriod(spec("3M"), now), calendarPeriod(spec("1Q"), now)) << m << "/" << d;
      EXPECT_EQ(calendarPeriod(spec("12M"), now), calendarPeriod(spec("1Y"), now));
      EXPECT_EQ(calendarPeriod(spec("6M"), now), calendarPeriod(spec("2Q"), now));
    }
  }
}

TEST(CalendarPeriod, QuarterBoundaries) {
  WindowSpec w = spec("1Q");
  EXPECT_EQ(calendarPeriod(w, at(2026, 1, 1)), P(at(2026, 1, 1), at(2026, 4, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 2, 14)), P(at(2026, 1, 1), at(2026, 4, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 3, 31, 23, 59, 59, 999)), P(at(2026, 1, 1), at(2026, 4, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 4, 1)), P(at(2026, 4, 1), at(2026, 7, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 6, 30, 12)), P(at(2026, 4, 1), at(2026, 7, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 7, 1)), P(at(2026, 7, 1), at(2026, 10, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 9, 30, 23, 59, 59, 999)), P(at(2026, 7, 1), at(2026, 10, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 10, 1)), P(at(2026, 10, 1), at(2027, 1, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 12, 31, 23, 59, 59, 999)),
            P(at(2026, 10, 1), at(2027, 1, 1)));
  // 2Q = half years.
  EXPECT_EQ(calendarPeriod(spec("2Q"), at(2026, 5, 5)), P(at(2026, 1, 1), at(2026, 7, 1)));
}

TEST(CalendarPeriod, YearBoundaries) {
  WindowSpec w = spec("1Y");
  EXPECT_EQ(calendarPeriod(w, at(2025, 12, 31, 23, 59, 59, 999)), P(at(2025, 1, 1), at(2026, 1, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2026, 1, 1)), P(at(2026, 1, 1), at(2027, 1, 1)));
  EXPECT_EQ(calendarPeriod(w, at(2024, 2, 29)), P(at(2024, 1, 1), at(2025, 1, 1)));
  // N-year blocks count from 1970: 2026 - 1970 = 56, 56 / 5 = 11 -> [2025, 2030).
  EXPECT_EQ(calendarPeriod(spec("5Y"), at(2026, 6, 1)), P(at(2025, 1, 1), at(2030, 1, 1)));
  EXPECT_EQ(calendarPeriod(spec("5Y"), at(2030, 1, 1)), P(at(2030, 1, 1), at(2035, 1, 1)));
}

TEST(CalendarPeriod, BeforeEpochUsesFloorDivision) {
  EXPECT_EQ(calendarPeriod(spec("1m"), -1), P(-kMinute, 0));
  EXPECT_EQ(calendarPeriod(spec("5m"), -1), P(-5 * kMinute, 0));
  EXPECT_EQ(calendarPeriod(spec("5m"), -5 * kMinute), P(-5 * kMinute, 0));
  EXPECT_EQ(calendarPeriod(spec("1h"), -kHour - 1), P(-2 * kHour, -kHour));
  EXPECT_EQ(calendarPeriod(spec("1d"), -1), P(at(1969, 12, 31), 0));
  EXPECT_EQ(calendarPeriod(spec("1w"), at(1969, 12, 28, 23)), P(at(1969, 12, 22), at(1969, 12, 29)));
  EXPECT_EQ(calendarPeriod(spec("1M"), -1), P(at(1969, 12, 1), 0));
  EXPECT_EQ(calendarPeriod(spec("1Q"), at(1969, 8, 15)), P(at(1969, 7, 1), at(1969, 10, 1)));
  EXPECT_EQ(calendarPeriod(spec("1Y"), -1), P(at(1969, 1, 1), 0));
  EXPECT_EQ(calendarPeriod(spec("5Y"), at(1966, 3, 1)), P(at(1965, 1, 1), at(1970, 1, 1)));
  EXPECT_EQ(calendarPeriod(spec("1M"), at(1900, 2, 28, 12)), P(at(1900, 2, 1), at(1900, 3, 1)));
}

// For many random instants and windows: the period contains the instant, boundaries belong to
// the new period, and consecutive periods tile the time line.
TEST(CalendarPeriod, PropertiesHoldForRandomInstants) {
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<int64_t> time(at(1900, 1, 1), at(2200, 1, 1));
  std::uniform_int_distribution<int> count(1, 40);
  const WindowUnit units[] = {WindowUnit::kMinute, WindowUnit::kHour,    WindowUnit::kDay,
                              WindowUnit::kWeek,   WindowUnit::kMonth,   WindowUnit::kQuarter,
                              WindowUnit::kYear};
  for (int i = 0; i < 5000; ++i) {
    WindowSpec w{count(rng), units[i % 7]};
    int64_t now = time(rng);
    Period p = calendarPeriod(w, now);
    ASSERT_LE(p.startMs, now) << formatWindow(w) << " " << now;
    ASSERT_GT(p.endMs, now) << formatWindow(w) << " " << now;
    EXPECT_EQ(calendarPeriod(w, p.startMs), p);
    EXPECT_EQ(calendarPeriod(w, p.endMs - 1), p);
    EXPECT_EQ(calendarPeriod(w, p.endMs).startMs, p.endMs);
    EXPECT_EQ(calendarPeriod(w, p.startMs - 1).endMs, p.startMs);
    EXPECT_EQ(p.startMs % kMinute, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// rollingPeriod: fixed-length units

TEST(RollingPeriod, FixedUnitsFromAnchorWithOffset) {
  int64_t anchor = at(2026, 3, 10, 14, 27, 13, 500);
  struct Case {
    const char* spec;
    int64_t len;
  } cases[] = {{"1m", kMinute}, {"5m", 5 * kMinute}, {"1h", kHour}, {"3h", 3 * kHour},
               {"1d", kDay},    {"30d", 30 * kDay},  {"1w", kWeek}, {"2w", 2 * kWeek}};
  for (const auto& c : cases) {
    WindowSpec w = spec(c.spec);
    EXPECT_EQ(rollingPeriod(w, anchor, anchor), P(anchor, anchor + c.len)) << c.spec;
    EXPECT_EQ(rollingPeriod(w, anchor, anchor + c.len - 1), P(anchor, anchor + c.len)) << c.spec;
    EXPECT_EQ(rollingPeriod(w, anchor, anchor + c.len), P(anchor + c.len, anchor + 2 * c.len))
        << c.spec;
    EXPECT_EQ(rollingPeriod(w, anchor, anchor + 7 * c.len + c.len / 2),
              P(anchor + 7 * c.len, anchor + 8 * c.len))
        << c.spec;
  }
}

TEST(RollingPeriod, DayWindowKeepsAnchorTimeOfDay) {
  int64_t anchor = at(2026, 3, 10, 14, 27, 13, 500);
  EXPECT_EQ(rollingPeriod(spec("1d"), anchor, at(2026, 3, 12, 9)),
            P(at(2026, 3, 11, 14, 27, 13, 500), at(2026, 3, 12, 14, 27, 13, 500)));
  EXPECT_EQ(rollingPeriod(spec("1d"), anchor, at(2026, 3, 12, 15)),
            P(at(2026, 3, 12, 14, 27, 13, 500), at(2026, 3, 13, 14, 27, 13, 500)));
  // A rolling week starting on a Tuesday stays on Tuesdays.
  EXPECT_EQ(rollingPeriod(spec("1w"), anchor, at(2026, 3, 23)),
            P(at(2026, 3, 17, 14, 27, 13, 500), at(2026, 3, 24, 14, 27, 13, 500)));
}

TEST(RollingPeriod, FixedUnitsNowBeforeAnchor) {
  int64_t anchor = at(2026, 3, 10, 14, 27);
  EXPECT_EQ(rollingPeriod(spec("1d"), anchor, anchor - 1), P(anchor, anchor + kDay));
  EXPECT_EQ(rollingPeriod(spec("1h"), anchor, anchor - 10 * kDay), P(anchor, anchor + kHour));
  EXPECT_EQ(rollingPeriod(spec("5m"), anchor, 0), P(anchor, anchor + 5 * kMinute));
}

TEST(RollingPeriod, FixedUnitsFarFuture) {
  int64_t anchor = at(2026, 3, 10, 14, 27, 13, 500);
  EXPECT_EQ(rollingPeriod(spec("1d"), anchor, anchor + 10'000 * kDay + 3 * kHour),
            P(anchor + 10'000 * kDay, anchor + 10'001 * kDay));
  EXPECT_EQ(rollingPeriod(spec("1d"), anchor, anchor + 10'000 * kDay - 1),
            P(anchor + 9'999 * kDay, anchor + 10'000 * kDay));
  EXPECT_EQ(rollingPeriod(spec("1m"), anchor, anchor + 10'000'000 * kMinute),
            P(anchor + 10'000'000 * kMinute, anchor + 10'000'001 * kMinute));
}

TEST(RollingPeriod, FixedUnitsBeforeEpoch) {
  int64_t anchor = at(1969, 12, 31, 22, 30);
  EXPECT_EQ(rollingPeriod(spec("1h"), anchor, at(1969, 12, 31, 23, 45)),
            P(at(1969, 12, 31, 23, 30), at(1970, 1, 1, 0, 30)));
  EXPECT_EQ(rollingPeriod(spec("1h"), anchor, at(1970, 1, 1, 0, 30)),
            P(at(1970, 1, 1, 0, 30), at(1970, 1, 1, 1, 30)));
}

// ---------------------------------------------------------------------------------------------
// rollingPeriod: months, quarters, years

// Checks that the rolling periods of `w` from `anchor` start exactly at `starts` (starts[0] must
// be the anchor), probing the first and last ms of each period.
void expectRollingStarts(const WindowSpec& w, int64_t anchor, const std::vector<int64_t>& starts) {
  ASSERT_EQ(starts.front(), anchor);
  for (size_t i = 0; i + 1 < starts.size(); ++i) {
    Period expected = P(starts[i], starts[i + 1]);
    EXPECT_EQ(rollingPeriod(w, anchor, starts[i]), expected) << formatWindow(w) << " k=" << i;
    EXPECT_EQ(rollingPeriod(w, anchor, starts[i + 1] - 1), expected)
        << formatWindow(w) << " k=" << i;
    EXPECT_EQ(rollingPeriod(w, anchor, (starts[i] + starts[i + 1]) / 2), expected)
        << formatWindow(w) << " k=" << i;
  }
}

TEST(RollingPeriod, MonthAnchoredJan31NonLeapYear) {
  int64_t anchor = at(2023, 1, 31, 10, 15);
  expectRollingStarts(spec("1M"), anchor,
                      {anchor, at(2023, 2, 28, 10, 15), at(2023, 3, 31, 10, 15),
                       at(2023, 4, 30, 10, 15), at(2023, 5, 31, 10, 15), at(2023, 6, 30, 10, 15),
                       at(2023, 7, 31, 10, 15), at(2023, 8, 31, 10, 15), at(2023, 9, 30, 10, 15),
                       at(2023, 10, 31, 10, 15), at(2023, 11, 30, 10, 15),
                       at(2023, 12, 31, 10, 15), at(2024, 1, 31, 10, 15),
                       at(2024, 2, 29, 10, 15), at(2024, 3, 31, 10, 15)});
}

TEST(RollingPeriod, MonthAnchoredJan31LeapYear) {
  int64_t anchor = at(2024, 1, 31);
  expectRollingStarts(spec("1M"), anchor,
                      {anchor, at(2024, 2, 29), at(2024, 3, 31), at(2024, 4, 30), at(2024, 5, 31),
                       at(2024, 6, 30), at(2024, 7, 31), at(2024, 8, 31), at(2024, 9, 30),
                       at(2024, 10, 31), at(2024, 11, 30), at(2024, 12, 31), at(2025, 1, 31),
                       at(2025, 2, 28), at(2025, 3, 31)});
}

TEST(RollingPeriod, MonthClampingIsNotCumulative) {
  // After Feb 28 the next start is Mar 31, not Mar 28.
  int64_t anchor = at(2023, 1, 31, 10);
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor, at(2023, 3, 30)),
            P(at(2023, 2, 28, 10), at(2023, 3, 31, 10)));
  // Anchored on the 30th: February is clamped, March is the 30th again.
  int64_t anchor30 = at(2025, 1, 30);
  expectRollingStarts(spec("1M"), anchor30,
                      {anchor30, at(2025, 2, 28), at(2025, 3, 30), at(2025, 4, 30)});
  // Anchored mid-month: no clamping ever.
  int64_t anchor15 = at(2025, 11, 15, 6);
  expectRollingStarts(spec("1M"), anchor15,
                      {anchor15, at(2025, 12, 15, 6), at(2026, 1, 15, 6), at(2026, 2, 15, 6)});
}

TEST(RollingPeriod, YearAnchoredOnLeapDay) {
  int64_t anchor = at(2024, 2, 29, 8, 30);
  expectRollingStarts(spec("1Y"), anchor,
                      {anchor, at(2025, 2, 28, 8, 30), at(2026, 2, 28, 8, 30),
                       at(2027, 2, 28, 8, 30), at(2028, 2, 29, 8, 30), at(2029, 2, 28, 8, 30)});
  // 2100 is not a leap year, 2400 is.
  EXPECT_EQ(rollingPeriod(spec("1Y"), anchor, at(2100, 3, 1)).startMs, at(2100, 2, 28, 8, 30));
  EXPECT_EQ(rollingPeriod(spec("1Y"), anchor, at(2400, 3, 1)).startMs, at(2400, 2, 29, 8, 30));
  EXPECT_EQ(rollingPeriod(spec("4Y"), anchor, at(2030, 1, 1)),
            P(at(2028, 2, 29, 8, 30), at(2032, 2, 29, 8, 30)));
}

TEST(RollingPeriod, Quarter) {
  int64_t anchor = at(2025, 11, 30, 8);
  expectRollingStarts(spec("1Q"), anchor,
                      {anchor, at(2026, 2, 28, 8), at(2026, 5, 30, 8), at(2026, 8, 30, 8),
                       at(2026, 11, 30, 8), at(2027, 2, 28, 8)});
  int64_t anchor31 = at(2025, 8, 31);
  expectRollingStarts(spec("1Q"), anchor31,
                      {anchor31, at(2025, 11, 30), at(2026, 2, 28), at(2026, 5, 31),
                       at(2026, 8, 31)});
  // 1Q is the same as 3M, 1Y the same as 12M and 4Q.
  for (int64_t now : {at(2026, 1, 1), at(2026, 6, 15, 3), at(2031, 12, 31, 23)}) {
    EXPECT_EQ(rollingPeriod(spec("1Q"), anchor, now), rollingPeriod(spec("3M"), anchor, now));
    EXPECT_EQ(rollingPeriod(spec("1Y"), anchor, now), rollingPeriod(spec("12M"), anchor, now));
    EXPECT_EQ(rollingPeriod(spec("1Y"), anchor, now), rollingPeriod(spec("4Q"), anchor, now));
  }
}

TEST(RollingPeriod, MonthTimeOfDayPreserved) {
  int64_t anchor = at(2026, 1, 15, 18, 0, 0, 250);
  // On the 15th before 18:00 we are still in the previous period.
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor, at(2026, 3, 15, 9)),
            P(at(2026, 2, 15, 18, 0, 0, 250), at(2026, 3, 15, 18, 0, 0, 250)));
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor, at(2026, 3, 15, 18, 0, 0, 249)),
            P(at(2026, 2, 15, 18, 0, 0, 250), at(2026, 3, 15, 18, 0, 0, 250)));
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor, at(2026, 3, 15, 18, 0, 0, 250)),
            P(at(2026, 3, 15, 18, 0, 0, 250), at(2026, 4, 15, 18, 0, 0, 250)));
  // Same with a clamped day: Feb 28 before 10:00 is still the period that began Jan 31.
  int64_t anchor31 = at(2023, 1, 31, 10);
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor31, at(2023, 2, 28, 9, 59, 59, 999)),
            P(anchor31, at(2023, 2, 28, 10)));
  // Later in a month whose clamped start is already past.
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor31, at(2023, 4, 30, 23)),
            P(at(2023, 4, 30, 10), at(2023, 5, 31, 10)));
  // Multi-month windows: 2M from Jan 31.
  EXPECT_EQ(rollingPeriod(spec("2M"), anchor31, at(2023, 3, 31, 9)),
            P(anchor31, at(2023, 3, 31, 10)));
  EXPECT_EQ(rollingPeriod(spec("2M"), anchor31, at(2023, 4, 15)),
            P(at(2023, 3, 31, 10), at(2023, 5, 31, 10)));
}

TEST(RollingPeriod, MonthNowBeforeAnchor) {
  int64_t anchor = at(2023, 1, 31, 10);
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor, anchor - 1), P(anchor, at(2023, 2, 28, 10)));
  EXPECT_EQ(rollingPeriod(spec("1Q"), anchor, at(2020, 5, 5)), P(anchor, at(2023, 4, 30, 10)));
  EXPECT_EQ(rollingPeriod(spec("1Y"), anchor, 0), P(anchor, at(2024, 1, 31, 10)));
}

TEST(RollingPeriod, MonthFarFuture) {
  int64_t anchor = at(2000, 1, 31, 12);
  // 10,000 days later.
  int64_t now = anchor + 10'000 * kDay;  // 2027-06-18T12:00Z
  EXPECT_EQ(formatUtc(now), "2027-06-18T12:00:00Z");
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor, now), P(at(2027, 5, 31, 12), at(2027, 6, 30, 12)));
  // Centuries later (k ~ 10,000 months).
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor, at(2833, 2, 10)),
            P(at(2833, 1, 31, 12), at(2833, 2, 28, 12)));
  EXPECT_EQ(rollingPeriod(spec("1M"), anchor, at(2832, 2, 29, 12)),
            P(at(2832, 2, 29, 12), at(2832, 3, 31, 12)));
  EXPECT_EQ(rollingPeriod(spec("1Y"), at(2024, 2, 29), at(9999, 6, 1)),
            P(at(9999, 2, 28), at(10000, 2, 29)));
  EXPECT_EQ(rollingPeriod(spec("1000Y"), at(2024, 2, 29), at(3500, 6, 1)),
            P(at(3024, 2, 29), at(4024, 2, 29)));
}

TEST(RollingPeriod, MonthBeforeEpoch) {
  int64_t anchor = at(1969, 11, 30, 23);
  expectRollingStarts(spec("1M"), anchor,
                      {anchor, at(1969, 12, 30, 23), at(1970, 1, 30, 23), at(1970, 2, 28, 23),
                       at(1970, 3, 30, 23)});
}

// Reference: walk k = 0, 1, 2, ... using <chrono> month addition with clamping.
Period referenceRollingMonths(int64_t anchor, int months, int64_t now) {
  using namespace std::chrono;
  int64_t dayIndex = anchor >= 0 ? anchor / kDay : -((-anchor + kDay - 1) / kDay);
  int64_t tod = anchor - dayIndex * kDay;
  year_month_day a{sys_days{days{dayIndex}}};
  auto startOf = [&](int64_t k) {
    year_month_day t = a + std::chrono::months{k * months};
    if (!t.ok()) t = year_month_day{year_month_day_last{t.year(), month_day_last{t.month()}}};
    return static_cast<int64_t>(sys_days{t}.time_since_epoch().count()) * kDay + tod;
  };
  int64_t k = 0;
  while (startOf(k + 1) <= now) ++k;
  return {startOf(k), startOf(k + 1)};
}

TEST(RollingPeriod, MonthsMatchReferenceWalk) {
  std::mt19937_64 rng(777);
  std::uniform_int_distribution<int64_t> anchorDist(at(1960, 1, 1), at(2040, 1, 1));
  std::uniform_int_distribution<int64_t> offsetDist(-kDay, 40 * 366 * kDay);
  std::uniform_int_distribution<int> dayDist(27, 31);
  std::uniform_int_distribution<int> countDist(1, 7);
  const WindowUnit units[] = {WindowUnit::kMonth, WindowUnit::kQuarter, WindowUnit::kYear};
  const int unitMonths[] = {1, 3, 12};
  for (int i = 0; i < 3000; ++i) {
    int64_t anchor = anchorDist(rng);
    if (i % 2 == 0) {
      // Bias toward month ends, where clamping matters.
      std::string s = formatUtc(anchor);
      int y = std::stoi(s.substr(0, 4));
      unsigned m = static_cast<unsigned>(std::stoi(s.substr(5, 2)));
      unsigned d = static_cast<unsigned>(dayDist(rng));
      std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                      std::chrono::day{d}};
      if (ymd.ok()) anchor = at(y, m, d, 13, 7, 11, 3);
    }
    int64_t now = anchor + offsetDist(rng);
    int u = i % 3;
    WindowSpec w{countDist(rng), units[u]};
    Period expected = now < anchor ? referenceRollingMonths(anchor, w.count * unitMonths[u], anchor)
                                   : referenceRollingMonths(anchor, w.count * unitMonths[u], now);
    ASSERT_EQ(rollingPeriod(w, anchor, now), expected)
        << formatWindow(w) << " anchor=" << formatUtc(anchor) << " now=" << formatUtc(now);
  }
}

// ---------------------------------------------------------------------------------------------
// periodAt

TEST(PeriodAt, Dispatches) {
  int64_t anchor = at(2026, 3, 10, 14);
  int64_t now = at(2026, 5, 20, 9);
  EXPECT_EQ(periodAt(spec("1M"), true, anchor, now), P(at(2026, 5, 1), at(2026, 6, 1)));
  EXPECT_EQ(periodAt(spec("1M"), false, anchor, now), P(at(2026, 5, 10, 14), at(2026, 6, 10, 14)));
  EXPECT_EQ(periodAt(spec("1d"), true, anchor, now), P(at(2026, 5, 20), at(2026, 5, 21)));
  EXPECT_EQ(periodAt(spec("1d"), false, anchor, now), P(at(2026, 5, 19, 14), at(2026, 5, 20, 14)));
}

// ---------------------------------------------------------------------------------------------
// formatUtc / formatResetDuration

TEST(FormatUtc, Rfc3339Seconds) {
  EXPECT_EQ(formatUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(formatUtc(999), "1970-01-01T00:00:00Z");
  EXPECT_EQ(formatUtc(1795305600000), "2026-11-22T00:00:00Z");
  EXPECT_EQ(formatUtc(at(2024, 2, 29, 23, 59, 59, 999)), "2024-02-29T23:59:59Z");
  EXPECT_EQ(formatUtc(at(2026, 3, 10, 7, 5, 3)), "2026-03-10T07:05:03Z");
  EXPECT_EQ(formatUtc(1675172710000), "2023-01-31T13:45:10Z");
  // Before the epoch the sub-second part is floored too.
  EXPECT_EQ(formatUtc(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(formatUtc(-1000), "1969-12-31T23:59:59Z");
  EXPECT_EQ(formatUtc(-1001), "1969-12-31T23:59:58Z");
  EXPECT_EQ(formatUtc(at(1900, 1, 1)), "1900-01-01T00:00:00Z");
  EXPECT_EQ(formatUtc(at(9999, 12, 31, 23, 59, 59)), "9999-12-31T23:59:59Z");
}

TEST(FormatResetDuration, OpenAiStyle) {
  EXPECT_EQ(formatResetDuration(0), "0s");
  EXPECT_EQ(formatResetDuration(-5), "0s");
  EXPECT_EQ(formatResetDuration(1), "1ms");
  EXPECT_EQ(formatResetDuration(20), "20ms");
  EXPECT_EQ(formatResetDuration(999), "999ms");
  EXPECT_EQ(formatResetDuration(1000), "1s");
  EXPECT_EQ(formatResetDuration(1001), "2s");  // rounded up
  EXPECT_EQ(formatResetDuration(1999), "2s");
  EXPECT_EQ(formatResetDuration(59'000), "59s");
  EXPECT_EQ(formatResetDuration(59'001), "1m0s");
  EXPECT_EQ(formatResetDuration(60'000), "1m0s");
  EXPECT_EQ(formatResetDuration(61'000), "1m1s");
  EXPECT_EQ(formatResetDuration(6 * kMinute), "6m0s");
  EXPECT_EQ(formatResetDuration(kHour), "1h0m0s");
  EXPECT_EQ(formatResetDuration(kHour + 2 * kMinute + 3000), "1h2m3s");
  EXPECT_EQ(formatResetDuration(kHour + 3000), "1h0m3s");
  EXPECT_EQ(formatResetDuration(2 * kDay), "48h0m0s");
  EXPECT_EQ(formatResetDuration(31 * kDay), "744h0m0s");
}

}  // namespace
}  // namespace finops
