// Compiles the stored state into the Snapshot every data plane receives.
#pragma once

#include "controlplane/store/store.h"
#include "finops/v1/config.pb.h"

namespace finops::cp {

finops::v1::Snapshot buildSnapshot(const StateView& state);

finops::v1::ProviderType providerTypeFromString(const std::string& s);
std::string providerTypeToString(finops::v1::ProviderType t);

// Default base URL for a provider type ("anthropic", "gemini", "vertex": from the location)
// or a well-known OpenAI-compatible provider name; "" if unknown.
std::string defaultBaseUrl(const std::string& type, const std::string& providerName,
                           const std::string& vertexLocation);

}  // namespace finops::cp
