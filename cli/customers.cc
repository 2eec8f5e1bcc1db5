#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const std::vector<Column> kColumns = {{"ID", "id"},         {"NAME", "name"},
                                      {"TEAMS", "teams"},   {"KEYS", "keys"},
                                      {"LIMITS", "limits"}, {"CREATED", "created_at"}};

ordered_json toJson(const v1::CustomerInfo& c) {
  return {{"id", c.id()},
          {"name", c.name()},
          {"teams", c.teams()},
          {"keys", c.keys()},
          {"limits", limitsJson(c.limits())},
          {"created_at", timestampJson(c.created_at())}};
}

ordered_json toRow(const v1::CustomerInfo& c) {
  ordered_json r = toJson(c);
  r["limits"] = limitSummary(c.limits());
  return r;
}

void printCustomer(const GlobalOptions& g, const v1::CustomerInfo& c) {
  printAs(g, toJson(c), toRow(c), kColumns);
  if (g.output == "table") printOwnedLimits(c.limits());
}

}  // namespace

int runCustomers(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty())
    throw CliError(kExitUsage, "usage: finopsctl customers create|list|get|update|delete ...");
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Client client(g);
  auto ctx = client.context();
  if (cmd == "create") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl customers create NAME");
    v1::CreateCustomerRequest req;
    req.set_name(a.positional()[0]);
    v1::CustomerInfo resp;
    client.check(client.stub().CreateCustomer(ctx.get(), req, &resp));
    printCustomer(g, resp);
    return kExitOk;
  }
  if (cmd == "list" || cmd == "ls") {
    Args a(rest, {}, {});
    a.expectPositional(0, "finopsctl customers list");
    v1::ListCustomersResponse resp;
    client.check(client.stub().ListCustomers(ctx.get(), {}, &resp));
    ordered_json data = ordered_json::array(), rows = ordered_json::array();
    for (const auto& c : resp.customers()) {
      data.push_back(toJson(c));
      rows.push_back(toRow(c));
    }
    printAs(g, data, rows, kColumns);
    return kExitOk;
  }
  if (cmd == "update") {
    Args a(rest, {"--name"}, {});
    a.expectPositional(1, "finopsctl customers update NAME --name NEW");
    if (a.value("--name").empty()) throw CliError(kExitUsage, "customers update needs --name NEW");
    v1::UpdateCustomerRequest req;
    req.set_id(a.positional()[0]);
    req.set_name(a.value("--name"));
    v1::CustomerInfo resp;
    client.check(client.stub().UpdateCustomer(ctx.get(), req, &resp));
    printCustomer(g, resp);
    return kExitOk;
  }
  if (cmd == "get" || cmd == "delete" || cmd == "rm") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl customers " + cmd + " NAME");
    v1::KeyId req;
    req.set_id(a.positional()[0]);
    v1::CustomerInfo resp;
    client.check(cmd == "get" ? client.stub().GetCustomer(ctx.get(), req, &resp)
                              : client.stub().DeleteCustomer(ctx.get(), req, &resp));
    printCustomer(g, resp);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'customers " + cmd + "'");
}

}  // namespace finops::cli
