// The translator for OpenAI-compatible upstreams (the body passes through with the model
// replaced by the upstream's name; responses get the client's model id back).
#pragma once

#include <memory>
#include <string>

#include "dataplane/translate/translator.h"

namespace finops::dp {

// nullptr for endpoints that are not OpenAI's.
std::unique_ptr<Translator> makeOpenAICompat(Endpoint endpoint, std::string clientModel);

}  // namespace finops::dp
