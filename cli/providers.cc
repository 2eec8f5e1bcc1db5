#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const std::vector<Column> kColumns = {{"NAME", "name"},     {"TYPE", "type"},
                                      {"BASE URL", "base_url"}, {"KEYS", "key_count"},
                                      {"MODELS", "models"}};

std::string typeName(v1::ProviderType t) {
  return t == v1::PROVIDER_TYPE_OPENAI_COMPATIBLE ? "openai" : "unspecified";
}

ordered_json toJson(const v1::ProviderInfo& p) {
  ordered_json keys = ordered_json::array();
  for (const auto& k : p.keys()) keys.push_back({{"id", k.id()}, {"redacted", k.redacted()}});
  ordered_json models = ordered_json::array();
  for (const auto& m : p.models()) models.push_back(m);
  return {{"name", p.name()},
          {"type", typeName(p.type())},
          {"base_url", p.base_url()},
          {"models", models},
          {"list_upstream_models", p.list_upstream_models()},
          {"keys", keys},
          {"key_count", p.keys_size()},
          {"created_at", timestampJson(p.created_at())},
          {"updated_at", timestampJson(p.updated_at())}};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  size_t b = s.find_first_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b);
}

// Collects upstream keys from --api-key-env, --api-key-file and --api-key-stdin.
std::vector<std::string> collectKeys(const Args& a) {
  std::vector<std::string> keys;
  for (const auto& var : a.values("--api-key-env")) {
    const char* v = std::getenv(var.c_str());
    if (!v || !*v) throw CliError(kExitUsage, "environment variable " + var + " is not set or empty");
    keys.push_back(trim(v));
  }
  for (const auto& path : a.values("--api-key-file")) {
    std::ifstream in(path);
    if (!in) throw CliError(kExitUsage, "cannot read API key file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string k = trim(ss.str());
    if (k.empty()) throw CliError(kExitUsage, "API key file " + path + " is empty");
    keys.push_back(k);
  }
  if (a.has("--api-key-stdin")) {
    std::string line;
    std::getline(std::cin, line);
    line = trim(line);
    if (line.empty()) throw CliError(kExitUsage, "no API key on standard input");
    keys.push_back(line);
  }
  return keys;
}

const std::set<std::string> kKeyFlags = {"--api-key-env", "--api-key-file"};

}  // namespace

int runProviders(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty())
    throw CliError(kExitUsage, "usage: finopsctl providers add|list|get|update|delete ...");
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Client client(g);
  auto ctx = client.context();
  if (cmd == "add" || cmd == "create") {
    Args a(rest, {"--type", "--base-url", "--api-key-env", "--api-key-file", "--models"},
           {"--api-key-stdin", "--no-list-models"});
    a.expectPositional(1, "finopsctl providers add NAME [--base-url URL] [--api-key-env VAR]...");
    v1::CreateProviderRequest req;
    req.set_name(a.positional()[0]);
    std::string type = a.value("--type", "openai");
    if (type != "openai" && type != "openai-compatible")
      throw CliError(kExitUsage, "unsupported --type '" + type + "' (supported: openai)");
    req.set_type(v1::PROVIDER_TYPE_OPENAI_COMPATIBLE);
    req.set_base_url(a.value("--base-url"));
    for (auto& k : collectKeys(a)) req.add_api_keys(k);
    for (auto& m : splitList(a.value("--models"))) req.add_models(m);
    if (a.has("--no-list-models")) req.set_list_upstream_models(false);
    v1::ProviderInfo resp;
    client.check(client.stub().CreateProvider(ctx.get(), req, &resp));
    print(toJson(resp), g.output, kColumns);
    return kExitOk;
  }
  if (cmd == "update") {
    Args a(rest, {"--base-url", "--api-key-env", "--api-key-file", "--models"},
           {"--api-key-stdin", "--list-models", "--no-list-models"});
    a.expectPositional(1, "finopsctl providers update NAME [flags]");
    v1::UpdateProviderRequest req;
    req.set_name(a.positional()[0]);
    if (a.has("--base-url")) req.set_base_url(a.value("--base-url"));
    if (a.has("--api-key-env") || a.has("--api-key-file") || a.has("--api-key-stdin")) {
      req.set_replace_keys(true);
      for (auto& k : collectKeys(a)) req.add_api_keys(k);
    }
    if (a.has("--models")) {
      req.set_replace_models(true);
      for (auto& m : splitList(a.value("--models"))) req.add_models(m);
    }
    if (a.has("--list-models") && a.has("--no-list-models"))
      throw CliError(kExitUsage, "--list-models and --no-list-models exclude each other");
    if (a.has("--list-models")) req.set_list_upstream_models(true);
    if (a.has("--no-list-models")) req.set_list_upstream_models(false);
    v1::ProviderInfo resp;
    client.check(client.stub().UpdateProvider(ctx.get(), req, &resp));
    print(toJson(resp), g.output, kColumns);
    return kExitOk;
  }
  if (cmd == "list" || cmd == "ls") {
    Args a(rest, {}, {});
    a.expectPositional(0, "finopsctl providers list");
    v1::ListProvidersResponse resp;
    client.check(client.stub().ListProviders(ctx.get(), {}, &resp));
    ordered_json arr = ordered_json::array();
    for (const auto& p : resp.providers()) arr.push_back(toJson(p));
    print(arr, g.output, kColumns);
    return kExitOk;
  }
  if (cmd == "get" || cmd == "delete" || cmd == "rm") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl providers " + cmd + " NAME");
    v1::ProviderName req;
    req.set_name(a.positional()[0]);
    v1::ProviderInfo resp;
    client.check(cmd == "get" ? client.stub().GetProvider(ctx.get(), req, &resp)
                              : client.stub().DeleteProvider(ctx.get(), req, &resp));
    print(toJson(resp), g.output, kColumns);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'providers " + cmd + "'");
}

}  // namespace finops::cli
