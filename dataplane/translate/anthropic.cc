// OpenAI chat completions -> Anthropic Messages (the provider side), plus the pieces both
// directions share: usage and error mapping.
//
// What happens to each OpenAI request parameter (docs/providers.md copies this table):
//
// | OpenAI                               | Anthropic                                           |
// |--------------------------------------|-----------------------------------------------------|
// | messages: system, developer          | top-level "system" text blocks, in order            |
// | messages: user / assistant           | turns; adjacent turns with the same role are merged |
// | messages: tool                       | user "tool_result" blocks; consecutive ones (and a  |
// |                                      | user message right after them) share one user turn, |
// |                                      | tool results first                                  |
// | messages: function (legacy)          | 400                                                 |
// | assistant tool_calls                 | "tool_use" blocks; arguments parsed ({} if invalid) |
// | assistant thinking_blocks (LiteLLM)  | sent back first, verbatim (signatures kept)         |
// | content text / image_url             | text / image blocks (data: URL -> base64 source,    |
// |                                      | http(s) -> url source)                              |
// | content file (file_data data: URL)   | document block, base64 source; file_id -> 400       |
// | content input_audio                  | 400                                                 |
// | cache_control on a part or message   | kept (on the block, or the message's last block)    |
// | max_completion_tokens, max_tokens    | max_tokens (max_completion_tokens wins); else the   |
// |                                      | target's defaultMaxTokens                           |
// | n > 1                                | 400 (Anthropic returns one choice)                  |
// | stop (string or array)               | stop_sequences                                      |
// | temperature                          | temperature, clamped to [0, 1]                      |
// | top_p; top_k (non-standard)          | top_p; top_k                                        |
// | tools (function)                     | {name, description, input_schema}; others -> 400    |
// | tool_choice auto/required/none/named | {type:auto}/{type:any}/{type:none}/{type:tool,name} |
// | parallel_tool_calls: false           | tool_choice.disable_parallel_tool_use: true         |
// | functions, function_call (legacy)    | 400                                                 |
// | user                                 | metadata.user_id                                    |
// | reasoning_effort, reasoning.effort   | thinking {type:enabled, budget_tokens}: minimal and |
// |                                      | low 1024, medium 4096, high 16384, xhigh 32768;     |
// |                                      | none: no thinking; other values -> 400              |
// | thinking (non-standard object)       | passed through (wins over reasoning_effort)         |
// | (thinking enabled)                   | temperature, top_p, top_k dropped (Anthropic        |
// |                                      | rejects them); max_tokens raised to budget +        |
// |                                      | max_tokens when it is not above the budget          |
// | stream                               | stream                                              |
// | stream_options.include_usage         | read: the client gets a usage chunk before [DONE]   |
// | logprobs, top_logprobs, logit_bias,  | dropped silently (no Anthropic equivalent)          |
// | presence_penalty, frequency_penalty, |                                                     |
// | seed, response_format (json_object   |                                                     |
// | and json_schema), service_tier,      |                                                     |
// | store, metadata, prediction, audio,  |                                                     |
// | modalities, web_search_options,      |                                                     |
// | verbosity, prompt_cache_key,         |                                                     |
// | safety_identifier                    |                                                     |
//
// Responses: text blocks joined into "content", thinking blocks into "reasoning_content"
// (and, with their signatures, "thinking_blocks" so they can be sent back), tool_use blocks
// into "tool_calls". Vertex: ":rawPredict" / ":streamRawPredict", no "model",
// "anthropic_version":"vertex-2023-10-16".
#include "dataplane/translate/anthropic.h"
#include "dataplane/translate/json_util.h"

#include <algorithm>
#include <ctime>
#include <random>

namespace finops::dp {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

template <typename J>
std::string dumpJson(const J& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string randomId(size_t chars) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  s.reserve(chars);
  for (size_t i = 0; i < chars; ++i) s.push_back(kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
  return s;
}

ApiError badRequest(std::string message, std::string param) {
  return apiError(400, "invalid_request_error", "", std::move(message), std::move(param));
}
ApiError missing(const std::string& param) {
  return apiError(400, "invalid_request_error", "", "Missing required parameter: '" + param + "'.",
                  param);
}
ApiError unsupported(const std::string& what, const std::string& param) {
  return apiError(400, "invalid_request_error", "unsupported_parameter",
                  what + " is not supported for this provider.", param);
}

// A member that is present and not null.
// An index (fractions truncated): `fallback` when absent, not a number or beyond int64_t.
int64_t intOr(const json& o, const char* key, int64_t fallback) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return fallback;
  if (it->is_number_unsigned())
    return it->get<uint64_t>() > uint64_t{INT64_MAX} ? fallback : it->get<int64_t>();
  if (it->is_number_integer()) return it->get<int64_t>();
  const double d = it->get<double>();  // converting one out of range is undefined behaviour
  return d >= -9.2e18 && d <= 9.2e18 ? static_cast<int64_t>(d) : fallback;
}

std::string finishReason(std::string_view stopReason) {
  if (stopReason == "max_tokens" || stopReason == "model_context_window_exceeded") return "length";
  if (stopReason == "tool_use") return "tool_calls";
  if (stopReason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn, and anything new
}

// Anthropic's error type -> the HTTP status it comes with (for errors inside a stream).
int statusForAnthropicType(std::string_view type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "billing_error") return 402;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "timeout_error") return 504;
  if (type == "overloaded_error") return 529;
  return 500;  // api_error and unknown types
}

