#include "dataplane/routes/openai.h"

#include <mutex>
#include <set>

#include "common/log.h"
#include "dataplane/governance/rules.h"
#include "dataplane/routes/forward_headers.h"
#include "dataplane/routes/models_cache.h"
#include "dataplane/routes/routing.h"
#include "dataplane/schema/json_limits.h"
#include "dataplane/server/server.h"
#include "dataplane/stats/request_stats.h"
#include "dataplane/translate/factory.h"
#include "dataplane/upstream/google_auth.h"

namespace finops::dp {

using net::redirect_error;
using net::use_awaitable;
using nlohmann::json;

namespace {

ApiError badRequest(std::string message, std::string param = "", std::string code = "") {
  return apiError(400, "invalid_request_error", std::move(code), std::move(message), std::move(param));
}

// Watches the client socket while a stream is relayed: a client that goes away cancels the
// upstream request at once instead of at the next write. Bytes a client sends meanwhile
// (a pipelined request) are kept and handed back to the session.
class DisconnectWatcher {
 public:
  DisconnectWatcher(ClientStream& client, upstream::Connection& up)
      : state_(std::make_shared<State>(client.get_executor())), client_(client) {
    state_->upstream = &up;
    auto st = state_;
    // Through the stream (not the raw socket): with TLS the bytes are records to decrypt.
    client_.async_read_some(
        net::buffer(st->bytes), [st](beast::error_code ec, size_t n) {
          st->done = true;
          st->got = n;
          if (ec != net::error::operation_aborted && n == 0) {
            st->clientGone = true;
            if (st->upstream) st->upstream->close();
          }
          st->signal.cancel();
        });
  }
  bool clientGone() const { return state_->clientGone; }

  // Stops watching and waits for the pending read to finish. Appends any bytes the client
  // sent to `buffer`.
  net::awaitable<void> stop(beast::flat_buffer& buffer) {
    state_->upstream = nullptr;
    if (!state_->done) {
      beast::error_code ec;
      client_.cancel();
      state_->signal.expires_at(std::chrono::steady_clock::time_point::max());
      while (!state_->done) co_await state_->signal.async_wait(redirect_error(use_awaitable, ec));
    }
    if (state_->got > 0) {
      auto dst = buffer.prepare(state_->got);
      net::buffer_copy(dst, net::buffer(state_->bytes.data(), state_->got));
      buffer.commit(state_->got);
    }
  }

