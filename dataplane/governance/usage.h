// Token usage of one request, as the upstream reported it (or as estimated when it never
// did), and what it costs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace finops::dp {

struct Usage {
  int64_t promptTokens = 0;  // includes cached and cache-write tokens
  int64_t completionTokens = 0;
  int64_t cachedTokens = 0;      // prompt tokens read from a cache
  int64_t cacheWriteTokens = 0;  // prompt tokens written to a cache
  bool known = false;            // the upstream reported it
};

// Reads an OpenAI "usage" object ({"prompt_tokens", "completion_tokens",
// "prompt_tokens_details": {"cached_tokens"}}; embeddings have only prompt/total tokens).
// Returns false when `json` is not such an object.
bool parseOpenAIUsage(std::string_view json, Usage& out);

}  // namespace finops::dp
