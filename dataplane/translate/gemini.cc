// OpenAI chat completions -> Gemini generateContent (the provider side), plus the pieces the
// Gemini front and passthrough share: usage and upstream errors.
//
// Request (OpenAI chat -> Gemini generateContent):
// | OpenAI                                   | Gemini                                             |
// |------------------------------------------|----------------------------------------------------|
// | model                                    | dropped (the model is in the URL)                  |
// | messages[] system, developer             | systemInstruction {parts:[{text}]}: all of them,   |
// |                                          | wherever they appear, joined with "\n\n"           |
// | messages[] user                          | contents[] role "user"                             |
// | messages[] assistant                     | contents[] role "model"                            |
// | messages[] tool                          | role "user" part functionResponse {name,           |
// |                                          | response}; name from the earlier assistant         |
// |                                          | tool_call with that tool_call_id (400 if none);    |
// |                                          | response = the content when it is a JSON object,   |
// |                                          | else {"result": content}                           |
// | consecutive messages of one role         | one content (tool results and a following user     |
// |                                          | message share one user turn)                       |
// | content string, text part                | {text}                                             |
// | image_url data: URL                      | {inlineData {mimeType, data}}                      |
// | image_url http(s):// or gs:// URL        | {fileData {mimeType guessed from the extension     |
// |                                          | (default image/jpeg), fileUri}}                    |
// | input_audio {data, format}               | {inlineData {mimeType audio/<format>, data}}       |
// | file {file_data: data URL}               | {inlineData}; file_id: 400                         |
// | assistant refusal part                   | {text}                                             |
// | assistant tool_calls[]                   | {functionCall {name, args: arguments parsed (a     |
// |                                          | JSON object, else 400)}, thoughtSignature from the |
// |                                          | id (see below)}                                    |
// | assistant reasoning_content              | dropped (Gemini reads past thoughts only through   |
// |                                          | signatures)                                        |
// | tools[] function {name, description,     | tools:[{functionDeclarations:[{name, description,  |
// | parameters}                              | parametersJsonSchema: parameters as given}]}];     |
// |                                          | other tool types: 400                              |
// | tool_choice auto, none, required         | toolConfig.functionCallingConfig.mode AUTO, NONE,  |
// |                                          | ANY (only when there are tools)                    |
// | tool_choice {function:{name}}            | mode ANY + allowedFunctionNames [name]             |
// | temperature, top_p, top_k (non-standard) | generationConfig temperature, topP, topK           |
// | max_completion_tokens, else max_tokens   | generationConfig.maxOutputTokens                   |
// | stop (string or array)                   | generationConfig.stopSequences                     |
// | n                                        | 1: dropped; > 1: 400 (only one candidate is        |
// |                                          | translated)                                        |
// | presence_penalty, frequency_penalty,     | presencePenalty, frequencyPenalty, seed            |
// | seed                                     |                                                    |
// | response_format text                     | dropped                                            |
// | response_format json_object              | responseMimeType application/json                  |
// | response_format json_schema {schema}     | responseMimeType application/json +                |
// |                                          | responseJsonSchema: schema                         |
// | reasoning_effort none, minimal, low,     | thinkingConfig {thinkingBudget 0, 512, 1024, 8192, |
// | medium, high                             | 24576; includeThoughts true unless none}           |
// | functions, function_call (legacy)        | 400: use tools and tool_choice                     |
// | stream                                   | path :streamGenerateContent?alt=sse instead of     |
// |                                          | :generateContent                                   |
// | stream_options.include_usage             | kept by the gateway: a usage chunk before [DONE]   |
// | logprobs, top_logprobs, logit_bias,      | dropped                                            |
// | parallel_tool_calls, user, metadata,     |                                                    |
// | store, service_tier, modalities, audio,  |                                                    |
// | prediction, web_search_options, ...      |                                                    |
//
// Response (Gemini -> OpenAI chat): candidates[0] only. Text parts joined -> content (null
// when there is none); "thought":true parts -> reasoning_content; functionCall parts ->
// tool_calls with synthesised ids; finishReason STOP -> "stop", or "tool_calls" when a call
// was returned; MAX_TOKENS -> "length"; SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT,
// SPII, IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT, IMAGE_RECITATION -> "content_filter"; others
// -> "stop" ("tool_calls" with calls). promptFeedback.blockReason without candidates ->
// content null, "content_filter". usageMetadata -> usage: prompt = promptTokenCount +
// toolUsePromptTokenCount, completion = candidatesTokenCount + thoughtsTokenCount,
// reasoning_tokens = thoughtsTokenCount, cached_tokens = cachedContentTokenCount. Dropped:
// safetyRatings, citationMetadata, groundingMetadata, logprobsResult, functionCall.id (our
// ids replace it; functionResponse is matched by name), text-part thoughtSignatures.
//
// Tool call ids and thought signatures. Gemini 2.5+ puts a "thoughtSignature" on
// functionCall parts and Gemini 3 rejects (400) a later request whose model turn lacks it.
// The translator is stateless across requests, so the signature travels in the id the
// client echoes back: "call_<nonce><n>" without a signature, "call_<nonce><n>_ts_<sig>"
// where <sig> is the (canonical, padded, standard-alphabet) base64 signature rewritten to
// base64url without padding, or "call_<nonce><n>_tr_<base64url of the raw signature>" for
// any other signature text. Ids use only [A-Za-z0-9_-] (what Anthropic accepts too), are
// as long as the signature needs (often a few hundred characters) and round-trip exactly.
// When an assistant message's first tool call has no signature (ids from another provider,
// written by the client, or a call the model sent unsigned), the sentinel
// "skip_thought_signature_validator" that Google documents for injected calls is sent.
//
// Stream: each upstream event (partial parts, cumulative usageMetadata, finishReason on the
// last; no [DONE]) -> chat.completion.chunk events: first {role:"assistant",content:""};
// text -> content; thoughts -> reasoning_content; each functionCall (Gemini sends them
// whole) -> one delta {index, id, type, function {name, arguments}}; finishReason -> a
// finish chunk. At the end: a usage chunk (choices:[]) when the client asked for
// stream_options.include_usage, then [DONE]. {"error":{...}} -> an OpenAI error event and
// nothing more. A stream that ends without a finishReason ends with an error event.
#include "dataplane/translate/gemini.h"
#include "dataplane/translate/json_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <random>

