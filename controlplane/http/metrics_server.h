// The control plane's small plaintext HTTP server for monitoring (--metrics-listen):
//   GET /metrics  -> 200 Prometheus text format 0.0.4 (metrics::Registry::render())
//   GET /healthz  -> 200 {"status":"ok"}
//   other methods on those paths -> 405; any other path -> 404; both in the OpenAI error shape.
// HTTP/1.1 with keep-alive, on one thread of its own. Limits: request header 16 KiB (431 beyond),
// body 16 KiB (413), each request must arrive within the read timeout (10 s; an idle keep-alive
// connection is closed after it too), at most 64 connections (a connection beyond is closed at
// once). No TLS and no authentication: what it serves is counts, never secrets, but bind it to a
// monitoring network only.
//
// Thread-safety: start() and stop() from one thread (main); connections() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/metrics.h"

namespace finops::cp {

struct MetricsListen {
  std::string host;   // an IP address (IPv6 without brackets) or a host name
  uint16_t port = 0;  // 0: the system picks a free port
};

// Parses a --metrics-listen value: "HOST:PORT" ("[::1]:9091" for IPv6) with PORT in 0..65535,
// or "off". True with *out = nullopt for "off"; false with *error for anything malformed.
bool parseMetricsListen(std::string_view text, std::optional<MetricsListen>* out,
                        std::string* error);

struct MetricsServerOptions {
  size_t maxConnections = 64;                     // open connections; one more is closed at once
  uint32_t maxHeaderBytes = 16 * 1024;            // request line + headers (431 beyond)
  uint64_t maxBodyBytes = 16 * 1024;              // request body, read and ignored (413 beyond)
  std::chrono::milliseconds readTimeout{10'000};  // one whole request, and keep-alive idle time
  std::chrono::milliseconds writeTimeout{10'000};
};

class MetricsServer {
 public:
  // `registry` must outlive the server; render() runs on the server's thread.
  explicit MetricsServer(const metrics::Registry& registry, MetricsServerOptions options = {});
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds (a host name is resolved now; its first address is used) and starts serving on a
  // thread of its own. False with *error ("cannot listen on HOST:PORT: ...") when it cannot;
  // call at most once.
  bool start(const MetricsListen& listen, std::string* error);

  // The bound address, "127.0.0.1:9091" or "[::1]:9091" (after a successful start()).
  const std::string& address() const { return address_; }

  // Stops accepting, closes every connection and joins the thread. Idempotent.
  void stop();

  // Connections open now.
  size_t connections() const { return connections_.load(); }

  struct Impl;  // the server's I/O state (metrics_server.cc)

 private:
  const metrics::Registry& registry_;
  const MetricsServerOptions options_;
  std::string address_;
  std::atomic<size_t> connections_{0};
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace finops::cp
