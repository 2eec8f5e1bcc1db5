// finops-dataplane: the stateless OpenAI-compatible gateway. Wires the config subscriber
// and the HTTP server together.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "common/crypto.h"
#include "common/dataplane_token.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/process.h"
#include "dataplane/config/subscriber.h"
#include "dataplane/governance/governance.h"
#include "dataplane/logs/shipper.h"
#include "dataplane/logs/ui.h"
#include "dataplane/server/server.h"
#include "dataplane/translate/json_util.h"

namespace {

struct Options {
  std::string controlPlane = "127.0.0.1:50051";
  std::string listen = "127.0.0.1:8080";
  // Listener TLS (PEM files); both or neither.
  std::string tlsCert;
  std::string tlsKey;
  std::string nodeId;
  int drainTimeoutSeconds = 30;
  // Plaintext (no TLS) on a non-loopback address, for the HTTP listener and the control-plane
  // link, only when this is set.
  bool allowPlaintext = false;
  // The control plane link (--control-plane-ca/-cert/-key/-server-name): TLS when any is set
  // or the address is https://HOST:PORT.
  finops::ClientTlsOptions controlPlaneTls;
  // The data-plane token sent to the control plane (--control-plane-token-file, or
  // FINOPS_DATAPLANE_TOKEN): the first token of the file.
  std::string controlPlaneTokenFile;
  finops::dp::ServerOptions server;
  finops::log::Format logFormat = finops::log::defaultFormat();  // --log-format
  // Request logs held for shipping (--log-buffer-records, --log-buffer-bytes); the content
  // limit is server.logContentMaxBytes.
  size_t logBufferRecords = 10000;
  size_t logBufferBytes = 64 << 20;
};

void usage() {
  std::cerr
      << "usage: finops-dataplane [options]\n"
         "  --control-plane HOST:PORT  control plane gRPC address (default 127.0.0.1:50051;\n"
         "                             https://HOST:PORT: TLS trusting the system roots)\n"
         "  --control-plane-ca FILE    PEM CA bundle that signed the control plane's certificate\n"
         "                             (turns on TLS for the control plane link)\n"
         "  --control-plane-cert FILE  PEM client certificate for mutual TLS (with -key)\n"
         "  --control-plane-key FILE   PEM private key of --control-plane-cert\n"
         "  --control-plane-server-name NAME  name expected in the control plane's certificate\n"
         "                             (default: the host of --control-plane)\n"
         "  --control-plane-token-file FILE  data-plane token to present to the control plane\n"
         "                             (its first token; read at start; or env\n"
         "                             FINOPS_DATAPLANE_TOKEN)\n"
         "  --listen HOST:PORT         HTTP listen address (default 127.0.0.1:8080; port 0 picks one)\n"
         "  --tls-cert FILE            serve HTTPS with this PEM certificate chain (leaf first)\n"
         "  --tls-key FILE             ... and this PEM private key (reloaded on SIGHUP and when\n"
         "                             the files change)\n"
         "  --threads N                worker threads (default: one per core)\n"
         "  --node-id ID               name reported to the control plane (default: hostname-pid)\n"
         "  --max-body-bytes N         request body limit (default 4194304; larger: 413)\n"
         "  --max-header-bytes N       request header limit (default 65536; larger: 431)\n"
         "  --max-json-depth N         JSON body nesting limit (default 64; deeper: 400)\n"
         "  --max-messages N           messages/contents per request (default 4096; more: 400)\n"
         "  --max-connections N        open client connections (default 8192; more: 503)\n"
         "  --idle-timeout SECONDS     keep-alive wait for a request's first byte (default 60)\n"
         "  --header-timeout SECONDS   first byte to end of header, and TLS handshake (default 10)\n"
         "  --body-timeout SECONDS     end of header to end of body (default 60)\n"
         "  --drain-timeout SECONDS    on SIGTERM, wait this long for in-flight requests (default 30)\n"
         "  --upstream-timeout SECONDS wait for an upstream's answer / next stream piece (default 600)\n"
         "  --upstream-ca-file PATH    extra CA bundle trusted for upstream TLS\n"
         "  --access-log on|off        one line per request on stderr (default on)\n"
         "  --log-format text|json     log lines on stderr as text or as JSON objects (default text,\n"
         "                             or FINOPS_LOG_FORMAT when set)\n"
         "  --log-buffer-records N     request-log records held for shipping to the control plane\n"
         "                             (default 10000; more are dropped and counted)\n"
         "  --log-buffer-bytes N       bytes of request-log records held, content included\n"
         "                             (default 67108864)\n"
         "  --log-content-max-bytes N  request and response content are each cut to N bytes in\n"
         "                             the request log (default 65536, at most 4194304; 0: no\n"
         "                             content)\n"
         "  --allow-plaintext          allow plaintext HTTP and gRPC on non-loopback addresses\n";
}

bool parseNumber(const std::string& s, long long min, long long max, long long& out) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || end == s.c_str() || *end || v < min || v > max) return false;
  out = v;
  return true;
}

