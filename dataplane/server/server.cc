#include "dataplane/server/server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <random>

#include "common/log.h"
#include "dataplane/governance/rules.h"
#include "dataplane/logs/record.h"
#include "dataplane/logs/ui.h"
#include "dataplane/routes/openai.h"
#include "dataplane/server/cors.h"
#include "dataplane/server/exchange.h"
#include "dataplane/server/request_route.h"
#include "dataplane/stats/request_stats.h"

namespace finops::dp {

using net::redirect_error;
using net::use_awaitable;
using tcp = net::ip::tcp;

ServerStats& serverStats() {
  static ServerStats s;
  return s;
}

struct Server::Worker {
  net::io_context ioc{1};
  std::unique_ptr<upstream::Pool> pool;
  // Keeps run() going while the worker has no connection yet.
  net::executor_work_guard<net::io_context::executor_type> busy{ioc.get_executor()};
  std::optional<tcp::acceptor> acceptor;  // worker 0 only
  std::thread thread;
};

namespace {

std::string newRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t a = rng(), b = rng();
  std::string id = "req_";
  id.reserve(36);
  for (int i = 0; i < 16; ++i) id.push_back(kHex[(a >> (i * 4)) & 15]);
  for (int i = 0; i < 16; ++i) id.push_back(kHex[(b >> (i * 4)) & 15]);
  return id;
}

net::awaitable<void> handleReadyz(Exchange& ex, ConfigStore& store) {
  auto cfg = store.get();
  bool draining = serverStats().draining.load();
  nlohmann::json j;
  j["ready"] = cfg != nullptr && !draining;
  j["config_version"] = cfg ? cfg->version : 0;
  j["control_plane"] = store.connected() ? "connected" : "disconnected";
  j["degraded"] = !store.connected();
  j["config_age_seconds"] = store.configAgeSeconds();
  if (draining) j["draining"] = true;
  co_await sendJson(ex, j["ready"].get<bool>() ? 200 : 503, j.dump());
}

// Prometheus text format. The governance counters for now (docs/metrics.md lists them).
net::awaitable<void> handleMetrics(Exchange& ex, ConfigStore& store) {
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, int64_t v) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    out.append(name).append(" ").append(std::to_string(v)).append("\n");
  };
  // One series per label value, under one HELP/TYPE.
  auto labelled = [&](const char* name, const char* type, const char* help, const char* label,
                      std::initializer_list<std::pair<const char*, int64_t>> values) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    for (const auto& [value, v] : values)
      out.append(name).append("{").append(label).append("=\"").append(value).append("\"} ")
          .append(std::to_string(v)).append("\n");
  };
  auto& stats = serverStats();
  metric("finops_requests_in_flight", "gauge", "Requests being handled.", stats.inFlight.load());
  metric("finops_connections", "gauge", "Open client connections.", stats.connections.load());
  if (ex.server)
    metric("finops_connections_max", "gauge", "Most client connections served at once (--max-connections).",
           static_cast<int64_t>(ex.server->maxConnections));
  labelled("finops_connections_refused_total", "counter",
           "Connections turned away with 503 too_many_connections (or closed at once when too "
           "many refusals were already being answered).",
           "reason", {{"max_connections", stats.refusedMaxConnections.load()}});
  labelled("finops_client_timeouts_total", "counter",
           "Connections closed because the client was too slow, by phase (--header-timeout, "
           "--body-timeout).",
           "phase", {{"tls_handshake", stats.timeoutsHandshake.load()},
                     {"header", stats.timeoutsHeader.load()},
                     {"body", stats.timeoutsBody.load()}});
  labelled("finops_requests_rejected_total", "counter",
           "Requests refused by a hostile-input limit or as malformed, by reason.", "reason",
           {{"headers_too_large", stats.rejectedHeaderTooLarge.load()},
            {"body_too_large", stats.rejectedBodyTooLarge.load()},
            {"json_too_deep", stats.rejectedJsonTooDeep.load()},
            {"too_many_messages", stats.rejectedTooManyMessages.load()},
            {"malformed", stats.rejectedMalformed.load()}});
  if (ex.server && ex.server->tls) {
    const ListenerTls& tls = *ex.server->tls;
    metric("finops_tls_handshake_failures_total", "counter",
           "TLS handshakes on the listener that failed (not timeouts).",
           stats.tlsHandshakeFailures.load());
    metric("finops_tls_certificate_expiry_timestamp_seconds", "gauge",
           "When the listener's current certificate expires (Unix time).", tls.notAfterUnix());
    labelled("finops_tls_certificate_reloads_total", "counter",
             "Listener certificate reloads (SIGHUP or changed files), by result.", "result",
             {{"ok", tls.reloads()}, {"error", tls.reloadFailures()}});
  }
  if (Governance* g = ex.gov) {
    metric("finops_unpriced_requests_total", "counter",
           "Requests charged $0 because their model has no price.", g->unpricedRequests.load());
    metric("finops_quota_refusals_total", "counter",
           "Requests refused by a budget, rate limit or concurrency limit (or no allowance).",
           g->refusals.load());
    if (g->reporter)
      metric("finops_usage_records_buffered", "gauge",
             "Usage records waiting to be accepted by the control plane.",
             static_cast<int64_t>(g->reporter->buffered()));
  }
  {
    auto cfg = store.get();
    metric("finops_config_version", "gauge", "Version of the configuration being served (0: none yet).",
           cfg ? static_cast<int64_t>(cfg->version) : 0);
    out.append("# HELP finops_config_age_seconds Seconds since the configuration being served was received.\n"
               "# TYPE finops_config_age_seconds gauge\nfinops_config_age_seconds ");
    out.append(std::to_string(store.configAgeSeconds())).append("\n");
    metric("finops_control_plane_connected", "gauge",
           "1 while the configuration stream to the control plane is up.", store.connected() ? 1 : 0);
  }
  if (ex.server && ex.server->logShipper) logs::writeMetrics(*ex.server->logShipper, out);
  out.append(stats::registry().render());
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = std::move(out);
  co_await sendResponse(ex, res);
}

