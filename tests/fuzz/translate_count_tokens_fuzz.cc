// /anthropic/v1/messages/count_tokens (dataplane/translate/count_tokens.h) to Anthropic,
// Gemini and their Vertex AI forms. Input layout and checks: translate_driver.h.
#include "dataplane/translate/count_tokens.h"
#include "tests/fuzz/translate_driver.h"

namespace {

using namespace finops::dp;
using finops::fuzz::TranslatorSetup;

std::vector<TranslatorSetup> setups() {
  std::vector<TranslatorSetup> s;
  for (Wire wire : {Wire::kAnthropic, Wire::kGemini}) {
    for (bool vertex : {false, true}) {
      TranslatorSetup t;
      t.name = "count_tokens";
      t.endpoint = Endpoint::kCountTokens;
      t.dialect = Dialect::kAnthropic;
      t.upstreamModel = wire == Wire::kAnthropic ? "claude-sonnet-4-5" : "gemini-2.5-flash";
      t.bodyModel = wire == Wire::kAnthropic ? TranslatorSetup::BodyModel::kUpstream
                                             : TranslatorSetup::BodyModel::kAbsent;
      t.make = [wire, vertex](std::string) {
        return makeCountTokens(finops::fuzz::target(wire, vertex));
      };
      s.push_back(std::move(t));
    }
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<TranslatorSetup> kSetups = setups();
  return finops::fuzz::runTranslator(data, size, kSetups);
}
