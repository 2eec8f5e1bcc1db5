// finops-controlplane: owns the state (SQLite), serves the admin API and streams config
// snapshots to data planes.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "common/dataplane_token.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/process.h"
#include "controlplane/grpc/admin_service.h"
#include "controlplane/grpc/usage_service.h"
#include "controlplane/grpc/config_service.h"
#include "controlplane/grpc/dataplane_auth.h"
#include "controlplane/grpc/log_service.h"
#include "controlplane/http/cp_metrics.h"
#include "controlplane/http/metrics_server.h"
#include "controlplane/store/log_retention.h"
#include "controlplane/store/log_store.h"
#include "controlplane/store/secrets.h"
#include "controlplane/store/store.h"

namespace {

struct Options {
  std::string db = "./var/finops.db";
  finops::log::Format logFormat = finops::log::defaultFormat();  // --log-format
  std::string listen = "127.0.0.1:50051";
  std::string adminTokenFile;  // default: beside the database
  // Master keys for provider secrets at rest (--master-key-file, --previous-master-key-file,
  // FINOPS_MASTER_KEY, FINOPS_PREVIOUS_MASTER_KEYS); generated key: master-key beside the db.
  finops::cp::MasterKeySources masterKeys;
  // gRPC TLS: server certificate and key (both or neither); a client CA turns on mutual TLS.
  std::string tlsCert;
  std::string tlsKey;
  std::string tlsClientCa;
  bool allowPlaintext = false;  // plaintext on a non-loopback --listen
  // Data-plane credential (--dataplane-token-file, or FINOPS_DATAPLANE_TOKEN): tokens data
  // planes must present on the config stream and usage reports, unless mutual TLS.
  std::string dataPlaneTokenFile;
  bool allowUnauthenticatedDataPlanes = false;  // no credential on a non-loopback --listen
  // --metrics-listen: where plaintext HTTP serves GET /metrics and GET /healthz; "off": nowhere.
  std::string metricsListen = "127.0.0.1:9091";
  bool metricsListenGiven = false;  // the default may be taken: then only a warning
  // Request-log retention (--log-retention-days, --log-max-bytes); 0: no limit.
  int64_t logRetentionDays = 30;
  int64_t logMaxBytes = 1LL << 30;
};

void usage() {
  std::cerr << "usage: finops-controlplane [--db PATH] [--listen HOST:PORT] "
               "[--admin-token-file PATH]\n"
               "  --db PATH               SQLite database (default ./var/finops.db)\n"
               "  --listen HOST:PORT      gRPC listen address (default 127.0.0.1:50051)\n"
               "  --log-format text|json  log lines on stderr as text or as JSON objects (default\n"
               "                          text, or FINOPS_LOG_FORMAT when set)\n"
               "  --tls-cert FILE         PEM server certificate chain: serve gRPC over TLS\n"
               "  --tls-key FILE          PEM private key of --tls-cert\n"
               "  --tls-client-ca FILE    PEM CA bundle: require client certificates signed by it\n"
               "                          (mutual TLS, for data planes and finopsctl)\n"
               "  --allow-plaintext       serve plaintext gRPC on a non-loopback --listen\n"
               "  --dataplane-token-file FILE  tokens data planes must present (one a line; read\n"
               "                          at start; or env FINOPS_DATAPLANE_TOKEN). Needed on a\n"
               "                          non-loopback --listen unless --tls-client-ca\n"
               "  --allow-unauthenticated-dataplanes  UNSAFE: on a non-loopback --listen, give the\n"
               "                          config (every provider key) to any caller without a\n"
               "                          token or client certificate\n"
               "  --metrics-listen HOST:PORT  plaintext HTTP for GET /metrics (Prometheus) and\n"
               "                          GET /healthz (default 127.0.0.1:9091; port 0 picks a\n"
               "                          free port; off: none). No TLS, no authentication\n"
               "  --admin-token-file PATH where the first-start admin token is written, mode 0600\n"
               "                          (default: admin-token beside the database)\n"
               "  --master-key-file PATH  the master key that encrypts provider keys at rest: 32\n"
               "                          bytes as base64 or 64 hex characters (or env\n"
               "                          FINOPS_MASTER_KEY; default: master-key beside the\n"
               "                          database, generated on first start)\n"
               "  --previous-master-key-file PATH  (repeatable) an older master key, to re-encrypt\n"
               "                          under the current one at startup (or env\n"
               "                          FINOPS_PREVIOUS_MASTER_KEYS, comma-separated)\n"
               "  --log-retention-days N  delete request logs older than N days (default 30;\n"
               "                          0: keep them whatever their age)\n"
               "  --log-max-bytes N       delete the oldest request logs while they take more than\n"
               "                          N bytes; K, M, G suffixes (1024-based) accepted\n"
               "                          (default 1G; 0: no cap)\n";
}

bool parseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        out = a.substr(eq + 1);
        return true;
      }
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string name = a.substr(0, a.find('='));
    if (name == "--db") {
      if (!value(o.db)) return false;
    } else if (name == "--listen") {
      if (!value(o.listen)) return false;
    } else if (name == "--admin-token-file") {
      if (!value(o.adminTokenFile)) return false;
    } else if (name == "--master-key-file") {
      if (!value(o.masterKeys.keyFile)) return false;
    } else if (name == "--previous-master-key-file") {
      if (!value(o.masterKeys.previousKeyFiles.emplace_back())) return false;
    } else if (name == "--tls-cert") {
      if (!value(o.tlsCert)) return false;
    } else if (name == "--tls-key") {
      if (!value(o.tlsKey)) return false;
    } else if (name == "--tls-client-ca") {
      if (!value(o.tlsClientCa)) return false;
    } else if (name == "--allow-plaintext") {
      o.allowPlaintext = true;
    } else if (name == "--dataplane-token-file") {
      if (!value(o.dataPlaneTokenFile)) return false;
    } else if (name == "--allow-unauthenticated-dataplanes") {
      o.allowUnauthenticatedDataPlanes = true;
    } else if (name == "--log-retention-days") {
      std::string v;
      if (!value(v)) return false;
      int64_t days = -1;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), days);
      if (ec != std::errc() || end != v.data() + v.size() || days < 0 || days > 36500) {
        std::cerr << "finops-controlplane: --log-retention-days must be a whole number of days "
                     "from 0 to 36500 (0: keep request logs forever), got '"
                  << v << "'\n";
        return false;
      }
      o.logRetentionDays = days;
    } else if (name == "--log-max-bytes") {
      std::string v;
      if (!value(v)) return false;
      auto bytes = finops::cp::parseByteSize(v);
      if (!bytes) {
        std::cerr << "finops-controlplane: --log-max-bytes must be a whole number of bytes, "
                     "optionally with a K, M or G suffix (1024-based), e.g. 1073741824 or 1G "
                     "(0: no cap), got '"
                  << v << "'\n";
        return false;
      }
      o.logMaxBytes = *bytes;
    } else if (name == "--metrics-listen") {
      if (!value(o.metricsListen)) return false;
      o.metricsListenGiven = true;
    } else if (name == "--log-format") {
      std::string v;
      if (!value(v)) return false;
      if (!finops::log::parseFormat(v, &o.logFormat)) {
        std::cerr << "finops-controlplane: --log-format must be text or json, got '" << v << "'\n";
        return false;
      }
    } else if (name == "--help" || name == "-h") {
      usage();
      std::exit(0);
    } else {
      // The name only: "--flag=value" may carry a secret typed by mistake.
      std::cerr << "finops-controlplane: unknown argument '" << name << "'\n";
      return false;
    }
  }
  return true;
}

