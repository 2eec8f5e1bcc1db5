// Compiles the stored state into the Snapshot every data plane receives.
#pragma once

#include "controlplane/store/store.h"
#include "finops/v1/config.pb.h"

namespace finops::cp {

finops::v1::Snapshot buildSnapshot(const StateView& state);

finops::v1::ProviderType providerTypeFromString(const std::string& s);
std::string providerTypeToString(finops::v1::ProviderType t);

// Default base URL for a well-known OpenAI-compatible provider name, or "" if unknown.
std::string defaultBaseUrl(const std::string& providerName);

}  // namespace finops::cp
