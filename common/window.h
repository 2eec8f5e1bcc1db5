// Window arithmetic for budgets and rate limits: parsing window specs such as "30d" or "1M",
// finding the period (calendar-aligned or rolling from an anchor) that contains a given instant,
// and formatting reset times for error messages and x-ratelimit-reset-* headers.
//
// Pure functions with no global state and no clock access: every time is passed in as
// milliseconds since the Unix epoch (int64_t, UTC). All date math is done in UTC with the C++20
// <chrono> calendar types. Times before 1970 are supported (floor division throughout); times
// must lie within the range of std::chrono::year (years -32767..32767), results for periods
// reaching outside it are unspecified. All functions are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace finops {

enum class WindowUnit { kMinute, kHour, kDay, kWeek, kMonth, kQuarter, kYear };

struct WindowSpec {
  int count = 1;  // 1..1000; the period functions clamp values outside that range
  WindowUnit unit = WindowUnit::kDay;
  bool operator==(const WindowSpec&) const = default;
};

// Parses "<N><unit>" where unit is one of m (minute), h (hour), d (day), w (week), M (month,
// capital), Q (quarter) or Y (year), case-sensitive, and N is 1..1000 written without sign,
// spaces or leading zeros. "1m", "5m", "1h", "1d", "30d", "1w", "1M", "1Q", "1Y" are accepted;
// "0d", "1x", "d", "1mo", "01d", "+1d" are not. On failure returns nullopt and, if `error` is
// non-null, sets it to a message naming the accepted forms.
std::optional<WindowSpec> parseWindow(std::string_view text, std::string* error = nullptr);

// The inverse of parseWindow: formatWindow(*parseWindow(s)) == s for every accepted s.
std::string formatWindow(const WindowSpec& w);

// A half-open time interval [startMs, endMs) in milliseconds since the Unix epoch.
struct Period {
  int64_t startMs = 0;
  int64_t endMs = 0;
  bool operator==(const Period&) const = default;
};

// The calendar-aligned period (in UTC) that contains `nowMs`. An instant exactly on a boundary
// belongs to the period that starts there.
//   m, h: blocks of N units counted from the Unix epoch (5m -> :00, :05, :10, ...).
//   d:    N-day blocks counted from 1970-01-01 (1d = midnight UTC to midnight UTC).
//   w:    weeks start Monday 00:00 UTC; N-week blocks counted from Monday 1970-01-05.
//   M:    months start on the 1st 00:00 UTC; N-month blocks counted from January 1970
//         (1M = the calendar month; 3M is the same as 1Q).
//   Q:    quarters start Jan 1, Apr 1, Jul 1, Oct 1 (N-quarter blocks from January 1970).
//   Y:    years start Jan 1 (N-year blocks counted from 1970).
Period calendarPeriod(const WindowSpec& w, int64_t nowMs);

// The rolling period anchored at `anchorMs` (e.g. the budget's creation time) that contains
// `nowMs`. Period k (k >= 0) starts at:
//   m, h, d, w: anchor + k * W, where W is the window's fixed length;
//   M, Q, Y:    the anchor's date plus k*N months (Q = 3 months, Y = 12 months), at the anchor's
//               time of day, with the day of month clamped to the target month's length. Each
//               start is computed from the anchor (never cumulatively), so an anchor of Jan 31
//               with 1M gives Feb 28 (Feb 29 in leap years), Mar 31, Apr 30, May 31, ...
// Period k ends where period k+1 starts. If nowMs < anchorMs, returns the first period (k = 0).
// Runs in constant time regardless of how far `nowMs` is from the anchor.
Period rollingPeriod(const WindowSpec& w, int64_t anchorMs, int64_t nowMs);

// calendar ? calendarPeriod(w, nowMs) : rollingPeriod(w, anchorMs, nowMs).
Period periodAt(const WindowSpec& w, bool calendar, int64_t anchorMs, int64_t nowMs);

// RFC 3339 UTC with whole seconds, e.g. "2026-11-22T00:00:00Z" (for messages such as
// "resets at ..."). Sub-second parts are dropped (rounded toward the past).
std::string formatUtc(int64_t ms);

// An OpenAI-style duration for x-ratelimit-reset-* headers (the format of Go's
// time.Duration.String): "20ms" below one second, otherwise "1s", "59s", "6m0s", "1h2m3s" (hours
// are not split into days, e.g. "48h0m0s"). Durations of one second or more are rounded up to a
// whole second so a client never retries before the reset; zero or negative gives "0s".
std::string formatResetDuration(int64_t ms);

}  // namespace finops
