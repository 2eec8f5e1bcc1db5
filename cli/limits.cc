// `budgets` (LimitKind BUDGET, in dollars) and `ratelimits` (REQUESTS, TOKENS, CONCURRENCY):
// two views of the admin API's limits, which keep each group to its own kinds.
#include <optional>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const std::vector<Column>& columns(bool budgets) {
  return budgets ? kBudgetColumns : kRateLimitColumns;
}

void printLimit(const GlobalOptions& g, const v1::LimitInfo& l, bool budgets) {
  printAs(g, limitJson(l), limitRow(l), columns(budgets));
}

// Reads a limit and checks it belongs to this group, so that `budgets delete` never removes a
// rate limit (or `budgets update --amount 5` turns 5 requests into 5 dollars).
v1::LimitInfo getLimit(Client& client, const std::string& id, bool budgets) {
  v1::LimitId req;
  req.set_id(id);
  v1::LimitInfo l;
  client.check(client.stub().GetLimit(client.context().get(), req, &l));
  bool isBudget = l.kind() == v1::LIMIT_KIND_BUDGET;
  if (isBudget != budgets)
    throw CliError(kExitNotFound,
                   id + " is " + (isBudget ? "a budget" : "a " + kindName(l.kind()) + " limit") +
                       ", not a " + (budgets ? "budget" : "rate limit") + ": use finopsctl " +
                       (isBudget ? "budgets" : "ratelimits"));
  return l;
}

// --calendar | --rolling; nullopt when neither is given.
std::optional<bool> calendarFlag(const Args& a) {
  exclusive(a, {"--calendar", "--rolling"});
  if (a.has("--calendar")) return true;
  if (a.has("--rolling")) return false;
  return std::nullopt;
}

LimitSpec budgetFromFlags(const Args& a) {
  if (!a.has("--amount") || !a.has("--window"))
    throw CliError(kExitUsage, "budgets create needs --amount DOLLARS and --window W");
  LimitSpec s;
  s.type = LimitType::kBudget;
  s.amount = parseDollarsArg(a.value("--amount"), "--amount");
  s.window = parseWindowArg(a.value("--window"), "--window");
  s.calendar = calendarFlag(a).value_or(true);
  return s;
}

LimitSpec rateLimitFromFlags(const Args& a) {
  exclusive(a, {"--requests", "--tokens", "--concurrency"});
  LimitSpec s;
  if (a.has("--requests"))
    s.type = LimitType::kRequests;
  else if (a.has("--tokens"))
    s.type = LimitType::kTokens;
  else if (a.has("--concurrency"))
    s.type = LimitType::kConcurrency;
  else
    throw CliError(kExitUsage,
                   "ratelimits create needs --requests N, --tokens N or --concurrency N");
  std::string flag = std::string("--") + limitTypeName(s.type);
  s.amount = parseCountArg(a.value(flag), flag);
  std::optional<bool> calendar = calendarFlag(a);
  if (s.type == LimitType::kConcurrency) {
    if (s.amount < 1) throw CliError(kExitUsage, "--concurrency must be at least 1");
    // Requests in flight have no window to reset.
    if (a.has("--window") || calendar)
      throw CliError(kExitUsage, "--concurrency takes no --window, --calendar or --rolling");
    return s;
  }
  s.window = parseWindowArg(a.value("--window", "1m"), "--window");
  s.calendar = calendar.value_or(true);
  return s;
}

int create(const GlobalOptions& g, Client& client, const std::vector<std::string>& rest,
           bool budgets) {
  Args a(rest,
         budgets ? std::set<std::string>{"--key", "--team", "--customer", "--amount", "--window",
                                         "--provider", "--name"}
                 : std::set<std::string>{"--key", "--team", "--customer", "--requests", "--tokens",
                                         "--concurrency", "--window", "--provider", "--name"},
         {"--calendar", "--rolling"});
  a.expectPositional(0, budgets ? "finopsctl budgets create --key K|--team T|--customer C "
                                  "--amount DOLLARS --window W [flags]"
                                : "finopsctl ratelimits create --key K|--team T|--customer C "
                                  "--requests N|--tokens N|--concurrency N [--window W] [flags]");
  Owner owner = ownerFromFlags(a, true);
  LimitSpec s = budgets ? budgetFromFlags(a) : rateLimitFromFlags(a);
  s.provider = a.value("--provider");
  s.name = a.value("--name");
  if (!s.provider.empty() && owner.kind != "key")
    throw CliError(kExitUsage, "--provider applies to a key's limits only (use --key)");
  v1::LimitInfo resp;
  client.check(client.stub().CreateLimit(client.context().get(),
                                         createLimitRequest(owner.kind, owner.name, s), &resp));
  printLimit(g, resp, budgets);
  return kExitOk;
}

