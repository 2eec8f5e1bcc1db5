// The generic translator for OpenAI-compatible upstreams: the body passes through with the
// model replaced by the upstream's name; responses get the client's model id back.
#include "dataplane/translate/openai_compat.h"

#include "dataplane/translate/json_util.h"

namespace finops::dp {
namespace {

using nlohmann::json;

// Appends `data` as one SSE event (a "data:" line per line of data).
void appendDataEvent(std::string& out, std::string_view data) {
  out.append("data: ");
  for (size_t nl; (nl = data.find('\n')) != std::string_view::npos; data.remove_prefix(nl + 1)) {
    out.append(data.substr(0, nl));
    out.append("\ndata: ");
  }
  out.append(data);
  out.append("\n\n");
}

class OpenAICompatTranslator final : public Translator {
 public:
  OpenAICompatTranslator(Endpoint endpoint, std::string_view clientModel) : endpoint_(endpoint) {
    json_scan::appendString(clientModelJson_, clientModel);
  }

  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    switch (endpoint_) {
      case Endpoint::kChatCompletions: out.path = "/chat/completions"; break;
      case Endpoint::kCompletions: out.path = "/completions"; break;
      case Endpoint::kEmbeddings: out.path = "/embeddings"; break;
      default: out.path = "/chat/completions"; break;  // never built for other endpoints
    }
    const json_scan::Member* model = request.scan.find("model");
    if (!model) return apiError(400, "invalid_request_error", "", "you must provide a model parameter", "model");
    // The members rewritten or read here must be the ones the upstream reads (the last).
    if (auto err = refuseDuplicateMembers(request.body, request.scan,
                                          {"model", "stream", "stream_options"}))
      return err;
    std::string replacement;
    json_scan::appendString(replacement, upstreamModel);
    out.body = json_scan::splice(request.body, *model, replacement);
    const json_scan::Member* stream = request.scan.find("stream");
    if (endpoint_ != Endpoint::kEmbeddings && stream && stream->kind == 't')
      return askForStreamUsage(out.body);
    return std::nullopt;
  }

  std::string translateResponse(std::string_view upstreamBody) override {
    auto scan = json_scan::scan(upstreamBody);
    if (!scan.ok || !scan.isObject) return std::string(upstreamBody);
    if (const json_scan::Member* u = scan.find("usage"); u && u->kind == 'o')
      parseOpenAIUsage(upstreamBody.substr(u->valueBegin, u->valueEnd - u->valueBegin), usage_);
    const json_scan::Member* model = scan.find("model");
    if (!model) return std::string(upstreamBody);
    return json_scan::splice(upstreamBody, *model, clientModelJson_);
  }

  void onStreamEvent(const sse::Event& event, std::string& out) override {
    if (done_) return;
    if (event.data == "[DONE]") {
      done_ = true;
      out.append("data: [DONE]\n\n");
      return;
    }
    auto scan = json_scan::scan(event.data);
    if (!scan.ok || !scan.isObject) {
      appendDataEvent(out, event.data);
      return;
    }
    if (scan.find("error")) sawError_ = true;
    const json_scan::Member* choices = scan.find("choices");
    bool noChoices = choices && choices->kind == 'a' &&
                     event.data.substr(choices->valueBegin, choices->valueEnd - choices->valueBegin)
                             .find_first_not_of("[] \t\r\n") == std::string_view::npos;
    if (choices && !noChoices) ++contentChunks_;
    if (const json_scan::Member* u = scan.find("usage"); u && u->kind == 'o') {
      parseOpenAIUsage(event.data.substr(u->valueBegin, u->valueEnd - u->valueBegin), usage_);
      // The usage chunk we asked for on the client's behalf stays with us.
      if (!clientWantsUsage_ && noChoices) return;
    }
    const json_scan::Member* model = scan.find("model");
    if (!model) {
      appendDataEvent(out, event.data);
      return;
    }
    appendDataEvent(out, json_scan::splice(event.data, *model, clientModelJson_));
  }

  bool onStreamEnd(std::string& out) override {
    if (done_ || sawError_) return done_;
    out.append(errorEvent("the upstream stream ended before it was complete", "upstream_error"));
    return false;
  }

 private:
  // Streams: make the upstream send its usage chunk (stream_options.include_usage), and
  // remember whether the client asked for it itself.
  std::optional<ApiError> askForStreamUsage(std::string& body) {
    auto scan = json_scan::scan(body);
    const json_scan::Member* opts = scan.find("stream_options");
    if (!opts || opts->kind == 'z') {
      size_t close = body.find_last_of('}');
      if (close == std::string::npos) return std::nullopt;
      body.insert(close, R"(,"stream_options":{"include_usage":true})");
      return std::nullopt;
    }
    if (opts->kind != 'o')
      return apiError(400, "invalid_request_error", "invalid_type",
                      "Invalid type for 'stream_options': expected an object.", "stream_options");
    auto j = parseUntrusted<json>(body.substr(opts->valueBegin, opts->valueEnd - opts->valueBegin));
    if (j.is_object() && j.contains("include_usage") && j["include_usage"] == true) {
      clientWantsUsage_ = true;
      return std::nullopt;
    }
    if (!j.is_object()) return std::nullopt;
    j["include_usage"] = true;
    body = json_scan::splice(body, *opts, j.dump());
    return std::nullopt;
  }

  Endpoint endpoint_;
  std::string clientModelJson_;
  bool done_ = false;
  bool sawError_ = false;
  bool clientWantsUsage_ = false;
};

}  // namespace

std::unique_ptr<Translator> makeOpenAICompat(Endpoint endpoint, std::string clientModel) {
  switch (endpoint) {
    case Endpoint::kChatCompletions:
    case Endpoint::kCompletions:
    case Endpoint::kEmbeddings:
      return std::make_unique<OpenAICompatTranslator>(endpoint, clientModel);
    default:
      return nullptr;
  }
}

}  // namespace finops::dp
