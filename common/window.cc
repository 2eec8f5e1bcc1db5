#include "common/window.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace finops {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kWeekMs = 7 * kDayMs;
// Monday 1970-01-05 00:00 UTC, the origin of calendar weeks.
constexpr int64_t kFirstMondayMs = 4 * kDayMs;
constexpr int kMaxCount = 1000;

// Division rounding toward negative infinity; b > 0.
int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b) != 0 && a < 0) --q;
  return q;
}

int64_t floorMod(int64_t a, int64_t b) { return a - floorDiv(a, b) * b; }

int clampedCount(const WindowSpec& w) { return std::clamp(w.count, 1, kMaxCount); }

bool isMonthBased(WindowUnit u) {
  return u == WindowUnit::kMonth || u == WindowUnit::kQuarter || u == WindowUnit::kYear;
}

// Length in ms of a fixed-length window (m, h, d, w).
int64_t fixedLengthMs(const WindowSpec& w) {
  int64_t unit = kDayMs;
  switch (w.unit) {
    case WindowUnit::kMinute: unit = kMinuteMs; break;
    case WindowUnit::kHour: unit = kHourMs; break;
    case WindowUnit::kWeek: unit = kWeekMs; break;
    default: break;
  }
  return clampedCount(w) * unit;
}

// Length in months of a month-based window (M, Q, Y).
int64_t monthsPerPeriod(const WindowSpec& w) {
  int64_t unit = 1;
  if (w.unit == WindowUnit::kQuarter) unit = 3;
  if (w.unit == WindowUnit::kYear) unit = 12;
  return clampedCount(w) * unit;
}

// A UTC instant split into its calendar date and the ms since that date's midnight.
struct DateTime {
  year_month_day date;
  int64_t timeOfDayMs = 0;
};

DateTime splitMs(int64_t ms) {
  int64_t dayIndex = floorDiv(ms, kDayMs);
  return {year_month_day{sys_days{days{dayIndex}}}, ms - dayIndex * kDayMs};
}

int64_t dateToMs(const year_month_day& ymd) {
  return static_cast<int64_t>(sys_days{ymd}.time_since_epoch().count()) * kDayMs;
}

// Months since January 1970 (0 = 1970-01, negative before).
int64_t monthIndex(const year_month_day& ymd) {
  return (static_cast<int64_t>(static_cast<int>(ymd.year())) - 1970) * 12 +
         (static_cast<unsigned>(ymd.month()) - 1);
}

// Month `index` (as from monthIndex) with the given day, clamped to the month's length.
year_month_day dateInMonth(int64_t index, unsigned day) {
  std::chrono::year y{static_cast<int>(1970 + floorDiv(index, 12))};
  std::chrono::month m{static_cast<unsigned>(floorMod(index, 12) + 1)};
  std::chrono::day last = std::chrono::year_month_day_last{y, std::chrono::month_day_last{m}}.day();
  return year_month_day{y, m, std::min(std::chrono::day{day}, last)};
}

// Start of the k-th month-based rolling period from `anchor`.
int64_t rollingMonthStart(const DateTime& anchor, int64_t months, int64_t k) {
  year_month_day d = dateInMonth(monthIndex(anchor.date) + k * months,
                                 static_cast<unsigned>(anchor.date.day()));
  return dateToMs(d) + anchor.timeOfDayMs;
}

}  // namespace