net::awaitable<void> dispatch(Exchange& ex, ConfigStore& store) {
  std::string_view target = ex.req.target();
  std::string_view path = target.substr(0, target.find('?'));
  Resolved r = resolve(path);
  if (r.route == Route::kAnthropicMessages || r.route == Route::kAnthropicCountTokens)
    ex.dialect = Dialect::kAnthropic;
  else if (r.route == Route::kGenai || path.starts_with("/genai/"))
    ex.dialect = Dialect::kGemini;
  else if (path.starts_with("/anthropic/"))
    ex.dialect = Dialect::kAnthropic;
  // Browsers: a preflight is answered before authentication (it carries no key); an actual
  // request from an origin that is not allowed is refused before anything goes upstream (a
  // "simple" request needs no preflight); an allowed origin's responses all carry CORS headers.
  ex.config = store.get();
  // The /logs page and its API: an admin token, not a virtual key; same-origin only (never
  // CORS), so before the CORS handling.
  if (path == "/logs" || path.starts_with("/logs/")) {
    if (ex.server && ex.server->logsApi) {
      co_await ex.server->logsApi->handle(ex, path);
    } else {
      co_await sendError(ex, apiError(404, "invalid_request_error", "unknown_route",
                                      "Invalid URL (" + std::string(ex.req.method_string()) + " " +
                                          std::string(path) + ")",
                                      ""));
    }
    co_return;
  }
  std::string_view origin = ex.req[http::field::origin];
  bool isOptions = ex.req.method() == http::verb::options;
  if (isOptions && !origin.empty() &&
      ex.req.find(http::field::access_control_request_method) != ex.req.end()) {
    if (r.route == Route::kNone) {
      co_await sendError(ex, apiError(404, "invalid_request_error", "unknown_route",
                                      "Invalid URL (OPTIONS " + std::string(path) + ")", ""));
    } else if (!ex.config) {
      co_await sendError(ex, apiError(503, "server_error", "not_ready",
                                      "the gateway has not received its configuration yet", ""));
    } else {
      auto d = cors::preflight(ex.config->corsOrigins, ex.config->corsAllowedHeaders, origin,
                               ex.req[http::field::access_control_request_method],
                               ex.req[http::field::access_control_request_headers]);
      if (!d.allowed) {
        co_await sendError(ex, apiError(403, "invalid_request_error", d.code, d.message, ""));
      } else {
        http::response<http::string_body> res{http::status::no_content, 11};
        for (const auto& [name, value] : d.headers) res.set(name, value);
        co_await sendResponse(ex, res);
      }
    }
    co_return;
  }
  if (!origin.empty() && ex.config) {
    auto d = cors::actual(ex.config->corsOrigins, origin);
    if (!d.allowed) {
      co_await sendError(ex, apiError(403, "invalid_request_error", d.code, d.message, ""));
      co_return;
    }
    ex.corsHeaders = std::move(d.headers);
  }
  if (r.route == Route::kNone) {
    co_await sendError(ex, apiError(404, "invalid_request_error", "unknown_route",
                                    "Invalid URL (" + std::string(ex.req.method_string()) + " " +
                                        std::string(path) + ")",
                                    ""));
    co_return;
  }
  if (isOptions) {
    http::response<http::string_body> res{http::status::no_content, 11};
    res.set(http::field::allow, std::string(http::to_string(allowedMethod(r.route))) + ", OPTIONS");
    co_await sendResponse(ex, res);
    co_return;
  }
  if (ex.req.method() != allowedMethod(r.route)) {
    ApiError e = apiError(405, "invalid_request_error", "method_not_allowed",
               "Method " + std::string(ex.req.method_string()) + " is not allowed on " +
                   std::string(path) + "; use " +
                   std::string(http::to_string(allowedMethod(r.route))),
               "");
    co_await sendError(ex, e);
    co_return;
  }
  if (r.route == Route::kHealthz) {
    co_await sendJson(ex, 200, R"({"status":"ok"})");
    co_return;
  }
  if (r.route == Route::kReadyz) {
    co_await handleReadyz(ex, store);
    co_return;
  }
  if (r.route == Route::kMetrics) {
    co_await handleMetrics(ex, store);
    co_return;
  }
  if (!ex.config) {
    co_await sendError(ex, apiError(503, "server_error", "not_ready",
                                    "the gateway has not received its configuration yet", ""));
    co_return;
  }
  // The first presented key the config knows wins (a client may send a placeholder in one
  // header and the virtual key in another).
  bool anyPresented = false;
  for (std::string_view k : presentedKeys(ex.req)) {
    if (k.empty()) continue;
    anyPresented = true;
    if ((ex.key = ex.config->findKey(k))) break;
  }
  if (ex.config->enforceKeys && !ex.key) {
    std::string msg = !anyPresented
                          ? "You didn't provide an API key. Provide your FinOps virtual key in "
                            "the Authorization header (Bearer), x-api-key, x-goog-api-key or x-bf-vk."
                          : "Incorrect API key provided.";
    co_await sendError(ex, apiError(401, "invalid_request_error", "invalid_api_key", msg, ""));
    co_return;
  }
  if (ex.key) {
    int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    if (auto err = keyUsable(*ex.key, nowMs)) {
      // A key that is not usable governs nothing; without enforcement the request goes on
      // unauthenticated, as if no key had been sent.
      if (ex.config->enforceKeys) {
        co_await sendError(ex, *err);
        co_return;
      }
      ex.key = nullptr;
    }
  }
  ex.logContent = logs::contentWanted(ex);
  switch (r.route) {
    case Route::kChat: co_await handleProxy(ex, proxyRequest(Endpoint::kChatCompletions)); break;
    case Route::kCompletions: co_await handleProxy(ex, proxyRequest(Endpoint::kCompletions)); break;
    case Route::kEmbeddings: co_await handleProxy(ex, proxyRequest(Endpoint::kEmbeddings)); break;
    case Route::kAnthropicMessages: co_await handleProxy(ex, proxyRequest(Endpoint::kMessages)); break;
    case Route::kAnthropicCountTokens:
      co_await handleProxy(ex, proxyRequest(Endpoint::kCountTokens));
      break;
    case Route::kGenai: co_await handleGenai(ex, r.rest); break;
    case Route::kModels: co_await handleListModels(ex); break;
    case Route::kModel: co_await handleGetModel(ex, r.rest); break;
    default: break;
  }
}

