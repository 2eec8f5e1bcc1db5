// Picks the translator for a (client endpoint, provider target) pair.
#pragma once

#include <memory>
#include <string>

#include "dataplane/translate/openai_compat.h"
#include "dataplane/translate/translator.h"
#include "finops/v1/config.pb.h"

namespace finops::dp {

// The provider side for a provider type and the model the upstream receives (Vertex
// serves Gemini models and, for "claude-*", Anthropic models).
Target targetFor(finops::v1::ProviderType type, std::string_view upstreamModel,
                 int64_t defaultMaxTokens);

// nullptr when the combination is not supported (e.g. embeddings to Anthropic).
// `clientModel` (what the client sent) is echoed in every response.
std::unique_ptr<Translator> makeTranslator(Endpoint endpoint, const Target& target,
                                           std::string clientModel);

}  // namespace finops::dp