 private:
  struct State {
    explicit State(net::any_io_executor ex) : signal(ex) {}
    net::steady_timer signal;
    std::array<char, 4096> bytes;
    size_t got = 0;
    bool done = false;
    bool clientGone = false;
    upstream::Connection* upstream = nullptr;
  };
  std::shared_ptr<State> state_;
  ClientStream& client_;
};

int64_t wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void warnUnpricedOnce(const std::string& provider, const std::string& model) {
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard lock(mu);
  if (seen.size() < 10'000 && seen.insert(provider + "/" + model).second)
    log::warn("no price for model; its requests are charged $0 and counted as unpriced",
              {{"provider", provider}, {"model", model}});
}

// Charges one admitted request when it ends, however it ends: the quota it held is released
// with what it consumed and its usage record is queued for the control plane. It lives in
// the handler's coroutine frame, so a request cut short is charged too.
class Accounting {
 public:
  Accounting(Exchange& ex, std::string provider, std::string upstreamModel)
      : ex_(ex), provider_(std::move(provider)), upstreamModel_(std::move(upstreamModel)),
        startMs_(wallNowMs()), start_(std::chrono::steady_clock::now()) {}
  ~Accounting() { finish(); }
  Accounting(const Accounting&) = delete;
  Accounting& operator=(const Accounting&) = delete;

  Quota::Ticket ticket;
  const Translator* translator = nullptr;
  // Native providers under another name ("claude" of type anthropic) are priced as the
  // type's built-in table lists them when their own name has no price.
  std::string_view fallbackPriceProvider;
  unsigned upstreamStatus = 0;  // 0: no response head
  bool upstreamMayHaveWorked = false;  // request sent; the upstream may have spent tokens
  std::string outcome = "ok";
  size_t responseBytes = 0;

  // Set once the request is admitted: only admitted requests are charged and recorded.
  bool armed = false;

  void finish() {
    if (done_ || !armed || !ex_.gov) return;
    done_ = true;
    Usage u = translator ? translator->usage() : Usage{};
    bool estimated = false;
    bool accepted = upstreamStatus >= 200 && upstreamStatus < 300;
    if (!u.known && (accepted || (upstreamStatus == 0 && upstreamMayHaveWorked))) {
      // The upstream never said: estimate from what we saw (about 4 bytes per token,
      // one token per streamed content chunk).
      estimated = true;
      u.promptTokens = static_cast<int64_t>(ex_.req.body().size() / 4);
      int64_t chunks = translator ? translator->contentChunks() : 0;
      u.completionTokens = std::max<int64_t>(chunks, ex_.streamed ? 0 : static_cast<int64_t>(responseBytes / 4));
    }
    const Price* price = ex_.config->prices.find(provider_, upstreamModel_);
    if (!price && !fallbackPriceProvider.empty() && fallbackPriceProvider != provider_)
      price = ex_.config->prices.find(fallbackPriceProvider, upstreamModel_);
    int64_t cost = price ? costNano(*price, u) : 0;
    if (!price && (u.promptTokens || u.completionTokens)) {
      ex_.gov->unpricedRequests.fetch_add(1, std::memory_order_relaxed);
      warnUnpricedOnce(provider_, upstreamModel_);
    }
    ex_.gov->quota.complete(ticket, cost, u.promptTokens + u.completionTokens);
    ex_.usage = u;
    ex_.costNano = cost;
    ex_.charged = true;
    if (!ex_.gov->reporter) return;
    finops::v1::UsageRecord r;
    r.set_request_id(ex_.requestId);
    r.set_ts_ms(startMs_);
    if (ex_.key) {
      r.set_key_id(ex_.key->id);
      r.set_team_id(ex_.key->teamId);
      r.set_customer_id(ex_.key->customerId);
    }
    r.set_provider(provider_);
    r.set_model(ex_.model);
    r.set_prompt_tokens(u.promptTokens);
    r.set_completion_tokens(u.completionTokens);
    r.set_cached_tokens(u.cachedTokens);
    r.set_cache_write_tokens(u.cacheWriteTokens);
    r.set_cost_nano(cost);
    r.set_priced(price != nullptr);
    r.set_estimated(estimated);
    r.set_streamed(ex_.streamed);
    r.set_status(static_cast<int32_t>(ex_.status ? ex_.status : upstreamStatus));
    r.set_outcome(outcome);
    r.set_latency_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start_)
                         .count());
    r.set_node(ex_.gov->nodeName);
    ex_.gov->reporter->enqueue(std::move(r));
  }

 private:
  Exchange& ex_;
  std::string provider_, upstreamModel_;
  int64_t startMs_;
  std::chrono::steady_clock::time_point start_;
  bool done_ = false;
};

const ServerOptions kDefaultLimits;  // when an Exchange carries no server options (tests)

// --max-messages: the conversation array of a chat body ("messages" for OpenAI chat
// completions and Anthropic messages, "contents" for Gemini).
std::optional<ApiError> tooManyMessages(const Exchange& ex, Endpoint endpoint,
                                        std::string_view body, const json_scan::Result& scan) {
  std::string_view field;
  switch (endpoint) {
    case Endpoint::kChatCompletions:
    case Endpoint::kMessages:
    case Endpoint::kCountTokens: field = "messages"; break;
    case Endpoint::kGenerateContent: field = "contents"; break;
    default: return std::nullopt;
  }
  size_t max = ex.server ? ex.server->maxMessages : kDefaultLimits.maxMessages;
  long long n = json_limits::memberArrayLength(body, scan, field);
  if (n < 0 || static_cast<size_t>(n) <= max) return std::nullopt;
  return badRequest("'" + std::string(field) + "' has " + std::to_string(n) +
                        " entries; this gateway accepts at most " + std::to_string(max) + ".",
                    std::string(field), "too_many_messages");
}

ApiError upstreamFailure(const beast::error_code& ec, const ProviderRoute& route) {
  if (ec == beast::error::timeout)
    return apiError(504, "timeout", "upstream_timeout",
                    "provider '" + route.name + "' did not answer in time", "");
  return apiError(502, "server_error", "upstream_error",
                  "could not reach provider '" + route.name + "': " + ec.message(), "");
}

}  // namespace