void accessLog(const Exchange& ex, double ms) {
  nlohmann::ordered_json j;
  j["request_id"] = ex.requestId;
  j["method"] = ex.req.method_string();
  std::string_view target = ex.req.target();
  j["route"] = target.substr(0, target.find('?'));
  if (!ex.model.empty()) j["model"] = ex.model;
  if (!ex.provider.empty()) j["provider"] = ex.provider;
  if (ex.key) j["key_id"] = ex.key->id;
  j["status"] = ex.status;
  j["streamed"] = ex.streamed;
  j["latency_ms"] = std::round(ms * 1000) / 1000;
  if (ex.overheadUs >= 0) j["overhead_us"] = ex.overheadUs;
  if (!ex.errorType.empty()) j["error_type"] = ex.errorType;
  log::writeFields(log::Level::kInfo, "request", j);
}

// Whether a request is traffic (metrics by model and a request-log record) rather than the
// gateway's own endpoints (health, metrics, the /logs page) or a CORS preflight.
bool isTraffic(const Exchange& ex) {
  if (ex.req.method() == http::verb::options) return false;
  std::string_view target = ex.req.target();
  std::string_view path = target.substr(0, target.find('?'));
  return !(path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/logs" ||
           path.starts_with("/logs/"));
}

// Requests without a valid key (where keys are enforced: refused with 401, unknown routes,
// malformed requests...) cost nothing to send: at most this many a second get a request-log
// record (all are counted in the metrics and the access log), so that a flood of them cannot
// push real history out of the store's size cap.
constexpr int kUnauthenticatedRecordsPerSecond = 20;

