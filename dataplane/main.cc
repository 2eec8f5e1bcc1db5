// finops-dataplane: the stateless OpenAI-compatible gateway. Wires the config subscriber
// and the HTTP server together.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "common/crypto.h"
#include "common/log.h"
#include "common/process.h"
#include "dataplane/config/subscriber.h"
#include "dataplane/governance/governance.h"
#include "dataplane/server/server.h"

namespace {

struct Options {
  std::string controlPlane = "127.0.0.1:50051";
  std::string listen = "0.0.0.0:8080";
  std::string nodeId;
  int drainTimeoutSeconds = 30;
  finops::dp::ServerOptions server;
};

void usage() {
  std::cerr
      << "usage: finops-dataplane [options]\n"
         "  --control-plane HOST:PORT  control plane gRPC address (default 127.0.0.1:50051)\n"
         "  --listen HOST:PORT         HTTP listen address (default 0.0.0.0:8080; port 0 picks one)\n"
         "  --threads N                worker threads (default: one per core)\n"
         "  --node-id ID               name reported to the control plane (default: hostname-pid)\n"
         "  --max-body-bytes N         request body limit (default 4194304)\n"
         "  --drain-timeout SECONDS    on SIGTERM, wait this long for in-flight requests (default 30)\n"
         "  --upstream-timeout SECONDS wait for an upstream's answer / next stream piece (default 600)\n"
         "  --upstream-ca-file PATH    extra CA bundle trusted for upstream TLS\n"
         "  --access-log on|off        one JSON line per request on stderr (default on)\n";
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
    if (name == "--help" || name == "-h") {
      usage();
      std::exit(0);
    } else if (name == "--control-plane") {
      if (!value()) return false;
      o.controlPlane = v;
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
    } else if (name == "--access-log") {
      if (!value() || (v != "on" && v != "off")) return false;
      o.server.accessLog = v == "on";
    } else {
      std::cerr << "finops-dataplane: unknown argument '" << a << "'\n";
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
  if (opt.nodeId.empty()) {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    opt.nodeId = std::string(host) + "-" + std::to_string(::getpid());
  }
  sigset_t sigs = blockTerminationSignals();

  dp::ConfigStore config;
  dp::Subscriber subscriber(opt.controlPlane, opt.nodeId, config);
  subscriber.start();

  dp::Governance governance;
  governance.nodeName = opt.nodeId;
  dp::ReporterOptions ro;
  ro.target = opt.controlPlane;
  ro.nodeName = opt.nodeId;
  governance.reporter = std::make_unique<dp::Reporter>(ro, governance.quota, config);
  governance.reporter->start();
  opt.server.governance = &governance;

  dp::Server server(opt.server, config);
  std::string error;
  if (!server.start(&error)) {
    log::error("cannot start", {{"error", error}});
    governance.reporter->stopAndFlush(std::chrono::milliseconds(0));
    subscriber.stop();
    return 1;
  }
  std::string shownHost = opt.server.host.find(':') != std::string::npos
                              ? "[" + opt.server.host + "]"
                              : opt.server.host;
  log::info("listening on " + shownHost + ":" + std::to_string(server.port()),
            {{"control_plane", opt.controlPlane}, {"node_id", opt.nodeId}});

  int sig = waitForSignal(sigs);
  log::info("draining", {{"signal", sig}, {"deadline_seconds", opt.drainTimeoutSeconds}});
  server.drainAndStop(std::chrono::seconds(opt.drainTimeoutSeconds));
  // Every finished request's usage goes to the control plane before we exit.
  governance.reporter->stopAndFlush(std::chrono::seconds(10));
  subscriber.stop();
  log::info("stopped");
  return 0;
}
