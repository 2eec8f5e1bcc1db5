#include "dataplane/server/server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <random>

#include "common/log.h"
#include "dataplane/governance/rules.h"
#include "dataplane/routes/openai.h"
#include "dataplane/server/exchange.h"

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
  std::optional<tcp::acceptor> acceptor;
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

// The keys a client presented, in order of precedence: x-bf-vk (set on purpose for the
// gateway), Authorization: Bearer (where the OpenAI SDK and the Anthropic SDK 1.x put their
// apiKey), x-api-key (Anthropic SDK 0.x), x-goog-api-key (@google/genai), and "key=" in the
// query string (Gemini's other way).
std::array<std::string_view, 5> presentedKeys(const http::request<http::string_body>& req) {
  std::array<std::string_view, 5> keys;
  keys[0] = req["x-bf-vk"];
  if (auto auth = req[http::field::authorization];
      auth.size() > 7 && beast::iequals(auth.substr(0, 7), "bearer ")) {
    auto k = auth.substr(7);
    while (!k.empty() && k.front() == ' ') k.remove_prefix(1);
    keys[1] = k;
  }
  keys[2] = req["x-api-key"];
  keys[3] = req["x-goog-api-key"];
  std::string_view target = req.target();
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      if (pair.starts_with("key=")) keys[4] = pair.substr(4);  // keys are URL-safe
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return keys;
}

enum class Route {
  kNone, kHealthz, kReadyz, kMetrics, kModels, kModel, kChat, kCompletions, kEmbeddings,
  kAnthropicMessages, kAnthropicCountTokens, kGenai
};

struct Resolved {
  Route route = Route::kNone;
  std::string_view rest;  // model id for kModel; "model:method" for kGenai
};

Resolved resolve(std::string_view path) {
  if (path == "/healthz") return {Route::kHealthz, {}};
  if (path == "/readyz") return {Route::kReadyz, {}};
  if (path == "/metrics") return {Route::kMetrics, {}};
  if (path.starts_with("/anthropic/")) {
    std::string_view p = path.substr(11);
    while (!p.empty() && p.back() == '/') p.remove_suffix(1);
    if (p == "v1/messages") return {Route::kAnthropicMessages, {}};
    if (p == "v1/messages/count_tokens") return {Route::kAnthropicCountTokens, {}};
    return {};
  }
  if (path.starts_with("/genai/")) {
    // @google/genai: {base}/v1beta/models/{model}:{method} (2.x), /v1/... (3.x).
    std::string_view p = path.substr(7);
    for (std::string_view v : {"v1beta/models/", "v1/models/", "v1beta1/models/"}) {
      if (p.starts_with(v) && p.size() > v.size()) return {Route::kGenai, p.substr(v.size())};
    }
    return {};
  }
  std::string_view p;
  for (std::string_view prefix : {"/openai/v1/", "/v1/", "/openai/"}) {
    if (path.starts_with(prefix)) {
      p = path.substr(prefix.size());
      break;
    }
  }
  if (p.empty()) return {};
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  if (p == "chat/completions") return {Route::kChat, {}};
  if (p == "completions") return {Route::kCompletions, {}};
  if (p == "embeddings") return {Route::kEmbeddings, {}};
  if (p == "models") return {Route::kModels, {}};
  if (p.starts_with("models/") && p.size() > 7) return {Route::kModel, p.substr(7)};
  return {};
}

http::verb allowedMethod(Route r) {
  switch (r) {
    case Route::kChat:
    case Route::kCompletions:
    case Route::kEmbeddings:
    case Route::kAnthropicMessages:
    case Route::kAnthropicCountTokens:
    case Route::kGenai: return http::verb::post;
    default: return http::verb::get;
  }
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
net::awaitable<void> handleMetrics(Exchange& ex) {
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, int64_t v) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    out.append(name).append(" ").append(std::to_string(v)).append("\n");
  };
  auto& stats = serverStats();
  metric("finops_requests_in_flight", "gauge", "Requests being handled.", stats.inFlight.load());
  metric("finops_connections", "gauge", "Open client connections.", stats.connections.load());
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
  if (r.route == Route::kNone) {
    co_await sendError(ex, apiError(404, "invalid_request_error", "unknown_route",
                                    "Invalid URL (" + std::string(ex.req.method_string()) + " " +
                                        std::string(path) + ")",
                                    ""));
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
    co_await handleMetrics(ex);
    co_return;
  }
  ex.config = store.get();
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

