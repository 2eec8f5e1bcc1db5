// OpenAI chat completions <-> Anthropic Messages, both ways.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "dataplane/translate/translator.h"

namespace finops::dp {

// Provider side: the client speaks OpenAI chat completions, the upstream Anthropic
// Messages (api.anthropic.com "/messages", or Vertex ":rawPredict"/":streamRawPredict"
// when target.vertex).
std::unique_ptr<Translator> makeOpenAIToAnthropic(std::string clientModel, const Target& target);

// Client side, /anthropic/v1/messages, to an Anthropic upstream (or Vertex Anthropic):
// the body passes through with the model replaced (Vertex: removed, anthropic_version
// set), responses get the client's model back, stream events are relayed with their
// "event:" lines, usage is read.
std::unique_ptr<Translator> makeAnthropicPassthrough(std::string clientModel, const Target& target);

// Client side, /anthropic/v1/messages, to any other upstream: the Anthropic request
// becomes an OpenAI chat request handed to `inner` (a provider-side translator for the
// upstream), and inner's OpenAI output becomes Anthropic output (stream events with
// "event:" lines). Usage is inner's.
std::unique_ptr<Translator> makeAnthropicFront(std::string clientModel,
                                               std::unique_ptr<Translator> inner);

// The pieces, for the fronts of other dialects and for tests. (ordered_json: member order
// is kept, e.g. in tool schemas.)
// Anthropic request -> OpenAI chat request (model kept as given). nullopt on success.
std::optional<ApiError> anthropicRequestToOpenAI(const nlohmann::ordered_json& in,
                                                 nlohmann::ordered_json& out);
// An Anthropic "usage" object -> Usage (prompt = input + cache read + cache write).
void parseAnthropicUsage(const nlohmann::json& usage, Usage& out);
// A non-2xx Anthropic body -> ApiError (529 overloaded -> 503).
ApiError anthropicUpstreamError(int status, std::string_view body);

}  // namespace finops::dp
