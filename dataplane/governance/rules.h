// A virtual key's access rules: status, expiry, and which providers and models it may use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/translate/translator.h"

namespace finops::dp {

struct KeyEntry;

// '*' matches any run of characters (including '/' and none); everything else literally.
bool globMatch(std::string_view pattern, std::string_view text);

// Whether the key's rules let it use provider/model (bare model name). No rules: yes.
// Otherwise: the provider is listed, or a model pattern matches — "p/m*" against
// "provider/model", a pattern without '/' against the bare model on any provider.
bool modelAllowed(const KeyEntry& key, std::string_view provider, std::string_view model);

// 401 for a revoked key, 403 for a disabled or expired one; nullopt when usable at nowMs.
std::optional<ApiError> keyUsable(const KeyEntry& key, int64_t nowMs);

// 403 model_not_allowed when the key may not use provider/model.
std::optional<ApiError> checkModelAccess(const KeyEntry& key, std::string_view provider,
                                         std::string_view model);

}  // namespace finops::dp
