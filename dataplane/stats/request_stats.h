// The data plane's traffic metrics: requests, tokens and cost by provider, model and key;
// latency, time to first token and gateway overhead; upstream errors by type. Rendered on
// /metrics with the server's own counters (docs/metrics.md).
#pragma once

#include <boost/system/error_code.hpp>
#include <optional>
#include <string_view>

#include "common/metrics.h"

namespace finops::dp {
struct Exchange;
}

namespace finops::dp::stats {

metrics::Registry& registry();

// A finished request (traffic only: not health checks, /metrics or /logs).
void countRequest(const Exchange& ex, double latencySeconds);

// The closed set of upstream error types (finops_upstream_errors_total{type}).
enum class UpstreamError {
  kConnect,            // could not connect (DNS, refused, reset before a response)
  kTls,                // TLS handshake or certificate failure
  kTimeout,            // no (complete) answer in time
  kRateLimited,        // 429
  kAuth,               // 401, 403: the provider refused our credentials
  kBadRequest,         // another 4xx
  kServerError,        // 5xx (529 included)
  kStreamInterrupted,  // the response broke off after it started
};
std::string_view name(UpstreamError e);
void countUpstreamError(std::string_view provider, UpstreamError e);
// A transport failure before the response head.
UpstreamError classify(const boost::system::error_code& ec);
// An upstream status; nullopt for success.
std::optional<UpstreamError> classifyStatus(unsigned status);

}  // namespace finops::dp::stats