bool admitUnauthenticatedRecord() {
  static std::atomic<int64_t> window{0};
  static std::atomic<int> used{0};
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t w = window.load(std::memory_order_relaxed);
  if (w != now && window.compare_exchange_strong(w, now)) used.store(0);
  return used.fetch_add(1) < kUnauthenticatedRecordsPerSecond;
}

// After the response: metrics, the access log line, the request-log record.
void finishExchange(Exchange& ex, const ServerOptions& opt) {
  auto elapsed = std::chrono::steady_clock::now() - ex.start;
  double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  if (isTraffic(ex)) {
    stats::countRequest(ex, ms / 1000.0);
    bool record = ex.key || (ex.config && !ex.config->enforceKeys) || admitUnauthenticatedRecord();
    if (opt.logShipper && record) logs::submit(ex, *opt.logShipper, elapsed);
  }
  if (opt.accessLog) accessLog(ex, ms);
}

// An Exchange for one request on a connection. (A function, not a braced initialiser in the
// coroutines: GCC 12 miscompiles those.)
Exchange makeExchange(ClientStream& stream, beast::flat_buffer& buffer,
                      http::request<http::string_body>& req, upstream::Pool& pool,
                      const ServerOptions& opt) {
  Exchange ex{stream, buffer, req, pool, newRequestId()};
  ex.start = std::chrono::steady_clock::now();
  ex.gov = opt.governance;
  ex.server = &opt;
  return ex;
}

// How errors are rendered for a path, before dispatch() has looked at it.
Dialect dialectForPath(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.starts_with("/anthropic/")) return Dialect::kAnthropic;
  if (path.starts_with("/genai/")) return Dialect::kGemini;
  return Dialect::kOpenAI;
}