// The gRPC server credentials the flags ask for, and the transport mode for the log
// ("plaintext", "tls" or "mtls"). nullptr after printing why when the flags are wrong or a
// file cannot be used (exit 2).
std::shared_ptr<grpc::ServerCredentials> serverCredentials(const Options& o, std::string* mode) {
  const char* self = "finops-controlplane: ";
  if (o.tlsCert.empty() != o.tlsKey.empty()) {
    std::cerr << self << "--tls-cert and --tls-key go together\n";
    return nullptr;
  }
  if (o.tlsCert.empty()) {
    if (!o.tlsClientCa.empty()) {
      std::cerr << self << "--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key\n";
      return nullptr;
    }
    if (!o.allowPlaintext && !finops::isLoopback(o.listen)) {
      std::cerr << self << "refusing to serve plaintext gRPC on " << o.listen
                << ", which is not a loopback address: admin tokens and provider keys would "
                   "cross the network in the clear.\n"
                   "  Pass --tls-cert FILE --tls-key FILE (and --tls-client-ca FILE to require "
                   "client certificates),\n"
                   "  or --allow-plaintext if something else protects the link (e.g. a service "
                   "mesh with mTLS).\n";
      return nullptr;
    }
    *mode = "plaintext";
    return grpc::InsecureServerCredentials();
  }
  std::string error;
  auto creds = finops::makeServerCredentials({o.tlsCert, o.tlsKey, o.tlsClientCa}, &error);
  if (!creds) {
    std::cerr << self << error << "\n";
    return nullptr;
  }
  *mode = o.tlsClientCa.empty() ? "tls" : "mtls";
  return creds;
}

