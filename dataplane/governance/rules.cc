#include "dataplane/governance/rules.h"

#include "common/window.h"
#include "dataplane/config/snapshot.h"

namespace finops::dp {

bool globMatch(std::string_view p, std::string_view t) {
  // Iterative matcher with one backtrack point: linear in practice, no recursion.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool modelAllowed(const KeyEntry& key, std::string_view provider, std::string_view model) {
  if (key.allowedProviders.empty() && key.allowedModels.empty()) return true;
  for (const auto& p : key.allowedProviders)
    if (p == provider) return true;
  std::string full;
  for (const auto& pattern : key.allowedModels) {
    if (pattern.find('/') == std::string::npos) {
      if (globMatch(pattern, model)) return true;
      continue;
    }
    if (full.empty()) full.append(provider).append("/").append(model);
    if (globMatch(pattern, full)) return true;
  }
  return false;
}

std::optional<ApiError> keyUsable(const KeyEntry& key, int64_t nowMs) {
  if (key.status == "revoked")
    return apiError(401, "invalid_request_error", "invalid_api_key", "The virtual key has been revoked.");
  if (key.status == "disabled")
    return apiError(403, "permission_denied", "key_disabled",
                    "The virtual key '" + key.name + "' is disabled.");
  if (key.expiresAtMs > 0 && nowMs >= key.expiresAtMs)
    return apiError(403, "permission_denied", "key_expired",
                    "The virtual key '" + key.name + "' expired at " + formatUtc(key.expiresAtMs) + ".");
  return std::nullopt;
}

std::optional<ApiError> checkModelAccess(const KeyEntry& key, std::string_view provider,
                                         std::string_view model) {
  if (modelAllowed(key, provider, model)) return std::nullopt;
  return apiError(403, "permission_denied", "model_not_allowed",
                  "The virtual key '" + key.name + "' is not allowed to use model '" +
                      std::string(provider) + "/" + std::string(model) + "'.",
                  "model");
}

}  // namespace finops::dp