ApiError parseError(const beast::error_code& ec) {
  auto& stats = serverStats();
  if (ec == http::error::body_limit) {
    stats.rejectedBodyTooLarge.fetch_add(1);
    return apiError(413, "invalid_request_error", "request_too_large",
                    "The request body is larger than the gateway's limit.", "");
  }
  if (ec == http::error::header_limit) {
    stats.rejectedHeaderTooLarge.fetch_add(1);
    return apiError(431, "invalid_request_error", "headers_too_large",
                    "The request headers are larger than the gateway's limit.", "");
  }
  stats.rejectedMalformed.fetch_add(1);
  return apiError(400, "invalid_request_error", "", "Malformed HTTP request: " + ec.message(), "");
}

// An answer given before dispatch (a request or a connection refused by a limit) carries the
// CORS headers when the request's Origin is allowed, so that browser code can read the refusal
// instead of seeing a CORS failure. Any other origin gets none (the browser hides the answer).
void corsForRefusal(Exchange& ex, const ConfigStore& store, std::string_view origin) {
  if (origin.empty()) return;
  auto config = store.get();
  if (!config) return;
  auto d = cors::actual(config->corsOrigins, origin);
  if (d.allowed) ex.corsHeaders = std::move(d.headers);
}

// Answers a request that could not be parsed, then the connection is closed. `target` is the
// request's target when its header was read (it picks the error dialect), else empty; `origin`
// its Origin header, when known.
net::awaitable<void> sendParseError(ClientStream& stream, beast::flat_buffer& buffer,
                                    upstream::Pool& pool, const beast::error_code& ec,
                                    std::string target, std::string origin,
                                    const ConfigStore& store, const ServerOptions& opt) {
  http::request<http::string_body> dummy;
  if (target.size() > 1024) target.resize(1024);
  dummy.target(target);
  Exchange ex = makeExchange(stream, buffer, dummy, pool, opt);
  ex.dialect = dialectForPath(target);
  ex.keepAlive = false;
  corsForRefusal(ex, store, origin);
  co_await sendError(ex, parseError(ec));
  finishExchange(ex, opt);
}

bool isQuietDisconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == beast::error::timeout ||
         ec == net::error::operation_aborted || ec == http::error::partial_message ||
         ec == net::error::broken_pipe || ec == net::ssl::error::stream_truncated;
}

// After an error answer to a request whose body was not read, reads and discards what the
// client still sends for a moment (at most 2 s and 64 MiB), so that closing does not reset the
// connection before the client has read the answer. Plain TCP half-closes first; TLS cannot
// (close_notify would end the reading too), so the TLS client is left to close after reading
// the answer, which says "Connection: close".
net::awaitable<void> lingeringClose(ClientStream& stream) {
  beast::error_code ec;
  if (!stream.isTls()) stream.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 16384> sink;
  size_t total = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (total < 64u * 1024 * 1024) {
    size_t n = co_await stream.async_read_some(net::buffer(sink), redirect_error(use_awaitable, ec));
    if (ec) break;
    total += n;
  }
}

// Counts a gauge up now and down when the coroutine frame that holds it goes away, however
// that happens.
class GaugeSlot {
 public:
  explicit GaugeSlot(std::atomic<int64_t>& gauge) : gauge_(gauge) {}
  ~GaugeSlot() { gauge_.fetch_sub(1); }
  GaugeSlot(const GaugeSlot&) = delete;
  GaugeSlot& operator=(const GaugeSlot&) = delete;

 private:
  std::atomic<int64_t>& gauge_;
};

// How long a refused connection may take to send its request header.
constexpr std::chrono::seconds kRefusalReadTimeout{5};
// Refusals answered at once; past this a refused connection is closed without an answer.
constexpr int64_t kMaxRefusing = 256;
// The first read of a request: up to this many bytes.
constexpr size_t kFirstReadBytes = 8192;

