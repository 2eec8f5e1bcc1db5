// How a client's model id names a provider: "provider/model", split at the first '/'
// only, so "openrouter/anthropic/claude-3.5" reaches OpenRouter as "anthropic/claude-3.5"
// and "ollama/llama3.1:8b" keeps its colon.
#pragma once

#include <optional>
#include <string_view>

namespace finops::dp {

struct ModelRef {
  std::string_view provider;
  std::string_view model;  // what the upstream receives
};

// nullopt when there is no '/', or either side is empty.
inline std::optional<ModelRef> splitModel(std::string_view id) {
  size_t slash = id.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == id.size()) return std::nullopt;
  return ModelRef{id.substr(0, slash), id.substr(slash + 1)};
}

}  // namespace finops::dp