// ---- Request.

// "data:<media type>;base64,<data>" -> (media type, data). False when not base64.
bool parseDataUrl(std::string_view url, std::string& mediaType, std::string& data) {
  url.remove_prefix(5);  // "data:"
  size_t comma = url.find(',');
  if (comma == std::string_view::npos) return false;
  std::string_view meta = url.substr(0, comma);
  constexpr std::string_view kBase64 = ";base64";
  if (meta.size() < kBase64.size() || meta.substr(meta.size() - kBase64.size()) != kBase64)
    return false;
  meta.remove_suffix(kBase64.size());
  mediaType = std::string(meta.substr(0, meta.find(';')));
  data = std::string(url.substr(comma + 1));
  return true;
}

void copyCacheControl(const ojson& from, ojson& to) {
  if (const ojson* cc = member(from, "cache_control"); cc && cc->is_object())
    to["cache_control"] = *cc;
}

// One OpenAI content part -> an Anthropic block; `block` stays null for parts that carry
// nothing (empty text).
std::optional<ApiError> convertPart(const ojson& part, const std::string& param, ojson& block) {
  if (!part.is_object()) return badType(param, "an object");
  const ojson* type = member(part, "type");
  if (!type || !type->is_string()) return missing(param + ".type");
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "text" || t == "refusal") {
    const char* key = t == "text" ? "text" : "refusal";
    const ojson* text = member(part, key);
    if (!text || !text->is_string()) return missing(param + "." + key);
    if (text->get_ref<const std::string&>().empty()) return std::nullopt;
    block = ojson::object();
    block["type"] = "text";
    block["text"] = *text;
  } else if (t == "image_url") {
    const ojson* image = member(part, "image_url");
    const ojson* url = image && image->is_object() ? member(*image, "url") : image;
    if (!url || !url->is_string()) return missing(param + ".image_url.url");
    const std::string& u = url->get_ref<const std::string&>();
    ojson source = ojson::object();
    if (u.rfind("data:", 0) == 0) {
      std::string mediaType, data;
      if (!parseDataUrl(u, mediaType, data))
        return badRequest("Invalid image data URL: expected data:<media type>;base64,<data>.",
                          param + ".image_url.url");
      source["type"] = "base64";
      source["media_type"] = mediaType;
      source["data"] = std::move(data);
    } else if (u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0) {
      source["type"] = "url";
      source["url"] = u;
    } else {
      return badRequest("Invalid image URL: expected a data: or http(s) URL.",
                        param + ".image_url.url");
    }
    block = ojson::object();
    block["type"] = "image";
    block["source"] = std::move(source);
  } else if (t == "file") {
    const ojson* file = member(part, "file");
    const ojson* data = file && file->is_object() ? member(*file, "file_data") : nullptr;
    if (!data || !data->is_string())
      return unsupported("A file part without file_data", param + ".file");
    std::string mediaType, bytes;
    const std::string& d = data->get_ref<const std::string&>();
    if (d.rfind("data:", 0) != 0 || !parseDataUrl(d, mediaType, bytes))
      return badRequest("Invalid file_data: expected data:<media type>;base64,<data>.",
                        param + ".file.file_data");
    ojson source = ojson::object();
    source["type"] = "base64";
    source["media_type"] = mediaType;
    source["data"] = std::move(bytes);
    block = ojson::object();
    block["type"] = "document";
    block["source"] = std::move(source);
  } else if (t == "input_audio") {
    return unsupported("Audio input", param + ".type");
  } else {
    return badRequest("Invalid value for '" + param + ".type': '" + t + "'.", param + ".type");
  }
  copyCacheControl(part, block);
  return std::nullopt;
}

