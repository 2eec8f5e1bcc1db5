// OpenAI chat completions <-> Gemini generateContent, both ways.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "dataplane/translate/translator.h"

namespace finops::dp {

// Provider side: the client speaks OpenAI chat completions, the upstream Gemini
// ("/models/{m}:generateContent", ":streamGenerateContent?alt=sse"; Vertex:
// "/publishers/google/models/{m}:..." when target.vertex).
std::unique_ptr<Translator> makeOpenAIToGemini(std::string clientModel, const Target& target);

// Client side, /genai/.../models/{m}:generateContent, to a Gemini upstream (or Vertex
// Gemini): the body passes through, the path is rebuilt for the upstream model, usage read.
std::unique_ptr<Translator> makeGeminiPassthrough(std::string clientModel, const Target& target);

// Client side, /genai, to any other upstream: the Gemini request becomes an OpenAI chat
// request handed to `inner`, and inner's OpenAI output becomes Gemini output.
std::unique_ptr<Translator> makeGeminiFront(std::string clientModel,
                                            std::unique_ptr<Translator> inner);

// The pieces. (ordered_json: member order is kept, e.g. in tool schemas.)
// Gemini request -> OpenAI chat request; `model` and `stream` come from the URL.
std::optional<ApiError> geminiRequestToOpenAI(const nlohmann::ordered_json& in,
                                              std::string_view model, bool stream,
                                              nlohmann::ordered_json& out);
// OpenAI chat request -> Gemini request body (no model: it is in the URL). For
// count-tokens and the provider-side translator.
std::optional<ApiError> openAIRequestToGemini(const nlohmann::ordered_json& in,
                                              nlohmann::ordered_json& out);
// A Gemini "usageMetadata" object -> Usage (completion includes thoughts tokens).
void parseGeminiUsage(const nlohmann::ordered_json& usageMetadata, Usage& out);
// A non-2xx Gemini body -> ApiError (google status -> HTTP status, RetryInfo -> retry).
ApiError geminiUpstreamError(int status, std::string_view body);

}  // namespace finops::dp
