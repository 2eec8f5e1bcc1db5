#include "common/money.h"

#include <limits>

namespace finops {

std::optional<int64_t> parseDollars(std::string_view text) {
  if (!text.empty() && text.front() == '$') text.remove_prefix(1);
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && frac.empty()) || frac.size() > 9)
    return std::nullopt;
  auto allDigits = [](std::string_view s) {
    for (char c : s)
      if (c < '0' || c > '9') return false;
    return true;
  };
  if (!allDigits(whole) || !allDigits(frac)) return std::nullopt;

  // Accumulate in unsigned 64 bits with explicit bounds, so overflow is detected, never wrapped.
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t dollars = 0;
  for (char c : whole) {
    if (dollars > (kMax / kNanoPerDollar)) return std::nullopt;  // keeps dollars * 10 small
    dollars = dollars * 10 + static_cast<uint64_t>(c - '0');
  }
  if (dollars > kMax / kNanoPerDollar) return std::nullopt;
  uint64_t nano = 0;
  for (size_t i = 0; i < 9; ++i) nano = nano * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  uint64_t total = dollars * kNanoPerDollar;
  if (total > kMax - nano) return std::nullopt;
  return static_cast<int64_t>(total + nano);
}

std::string formatDollarsPlain(int64_t nano) {
  bool negative = nano < 0;
  // Negate in unsigned arithmetic: -INT64_MIN does not fit in int64_t.
  uint64_t abs = negative ? 0 - static_cast<uint64_t>(nano) : static_cast<uint64_t>(nano);
  std::string frac = std::to_string(abs % kNanoPerDollar);
  frac.insert(0, 9 - frac.size(), '0');
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return (negative ? "-" : "") + std::to_string(abs / kNanoPerDollar) + "." + frac;
}

std::string formatDollars(int64_t nano) {
  std::string plain = formatDollarsPlain(nano);
  return plain.front() == '-' ? "-$" + plain.substr(1) : "$" + plain;
}

}  // namespace finops