// A message's "content" (string or parts) -> blocks appended to `blocks`.
std::optional<ApiError> convertContent(const ojson& content, const std::string& param,
                                       ojson& blocks) {
  if (content.is_string()) {
    if (!content.get_ref<const std::string&>().empty()) {
      ojson b = ojson::object();
      b["type"] = "text";
      b["text"] = content;
      blocks.push_back(std::move(b));
    }
    return std::nullopt;
  }
  if (!content.is_array()) return badType(param, "a string or an array of content parts");
  for (size_t i = 0; i < content.size(); ++i) {
    ojson block;
    if (auto err = convertPart(content[i], param + "[" + std::to_string(i) + "]", block))
      return err;
    if (!block.is_null()) blocks.push_back(std::move(block));
  }
  return std::nullopt;
}

struct Conversation {
  ojson system = ojson::array();
  ojson messages = ojson::array();
};

void appendTurn(Conversation& c, const char* role, ojson blocks) {
  if (blocks.empty()) return;
  if (!c.messages.empty() && c.messages.back()["role"] == role) {
    ojson& content = c.messages.back()["content"];
    for (auto& b : blocks) content.push_back(std::move(b));
    return;
  }
  ojson m = ojson::object();
  m["role"] = role;
  m["content"] = std::move(blocks);
  c.messages.push_back(std::move(m));
}

std::optional<ApiError> convertAssistant(const ojson& m, const std::string& param, ojson& blocks) {
  if (const ojson* thinking = member(m, "thinking_blocks")) {
    if (!thinking->is_array()) return badType(param + ".thinking_blocks", "an array");
    for (const auto& b : *thinking)
      if (b.is_object()) blocks.push_back(b);
  }
  if (const ojson* content = member(m, "content"))
    if (auto err = convertContent(*content, param + ".content", blocks)) return err;
  if (const ojson* calls = member(m, "tool_calls")) {
    if (!calls->is_array()) return badType(param + ".tool_calls", "an array");
    for (size_t i = 0; i < calls->size(); ++i) {
      const ojson& call = (*calls)[i];
      std::string p = param + ".tool_calls[" + std::to_string(i) + "]";
      if (!call.is_object()) return badType(p, "an object");
      const ojson* id = member(call, "id");
      if (!id || !id->is_string()) return missing(p + ".id");
      const ojson* fn = member(call, "function");
      if (!fn || !fn->is_object()) return missing(p + ".function");
      const ojson* name = member(*fn, "name");
      if (!name || !name->is_string()) return missing(p + ".function.name");
      ojson input = ojson::object();
      if (const ojson* args = member(*fn, "arguments")) {
        if (args->is_string()) {
          ojson parsed = parseUntrusted<ojson>(args->get_ref<const std::string&>());
          if (parsed.is_object()) input = std::move(parsed);
        } else if (args->is_object()) {
          input = *args;
        }
      }
      ojson b = ojson::object();
      b["type"] = "tool_use";
      b["id"] = *id;
      b["name"] = *name;
      b["input"] = std::move(input);
      blocks.push_back(std::move(b));
    }
  }
  return std::nullopt;
}

std::optional<ApiError> convertMessages(const ojson& messages, Conversation& c) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const ojson& m = messages[i];
    std::string param = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return badType(param, "an object");
    const ojson* role = member(m, "role");
    if (!role) return missing(param + ".role");
    if (!role->is_string()) return badType(param + ".role", "a string");
    const std::string& r = role->get_ref<const std::string&>();
    const ojson* content = member(m, "content");
    ojson blocks = ojson::array();
    const char* anthropicRole = "user";
    if (r == "system" || r == "developer") {
      if (!content) return missing(param + ".content");
      if (auto err = convertContent(*content, param + ".content", blocks)) return err;
      for (auto& b : blocks)
        if (b["type"] != "text")
          return badRequest("System messages may contain text only.", param + ".content");
      if (blocks.empty()) continue;
      copyCacheControl(m, blocks.back());
      for (auto& b : blocks) c.system.push_back(std::move(b));
      continue;
    } else if (r == "user") {
      if (!content) return missing(param + ".content");
      if (auto err = convertContent(*content, param + ".content", blocks)) return err;
    } else if (r == "assistant") {
      anthropicRole = "assistant";
      if (auto err = convertAssistant(m, param, blocks)) return err;
    } else if (r == "tool") {
      const ojson* id = member(m, "tool_call_id");
      if (!id) return missing(param + ".tool_call_id");
      if (!id->is_string()) return badType(param + ".tool_call_id", "a string");
      ojson result = ojson::object();
      result["type"] = "tool_result";
      result["tool_use_id"] = *id;
      if (!content) {
        result["content"] = "";
      } else if (content->is_string()) {
        result["content"] = *content;
      } else {
        ojson parts = ojson::array();
        if (auto err = convertContent(*content, param + ".content", parts)) return err;
        result["content"] = std::move(parts);
      }
      blocks.push_back(std::move(result));
    } else if (r == "function") {
      return unsupported("The legacy 'function' role", param + ".role");
    } else {
      return badRequest("Invalid value for '" + param + ".role': '" + r + "'.", param + ".role");
    }
    if (!blocks.empty()) copyCacheControl(m, blocks.back());
    appendTurn(c, anthropicRole, std::move(blocks));
  }
  for (auto& m : c.messages) {
    if (m["role"] != "user") continue;
    // Tool results come first in a user turn.
    ojson& content = m["content"];
    std::stable_partition(content.begin(), content.end(),
                          [](const ojson& b) { return b["type"] == "tool_result"; });
  }
  // Anthropic rejects a final assistant turn (a prefill) ending in whitespace.
  if (!c.messages.empty() && c.messages.back()["role"] == "assistant") {
    ojson& content = c.messages.back()["content"];
    ojson& last = content.back();
    if (last["type"] == "text") {
      std::string text = last["text"].get<std::string>();
      text.erase(text.find_last_not_of(" \t\r\n") + 1);
      if (text.empty())
        content.erase(content.size() - 1);
      else
        last["text"] = text;
      if (content.empty()) c.messages.erase(c.messages.size() - 1);
    }
  }
  return std::nullopt;
}