namespace finops::dp {
namespace {

using json = nlohmann::ordered_json;  // keeps member order (tool schemas)
using ojson = nlohmann::ordered_json;

constexpr std::string_view kSkipSignature = "skip_thought_signature_validator";

template <typename J>
std::string dump(const J& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The member `k` of object `o` when present and not null.
ApiError badRequest(std::string message, std::string param, std::string code = "invalid_value") {
  return apiError(400, "invalid_request_error", std::move(code), std::move(message),
                  std::move(param));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string randomAlnum(size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::uniform_int_distribution<size_t> pick(0, sizeof(kChars) - 2);
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(kChars[pick(gen)]);
  return s;
}

// ---- base64 (for thought signatures in tool call ids).

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kB64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64UrlEncode(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kB64Url[(v >> s) & 63]);
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kB64Url[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    size_t v = kB64Url.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// Standard base64 with its padding, as Google serialises bytes fields.
bool isCanonicalBase64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && s.size() > pad && s[s.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i < s.size() - pad; ++i)
    if (kB64.find(s[i]) == std::string_view::npos) return false;
  return true;
}

std::string callId(std::string_view nonce, int n, std::string_view signature) {
  std::string id = "call_";
  id.append(nonce);
  id.append(std::to_string(n));
  if (signature.empty()) return id;
  if (isCanonicalBase64(signature)) {
    id.append("_ts_");
    for (char c : signature) {
      if (c == '=') break;
      id.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
    }
  } else {
    id.append("_tr_");
    id.append(base64UrlEncode(signature));
  }
  return id;
}

// The thought signature carried by a tool call id (see the top of the file), or "".
std::string signatureFromId(std::string_view id) {
  if (!id.starts_with("call_")) return "";
  std::string_view rest = id.substr(5);
  size_t us = rest.find('_');
  if (us == std::string_view::npos) return "";
  rest = rest.substr(us + 1);
  if (rest.starts_with("ts_")) {
    std::string sig(rest.substr(3));
    for (char& c : sig) {
      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (kB64.find(c) == std::string_view::npos)
        return "";
    }
    while (sig.size() % 4 != 0) sig.push_back('=');
    return sig;
  }
  if (rest.starts_with("tr_")) return base64UrlDecode(rest.substr(3)).value_or("");
  return "";
}

// ---- Request pieces.

std::string mimeFromUrl(std::string_view url) {
  size_t end = url.find_first_of("?#");
  std::string_view path = url.substr(0, end);
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return "image/jpeg";
  std::string ext = lower(path.substr(dot + 1));
  static const std::pair<const char*, const char*> kTypes[] = {
      {"png", "image/png"},   {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},   {"webp", "image/webp"},     {"heic", "image/heic"},
      {"heif", "image/heif"}, {"pdf", "application/pdf"}, {"mp3", "audio/mp3"},
      {"wav", "audio/wav"},   {"ogg", "audio/ogg"},       {"flac", "audio/flac"},
      {"mp4", "video/mp4"},   {"mov", "video/quicktime"}, {"webm", "video/webm"},
      {"txt", "text/plain"},  {"html", "text/html"},      {"csv", "text/csv"},
  };
  for (auto& [e, m] : kTypes)
    if (ext == e) return m;
  return "image/jpeg";
}

// "data:<mime>[;param]*;base64,<data>" -> inlineData.
std::optional<ApiError> dataUrlPart(std::string_view url, const std::string& param, json& part) {
  size_t comma = url.find(',');
  if (!url.starts_with("data:") || comma == std::string_view::npos)
    return badRequest("Invalid data URL in '" + param + "'.", param);
  std::string_view header = url.substr(5, comma - 5);
  std::string_view mime = header.substr(0, header.find(';'));
  if (mime.empty() || header.find(";base64") == std::string_view::npos)
    return badRequest("'" + param + "' must be a base64 data URL with a media type.", param);
  part = {{"inlineData",
           {{"mimeType", std::string(mime)}, {"data", std::string(url.substr(comma + 1))}}}};
  return std::nullopt;
}

std::optional<ApiError> imagePart(const json& p, const std::string& param, json& part) {
  const json* img = member(p, "image_url");
  const json* url = img && img->is_object() ? member(*img, "url") : img;
  if (!url || !url->is_string()) return badType(param + ".image_url.url", "a string");
  const std::string& u = url->get_ref<const std::string&>();
  if (u.starts_with("data:")) return dataUrlPart(u, param + ".image_url.url", part);
  if (u.starts_with("https://") || u.starts_with("http://") || u.starts_with("gs://")) {
    part = {{"fileData", {{"mimeType", mimeFromUrl(u)}, {"fileUri", u}}}};
    return std::nullopt;
  }
  return badRequest(
      "Invalid image URL in '" + param + ".image_url.url': expected a data: or https: URL.",
      param + ".image_url.url");
}

// Content parts of a user message.
std::optional<ApiError> userParts(const json& content, const std::string& param, json& parts) {
  if (content.is_string()) {
    parts.push_back({{"text", content}});
    return std::nullopt;
  }
  if (!content.is_array()) return badType(param, "a string or an array of content parts");
  for (size_t i = 0; i < content.size(); ++i) {
    const json& p = content[i];
    std::string pp = param + "[" + std::to_string(i) + "]";
    const json* type = member(p, "type");
    if (!type || !type->is_string()) return badType(pp + ".type", "a string");
    const std::string& t = type->get_ref<const std::string&>();
    json part;
    if (t == "text") {
      const json* text = member(p, "text");
      if (!text || !text->is_string()) return badType(pp + ".text", "a string");
      part = {{"text", *text}};
    } else if (t == "image_url") {
      if (auto e = imagePart(p, pp, part)) return e;
    } else if (t == "input_audio") {
      const json* a = member(p, "input_audio");
      const json* data = a ? member(*a, "data") : nullptr;
      const json* format = a ? member(*a, "format") : nullptr;
      if (!data || !data->is_string() || !format || !format->is_string())
        return badType(pp + ".input_audio", "an object with string data and format");
      part = {{"inlineData",
               {{"mimeType", "audio/" + lower(format->get<std::string>())}, {"data", *data}}}};
    } else if (t == "file") {
      const json* f = member(p, "file");
      const json* data = f ? member(*f, "file_data") : nullptr;
      if (!data || !data->is_string())
        return badRequest(
            "'" + pp +
                ".file' needs file_data (a data URL); file ids are not supported by this provider.",
            pp + ".file");
      if (auto e = dataUrlPart(data->get_ref<const std::string&>(), pp + ".file.file_data", part))
        return e;
    } else {
      return badRequest("Invalid value for '" + pp + ".type': '" + t + "' is not supported.",
                        pp + ".type");
    }
    parts.push_back(std::move(part));
  }
  return std::nullopt;
}

// The text of a system, developer, assistant or tool message (text and refusal parts).
std::optional<ApiError> plainText(const json& content, const std::string& param, std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return badType(param, "a string or an array of text parts");
  for (size_t i = 0; i < content.size(); ++i) {
    std::string pp = param + "[" + std::to_string(i) + "]";
    const json* type = member(content[i], "type");
    const char* key = type && *type == "refusal" ? "refusal" : "text";
    if (!type || (*type != "text" && *type != "refusal"))
      return badRequest("Invalid value for '" + pp + ".type': only text parts are supported here.",
                        pp + ".type");
    const json* text = member(content[i], key);
    if (!text || !text->is_string()) return badType(pp + "." + key, "a string");
    out += text->get_ref<const std::string&>();
  }
  return std::nullopt;
}

// Appends parts to the last content when it has the same role, else starts a new one.
void addContent(json& contents, const char* role, json parts) {
  if (parts.empty()) return;
  if (!contents.empty() && contents.back()["role"] == role) {
    for (auto& p : parts) contents.back()["parts"].push_back(std::move(p));
    return;
  }
  contents.push_back({{"role", role}, {"parts", std::move(parts)}});
}

std::optional<ApiError> numberField(const json& in, const char* from, json& cfg, const char* to) {
  const json* v = member(in, from);
  if (!v) return std::nullopt;
  if (!v->is_number()) return badType(from, "a number");
  cfg[to] = *v;
  return std::nullopt;
}

std::optional<ApiError> intField(const json& in, const char* from, json& cfg, const char* to) {
  const json* v = member(in, from);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) return badType(from, "an integer");
  cfg[to] = *v;
  return std::nullopt;
}

std::optional<ApiError> generationConfig(const json& in, json& cfg) {
  if (auto e = numberField(in, "temperature", cfg, "temperature")) return e;
  if (auto e = numberField(in, "top_p", cfg, "topP")) return e;
  if (auto e = intField(in, "top_k", cfg, "topK")) return e;
  if (auto e = numberField(in, "presence_penalty", cfg, "presencePenalty")) return e;
  if (auto e = numberField(in, "frequency_penalty", cfg, "frequencyPenalty")) return e;
  if (auto e = intField(in, "seed", cfg, "seed")) return e;
  if (auto e = intField(in, "max_tokens", cfg, "maxOutputTokens")) return e;
  if (auto e = intField(in, "max_completion_tokens", cfg, "maxOutputTokens")) return e;
  if (const json* n = member(in, "n")) {
    if (!n->is_number_integer()) return badType("n", "an integer");
    if (n->get<int64_t>() != 1)
      return badRequest("Invalid value for 'n': this provider supports only n=1.", "n");
  }
  if (const json* stop = member(in, "stop")) {
    if (stop->is_string()) {
      cfg["stopSequences"] = json::array({*stop});
    } else if (stop->is_array()) {
      for (const auto& s : *stop)
        if (!s.is_string()) return badType("stop", "a string or an array of strings");
      if (!stop->empty()) cfg["stopSequences"] = *stop;
    } else {
      return badType("stop", "a string or an array of strings");
    }
  }
  if (const json* rf = member(in, "response_format")) {
    const json* type = member(*rf, "type");
    if (!type || !type->is_string()) return badType("response_format.type", "a string");
    if (*type == "json_object") {
      cfg["responseMimeType"] = "application/json";
    } else if (*type == "json_schema") {
      cfg["responseMimeType"] = "application/json";
      const json* js = member(*rf, "json_schema");
      if (js && !js->is_object()) return badType("response_format.json_schema", "an object");
      if (const json* schema = js ? member(*js, "schema") : nullptr)
        cfg["responseJsonSchema"] = *schema;
    } else if (*type != "text") {
      return badRequest("Invalid value for 'response_format.type': '" + type->get<std::string>() +
                            "' is not supported.",
                        "response_format.type");
    }
  }
  if (const json* effort = member(in, "reasoning_effort")) {
    static const std::pair<const char*, int> kBudgets[] = {
        {"none", 0}, {"minimal", 512}, {"low", 1024}, {"medium", 8192}, {"high", 24576}};
    int budget = -1;
    if (effort->is_string())
      for (auto& [name, b] : kBudgets)
        if (*effort == name) budget = b;
    if (budget < 0)
      return badRequest(
          "Invalid value for 'reasoning_effort': expected none, minimal, low, medium or high.",
          "reasoning_effort");
    json tc = {{"thinkingBudget", budget}};
    if (budget > 0) tc["includeThoughts"] = true;
    cfg["thinkingConfig"] = std::move(tc);
  }
  return std::nullopt;
}

std::optional<ApiError> toolsAndChoice(const json& in, json& out) {
  const json* tools = member(in, "tools");
  if (tools) {
    if (!tools->is_array()) return badType("tools", "an array");
    json decls = json::array();
    for (size_t i = 0; i < tools->size(); ++i) {
      const json& t = (*tools)[i];
      std::string p = "tools[" + std::to_string(i) + "]";
      if (!t.is_object()) return badType(p, "an object");
      const json* type = member(t, "type");
      if (type && *type != "function")
        return badRequest("Invalid value for '" + p +
                              ".type': only function tools are supported by this provider.",
                          p + ".type");
      const json* fn = member(t, "function");
      if (!fn || !fn->is_object()) return badType(p + ".function", "an object");
      const json* name = member(*fn, "name");
      if (!name || !name->is_string() || name->get_ref<const std::string&>().empty())
        return badType(p + ".function.name", "a non-empty string");
      json d = {{"name", *name}};
      if (const json* desc = member(*fn, "description")) {
        if (!desc->is_string()) return badType(p + ".function.description", "a string");
        d["description"] = *desc;
      }
      if (const json* params = member(*fn, "parameters")) {
        if (!params->is_object()) return badType(p + ".function.parameters", "an object");
        d["parametersJsonSchema"] = *params;
      }
      decls.push_back(std::move(d));
    }
    if (!decls.empty()) out["tools"] = json::array({{{"functionDeclarations", std::move(decls)}}});
  }
  if (member(in, "functions") || member(in, "function_call"))
    return badRequest(
        "'functions' and 'function_call' are deprecated and not supported for this provider; use "
        "'tools' and 'tool_choice'.",
        member(in, "functions") ? "functions" : "function_call");
  const json* choice = member(in, "tool_choice");
  if (!choice) return std::nullopt;
  json fcc;
  if (choice->is_string()) {
    const std::string& c = choice->get_ref<const std::string&>();
    if (c == "auto")
      fcc["mode"] = "AUTO";
    else if (c == "none")
      fcc["mode"] = "NONE";
    else if (c == "required")
      fcc["mode"] = "ANY";
    else
      return badRequest(
          "Invalid value for 'tool_choice': expected none, auto, required or a function.",
          "tool_choice");
  } else if (choice->is_object()) {
    const json* fn = member(*choice, "function");
    const json* name = fn ? member(*fn, "name") : nullptr;
    if (!name || !name->is_string()) return badType("tool_choice.function.name", "a string");
    fcc = {{"mode", "ANY"}, {"allowedFunctionNames", json::array({*name})}};
  } else {
    return badType("tool_choice", "a string or an object");
  }
  if (out.contains("tools")) out["toolConfig"] = {{"functionCallingConfig", std::move(fcc)}};
  return std::nullopt;
}

// ---- Response pieces.

const char* finishReason(std::string_view reason, bool hasCalls) {
  if (reason == "MAX_TOKENS") return "length";
  static constexpr std::string_view kFiltered[] = {"SAFETY",
                                                   "RECITATION",
                                                   "BLOCKLIST",
                                                   "PROHIBITED_CONTENT",
                                                   "SPII",
                                                   "IMAGE_SAFETY",
                                                   "IMAGE_PROHIBITED_CONTENT",
                                                   "IMAGE_RECITATION"};
  for (auto f : kFiltered)
    if (reason == f) return "content_filter";
  return hasCalls ? "tool_calls" : "stop";
}

int64_t count(const json& o, const char* k) {
  const json* v = member(o, k);
  return v ? tokenCount(*v) : 0;
}

ojson openAIUsage(const json& um) {
  Usage u;
  parseGeminiUsage(um, u);
  ojson j;
  j["prompt_tokens"] = u.promptTokens;
  j["completion_tokens"] = u.completionTokens;
  j["total_tokens"] = u.promptTokens + u.completionTokens;
  j["prompt_tokens_details"] = {{"cached_tokens", u.cachedTokens}};
  j["completion_tokens_details"] = {{"reasoning_tokens", count(um, "thoughtsTokenCount")}};
  return j;
}

// What one candidate's parts say, in OpenAI terms.
struct Parts {
  std::string text, reasoning;
  bool hasText = false, hasReasoning = false;
  struct Call {
    std::string name, arguments, signature;
  };
  std::vector<Call> calls;
};

Parts readParts(const json& candidate) {
  Parts out;
  const json* content = member(candidate, "content");
  const json* parts = content ? member(*content, "parts") : nullptr;
  if (!parts || !parts->is_array()) return out;
  for (const json& p : *parts) {
    if (const json* fc = member(p, "functionCall"); fc && fc->is_object()) {
      Parts::Call c;
      if (const json* n = member(*fc, "name"); n && n->is_string()) c.name = n->get<std::string>();
      const json* args = member(*fc, "args");
      c.arguments = args ? dump(*args) : "{}";
      if (const json* s = member(p, "thoughtSignature"); s && s->is_string())
        c.signature = s->get<std::string>();
      out.calls.push_back(std::move(c));
      continue;
    }
    const json* text = member(p, "text");
    if (!text || !text->is_string()) continue;
    const json* thought = member(p, "thought");
    if (thought && *thought == true) {
      out.reasoning += text->get_ref<const std::string&>();
      out.hasReasoning = true;
    } else {
      out.text += text->get_ref<const std::string&>();
      out.hasText = true;
    }
  }
  return out;
}

std::string geminiPath(const Target& target, std::string_view model, bool stream) {
  if (model.starts_with("models/")) model.remove_prefix(7);
  std::string path = target.vertex ? "/publishers/google/models/" : "/models/";
  path.append(model);
  path.append(stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
  return path;
}

class OpenAIToGemini final : public Translator {
 public:
  OpenAIToGemini(std::string clientModel, const Target& target)
      : clientModel_(std::move(clientModel)),
        target_(target),
        nonce_(randomAlnum(8)),
        created_(static_cast<int64_t>(std::time(nullptr))) {}

  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    try {
      json in = parseUntrusted<json>(request.body);
      if (!in.is_object()) return badRequest("The request body must be a JSON object.", "");
      json body;
      if (auto e = openAIRequestToGemini(in, body)) return e;
      if (const json* so = member(in, "stream_options"))
        if (const json* iu = member(*so, "include_usage")) includeUsage_ = *iu == true;
      out.path = geminiPath(target_, upstreamModel, request.stream);
      out.body = dump(body);
      return std::nullopt;
    } catch (const std::exception& e) {
      return badRequest(std::string("Invalid request: ") + e.what(), "");
    }
  }

  std::string translateResponse(std::string_view upstreamBody) override {
    try {
      json j = parseUntrusted<json>(upstreamBody);
      if (!j.is_object()) return std::string(upstreamBody);
      if (const json* um = member(j, "usageMetadata")) parseGeminiUsage(*um, usage_);
      ojson message;
      message["role"] = "assistant";
      const char* finish = "stop";
      ojson toolCalls = ojson::array();
      const json* cands = member(j, "candidates");
      if (cands && cands->is_array() && !cands->empty()) {
        const json& c = (*cands)[0];
        Parts parts = readParts(c);
        message["content"] = parts.hasText ? ojson(parts.text) : ojson(nullptr);
        if (parts.hasReasoning) message["reasoning_content"] = parts.reasoning;
        for (auto& call : parts.calls) toolCalls.push_back(toolCall(call, nextCall_++));
        const json* fr = member(c, "finishReason");
        finish = finishReason(fr && fr->is_string() ? fr->get_ref<const std::string&>() : "",
                              !parts.calls.empty());
      } else {
        message["content"] = nullptr;
        const json* pf = member(j, "promptFeedback");
        if (pf && member(*pf, "blockReason")) finish = "content_filter";
      }
      message["refusal"] = nullptr;
      if (!toolCalls.empty()) message["tool_calls"] = std::move(toolCalls);
      ojson out;
      out["id"] = completionId(j);
      out["object"] = "chat.completion";
      out["created"] = created_;
      out["model"] = clientModel_;
      out["system_fingerprint"] = nullptr;
      ojson choice;
      choice["index"] = 0;
      choice["message"] = std::move(message);
      choice["logprobs"] = nullptr;
      choice["finish_reason"] = finish;
      out["choices"] = ojson::array();
      out["choices"].push_back(std::move(choice));
      if (const json* um = member(j, "usageMetadata"); um && um->is_object())
        out["usage"] = openAIUsage(*um);
      return dump(out);
    } catch (const std::exception&) {
      return std::string(upstreamBody);
    }
  }

  void onStreamEvent(const sse::Event& event, std::string& out) override {
    if (errored_) return;
    try {
      json j = parseUntrusted<json>(event.data);
      if (j.is_array() && !j.empty()) j = json(j[0]);
      if (!j.is_object()) return;
      if (member(j, "error")) {
        ApiError e = geminiUpstreamError(0, event.data);
        out.append(renderStreamError(Dialect::kOpenAI, e));
        errored_ = true;
        return;
      }
      if (id_.empty()) id_ = completionId(j);
      if (const json* um = member(j, "usageMetadata"); um && um->is_object()) {
        parseGeminiUsage(*um, usage_);
        lastUsage_ = *um;
      }
      if (finished_) return;
      if (!started_) {
        started_ = true;
        out.append(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
      }
      const json* cands = member(j, "candidates");
      if (!cands || !cands->is_array() || cands->empty()) {
        const json* pf = member(j, "promptFeedback");
        if (pf && member(*pf, "blockReason")) {
          finished_ = true;
          out.append(chunk(ojson::object(), "content_filter"));
        }
        return;
      }
      const json& c = (*cands)[0];
      Parts parts = readParts(c);
      if (!parts.reasoning.empty()) {
        out.append(chunk({{"reasoning_content", parts.reasoning}}, nullptr));
        ++contentChunks_;
      }
      if (!parts.text.empty()) {
        out.append(chunk({{"content", parts.text}}, nullptr));
        ++contentChunks_;
      }
      for (auto& call : parts.calls) {
        int index = nextCall_++;
        ojson tc = toolCall(call, index);
        ojson entry;
        entry["index"] = index;
        for (auto it = tc.begin(); it != tc.end(); ++it) entry[it.key()] = it.value();
        ojson delta;
        delta["tool_calls"] = ojson::array();
        delta["tool_calls"].push_back(std::move(entry));
        out.append(chunk(std::move(delta), nullptr));
        ++contentChunks_;
      }
      if (const json* fr = member(c, "finishReason"); fr && fr->is_string()) {
        finished_ = true;
        out.append(
            chunk(ojson::object(), finishReason(fr->get_ref<const std::string&>(), nextCall_ > 0)));
      }
    } catch (const std::exception&) {
      // A malformed event is skipped; the stream's end decides whether it was complete.
    }
  }

  bool onStreamEnd(std::string& out) override {
    if (errored_) return false;
    if (!finished_) {
      out.append(errorEvent("the upstream stream ended before it was complete", "upstream_error"));
      return false;
    }
    if (includeUsage_ && lastUsage_.is_object()) {
      ojson c = chunkHead();
      c["choices"] = ojson::array();
      c["usage"] = openAIUsage(lastUsage_);
      out.append("data: " + dump(c) + "\n\n");
    }
    out.append("data: [DONE]\n\n");
    return true;
  }

  ApiError upstreamError(int status, std::string_view body) override {
    return geminiUpstreamError(status, body);
  }

 private:
  std::string completionId(const json& j) const {
    const json* rid = member(j, "responseId");
    if (rid && rid->is_string() && !rid->get_ref<const std::string&>().empty())
      return "chatcmpl-" + rid->get<std::string>();
    return "chatcmpl-" + nonce_;
  }

  ojson toolCall(const Parts::Call& call, int index) const {
    ojson tc;
    tc["id"] = callId(nonce_, index, call.signature);
    tc["type"] = "function";
    tc["function"] = {{"name", call.name}, {"arguments", call.arguments}};
    return tc;
  }

  ojson chunkHead() const {
    ojson c;
    c["id"] = id_;
    c["object"] = "chat.completion.chunk";
    c["created"] = created_;
    c["model"] = clientModel_;
    c["system_fingerprint"] = nullptr;
    return c;
  }

  std::string chunk(ojson delta, const char* finish) const {
    ojson c = chunkHead();
    ojson choice;
    choice["index"] = 0;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish ? ojson(finish) : ojson(nullptr);
    c["choices"] = ojson::array();
    c["choices"].push_back(std::move(choice));
    if (includeUsage_) c["usage"] = nullptr;
    return "data: " + dump(c) + "\n\n";
  }

  std::string clientModel_;
  Target target_;
  std::string nonce_;
  int64_t created_;
  std::string id_;
  bool includeUsage_ = false;
  bool started_ = false;
  bool finished_ = false;
  bool errored_ = false;
  int nextCall_ = 0;
  json lastUsage_;
};

int googleStatusToHttp(std::string_view s) {
  static const std::pair<std::string_view, int> kMap[] = {
      {"INVALID_ARGUMENT", 400},
      {"FAILED_PRECONDITION", 400},
      {"OUT_OF_RANGE", 400},
      {"UNAUTHENTICATED", 401},
      {"PERMISSION_DENIED", 403},
      {"NOT_FOUND", 404},
      {"ABORTED", 409},
      {"ALREADY_EXISTS", 409},
      {"RESOURCE_EXHAUSTED", 429},
      {"CANCELLED", 499},
      {"INTERNAL", 500},
      {"UNKNOWN", 500},
      {"DATA_LOSS", 500},
      {"UNIMPLEMENTED", 501},
      {"UNAVAILABLE", 503},
      {"DEADLINE_EXCEEDED", 504},
  };
  for (auto& [name, code] : kMap)
    if (s == name) return code;
  return 0;
}

// "7s", "0.5s", "1.000340s" -> whole seconds, rounded up; -1 when unreadable.
int retrySeconds(const json& delay) {
  if (!delay.is_string()) return -1;
  std::string s = delay.get<std::string>();
  if (s.empty() || s.back() != 's') return -1;
  s.pop_back();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !(v >= 0) || v > 86400.0 * 365) return -1;
  return static_cast<int>(std::ceil(v));
}

}  // namespace

std::optional<ApiError> openAIRequestToGemini(const json& in, json& out) {
  try {
    if (!in.is_object()) return badRequest("The request body must be a JSON object.", "");
    const json* messages = member(in, "messages");
    if (!messages)
      return badRequest("Missing required parameter: 'messages'.", "messages",
                        "missing_required_parameter");
    if (!messages->is_array()) return badType("messages", "an array");
    if (messages->empty())
      return badRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.",
                        "messages", "empty_array");
    out = json::object();
    std::string system;
    json contents = json::array();
    std::vector<std::pair<std::string, std::string>> callNames;  // tool_call_id -> name
    for (size_t i = 0; i < messages->size(); ++i) {
      const json& m = (*messages)[i];
      std::string mp = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) return badType(mp, "an object");
      const json* role = member(m, "role");
      if (!role || !role->is_string()) return badType(mp + ".role", "a string");
      const std::string& r = role->get_ref<const std::string&>();
      const json* content = member(m, "content");
      if (r == "system" || r == "developer") {
        std::string text;
        if (!content)
          return badRequest("Missing required parameter: '" + mp + ".content'.", mp + ".content");
        if (auto e = plainText(*content, mp + ".content", text)) return e;
        if (!system.empty()) system += "\n\n";
        system += text;
      } else if (r == "user") {
        if (!content)
          return badRequest("Missing required parameter: '" + mp + ".content'.", mp + ".content");
        json parts = json::array();
        if (auto e = userParts(*content, mp + ".content", parts)) return e;
        addContent(contents, "user", std::move(parts));
      } else if (r == "assistant") {
        json parts = json::array();
        if (content) {
          std::string text;
          if (auto e = plainText(*content, mp + ".content", text)) return e;
          if (!text.empty()) parts.push_back({{"text", text}});
        }
        if (const json* calls = member(m, "tool_calls")) {
          if (!calls->is_array()) return badType(mp + ".tool_calls", "an array");
          bool first = true;
          for (size_t k = 0; k < calls->size(); ++k) {
            const json& tc = (*calls)[k];
            std::string tp = mp + ".tool_calls[" + std::to_string(k) + "]";
            const json* id = member(tc, "id");
            const json* fn = member(tc, "function");
            const json* name = fn ? member(*fn, "name") : nullptr;
            if (!id || !id->is_string()) return badType(tp + ".id", "a string");
            if (!name || !name->is_string()) return badType(tp + ".function.name", "a string");
            json args = json::object();
            if (const json* a = member(*fn, "arguments")) {
              if (!a->is_string()) return badType(tp + ".function.arguments", "a string");
              const std::string& text = a->get_ref<const std::string&>();
              if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
                args = parseUntrusted<json>(text);
                if (!args.is_object())
                  return badRequest(
                      "Invalid value for '" + tp + ".function.arguments': expected a JSON object.",
                      tp + ".function.arguments");
              }
            }
            json part = {{"functionCall", {{"name", *name}, {"args", std::move(args)}}}};
            std::string sig = signatureFromId(id->get_ref<const std::string&>());
            if (!sig.empty())
              part["thoughtSignature"] = sig;
            else if (first)
              part["thoughtSignature"] = kSkipSignature;
            first = false;
            parts.push_back(std::move(part));
            callNames.emplace_back(id->get<std::string>(), name->get<std::string>());
          }
        }
        if (member(m, "function_call"))
          return badRequest("'" + mp +
                                ".function_call' is deprecated and not supported for this "
                                "provider; use tool_calls.",
                            mp + ".function_call");
        addContent(contents, "model", std::move(parts));
      } else if (r == "tool") {
        const json* id = member(m, "tool_call_id");
        if (!id || !id->is_string()) return badType(mp + ".tool_call_id", "a string");
        std::string name;
        for (auto it = callNames.rbegin(); it != callNames.rend(); ++it)
          if (it->first == id->get_ref<const std::string&>()) {
            name = it->second;
            break;
          }
        if (name.empty())
          return badRequest("Invalid parameter: '" + mp + ".tool_call_id' ('" +
                                id->get<std::string>() +
                                "') does not match any tool call of an earlier assistant message.",
                            mp + ".tool_call_id");
        std::string text;
        if (content)
          if (auto e = plainText(*content, mp + ".content", text)) return e;
        json parsed = parseUntrusted<json>(text);
        json response = parsed.is_object() ? std::move(parsed) : json{{"result", text}};
        addContent(contents, "user",
                   json::array({{{"functionResponse",
                                  {{"name", name}, {"response", std::move(response)}}}}}));
      } else {
        return badRequest(
            "Invalid value for '" + mp + ".role': '" + r +
                "' is not supported; expected system, developer, user, assistant or tool.",
            mp + ".role");
      }
    }
    if (!system.empty()) out["systemInstruction"] = {{"parts", json::array({{{"text", system}}})}};
    out["contents"] = std::move(contents);
    if (auto e = toolsAndChoice(in, out)) return e;
    json cfg = json::object();
    if (auto e = generationConfig(in, cfg)) return e;
    if (!cfg.empty()) out["generationConfig"] = std::move(cfg);
    return std::nullopt;
  } catch (const std::exception& e) {
    return badRequest(std::string("Invalid request: ") + e.what(), "");
  }
}

