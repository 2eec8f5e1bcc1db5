// Translators turn a client request into a provider's native request and the provider's
// response back into what the client expects.
//
// Two axes: the client's dialect (the API it speaks: OpenAI chat completions on /v1,
// Anthropic Messages on /anthropic, Gemini generateContent on /genai) and the provider's
// wire format (OpenAI-compatible, Anthropic, Gemini; Vertex AI carries the last two).
// OpenAI chat is the pivot: a provider-side translator takes an OpenAI chat request and
// gives OpenAI chat output; a client-side "front" turns a native request into OpenAI chat,
// hands it to a provider-side translator, and turns its OpenAI output back into the
// client's dialect. A native client talking to a provider of the same format is passed
// through. factory.h picks the combination.
//
// A translator is created per request, is not thread-safe, and is fed the upstream body
// in arbitrary pieces (streams arrive as parsed SSE events).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/governance/usage.h"
#include "dataplane/schema/json_scan.h"
#include "dataplane/sse/parser.h"

namespace finops::dp {

// What the client asked for.
enum class Endpoint {
  kChatCompletions,  // OpenAI /v1/chat/completions
  kCompletions,      // OpenAI /v1/completions
  kEmbeddings,       // OpenAI /v1/embeddings
  kMessages,         // Anthropic /anthropic/v1/messages
  kCountTokens,      // Anthropic /anthropic/v1/messages/count_tokens
  kGenerateContent,  // Gemini /genai/{v1,v1beta}/models/{m}:generateContent / :streamGenerateContent
};

// The API a client speaks: decides how its errors (and stream errors) are rendered.
enum class Dialect { kOpenAI, kAnthropic, kGemini };

// The wire format a provider speaks.
enum class Wire { kOpenAI, kAnthropic, kGemini };

// The provider side of a request.
struct Target {
  Wire wire = Wire::kOpenAI;
  // Vertex AI conventions: paths are "/publishers/{google|anthropic}/models/{m}:{method}"
  // relative to ".../v1/projects/{p}/locations/{l}", and Anthropic bodies carry
  // "anthropic_version":"vertex-2023-10-16" and no "model".
  bool vertex = false;
  // Anthropic requires max_tokens: used when the client sets neither max_tokens nor
  // max_completion_tokens.
  int64_t defaultMaxTokens = 4096;
};

// An error for the client. Rendered in the client's dialect (renderError).
struct ApiError {
  int status = 500;
  std::string type;
  std::string code;  // empty: null
  std::string message;
  std::string param;  // empty: null
  int retryAfterSeconds = -1;  // >= 0: sent as Retry-After
};

// Builds an ApiError. (A function rather than aggregate init: GCC 12 miscompiles
// braced initialisers with string literals inside coroutines.)
inline ApiError apiError(int status, std::string type, std::string code, std::string message,
                         std::string param = "") {
  ApiError e;
  e.status = status;
  e.type = std::move(type);
  e.code = std::move(code);
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

// The client's request body: validated JSON and the positions of its top-level members.
struct ClientRequest {
  std::string_view body;
  const json_scan::Result& scan;
  // The client asked for a stream: "stream":true in the body, or Gemini's
  // :streamGenerateContent in the path.
  bool stream = false;
  // The client's anthropic-beta header (forwarded to Anthropic upstreams).
  std::string_view anthropicBeta = {};
};

struct UpstreamCall {
  // Appended to the provider's base path, e.g. "/chat/completions", "/messages",
  // "/models/gemini-2.5-pro:streamGenerateContent?alt=sse".
  std::string path;
  std::string body;  // JSON
  // Extra upstream request headers (e.g. anthropic-beta). Auth headers are the route's.
  std::vector<std::pair<std::string, std::string>> headers;
};

class Translator {
 public:
  virtual ~Translator() = default;

  // Builds the upstream call from the client's request (not modified; a translator that
  // needs a DOM parses request.body itself) and the model name the upstream knows.
  // An error is the client's (400, in OpenAI terms; the route renders it).
  virtual std::optional<ApiError> buildRequest(const ClientRequest& request,
                                               std::string_view upstreamModel,
                                               UpstreamCall& out) = 0;

  // A complete non-streamed 2xx upstream body -> the client's body.
  virtual std::string translateResponse(std::string_view upstreamBody) = 0;

  // One upstream SSE event -> bytes for the client (complete SSE events), appended to `out`.
  virtual void onStreamEvent(const sse::Event& event, std::string& out) = 0;

  // The upstream stream ended. Appends closing bytes to `out`. Returns false when the
  // stream was incomplete (then `out` ends with an error event in the client's dialect).
  virtual bool onStreamEnd(std::string& out) = 0;

  // A non-2xx upstream response -> an error in OpenAI terms, keeping the upstream's
  // message and a sensible status (the route renders it in the client's dialect).
  virtual ApiError upstreamError(int status, std::string_view body);

  // Token usage as the upstream reported it (known == false until it has).
  virtual const Usage& usage() const { return usage_; }
  // Stream chunks carrying generated content so far (a token estimate for a cut stream).
  virtual int64_t contentChunks() const { return contentChunks_; }

 protected:
  Usage usage_;
  int64_t contentChunks_ = 0;
};

// ---- Errors in each dialect (translate/errors.cc).

// The body of an error response:
//  OpenAI:    {"error":{"message","type","param","code"}}
//  Anthropic: {"type":"error","error":{"type":<anthropic type by status>,"message"}}
//  Gemini:    {"error":{"code":<status>,"message","status":<google status by status>}}
std::string renderError(Dialect d, const ApiError& e);
// A complete SSE event carrying an error, for failures after a stream started:
//  OpenAI:    data: {"error":{...}}
//  Anthropic: event: error / data: {"type":"error","error":{...}}
//  Gemini:    data: {"error":{"code","message","status"}}
std::string renderStreamError(Dialect d, const ApiError& e);

// OpenAI-shaped helpers kept for the OpenAI dialect.
std::string errorBody(const ApiError& e);  // == renderError(Dialect::kOpenAI, e)
std::string errorEvent(std::string_view message, std::string_view code);  // 502 server_error

// An OpenAI error object ({"message","type","param","code"}, or the whole
// {"error":{...}} body) back to an ApiError; the status is guessed from type and code
// (rate limits 429, overloaded 503, timeouts 504, auth 401, permission 403, not found
// 404, invalid requests 400, else 502). Fronts use it for errors inside OpenAI streams.
ApiError apiErrorFromOpenAI(const nlohmann::json& error);

// A non-2xx body from an OpenAI-compatible upstream -> ApiError (status kept).
ApiError openAIUpstreamError(int status, std::string_view body);

}  // namespace finops::dp
