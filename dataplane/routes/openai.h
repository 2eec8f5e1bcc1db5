// The OpenAI-compatible routes: chat/completions, completions, embeddings (proxied through
// the provider's translator) and models (listed from the config and upstream /models).
#pragma once

#include "dataplane/server/exchange.h"

namespace finops::dp {

net::awaitable<void> handleProxy(Exchange& ex, Endpoint endpoint);
net::awaitable<void> handleListModels(Exchange& ex);
net::awaitable<void> handleGetModel(Exchange& ex, std::string_view id);

}  // namespace finops::dp