int update(const GlobalOptions& g, Client& client, const std::vector<std::string>& rest,
           bool budgets) {
  Args a(rest, {"--amount", "--window"}, {"--calendar", "--rolling"});
  a.expectPositional(1, std::string("finopsctl ") + (budgets ? "budgets" : "ratelimits") +
                            " update ID [--amount A] [--window W] [--calendar | --rolling]");
  std::optional<bool> calendar = calendarFlag(a);
  if (!a.has("--amount") && !a.has("--window") && !calendar)
    throw CliError(kExitUsage,
                   "nothing to change: give --amount, --window, --calendar or --rolling");
  v1::LimitInfo current = getLimit(client, a.positional()[0], budgets);
  v1::UpdateLimitRequest req;
  req.set_id(current.id());
  if (a.has("--amount"))
    req.set_amount(budgets ? parseDollarsArg(a.value("--amount"), "--amount")
                           : parseCountArg(a.value("--amount"), "--amount"));
  if (current.kind() == v1::LIMIT_KIND_CONCURRENCY && (a.has("--window") || calendar))
    throw CliError(kExitUsage, "a concurrency limit has no window");
  if (a.has("--window")) req.set_window(parseWindowArg(a.value("--window"), "--window"));
  if (calendar) req.set_calendar(*calendar);
  v1::LimitInfo resp;
  client.check(client.stub().UpdateLimit(client.context().get(), req, &resp));
  printLimit(g, resp, budgets);
  return kExitOk;
}

int runLimitGroup(const GlobalOptions& g, const std::vector<std::string>& argv, bool budgets) {
  std::string group = budgets ? "budgets" : "ratelimits";
  if (argv.empty())
    throw CliError(kExitUsage, "usage: finopsctl " + group + " create|list|get|update|delete ...");
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Client client(g);
  if (cmd == "create") return create(g, client, rest, budgets);
  if (cmd == "update") return update(g, client, rest, budgets);
  if (cmd == "list" || cmd == "ls") {
    Args a(rest, {"--key", "--team", "--customer"}, {});
    a.expectPositional(0, "finopsctl " + group + " list [--key K | --team T | --customer C]");
    Owner owner = ownerFromFlags(a, false);
    v1::ListLimitsRequest req;
    req.set_owner_kind(owner.kind);
    req.set_owner(owner.name);
    if (budgets) {
      req.add_kinds(v1::LIMIT_KIND_BUDGET);
    } else {
      req.add_kinds(v1::LIMIT_KIND_REQUESTS);
      req.add_kinds(v1::LIMIT_KIND_TOKENS);
      req.add_kinds(v1::LIMIT_KIND_CONCURRENCY);
    }
    v1::ListLimitsResponse resp;
    client.check(client.stub().ListLimits(client.context().get(), req, &resp));
    ordered_json data = ordered_json::array(), rows = ordered_json::array();
    for (const auto& l : resp.limits()) {
      data.push_back(limitJson(l));
      rows.push_back(limitRow(l));
    }
    printAs(g, data, rows, columns(budgets));
    return kExitOk;
  }
  if (cmd == "get" || cmd == "delete" || cmd == "rm") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl " + group + " " + cmd + " ID");
    v1::LimitInfo current = getLimit(client, a.positional()[0], budgets);
    if (cmd == "get") {
      printLimit(g, current, budgets);
      return kExitOk;
    }
    v1::LimitId req;
    req.set_id(current.id());
    v1::LimitInfo resp;
    client.check(client.stub().DeleteLimit(client.context().get(), req, &resp));
    printLimit(g, resp, budgets);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command '" + group + " " + cmd + "'");
}

}  // namespace

int runBudgets(const GlobalOptions& g, const std::vector<std::string>& argv) {
  return runLimitGroup(g, argv, true);
}

int runRateLimits(const GlobalOptions& g, const std::vector<std::string>& argv) {
  return runLimitGroup(g, argv, false);
}

}  // namespace finops::cli