void accessLog(const Exchange& ex, std::chrono::steady_clock::time_point start) {
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  nlohmann::ordered_json j;
  j["ts"] = log::nowRfc3339();
  j["level"] = "info";
  j["msg"] = "request";
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
  log::writeRaw(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Answers a request that could not be parsed, then the connection is closed.
net::awaitable<void> sendParseError(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                    upstream::Pool& pool, const beast::error_code& ec) {
  http::request<http::string_body> dummy;
  Exchange ex{stream, buffer, dummy, pool, newRequestId()};
  ex.keepAlive = false;
  ApiError e = apiError(400, "invalid_request_error", "", "Malformed HTTP request: " + ec.message(), "");
  if (ec == http::error::body_limit) {
    e = apiError(413, "invalid_request_error", "request_too_large",
                 "The request body is larger than the gateway's limit.", "");
  } else if (ec == http::error::header_limit) {
    e = apiError(431, "invalid_request_error", "headers_too_large",
                 "The request headers are larger than the gateway's limit.", "");
  }
  co_await sendError(ex, e);
}

bool isQuietDisconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == beast::error::timeout ||
         ec == net::error::operation_aborted || ec == http::error::partial_message ||
         ec == net::error::broken_pipe;
}

// After an error answer to a request whose body was not read, reads and discards what the
// client still sends for a moment, so that closing does not reset the connection before
// the client has read the answer.
net::awaitable<void> lingeringClose(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 16384> sink;
  size_t total = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (total < 64u * 1024 * 1024) {
    size_t n = co_await stream.async_read_some(net::buffer(sink), redirect_error(use_awaitable, ec));
    if (ec) break;
    total += n;
  }
}

net::awaitable<void> session(tcp::socket socket, upstream::Pool& pool, ConfigStore& store,
                             const ServerOptions& opt) {
  auto& stats = serverStats();
  stats.connections.fetch_add(1);
  beast::tcp_stream stream(std::move(socket));
  beast::error_code ec;
  stream.socket().set_option(tcp::no_delay(true), ec);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(opt.maxHeaderBytes));
    parser.body_limit(opt.maxBodyBytes);
    stream.expires_after(opt.idleTimeout);
    co_await http::async_read_header(stream, buffer, parser, redirect_error(use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      // curl and others wait for "100 Continue" before sending a large body.
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await net::async_write(stream, net::buffer(kContinue.data(), kContinue.size()),
                                  redirect_error(use_awaitable, ec));
      }
      if (!ec) co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
    }
    if (ec) {
      if (!isQuietDisconnect(ec)) {
        co_await sendParseError(stream, buffer, pool, ec);
        co_await lingeringClose(stream);
      }
      break;
    }
    auto start = std::chrono::steady_clock::now();
    stats.inFlight.fetch_add(1);
    auto req = parser.release();
    Exchange ex{stream, buffer, req, pool, newRequestId()};
    ex.gov = opt.governance;
    ex.keepAlive = req.keep_alive() && !stats.draining.load();
    co_await dispatch(ex, store);
    stats.inFlight.fetch_sub(1);
    if (opt.accessLog) accessLog(ex, start);
    if (!ex.keepAlive || stats.draining.load()) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
  stats.connections.fetch_sub(1);
}

net::awaitable<void> acceptLoop(Server::Worker& w, ConfigStore& store, const ServerOptions& opt) {
  for (;;) {
    beast::error_code ec;
    tcp::socket sock = co_await w.acceptor->async_accept(redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == net::error::operation_aborted || !w.acceptor->is_open()) co_return;
      log::warn("accept failed", {{"error", ec.message()}});
      continue;
    }
    net::co_spawn(w.ioc, session(std::move(sock), *w.pool, store, opt), net::detached);
  }
}

}  // namespace

net::awaitable<void> sendResponse(Exchange& ex, http::response<http::string_body>& res) {
  res.version(11);
  res.set("x-request-id", ex.requestId);
  if (ex.dialect == Dialect::kAnthropic) res.set("request-id", ex.requestId);  // the SDK's requestID
  for (const auto& [name, value] : ex.responseHeaders) res.set(name, value);
  res.keep_alive(ex.keepAlive);
  res.prepare_payload();
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
  uint16_t port = options_.port;
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->pool = std::make_unique<upstream::Pool>(w->ioc, *tls_, options_.upstream);
    w->acceptor.emplace(w->ioc);
    tcp::endpoint ep(addr, port);
    w->acceptor->open(ep.protocol(), ec);
    if (!ec) w->acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(w->acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec = beast::error_code(errno, boost::system::system_category());
    }
    if (!ec) w->acceptor->bind(ep, ec);
    if (!ec) w->acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = "cannot listen on " + options_.host + ":" + std::to_string(port) + ": " + ec.message();
      return false;
    }
    port = w->acceptor->local_endpoint().port();
    workers_.push_back(std::move(w));
  }
  boundPort_ = port;
  for (auto& w : workers_) {
    net::co_spawn(w->ioc, acceptLoop(*w, config_, options_), net::detached);
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
  for (auto& w : workers_) {
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
