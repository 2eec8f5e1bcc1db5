#include "dataplane/stats/request_stats.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <string>

#include "dataplane/server/exchange.h"

namespace finops::dp::stats {

namespace {

struct Families {
  metrics::Registry reg;
  metrics::CounterFamily requests{reg, "finops_requests_total",
                                  "Requests served, by provider, model (as the client named it), "
                                  "virtual key name and status.",
                                  {"provider", "model", "key", "status"}};
  metrics::CounterFamily tokens{reg, "finops_tokens_total",
                                "Tokens used, by provider, model, key and type (prompt, "
                                "completion, cached; prompt includes cached).",
                                {"provider", "model", "key", "type"}};
  metrics::CounterFamily cost{reg, "finops_cost_dollars_total",
                              "What requests cost in US dollars, by provider, model and key.",
                              {"provider", "model", "key"}};
  metrics::HistogramFamily latency{reg, "finops_request_duration_seconds",
                                   "From the request read to the end of the response, by "
                                   "provider and model.",
                                   {"provider", "model"}, metrics::latencyBuckets()};
  metrics::HistogramFamily ttft{reg, "finops_time_to_first_token_seconds",
                                "Streamed responses: from the request read to the first "
                                "content sent, by provider and model.",
                                {"provider", "model"}, metrics::latencyBuckets()};
  metrics::HistogramFamily overhead{reg, "finops_gateway_overhead_seconds",
                                    "The gateway's own time per request "
                                    "(x-finops-overhead-us).",
                                    {}, {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01, 0.025, 0.05, 0.1}};
  metrics::CounterFamily upstreamErrors{reg, "finops_upstream_errors_total",
                                        "Upstream failures by provider and type (connect, tls, "
                                        "timeout, rate_limited, auth, bad_request, "
                                        "server_error, stream_interrupted).",
                                        {"provider", "type"}};
};

Families& families() {
  static Families f;
  return f;
}

}  // namespace

metrics::Registry& registry() { return families().reg; }

// A label value from client input: only a model whose provider exists is a label (anything
// else a client sends would be a new series), cut to a sane length.
static std::string_view modelLabel(const Exchange& ex) {
  if (ex.provider.empty()) return {};
  std::string_view m = ex.model;
  return m.substr(0, std::min<size_t>(m.size(), 200));
}

void countRequest(const Exchange& ex, double latencySeconds) {
  Families& f = families();
  std::string_view key = ex.key ? std::string_view(ex.key->name) : std::string_view();
  std::string_view model = modelLabel(ex);
  char status[8];
  int n = std::snprintf(status, sizeof status, "%u", ex.status);
  std::string_view st(status, n > 0 ? static_cast<size_t>(n) : 0);
  f.requests.add({ex.provider, model, key, st});
  if (ex.charged) {
    if (ex.usage.promptTokens)
      f.tokens.add({ex.provider, model, key, "prompt"}, static_cast<double>(ex.usage.promptTokens));
    if (ex.usage.completionTokens)
      f.tokens.add({ex.provider, model, key, "completion"},
                   static_cast<double>(ex.usage.completionTokens));
    if (ex.usage.cachedTokens)
      f.tokens.add({ex.provider, model, key, "cached"}, static_cast<double>(ex.usage.cachedTokens));
    if (ex.costNano) f.cost.add({ex.provider, model, key}, static_cast<double>(ex.costNano) / 1e9);
  }
  f.latency.observe({ex.provider, model}, latencySeconds);
  if (ex.streamed && ex.firstContent != std::chrono::steady_clock::time_point{})
    f.ttft.observe({ex.provider, model},
                   std::chrono::duration<double>(ex.firstContent - ex.start).count());
  if (ex.overheadUs >= 0) f.overhead.observe({}, static_cast<double>(ex.overheadUs) / 1e6);
}

std::string_view name(UpstreamError e) {
  switch (e) {
    case UpstreamError::kConnect: return "connect";
    case UpstreamError::kTls: return "tls";
    case UpstreamError::kTimeout: return "timeout";
    case UpstreamError::kRateLimited: return "rate_limited";
    case UpstreamError::kAuth: return "auth";
    case UpstreamError::kBadRequest: return "bad_request";
    case UpstreamError::kServerError: return "server_error";
    case UpstreamError::kStreamInterrupted: return "stream_interrupted";
  }
  return "connect";
}

void countUpstreamError(std::string_view provider, UpstreamError e) {
  families().upstreamErrors.add({provider, name(e)});
}

UpstreamError classify(const boost::system::error_code& ec) {
  if (ec == boost::beast::error::timeout || ec == boost::asio::error::timed_out)
    return UpstreamError::kTimeout;
  if (ec.category() == boost::asio::error::get_ssl_category() ||
      ec == boost::asio::ssl::error::stream_truncated)
    return UpstreamError::kTls;
  return UpstreamError::kConnect;
}

std::optional<UpstreamError> classifyStatus(unsigned status) {
  if (status < 400) return std::nullopt;
  if (status == 429) return UpstreamError::kRateLimited;
  if (status == 401 || status == 403) return UpstreamError::kAuth;
  if (status < 500) return UpstreamError::kBadRequest;
  return UpstreamError::kServerError;
}

}  // namespace finops::dp::stats
