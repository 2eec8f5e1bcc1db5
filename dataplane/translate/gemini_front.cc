// The Gemini client side (/genai): a front that turns a generateContent request into an
// OpenAI chat request for a non-Gemini upstream and the OpenAI output back into Gemini
// output, and the passthrough to Gemini upstreams.
//
// Request (Gemini generateContent -> OpenAI chat):
// | Gemini                                   | OpenAI                                             |
// |------------------------------------------|----------------------------------------------------|
// | model (URL), :streamGenerateContent      | model, stream:true                                 |
// | systemInstruction (Content or string)    | a first system message, text parts joined with     |
// |                                          | "\n"                                               |
// | contents[] role user (or none, or        | user message: a lone text part -> a string, else   |
// | function)                                | content parts                                      |
// | contents[] role model                    | assistant message, text joined; thought parts      |
// |                                          | dropped                                            |
// | part text                                | {type:text}                                        |
// | part inlineData image/*                  | {type:image_url, image_url:{url: data URL}}        |
// | part inlineData audio/wav, audio/mp3     | {type:input_audio, input_audio:{data, format}}     |
// | part inlineData, other types             | {type:file, file:{file_data: data URL}}            |
// | part fileData {fileUri}                  | {type:image_url, image_url:{url: fileUri}}         |
// | part functionCall {name, args, id?}      | assistant tool_calls[] {id: id, else call_<n>;     |
// |                                          | function {name, arguments: JSON of args}}          |
// | part functionResponse {name, response,   | a tool message {tool_call_id: the earlier          |
// | id?}                                     | functionCall with that id, else the first          |
// |                                          | unanswered one with that name (400 if none);       |
// |                                          | content: JSON of response}, placed before the      |
// |                                          | turn's other parts                                 |
// | inlineData/fileData in a model turn,     | dropped                                            |
// | executableCode, codeExecutionResult,     |                                                    |
// | thoughtSignature, videoMetadata          |                                                    |
// | generationConfig temperature, topP,      | temperature, top_p, seed, presence_penalty,        |
// | seed, presencePenalty, frequencyPenalty  | frequency_penalty                                  |
// | generationConfig maxOutputTokens         | max_tokens                                         |
// | generationConfig stopSequences           | stop                                               |
// | generationConfig candidateCount          | n                                                  |
// | responseJsonSchema or responseSchema     | response_format json_schema {name:"response",      |
// |                                          | schema} (responseSchema's OpenAPI "type" values    |
// |                                          | lower-cased)                                       |
// | responseMimeType application/json alone  | response_format json_object                        |
// | generationConfig topK, thinkingConfig,   | dropped                                            |
// | responseModalities, logprobs, ...        |                                                    |
// | tools[].functionDeclarations[]           | tools[] function {name, description, parameters:   |
// |                                          | parametersJsonSchema as is, or parameters with     |
// |                                          | "type" values lower-cased}                         |
// | tools[] googleSearch, codeExecution,     | 400 (only Gemini upstreams have them)              |
// | urlContext, ...                          |                                                    |
// | toolConfig.functionCallingConfig.mode    | AUTO, VALIDATED -> auto; NONE -> none; ANY ->      |
// |                                          | required, or that function when                    |
// |                                          | allowedFunctionNames has one name                  |
// | safetySettings, cachedContent, labels    | dropped                                            |
//
// Response (OpenAI chat -> Gemini): candidates[0] {content {role:model, parts: reasoning
// as {text, thought:true}, text, functionCall {id, name, args}}, finishReason: stop,
// tool_calls -> STOP, length -> MAX_TOKENS, content_filter -> SAFETY}; usageMetadata
// {promptTokenCount, candidatesTokenCount (without reasoning), thoughtsTokenCount,
// cachedContentTokenCount, totalTokenCount}; modelVersion = the client's model;
// responseId = the OpenAI id. Streams: one event per text or reasoning delta; tool calls
// are gathered and sent whole, in one event, when the finish chunk arrives; a last event
// carries finishReason and usageMetadata when [DONE] arrives. Every event ends with a
// blank line (@google/genai rejects anything left over at the end).
//
// Passthrough: the body goes up unchanged with the path rebuilt for the upstream model
// (Vertex aware); responses and stream events come back unchanged (modelVersion kept);
// usage is read from usageMetadata (the last one in a stream). A stream is complete once
// a finishReason (or a promptFeedback.blockReason) was seen; otherwise it ends with a
// Gemini error event.
#include <algorithm>
#include <cctype>