void parseGeminiUsage(const json& um, Usage& out) {
  if (!um.is_object()) return;
  out.promptTokens = count(um, "promptTokenCount") + count(um, "toolUsePromptTokenCount");
  out.completionTokens = count(um, "candidatesTokenCount") + count(um, "thoughtsTokenCount");
  out.cachedTokens = std::min(count(um, "cachedContentTokenCount"), out.promptTokens);
  out.cacheWriteTokens = 0;
  out.known = true;
}

ApiError geminiUpstreamError(int status, std::string_view body) {
  json j = parseUntrusted<json>(body);
  if (j.is_array() && !j.empty()) j = json(j[0]);
  const json* err = j.is_object() ? member(j, "error") : nullptr;
  std::string gstatus, message;
  int code = 0;
  int retry = -1;
  if (err && err->is_object()) {
    if (const json* s = member(*err, "status"); s && s->is_string())
      gstatus = s->get<std::string>();
    if (const json* m = member(*err, "message"); m && m->is_string())
      message = m->get<std::string>();
    if (const json* c = member(*err, "code"); c && c->is_number_integer()) code = c->get<int>();
    if (const json* details = member(*err, "details"); details && details->is_array())
      for (const json& d : *details) {
        const json* type = member(d, "@type");
        const json* delay = member(d, "retryDelay");
        if (type && type->is_string() &&
            type->get_ref<const std::string&>().ends_with("google.rpc.RetryInfo") && delay)
          retry = retrySeconds(*delay);
      }
  } else if (err && err->is_string()) {
    message = err->get<std::string>();
  }
  int http = status;
  if (http < 400 || http > 599) {
    http = googleStatusToHttp(gstatus);
    if (http == 0) http = code >= 400 && code <= 599 ? code : 502;
  }
  ApiError e;
  e.status = http;
  e.type = http == 401   ? "authentication_error"
           : http == 403 ? "permission_error"
           : http == 429 ? "rate_limit_error"
           : http >= 500 ? "server_error"
                         : "invalid_request_error";
  e.code = http == 429        ? "rate_limit_exceeded"
           : !gstatus.empty() ? lower(gstatus)
                              : "upstream_error";
  e.message = message;
  if (e.message.empty()) {
    std::string text(body.substr(0, 2000));
    e.message = "upstream returned HTTP " + std::to_string(status > 0 ? status : http);
    if (!text.empty()) e.message += ": " + text;
  }
  e.retryAfterSeconds = retry;
  return e;
}

std::unique_ptr<Translator> makeOpenAIToGemini(std::string clientModel, const Target& target) {
  return std::make_unique<OpenAIToGemini>(std::move(clientModel), target);
}

}  // namespace finops::dp