bool parseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string name = a.substr(0, a.find('='));
    std::string v;
    bool hasEq = a.find('=') != std::string::npos;
    auto value = [&]() -> bool {
      if (hasEq) {
        v = a.substr(a.find('=') + 1);
        return true;
      }
      if (i + 1 >= argc) {
        std::cerr << "finops-dataplane: " << name << " needs a value\n";
        return false;
      }
      v = argv[++i];
      return true;
    };
    long long n = 0;
    // A number flag with a clear message when it is not one in [min, max].
    auto inRange = [&](const std::string& text, long long min, long long max, long long& out) {
      if (parseNumber(text, min, max, out)) return true;
      std::cerr << "finops-dataplane: " << name << " must be a whole number from " << min
                << " to " << max << ", got '" << text << "'\n";
      return false;
    };
    if (name == "--help" || name == "-h") {
      usage();
      std::exit(0);
    } else if (name == "--control-plane") {
      if (!value()) return false;
      o.controlPlane = v;
    } else if (name == "--control-plane-ca") {
      if (!value()) return false;
      o.controlPlaneTls.caFile = v;
    } else if (name == "--control-plane-cert") {
      if (!value()) return false;
      o.controlPlaneTls.certFile = v;
    } else if (name == "--control-plane-key") {
      if (!value()) return false;
      o.controlPlaneTls.keyFile = v;
    } else if (name == "--control-plane-server-name") {
      if (!value()) return false;
      o.controlPlaneTls.serverName = v;
    } else if (name == "--control-plane-token-file") {
      if (!value()) return false;
      o.controlPlaneTokenFile = v;
    } else if (name == "--listen") {
      if (!value()) return false;
      o.listen = v;
    } else if (name == "--node-id") {
      if (!value()) return false;
      o.nodeId = v;
    } else if (name == "--threads") {
      if (!value() || !parseNumber(v, 1, 256, n)) return false;
      o.server.threads = static_cast<int>(n);
    } else if (name == "--max-body-bytes") {
      if (!value() || !parseNumber(v, 1024, 1LL << 31, n)) return false;
      o.server.maxBodyBytes = static_cast<size_t>(n);
    } else if (name == "--drain-timeout") {
      if (!value() || !parseNumber(v, 0, 3600, n)) return false;
      o.drainTimeoutSeconds = static_cast<int>(n);
    } else if (name == "--upstream-timeout") {
      if (!value() || !parseNumber(v, 1, 86400, n)) return false;
      o.server.upstream.readTimeout = std::chrono::seconds(n);
    } else if (name == "--upstream-ca-file") {
      if (!value()) return false;
      o.server.upstreamCaFile = v;
    } else if (name == "--allow-plaintext") {
      o.allowPlaintext = true;
    } else if (name == "--tls-cert") {
      if (!value()) return false;
      o.tlsCert = v;
    } else if (name == "--tls-key") {
      if (!value()) return false;
      o.tlsKey = v;
    } else if (name == "--max-header-bytes") {
      if (!value() || !inRange(v, 1024, 16LL << 20, n)) return false;
      o.server.maxHeaderBytes = static_cast<size_t>(n);
    } else if (name == "--max-json-depth") {
      // At most the translators' own bound (they parse the body again with it).
      if (!value() || !inRange(v, 1, finops::dp::kMaxJsonDepth, n)) return false;
      o.server.maxJsonDepth = static_cast<int>(n);
    } else if (name == "--max-messages") {
      if (!value() || !inRange(v, 1, 10'000'000, n)) return false;
      o.server.maxMessages = static_cast<size_t>(n);
    } else if (name == "--max-connections") {
      if (!value() || !inRange(v, 1, 10'000'000, n)) return false;
      o.server.maxConnections = static_cast<size_t>(n);
    } else if (name == "--idle-timeout") {
      if (!value() || !inRange(v, 1, 86400, n)) return false;
      o.server.idleTimeout = std::chrono::seconds(n);
    } else if (name == "--header-timeout") {
      if (!value() || !inRange(v, 1, 3600, n)) return false;
      o.server.headerTimeout = std::chrono::seconds(n);
    } else if (name == "--body-timeout") {
      if (!value() || !inRange(v, 1, 86400, n)) return false;
      o.server.bodyTimeout = std::chrono::seconds(n);
    } else if (name == "--access-log") {
      if (!value() || (v != "on" && v != "off")) return false;
      o.server.accessLog = v == "on";
    } else if (name == "--log-format") {
      if (!value()) return false;
      if (!finops::log::parseFormat(v, &o.logFormat)) {
        std::cerr << "finops-dataplane: --log-format must be text or json, got '" << v << "'\n";
        return false;
      }
    } else if (name == "--log-buffer-records") {
      if (!value() || !inRange(v, 1, 10'000'000, n)) return false;
      o.logBufferRecords = static_cast<size_t>(n);
    } else if (name == "--log-buffer-bytes") {
      if (!value() || !inRange(v, 1024, 1LL << 40, n)) return false;
      o.logBufferBytes = static_cast<size_t>(n);
    } else if (name == "--log-content-max-bytes") {
      // At most 4 MiB: a record (both contents) must fit in one Ship call the control plane
      // accepts (16 MiB).
      if (!value() || !inRange(v, 0, 4LL << 20, n)) return false;
      o.server.logContentMaxBytes = static_cast<size_t>(n);
    } else {
      // The name only: "--flag=value" may carry a secret typed by mistake.
      std::cerr << "finops-dataplane: unknown argument '" << name << "'\n";
      return false;
    }
  }
  auto colon = o.listen.rfind(':');
  long long port = 0;
  if (colon == std::string::npos || !parseNumber(o.listen.substr(colon + 1), 0, 65535, port)) {
    std::cerr << "finops-dataplane: --listen must be HOST:PORT\n";
    return false;
  }
  o.server.host = o.listen.substr(0, colon);
  if (o.server.host.size() > 2 && o.server.host.front() == '[')
    o.server.host = o.server.host.substr(1, o.server.host.size() - 2);
  o.server.port = static_cast<uint16_t>(port);
  if (o.server.host == "localhost") o.server.host = "127.0.0.1";
  if (o.tlsCert.empty() != o.tlsKey.empty()) {
    std::cerr << "finops-dataplane: --tls-cert and --tls-key go together\n";
    return false;
  }
  return true;
}