std::optional<ApiError> convertTools(const ojson& tools, ojson& out) {
  if (!tools.is_array()) return badType("tools", "an array");
  for (size_t i = 0; i < tools.size(); ++i) {
    const ojson& tool = tools[i];
    std::string param = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) return badType(param, "an object");
    const ojson* type = member(tool, "type");
    if (type && *type != "function")
      return unsupported("Tool type " + dumpJson(*type), param + ".type");
    const ojson* fn = member(tool, "function");
    if (!fn || !fn->is_object()) return missing(param + ".function");
    const ojson* name = member(*fn, "name");
    if (!name || !name->is_string()) return missing(param + ".function.name");
    ojson t = ojson::object();
    t["name"] = *name;
    if (const ojson* d = member(*fn, "description"); d && d->is_string()) t["description"] = *d;
    ojson schema = ojson::object();
    if (const ojson* p = member(*fn, "parameters"); p && p->is_object()) schema = *p;
    if (!schema.contains("type")) schema["type"] = "object";
    if (!schema.contains("properties") && schema["type"] == "object")
      schema["properties"] = ojson::object();
    t["input_schema"] = std::move(schema);
    copyCacheControl(tool, t);
    out.push_back(std::move(t));
  }
  return std::nullopt;
}

std::optional<ApiError> convertToolChoice(const ojson& in, ojson& choice) {
  const ojson* tc = member(in, "tool_choice");
  if (tc && tc->is_string()) {
    const std::string& s = tc->get_ref<const std::string&>();
    const char* type = s == "auto"       ? "auto"
                       : s == "required" ? "any"
                       : s == "none"     ? "none"
                                         : nullptr;
    if (!type) return badRequest("Invalid value for 'tool_choice': '" + s + "'.", "tool_choice");
    choice = ojson::object();
    choice["type"] = type;
  } else if (tc && tc->is_object()) {
    const ojson* fn = member(*tc, "function");
    const ojson* name = fn && fn->is_object() ? member(*fn, "name") : nullptr;
    if (!name || !name->is_string()) return missing("tool_choice.function.name");
    choice = ojson::object();
    choice["type"] = "tool";
    choice["name"] = *name;
  } else if (tc) {
    return badType("tool_choice", "a string or an object");
  }
  const ojson* parallel = member(in, "parallel_tool_calls");
  if (parallel && *parallel == false) {
    if (choice.is_null()) choice = ojson{{"type", "auto"}};
    if (choice["type"] != "none") choice["disable_parallel_tool_use"] = true;
  }
  return std::nullopt;
}

std::optional<ApiError> thinkingFor(const ojson& in, ojson& thinking) {
  if (const ojson* t = member(in, "thinking")) {
    if (!t->is_object()) return badType("thinking", "an object");
    thinking = *t;
    return std::nullopt;
  }
  const ojson* effort = member(in, "reasoning_effort");
  std::string param = "reasoning_effort";
  if (!effort) {
    if (const ojson* r = member(in, "reasoning"); r && r->is_object()) {
      effort = member(*r, "effort");
      param = "reasoning.effort";
    }
  }
  if (!effort) return std::nullopt;
  if (!effort->is_string()) return badType(param, "a string");
  const std::string& e = effort->get_ref<const std::string&>();
  int64_t budget = e == "minimal" || e == "low" ? 1024
                   : e == "medium"              ? 4096
                   : e == "high"                ? 16384
                   : e == "xhigh"               ? 32768
                                                : 0;
  if (e == "none") return std::nullopt;
  if (budget == 0) return badRequest("Invalid value for '" + param + "': '" + e + "'.", param);
  thinking = ojson::object();
  thinking["type"] = "enabled";
  thinking["budget_tokens"] = budget;
  return std::nullopt;
}

