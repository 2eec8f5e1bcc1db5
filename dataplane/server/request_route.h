// Pure request classification, kept apart from the socket code so that it can be unit tested
// and fuzzed: which route a path names, which method it takes, which keys a client presented.
#pragma once

#include <array>
#include <boost/beast/http.hpp>
#include <string_view>

namespace finops::dp {

enum class Route {
  kNone, kHealthz, kReadyz, kMetrics, kModels, kModel, kChat, kCompletions, kEmbeddings,
  kAnthropicMessages, kAnthropicCountTokens, kGenai
};

struct Resolved {
  Route route = Route::kNone;
  std::string_view rest;  // model id for kModel; "model:method" for kGenai
};

// The route named by a path (without the query string).
Resolved resolve(std::string_view path);

// The one method a route accepts.
boost::beast::http::verb allowedMethod(Route r);

// The keys a client presented, in order of precedence: x-bf-vk (set on purpose for the
// gateway), Authorization: Bearer (where the OpenAI SDK and the Anthropic SDK 1.x put their
// apiKey), x-api-key (Anthropic SDK 0.x), x-goog-api-key (@google/genai), and "key=" in the
// query string (Gemini's other way). Empty views for the ones not sent.
std::array<std::string_view, 5> presentedKeys(
    const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace finops::dp
