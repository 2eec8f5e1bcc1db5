// The data plane's HTTP server: one io_context per worker thread, each with its own
// SO_REUSEPORT acceptor and upstream connection pool, so a request never leaves its thread.
#pragma once

#include <atomic>
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/config/snapshot.h"
#include "dataplane/governance/governance.h"
#include "dataplane/upstream/client.h"

namespace finops::dp {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;                   // 0: pick a free port
  int threads = 0;                        // 0: one per core
  size_t maxBodyBytes = 4 * 1024 * 1024;  // larger request bodies get 413
  size_t maxHeaderBytes = 64 * 1024;      // larger request headers get 431
  std::chrono::seconds idleTimeout{60};   // keep-alive idle / request read timeout
  bool accessLog = true;                  // one JSON line per request on stderr
  std::string upstreamCaFile;             // extra CA bundle for upstream TLS
  upstream::Options upstream;
  Governance* governance = nullptr;       // budgets, rate limits, usage reporting
};

class Server {
 public:
  Server(ServerOptions options, ConfigStore& config);
  ~Server();

  // Binds and starts the worker threads. Returns false and fills `error` on failure.
  bool start(std::string* error);
  uint16_t port() const { return boundPort_; }

  // Stops accepting, lets in-flight requests finish until `deadline`, then stops.
  void drainAndStop(std::chrono::steady_clock::duration deadline);

  struct Worker;

 private:
  ServerOptions options_;
  ConfigStore& config_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::vector<std::unique_ptr<Worker>> workers_;
  uint16_t boundPort_ = 0;
};

// Counters shared by all workers.
struct ServerStats {
  std::atomic<int64_t> inFlight{0};
  std::atomic<int64_t> connections{0};
  std::atomic<bool> draining{false};
};
ServerStats& serverStats();

}  // namespace finops::dp