#include "dataplane/translate/gemini.h"
#include "dataplane/translate/json_util.h"

namespace finops::dp {
namespace {

using json = nlohmann::ordered_json;  // keeps member order (tool schemas)
using ojson = nlohmann::ordered_json;

template <typename J>
std::string dump(const J& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

ApiError badRequest(std::string message, std::string param) {
  return apiError(400, "invalid_request_error", "invalid_argument", std::move(message),
                  std::move(param));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string geminiPath(const Target& target, std::string_view model, bool stream) {
  if (model.starts_with("models/")) model.remove_prefix(7);
  std::string path = target.vertex ? "/publishers/google/models/" : "/models/";
  path.append(model);
  path.append(stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
  return path;
}

// Gemini's OpenAPI schema subset ("type":"OBJECT") -> JSON Schema ("type":"object"). Only
// schema positions are visited, so a property that happens to be named "type" is kept.
void lowerSchemaTypes(json& schema) {
  if (!schema.is_object()) return;
  if (auto t = schema.find("type"); t != schema.end()) {
    if (t->is_string())
      *t = lower(t->get<std::string>());
    else if (t->is_array())
      for (auto& v : *t)
        if (v.is_string()) v = lower(v.get<std::string>());
  }
  for (const char* k : {"properties", "$defs", "definitions", "patternProperties"})
    if (auto m = schema.find(k); m != schema.end() && m->is_object())
      for (auto& [_, s] : m->items()) lowerSchemaTypes(s);
  for (const char* k : {"items", "additionalProperties", "not"})
    if (auto m = schema.find(k); m != schema.end()) lowerSchemaTypes(*m);
  for (const char* k : {"anyOf", "oneOf", "allOf", "prefixItems"})
    if (auto m = schema.find(k); m != schema.end() && m->is_array())
      for (auto& s : *m) lowerSchemaTypes(s);
}

std::string joinedText(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  const json* parts = member(content, "parts");
  if (!parts || !parts->is_array()) return out;
  for (const json& p : *parts) {
    const json* text = member(p, "text");
    if (!text || !text->is_string()) continue;
    if (!out.empty()) out += "\n";
    out += text->get_ref<const std::string&>();
  }
  return out;
}

struct PendingCall {
  std::string id, name;
};

// One user-side content part (not a functionResponse) -> an OpenAI content part, or a null
// json when the part carries nothing a chat request can hold.
std::optional<ApiError> userPart(const json& p, const std::string& param, json& out) {
  if (const json* text = member(p, "text")) {
    if (!text->is_string()) return badType(param + ".text", "a string");
    const json* thought = member(p, "thought");
    if (!(thought && *thought == true)) out = {{"type", "text"}, {"text", *text}};
    return std::nullopt;
  }
  if (const json* inl = member(p, "inlineData")) {
    const json* mime = member(*inl, "mimeType");
    const json* data = member(*inl, "data");
    if (!mime || !mime->is_string() || !data || !data->is_string())
      return badType(param + ".inlineData", "an object with string mimeType and data");
    std::string m = lower(mime->get<std::string>());
    const std::string& d = data->get_ref<const std::string&>();
    if (m == "audio/wav" || m == "audio/x-wav" || m == "audio/mp3" || m == "audio/mpeg") {
      out = {{"type", "input_audio"},
             {"input_audio",
              {{"data", d}, {"format", m.find("wav") != std::string::npos ? "wav" : "mp3"}}}};
    } else if (m.starts_with("image/")) {
      out = {{"type", "image_url"}, {"image_url", {{"url", "data:" + m + ";base64," + d}}}};
    } else {
      out = {{"type", "file"}, {"file", {{"file_data", "data:" + m + ";base64," + d}}}};
    }
    return std::nullopt;
  }
  if (const json* fd = member(p, "fileData")) {
    const json* uri = member(*fd, "fileUri");
    if (!uri || !uri->is_string()) return badType(param + ".fileData.fileUri", "a string");
    out = {{"type", "image_url"}, {"image_url", {{"url", *uri}}}};
    return std::nullopt;
  }
  if (member(p, "executableCode") || member(p, "codeExecutionResult") ||
      member(p, "videoMetadata") || member(p, "thoughtSignature"))
    return std::nullopt;
  if (member(p, "functionCall"))
    return badRequest("A functionCall part must be in a model turn.", param);
  return badRequest("Unsupported part at '" + param + "'.", param);
}

std::optional<ApiError> generationConfig(const json& cfg, json& out) {
  if (!cfg.is_object()) return badType("generationConfig", "an object");
  static const std::pair<const char*, const char*> kNumbers[] = {
      {"temperature", "temperature"},
      {"topP", "top_p"},
      {"presencePenalty", "presence_penalty"},
      {"frequencyPenalty", "frequency_penalty"}};
  for (auto& [from, to] : kNumbers)
    if (const json* v = member(cfg, from)) {
      if (!v->is_number()) return badType(std::string("generationConfig.") + from, "a number");
      out[to] = *v;
    }
  static const std::pair<const char*, const char*> kInts[] = {
      {"maxOutputTokens", "max_tokens"}, {"candidateCount", "n"}, {"seed", "seed"}};
  for (auto& [from, to] : kInts)
    if (const json* v = member(cfg, from)) {
      if (!v->is_number_integer())
        return badType(std::string("generationConfig.") + from, "an integer");
      out[to] = *v;
    }
  if (const json* stop = member(cfg, "stopSequences")) {
    if (!stop->is_array()) return badType("generationConfig.stopSequences", "an array of strings");
    for (const auto& s : *stop)
      if (!s.is_string()) return badType("generationConfig.stopSequences", "an array of strings");
    if (!stop->empty()) out["stop"] = *stop;
  }
  const json* mime = member(cfg, "responseMimeType");
  const json* jsonSchema = member(cfg, "responseJsonSchema");
  if (!jsonSchema) jsonSchema = member(cfg, "_responseJsonSchema");
  const json* schema = member(cfg, "responseSchema");
  if (jsonSchema || schema) {
    json s = jsonSchema ? *jsonSchema : *schema;
    if (!jsonSchema) lowerSchemaTypes(s);
    out["response_format"] = {{"type", "json_schema"},
                              {"json_schema", {{"name", "response"}, {"schema", std::move(s)}}}};
  } else if (mime && *mime == "application/json") {
    out["response_format"] = {{"type", "json_object"}};
  }
  return std::nullopt;
}

std::optional<ApiError> toolsAndConfig(const json& in, json& out) {
  if (const json* tools = member(in, "tools")) {
    if (!tools->is_array()) return badType("tools", "an array");
    json list = json::array();
    for (size_t i = 0; i < tools->size(); ++i) {
      const json& t = (*tools)[i];
      std::string tp = "tools[" + std::to_string(i) + "]";
      if (!t.is_object()) return badType(tp, "an object");
      for (auto& [key, value] : t.items()) {
        if (value.is_null()) continue;
        if (key != "functionDeclarations")
          return badRequest("Tool '" + key + "' is not supported by this model's provider.",
                            tp + "." + key);
        if (!value.is_array()) return badType(tp + ".functionDeclarations", "an array");
        for (size_t k = 0; k < value.size(); ++k) {
          const json& d = value[k];
          std::string dp = tp + ".functionDeclarations[" + std::to_string(k) + "]";
          const json* name = member(d, "name");
          if (!name || !name->is_string()) return badType(dp + ".name", "a string");
          json fn = {{"name", *name}};
          if (const json* desc = member(d, "description"); desc && desc->is_string())
            fn["description"] = *desc;
          if (const json* ps = member(d, "parametersJsonSchema")) {
            fn["parameters"] = *ps;
          } else if (const json* p = member(d, "parameters")) {
            json s = *p;
            lowerSchemaTypes(s);
            fn["parameters"] = std::move(s);
          }
          list.push_back({{"type", "function"}, {"function", std::move(fn)}});
        }
      }
    }
    if (!list.empty()) out["tools"] = std::move(list);
  }
  const json* tc = member(in, "toolConfig");
  const json* fcc = tc ? member(*tc, "functionCallingConfig") : nullptr;
  const json* mode = fcc ? member(*fcc, "mode") : nullptr;
  if (!mode || !out.contains("tools")) return std::nullopt;
  if (!mode->is_string()) return badType("toolConfig.functionCallingConfig.mode", "a string");
  const std::string& m = mode->get_ref<const std::string&>();
  if (m == "AUTO" || m == "VALIDATED") {
    out["tool_choice"] = "auto";
  } else if (m == "NONE") {
    out["tool_choice"] = "none";
  } else if (m == "ANY") {
    const json* names = member(*fcc, "allowedFunctionNames");
    if (names && names->is_array() && names->size() == 1 && (*names)[0].is_string())
      out["tool_choice"] = {{"type", "function"}, {"function", {{"name", (*names)[0]}}}};
    else
      out["tool_choice"] = "required";
  } else if (m != "MODE_UNSPECIFIED") {
    return badRequest("Invalid value at 'toolConfig.functionCallingConfig.mode': '" + m + "'.",
                      "toolConfig.functionCallingConfig.mode");
  }
  return std::nullopt;
}

// ---- Output pieces.

const char* geminiFinish(std::string_view reason) {
  if (reason == "length") return "MAX_TOKENS";
  if (reason == "content_filter") return "SAFETY";
  return "STOP";
}

ojson usageMetadata(const Usage& u, int64_t reasoning) {
  reasoning = std::clamp<int64_t>(reasoning, 0, u.completionTokens);
  ojson j;
  j["promptTokenCount"] = u.promptTokens;
  j["candidatesTokenCount"] = u.completionTokens - reasoning;
  j["totalTokenCount"] = u.promptTokens + u.completionTokens;
  if (u.cachedTokens > 0) j["cachedContentTokenCount"] = u.cachedTokens;
  if (reasoning > 0) j["thoughtsTokenCount"] = reasoning;
  return j;
}

ojson functionCallPart(const std::string& id, const std::string& name,
                       const std::string& arguments) {
  json args = parseUntrusted<json>(arguments);
  if (!args.is_object()) args = json::object();
  ojson fc;
  if (!id.empty()) fc["id"] = id;
  fc["name"] = name;
  fc["args"] = args;
  ojson part;
  part["functionCall"] = std::move(fc);
  return part;
}

std::string textOf(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  std::string out;
  if (v.is_array())
    for (const json& p : v)
      if (const json* t = member(p, "text"); t && t->is_string())
        out += t->get_ref<const std::string&>();
  return out;
}

class GeminiFront final : public Translator {
 public:
  GeminiFront(std::string clientModel, std::unique_ptr<Translator> inner)
      : clientModel_(std::move(clientModel)), inner_(std::move(inner)) {}

  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    try {
      json in = parseUntrusted<json>(request.body);
      if (!in.is_object()) return badRequest("The request body must be a JSON object.", "");
      json chat;
      if (auto e = geminiRequestToOpenAI(in, clientModel_, request.stream, chat)) return e;
      text_ = dump(chat);
      scan_ = json_scan::scan(text_);
      ClientRequest inner{text_, scan_, request.stream, request.anthropicBeta};
      return inner_->buildRequest(inner, upstreamModel, out);
    } catch (const std::exception& e) {
      return badRequest(std::string("Invalid request: ") + e.what(), "");
    }
  }

  std::string translateResponse(std::string_view upstreamBody) override {
    std::string chat = inner_->translateResponse(upstreamBody);
    try {
      json j = parseUntrusted<json>(chat);
      if (!j.is_object()) return chat;
      if (member(j, "error")) return renderError(Dialect::kGemini, apiErrorFromOpenAI(j));
      ojson parts = ojson::array();
      std::string finish = "stop";
      const json* choices = member(j, "choices");
      if (choices && choices->is_array() && !choices->empty()) {
        const json& c = (*choices)[0];
        if (const json* fr = member(c, "finish_reason"); fr && fr->is_string())
          finish = fr->get<std::string>();
        if (const json* msg = member(c, "message")) {
          const json* reasoning = member(*msg, "reasoning_content");
          if (!reasoning) reasoning = member(*msg, "reasoning");
          if (std::string r = reasoning ? textOf(*reasoning) : ""; !r.empty()) {
            ojson p;
            p["text"] = r;
            p["thought"] = true;
            parts.push_back(std::move(p));
          }
          if (std::string t = member(*msg, "content") ? textOf((*msg)["content"]) : ""; !t.empty())
            parts.push_back({{"text", t}});
          if (const json* calls = member(*msg, "tool_calls"); calls && calls->is_array())
            for (const json& tc : *calls) {
              const json* fn = member(tc, "function");
              auto str = [](const json* o, const char* k) {
                const json* v = o ? member(*o, k) : nullptr;
                return v && v->is_string() ? v->get<std::string>() : std::string();
              };
              parts.push_back(
                  functionCallPart(str(&tc, "id"), str(fn, "name"), str(fn, "arguments")));
            }
        }
      }
      ojson cand;
      if (!parts.empty()) {
        ojson content;
        content["role"] = "model";
        content["parts"] = std::move(parts);
        cand["content"] = std::move(content);
      }
      cand["finishReason"] = geminiFinish(finish);
      cand["index"] = 0;
      ojson out;
      out["candidates"] = ojson::array();
      out["candidates"].push_back(std::move(cand));
      if (usage().known) {
        int64_t reasoning = 0;
        const json* u = member(j, "usage");
        const json* d = u ? member(*u, "completion_tokens_details") : nullptr;
        if (const json* r = d ? member(*d, "reasoning_tokens") : nullptr;
            r && r->is_number_integer())
          reasoning = r->get<int64_t>();
        out["usageMetadata"] = usageMetadata(usage(), reasoning);
      }
      out["modelVersion"] = clientModel_;
      if (const json* id = member(j, "id"); id && id->is_string()) out["responseId"] = *id;
      return dump(out);
    } catch (const std::exception&) {
      return chat;
    }
  }

  void onStreamEvent(const sse::Event& event, std::string& out) override {
    if (closed_) return;
    std::string chat;
    inner_->onStreamEvent(event, chat);
    translate(chat, out);
  }

  bool onStreamEnd(std::string& out) override {
    std::string chat;
    bool ok = inner_->onStreamEnd(chat);
    if (!closed_) translate(chat, out);
    if (errored_) return false;
    if (!done_ && ok && sawFinish_) {
      finish(out);
      done_ = true;
    }
    if (done_) return ok;
    out.append(renderStreamError(Dialect::kGemini,
                                 apiError(502, "server_error", "upstream_error",
                                          "the upstream stream ended before it was complete")));
    closed_ = true;
    return false;
  }

  ApiError upstreamError(int status, std::string_view body) override {
    return inner_->upstreamError(status, body);
  }
  const Usage& usage() const override { return inner_->usage(); }
  int64_t contentChunks() const override { return inner_->contentChunks(); }

 private:
  struct Call {
    std::string id, name, arguments;
  };

  void translate(std::string_view chat, std::string& out) {
    parser_.feed(chat, [&](const sse::Event& e) {
      if (closed_) return;
      try {
        onChatEvent(e, out);
      } catch (const std::exception&) {
        // A malformed chunk is skipped.
      }
    });
  }

  void onChatEvent(const sse::Event& e, std::string& out) {
    if (e.data == "[DONE]") {
      finish(out);
      done_ = closed_ = true;
      return;
    }
    json j = parseUntrusted<json>(e.data);
    if (!j.is_object()) return;
    if (const json* err = member(j, "error")) {
      out.append(renderStreamError(Dialect::kGemini, apiErrorFromOpenAI(*err)));
      errored_ = closed_ = true;
      return;
    }
    if (const json* id = member(j, "id"); id && id->is_string() && responseId_.empty())
      responseId_ = id->get<std::string>();
    const json* choices = member(j, "choices");
    if (!choices || !choices->is_array() || choices->empty()) return;
    const json& c = (*choices)[0];
    if (const json* delta = member(c, "delta")) {
      const json* reasoning = member(*delta, "reasoning_content");
      if (!reasoning) reasoning = member(*delta, "reasoning");
      if (reasoning && reasoning->is_string() &&
          !reasoning->get_ref<const std::string&>().empty()) {
        ojson p;
        p["text"] = *reasoning;
        p["thought"] = true;
        emitPart(out, std::move(p));
      }
      if (const json* text = member(*delta, "content");
          text && text->is_string() && !text->get_ref<const std::string&>().empty()) {
        ojson p;
        p["text"] = *text;
        emitPart(out, std::move(p));
      }
      if (const json* tcs = member(*delta, "tool_calls"); tcs && tcs->is_array())
        for (const json& tc : *tcs) {
          size_t index = calls_.size();
          if (const json* i = member(tc, "index");
              i && i->is_number_unsigned() && i->get<size_t>() < 1024)
            index = i->get<size_t>();
          if (index >= calls_.size()) calls_.resize(index + 1);
          Call& call = calls_[index];
          if (const json* id = member(tc, "id"); id && id->is_string())
            call.id = id->get<std::string>();
          if (const json* fn = member(tc, "function")) {
            if (const json* n = member(*fn, "name"); n && n->is_string())
              call.name += n->get<std::string>();
            if (const json* a = member(*fn, "arguments"); a && a->is_string())
              call.arguments += a->get<std::string>();
          }
        }
    }
    if (const json* fr = member(c, "finish_reason"); fr && fr->is_string()) {
      sawFinish_ = true;
      finishReason_ = geminiFinish(fr->get<std::string>());
      flushCalls(out);
    }
  }

  void flushCalls(std::string& out) {
    ojson parts = ojson::array();
    for (const Call& c : calls_)
      if (!c.name.empty()) parts.push_back(functionCallPart(c.id, c.name, c.arguments));
    calls_.clear();
    if (!parts.empty()) emitParts(out, std::move(parts));
  }

  void emit(std::string& out, ojson cand, ojson usage) {
    ojson j;
    j["candidates"] = ojson::array();
    j["candidates"].push_back(std::move(cand));
    if (!usage.is_null()) j["usageMetadata"] = std::move(usage);
    j["modelVersion"] = clientModel_;
    if (!responseId_.empty()) j["responseId"] = responseId_;
    out.append("data: " + dump(j) + "\n\n");
  }

  void emitPart(std::string& out, ojson part) {
    ojson parts = ojson::array();
    parts.push_back(std::move(part));
    emitParts(out, std::move(parts));
  }

  void emitParts(std::string& out, ojson parts) {
    ojson content;
    content["role"] = "model";
    content["parts"] = std::move(parts);
    ojson cand;
    cand["content"] = std::move(content);
    cand["index"] = 0;
    emit(out, std::move(cand), nullptr);
  }

  // The last event: tool calls not yet sent, finishReason and usage.
  void finish(std::string& out) {
    flushCalls(out);
    ojson cand;
    cand["finishReason"] = finishReason_;
    cand["index"] = 0;
    emit(out, std::move(cand), usage().known ? usageMetadata(usage(), 0) : ojson(nullptr));
  }

  std::string clientModel_;
  std::unique_ptr<Translator> inner_;
  std::string text_;  // the OpenAI request handed to inner_ (its ClientRequest points here)
  json_scan::Result scan_;
  sse::Parser parser_;
  std::vector<Call> calls_;
  std::string responseId_;
  std::string finishReason_ = "STOP";
  bool sawFinish_ = false;
  bool done_ = false;
  bool errored_ = false;
  bool closed_ = false;
};

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

class GeminiPassthrough final : public Translator {
 public:
  GeminiPassthrough(std::string clientModel, const Target& target)
      : clientModel_(std::move(clientModel)), target_(target) {}

  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    if (!request.scan.isObject) return badRequest("The request body must be a JSON object.", "");
    out.path = geminiPath(target_, upstreamModel, request.stream);
    out.body = std::string(request.body);
    return std::nullopt;
  }

  std::string translateResponse(std::string_view upstreamBody) override {
    auto scan = json_scan::scan(upstreamBody);
    if (scan.ok && scan.isObject) readUsage(upstreamBody, scan);
    return std::string(upstreamBody);
  }

  void onStreamEvent(const sse::Event& event, std::string& out) override {
    if (event.data.empty()) return;
    appendDataEvent(out, event.data);
    auto scan = json_scan::scan(event.data);
    if (!scan.ok) return;
    if (!scan.isObject) {
      // An error sent as a JSON array ([{"error":{...}}]).
      if (event.data.find("\"error\"") != std::string::npos) sawError_ = true;
      return;
    }
    if (scan.find("error")) sawError_ = true;
    readUsage(event.data, scan);
    std::string_view data = event.data;
    if (const json_scan::Member* c = scan.find("candidates"); c && c->kind == 'a') {
      std::string_view cands = data.substr(c->valueBegin, c->valueEnd - c->valueBegin);
      // A key, never text: inside a string the closing quote would be escaped.
      if (cands.find("\"finishReason\"") != std::string_view::npos) finished_ = true;
      if (cands.find("\"parts\"") != std::string_view::npos) ++contentChunks_;
    } else if (const json_scan::Member* pf = scan.find("promptFeedback"); pf && pf->kind == 'o') {
      if (data.substr(pf->valueBegin, pf->valueEnd - pf->valueBegin).find("\"blockReason\"") !=
          std::string_view::npos)
        finished_ = true;
    }
  }

  bool onStreamEnd(std::string& out) override {
    if (finished_) return true;
    if (sawError_) return false;
    out.append(renderStreamError(Dialect::kGemini,
                                 apiError(502, "server_error", "upstream_error",
                                          "the upstream stream ended before it was complete")));
    return false;
  }

  ApiError upstreamError(int status, std::string_view body) override {
    return geminiUpstreamError(status, body);
  }

 private:
  void readUsage(std::string_view text, const json_scan::Result& scan) {
    const json_scan::Member* u = scan.find("usageMetadata");
    if (!u || u->kind != 'o') return;
    json um = parseUntrusted<json>(text.substr(u->valueBegin, u->valueEnd - u->valueBegin));
    parseGeminiUsage(um, usage_);
  }

  std::string clientModel_;
  Target target_;
  bool finished_ = false;
  bool sawError_ = false;
};

}  // namespace

std::optional<ApiError> geminiRequestToOpenAI(const json& in, std::string_view model, bool stream,
                                              json& out) {
  try {
    if (!in.is_object()) return badRequest("The request body must be a JSON object.", "");
    const json* contents = member(in, "contents");
    if (!contents) return badRequest("contents is not specified", "contents");
    if (!contents->is_array()) return badType("contents", "an array");
    json messages = json::array();
    if (const json* si = member(in, "systemInstruction")) {
      if (!si->is_object() && !si->is_string())
        return badType("systemInstruction", "a Content or a string");
      std::string text = joinedText(*si);
      if (!text.empty()) messages.push_back({{"role", "system"}, {"content", text}});
    }
    std::vector<PendingCall> pending;  // functionCalls not yet answered, in order
    int nextCall = 0;
    for (size_t i = 0; i < contents->size(); ++i) {
      const json& c = (*contents)[i];
      std::string cp = "contents[" + std::to_string(i) + "]";
      if (!c.is_object()) return badType(cp, "a Content object");
      std::string role = "user";
      if (const json* r = member(c, "role")) {
        if (!r->is_string()) return badType(cp + ".role", "a string");
        role = r->get<std::string>();
      }
      if (role != "user" && role != "model" && role != "function")
        return badRequest(
            "Invalid value at '" + cp + ".role': '" + role + "'; expected user or model.",
            cp + ".role");
      const json* parts = member(c, "parts");
      if (!parts || !parts->is_array()) return badType(cp + ".parts", "an array");
      if (role == "model") {
        std::string text;
        json calls = json::array();
        for (size_t k = 0; k < parts->size(); ++k) {
          const json& p = (*parts)[k];
          std::string pp = cp + ".parts[" + std::to_string(k) + "]";
          if (const json* fc = member(p, "functionCall")) {
            const json* name = member(*fc, "name");
            if (!name || !name->is_string()) return badType(pp + ".functionCall.name", "a string");
            std::string id;
            if (const json* v = member(*fc, "id"); v && v->is_string()) id = v->get<std::string>();
            if (id.empty()) id = "call_" + std::to_string(nextCall);
            ++nextCall;
            const json* args = member(*fc, "args");
            calls.push_back(
                {{"id", id},
                 {"type", "function"},
                 {"function", {{"name", *name}, {"arguments", args ? dump(*args) : "{}"}}}});
            pending.push_back({id, name->get<std::string>()});
          } else if (member(p, "functionResponse")) {
            return badRequest("A functionResponse part must be in a user turn.", pp);
          } else if (const json* t = member(p, "text")) {
            if (!t->is_string()) return badType(pp + ".text", "a string");
            const json* thought = member(p, "thought");
            if (!(thought && *thought == true)) text += t->get_ref<const std::string&>();
          }
        }
        if (text.empty() && calls.empty()) continue;
        json msg = {{"role", "assistant"}, {"content", text.empty() ? json(nullptr) : json(text)}};
        if (!calls.empty()) msg["tool_calls"] = std::move(calls);
        messages.push_back(std::move(msg));
        continue;
      }
      json userContent = json::array();
      for (size_t k = 0; k < parts->size(); ++k) {
        const json& p = (*parts)[k];
        std::string pp = cp + ".parts[" + std::to_string(k) + "]";
        if (!p.is_object()) return badType(pp, "a Part object");
        if (const json* fr = member(p, "functionResponse")) {
          const json* name = member(*fr, "name");
          if (!name || !name->is_string())
            return badType(pp + ".functionResponse.name", "a string");
          auto match = pending.end();
          if (const json* id = member(*fr, "id"); id && id->is_string())
            match = std::find_if(pending.begin(), pending.end(), [&](const PendingCall& pc) {
              return pc.id == id->get_ref<const std::string&>();
            });
          if (match == pending.end())
            match = std::find_if(pending.begin(), pending.end(), [&](const PendingCall& pc) {
              return pc.name == name->get_ref<const std::string&>();
            });
          if (match == pending.end())
            return badRequest("functionResponse '" + name->get<std::string>() + "' at '" + pp +
                                  "' does not answer any earlier functionCall.",
                              pp + ".functionResponse");
          const json* response = member(*fr, "response");
          messages.push_back({{"role", "tool"},
                              {"tool_call_id", match->id},
                              {"content", response ? dump(*response) : "{}"}});
          pending.erase(match);
          continue;
        }
        json part;
        if (auto e = userPart(p, pp, part)) return e;
        if (!part.is_null()) userContent.push_back(std::move(part));
      }
      if (userContent.empty()) continue;
      if (userContent.size() == 1 && userContent[0]["type"] == "text")
        messages.push_back({{"role", "user"}, {"content", userContent[0]["text"]}});
      else
        messages.push_back({{"role", "user"}, {"content", std::move(userContent)}});
    }
    out = json::object();
    out["model"] = std::string(model);
    out["messages"] = std::move(messages);
    if (const json* cfg = member(in, "generationConfig"))
      if (auto e = generationConfig(*cfg, out)) return e;
    if (auto e = toolsAndConfig(in, out)) return e;
    if (stream) out["stream"] = true;
    return std::nullopt;
  } catch (const std::exception& e) {
    return badRequest(std::string("Invalid request: ") + e.what(), "");
  }
}

std::unique_ptr<Translator> makeGeminiFront(std::string clientModel,
                                            std::unique_ptr<Translator> inner) {
  return std::make_unique<GeminiFront>(std::move(clientModel), std::move(inner));
}

std::unique_ptr<Translator> makeGeminiPassthrough(std::string clientModel, const Target& target) {
  return std::make_unique<GeminiPassthrough>(std::move(clientModel), target);
}

}  // namespace finops::dp
