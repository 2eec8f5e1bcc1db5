// The driver shared by the translator fuzz targets (translate_*_fuzz.cc): it takes a client
// request through the data plane's checks (as handleProxy in dataplane/routes/openai.cc does:
// depth, JSON, object, message count, model), builds the upstream call with a fresh
// translator, and then feeds it an upstream body, stream or error.
//
// Input layout:
//   byte 0   which setup of the target (index modulo the number of setups)
//   byte 1   bits 0-1: 0 request only; 1 a non-streamed 2xx upstream body; 2 an upstream
//            SSE stream (the route relays a stream whenever the upstream sends
//            text/event-stream, whatever the request said); 3 an upstream error
//            bit 2: Gemini endpoints: the path asked for a stream (:streamGenerateContent)
//            bits 3-6: the upstream error status (index into a table of 16 statuses)
//            bit 7: the client sent an anthropic-beta header
//   byte 2   how the upstream stream is split into reads (fuzz_util.h pieces())
//   rest     the client's request body, a NUL byte, the upstream bytes
//
// Checks (any failure aborts with a message):
//  - an error from buildRequest is a client error (4xx) with a message, and renders as valid
//    JSON (and as a valid SSE error event) in the client's dialect;
//  - a built upstream call has a JSON body, a path starting with '/', header names and values
//    without line breaks, and (where the body carries one) "model" is the upstream model as a
//    last-member-wins JSON parser (the upstream's) reads it;
//  - a response to a valid JSON upstream body is valid JSON;
//  - a stream: each event the translator handles appends whole SSE events (or nothing);
//    the client stream's events carry JSON (or [DONE]) when the upstream's did (always, for
//    translators that build their events); nothing follows an OpenAI-dialect [DONE] or an
//    Anthropic-dialect message_stop; a stream reported incomplete ends the client stream with an
//    error event; whole and split upstream reads give the same event names, completeness, usage and
//    content count;
//  - usage is never negative, and cached tokens are part of the prompt tokens;
//  - an upstream error becomes a 4xx/5xx that renders as valid JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/translate/translator.h"

namespace finops::fuzz {

struct TranslatorSetup {
  const char* name;
  dp::Endpoint endpoint;
  dp::Dialect dialect;        // the client's
  std::string upstreamModel;  // what the route passes (a plain model id)
  // What the upstream body's "model" must be: the upstream model, absent, or anything
  // (Gemini passthrough: the body goes as the client sent it, the model is in the path).
  enum class BodyModel { kUpstream, kAbsent, kAny } bodyModel = BodyModel::kUpstream;
  // The translator builds every client event itself: they are JSON even when the upstream's
  // were not.
  bool buildsEvents = false;
  std::function<std::unique_ptr<dp::Translator>(std::string clientModel)> make;
};

int runTranslator(const uint8_t* data, size_t size, const std::vector<TranslatorSetup>& setups);

// Targets for the provider-side wire formats.
dp::Target target(dp::Wire wire, bool vertex, int64_t defaultMaxTokens = 4096);

}  // namespace finops::fuzz
