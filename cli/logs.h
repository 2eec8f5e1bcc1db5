// `finopsctl logs`: the request logs the control plane stores (docs/cli.md#logs).
//
// The pieces that need no control plane (argument parsing, the JSON shape, table cells, the
// `logs show` text) are declared here so they are unit tested on their own. Every function is
// pure except where it says it reads the local time zone; all are thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "finops/v1/admin.pb.h"

namespace finops::cli {

extern const char* const kLogsUsage;
extern const char* const kLogsShowUsage;

// What `finopsctl logs [flags]` asks for.
struct LogsListOptions {
  finops::v1::LogQuery query;  // filters, limit and cursor as given (after_id unset)
  bool follow = false;         // --follow / -f
};

// Parses the arguments after "logs". `nowMs` is the time "--since 15m" counts back from.
// Throws CliError(kExitUsage) with the usage text on an unknown flag, a missing value, a
// positional argument, a bad time or limit, --since after --until, or --follow with --cursor
// or --until.
LogsListOptions parseLogsArgs(const std::vector<std::string>& argv, int64_t nowMs);

// A --since / --until value as milliseconds since the epoch: a duration ago ("15m", "2h",
// "7d", "2w"), an RFC 3339 time or a bare date, or unix milliseconds (digits only).
// Throws CliError(kExitUsage) naming `flag` otherwise.
int64_t parseLogTime(const std::string& text, const std::string& flag, int64_t nowMs);

// One entry as JSON, the same object as the data plane's /logs API: id, then every LogRecord
// field by its proto name (strings "" when empty, int64 as numbers), plus cost_usd (a number).
// With `content`, request_content and response_content follow.
nlohmann::ordered_json logEntryJson(const finops::v1::LogEntry& e, bool content);

// The table: TIME, REQUEST ID, STATUS, PROVIDER, MODEL, KEY, LATENCY, TTFT, TOKENS, COST and,
// with `withError`, ERROR.
std::vector<std::string> logTableHeader(bool withError);
std::vector<std::string> logTableCells(const finops::v1::LogEntry& e, bool withError);

// "812ms", "2.3ms" (one decimal under 10 ms), "12.4s" (from 10 s on); "-" for 0 or less.
std::string formatMicros(int64_t us);
// Dollars rounded to 6 decimals, trailing zeros trimmed to at least 2: "$0.0117", "$0.00",
// "$1.50"; "<$0.000001" for a positive cost that rounds to zero.
std::string formatLogCost(int64_t nano);
// RFC 3339 in the local time zone ("2026-11-22T11:00:00+01:00", "...Z" when it is UTC), with
// milliseconds when `millis`. Reads the local time zone (TZ).
std::string localTime(int64_t ms, bool millis);

// `logs show` in table mode: "name: value" lines, then "--- request ---" and
// "--- response ---" blocks with the content (or "(content not logged)"). Ends with a newline.
std::string logDetailText(const finops::v1::LogEntry& e);

}  // namespace finops::cli
