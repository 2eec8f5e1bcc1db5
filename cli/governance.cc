#include "cli/governance.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "common/money.h"

namespace finops::cli {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

v1::LimitKind toProtoKind(LimitType t) {
  switch (t) {
    case LimitType::kBudget:
      return v1::LIMIT_KIND_BUDGET;
    case LimitType::kRequests:
      return v1::LIMIT_KIND_REQUESTS;
    case LimitType::kTokens:
      return v1::LIMIT_KIND_TOKENS;
    case LimitType::kConcurrency:
      return v1::LIMIT_KIND_CONCURRENCY;
  }
  return v1::LIMIT_KIND_UNSPECIFIED;
}

std::string kindName(v1::LimitKind k) {
  switch (k) {
    case v1::LIMIT_KIND_BUDGET:
      return "budget";
    case v1::LIMIT_KIND_REQUESTS:
      return "requests";
    case v1::LIMIT_KIND_TOKENS:
      return "tokens";
    case v1::LIMIT_KIND_CONCURRENCY:
      return "concurrency";
    default:
      return "unspecified";
  }
}

namespace {

bool isBudget(const v1::LimitInfo& l) { return l.kind() == v1::LIMIT_KIND_BUDGET; }
bool hasWindow(const v1::LimitInfo& l) { return l.kind() != v1::LIMIT_KIND_CONCURRENCY; }

// What is left in the current window; never negative (data planes may overshoot a little).
int64_t remaining(const v1::LimitInfo& l) { return std::max<int64_t>(0, l.amount() - l.used()); }

std::string amountText(const v1::LimitInfo& l, int64_t v) {
  return isBudget(l) ? formatDollars(v) : std::to_string(v);
}

}  // namespace

ordered_json limitJson(const v1::LimitInfo& l) {
  ordered_json j = {{"id", l.id()},
                    {"name", l.name()},
                    {"kind", kindName(l.kind())},
                    {"owner_kind", l.owner_kind()},
                    {"owner", l.owner()},
                    {"owner_id", l.owner_id()},
                    {"provider", nullable(l.provider())}};
  if (isBudget(l)) {
    j["amount_nano"] = l.amount();
    j["amount_usd"] = formatDollarsPlain(l.amount());
  } else {
    j["amount"] = l.amount();
  }
  j["window"] = hasWindow(l) ? ordered_json(l.window()) : ordered_json(nullptr);
  j["calendar"] = hasWindow(l) ? ordered_json(l.calendar()) : ordered_json(nullptr);
  if (isBudget(l)) {
    j["used_nano"] = l.used();
    j["used_usd"] = formatDollarsPlain(l.used());
    j["remaining_nano"] = remaining(l);
    j["remaining_usd"] = formatDollarsPlain(remaining(l));
  } else {
    j["used"] = l.used();
    j["remaining"] = remaining(l);
  }
  j["window_start"] = timestampJson(l.window_start());
  j["resets_at"] = timestampJson(l.resets_at());
  j["created_at"] = timestampJson(l.created_at());
  return j;
}

ordered_json limitsJson(const LimitInfos& limits) {
  ordered_json arr = ordered_json::array();
  for (const auto& l : limits) arr.push_back(limitJson(l));
  return arr;
}

ordered_json limitRow(const v1::LimitInfo& l) {
  return {
      {"id", l.id()},
      {"name", l.name()},
      {"kind", kindName(l.kind())},
      {"owner", l.owner_kind() + " " + l.owner()},
      {"provider", nullable(l.provider())},
      {"limit", amountText(l, l.amount())},
      {"window", hasWindow(l) ? ordered_json(l.window() + (l.calendar() ? " calendar" : " rolling"))
                              : ordered_json(nullptr)},
      {"used", amountText(l, l.used())},
      {"remaining", amountText(l, remaining(l))},
      {"resets", hasWindow(l) ? timestampJson(l.resets_at()) : ordered_json(nullptr)}};
}

const std::vector<Column> kBudgetColumns = {
    {"ID", "id"},        {"NAME", "name"},     {"OWNER", "owner"}, {"PROVIDER", "provider"},
    {"LIMIT", "limit"},  {"WINDOW", "window"}, {"USED", "used"},   {"REMAINING", "remaining"},
    {"RESETS", "resets"}};
const std::vector<Column> kRateLimitColumns = {{"ID", "id"},
                                               {"NAME", "name"},
                                               {"OWNER", "owner"},
                                               {"PROVIDER", "provider"},
                                               {"KIND", "kind"},
                                               {"LIMIT", "limit"},
                                               {"WINDOW", "window"},
                                               {"USED", "used"},
                                               {"REMAINING", "remaining"},
                                               {"RESETS", "resets"}};
const std::vector<Column> kOwnedLimitColumns = {
    {"LIMIT ID", "id"},       {"NAME", "name"},           {"KIND", "kind"},
    {"PROVIDER", "provider"}, {"LIMIT", "limit"},         {"WINDOW", "window"},
    {"USED", "used"},         {"REMAINING", "remaining"}, {"RESETS", "resets"}};

std::string limitSummary(const LimitInfos& limits) {
  std::string out;
  for (const auto& l : limits) {
    std::string s = l.provider().empty() ? "" : l.provider() + ": ";
    switch (l.kind()) {
      case v1::LIMIT_KIND_BUDGET:
        s += formatDollars(l.amount()) + "/" + l.window();
        break;
      case v1::LIMIT_KIND_CONCURRENCY:
        s += std::to_string(l.amount()) + " concurrent";
        break;
      default:
        s += std::to_string(l.amount()) + " " + kindName(l.kind()) + "/" + l.window();
    }
    out += (out.empty() ? "" : ", ") + s;
  }
  return out.empty() ? "-" : out;
}

void printOwnedLimits(const LimitInfos& limits) {
  if (limits.empty()) return;
  ordered_json rows = ordered_json::array();
  for (const auto& l : limits) rows.push_back(limitRow(l));
  std::cout << "\n";
  print(rows, "table", kOwnedLimitColumns);
}

v1::CreateLimitRequest createLimitRequest(const std::string& ownerKind, const std::string& owner,
                                          const LimitSpec& s) {
  v1::CreateLimitRequest req;
  req.set_owner_kind(ownerKind);
  req.set_owner(owner);
  req.set_provider(s.provider);
  // Always send the name: `apply` matches limits by it, so it must not depend on a server default.
  req.set_name(s.effectiveName());
  req.set_kind(toProtoKind(s.type));
  req.set_amount(s.amount);
  req.set_window(s.window);
  req.set_calendar(s.type != LimitType::kConcurrency && s.calendar);
  return req;
}

Owner ownerFromFlags(const Args& a, bool required) {
  exclusive(a, {"--key", "--team", "--customer"});
  for (const char* kind : {"key", "team", "customer"}) {
    std::string flag = std::string("--") + kind;
    if (!a.has(flag)) continue;
    if (a.value(flag).empty()) throw CliError(kExitUsage, flag + " needs a name or id");
    return {kind, a.value(flag)};
  }
  if (required) throw CliError(kExitUsage, "give the owner: --key K, --team T or --customer C");
  return {};
}

void exclusive(const Args& a, const std::vector<std::string>& flags) {
  std::string given;
  for (const auto& f : flags) {
    if (!a.has(f)) continue;
    if (!given.empty()) throw CliError(kExitUsage, given + " and " + f + " exclude each other");
    given = f;
  }
}

google::protobuf::Timestamp timestampFromMs(int64_t ms) {
  google::protobuf::Timestamp t;
  // Floor division, so times before 1970 keep nanos in [0, 1e9).
  int64_t secs = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
  t.set_seconds(secs);
  t.set_nanos(static_cast<int32_t>((ms - secs * 1000) * 1'000'000));
  return t;
}

int64_t timestampMs(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

// Declared in cli/commands.h; defined here, in the library, so that everything linking
// finops_cli_lib (the unit tests too) finds it.
ordered_json timestampJson(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return nullptr;
  return google::protobuf::util::TimeUtil::ToString(t);
}

int64_t nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

ordered_json nullable(const std::string& s) {
  return s.empty() ? ordered_json(nullptr) : ordered_json(s);
}

ordered_json stringArray(const google::protobuf::RepeatedPtrField<std::string>& v) {
  ordered_json arr = ordered_json::array();
  for (const auto& s : v) arr.push_back(s);
  return arr;
}

void printAs(const GlobalOptions& g, const ordered_json& data, const ordered_json& rows,
             const std::vector<Column>& columns) {
  if (g.output == "table")
    print(rows, "table", columns);
  else
    print(data, g.output, {});
}

}  // namespace finops::cli