// Each connection holds a file descriptor: lift the soft limit to the hard one, and warn when
// --max-connections cannot be reached (accept then fails and is retried every 100 ms).
void raiseFileLimit(size_t maxConnections) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  // Each client connection, plus its upstream connection, plus some for everything else.
  rlim_t wanted = static_cast<rlim_t>(maxConnections) * 2 + 256;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted)
    finops::log::warn("the open-file limit is below what --max-connections needs",
                      {{"limit", static_cast<uint64_t>(rl.rlim_cur)},
                       {"max_connections", maxConnections},
                       {"wanted", static_cast<uint64_t>(wanted)}});
}

// Plaintext HTTP only where it cannot be sniffed, unless the operator says otherwise.
bool plaintextAllowed(const Options& o) {
  if (!o.tlsCert.empty() || o.allowPlaintext || finops::isLoopback(o.server.host)) return true;
  std::cerr << "finops-dataplane: refusing to serve plaintext HTTP on " << o.listen
            << ", which is not a loopback address: virtual keys and prompts would cross the "
               "network in the clear.\n"
               "  Pass --tls-cert FILE --tls-key FILE to serve HTTPS,\n"
               "  or --allow-plaintext if TLS is terminated in front of the data plane (an "
               "ingress or load balancer).\n";
  return false;
}