// ---- Responses.

// Raw Anthropic usage counts, merged from message_start and message_delta.
void fillOpenAIUsage(const Usage& u, ojson& out) {
  out = ojson::object();
  out["prompt_tokens"] = u.promptTokens;
  out["completion_tokens"] = u.completionTokens;
  out["total_tokens"] = u.promptTokens + u.completionTokens;
  out["prompt_tokens_details"] = ojson{{"cached_tokens", u.cachedTokens}};
  out["completion_tokens_details"] = ojson{{"reasoning_tokens", 0}};
}

class OpenAIToAnthropic final : public Translator {
 public:
  OpenAIToAnthropic(std::string clientModel, const Target& target)
      : clientModel_(std::move(clientModel)), target_(target) {
    id_ = "chatcmpl-" + randomId(24);
    created_ = static_cast<int64_t>(std::time(nullptr));
  }

  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    try {
      return build(request, upstreamModel, out);
    } catch (const std::exception& e) {
      return badRequest(std::string("The request could not be translated: ") + e.what(), "");
    }
  }

  std::string translateResponse(std::string_view upstreamBody) override {
    try {
      return translate(upstreamBody);
    } catch (const std::exception& e) {
      return errorBody(apiError(502, "server_error", "upstream_error",
                                std::string("unreadable upstream response: ") + e.what()));
    }
  }

  void onStreamEvent(const sse::Event& event, std::string& out) override {
    if (done_ || sawError_) return;
    try {
      streamEvent(event, out);
    } catch (const std::exception& e) {
      sawError_ = true;
      out.append(renderStreamError(
          Dialect::kOpenAI, apiError(502, "server_error", "upstream_error",
                                     std::string("unreadable upstream event: ") + e.what())));
    }
  }

  bool onStreamEnd(std::string& out) override {
    if (done_) return true;
    if (!sawError_)
      out.append(renderStreamError(Dialect::kOpenAI,
                                   apiError(502, "server_error", "upstream_error",
                                            "the upstream stream ended before it was complete")));
    return false;
  }

  ApiError upstreamError(int status, std::string_view body) override {
    return anthropicUpstreamError(status, body);
  }

 private:
  std::optional<ApiError> build(const ClientRequest& request, std::string_view upstreamModel,
                                UpstreamCall& out) {
    ojson in = parseUntrusted<ojson>(request.body);
    if (!in.is_object()) return badRequest("The request body must be a JSON object.", "");

    if (const ojson* n = member(in, "n"); n && n->is_number() && n->get<double>() > 1)
      return unsupported("n > 1", "n");
    if (member(in, "functions") || member(in, "function_call"))
      return unsupported("The legacy 'functions' parameter (use 'tools')", "functions");

    int64_t maxTokens = target_.defaultMaxTokens;
    for (const char* key : {"max_tokens", "max_completion_tokens"}) {
      const ojson* v = member(in, key);
      if (!v) continue;
      if (!v->is_number_integer() || v->get<int64_t>() < 1)
        return badRequest(
            std::string("Invalid value for '") + key + "': expected a positive integer.", key);
      maxTokens = v->get<int64_t>();
    }

    const ojson* messages = member(in, "messages");
    if (!messages) return missing("messages");
    if (!messages->is_array()) return badType("messages", "an array");
    Conversation conv;
    if (auto err = convertMessages(*messages, conv)) return err;

    ojson tools = ojson::array();
    if (const ojson* t = member(in, "tools"))
      if (auto err = convertTools(*t, tools)) return err;
    ojson toolChoice;
    if (auto err = convertToolChoice(in, toolChoice)) return err;

    ojson thinking;
    if (auto err = thinkingFor(in, thinking)) return err;
    bool thinkingOn = thinking.is_object() && thinking.value("type", "") != "disabled";
    if (thinkingOn) {
      auto budget = thinking.find("budget_tokens");
      if (budget != thinking.end() && budget->is_number_integer() &&
          maxTokens <= budget->get<int64_t>()) {
        // Saturating: absurd values go to Anthropic, which refuses them, not to overflow.
        const int64_t b = budget->get<int64_t>();
        maxTokens = b > INT64_MAX - maxTokens ? INT64_MAX : maxTokens + b;
      }
    }

    ojson body = ojson::object();
    if (target_.vertex)
      body["anthropic_version"] = "vertex-2023-10-16";
    else
      body["model"] = upstreamModel;
    body["max_tokens"] = maxTokens;
    if (!conv.system.empty()) body["system"] = std::move(conv.system);
    body["messages"] = std::move(conv.messages);
    if (!tools.empty()) {
      body["tools"] = std::move(tools);
      if (!toolChoice.is_null()) body["tool_choice"] = std::move(toolChoice);
    }
    if (const ojson* stop = member(in, "stop")) {
      ojson seqs = ojson::array();
      if (stop->is_string())
        seqs.push_back(*stop);
      else if (stop->is_array())
        seqs = *stop;
      else
        return badType("stop", "a string or an array of strings");
      for (const auto& s : seqs)
        if (!s.is_string()) return badType("stop", "a string or an array of strings");
      if (!seqs.empty()) body["stop_sequences"] = std::move(seqs);
    }
    if (!thinkingOn) {
      if (const ojson* t = member(in, "temperature")) {
        if (!t->is_number()) return badType("temperature", "a number");
        body["temperature"] = std::clamp(t->get<double>(), 0.0, 1.0);
      }
      for (const char* key : {"top_p", "top_k"}) {
        if (const ojson* v = member(in, key)) {
          if (!v->is_number()) return badType(key, "a number");
          body[key] = *v;
        }
      }
    }
    if (const ojson* user = member(in, "user");
        user && user->is_string() && !user->get_ref<const std::string&>().empty())
      body["metadata"] = ojson{{"user_id", *user}};
    if (thinking.is_object()) body["thinking"] = std::move(thinking);

    stream_ = request.stream;
    if (const ojson* s = member(in, "stream"); s && *s == true) stream_ = true;
    if (stream_) body["stream"] = true;
    if (const ojson* opts = member(in, "stream_options"); opts && opts->is_object())
      clientWantsUsage_ = opts->value("include_usage", false) == true;

    std::string model(upstreamModel);
    out.path = target_.vertex ? "/publishers/anthropic/models/" + model +
                                    (stream_ ? ":streamRawPredict" : ":rawPredict")
                              : "/messages";
    out.body = dumpJson(body);
    if (!request.anthropicBeta.empty())
      out.headers.emplace_back("anthropic-beta", std::string(request.anthropicBeta));
    return std::nullopt;
  }

  std::string translate(std::string_view upstreamBody) {
    json in = parseUntrusted<json>(upstreamBody);
    if (!in.is_object())
      return errorBody(apiError(502, "server_error", "upstream_error",
                                "the upstream returned a response that is not a JSON object"));
    if (auto u = in.find("usage"); u != in.end()) parseAnthropicUsage(*u, usage_);

    std::string text, reasoning;
    bool hasText = false;
    ojson toolCalls = ojson::array();
    ojson thinkingBlocks = ojson::array();
    if (auto content = in.find("content"); content != in.end() && content->is_array()) {
      for (const auto& b : *content) {
        if (!b.is_object()) continue;
        std::string type = b.value("type", "");
        if (type == "text") {
          text += b.value("text", "");
          hasText = true;
        } else if (type == "thinking" || type == "redacted_thinking") {
          if (type == "thinking") reasoning += b.value("thinking", "");
          thinkingBlocks.push_back(ojson::parse(b.dump()));
        } else if (type == "tool_use") {
          ojson call = ojson::object();
          call["id"] = b.value("id", "");
          call["type"] = "function";
          ojson fn = ojson::object();
          fn["name"] = b.value("name", "");
          auto input = b.find("input");
          fn["arguments"] = input != b.end() ? dumpJson(*input) : std::string("{}");
          call["function"] = std::move(fn);
          toolCalls.push_back(std::move(call));
        }
      }
    }
    ojson message = ojson::object();
    message["role"] = "assistant";
    message["content"] = hasText ? ojson(text) : ojson(nullptr);
    message["refusal"] = nullptr;
    if (!toolCalls.empty()) message["tool_calls"] = std::move(toolCalls);
    if (!thinkingBlocks.empty()) {
      message["reasoning_content"] = reasoning;
      message["thinking_blocks"] = std::move(thinkingBlocks);
    }
    std::string stopReason;
    if (auto s = in.find("stop_reason"); s != in.end() && s->is_string()) stopReason = *s;

    ojson choice = ojson::object();
    choice["index"] = 0;
    choice["message"] = std::move(message);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finishReason(stopReason);

    ojson outJson = ojson::object();
    auto id = in.find("id");
    outJson["id"] = id != in.end() && id->is_string() ? "chatcmpl-" + id->get<std::string>() : id_;
    outJson["object"] = "chat.completion";
    outJson["created"] = created_;
    outJson["model"] = clientModel_;
    outJson["system_fingerprint"] = nullptr;
    outJson["choices"] = ojson::array({std::move(choice)});
    if (usage_.known) fillOpenAIUsage(usage_, outJson["usage"]);
    return dumpJson(outJson);
  }

  void streamEvent(const sse::Event& event, std::string& out) {
    json data = parseUntrusted<json>(event.data);
    std::string type = event.event;
    if (data.is_object() && data.contains("type") && data["type"].is_string())
      type = data["type"].get<std::string>();
    if (type == "ping") return;
    if (type == "error") {
      sawError_ = true;
      std::string errorType;
      if (data.is_object() && data.contains("error") && data["error"].is_object())
        errorType = data["error"].value("type", "");
      out.append(renderStreamError(
          Dialect::kOpenAI, anthropicUpstreamError(statusForAnthropicType(errorType), event.data)));
      return;
    }
    if (!data.is_object()) return;

    if (type == "message_start") {
      if (auto m = data.find("message"); m != data.end() && m->is_object()) {
        if (auto id = m->find("id"); id != m->end() && id->is_string() && !started_)
          id_ = "chatcmpl-" + id->get<std::string>();
        if (auto u = m->find("usage"); u != m->end()) parseAnthropicUsage(*u, usage_);
      }
      start(out);
    } else if (type == "content_block_start") {
      start(out);
      auto block = data.find("content_block");
      if (block == data.end() || !block->is_object()) return;
      std::string blockType = block->value("type", "");
      if (blockType == "tool_use") {
        int64_t index = intOr(data, "index", -1);
        int64_t toolIndex = nextToolIndex_++;
        toolIndexes_.emplace_back(index, toolIndex);
        ojson fn = ojson::object();
        fn["name"] = block->value("name", "");
        fn["arguments"] = "";
        ojson call = ojson::object();
        call["index"] = toolIndex;
        call["id"] = block->value("id", "");
        call["type"] = "function";
        call["function"] = std::move(fn);
        ojson delta = ojson::object();
        delta["tool_calls"] = ojson::array({std::move(call)});
        emitChunk(out, std::move(delta), nullptr);
        ++contentChunks_;
      } else if (blockType == "text") {
        std::string text = block->value("text", "");
        if (!text.empty()) emitContent(out, "content", text);
      } else if (blockType == "thinking") {
        std::string text = block->value("thinking", "");
        if (!text.empty()) emitContent(out, "reasoning_content", text);
      }
    } else if (type == "content_block_delta") {
      start(out);
      auto delta = data.find("delta");
      if (delta == data.end() || !delta->is_object()) return;
      std::string deltaType = delta->value("type", "");
      if (deltaType == "text_delta") {
        std::string text = delta->value("text", "");
        if (!text.empty()) emitContent(out, "content", text);
      } else if (deltaType == "thinking_delta") {
        std::string text = delta->value("thinking", "");
        if (!text.empty()) emitContent(out, "reasoning_content", text);
      } else if (deltaType == "input_json_delta") {
        std::string partial = delta->value("partial_json", "");
        int64_t index = intOr(data, "index", -1);
        auto it = std::find_if(toolIndexes_.begin(), toolIndexes_.end(),
                               [&](const auto& p) { return p.first == index; });
        if (partial.empty() || it == toolIndexes_.end()) return;
        ojson call = ojson::object();
        call["index"] = it->second;
        call["function"] = ojson{{"arguments", partial}};
        ojson d = ojson::object();
        d["tool_calls"] = ojson::array({std::move(call)});
        emitChunk(out, std::move(d), nullptr);
        ++contentChunks_;
      }
      // signature_delta and citations_delta have no OpenAI equivalent.
    } else if (type == "message_delta") {
      start(out);
      if (auto u = data.find("usage"); u != data.end()) parseAnthropicUsage(*u, usage_);
      auto delta = data.find("delta");
      if (delta != data.end() && delta->is_object()) {
        auto reason = delta->find("stop_reason");
        if (reason != delta->end() && reason->is_string())
          finish(out, finishReason(reason->get_ref<const std::string&>()));
      }
    } else if (type == "message_stop") {
      start(out);
      finish(out, "stop");
      if (clientWantsUsage_ && usage_.known) {
        ojson chunk = chunkHeader();
        chunk["choices"] = ojson::array();
        fillOpenAIUsage(usage_, chunk["usage"]);
        appendData(out, dumpJson(chunk));
      }
      out.append("data: [DONE]\n\n");
      done_ = true;
    }
    // content_block_stop and unknown events carry nothing for an OpenAI client.
  }

  ojson chunkHeader() const {
    ojson c = ojson::object();
    c["id"] = id_;
    c["object"] = "chat.completion.chunk";
    c["created"] = created_;
    c["model"] = clientModel_;
    c["system_fingerprint"] = nullptr;
    return c;
  }

  static void appendData(std::string& out, const std::string& data) {
    out.append("data: ");
    out.append(data);
    out.append("\n\n");
  }

  void emitChunk(std::string& out, ojson delta, ojson finishReason) {
    ojson choice = ojson::object();
    choice["index"] = 0;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = std::move(finishReason);
    ojson chunk = chunkHeader();
    chunk["choices"] = ojson::array({std::move(choice)});
    if (clientWantsUsage_) chunk["usage"] = nullptr;
    appendData(out, dumpJson(chunk));
  }

  void emitContent(std::string& out, const char* key, const std::string& text) {
    ojson delta = ojson::object();
    delta[key] = text;
    emitChunk(out, std::move(delta), nullptr);
    ++contentChunks_;
  }

  // The first chunk: the role (OpenAI's stream helpers require it).
  void start(std::string& out) {
    if (started_) return;
    started_ = true;
    ojson delta = ojson::object();
    delta["role"] = "assistant";
    delta["content"] = "";
    emitChunk(out, std::move(delta), nullptr);
  }

  void finish(std::string& out, const std::string& reason) {
    if (finished_) return;
    finished_ = true;
    emitChunk(out, ojson::object(), reason);
  }

  std::string clientModel_;
  Target target_;
  std::string id_;
  int64_t created_ = 0;
  bool stream_ = false;
  bool clientWantsUsage_ = false;
  bool started_ = false;
  bool finished_ = false;
  bool done_ = false;
  bool sawError_ = false;
  // (Anthropic block index, OpenAI tool-call index) for each tool_use block.
  std::vector<std::pair<int64_t, int64_t>> toolIndexes_;
  int64_t nextToolIndex_ = 0;
};

}  // namespace

