// US-dollar amounts as integer nano-dollars (1 USD = 1'000'000'000 nano), the unit of budgets,
// prices and costs everywhere in FinOps. Integers keep sums exact: "0.1 + 0.2" dollars must add
// up to exactly 0.3 however many requests are charged.
//
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace finops {

inline constexpr int64_t kNanoPerDollar = 1'000'000'000;

// Parses a plain decimal dollar amount exactly: digits, optionally a '.' and 1 to 9 more digits,
// optionally preceded by '$' ("5", "5.00", "$5", "0.000000001"). Refused (nullopt): signs,
// exponents ("1e-3"), spaces, thousands separators, a bare or trailing '.' (".5", "5."), more
// than 9 decimals, and amounts above INT64_MAX nano-dollars (about $9.2 billion).
std::optional<int64_t> parseDollars(std::string_view text);

// "$5.00", "$0.0015", "$1234.50", "-$0.50": at least 2 decimals, more only as needed (up to 9,
// so the value is exact); no thousands separators.
std::string formatDollars(int64_t nano);

// formatDollars without the "$" ("5.00", "-0.50"), for machine-readable output where the amount
// is a decimal string.
std::string formatDollarsPlain(int64_t nano);

}  // namespace finops
