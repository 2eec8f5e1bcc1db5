#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const std::vector<Column> kColumns = {{"ID", "id"},
                                      {"NAME", "name"},
                                      {"PREFIX", "key_prefix"},
                                      {"STATUS", "status"},
                                      {"TEAM", "team"},
                                      {"CUSTOMER", "customer"},
                                      {"EXPIRES", "expires_at"},
                                      {"CONTENT LOG", "content_log"}};
// One key (get, update...): the list columns and its access rules; its limits follow.
const std::vector<Column> kDetailColumns = {{"ID", "id"},
                                            {"NAME", "name"},
                                            {"PREFIX", "key_prefix"},
                                            {"STATUS", "status"},
                                            {"TEAM", "team"},
                                            {"CUSTOMER", "customer"},
                                            {"EXPIRES", "expires_at"},
                                            {"ALLOW PROVIDERS", "allowed_providers"},
                                            {"ALLOW MODELS", "allowed_models"},
                                            {"CONTENT LOG", "content_log"}};

const char* kUsage =
    "usage: finopsctl keys create|list|get|update|disable|enable|rotate|revoke|delete ...";

ordered_json toJson(const v1::VirtualKeyInfo& k) {
  ordered_json j = {{"id", k.id()},
                    {"name", k.name()},
                    {"key_prefix", k.key_prefix()},
                    {"status", k.status()},
                    {"team", nullable(k.team())},
                    {"customer", nullable(k.customer())},
                    {"expires_at", timestampJson(k.expires_at())},
                    {"allowed_providers", stringArray(k.allowed_providers())},
                    {"allowed_models", stringArray(k.allowed_models())},
                    {"log_content", k.log_content()},
                    {"limits", limitsJson(k.limits())},
                    {"created_at", timestampJson(k.created_at())}};
  if (k.has_rotated_at()) j["rotated_at"] = timestampJson(k.rotated_at());
  if (k.has_revoked_at()) j["revoked_at"] = timestampJson(k.revoked_at());
  return j;
}

// A table row: the JSON object plus display strings.
ordered_json toRow(const v1::VirtualKeyInfo& k) {
  ordered_json j = toJson(k);
  j["content_log"] = k.log_content() ? "on" : "off";
  return j;
}

void printKey(const GlobalOptions& g, const v1::VirtualKeyInfo& k) {
  printAs(g, toJson(k), toRow(k), kDetailColumns);
  if (g.output == "table") printOwnedLimits(k.limits());
}

// A key with its secret (create, rotate): the only time the secret is ever shown.
void printSecret(const GlobalOptions& g, const v1::VirtualKeyInfo& k, const std::string& secret) {
  ordered_json j = toJson(k);
  if (g.output == "table") {
    j["key"] = secret;
    print(j, g.output, {{"ID", "id"}, {"NAME", "name"}, {"KEY", "key"}});
    printOwnedLimits(k.limits());
    std::cerr << "The key is shown only once: store it now.\n";
    return;
  }
  // Keep the documented field order: id, name, key first.
  ordered_json o = {{"id", j["id"]}, {"name", j["name"]}, {"key", secret}};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!o.contains(it.key())) o[it.key()] = it.value();
  print(o, g.output, {});
}

// The CliError for a failed call, its message prefixed.
CliError failure(const Client& client, const grpc::Status& s, const std::string& prefix) {
  try {
    client.check(s);
  } catch (const CliError& e) {
    return CliError(e.code(), prefix + e.what());
  }
  return CliError(kExitError, prefix + "unknown error");
}