std::unique_ptr<Translator> makeOpenAIToAnthropic(std::string clientModel, const Target& target) {
  return std::make_unique<OpenAIToAnthropic>(std::move(clientModel), target);
}

void parseAnthropicUsage(const nlohmann::json& usage, Usage& out) {
  if (!usage.is_object()) return;
  bool any = false;
  for (const char* key : {"input_tokens", "output_tokens", "cache_read_input_tokens",
                          "cache_creation_input_tokens"}) {
    auto it = usage.find(key);
    if (it != usage.end() && it->is_number()) any = true;
  }
  if (!any) return;
  // Fields missing here keep their earlier value (message_delta may carry only output).
  // Counts are clamped to [0, kMaxTokenCount] (json_util.h).
  auto countOr = [&](const char* key, int64_t fallback) {
    auto it = usage.find(key);
    return it == usage.end() ? fallback : tokenCount(*it, fallback);
  };
  int64_t input =
      countOr("input_tokens", out.promptTokens - out.cachedTokens - out.cacheWriteTokens);
  int64_t cacheRead = countOr("cache_read_input_tokens", out.cachedTokens);
  int64_t cacheWrite = countOr("cache_creation_input_tokens", out.cacheWriteTokens);
  out.completionTokens = countOr("output_tokens", out.completionTokens);
  out.promptTokens = input + cacheRead + cacheWrite;
  out.cachedTokens = cacheRead;
  out.cacheWriteTokens = cacheWrite;
  out.known = true;
}

