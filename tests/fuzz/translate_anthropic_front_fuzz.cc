// Anthropic Messages clients (/anthropic/v1/messages): the front to OpenAI-compatible, Gemini
// and Vertex Gemini upstreams (makeAnthropicFront), and the passthrough to Anthropic and
// Vertex Anthropic (makeAnthropicPassthrough), as factory.cc combines them. Input layout and
// checks: translate_driver.h.
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
  t.endpoint = Endpoint::kMessages;
  t.dialect = Dialect::kAnthropic;
  t.upstreamModel = std::move(upstreamModel);
  t.bodyModel = bodyModel;
  t.buildsEvents = buildsEvents;
  t.make = std::move(make);
  return t;
}

std::vector<TranslatorSetup> setups() {
  using BM = TranslatorSetup::BodyModel;
  std::vector<TranslatorSetup> s;
  s.push_back(
      setup("anthropic_front(openai)", "gpt-4o-mini", BM::kUpstream, true, [](std::string m) {
        return makeAnthropicFront(m, makeOpenAICompat(Endpoint::kChatCompletions, m));
      }));
  s.push_back(
      setup("anthropic_front(gemini)", "gemini-2.5-flash", BM::kAbsent, true, [](std::string m) {
        return makeAnthropicFront(m, makeOpenAIToGemini(m, target(Wire::kGemini, false)));
      }));
  s.push_back(setup(
      "anthropic_front(vertex gemini)", "gemini-2.5-flash", BM::kAbsent, true, [](std::string m) {
        return makeAnthropicFront(m, makeOpenAIToGemini(m, target(Wire::kGemini, true)));
      }));
  s.push_back(
      setup("anthropic_passthrough", "claude-sonnet-4-5", BM::kUpstream, false, [](std::string m) {
        return makeAnthropicPassthrough(std::move(m), target(Wire::kAnthropic, false));
      }));
  s.push_back(setup("anthropic_passthrough(vertex)", "claude-sonnet-4-5", BM::kAbsent, false,
                    [](std::string m) {
                      return makeAnthropicPassthrough(std::move(m), target(Wire::kAnthropic, true));
                    }));
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<TranslatorSetup> kSetups = setups();
  return finops::fuzz::runTranslator(data, size, kSetups);
}
