#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

ordered_json toJson(const v1::SettingsInfo& s) {
  ordered_json headers = ordered_json::array();
  for (const auto& h : s.settings().forward_headers()) headers.push_back(h);
  return {{"enforce_keys", s.settings().enforce_keys()},
          {"forward_headers", headers},
          {"config_version", s.config_version()}};
}

const std::vector<Column> kColumns = {{"ENFORCE KEYS", "enforce_keys"},
                                      {"FORWARD HEADERS", "forward_headers"},
                                      {"CONFIG VERSION", "config_version"}};

bool parseBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "on" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "off" || v == "0" || v == "no") return false;
  throw CliError(kExitUsage, key + " must be true or false, not '" + v + "'");
}

}  // namespace

int runSettings(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty()) throw CliError(kExitUsage, "usage: finopsctl settings get | set KEY=VALUE...");
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (cmd == "get") {
    Args a(rest, {}, {});
    a.expectPositional(0, "finopsctl settings get");
    Client client(g);
    auto ctx = client.context();
    v1::SettingsInfo resp;
    client.check(client.stub().GetSettings(ctx.get(), {}, &resp));
    print(toJson(resp), g.output, kColumns);
    return kExitOk;
  }
  if (cmd == "set") {
    Args a(rest, {}, {});
    if (a.positional().empty())
      throw CliError(kExitUsage,
                     "usage: finopsctl settings set enforce_keys=true|false forward_headers=a,b");
    v1::UpdateSettingsRequest req;
    for (const auto& kv : a.positional()) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) throw CliError(kExitUsage, "expected KEY=VALUE, got '" + kv + "'");
      std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
      if (key == "enforce_keys") {
        req.set_enforce_keys(parseBool(key, value));
      } else if (key == "forward_headers") {
        req.set_replace_forward_headers(true);
        for (const auto& h : splitList(value)) req.add_forward_headers(h);
      } else {
        throw CliError(kExitUsage, "unknown setting '" + key + "' (known: enforce_keys, forward_headers)");
      }
    }
    Client client(g);
    auto ctx = client.context();
    v1::SettingsInfo resp;
    client.check(client.stub().UpdateSettings(ctx.get(), req, &resp));
    print(toJson(resp), g.output, kColumns);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'settings " + cmd + "'");
}

int runDataPlanes(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty() || (argv[0] != "list" && argv[0] != "ls"))
    throw CliError(kExitUsage, "usage: finopsctl dataplanes list");
  Args a(std::vector<std::string>(argv.begin() + 1, argv.end()), {}, {});
  a.expectPositional(0, "finopsctl dataplanes list");
  Client client(g);
  auto ctx = client.context();
  v1::ListDataPlanesResponse resp;
  client.check(client.stub().ListDataPlanes(ctx.get(), {}, &resp));
  ordered_json arr = ordered_json::array();
  for (const auto& d : resp.data_planes()) {
    arr.push_back({{"node_id", d.node_id()},
                   {"peer", d.peer()},
                   {"connected", d.connected()},
                   {"acked_version", d.acked_version()},
                   {"last_nack", d.last_nack().empty() ? ordered_json(nullptr) : ordered_json(d.last_nack())},
                   {"connected_at", timestampJson(d.connected_at())},
                   {"last_ack_at", timestampJson(d.last_ack_at())}});
  }
  if (g.output == "table") {
    std::cout << "config version " << resp.config_version() << "\n";
    print(arr, g.output,
          {{"NODE", "node_id"}, {"PEER", "peer"}, {"CONNECTED", "connected"},
           {"ACKED VERSION", "acked_version"}, {"LAST NACK", "last_nack"}});
  } else {
    print(ordered_json{{"config_version", resp.config_version()}, {"data_planes", arr}}, g.output, {});
  }
  return kExitOk;
}

}  // namespace finops::cli
