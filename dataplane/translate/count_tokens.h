// /anthropic/v1/messages/count_tokens for providers that can count: Anthropic (and Vertex
// Anthropic) directly, Gemini (and Vertex Gemini) through :countTokens.
#pragma once

#include <memory>
#include <string>

#include "dataplane/translate/translator.h"

namespace finops::dp {

// nullptr when the provider cannot count tokens (OpenAI-compatible upstreams).
std::unique_ptr<Translator> makeCountTokens(const Target& target);

}  // namespace finops::dp