std::optional<WindowSpec> parseWindow(std::string_view text, std::string* error) {
  auto fail = [&]() -> std::optional<WindowSpec> {
    if (error) {
      *error = "invalid window \"" + std::string(text) +
               "\": expected <N><unit> with N in 1..1000 (no sign, spaces or leading zeros) and "
               "unit one of m (minute), h (hour), d (day), w (week), M (month), Q (quarter), "
               "Y (year), e.g. \"5m\", \"1h\", \"30d\", \"1M\"";
    }
    return std::nullopt;
  };
  if (text.size() < 2 || text.size() > 5) return fail();
  WindowSpec w;
  switch (text.back()) {
    case 'm': w.unit = WindowUnit::kMinute; break;
    case 'h': w.unit = WindowUnit::kHour; break;
    case 'd': w.unit = WindowUnit::kDay; break;
    case 'w': w.unit = WindowUnit::kWeek; break;
    case 'M': w.unit = WindowUnit::kMonth; break;
    case 'Q': w.unit = WindowUnit::kQuarter; break;
    case 'Y': w.unit = WindowUnit::kYear; break;
    default: return fail();
  }
  std::string_view digits = text.substr(0, text.size() - 1);
  if (digits.front() == '0') return fail();
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return fail();
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > kMaxCount) return fail();
  w.count = n;
  return w;
}

std::string formatWindow(const WindowSpec& w) {
  char unit = 'd';
  switch (w.unit) {
    case WindowUnit::kMinute: unit = 'm'; break;
    case WindowUnit::kHour: unit = 'h'; break;
    case WindowUnit::kDay: unit = 'd'; break;
    case WindowUnit::kWeek: unit = 'w'; break;
    case WindowUnit::kMonth: unit = 'M'; break;
    case WindowUnit::kQuarter: unit = 'Q'; break;
    case WindowUnit::kYear: unit = 'Y'; break;
  }
  return std::to_string(w.count) + unit;
}

Period calendarPeriod(const WindowSpec& w, int64_t nowMs) {
  if (!isMonthBased(w.unit)) {
    int64_t len = fixedLengthMs(w);
    int64_t origin = w.unit == WindowUnit::kWeek ? kFirstMondayMs : 0;
    int64_t start = origin + floorDiv(nowMs - origin, len) * len;
    return {start, start + len};
  }
  int64_t months = monthsPerPeriod(w);
  int64_t first = floorDiv(monthIndex(splitMs(nowMs).date), months) * months;
  return {dateToMs(dateInMonth(first, 1)), dateToMs(dateInMonth(first + months, 1))};
}

Period rollingPeriod(const WindowSpec& w, int64_t anchorMs, int64_t nowMs) {
  if (!isMonthBased(w.unit)) {
    int64_t len = fixedLengthMs(w);
    int64_t k = nowMs < anchorMs ? 0 : (nowMs - anchorMs) / len;
    int64_t start = anchorMs + k * len;
    return {start, start + len};
  }
  int64_t months = monthsPerPeriod(w);
  DateTime anchor = splitMs(anchorMs);
  int64_t k = 0;
  if (nowMs > anchorMs) {
    // Period k starts in month monthIndex(anchor) + k*months, so the candidate from the month
    // difference is either right or one too far (when the clamped day or the time of day in
    // that month is still ahead of now). Period k+1 starts in a later month than now's, so it
    // is never reached.
    int64_t diff = monthIndex(splitMs(nowMs).date) - monthIndex(anchor.date);
    k = floorDiv(diff, months);
    if (k > 0 && rollingMonthStart(anchor, months, k) > nowMs) --k;
  }
  return {rollingMonthStart(anchor, months, k), rollingMonthStart(anchor, months, k + 1)};
}

Period periodAt(const WindowSpec& w, bool calendar, int64_t anchorMs, int64_t nowMs) {
  return calendar ? calendarPeriod(w, nowMs) : rollingPeriod(w, anchorMs, nowMs);
}

std::string formatUtc(int64_t ms) {
  DateTime t = splitMs(ms);
  int64_t secs = t.timeOfDayMs / 1000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(t.date.year()), static_cast<unsigned>(t.date.month()),
                static_cast<unsigned>(t.date.day()), static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

std::string formatResetDuration(int64_t ms) {
  if (ms <= 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  int64_t secs = ms / 1000 + (ms % 1000 != 0 ? 1 : 0);
  int64_t h = secs / 3600;
  int64_t m = secs / 60 % 60;
  int64_t s = secs % 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s) + "s";
  return out;
}

}  // namespace finops
