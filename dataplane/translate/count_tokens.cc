#include "dataplane/translate/count_tokens.h"

#include "dataplane/translate/anthropic.h"
#include "dataplane/translate/gemini.h"
#include "dataplane/translate/json_util.h"

namespace finops::dp {
namespace {

using json = nlohmann::ordered_json;

ApiError badRequest(std::string message, std::string param = "") {
  return apiError(400, "invalid_request_error", "", std::move(message), std::move(param));
}

// Anthropic counts natively: the body goes through with the upstream's model name.
class AnthropicCount final : public Translator {
 public:
  explicit AnthropicCount(Target t) : target_(t) {}
  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    json body = parseUntrusted<json>(request.body);
    if (!body.is_object()) return badRequest("The request body must be a JSON object.");
    body["model"] = upstreamModel;
    if (target_.vertex) {
      // Vertex counts Anthropic tokens at a fixed "count-tokens" model.
      body["anthropic_version"] = "vertex-2023-10-16";
      out.path = "/publishers/anthropic/models/count-tokens:rawPredict";
    } else {
      out.path = "/messages/count_tokens";
    }
    if (!request.anthropicBeta.empty()) out.headers.emplace_back("anthropic-beta", request.anthropicBeta);
    out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return std::nullopt;
  }
  std::string translateResponse(std::string_view upstreamBody) override { return std::string(upstreamBody); }
  void onStreamEvent(const sse::Event&, std::string&) override {}
  bool onStreamEnd(std::string&) override { return true; }
  ApiError upstreamError(int status, std::string_view body) override {
    return anthropicUpstreamError(status, body);
  }

 private:
  Target target_;
};

// Gemini: the Anthropic request becomes a generateContent request wrapped for :countTokens;
// {"totalTokens": n} becomes {"input_tokens": n}.
class GeminiCount final : public Translator {
 public:
  explicit GeminiCount(Target t) : target_(t) {}
  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    json in = parseUntrusted<json>(request.body);
    if (!in.is_object()) return badRequest("The request body must be a JSON object.");
    // count_tokens has no max_tokens; the conversion wants one.
    if (!in.contains("max_tokens")) in["max_tokens"] = 1;
    json chat, gem;
    if (auto err = anthropicRequestToOpenAI(in, chat)) return err;
    if (auto err = openAIRequestToGemini(chat, gem)) return err;
    gem.erase("generationConfig");
    std::string model = "models/" + std::string(upstreamModel);
    gem["model"] = model;
    json body = {{"generateContentRequest", gem}};
    out.path = (target_.vertex ? "/publishers/google/models/" : "/models/") + std::string(upstreamModel) +
               ":countTokens";
    if (target_.vertex) body = gem;  // Vertex takes the request fields at the top level
    if (target_.vertex) body.erase("model");
    out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return std::nullopt;
  }
  std::string translateResponse(std::string_view upstreamBody) override {
    json j = parseUntrusted<json>(upstreamBody);
    int64_t n = j.is_object() && j.contains("totalTokens") ? tokenCount(j["totalTokens"]) : 0;
    return json{{"input_tokens", n}}.dump();
  }
  void onStreamEvent(const sse::Event&, std::string&) override {}
  bool onStreamEnd(std::string&) override { return true; }
  ApiError upstreamError(int status, std::string_view body) override {
    return geminiUpstreamError(status, body);
  }

 private:
  Target target_;
};

}  // namespace

std::unique_ptr<Translator> makeCountTokens(const Target& target) {
  switch (target.wire) {
    case Wire::kAnthropic: return std::make_unique<AnthropicCount>(target);
    case Wire::kGemini: return std::make_unique<GeminiCount>(target);
    case Wire::kOpenAI: break;
  }
  return nullptr;
}

}  // namespace finops::dp
