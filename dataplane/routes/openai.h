// The generation routes, proxied through the translator for the client's API and the
// provider's: OpenAI chat/completions, completions, embeddings; Anthropic /anthropic/v1/
// messages (+ count_tokens); Gemini /genai/.../models/{m}:generateContent. And the OpenAI
// models routes (listed from the config and upstream model lists).
#pragma once

#include "dataplane/server/exchange.h"

namespace finops::dp {

// A request to relay: what the client asked for, and (Gemini) what its URL said.
struct ProxyRequest {
  Endpoint endpoint = Endpoint::kChatCompletions;
  std::string pathModel;    // Gemini: the model from the URL
  bool pathStream = false;  // Gemini: :streamGenerateContent
};

// (A function, not a braced initialiser: GCC 12 miscompiles those inside coroutines.)
inline ProxyRequest proxyRequest(Endpoint e) {
  ProxyRequest pr;
  pr.endpoint = e;
  return pr;
}

// Relays one generation request through the translator for its (endpoint, provider) pair,
// governed by the caller's virtual key. Errors are rendered in ex.dialect.
net::awaitable<void> handleProxy(Exchange& ex, ProxyRequest pr);
// /genai/{version}/models/{model}:{method}; `rest` is "{model}:{method}".
net::awaitable<void> handleGenai(Exchange& ex, std::string_view rest);
net::awaitable<void> handleListModels(Exchange& ex);
net::awaitable<void> handleGetModel(Exchange& ex, std::string_view id);

}  // namespace finops::dp
