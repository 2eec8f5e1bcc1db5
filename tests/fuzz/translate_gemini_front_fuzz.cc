// Gemini generateContent clients (/genai/...): the front to OpenAI-compatible and Anthropic
// upstreams (makeGeminiFront), and the passthrough to Gemini and Vertex Gemini
// (makeGeminiPassthrough), as factory.cc combines them. Input layout and checks:
// translate_driver.h.
#include "dataplane/translate/anthropic.h"
#include "dataplane/translate/gemini.h"
#include "dataplane/translate/openai_compat.h"
#include "tests/fuzz/translate_driver.h"

namespace {

using namespace finops::dp;
using finops::fuzz::target;
using finops::fuzz::TranslatorSetup;

TranslatorSetup setup(const char* name, std::string upstreamModel,
                      TranslatorSetup::BodyModel bodyModel, bool buildsEvents,
                      std::function<std::unique_ptr<Translator>(std::string)> make) {
  TranslatorSetup t;
  t.name = name;
  t.endpoint = Endpoint::kGenerateContent;
  t.dialect = Dialect::kGemini;
  t.upstreamModel = std::move(upstreamModel);
  t.bodyModel = bodyModel;
  t.buildsEvents = buildsEvents;
  t.make = std::move(make);
  return t;
}

std::vector<TranslatorSetup> setups() {
  using BM = TranslatorSetup::BodyModel;
  std::vector<TranslatorSetup> s;
  s.push_back(setup("gemini_front(openai)", "gpt-4o-mini", BM::kUpstream, true, [](std::string m) {
    return makeGeminiFront(m, makeOpenAICompat(Endpoint::kChatCompletions, m));
  }));
  s.push_back(
      setup("gemini_front(anthropic)", "claude-sonnet-4-5", BM::kUpstream, true, [](std::string m) {
        return makeGeminiFront(m, makeOpenAIToAnthropic(m, target(Wire::kAnthropic, false)));
      }));
  s.push_back(setup(
      "gemini_front(vertex anthropic)", "claude-sonnet-4-5", BM::kAbsent, true, [](std::string m) {
        return makeGeminiFront(m, makeOpenAIToAnthropic(m, target(Wire::kAnthropic, true)));
      }));
  s.push_back(setup("gemini_passthrough", "gemini-2.5-flash", BM::kAny, false, [](std::string m) {
    return makeGeminiPassthrough(std::move(m), target(Wire::kGemini, false));
  }));
  s.push_back(
      setup("gemini_passthrough(vertex)", "gemini-2.5-flash", BM::kAny, false, [](std::string m) {
        return makeGeminiPassthrough(std::move(m), target(Wire::kGemini, true));
      }));
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<TranslatorSetup> kSetups = setups();
  return finops::fuzz::runTranslator(data, size, kSetups);
}