// The limits given as flags to `keys create`, checked before anything is created.
std::vector<LimitSpec> limitFlags(const Args& a) {
  std::vector<LimitSpec> out;
  for (const auto& v : a.values("--budget"))
    out.push_back(parseLimitArg(LimitType::kBudget, v, false, "--budget"));
  for (const auto& v : a.values("--rpm")) {
    LimitSpec s;
    s.type = LimitType::kRequests;
    s.amount = parseCountArg(v, "--rpm");
    s.window = "1m";
    s.origin = "--rpm";
    out.push_back(s);
  }
  for (const auto& v : a.values("--requests"))
    out.push_back(parseLimitArg(LimitType::kRequests, v, false, "--requests"));
  for (const auto& v : a.values("--tokens"))
    out.push_back(parseLimitArg(LimitType::kTokens, v, false, "--tokens"));
  if (a.has("--max-concurrent")) {
    LimitSpec s;
    s.type = LimitType::kConcurrency;
    s.amount = parseCountArg(a.value("--max-concurrent"), "--max-concurrent");
    if (s.amount < 1) throw CliError(kExitUsage, "--max-concurrent must be at least 1");
    s.origin = "--max-concurrent";
    out.push_back(s);
  }
  for (const auto& v : a.values("--provider-budget"))
    out.push_back(parseLimitArg(LimitType::kBudget, v, true, "--provider-budget"));
  for (const auto& v : a.values("--provider-requests"))
    out.push_back(parseLimitArg(LimitType::kRequests, v, true, "--provider-requests"));
  checkDistinct(out, "the key");
  return out;
}

int create(const GlobalOptions& g, Client& client, const std::vector<std::string>& rest) {
  Args a(rest,
         {"--name", "--team", "--customer", "--expires", "--allow-provider", "--allow-model",
          "--budget", "--rpm", "--requests", "--tokens", "--max-concurrent", "--provider-budget",
          "--provider-requests"},
         {"--disabled", "--no-content-log"});
  a.expectPositional(0, "finopsctl keys create --name NAME [--team T | --customer C] [flags]");
  if (a.value("--name").empty()) throw CliError(kExitUsage, "keys create needs --name");
  exclusive(a, {"--team", "--customer"});
  v1::CreateKeyRequest req;
  req.set_name(a.value("--name"));
  req.set_team(a.value("--team"));
  req.set_customer(a.value("--customer"));
  if (std::string e = a.value("--expires", "never"); e != "never")
    *req.mutable_expires_at() = timestampFromMs(parseTimeArg(e, "--expires"));
  for (const auto& p : a.values("--allow-provider")) req.add_allowed_providers(p);
  for (const auto& m : a.values("--allow-model")) req.add_allowed_models(m);
  req.set_disabled(a.has("--disabled"));
  req.set_no_content_log(a.has("--no-content-log"));
  std::vector<LimitSpec> limits = limitFlags(a);

  v1::CreateKeyResponse resp;
  client.check(client.stub().CreateKey(client.context().get(), req, &resp));
  v1::VirtualKeyInfo key = resp.key();
  for (const auto& spec : limits) {
    v1::LimitInfo limit;
    grpc::Status s = client.stub().CreateLimit(client.context().get(),
                                               createLimitRequest("key", key.id(), spec), &limit);
    if (s.ok()) {
      *key.add_limits() = limit;
      continue;
    }
    // A key without the limits asked for must not be left behind silently: take it back, and
    // if even that fails, show its secret (the key exists) before reporting the error.
    std::string what = spec.origin + " " + spec.effectiveName() + ": ";
    v1::KeyId id;
    id.set_id(key.id());
    v1::VirtualKeyInfo deleted;
    if (client.stub().DeleteKey(client.context().get(), id, &deleted).ok())
      throw failure(client, s, "key not created: " + what);
    printSecret(g, key, resp.secret());
    throw failure(client, s,
                  "key " + key.id() +
                      " was created without all its limits; add them with "
                      "finopsctl budgets|ratelimits create --key " +
                      key.id() + ". " + what);
  }
  printSecret(g, key, resp.secret());
  return kExitOk;
}

