#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"
#include "common/money.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const std::vector<std::string> kGroups = {"key",   "team", "customer", "provider",
                                          "model", "day",  "hour"};

const char* kUsage =
    "finopsctl usage [--from T] [--to T] [--since 24h|7d|30d] "
    "[--by key,team,customer,provider,model,day,hour] [--key K] [--team T] [--customer C] "
    "[--provider P] [--model M]";

ordered_json rowJson(const v1::UsageRow& r, const std::vector<std::string>& by) {
  ordered_json j = ordered_json::object();
  for (const auto& b : by) {
    auto it = r.group().find(b);
    j[b] = it == r.group().end() ? ordered_json(nullptr) : ordered_json(it->second);
  }
  j["requests"] = r.requests();
  j["prompt_tokens"] = r.prompt_tokens();
  j["completion_tokens"] = r.completion_tokens();
  j["cached_tokens"] = r.cached_tokens();
  j["cost_nano"] = r.cost_nano();
  j["cost_usd"] = formatDollarsPlain(r.cost_nano());
  j["unpriced_requests"] = r.unpriced_requests();
  j["estimated_requests"] = r.estimated_requests();
  j["failed_requests"] = r.failed_requests();
  return j;
}

// Table cells: the group values (or, for the total row, "TOTAL" under the first group column)
// and the figures, cost in dollars.
ordered_json rowTable(const v1::UsageRow& r, const std::vector<std::string>& by, bool total) {
  ordered_json j = ordered_json::object();
  for (size_t i = 0; i < by.size(); ++i) {
    auto it = r.group().find(by[i]);
    if (total)
      j[by[i]] = i == 0 ? "TOTAL" : "";
    else
      j[by[i]] = it == r.group().end() ? ordered_json(nullptr) : ordered_json(it->second);
  }
  j["requests"] = r.requests();
  j["prompt_tokens"] = r.prompt_tokens();
  j["completion_tokens"] = r.completion_tokens();
  j["cached_tokens"] = r.cached_tokens();
  j["cost"] = formatDollars(r.cost_nano());
  j["unpriced_requests"] = r.unpriced_requests();
  return j;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int runUsage(const GlobalOptions& g, const std::vector<std::string>& argv) {
  Args a(argv,
         {"--from", "--to", "--since", "--by", "--key", "--team", "--customer", "--provider",
          "--model"},
         {});
  a.expectPositional(0, kUsage);
  exclusive(a, {"--since", "--from"});
  v1::UsageQuery req;
  if (a.has("--since")) {
    auto d = parseDurationMs(a.value("--since"));
    if (!d) throw CliError(kExitUsage, "--since takes a duration such as 30m, 24h, 7d or 2w");
    *req.mutable_from() = timestampFromMs(nowMs() - *d);
  }
  if (a.has("--from"))
    *req.mutable_from() = timestampFromMs(parseTimeArg(a.value("--from"), "--from"));
  if (a.has("--to")) *req.mutable_to() = timestampFromMs(parseTimeArg(a.value("--to"), "--to"));

  std::vector<std::string> by;
  for (const auto& v : a.values("--by")) {
    for (const auto& group : splitList(v)) {
      if (std::find(kGroups.begin(), kGroups.end(), group) == kGroups.end())
        throw CliError(kExitUsage,
                       "--by: unknown group '" + group +
                           "' (known: key, team, customer, provider, model, day, hour)");
      if (std::find(by.begin(), by.end(), group) == by.end()) by.push_back(group);
    }
  }
  for (const auto& b : by) req.add_group_by(b);
  req.set_key(a.value("--key"));
  req.set_team(a.value("--team"));
  req.set_customer(a.value("--customer"));
  req.set_provider(a.value("--provider"));
  req.set_model(a.value("--model"));

  Client client(g);
  v1::UsageResponse resp;
  client.check(client.stub().GetUsage(client.context().get(), req, &resp));

  if (g.output != "table") {
    ordered_json rows = ordered_json::array();
    for (const auto& r : resp.rows()) rows.push_back(rowJson(r, by));
    print(ordered_json{{"from", timestampJson(resp.from())},
                       {"to", timestampJson(resp.to())},
                       {"rows", rows},
                       {"total", rowJson(resp.total(), {})}},
          g.output, {});
    return kExitOk;
  }
  std::vector<Column> columns;
  for (const auto& b : by) columns.push_back({upper(b), b});
  for (Column c : std::vector<Column>{{"REQUESTS", "requests"},
                                      {"PROMPT", "prompt_tokens"},
                                      {"COMPLETION", "completion_tokens"},
                                      {"CACHED", "cached_tokens"},
                                      {"COST", "cost"},
                                      {"UNPRICED", "unpriced_requests"}})
    columns.push_back(c);
  ordered_json rows = ordered_json::array();
  // Without --by the total is the only row worth showing.
  if (!by.empty())
    for (const auto& r : resp.rows()) rows.push_back(rowTable(r, by, false));
  rows.push_back(rowTable(resp.total(), by, true));
  auto text = [](const google::protobuf::Timestamp& t) {
    ordered_json j = timestampJson(t);
    return j.is_null() ? std::string("-") : j.get<std::string>();
  };
  std::cout << "usage from " << text(resp.from()) << " to " << text(resp.to()) << "\n";
  print(rows, g.output, columns);
  return kExitOk;
}

}  // namespace finops::cli
