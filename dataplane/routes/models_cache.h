// Model listing: each provider's configured models plus what its upstream GET /models
// returns, cached for a minute. A client never waits longer than `maxWait` for upstreams;
// slow fetches finish in the background and fill the cache for later calls.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/server/exchange.h"

namespace finops::dp {

// (id "provider/model", owner provider name) pairs, sorted by provider, de-duplicated.
net::awaitable<std::vector<std::pair<std::string, std::string>>> listModelIds(
    Exchange& ex, std::chrono::milliseconds maxWait);

// Parses an upstream /models body: {"data":[{"id":..}]} or a bare list, or Ollama-style
// {"models":[{"name":..}]}. Exposed for tests.
std::vector<std::string> parseUpstreamModels(std::string_view body);

}  // namespace finops::dp
