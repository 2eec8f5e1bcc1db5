#include "dataplane/translate/factory.h"

#include "dataplane/translate/anthropic.h"
#include "dataplane/translate/count_tokens.h"
#include "dataplane/translate/gemini.h"

namespace finops::dp {

Target targetFor(finops::v1::ProviderType type, std::string_view upstreamModel,
                 int64_t defaultMaxTokens) {
  Target t;
  t.defaultMaxTokens = defaultMaxTokens > 0 ? defaultMaxTokens : 4096;
  switch (type) {
    case finops::v1::PROVIDER_TYPE_ANTHROPIC: t.wire = Wire::kAnthropic; break;
    case finops::v1::PROVIDER_TYPE_GEMINI: t.wire = Wire::kGemini; break;
    case finops::v1::PROVIDER_TYPE_VERTEX:
      t.vertex = true;
      // Vertex serves Anthropic's models under publishers/anthropic ("claude-...").
      t.wire = upstreamModel.starts_with("claude") ? Wire::kAnthropic : Wire::kGemini;
      break;
    default: t.wire = Wire::kOpenAI; break;
  }
  return t;
}

namespace {

// The provider side for a client speaking OpenAI chat completions.
std::unique_ptr<Translator> openAIChatTo(const Target& target, std::string clientModel) {
  switch (target.wire) {
    case Wire::kAnthropic: return makeOpenAIToAnthropic(std::move(clientModel), target);
    case Wire::kGemini: return makeOpenAIToGemini(std::move(clientModel), target);
    case Wire::kOpenAI: break;
  }
  return makeOpenAICompat(Endpoint::kChatCompletions, std::move(clientModel));
}

}  // namespace

std::unique_ptr<Translator> makeTranslator(Endpoint endpoint, const Target& target,
                                           std::string clientModel) {
  switch (endpoint) {
    case Endpoint::kChatCompletions: return openAIChatTo(target, std::move(clientModel));
    case Endpoint::kCompletions:
    case Endpoint::kEmbeddings:
      if (target.wire != Wire::kOpenAI) return nullptr;
      return makeOpenAICompat(endpoint, std::move(clientModel));
    case Endpoint::kMessages:
      if (target.wire == Wire::kAnthropic) return makeAnthropicPassthrough(std::move(clientModel), target);
      return makeAnthropicFront(clientModel, openAIChatTo(target, clientModel));
    case Endpoint::kGenerateContent:
      if (target.wire == Wire::kGemini) return makeGeminiPassthrough(std::move(clientModel), target);
      return makeGeminiFront(clientModel, openAIChatTo(target, clientModel));
    case Endpoint::kCountTokens: return makeCountTokens(target);
  }
  return nullptr;
}

}  // namespace finops::dp
