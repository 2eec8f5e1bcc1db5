// Reading OpenAI usage objects.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "dataplane/governance/usage.h"
#include "dataplane/translate/json_util.h"

namespace finops::dp {

bool parseOpenAIUsage(std::string_view text, Usage& out) {
  auto j = parseUntrusted<nlohmann::json>(text);
  if (!j.is_object()) return false;
  auto num = [](const nlohmann::json& o, const char* k) -> int64_t {
    auto it = o.find(k);
    return it == o.end() ? 0 : tokenCount(*it);
  };
  if (!j.contains("prompt_tokens") && !j.contains("completion_tokens") && !j.contains("total_tokens"))
    return false;
  out.promptTokens = num(j, "prompt_tokens");
  out.completionTokens = num(j, "completion_tokens");
  if (!j.contains("completion_tokens") && j.contains("total_tokens"))
    out.completionTokens = std::max<int64_t>(0, num(j, "total_tokens") - out.promptTokens);
  out.cachedTokens = 0;
  if (auto d = j.find("prompt_tokens_details"); d != j.end() && d->is_object())
    out.cachedTokens = std::min(num(*d, "cached_tokens"), out.promptTokens);
  out.known = true;
  return true;
}

}  // namespace finops::dp