int update(const GlobalOptions& g, Client& client, const std::vector<std::string>& rest) {
  Args a(rest,
         {"--name", "--team", "--customer", "--expires", "--allow-provider", "--allow-model",
          "--content-log"},
         {"--no-team", "--no-customer", "--clear-allow"});
  a.expectPositional(1,
                     "finopsctl keys update ID [--name N] [--team T | --no-team] "
                     "[--customer C | --no-customer] [--expires T|never] [--allow-provider P]... "
                     "[--allow-model M]... [--clear-allow] [--content-log on|off]");
  exclusive(a, {"--team", "--no-team"});
  exclusive(a, {"--customer", "--no-customer"});
  exclusive(a, {"--team", "--customer"});
  v1::UpdateKeyRequest req;
  req.set_id(a.positional()[0]);
  bool any = false;
  if (a.has("--name")) {
    if (a.value("--name").empty()) throw CliError(kExitUsage, "--name must not be empty");
    req.set_name(a.value("--name"));
    any = true;
  }
  if (a.has("--team") || a.has("--no-team")) {
    req.set_team(a.value("--team"));
    any = true;
  }
  if (a.has("--customer") || a.has("--no-customer")) {
    req.set_customer(a.value("--customer"));
    any = true;
  }
  if (a.has("--expires")) {
    std::string e = a.value("--expires");
    if (e == "never")
      req.set_clear_expiry(true);
    else
      *req.mutable_expires_at() = timestampFromMs(parseTimeArg(e, "--expires"));
    any = true;
  }
  // Access rules are replaced as a whole; --clear-allow empties both lists first.
  if (a.has("--clear-allow") || a.has("--allow-provider")) {
    req.set_replace_allowed_providers(true);
    for (const auto& p : a.values("--allow-provider")) req.add_allowed_providers(p);
    any = true;
  }
  if (a.has("--clear-allow") || a.has("--allow-model")) {
    req.set_replace_allowed_models(true);
    for (const auto& m : a.values("--allow-model")) req.add_allowed_models(m);
    any = true;
  }
  if (a.has("--content-log")) {
    std::string v = a.value("--content-log");
    if (v == "on" || v == "true")
      req.set_log_content(true);
    else if (v == "off" || v == "false")
      req.set_log_content(false);
    else
      throw CliError(kExitUsage, "--content-log takes on or off, not '" + v + "'");
    any = true;
  }
  if (!any) throw CliError(kExitUsage, "keys update: nothing to change (see finopsctl help)");
  v1::VirtualKeyInfo resp;
  client.check(client.stub().UpdateKey(client.context().get(), req, &resp));
  printKey(g, resp);
  return kExitOk;
}

}  // namespace

int runKeys(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty()) throw CliError(kExitUsage, kUsage);
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Client client(g);
  if (cmd == "create") return create(g, client, rest);
  if (cmd == "update") return update(g, client, rest);
  if (cmd == "list" || cmd == "ls") {
    Args a(rest, {}, {});
    a.expectPositional(0, "finopsctl keys list");
    v1::ListKeysResponse resp;
    client.check(client.stub().ListKeys(client.context().get(), {}, &resp));
    ordered_json arr = ordered_json::array(), rows = ordered_json::array();
    for (const auto& k : resp.keys()) {
      arr.push_back(toJson(k));
      rows.push_back(toRow(k));
    }
    printAs(g, arr, rows, kColumns);
    return kExitOk;
  }
  if (cmd == "disable" || cmd == "enable") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl keys " + cmd + " ID");
    v1::UpdateKeyRequest req;
    req.set_id(a.positional()[0]);
    req.set_status(cmd == "disable" ? "disabled" : "active");
    v1::VirtualKeyInfo resp;
    client.check(client.stub().UpdateKey(client.context().get(), req, &resp));
    printKey(g, resp);
    return kExitOk;
  }
  if (cmd == "rotate") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl keys rotate ID");
    v1::KeyId req;
    req.set_id(a.positional()[0]);
    v1::CreateKeyResponse resp;
    client.check(client.stub().RotateKey(client.context().get(), req, &resp));
    printSecret(g, resp.key(), resp.secret());
    return kExitOk;
  }
  if (cmd == "get" || cmd == "revoke" || cmd == "delete" || cmd == "rm") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl keys " + cmd + " ID");
    v1::KeyId req;
    req.set_id(a.positional()[0]);
    v1::VirtualKeyInfo resp;
    auto ctx = client.context();
    if (cmd == "get")
      client.check(client.stub().GetKey(ctx.get(), req, &resp));
    else if (cmd == "revoke")
      client.check(client.stub().RevokeKey(ctx.get(), req, &resp));
    else
      client.check(client.stub().DeleteKey(ctx.get(), req, &resp));
    printKey(g, resp);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'keys " + cmd + "'");
}

}  // namespace finops::cli