// A connection over --max-connections: reads its request header (to answer in the client's
// dialect), answers 503 too_many_connections with "Connection: close", and closes. It counts
// in stats.refusing, not in stats.connections (the caller counted it up).
net::awaitable<void> refuseConnection(tcp::socket socket, std::shared_ptr<net::ssl::context> tls,
                                      upstream::Pool& pool, const ConfigStore& store,
                                      const ServerOptions& opt) {
  GaugeSlot slot(serverStats().refusing);
  beast::error_code ec;
  ClientStream stream(std::move(socket), std::move(tls));
  beast::flat_buffer buffer;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(opt.maxHeaderBytes));
  // The body is never read: an upload of any size gets its 503 (not Beast's default 1 MiB cap
  // failing the head).
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  stream.expires_after(std::min<std::chrono::steady_clock::duration>(opt.headerTimeout,
                                                                     kRefusalReadTimeout));
  co_await stream.handshake(ec);
  if (!ec)
    co_await http::async_read_header(stream, buffer, parser, redirect_error(use_awaitable, ec));
  if (!ec) {
    auto req = parser.release();
    Exchange ex = makeExchange(stream, buffer, req, pool, opt);
    ex.dialect = dialectForPath(req.target());
    ex.keepAlive = false;
    corsForRefusal(ex, store, req[http::field::origin]);
    ex.responseHeaders.emplace_back("retry-after", "1");
    ex.responseHeaders.emplace_back("x-should-retry", "true");
    co_await sendError(ex, apiError(503, "server_error", "too_many_connections",
                                    "The gateway is serving as many connections as it allows; "
                                    "retry shortly.",
                                    ""));
    co_await lingeringClose(stream);
  }
  co_await stream.close(std::chrono::seconds(1), !ec);  // no close_notify after a failure
}

enum class ReadPhase { kHeader, kBody };

net::awaitable<void> session(tcp::socket socket, std::shared_ptr<net::ssl::context> tls,
                             upstream::Pool& pool, ConfigStore& store, const ServerOptions& opt) {
  auto& stats = serverStats();
  GaugeSlot slot(stats.connections);  // counted up by acceptLoop
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  ClientStream stream(std::move(socket), std::move(tls));
  beast::flat_buffer buffer;
  bool open = true;
  if (stream.isTls()) {
    stream.expires_after(opt.headerTimeout);
    co_await stream.handshake(ec);
    if (ec == beast::error::timeout) {
      stats.timeoutsHandshake.fetch_add(1);
      open = false;
    } else if (ec) {
      // Plain HTTP sent to the TLS port, an unsupported version, a client that gave up...
      stats.tlsHandshakeFailures.fetch_add(1);
      log::debug("TLS handshake failed", {{"error", ec.message()}});
      open = false;
    }
  }
  while (open) {
    // Keep-alive: wait for the first byte of the next request (unless a pipelined one is
    // already buffered).
    if (buffer.size() == 0) {
      stream.expires_after(opt.idleTimeout);
      size_t n = co_await stream.async_read_some(buffer.prepare(kFirstReadBytes),
                                                 redirect_error(use_awaitable, ec));
      buffer.commit(n);
      if (ec) {
        open = ec != beast::error::timeout;  // a timeout has closed the socket already
        break;  // idle too long, or the client went away: close quietly
      }
    }
    // From the first byte on, the whole header must arrive within the header timeout (slow
    // "slowloris" clients are cut off), then the whole body within the body timeout.
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(opt.maxHeaderBytes));
    // The body limit is checked here once the head is in, not by Beast (which would fail the
    // head before it counts as done), so that the 413 is answered in the route's dialect with
    // the CORS headers the Origin calls for.
    // (Not boost::none: Boost 1.74 compares the length with the optional, and any length is
    // "greater" than none.)
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    ReadPhase phase = ReadPhase::kHeader;
    stream.expires_after(opt.headerTimeout);
    co_await http::async_read_header(stream, buffer, parser, redirect_error(use_awaitable, ec));
    if (!ec) {
      if (auto length = parser.content_length(); length && *length > opt.maxBodyBytes)
        ec = http::error::body_limit;
      else
        parser.body_limit(opt.maxBodyBytes);  // a chunked body is cut off while it is read
    }
    if (!ec && !parser.is_done()) {
      phase = ReadPhase::kBody;
      stream.expires_after(opt.bodyTimeout);
      // curl and others wait for "100 Continue" before sending a large body.
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await net::async_write(stream, net::buffer(kContinue.data(), kContinue.size()),
                                  redirect_error(use_awaitable, ec));
      }
      if (!ec) co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
    }
    if (ec) {
      if (ec == beast::error::timeout) {
        (phase == ReadPhase::kHeader ? stats.timeoutsHeader : stats.timeoutsBody).fetch_add(1);
        open = false;
      } else if (!isQuietDisconnect(ec)) {
        // Beast keeps what it parsed before the error: the whole head when the body failed;
        // over the header limit, the request line and the fields complete in the first read,
        // the rest still unparsed in the buffer (looked through for the Origin line).
        const auto& head = parser.get();
        std::string target(head.target()), origin(head[http::field::origin]);
        if (origin.empty() && ec == http::error::header_limit)
          origin = cors::originInUnparsedHead(
              {static_cast<const char*>(buffer.data().data()), buffer.size()});
        co_await sendParseError(stream, buffer, pool, ec, std::move(target), std::move(origin),
                                store, opt);
        co_await lingeringClose(stream);
      }
      break;
    }
    // The handler sets its own timeouts; a read the stream relay keeps pending on the client
    // (to notice it going away) must not inherit the request's.
    stream.expires_never();
    auto req = parser.release();
    Exchange ex = makeExchange(stream, buffer, req, pool, opt);
    ex.keepAlive = req.keep_alive() && !stats.draining.load();
    {
      stats.inFlight.fetch_add(1);
      GaugeSlot inFlight(stats.inFlight);  // released even if a handler throws
      co_await dispatch(ex, store);
    }
    finishExchange(ex, opt);
    if (!ex.keepAlive || stats.draining.load()) break;
  }
  co_await stream.close(std::chrono::seconds(2), open);
}

