#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const std::vector<Column> kColumns = {{"ID", "id"},         {"NAME", "name"},
                                      {"PREFIX", "key_prefix"}, {"STATUS", "status"},
                                      {"CREATED", "created_at"}};

ordered_json toJson(const v1::VirtualKeyInfo& k) {
  ordered_json j = {{"id", k.id()},
                    {"name", k.name()},
                    {"key_prefix", k.key_prefix()},
                    {"status", k.status()},
                    {"created_at", timestampJson(k.created_at())}};
  if (k.has_revoked_at()) j["revoked_at"] = timestampJson(k.revoked_at());
  return j;
}

}  // namespace

int runKeys(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty()) throw CliError(kExitUsage, "usage: finopsctl keys create|list|get|revoke ...");
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Client client(g);
  auto ctx = client.context();
  if (cmd == "create") {
    Args a(rest, {"--name"}, {});
    a.expectPositional(0, "finopsctl keys create --name NAME");
    if (a.value("--name").empty()) throw CliError(kExitUsage, "keys create needs --name");
    v1::CreateKeyRequest req;
    req.set_name(a.value("--name"));
    v1::CreateKeyResponse resp;
    client.check(client.stub().CreateKey(ctx.get(), req, &resp));
    ordered_json j = toJson(resp.key());
    j["key"] = resp.secret();
    if (g.output == "table") {
      print(j, g.output, {{"ID", "id"}, {"NAME", "name"}, {"KEY", "key"}});
      std::cerr << "The key is shown only once: store it now.\n";
    } else {
      // Keep the documented field order: id, name, key first.
      ordered_json o = {{"id", j["id"]}, {"name", j["name"]}, {"key", j["key"]}};
      for (auto it = j.begin(); it != j.end(); ++it)
        if (!o.contains(it.key())) o[it.key()] = it.value();
      print(o, g.output, {});
    }
    return kExitOk;
  }
  if (cmd == "list" || cmd == "ls") {
    Args a(rest, {}, {});
    a.expectPositional(0, "finopsctl keys list");
    v1::ListKeysResponse resp;
    client.check(client.stub().ListKeys(ctx.get(), {}, &resp));
    ordered_json arr = ordered_json::array();
    for (const auto& k : resp.keys()) arr.push_back(toJson(k));
    print(arr, g.output, kColumns);
    return kExitOk;
  }
  if (cmd == "get" || cmd == "revoke") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl keys " + cmd + " ID");
    v1::KeyId req;
    req.set_id(a.positional()[0]);
    v1::VirtualKeyInfo resp;
    client.check(cmd == "get" ? client.stub().GetKey(ctx.get(), req, &resp)
                              : client.stub().RevokeKey(ctx.get(), req, &resp));
    print(toJson(resp), g.output, kColumns);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'keys " + cmd + "'");
}

}  // namespace finops::cli