// Waits for SIGTERM/SIGINT and returns it. Meanwhile SIGHUP reloads the listener certificate,
// and every 10 s the certificate files are checked for changes.
int waitForStop(const sigset_t& sigs, finops::dp::ListenerTls* tls) {
  for (;;) {
    timespec every{10, 0};
    int sig = ::sigtimedwait(&sigs, nullptr, tls ? &every : nullptr);
    if (sig < 0) {
      if (tls) tls->reloadIfChanged();  // EAGAIN: the 10 s passed (or EINTR)
      continue;
    }
    if (sig != SIGHUP) return sig;
    if (tls)
      tls->reload("SIGHUP");
    else
      finops::log::info("SIGHUP: nothing to reload (no --tls-cert)");
  }
}

// How the data plane reaches the control plane: TLS (mutual with a client certificate) when the
// flags or an https:// address ask for it; plaintext only to a loopback address unless
// --allow-plaintext. Strips the scheme off o.controlPlane. False after printing why (exit 2).
bool controlPlaneLink(Options& o, finops::ChannelSecurity* out) {
  const char* self = "finops-dataplane: ";
  const auto& c = o.controlPlaneTls;
  bool flags = !c.caFile.empty() || !c.certFile.empty() || !c.keyFile.empty() ||
               !c.serverName.empty();
  bool tls = flags;
  std::string given = o.controlPlane;
  o.controlPlane = finops::stripAddressScheme(given, &tls);
  if (o.controlPlane.empty()) {
    std::cerr << self << "--control-plane is empty\n";
    return false;
  }
  if (flags && !tls) {
    std::cerr << self << "--control-plane " << given
              << " says plaintext (http://) but --control-plane-ca/-cert/-key/-server-name ask "
                 "for TLS\n";
    return false;
  }
  if (tls) {
    std::string error;
    auto security = finops::makeChannelSecurity(c, &error);
    if (!security) {
      std::cerr << self << "control plane TLS: " << error
                << " (--control-plane-ca/-cert/-key)\n";
      return false;
    }
    *out = *security;
    return true;
  }
  if (!o.allowPlaintext && !finops::isLoopback(o.controlPlane)) {
    std::cerr << self << "refusing a plaintext link to the control plane at " << o.controlPlane
              << ", which is not a loopback address: provider API keys and usage would cross "
                 "the network in the clear.\n"
                 "  Pass --control-plane-ca FILE to use TLS (and --control-plane-cert FILE "
                 "--control-plane-key FILE if the control plane requires client certificates),\n"
                 "  or --control-plane https://HOST:PORT to trust the system's roots,\n"
                 "  or --allow-plaintext if something else protects the link (e.g. a service "
                 "mesh with mTLS).\n";
    return false;
  }
  *out = {};
  return true;
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
  if (!plaintextAllowed(opt)) return 2;
  if (opt.nodeId.empty()) {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    opt.nodeId = std::string(host) + "-" + std::to_string(::getpid());
  }
  sigset_t sigs = blockTerminationSignals();
  // SIGHUP reloads the listener certificate (waitForStop); blocked here before any thread
  // starts, so that every thread inherits the mask.
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  raiseFileLimit(opt.server.maxConnections);

  if (!opt.tlsCert.empty()) {
    opt.server.tls = std::make_shared<dp::ListenerTls>(opt.tlsCert, opt.tlsKey);
    std::string tlsError;
    if (!opt.server.tls->load(&tlsError)) {
      std::cerr << "finops-dataplane: " << tlsError << "\n";
      return 2;
    }
  }

  ChannelSecurity controlPlaneSecurity;
  if (!controlPlaneLink(opt, &controlPlaneSecurity)) return 2;
  std::string controlPlaneToken;  // SECRET
  {
    std::optional<std::string> env;
    if (const char* t = std::getenv(std::string(kDataPlaneTokenEnv).c_str())) env = t;
    std::string error;
    auto tokens =
        loadDataPlaneTokens(opt.controlPlaneTokenFile, env, "--control-plane-token-file", &error);
    if (!tokens) {
      std::cerr << "finops-dataplane: " << error << "\n";
      return 2;
    }
    for (const auto& w : tokens->warnings) log::warn(w);
    if (!tokens->tokens.empty()) controlPlaneToken = tokens->tokens.front();
    if (tokens->tokens.size() > 1)
      log::info("the data-plane token source holds several tokens; sending the first",
                {{"source", tokens->source}, {"tokens", tokens->tokens.size()}});
  }
  log::info("control plane link", {{"control_plane", opt.controlPlane},
                                   {"transport", controlPlaneSecurity.mode()},
                                   {"token", controlPlaneToken.empty() ? "none" : "given"}});
  if (!controlPlaneSecurity.tls() && !isLoopback(opt.controlPlane))
    log::warn("plaintext link to a non-loopback control plane (--allow-plaintext)",
              {{"control_plane", opt.controlPlane}});

  dp::ConfigStore config;
  dp::Subscriber subscriber(opt.controlPlane, opt.nodeId, config, controlPlaneSecurity,
                            controlPlaneToken);
  subscriber.start();

  dp::Governance governance;
  governance.nodeName = opt.nodeId;
  dp::ReporterOptions ro;
  ro.target = opt.controlPlane;
  ro.nodeName = opt.nodeId;
  ro.security = controlPlaneSecurity;
  ro.token = controlPlaneToken;
  governance.reporter = std::make_unique<dp::Reporter>(ro, governance.quota, config);
  governance.reporter->start();
  opt.server.governance = &governance;

  // Request logs: shipped to the control plane from a thread of their own (best effort).
  dp::logs::ShipperOptions so;
  so.target = opt.controlPlane;
  so.security = controlPlaneSecurity;
  so.token = controlPlaneToken;
  so.nodeId = governance.reporter->nodeId();
  so.maxRecords = opt.logBufferRecords;
  so.maxBytes = opt.logBufferBytes;
  so.maxContentBytes = opt.server.logContentMaxBytes;
  dp::logs::Shipper logShipper(so);
  logShipper.start();
  opt.server.logShipper = &logShipper;

  // The /logs page: asks the control plane with the caller's admin token (never this data
  // plane's token). Declared before the server, which points to it.
  dp::logs::LogsApiOptions logsOptions;
  logsOptions.target = opt.controlPlane;
  logsOptions.security = controlPlaneSecurity;
  dp::logs::LogsApi logsApi(logsOptions);
  opt.server.logsApi = &logsApi;

  dp::Server server(opt.server, config);
  std::string error;
  if (!server.start(&error)) {
    log::error("cannot start", {{"error", error}});
    governance.reporter->stopAndFlush(std::chrono::milliseconds(0));
    logShipper.stopAndFlush(std::chrono::milliseconds(0));
    subscriber.stop();
    return 1;
  }
  std::string shownHost = opt.server.host.find(':') != std::string::npos
                              ? "[" + opt.server.host + "]"
                              : opt.server.host;
  log::info(std::string("listening on ") + (opt.server.tls ? "https://" : "") + shownHost + ":" +
                std::to_string(server.port()),
            {{"control_plane", opt.controlPlane},
             {"node_id", opt.nodeId},
             {"tls", opt.server.tls != nullptr}});

  int sig = waitForStop(sigs, opt.server.tls.get());
  log::info("draining", {{"signal", sig}, {"deadline_seconds", opt.drainTimeoutSeconds}});
  server.drainAndStop(std::chrono::seconds(opt.drainTimeoutSeconds));
  // Every finished request's usage goes to the control plane before we exit.
  governance.reporter->stopAndFlush(std::chrono::seconds(10));
  // Request logs are best effort: a short flush, then what is left is lost (and logged).
  logShipper.stopAndFlush(std::chrono::seconds(2));
  subscriber.stop();
  log::info("stopped");
  return 0;
}