net::awaitable<void> handleProxy(Exchange& ex, ProxyRequest pr) {
  const Endpoint endpoint = pr.endpoint;
  // Validate the body without building a DOM; note where "model" and "stream" are.
  std::string_view bodyText = ex.req.body();
  // Hostile input: the nesting depth is found by a byte scan before any parser recurses.
  const int maxDepth = ex.server ? ex.server->maxJsonDepth : kDefaultLimits.maxJsonDepth;
  if (json_limits::tooDeep(bodyText, maxDepth)) {
    serverStats().rejectedJsonTooDeep.fetch_add(1, std::memory_order_relaxed);
    co_await sendError(ex, badRequest("The JSON body's nesting is deeper than this gateway "
                                      "accepts (at most " + std::to_string(maxDepth) +
                                          " levels of objects and arrays).",
                                      "", "json_too_deep"));
    co_return;
  }
  json_scan::Result scan = json_scan::scan(bodyText, maxDepth);
  if (!scan.ok) {
    co_await sendError(ex, badRequest("We could not parse the JSON body of your request (" +
                                      scan.error +
                                      "). The API expects a JSON object in UTF-8 as the body."));
    co_return;
  }
  if (!scan.isObject) {
    co_await sendError(ex, badRequest("The request body must be a JSON object."));
    co_return;
  }
  if (auto err = tooManyMessages(ex, endpoint, bodyText, scan)) {
    serverStats().rejectedTooManyMessages.fetch_add(1, std::memory_order_relaxed);
    co_await sendError(ex, *err);
    co_return;
  }
  std::string model;
  if (endpoint == Endpoint::kGenerateContent) {
    model = std::move(pr.pathModel);
  } else {
    const json_scan::Member* modelMember = scan.find("model");
    if (!modelMember || modelMember->kind == 'z') {
      co_await sendError(ex, badRequest("you must provide a model parameter", "model"));
      co_return;
    }
    if (modelMember->kind != 's') {
      co_await sendError(ex, badRequest("Invalid type for 'model': expected a string.", "model",
                                        "invalid_type"));
      co_return;
    }
    model = json_scan::stringValue(bodyText, *modelMember);
  }
  ex.model = model;
  // "provider/model"; a bare model name may name its provider in x-finops-provider instead
  // (for clients whose model names cannot change). On /anthropic and /genai a bare name
  // goes to the provider named "anthropic" or "gemini" when there is one.
  auto ref = splitModel(model);
  std::string_view headerProvider = ex.req["x-finops-provider"];
  if (!ref && !headerProvider.empty()) ref = ModelRef{headerProvider, model};
  if (!ref && !model.empty()) {
    std::string_view native = ex.dialect == Dialect::kAnthropic ? "anthropic"
                              : ex.dialect == Dialect::kGemini  ? "gemini"
                                                                : "";
    if (!native.empty() && ex.config->provider(native)) ref = ModelRef{native, model};
  }
  if (!ref) {
    co_await sendError(ex, badRequest("model '" + model +
                                          "' must be given as provider/model, e.g. "
                                          "openai/gpt-4o-mini (or name the provider in the "
                                          "x-finops-provider header)",
                                      "model", "invalid_value"));
    co_return;
  }
  std::string_view providerName = ref->provider;
  std::string upstreamModel(ref->model);
  const ProviderRoute* route = ex.config->provider(providerName);
  if (!route) {
    co_await sendError(ex, apiError(404, "invalid_request_error", "model_not_found",
                                    "The model '" + model + "' does not exist: no provider '" +
                                        std::string(providerName) + "' is configured.",
                                    "model"));
    co_return;
  }
  ex.provider = route->name;
  if (ex.key) {
    if (auto err = checkModelAccess(*ex.key, route->name, upstreamModel)) {
      co_await sendError(ex, *err);
      co_return;
    }
  }
  bool stream = pr.pathStream;
  if (endpoint != Endpoint::kGenerateContent) {
    const json_scan::Member* streamMember = scan.find("stream");
    stream = streamMember && streamMember->kind == 't';
  }

  Target target = targetFor(route->type, upstreamModel, route->defaultMaxTokens);
  // Native providers put the model in the URL path: only a plain model id may get there
  // (no '/', '?', '%', ':' or spaces that would reach another endpoint with our key).
  if (target.wire != Wire::kOpenAI || target.vertex) {
    bool plain = !upstreamModel.empty() && upstreamModel.size() <= 256;
    for (char c : upstreamModel)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '@'))
        plain = false;
    if (!plain) {
      co_await sendError(ex, badRequest("model '" + model + "' is not a valid " + route->name +
                                            " model id (letters, digits, '.', '_', '-', '@')",
                                        "model", "invalid_value"));
      co_return;
    }
  }
  auto translator = makeTranslator(endpoint, target, model);
  if (!translator) {
    co_await sendError(ex, apiError(400, "invalid_request_error", "unsupported_endpoint",
                                    "provider '" + route->name + "' does not support this endpoint",
                                    ""));
    co_return;
  }
  UpstreamCall call;
  if (auto err = translator->buildRequest(
          ClientRequest{bodyText, scan, stream, ex.req["anthropic-beta"]}, upstreamModel, call)) {
    co_await sendError(ex, *err);
    co_return;
  }
  // Vertex AI: an access token for the service account (cached; fetched when needed).
  std::string vertexToken;
  if (route->tokenSource) {
    std::string tokenError;
    auto token = co_await route->tokenSource->token(ex.pool, tokenError);
    if (!token) {
      log::warn("no Vertex AI access token", {{"request_id", ex.requestId},
                                              {"provider", route->name},
                                              {"error", tokenError}});
      co_await sendError(ex, apiError(502, "server_error", "upstream_auth_error",
                                      "could not get an access token for provider '" +
                                          route->name + "': " + tokenError));
      co_return;
    }
    vertexToken = "Bearer " + *token;
  }

  // Governance: budgets and rate limits are checked against this gateway's allowances,
  // with no call to the control plane.
  Accounting acct(ex, route->name, upstreamModel);
  acct.translator = translator.get();
  acct.fallbackPriceProvider = route->priceFallback;
  // Counting tokens generates nothing: it is neither limited nor charged.
  if (ex.gov && endpoint != Endpoint::kCountTokens) {
    if (ex.gov->reporter && !ex.gov->reporter->hasRoom()) {
      ex.gov->refusals.fetch_add(1, std::memory_order_relaxed);
      ex.responseHeaders.emplace_back("retry-after", "1");
      co_await sendError(ex, apiError(503, "service_unavailable", "usage_backlog",
                                      "The gateway cannot reach the control plane to record "
                                      "usage and its buffer is full; retry shortly."));
      co_return;
    }
    if (ex.key) {
      const auto& limits = ex.key->limitsFor(route->name);
      auto refusal = ex.gov->quota.admit(limits, acct.ticket);
      // No allowance yet for a limit (a key created a moment ago, a new window, a limit
      // idle for a while): it has been asked for and usually arrives within milliseconds.
      // Wait for it up to 200 ms rather than fail the request.
      for (int i = 0; refusal && refusal->pending && i < 20; ++i) {
        net::steady_timer wait(ex.stream.get_executor());
        wait.expires_after(std::chrono::milliseconds(10));
        beast::error_code waitEc;
        co_await wait.async_wait(redirect_error(use_awaitable, waitEc));
        refusal = ex.gov->quota.admit(limits, acct.ticket);
      }
      if (refusal) {
        ex.gov->refusals.fetch_add(1, std::memory_order_relaxed);
        ex.responseHeaders = std::move(refusal->headers);
        co_await sendError(ex, refusal->error);
        co_return;
      }
    }
    acct.armed = true;
  }

  // Build the upstream request.
  http::request<http::string_body> up{http::verb::post, route->url.basePath + call.path, 11};
  up.set(http::field::host, route->url.hostHeader());
  up.set(http::field::content_type, "application/json");
  up.set(http::field::accept, stream ? "text/event-stream" : "application/json");
  up.set(http::field::accept_encoding, "identity");
  up.set(http::field::user_agent, "finops/" FINOPS_VERSION);
  if (!vertexToken.empty()) up.set(http::field::authorization, vertexToken);
  else if (const auto* auth = route->nextAuth()) up.set(auth->first, auth->second);
  if (target.wire == Wire::kAnthropic && !target.vertex) {
    // An Anthropic client's own version when it talks to Anthropic; ours otherwise.
    std::string_view version = ex.dialect == Dialect::kAnthropic ? ex.req["anthropic-version"] : "";
    up.set("anthropic-version", version.empty() ? std::string_view("2023-06-01") : version);
  }
  for (const auto& [name, value] : call.headers) up.set(name, value);
  for (auto& [name, value] :
       selectForwardHeaders(ex.req, ex.config->forwardHeaders, ex.config->extraHeaders, up))
    up.insert(name, value);
  up.keep_alive(true);
  up.body() = std::move(call.body);
  up.prepare_payload();

  std::unique_ptr<upstream::Connection> conn;
  std::optional<upstream::Parser> parser;
  beast::error_code ec;
  auto waitFrom = std::chrono::steady_clock::now();
  co_await ex.pool.exchange(*route, up, conn, parser, ec);
  ex.upstreamWait += std::chrono::steady_clock::now() - waitFrom;
  if (ec) {
    stats::countUpstreamError(route->name, stats::classify(ec));
    acct.outcome = ec == beast::error::timeout ? "timeout" : "upstream_failed";
    acct.upstreamMayHaveWorked = ec == beast::error::timeout;
    log::warn("upstream request failed", {{"request_id", ex.requestId},
                                          {"provider", route->name},
                                          {"error", ec.message()}});
    co_await sendError(ex, upstreamFailure(ec, *route));
    co_return;
  }
  auto& head = parser->get();
  unsigned status = head.result_int();
  acct.upstreamStatus = status;
  if (status >= 300) acct.outcome = "upstream_error";
  if (auto kind = stats::classifyStatus(status)) stats::countUpstreamError(route->name, *kind);
  bool upstreamKeepAlive = head.keep_alive();
  bool isSse = head[http::field::content_type].find("text/event-stream") != std::string_view::npos;

  if (status >= 200 && status < 300 && isSse) {
    // ---- streamed relay: one upstream piece at a time, never the whole stream.
    ex.streamed = true;
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set("x-request-id", ex.requestId);
    if (ex.dialect == Dialect::kAnthropic) res.set("request-id", ex.requestId);
    res.set("x-finops-overhead-us", std::to_string(overheadNow(ex)));
    for (const auto& [name, value] : ex.corsHeaders) res.set(name, value);
    res.keep_alive(ex.keepAlive);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    ex.status = 200;
    ex.stream.expires_after(std::chrono::seconds(30));
    co_await http::async_write_header(ex.stream, sr, redirect_error(use_awaitable, ec));
    if (ec) {
      ex.keepAlive = false;
      conn->close();
      co_return;
    }
    DisconnectWatcher watcher(ex.stream, *conn);
    sse::Parser sseParser;
    std::string out;
    std::array<char, 16384> buf;
    bool clientFailed = false;
    bool upstreamComplete = false;
    for (;;) {
      size_t n = co_await ex.pool.readSome(*conn, *parser, buf.data(), buf.size(), ec);
      if (ec || n == 0) {
        upstreamComplete = !ec;
        break;
      }
      out.clear();
      sseParser.feed(std::string_view(buf.data(), n),
                     [&](const sse::Event& e) { translator->onStreamEvent(e, out); });
      if (out.empty()) continue;
      if (ex.firstContent == std::chrono::steady_clock::time_point{})
        ex.firstContent = std::chrono::steady_clock::now();
      ex.keepForLog(out);
      ex.stream.expires_after(std::chrono::seconds(30));
      co_await net::async_write(ex.stream, http::make_chunk(net::buffer(out)),
                                redirect_error(use_awaitable, ec));
      if (ec) {
        clientFailed = true;
        break;
      }
    }
    bool clientGone = watcher.clientGone() || clientFailed;
    co_await watcher.stop(ex.buffer);
    if (clientGone) {
      acct.outcome = "client_cancelled";
      ex.errorType = "client_cancelled";
      log::info("client went away mid-stream; upstream request cancelled",
                {{"request_id", ex.requestId}, {"provider", route->name}});
      conn->close();
      ex.keepAlive = false;
      ex.status = 499;
      co_return;
    }
    out.clear();
    if (!upstreamComplete) {
      stats::countUpstreamError(route->name, ec == beast::error::timeout
                                                 ? stats::UpstreamError::kTimeout
                                                 : stats::UpstreamError::kStreamInterrupted);
      acct.outcome = ec == beast::error::timeout ? "timeout" : "upstream_failed";
      ex.errorType = ec == beast::error::timeout ? "upstream_timeout" : "upstream_error";
      log::warn("upstream stream failed", {{"request_id", ex.requestId},
                                           {"provider", route->name},
                                           {"error", ec.message()}});
      out.append(renderStreamError(ex.dialect, apiError(502, "server_error", "upstream_error",
                                                        "the upstream stream failed: " + ec.message())));
      conn->close();
      conn.reset();
      ex.keepAlive = false;
    } else if (!translator->onStreamEnd(out)) {
      acct.outcome = "upstream_failed";  // cut short or ended by an error event
      ex.errorType = "upstream_error";
    }
    ex.stream.expires_after(std::chrono::seconds(30));
    ex.keepForLog(out);
    if (!out.empty())
      co_await net::async_write(ex.stream, http::make_chunk(net::buffer(out)),
                                redirect_error(use_awaitable, ec));
    if (!ec)
      co_await net::async_write(ex.stream, http::make_chunk_last(), redirect_error(use_awaitable, ec));
    if (ec) ex.keepAlive = false;
    if (conn && upstreamComplete && upstreamKeepAlive) ex.pool.release(std::move(conn));
    co_return;
  }

  // ---- non-streamed: read the whole (bounded) body, translate, send.
  std::string upstreamBody;
  constexpr size_t kMaxUpstreamBody = 256u * 1024 * 1024;
  waitFrom = std::chrono::steady_clock::now();
  co_await ex.pool.readBody(*conn, *parser, upstreamBody, kMaxUpstreamBody, ec);
  ex.upstreamWait += std::chrono::steady_clock::now() - waitFrom;
  acct.responseBytes = upstreamBody.size();
  ex.pool.done(std::move(conn), *parser, ec);
  if (ec) {
    if (status < 400)  // (an error status was counted already)
      stats::countUpstreamError(route->name, ec == beast::error::timeout
                                                 ? stats::UpstreamError::kTimeout
                                                 : stats::UpstreamError::kStreamInterrupted);
    acct.outcome = ec == beast::error::timeout ? "timeout" : "upstream_failed";
    co_await sendError(ex, upstreamFailure(ec, *route));
    co_return;
  }

  http::response<http::string_body> res;
  res.result(status);
  if (status >= 200 && status < 300) {
    res.body() = isSse ? std::move(upstreamBody) : translator->translateResponse(upstreamBody);
    res.set(http::field::content_type, head[http::field::content_type].empty()
                                           ? std::string_view("application/json")
                                           : head[http::field::content_type]);
  } else {
    ApiError e = translator->upstreamError(static_cast<int>(status), upstreamBody);
    // A native client of its own provider sees the provider's status (the Anthropic SDK
    // picks OverloadedError from 529).
    if ((ex.dialect == Dialect::kAnthropic && target.wire == Wire::kAnthropic) ||
        (ex.dialect == Dialect::kGemini && target.wire == Wire::kGemini))
      e.status = static_cast<int>(status);
    res.result(static_cast<unsigned>(e.status));
    res.body() = renderError(ex.dialect, e);
    ex.errorType = e.code.empty() ? e.type : e.code;
    res.set(http::field::content_type, "application/json");
    if (e.retryAfterSeconds >= 0) res.set(http::field::retry_after, std::to_string(e.retryAfterSeconds));
    for (auto name : {"retry-after", "retry-after-ms"})
      if (auto v = head[name]; !v.empty()) res.set(name, v);
  }
  co_await sendResponse(ex, res);
}

