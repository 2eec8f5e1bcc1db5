// The OpenAI-compatible translator (dataplane/translate/openai_compat.h): chat completions,
// completions and embeddings. Input layout and checks: translate_driver.h.
#include "dataplane/translate/openai_compat.h"
#include "tests/fuzz/translate_driver.h"

namespace {

using namespace finops::dp;
using finops::fuzz::TranslatorSetup;

std::vector<TranslatorSetup> setups() {
  std::vector<TranslatorSetup> s;
  for (Endpoint e : {Endpoint::kChatCompletions, Endpoint::kCompletions, Endpoint::kEmbeddings}) {
    TranslatorSetup t;
    t.name = "openai_compat";
    t.endpoint = e;
    t.dialect = Dialect::kOpenAI;
    t.upstreamModel = "gpt-4o-mini";
    t.make = [e](std::string clientModel) { return makeOpenAICompat(e, std::move(clientModel)); };
    s.push_back(std::move(t));
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<TranslatorSetup> kSetups = setups();
  return finops::fuzz::runTranslator(data, size, kSetups);
}
