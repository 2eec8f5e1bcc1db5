// Translators turn a client request for one endpoint into a provider's native request and
// the provider's response back into what the client expects. One factory picks the
// translator for an (endpoint, provider type) pair; native providers add theirs there.
//
// A translator is created per request, is not thread-safe, and is fed the upstream body
// in arbitrary pieces (streams arrive as parsed SSE events).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "dataplane/governance/usage.h"
#include "dataplane/schema/json_scan.h"
#include "dataplane/sse/parser.h"
#include "finops/v1/config.pb.h"

namespace finops::dp {

enum class Endpoint { kChatCompletions, kCompletions, kEmbeddings };

// An error for the client, always rendered in the OpenAI error shape.
struct ApiError {
  int status = 500;
  std::string type;
  std::string code;  // empty: null
  std::string message;
  std::string param;  // empty: null
};

// Builds an ApiError. (A function rather than aggregate init: GCC 12 miscompiles
// braced initialisers with string literals inside coroutines.)
inline ApiError apiError(int status, std::string type, std::string code, std::string message,
                         std::string param = "") {
  return ApiError{status, std::move(type), std::move(code), std::move(message), std::move(param)};
}

// The client's request body: validated JSON and the positions of its top-level members.
struct ClientRequest {
  std::string_view body;
  const json_scan::Result& scan;
};

struct UpstreamCall {
  std::string path;  // appended to the provider's base path, e.g. "/chat/completions"
  std::string body;  // JSON
};

class Translator {
 public:
  virtual ~Translator() = default;

  // Builds the upstream call from the client's request (not modified; a translator that
  // needs a DOM parses request.body itself) and the model name the upstream knows.
  virtual std::optional<ApiError> buildRequest(const ClientRequest& request,
                                               std::string_view upstreamModel,
                                               UpstreamCall& out) = 0;

  // A complete non-streamed 2xx upstream body -> the client's body.
  virtual std::string translateResponse(std::string_view upstreamBody) = 0;

  // One upstream SSE event -> bytes for the client, appended to `out`.
  virtual void onStreamEvent(const sse::Event& event, std::string& out) = 0;

  // The upstream stream ended. Appends closing bytes to `out`. Returns false when the
  // stream was incomplete (then `out` ends with an error event and no [DONE]).
  virtual bool onStreamEnd(std::string& out) = 0;

  // Token usage as the upstream reported it (known == false until it has). Streamed
  // requests ask the upstream for it; the client sees the usage chunk only if it asked.
  const Usage& usage() const { return usage_; }
  // Stream chunks carrying generated content so far (a token estimate for a cut stream).
  int64_t contentChunks() const { return contentChunks_; }

 protected:
  Usage usage_;
  int64_t contentChunks_ = 0;
};

// The client-visible model id (what the client sent) is echoed in every response.
std::unique_ptr<Translator> makeTranslator(Endpoint endpoint, finops::v1::ProviderType type,
                                           std::string clientModel);

// {"error":{"message","type","param","code"}}
std::string errorBody(const ApiError& e);

// An SSE event carrying an error, for failures after the stream started.
std::string errorEvent(std::string_view message, std::string_view code);

// Normalises a non-2xx upstream body into the OpenAI error shape, keeping the upstream's
// message, type and code where it has them.
std::string normalizeUpstreamError(int status, std::string_view body);

}  // namespace finops::dp
