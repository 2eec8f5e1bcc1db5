// Helpers shared by the governance commands (customers, teams, keys, budgets, ratelimits,
// prices, usage, apply): limits to and from the admin API, owner flags, times, and the
// "table for people, JSON/YAML for scripts" split when the two show different fields.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/timestamp.pb.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "cli/spec.h"
#include "finops/v1/admin.pb.h"

namespace finops::cli {

using LimitInfos = google::protobuf::RepeatedPtrField<finops::v1::LimitInfo>;

finops::v1::LimitKind toProtoKind(LimitType t);
// "budget", "requests", "tokens", "concurrency" ("unspecified" otherwise).
std::string kindName(finops::v1::LimitKind k);

// A limit as documented in docs/cli.md: budgets carry amounts both as nano-dollar integers
// (`amount_nano`, `used_nano`, `remaining_nano`) and as dollar strings (`amount_usd`, ...); the
// other kinds carry plain counts (`amount`, `used`, `remaining`).
nlohmann::ordered_json limitJson(const finops::v1::LimitInfo& l);
nlohmann::ordered_json limitsJson(const LimitInfos& limits);

// A limit's table row, with display strings: id, name, kind, owner ("key ci-bot"), provider,
// limit ("$5.00" or "600"), window ("1d calendar", "1h rolling"), used, remaining, resets.
nlohmann::ordered_json limitRow(const finops::v1::LimitInfo& l);
// Columns over limitRow: budgets, rate limits (with KIND), and limits listed under their owner.
extern const std::vector<Column> kBudgetColumns;
extern const std::vector<Column> kRateLimitColumns;
extern const std::vector<Column> kOwnedLimitColumns;

// One-line summary for an owner's table row: "$5.00/1d, 600 requests/1m, openai: $2.00/1d".
std::string limitSummary(const LimitInfos& limits);
// In table mode, prints `limits` as a second table under an owner's row (nothing if empty).
void printOwnedLimits(const LimitInfos& limits);

// The request creating `s` on an owner ("customer", "team" or "key"; name or id).
finops::v1::CreateLimitRequest createLimitRequest(const std::string& ownerKind,
                                                  const std::string& owner, const LimitSpec& s);

// --key K | --team T | --customer C. At most one may be given; with `required`, exactly one.
// `kind` is empty when none was given.
struct Owner {
  std::string kind;  // "key", "team", "customer"
  std::string name;  // name or id
};
Owner ownerFromFlags(const Args& a, bool required);

// Usage error unless at most one of `flags` was given.
void exclusive(const Args& a, const std::vector<std::string>& flags);

google::protobuf::Timestamp timestampFromMs(int64_t ms);
int64_t timestampMs(const google::protobuf::Timestamp& t);
int64_t nowMs();

// The string, or null when empty (JSON output shows "none" as null, tables as "-").
nlohmann::ordered_json nullable(const std::string& s);
nlohmann::ordered_json stringArray(const google::protobuf::RepeatedPtrField<std::string>& v);

// -o table prints `rows` with `columns`; json and yaml print `data`.
void printAs(const GlobalOptions& g, const nlohmann::ordered_json& data,
             const nlohmann::ordered_json& rows, const std::vector<Column>& columns);

}  // namespace finops::cli
