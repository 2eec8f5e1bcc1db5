// One HTTP request/response exchange on a client connection, as seen by route handlers.
// Lives on the connection's worker thread for the duration of one request.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
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

  // Outcome, for the access log.
  unsigned status = 0;
  std::string model;
  std::string provider;
  bool streamed = false;
  bool keepAlive = true;  // false: close the connection after this exchange
  // The server's options (limits); null in tests that build an Exchange by hand.
  const ServerOptions* server = nullptr;
};

// Writes a complete response (adds x-request-id, keep-alive, content-length).
net::awaitable<void> sendResponse(Exchange& ex, http::response<http::string_body>& res);
net::awaitable<void> sendJson(Exchange& ex, unsigned status, std::string body);
net::awaitable<void> sendError(Exchange& ex, const ApiError& error);

}  // namespace finops::dp