// One listening socket for the whole process (so a second process can never bind the same port
// and take part of the traffic, as SO_REUSEPORT would allow), accepting on worker 0's thread and
// handing connections to the workers in turn: each accepted socket belongs to its worker's
// io_context from the start.
net::awaitable<void> acceptLoop(tcp::acceptor& acceptor,
                                const std::vector<std::unique_ptr<Server::Worker>>& workers,
                                ConfigStore& store, const ServerOptions& opt) {
  auto& stats = serverStats();
  size_t next = 0;
  for (;;) {
    Server::Worker& w = *workers[next];
    next = (next + 1) % workers.size();
    beast::error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(w.ioc, redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      log::warn("accept failed", {{"error", ec.message()}});
      // Out of file descriptors or memory: the connection stays queued and accept would fail
      // again at once; pause rather than spin.
      net::steady_timer pause(acceptor.get_executor());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    // The certificate current now; the connection keeps it to its end.
    std::shared_ptr<net::ssl::context> tls = opt.tls ? opt.tls->context() : nullptr;
    if (stats.connections.fetch_add(1) >= static_cast<int64_t>(opt.maxConnections)) {
      stats.connections.fetch_sub(1);
      stats.refusedMaxConnections.fetch_add(1);
      if (stats.refusing.fetch_add(1) >= kMaxRefusing) {
        stats.refusing.fetch_sub(1);
        beast::error_code ignored;
        sock.close(ignored);
        continue;
      }
      net::co_spawn(w.ioc, refuseConnection(std::move(sock), std::move(tls), *w.pool, store, opt),
                    net::detached);
      continue;
    }
    net::co_spawn(w.ioc, session(std::move(sock), std::move(tls), *w.pool, store, opt),
                  net::detached);
  }
}

}  // namespace

int64_t overheadNow(Exchange& ex) {
  auto own = std::chrono::steady_clock::now() - ex.start - ex.upstreamWait;
  ex.overheadUs = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(own).count());
  return ex.overheadUs;
}

