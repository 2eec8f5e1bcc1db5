#include "dataplane/server/request_route.h"

#include <boost/beast/core/string.hpp>

namespace finops::dp {

namespace beast = boost::beast;
namespace http = beast::http;

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

}  // namespace finops::dp
