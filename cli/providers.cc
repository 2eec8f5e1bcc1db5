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
  switch (t) {
    case v1::PROVIDER_TYPE_OPENAI_COMPATIBLE: return "openai";
    case v1::PROVIDER_TYPE_ANTHROPIC: return "anthropic";
    case v1::PROVIDER_TYPE_GEMINI: return "gemini";
    case v1::PROVIDER_TYPE_VERTEX: return "vertex";
    default: return "unspecified";
  }
}

v1::ProviderType typeFromName(const std::string& t) {
  if (t == "openai" || t == "openai-compatible") return v1::PROVIDER_TYPE_OPENAI_COMPATIBLE;
  if (t == "anthropic") return v1::PROVIDER_TYPE_ANTHROPIC;
  if (t == "gemini") return v1::PROVIDER_TYPE_GEMINI;
  if (t == "vertex") return v1::PROVIDER_TYPE_VERTEX;
  throw CliError(kExitUsage,
                 "unsupported --type '" + t + "' (supported: openai, anthropic, gemini, vertex)");
}

// Reads a service-account JSON key file (Vertex AI) and returns it compacted.
std::string readServiceAccount(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CliError(kExitUsage, "cannot read service-account file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (!j.is_object() || !j.contains("client_email") || !j.contains("private_key"))
    throw CliError(kExitUsage, "service-account file " + path +
                                   " is not a service-account JSON key (client_email, private_key)");
  return j.dump();
}

// Provider options from flags (add: all; update: only those given).
void readOptions(const Args& a, v1::ProviderOptions& o) {
  if (a.has("--default-max-tokens")) {
    int64_t n = 0;
    try {
      size_t used = 0;
      n = std::stoll(a.value("--default-max-tokens"), &used);
      if (used != a.value("--default-max-tokens").size()) n = 0;
    } catch (...) {
      n = 0;
    }
    if (n <= 0) throw CliError(kExitUsage, "--default-max-tokens must be a positive integer");
    o.set_default_max_tokens(n);
  }
  o.set_vertex_project(a.value("--vertex-project"));
  o.set_vertex_location(a.value("--vertex-location"));
  o.set_token_url(a.value("--token-url"));
}

ordered_json optionsJson(const v1::ProviderOptions& o) {
  ordered_json j = ordered_json::object();
  if (o.default_max_tokens()) j["default_max_tokens"] = o.default_max_tokens();
  if (!o.vertex_project().empty()) j["vertex_project"] = o.vertex_project();
  if (!o.vertex_location().empty()) j["vertex_location"] = o.vertex_location();
  if (!o.token_url().empty()) j["token_url"] = o.token_url();
  return j;
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
          {"options", optionsJson(p.options())},
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
    Args a(rest, {"--type", "--base-url", "--api-key-env", "--api-key-file", "--models",
                  "--default-max-tokens", "--vertex-project", "--vertex-location", "--token-url",
                  "--service-account-file"},
           {"--api-key-stdin", "--no-list-models"});
    a.expectPositional(1, "finopsctl providers add NAME [--type T] [--base-url URL] [--api-key-env VAR]...");
    v1::CreateProviderRequest req;
    req.set_name(a.positional()[0]);
    // A provider named after a native type is of that type unless --type says otherwise.
    const std::string& name = req.name();
    std::string defaultType =
        name == "anthropic" || name == "gemini" || name == "vertex" ? name : "openai";
    req.set_type(typeFromName(a.value("--type", defaultType)));
    req.set_base_url(a.value("--base-url"));
    readOptions(a, *req.mutable_options());
    if (req.type() == v1::PROVIDER_TYPE_VERTEX) {
      if (!a.has("--service-account-file"))
        throw CliError(kExitUsage, "a vertex provider needs --service-account-file FILE (a service-account JSON key)");
      if (a.value("--vertex-project").empty() || a.value("--vertex-location").empty())
        throw CliError(kExitUsage, "a vertex provider needs --vertex-project and --vertex-location");
      req.add_api_keys(readServiceAccount(a.value("--service-account-file")));
    } else if (a.has("--service-account-file")) {
      throw CliError(kExitUsage, "--service-account-file is for --type vertex");
    }
    for (auto& k : collectKeys(a)) req.add_api_keys(k);
    for (auto& m : splitList(a.value("--models"))) req.add_models(m);
    if (a.has("--no-list-models")) req.set_list_upstream_models(false);
    v1::ProviderInfo resp;
    client.check(client.stub().CreateProvider(ctx.get(), req, &resp));
    print(toJson(resp), g.output, kColumns);
    return kExitOk;
  }
  if (cmd == "update") {
    Args a(rest, {"--base-url", "--api-key-env", "--api-key-file", "--models",
                  "--default-max-tokens", "--vertex-project", "--vertex-location", "--token-url",
                  "--service-account-file"},
           {"--api-key-stdin", "--list-models", "--no-list-models"});
    a.expectPositional(1, "finopsctl providers update NAME [flags]");
    v1::UpdateProviderRequest req;
    req.set_name(a.positional()[0]);
    if (a.has("--base-url")) req.set_base_url(a.value("--base-url"));
    v1::ProviderOptions o;
    readOptions(a, o);
    if (a.has("--default-max-tokens")) req.set_default_max_tokens(o.default_max_tokens());
    if (a.has("--vertex-project")) req.set_vertex_project(o.vertex_project());
    if (a.has("--vertex-location")) req.set_vertex_location(o.vertex_location());
    if (a.has("--token-url")) req.set_token_url(o.token_url());
    if (a.has("--service-account-file")) {
      req.set_replace_keys(true);
      req.add_api_keys(readServiceAccount(a.value("--service-account-file")));
    }
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
