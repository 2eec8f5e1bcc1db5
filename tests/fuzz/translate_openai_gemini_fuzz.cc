// OpenAI chat completions to a Gemini upstream (makeOpenAIToGemini in
// dataplane/translate/gemini.h), direct and on Vertex AI. Input layout and checks:
// translate_driver.h.
#include "dataplane/translate/gemini.h"
#include "tests/fuzz/translate_driver.h"

namespace {

using namespace finops::dp;
using finops::fuzz::TranslatorSetup;

std::vector<TranslatorSetup> setups() {
  std::vector<TranslatorSetup> s;
  for (bool vertex : {false, true}) {
    TranslatorSetup t;
    t.name = vertex ? "openai_to_gemini(vertex)" : "openai_to_gemini";
    t.endpoint = Endpoint::kChatCompletions;
    t.dialect = Dialect::kOpenAI;
    t.upstreamModel = "gemini-2.5-flash";
    t.bodyModel = TranslatorSetup::BodyModel::kAbsent;  // the model is in the path
    t.buildsEvents = true;
    t.make = [vertex](std::string clientModel) {
      return makeOpenAIToGemini(std::move(clientModel),
                                finops::fuzz::target(Wire::kGemini, vertex));
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
