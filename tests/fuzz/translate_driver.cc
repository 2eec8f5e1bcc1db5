#include "tests/fuzz/translate_driver.h"

#include <nlohmann/json.hpp>

#include "dataplane/schema/json_limits.h"
#include "dataplane/schema/json_scan.h"
#include "dataplane/sse/parser.h"
#include "tests/fuzz/fuzz_util.h"

namespace finops::fuzz {
namespace {

using dp::ApiError;
using dp::Dialect;
using dp::Endpoint;
using dp::Translator;
using nlohmann::json;

// The data plane's defaults (ServerOptions in dataplane/server/server.h).
constexpr int kMaxDepth = 64;
constexpr long long kMaxMessages = 4096;

constexpr int kStatuses[16] = {400, 401, 403, 404, 408, 409, 413, 422,
                               429, 500, 502, 503, 504, 529, 418, 599};

std::string describe(const ApiError& e) {
  return std::to_string(e.status) + " " + e.type + " " + e.code + ": " + e.message;
}

bool cleanHeaderText(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void checkUsage(const Translator& t) {
  const dp::Usage& u = t.usage();
  const std::string d = std::to_string(u.promptTokens) + "/" + std::to_string(u.completionTokens) +
                        "/" + std::to_string(u.cachedTokens) + "/" +
                        std::to_string(u.cacheWriteTokens);
  FUZZ_CHECK(u.promptTokens >= 0 && u.completionTokens >= 0 && u.cachedTokens >= 0 &&
                 u.cacheWriteTokens >= 0,
             "negative usage " + d);
  FUZZ_CHECK(u.cachedTokens <= u.promptTokens, "more cached than prompt tokens " + d);
  FUZZ_CHECK(t.contentChunks() >= 0, "");
}

bool isErrorEvent(const sse::Event& e) {
  if (e.event == "error") return true;
  json j = json::parse(e.data, nullptr, false);
  if (j.is_array() && !j.empty()) j = json(j[0]);
  if (!j.is_object()) return false;
  if (j.contains("error")) return true;
  auto t = j.find("type");
  return t != j.end() && *t == "error";
}

void checkRenderedError(Dialect dialect, const ApiError& e) {
  std::string body = dp::renderError(dialect, e);
  FUZZ_CHECK(isJson(body), body);
  std::string event = dp::renderStreamError(dialect, e);
  FUZZ_CHECK(event.ends_with("\n\n"), event);
  auto events = sseEvents(event);
  FUZZ_CHECK(events.size() == 1 && isJson(events[0].data) && isErrorEvent(events[0]), event);
}

struct Request {
  std::string_view body;
  dp::json_scan::Result scan;
  std::string clientModel;
  bool stream = false;
  std::string_view beta;
};

struct StreamRun {
  std::string out;
  bool complete = false;
  dp::Usage usage;
  int64_t contentChunks = 0;
  std::vector<sse::Event> upstreamEvents;
};

std::unique_ptr<Translator> build(const TranslatorSetup& s, const Request& r,
                                  dp::UpstreamCall& call, std::optional<ApiError>& err) {
  auto t = s.make(r.clientModel);
  FUZZ_CHECK(t != nullptr, s.name);
  err = t->buildRequest(dp::ClientRequest{r.body, r.scan, r.stream, r.beta}, s.upstreamModel, call);
  return t;
}

StreamRun runStream(const TranslatorSetup& s, const Request& r,
                    const std::vector<std::string_view>& reads) {
  StreamRun run;
  dp::UpstreamCall call;
  std::optional<ApiError> err;
  auto t = build(s, r, call, err);
  FUZZ_CHECK(!err, "buildRequest failed the second time: " + describe(*err));
  sse::Parser parser;
  for (std::string_view read : reads) {
    parser.feed(read, [&](const sse::Event& e) {
      run.upstreamEvents.push_back(e);
      size_t before = run.out.size();
      t->onStreamEvent(e, run.out);
      FUZZ_CHECK(run.out.size() == before || run.out.ends_with("\n\n"),
                 "an event left a partial client event: " + run.out.substr(before));
    });
  }
  size_t before = run.out.size();
  run.complete = t->onStreamEnd(run.out);
  FUZZ_CHECK(run.out.size() == before || run.out.ends_with("\n\n"),
             "the end left a partial client event: " + run.out.substr(before));
  run.usage = t->usage();
  run.contentChunks = t->contentChunks();
  checkUsage(*t);
  return run;
}

void checkStream(const TranslatorSetup& s, const Request& r, std::string_view upstream,
                 uint8_t seed) {
  StreamRun whole = runStream(s, r, {upstream});
  StreamRun split = runStream(s, r, pieces(upstream, seed));
  auto events = sseEvents(whole.out);
  auto splitEvents = sseEvents(split.out);
  FUZZ_CHECK(events.size() == splitEvents.size(),
             "whole:\n" + whole.out + "\nsplit:\n" + split.out);
  for (size_t i = 0; i < events.size(); ++i)
    FUZZ_CHECK(events[i].event == splitEvents[i].event, events[i].event);
  FUZZ_CHECK(whole.complete == split.complete, "");
  FUZZ_CHECK(whole.usage.promptTokens == split.usage.promptTokens &&
                 whole.usage.completionTokens == split.usage.completionTokens &&
                 whole.usage.cachedTokens == split.usage.cachedTokens &&
                 whole.usage.cacheWriteTokens == split.usage.cacheWriteTokens &&
                 whole.usage.known == split.usage.known,
             "usage differs between whole and split reads");
  FUZZ_CHECK(whole.contentChunks == split.contentChunks, "");

  bool upstreamJson = true;
  for (const auto& e : whole.upstreamEvents)
    if (e.data != "[DONE]" && !isJson(e.data)) upstreamJson = false;
  bool ended = false;
  for (const auto& e : events) {
    FUZZ_CHECK(!ended, "an event after the end of the stream: " + e.event + " " + e.data);
    if (s.buildsEvents || upstreamJson)
      FUZZ_CHECK(e.data == "[DONE]" || isJson(e.data), "not JSON: " + e.data);
    // The terminal event of the client's dialect (Gemini streams have none).
    if ((s.dialect == Dialect::kOpenAI && e.data == "[DONE]") ||
        (s.dialect == Dialect::kAnthropic && e.event == "message_stop"))
      ended = true;
  }
  if (!whole.complete) {
    bool sawError = false;
    for (const auto& e : events) sawError |= isErrorEvent(e);
    FUZZ_CHECK(sawError, "an incomplete stream without an error event:\n" + whole.out);
  }
}

}  // namespace

dp::Target target(dp::Wire wire, bool vertex, int64_t defaultMaxTokens) {
  dp::Target t;
  t.wire = wire;
  t.vertex = vertex;
  t.defaultMaxTokens = defaultMaxTokens;
  return t;
}

int runTranslator(const uint8_t* data, size_t size, const std::vector<TranslatorSetup>& setups) {
  if (size < 3 || setups.empty()) return 0;
  const TranslatorSetup& s = setups[data[0] % setups.size()];
  const uint8_t flags = data[1];
  const uint8_t seed = data[2];
  const int mode = flags & 3;
  auto [body, upstream] =
      splitAtNul(std::string_view(reinterpret_cast<const char*>(data) + 3, size - 3));

  // The route's checks, in its order.
  if (dp::json_limits::tooDeep(body, kMaxDepth)) return 0;
  Request r;
  r.body = body;
  r.scan = dp::json_scan::scan(body, kMaxDepth);
  if (!r.scan.ok || !r.scan.isObject) return 0;
  const char* list = s.endpoint == Endpoint::kGenerateContent ? "contents" : "messages";
  if (dp::json_limits::memberArrayLength(body, r.scan, list) > kMaxMessages) return 0;
  if (s.endpoint == Endpoint::kGenerateContent) {
    r.clientModel = "fuzz/" + s.upstreamModel;
    r.stream = flags & 4;
  } else {
    const dp::json_scan::Member* m = r.scan.find("model");
    if (!m || m->kind != 's') return 0;
    r.clientModel = dp::json_scan::stringValue(body, *m);
    const dp::json_scan::Member* st = r.scan.find("stream");
    r.stream = st && st->kind == 't';
  }
  if (flags & 0x80) r.beta = "prompt-caching-2024-07-31,token-efficient-tools-2025-02-19";

  dp::UpstreamCall call;
  std::optional<ApiError> err;
  auto t = build(s, r, call, err);
  if (err) {
    FUZZ_CHECK(err->status >= 400 && err->status < 500, describe(*err));
    FUZZ_CHECK(!err->message.empty(), describe(*err));
    checkRenderedError(s.dialect, *err);
    return 0;
  }
  // (A client body nlohmann refuses, e.g. with 1e400, which RFC 8259 allows, may be passed
  // through as it came.)
  FUZZ_CHECK(isJson(call.body) || !isJson(r.body), "the upstream body is not JSON: " + call.body);
  FUZZ_CHECK(call.path.starts_with("/") && cleanHeaderText(call.path), call.path);
  for (const auto& [name, value] : call.headers)
    FUZZ_CHECK(!name.empty() && cleanHeaderText(name) && cleanHeaderText(value),
               name + ": " + value);
  {
    // The "model" the upstream reads: the last top-level member so named, keys decoded (as
    // upstream JSON parsers read duplicates). Found with json_scan, which also reads bodies
    // nlohmann refuses.
    const dp::json_scan::Result up = dp::json_scan::scan(call.body, 1 << 20);
    FUZZ_CHECK(up.ok, up.error + ": " + call.body);
    std::optional<std::string> model;
    for (const auto& m : up.members) {
      dp::json_scan::Member key;
      key.valueBegin = static_cast<size_t>(m.rawKey.data() - call.body.data()) - 1;
      key.valueEnd = key.valueBegin + m.rawKey.size() + 2;
      key.kind = 's';
      if (dp::json_scan::stringValue(call.body, key) != "model") continue;
      model = m.kind == 's'
                  ? dp::json_scan::stringValue(call.body, m)
                  : "(not a string) " + call.body.substr(m.valueBegin, m.valueEnd - m.valueBegin);
    }
    switch (s.bodyModel) {
      case TranslatorSetup::BodyModel::kUpstream:
        FUZZ_CHECK(model == s.upstreamModel, "the upstream would see model " +
                                                 model.value_or("(none)") + ", not " +
                                                 s.upstreamModel + ": " + call.body);
        break;
      case TranslatorSetup::BodyModel::kAbsent:
        FUZZ_CHECK(!model, "a model in the body: " + call.body);
        break;
      case TranslatorSetup::BodyModel::kAny:
        break;
    }
  }

  switch (mode) {
    case 0:
      break;
    case 1: {
      std::string out = t->translateResponse(upstream);
      if (isJson(upstream)) FUZZ_CHECK(isJson(out), "response is not JSON: " + out);
      checkUsage(*t);
      break;
    }
    case 2:
      checkStream(s, r, upstream, seed);
      break;
    case 3: {
      const int status = kStatuses[(flags >> 3) & 15];
      ApiError e = t->upstreamError(status, upstream);
      FUZZ_CHECK(e.status >= 400 && e.status < 600, describe(e));
      FUZZ_CHECK(e.retryAfterSeconds >= -1, describe(e));
      checkRenderedError(s.dialect, e);
      break;
    }
  }
  return 0;
}

}  // namespace finops::fuzz