namespace {
std::string percentDecode(std::string_view in) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() &&
        hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::string modelObject(std::string_view id, std::string_view owner) {
  json m = json::object();
  m["id"] = id;
  m["object"] = "model";
  m["created"] = 0;
  m["owned_by"] = owner;
  return m.dump();
}
}  // namespace

net::awaitable<void> handleGenai(Exchange& ex, std::string_view rest) {
  // "{model}:{method}"; SDKs may percent-encode the '/' of "provider/model".
  std::string decoded = percentDecode(rest);
  size_t colon = decoded.rfind(':');
  std::string method = colon == std::string::npos ? "" : decoded.substr(colon + 1);
  ProxyRequest pr;
  pr.endpoint = Endpoint::kGenerateContent;
  pr.pathModel = decoded.substr(0, colon);
  if (method == "generateContent") {
    pr.pathStream = false;
  } else if (method == "streamGenerateContent") {
    pr.pathStream = true;
  } else {
    co_await sendError(ex, apiError(404, "invalid_request_error", "unknown_route",
                                    "Method '" + method + "' is not supported on /genai (use "
                                    "generateContent or streamGenerateContent)."));
    co_return;
  }
  if (pr.pathModel.empty()) {
    co_await sendError(ex, badRequest("the URL names no model", "model"));
    co_return;
  }
  co_await handleProxy(ex, std::move(pr));
}

