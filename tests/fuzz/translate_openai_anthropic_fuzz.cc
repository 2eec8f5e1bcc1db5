// OpenAI chat completions to an Anthropic upstream (makeOpenAIToAnthropic in
// dataplane/translate/anthropic.h), direct and on Vertex AI. Input layout and checks:
// translate_driver.h.
#include "dataplane/translate/anthropic.h"
#include "tests/fuzz/translate_driver.h"

namespace {

using namespace finops::dp;
using finops::fuzz::TranslatorSetup;

std::vector<TranslatorSetup> setups() {
  std::vector<TranslatorSetup> s;
  for (bool vertex : {false, true}) {
    TranslatorSetup t;
    t.name = vertex ? "openai_to_anthropic(vertex)" : "openai_to_anthropic";
    t.endpoint = Endpoint::kChatCompletions;
    t.dialect = Dialect::kOpenAI;
    t.upstreamModel = "claude-sonnet-4-5";
    t.bodyModel =
        vertex ? TranslatorSetup::BodyModel::kAbsent : TranslatorSetup::BodyModel::kUpstream;
    t.buildsEvents = true;
    t.make = [vertex](std::string clientModel) {
      return makeOpenAIToAnthropic(std::move(clientModel),
                                   finops::fuzz::target(Wire::kAnthropic, vertex));
    };
    s.push_back(std::move(t));
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<TranslatorSetup> kSetups = setups();
  return finops::fuzz::runTranslator(data, size, kSetups);
}