// One line at start saying how data planes authenticate.
void logDataPlaneAuth(const finops::cp::DataPlaneAuth& auth, size_t tokens,
                      const std::string& tokenSource, const Options& o) {
  using namespace finops;
  if (!auth.mutualTls() && auth.open() && isLoopback(o.listen)) {
    log::info(
        "data planes on this host are accepted without a credential (loopback listener, no "
        "--dataplane-token-file); give one before listening on another address",
        {{"listen", o.listen}, {"dataplane_auth", "loopback"}});
  } else if (!auth.mutualTls() && auth.open()) {
    log::warn(
        "accepting data planes WITHOUT any credential (--allow-unauthenticated-dataplanes): "
        "anyone who can reach this port receives every provider API key and can report usage",
        {{"listen", o.listen}, {"dataplane_auth", "none"}});
  } else {
    std::string mode = auth.mutualTls() ? (tokens ? "mtls+token" : "mtls") : "token";
    nlohmann::json fields = {{"dataplane_auth", mode}};
    if (tokens) {
      fields["tokens"] = tokens;
      fields["token_source"] = tokenSource;
    }
    log::info("data planes must authenticate", fields);
    if (o.allowUnauthenticatedDataPlanes)
      log::warn(
          "--allow-unauthenticated-dataplanes has no effect: data planes need a client "
          "certificate or a token");
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace finops;
  Options opt;
  if (!parseArgs(argc, argv, opt)) {
    usage();
    return 2;
  }
  log::setFormat(opt.logFormat);  // before the first log line
  std::string transport;
  auto credentials = serverCredentials(opt, &transport);
  if (!credentials) return 2;
  std::optional<cp::MetricsListen> metricsListen;
  {
    std::string error;
    if (!cp::parseMetricsListen(opt.metricsListen, &metricsListen, &error)) {
      std::cerr << "finops-controlplane: " << error << "\n";
      return 2;
    }
  }
  // Who may receive the config (every provider key) and report usage: decided before anything
  // else starts, and a non-loopback listener with no data-plane credential does not start.
  cp::DataPlaneAuthOptions dpAuthOptions;
  std::string dpTokenSource;
  {
    std::optional<std::string> env;
    if (const char* t = std::getenv(std::string(kDataPlaneTokenEnv).c_str())) env = t;
    std::string error;
    auto tokens =
        loadDataPlaneTokens(opt.dataPlaneTokenFile, env, "--dataplane-token-file", &error);
    if (!tokens) {
      std::cerr << "finops-controlplane: " << error << "\n";
      return 2;
    }
    for (const auto& w : tokens->warnings) log::warn(w);
    dpAuthOptions.tokens = std::move(tokens->tokens);
    dpTokenSource = tokens->source;
  }
  dpAuthOptions.mutualTls = transport == "mtls";
  dpAuthOptions.loopbackOnly = isLoopback(opt.listen);
  dpAuthOptions.allowUnauthenticated = opt.allowUnauthenticatedDataPlanes;
  if (std::string why = cp::dataPlaneAuthStartupError(dpAuthOptions, opt.listen); !why.empty()) {
    std::cerr << "finops-controlplane: " << why << "\n";
    return 2;
  }
  if (opt.adminTokenFile.empty()) {
    auto parent = std::filesystem::path(opt.db).parent_path();
    opt.adminTokenFile = (parent.empty() ? std::filesystem::path(".") : parent) / "admin-token";
  }
  {
    auto parent = std::filesystem::path(opt.db).parent_path();
    opt.masterKeys.generatedKeyFile =
        (parent.empty() ? std::filesystem::path(".") : parent) / "master-key";
    if (const char* k = std::getenv("FINOPS_MASTER_KEY")) opt.masterKeys.keyEnv = k;
    if (const char* k = std::getenv("FINOPS_PREVIOUS_MASTER_KEYS"))
      opt.masterKeys.previousKeysEnv = k;
  }

  // Block termination signals in every thread; main waits for them.
  sigset_t sigs = blockTerminationSignals();

  std::unique_ptr<cp::Store> store;
  try {
    store = std::make_unique<cp::Store>(opt.db);
    if (auto token = store->ensureInitialAdminToken()) {
      if (!writePrivateFile(opt.adminTokenFile, *token + "\n")) {
        log::error("cannot write admin token file", {{"path", opt.adminTokenFile}});
        return 1;
      }
      std::cout << "admin token: " << *token << "\n"
                << "(shown once; also written to " << opt.adminTokenFile << ", mode 0600)"
                << std::endl;
    }
  } catch (const std::exception& e) {
    log::error("cannot open database", {{"path", opt.db}, {"error", e.what()}});
    return 1;
  }
  // Request logs live in the same database (tables of migration 0006), on a connection of
  // their own.
  std::unique_ptr<cp::LogStore> logStore;
  try {
    logStore = std::make_unique<cp::LogStore>(opt.db);
  } catch (const std::exception& e) {
    log::error("cannot open the request log store", {{"path", opt.db}, {"error", e.what()}});
    return 1;
  }
  // Provider keys are encrypted at rest: find the master keys, re-encrypt what needs it.
  try {
    cp::setUpProviderSecrets(*store, opt.masterKeys);
  } catch (const std::exception& e) {
    log::error("cannot set up the master key for provider keys; not starting",
              {{"error", e.what()}});
    return 1;
  }

  cp::Publisher publisher;
  const size_t dpTokenCount = dpAuthOptions.tokens.size();
  cp::DataPlaneAuth dataPlaneAuth(std::move(dpAuthOptions));
  cp::ConfigServiceImpl configService(publisher, dataPlaneAuth);
  cp::AdminServiceImpl adminService(*store, publisher, logStore.get());
  cp::UsageServiceImpl usageService(*store, dataPlaneAuth);
  cp::LogServiceImpl logService(*logStore, dataPlaneAuth);
  cp::LogRetentionOptions retentionOptions;
  retentionOptions.maxAgeMs = opt.logRetentionDays * 24 * 3600 * 1000;
  retentionOptions.maxBytes = opt.logMaxBytes;
  cp::LogRetention logRetention(*logStore, retentionOptions);
  // Prometheus metrics (docs/metrics.md), served on --metrics-listen by a thread of its own.
  metrics::Registry metricsRegistry;
  auto adminCalls = cp::makeAdminCallsFamily(metricsRegistry);
  adminService.setCallCounter(adminCalls.get());
  cp::addConfigMetrics(metricsRegistry, publisher);
  cp::addUsageMetrics(metricsRegistry, usageService);
  cp::addLogMetrics(metricsRegistry, &logService, logStore.get(), &logRetention);
  cp::MetricsServer metricsServer(metricsRegistry);
  if (metricsListen) {
    std::string error;
    if (!metricsServer.start(*metricsListen, &error)) {
      if (opt.metricsListenGiven) {
        log::error("cannot serve metrics",
                   {{"metrics_listen", opt.metricsListen}, {"error", error}});
        return 1;
      }
      log::warn("cannot serve metrics on the default address; running without /metrics (pass "
                "--metrics-listen HOST:PORT, or off)",
                {{"metrics_listen", opt.metricsListen}, {"error", error}});
    } else {
      log::info("metrics listening", {{"address", metricsServer.address()}});
    }
    if (!metricsServer.address().empty() && !isLoopback(metricsServer.address()))
      log::warn("serving /metrics over plaintext HTTP without authentication on a non-loopback "
                "address; keep it on a monitoring network",
                {{"address", metricsServer.address()}});
  }
  try {
    adminService.republish();
  } catch (const std::exception& e) {
    log::error("cannot build the initial snapshot", {{"error", e.what()}});
    return 1;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(opt.listen, credentials, &port);
  builder.RegisterService(&configService);
  builder.RegisterService(&adminService);
  builder.RegisterService(&usageService);
  builder.RegisterService(&logService);
  builder.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  builder.SetMaxSendMessageSize(64 * 1024 * 1024);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    log::error("cannot listen", {{"listen", opt.listen}});
    return 1;
  }
  std::string host = opt.listen.substr(0, opt.listen.rfind(':'));
  log::info("listening on " + host + ":" + std::to_string(port),
            {{"db", opt.db}, {"config_version", store->configVersion()}, {"transport", transport}});
  if (transport == "plaintext" && !isLoopback(opt.listen))
    log::warn("serving plaintext gRPC on a non-loopback address (--allow-plaintext)",
              {{"listen", opt.listen}});
  logDataPlaneAuth(dataPlaneAuth, dpTokenCount, dpTokenSource, opt);
  logRetention.start();
  log::info("request log retention",
            {{"max_age_days", opt.logRetentionDays}, {"max_bytes", opt.logMaxBytes}});

  int sig = waitForSignal(sigs);
  log::info("shutting down", {{"signal", sig}});
  publisher.shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  metricsServer.stop();
  logRetention.stop();
  return 0;
}
