// finopsctl: the command-line client of the control plane's admin API.
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "cli/spec.h"

namespace finops::cli {
namespace {

const char* kUsage = R"(usage: finopsctl [global flags] <command> [args]

Commands:
  login [--addr HOST:PORT] [--token T]    check the token and save address and token
  whoami                                  show the admin token in use
  providers add NAME [--type openai|anthropic|gemini|vertex] [--base-url URL]
                [--api-key-env VAR]... [--api-key-file PATH]... [--api-key-stdin]
                [--models m1,m2] [--no-list-models] [--default-max-tokens N]
                [--vertex-project P --vertex-location L --service-account-file F]
                [--token-url URL]
  providers list | get NAME | delete NAME
  providers update NAME [--base-url URL] [--api-key-env VAR].. [--api-key-file P]..
                [--models m1,m2] [--list-models | --no-list-models] [--default-max-tokens N]
                [--vertex-project P] [--vertex-location L] [--service-account-file F]
                [--token-url URL]
  customers create NAME | list | get NAME | update NAME --name NEW | delete NAME
  teams create NAME [--customer C] | list [--customer C] | get NAME | delete NAME
  teams update NAME [--name NEW] [--customer C | --no-customer]
  keys create --name NAME [--team T | --customer C] [--expires RFC3339|never]
              [--allow-provider P]... [--allow-model PATTERN]... [--disabled]
              [--budget DOLLARS/WINDOW]... [--rpm N]... [--requests N/WINDOW]...
              [--tokens N/WINDOW]... [--max-concurrent N]
              [--provider-budget P=DOLLARS/WINDOW]... [--provider-requests P=N/WINDOW]...
              [--no-content-log]
  keys update ID [--name N] [--team T | --no-team] [--customer C | --no-customer]
              [--expires RFC3339|never] [--allow-provider P]... [--allow-model M]... [--clear-allow]
              [--content-log on|off]
  keys list | get ID | disable ID | enable ID | rotate ID | revoke ID | delete ID
  budgets create --key K|--team T|--customer C --amount DOLLARS --window W
              [--calendar (default) | --rolling] [--provider P] [--name N]
  budgets list [--key K|--team T|--customer C] | get ID | delete ID
  budgets update ID [--amount DOLLARS] [--window W] [--calendar | --rolling]
  ratelimits create --key K|--team T|--customer C --requests N|--tokens N|--concurrency N
              [--window W (default 1m)] [--calendar (default) | --rolling] [--provider P] [--name N]
  ratelimits list [--key K|--team T|--customer C] | get ID | delete ID
  ratelimits update ID [--amount N] [--window W] [--calendar | --rolling]
  prices list [--provider P] [--model SUBSTRING] | delete PROVIDER/MODEL
  prices set PROVIDER/MODEL [--input-price D] [--output-price D] [--cached-input-price D] [--cache-write-price D]
              [--per-image D] [--per-second D]          (dollars per 1M tokens)
  usage [--since 24h|7d|30d | --from T] [--to T] [--by key,team,customer,provider,model,day,hour]
              [--key K] [--team T] [--customer C] [--provider P] [--model M]
  apply -f FILE.yaml [--dry-run]           create or update what the file declares
  settings get | set enforce_keys=true|false | log_content=true|false
              forward_headers|allowed_headers|allowed_origins|extra_headers=a,b|+a,b|-a|default
  dataplanes list
  tokens create --name NAME --scope admin|keys:write|read   (prints the token once)
  tokens list [--all] | revoke ID|NAME
  audit [--since 1h|TIME] [--until 1h|TIME] [--caller TOKEN] [--method NAME] [--limit N]
              [--before-id ID]
  logs [--provider P] [--model M] [--key K] [--team T] [--customer C] [--status S]
              [--error-type E] [--since 15m|2h|7d|TIME] [--until 15m|2h|7d|TIME]
              [--search QUERY] [--limit N] [--cursor C] [--follow]
                                          request logs, newest first (--follow: live)
  logs show REQUEST_ID|ID                 one request with its content
  version

Windows: 1m 5m 1h 1d 1w 1M 1Q 1Y (N followed by m h d w M Q Y). Dollar amounts are plain
decimals (5, 5.00, 0.25).

Global flags (anywhere on the line):
  --addr HOST:PORT    control plane (env FINOPS_ADDR, config file, default 127.0.0.1:50051)
  --token TOKEN       admin token (env FINOPS_TOKEN, config file)
  -o, --output FMT    table (default), json or yaml
  --timeout SECONDS   deadline of each call (default 10)
  --config PATH       config file (default $XDG_CONFIG_HOME/finops/finopsctl.yaml)
  --tls-ca FILE       TLS: PEM CA bundle that signed the control plane's certificate
                      (env FINOPS_CA_FILE); an https://HOST:PORT address uses TLS with the
                      system's roots
  --tls-cert FILE     mutual TLS: PEM client certificate (env FINOPS_CERT_FILE)
  --tls-key FILE      mutual TLS: its PEM private key (env FINOPS_KEY_FILE)
  --tls-server-name NAME  name expected in the control plane's certificate
                      (env FINOPS_TLS_SERVER_NAME; default: the address's host)
  --allow-plaintext   send the admin token without TLS to a non-loopback address

Exit codes: 0 ok, 1 error, 2 usage, 3 unauthenticated, 4 not found, 5 already exists,
6 control plane unavailable, 7 permission denied (the token's scope does not allow the call),
8 conflict (a change lost to another made at the same time; settings set retries first).
)";

// Takes the global flags out of argv wherever they are.
std::vector<std::string> extractGlobals(int argc, char** argv, GlobalOptions& g) {
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string name = a.substr(0, a.find('='));
    bool hasEq = a.find('=') != std::string::npos && a.starts_with("--");
    auto value = [&]() -> std::string {
      if (hasEq) return a.substr(a.find('=') + 1);
      if (i + 1 >= argc) throw CliError(kExitUsage, name + " needs a value");
      return argv[++i];
    };
    if (name == "--addr") g.addr = value();
    else if (name == "--token") g.token = value();
    else if (name == "--config") g.configPath = value();
    else if (name == "--tls-ca") g.caFile = value();
    else if (name == "--tls-cert") g.certFile = value();
    else if (name == "--tls-key") g.keyFile = value();
    else if (name == "--tls-server-name") g.tlsServerName = value();
    else if (a == "--allow-plaintext") g.allowPlaintext = true;
    else if (a == "-o" || name == "--output") g.output = value();
    else if (a.starts_with("-o") && a.size() > 2 && !a.starts_with("--")) g.output = a.substr(2);
    else if (name == "--timeout") {
      std::string v = value();
      try {
        g.timeoutSeconds = std::stoi(v);
      } catch (...) {
        throw CliError(kExitUsage, "--timeout must be a number of seconds");
      }
      if (g.timeoutSeconds <= 0) throw CliError(kExitUsage, "--timeout must be positive");
    } else rest.push_back(a);
  }
  if (g.output != "table" && g.output != "json" && g.output != "yaml")
    throw CliError(kExitUsage, "-o must be table, json or yaml");
  return rest;
}

int runLogin(GlobalOptions g, const std::vector<std::string>& args) {
  Args a(args, {}, {});
  a.expectPositional(0, "finopsctl login [--addr HOST:PORT] [--token TOKEN]");
  std::string path = g.configPath.empty() ? defaultConfigPath() : g.configPath;
  GlobalOptions resolved = g;
  resolved.configPath.clear();
  resolveConnection(resolved);
  if (resolved.token.empty()) throw CliError(kExitUsage, "login needs --token (or FINOPS_TOKEN)");
  Client client(resolved);
  auto ctx = client.context();
  finops::v1::WhoAmIResponse resp;
  client.check(client.stub().WhoAmI(ctx.get(), {}, &resp));
  writeConfigFile(path, resolved.addr, resolved.token, &resolved);
  nlohmann::ordered_json j = {{"addr", resolved.addr}, {"config", path},
                              {"token_id", resp.token_id()}, {"scope", resp.scope()}};
  if (g.output == "table") std::cout << "logged in to " << resolved.addr << "; saved to " << path << "\n";
  else print(j, g.output, {});
  return kExitOk;
}

int run(int argc, char** argv) {
  GlobalOptions g;
  std::vector<std::string> args = extractGlobals(argc, argv, g);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  std::string group = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (group == "version") {
    if (g.output == "table") std::cout << "finopsctl " << FINOPS_VERSION << "\n";
    else print(nlohmann::ordered_json{{"version", FINOPS_VERSION}}, g.output, {});
    return kExitOk;
  }
  if (group == "login") return runLogin(g, rest);
  resolveConnection(g);
  if (group == "whoami") {
    Args a(rest, {}, {});
    a.expectPositional(0, "finopsctl whoami");
    Client client(g);
    auto ctx = client.context();
    finops::v1::WhoAmIResponse resp;
    client.check(client.stub().WhoAmI(ctx.get(), {}, &resp));
    print(nlohmann::ordered_json{{"token_id", resp.token_id()}, {"name", resp.token_name()},
                                 {"scope", resp.scope()}, {"addr", g.addr}},
          g.output, {{"TOKEN ID", "token_id"}, {"NAME", "name"}, {"SCOPE", "scope"}, {"ADDR", "addr"}});
    return kExitOk;
  }
  if (group == "providers" || group == "provider") return runProviders(g, rest);
  if (group == "keys" || group == "key") return runKeys(g, rest);
  if (group == "settings") return runSettings(g, rest);
  if (group == "dataplanes") return runDataPlanes(g, rest);
  if (group == "customers" || group == "customer") return runCustomers(g, rest);
  if (group == "teams" || group == "team") return runTeams(g, rest);
  if (group == "budgets" || group == "budget") return runBudgets(g, rest);
  if (group == "ratelimits" || group == "ratelimit") return runRateLimits(g, rest);
  if (group == "prices" || group == "price") return runPrices(g, rest);
  if (group == "usage") return runUsage(g, rest);
  if (group == "apply") return runApply(g, rest);
  if (group == "tokens" || group == "token") return runTokens(g, rest);
  if (group == "audit") return runAudit(g, rest);
  if (group == "logs" || group == "log") return runLogs(g, rest);
  throw CliError(kExitUsage, "unknown command '" + group + "' (see finopsctl help)");
}

}  // namespace

}  // namespace finops::cli

int main(int argc, char** argv) {
  try {
    return finops::cli::run(argc, argv);
  } catch (const finops::cli::CliError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return e.code();
  } catch (const finops::cli::SpecError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return finops::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return finops::cli::kExitError;
  }
}