net::awaitable<void> handleListModels(Exchange& ex) {
  auto ids = co_await listModelIds(ex, std::chrono::milliseconds(2000));
  std::string body = "{\"object\":\"list\",\"data\":[";
  bool first = true;
  for (const auto& [id, owner] : ids) {
    // Only what the calling key may use.
    if (ex.key && !modelAllowed(*ex.key, owner, std::string_view(id).substr(std::min(id.size(), owner.size() + 1))))
      continue;
    if (!first) body.push_back(',');
    first = false;
    body += modelObject(id, owner);
  }
  body += "]}";
  co_await sendJson(ex, 200, std::move(body));
}

net::awaitable<void> handleGetModel(Exchange& ex, std::string_view rawId) {
  // SDKs percent-encode the '/' of "provider/model" in the path.
  std::string id = percentDecode(rawId);
  auto ref = splitModel(id);
  const ProviderRoute* route = ref ? ex.config->provider(ref->provider) : nullptr;
  if (route && ex.key && !modelAllowed(*ex.key, route->name, ref->model)) route = nullptr;
  if (route) {
    auto ids = co_await listModelIds(ex, std::chrono::milliseconds(2000));
    bool known = false;
    bool providerListed = false;
    for (const auto& [mid, owner] : ids) {
      if (owner == route->name) providerListed = true;
      if (mid == id) known = true;
    }
    // A provider whose models we cannot list may still serve the model.
    if (known || !providerListed) {
      co_await sendJson(ex, 200, modelObject(id, route->name));
      co_return;
    }
  }
  co_await sendError(ex, apiError(404, "invalid_request_error", "model_not_found",
                                  "The model '" + id + "' does not exist", "model"));
}

}  // namespace finops::dp
