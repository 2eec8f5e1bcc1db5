// The data plane's HTTP server: one io_context per worker thread, each with its own upstream
// connection pool. One listening socket hands connections to the workers in turn; a connection
// and its requests never leave their worker's thread.
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
#include "dataplane/server/listener_tls.h"
#include "dataplane/upstream/client.h"

namespace finops::dp {

namespace logs {
class Shipper;
class LogsApi;
}  // namespace logs

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                   // 0: pick a free port
  int threads = 0;                        // 0: one per core
  // Listener TLS (--tls-cert/--tls-key); null: plaintext HTTP. Connections take the current
  // context when accepted.
  std::shared_ptr<ListenerTls> tls;

  // Limits against hostile input. What a client sees when it passes one is in docs/security.md.
  size_t maxBodyBytes = 4 * 1024 * 1024;  // larger request bodies get 413
  size_t maxHeaderBytes = 64 * 1024;      // larger request headers get 431
  int maxJsonDepth = 64;                  // deeper JSON bodies get 400 json_too_deep
  size_t maxMessages = 4096;              // longer messages/contents arrays: 400 too_many_messages
  // Open client connections, over all workers; beyond it a connection gets 503
  // too_many_connections and is closed.
  size_t maxConnections = 8192;
  // Keep-alive: how long a connection may wait for the first byte of its next request.
  std::chrono::seconds idleTimeout{60};
  // From the first byte of a request to the end of its header (and for the TLS handshake).
  std::chrono::seconds headerTimeout{10};
  // From the end of the header to the end of the body.
  std::chrono::seconds bodyTimeout{60};
  bool accessLog = true;                  // one JSON line per request on stderr
  std::string upstreamCaFile;             // extra CA bundle for upstream TLS
  upstream::Options upstream;
  Governance* governance = nullptr;       // budgets, rate limits, usage reporting

  // Request logs (docs/observability.md). Null: no records are kept.
  logs::Shipper* logShipper = nullptr;
  // --log-content-max-bytes: request and response content are each cut to this; 0: no content.
  size_t logContentMaxBytes = 64 * 1024;
  // The /logs page and its API; null: /logs answers 404.
  logs::LogsApi* logsApi = nullptr;
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

// Counters shared by all workers (served at /metrics; docs/metrics.md lists them).
struct ServerStats {
  std::atomic<int64_t> inFlight{0};
  std::atomic<int64_t> connections{0};
  std::atomic<bool> draining{false};
  // Connections turned away at accept: over --max-connections (answered 503) and, past
  // that, while too many refusals are already being answered (closed at once).
  std::atomic<int64_t> refusedMaxConnections{0};
  std::atomic<int64_t> refusing{0};  // refusals being answered now
  // Clients cut off for being too slow, by phase.
  std::atomic<int64_t> timeoutsHandshake{0};
  std::atomic<int64_t> timeoutsHeader{0};
  std::atomic<int64_t> timeoutsBody{0};
  std::atomic<int64_t> tlsHandshakeFailures{0};
  // Requests refused by a limit, by reason.
  std::atomic<int64_t> rejectedHeaderTooLarge{0};
  std::atomic<int64_t> rejectedBodyTooLarge{0};
  std::atomic<int64_t> rejectedJsonTooDeep{0};
  std::atomic<int64_t> rejectedTooManyMessages{0};
  std::atomic<int64_t> rejectedMalformed{0};
};
ServerStats& serverStats();

}  // namespace finops::dp
