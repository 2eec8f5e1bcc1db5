#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const std::vector<Column> kColumns = {
    {"ID", "id"},     {"NAME", "name"},     {"CUSTOMER", "customer"},
    {"KEYS", "keys"}, {"LIMITS", "limits"}, {"CREATED", "created_at"}};

ordered_json toJson(const v1::TeamInfo& t) {
  return {{"id", t.id()},
          {"name", t.name()},
          {"customer", nullable(t.customer())},
          {"keys", t.keys()},
          {"limits", limitsJson(t.limits())},
          {"created_at", timestampJson(t.created_at())}};
}

ordered_json toRow(const v1::TeamInfo& t) {
  ordered_json r = toJson(t);
  r["limits"] = limitSummary(t.limits());
  return r;
}

void printTeam(const GlobalOptions& g, const v1::TeamInfo& t) {
  printAs(g, toJson(t), toRow(t), kColumns);
  if (g.output == "table") printOwnedLimits(t.limits());
}

}  // namespace

int runTeams(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty())
    throw CliError(kExitUsage, "usage: finopsctl teams create|list|get|update|delete ...");
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Client client(g);
  auto ctx = client.context();
  if (cmd == "create") {
    Args a(rest, {"--customer"}, {});
    a.expectPositional(1, "finopsctl teams create NAME [--customer C]");
    v1::CreateTeamRequest req;
    req.set_name(a.positional()[0]);
    req.set_customer(a.value("--customer"));
    v1::TeamInfo resp;
    client.check(client.stub().CreateTeam(ctx.get(), req, &resp));
    printTeam(g, resp);
    return kExitOk;
  }
  if (cmd == "list" || cmd == "ls") {
    Args a(rest, {"--customer"}, {});
    a.expectPositional(0, "finopsctl teams list [--customer C]");
    v1::ListTeamsRequest req;
    req.set_customer(a.value("--customer"));
    v1::ListTeamsResponse resp;
    client.check(client.stub().ListTeams(ctx.get(), req, &resp));
    ordered_json data = ordered_json::array(), rows = ordered_json::array();
    for (const auto& t : resp.teams()) {
      data.push_back(toJson(t));
      rows.push_back(toRow(t));
    }
    printAs(g, data, rows, kColumns);
    return kExitOk;
  }
  if (cmd == "update") {
    Args a(rest, {"--name", "--customer"}, {"--no-customer"});
    a.expectPositional(1,
                       "finopsctl teams update NAME [--name NEW] [--customer C | --no-customer]");
    exclusive(a, {"--customer", "--no-customer"});
    v1::UpdateTeamRequest req;
    req.set_id(a.positional()[0]);
    if (a.has("--name")) {
      if (a.value("--name").empty()) throw CliError(kExitUsage, "--name must not be empty");
      req.set_name(a.value("--name"));
    }
    if (a.has("--customer") || a.has("--no-customer")) req.set_customer(a.value("--customer"));
    if (!req.has_name() && !req.has_customer())
      throw CliError(kExitUsage, "teams update: give --name, --customer or --no-customer");
    v1::TeamInfo resp;
    client.check(client.stub().UpdateTeam(ctx.get(), req, &resp));
    printTeam(g, resp);
    return kExitOk;
  }
  if (cmd == "get" || cmd == "delete" || cmd == "rm") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl teams " + cmd + " NAME");
    v1::KeyId req;
    req.set_id(a.positional()[0]);
    v1::TeamInfo resp;
    client.check(cmd == "get" ? client.stub().GetTeam(ctx.get(), req, &resp)
                              : client.stub().DeleteTeam(ctx.get(), req, &resp));
    printTeam(g, resp);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'teams " + cmd + "'");
}

}  // namespace finops::cli
