// finopsctl tokens: admin tokens with scopes (admin, keys:write, read).
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const char* kUsage =
    "usage: finopsctl tokens create --name NAME --scope admin|keys:write|read | list [--all] | "
    "revoke ID|NAME";

const std::vector<Column> kColumns = {{"ID", "id"},
                                      {"NAME", "name"},
                                      {"SCOPE", "scope"},
                                      {"CREATED", "created_at"},
                                      {"LAST USED", "last_used_at"},
                                      {"REVOKED", "revoked_at"},
                                      {"CREATED BY", "created_by"}};

ordered_json adminTokenJson(const v1::AdminTokenInfo& t) {
  return {{"id", t.id()},
          {"name", t.name()},
          {"scope", t.scope()},
          {"created_at", timestampJson(t.created_at())},
          {"last_used_at", timestampJson(t.last_used_at())},
          {"revoked_at", timestampJson(t.revoked_at())},
          {"created_by", nullable(t.created_by())}};
}

}  // namespace

int runTokens(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty()) throw CliError(kExitUsage, kUsage);
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (cmd == "create") {
    Args a(rest, {"--name", "--scope"}, {});
    a.expectPositional(0, "finopsctl tokens create --name NAME --scope admin|keys:write|read");
    if (a.value("--name").empty()) throw CliError(kExitUsage, "tokens create needs --name");
    std::string scope = a.value("--scope");
    if (scope != "admin" && scope != "keys:write" && scope != "read")
      throw CliError(kExitUsage, "tokens create needs --scope admin, keys:write or read");
    v1::CreateAdminTokenRequest req;
    req.set_name(a.value("--name"));
    req.set_scope(scope);
    Client client(g);
    v1::CreateAdminTokenResponse resp;
    client.check(client.stub().CreateAdminToken(client.context().get(), req, &resp));
    if (g.output == "table") {
      ordered_json j = adminTokenJson(resp.token());
      j["token"] = resp.secret();
      print(j, g.output, {{"ID", "id"}, {"NAME", "name"}, {"SCOPE", "scope"}, {"TOKEN", "token"}});
      std::cerr << "The token is shown only once: store it now (e.g. as FINOPS_TOKEN in your CI "
                   "secrets).\n";
    } else {
      print(ordered_json{{"token", adminTokenJson(resp.token())}, {"secret", resp.secret()}},
            g.output, {});
    }
    return kExitOk;
  }
  if (cmd == "list" || cmd == "ls") {
    Args a(rest, {}, {"--all"});
    a.expectPositional(0, "finopsctl tokens list [--all]");
    v1::ListAdminTokensRequest req;
    req.set_include_revoked(a.has("--all"));
    Client client(g);
    v1::ListAdminTokensResponse resp;
    client.check(client.stub().ListAdminTokens(client.context().get(), req, &resp));
    ordered_json arr = ordered_json::array();
    for (const auto& t : resp.tokens()) arr.push_back(adminTokenJson(t));
    print(arr, g.output, kColumns);
    return kExitOk;
  }
  if (cmd == "revoke") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl tokens revoke ID|NAME");
    v1::KeyId req;
    req.set_id(a.positional()[0]);
    Client client(g);
    v1::AdminTokenInfo resp;
    client.check(client.stub().RevokeAdminToken(client.context().get(), req, &resp));
    print(adminTokenJson(resp), g.output, kColumns);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'tokens " + cmd + "' (" + kUsage + ")");
}

}  // namespace finops::cli
