// One HTTP request/response exchange on a client connection, as seen by route handlers.
// Lives on the connection's worker thread for the duration of one request.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>

#include "dataplane/config/snapshot.h"
#include "dataplane/governance/governance.h"
#include "dataplane/server/client_stream.h"
#include "dataplane/translate/translator.h"
#include "dataplane/upstream/client.h"

namespace finops::dp {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct ServerOptions;

struct Exchange {
  ClientStream& stream;  // plain TCP or TLS; timeouts via stream.expires_after
  beast::flat_buffer& buffer;  // the connection's read buffer
  http::request<http::string_body>& req;
  upstream::Pool& pool;
  std::string requestId;
  std::shared_ptr<const ConfigSnapshot> config;  // loaded once per request
  const KeyEntry* key = nullptr;                 // the authenticated virtual key, if any
  Governance* gov = nullptr;                     // null: no budgets, limits or usage
  Dialect dialect = Dialect::kOpenAI;            // how errors are rendered
  // Extra headers for the response (rate-limit headers, retry hints).
  std::vector<std::pair<std::string, std::string>> responseHeaders;
  // CORS headers every response to this request carries (set by dispatch for an allowed Origin).
  std::vector<std::pair<std::string, std::string>> corsHeaders;

  // Outcome, for the access log, the request log and the metrics.
  unsigned status = 0;
  std::string model;
  std::string provider;
  bool streamed = false;
  bool keepAlive = true;  // false: close the connection after this exchange
  std::string errorType;  // the code of the error the client got ("" when none)

  // Timing. start: the request has been read; upstreamWait: time spent waiting on the
  // upstream (x-finops-overhead-us = elapsed - upstreamWait); firstContent: a stream's first
  // content reached the client.
  std::chrono::steady_clock::time_point start{};
  std::chrono::steady_clock::duration upstreamWait{};
  std::chrono::steady_clock::time_point firstContent{};
  int64_t overheadUs = -1;  // as sent in x-finops-overhead-us (-1: not sent yet)

  // What the request used and cost (set when an admitted request is charged).
  Usage usage;
  int64_t costNano = 0;
  bool charged = false;

  // Request-log content: on when the settings, the key and the request allow it; then what
  // the client was sent is kept here, cut to the --log-content-max-bytes.
  bool logContent = false;
  std::string logResponse;
  bool logTruncated = false;
  // Appends what was sent to the client to logResponse (when logContent).
  void keepForLog(std::string_view sent);
  // The server's options (limits); null in tests that build an Exchange by hand.
  const ServerOptions* server = nullptr;
};

// Microseconds of the gateway's own time so far (elapsed less upstream waiting); also stores
// it in ex.overheadUs.
int64_t overheadNow(Exchange& ex);

// Writes a complete response (adds x-request-id, x-finops-overhead-us, keep-alive,
// content-length).
net::awaitable<void> sendResponse(Exchange& ex, http::response<http::string_body>& res);
net::awaitable<void> sendJson(Exchange& ex, unsigned status, std::string body);
net::awaitable<void> sendError(Exchange& ex, const ApiError& error);

}  // namespace finops::dp