void Exchange::keepForLog(std::string_view sent) {
  if (!logContent || sent.empty()) return;
  // The text is taken out of this on the shipper's thread, then cut to the limit: keep enough
  // raw bytes for the JSON (or a stream's events, far larger than their text) around it.
  size_t max = server ? server->logContentMaxBytes : 0;
  max = std::min(max * (streamed ? 16 : 2), std::max<size_t>(max, 8u << 20));
  size_t room = max > logResponse.size() ? max - logResponse.size() : 0;
  if (sent.size() > room) {
    logTruncated = true;
    sent = sent.substr(0, room);
  }
  logResponse.append(sent);
}

net::awaitable<void> sendResponse(Exchange& ex, http::response<http::string_body>& res) {
  res.version(11);
  res.set("x-request-id", ex.requestId);
  res.set("x-finops-overhead-us", std::to_string(overheadNow(ex)));
  ex.keepForLog(res.body());
  if (ex.dialect == Dialect::kAnthropic) res.set("request-id", ex.requestId);  // the SDK's requestID
  for (const auto& [name, value] : ex.responseHeaders) res.set(name, value);
  for (const auto& [name, value] : ex.corsHeaders) res.set(name, value);
  res.keep_alive(ex.keepAlive);
  res.prepare_payload();
  if (res.result() == http::status::no_content) res.erase(http::field::content_length);
  ex.status = res.result_int();
  beast::error_code ec;
  ex.stream.expires_after(std::chrono::seconds(30));
  co_await http::async_write(ex.stream, res, redirect_error(use_awaitable, ec));
  if (ec) ex.keepAlive = false;
}

net::awaitable<void> sendJson(Exchange& ex, unsigned status, std::string body) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  co_await sendResponse(ex, res);
}

net::awaitable<void> sendError(Exchange& ex, const ApiError& error) {
  http::response<http::string_body> res{static_cast<http::status>(error.status), 11};
  res.set(http::field::content_type, "application/json");
  if (error.status == 405) res.set(http::field::allow, "GET, POST");
  res.body() = renderError(ex.dialect, error);
  ex.errorType = error.code.empty() ? error.type : error.code;
  if (error.retryAfterSeconds >= 0) res.set(http::field::retry_after, std::to_string(error.retryAfterSeconds));
  co_await sendResponse(ex, res);
}

Server::Server(ServerOptions options, ConfigStore& config)
    : options_(std::move(options)), config_(config) {}

Server::~Server() {
  for (auto& w : workers_) {
    w->ioc.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

bool Server::start(std::string* error) {
  try {
    tls_ = upstream::makeClientTlsContext(options_.upstreamCaFile);
  } catch (const std::exception& e) {
    *error = std::string("upstream TLS setup: ") + e.what();
    return false;
  }
  int n = options_.threads > 0 ? options_.threads
                               : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  beast::error_code ec;
  auto addr = net::ip::make_address(options_.host, ec);
  if (ec) {
    *error = "invalid listen address '" + options_.host + "'";
    return false;
  }
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->pool = std::make_unique<upstream::Pool>(w->ioc, *tls_, options_.upstream);
    workers_.push_back(std::move(w));
  }
  // SO_REUSEADDR only: restart while old connections sit in TIME_WAIT, never two listeners.
  auto& acceptor = workers_.front()->acceptor.emplace(workers_.front()->ioc);
  tcp::endpoint ep(addr, options_.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " + ec.message();
    return false;
  }
  boundPort_ = acceptor.local_endpoint().port();
  net::co_spawn(workers_.front()->ioc, acceptLoop(acceptor, workers_, config_, options_), net::detached);
  for (auto& w : workers_) {
    w->thread = std::thread([&ioc = w->ioc] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          log::error("unexpected exception in worker", {{"error", e.what()}});
        }
      }
    });
  }
  return true;
}

void Server::drainAndStop(std::chrono::steady_clock::duration deadline) {
  auto& stats = serverStats();
  stats.draining = true;
  {
    auto& w = workers_.front();
    net::post(w->ioc, [&w] {
      beast::error_code ec;
      w->acceptor->close(ec);
    });
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  while (stats.inFlight.load() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  log::info("drained", {{"in_flight_left", stats.inFlight.load()}});
  for (auto& w : workers_) w->ioc.stop();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

}  // namespace finops::dp