ApiError anthropicUpstreamError(int status, std::string_view body) {
  std::string upstreamType, message;
  json j = parseUntrusted<json>(body);
  // Vertex sometimes wraps its errors in an array.
  if (j.is_array() && !j.empty()) j = j[0];
  if (j.is_object()) {
    const json* err = &j;
    if (auto e = j.find("error"); e != j.end() && e->is_object()) err = &*e;
    if (auto t = err->find("type"); t != err->end() && t->is_string()) upstreamType = *t;
    if (auto m = err->find("message"); m != err->end() && m->is_string()) message = *m;
    if (upstreamType.empty())
      if (auto s = err->find("status"); s != err->end() && s->is_string()) upstreamType = *s;
  }
  if (message.empty()) {
    std::string text(body.substr(0, 2000));
    message = "upstream returned HTTP " + std::to_string(status);
    if (!text.empty()) message += ": " + text;
  }
  ApiError e = apiError(status, "invalid_request_error", upstreamType, message);
  if (status == 529 || upstreamType == "overloaded_error") {
    e.status = 503;
    e.type = "server_error";
    e.code = "overloaded";
  } else if (status >= 500) {
    e.type = "server_error";
    if (e.code.empty()) e.code = "upstream_error";
  } else if (status == 429) {
    e.type = "rate_limit_error";
    e.code = "rate_limit_exceeded";
  } else if (status == 401) {
    e.type = "authentication_error";
  } else if (status == 403) {
    e.type = "permission_error";
  } else if (status == 404) {
    e.code = message.rfind("model:", 0) == 0 ? "model_not_found" : upstreamType;
  } else if (status == 413) {
    e.code = "request_too_large";
  } else if (upstreamType == "invalid_request_error") {
    e.code.clear();  // OpenAI's plain 400s have a null code
  }
  return e;
}

}  // namespace finops::dp
