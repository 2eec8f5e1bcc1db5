// The Anthropic client side (/anthropic/v1/messages): a front that turns an Anthropic
// request into OpenAI chat for any other upstream (and the answer back), and the
// passthrough to Anthropic upstreams.
//
// What happens to each Anthropic request parameter on its way to OpenAI chat
// (docs/providers.md copies this table):
//
// | Anthropic                             | OpenAI chat                                        |
// |---------------------------------------|----------------------------------------------------|
// | system (string or text blocks)        | a system message (blocks joined with "\n")         |
// | messages role "system" (SDK 1.x)      | a system message, where it stands                  |
// | text blocks                           | content (a string when there is one text block)    |
// | image blocks (base64 / url)           | image_url parts (data: URL / the URL)              |
// | document blocks (base64 / text)       | file parts (file_data data: URL) / text parts      |
// | tool_use (assistant)                  | tool_calls, input serialised into arguments        |
// | tool_result (user)                    | role "tool" messages before the rest of the turn;  |
// |                                       | text joined, images moved to the user message      |
// | thinking, redacted_thinking           | dropped (only Anthropic can read them back)        |
// | cache_control                         | dropped                                            |
// | max_tokens (required)                 | max_tokens                                         |
// | stop_sequences                        | stop                                               |
// | temperature, top_p                    | temperature, top_p                                 |
// | top_k                                 | dropped                                            |
// | tools (client tools)                  | function tools (input_schema -> parameters)        |
// | tools (server tools, e.g. web_search) | 400                                                |
// | tool_choice auto/any/tool/none        | auto/required/named/none                           |
// | tool_choice.disable_parallel_tool_use | parallel_tool_calls: false                         |
// | metadata.user_id                      | user                                               |
// | stream                                | stream                                             |
// | thinking                              | dropped (a reasoning_effort could break models     |
// |                                       | that do not reason)                                |
// | service_tier, container, mcp_servers, | dropped                                            |
// | context_management                    |                                                    |
#include <map>
#include <random>

#include "dataplane/translate/anthropic.h"
#include "dataplane/translate/json_util.h"

namespace finops::dp {
namespace {

using json = nlohmann::ordered_json;  // keeps member order (tool schemas)
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

// Anthropic's own validation messages look like "max_tokens: Field required".
ApiError invalid(const std::string& param, const std::string& what) {
  return apiError(400, "invalid_request_error", "", param + ": " + what, param);
}

void appendEvent(std::string& out, std::string_view name, std::string_view data) {
  out.append("event: ");
  out.append(name);
  out.append("\ndata: ");
  for (size_t nl; (nl = data.find('\n')) != std::string_view::npos; data.remove_prefix(nl + 1)) {
    out.append(data.substr(0, nl));
    out.append("\ndata: ");
  }
  out.append(data);
  out.append("\n\n");
}

// ---- Anthropic request -> OpenAI chat request.

std::optional<ApiError> imagePart(const json& block, const std::string& param, json& part) {
  const json* source = member(block, "source");
  if (!source || !source->is_object()) return invalid(param + ".source", "Field required");
  std::string type = source->value("type", "");
  std::string url;
  if (type == "base64") {
    const json* data = member(*source, "data");
    const json* media = member(*source, "media_type");
    if (!data || !data->is_string()) return invalid(param + ".source.data", "Field required");
    if (!media || !media->is_string())
      return invalid(param + ".source.media_type", "Field required");
    url = "data:" + media->get<std::string>() + ";base64," + data->get<std::string>();
  } else if (type == "url") {
    const json* u = member(*source, "url");
    if (!u || !u->is_string()) return invalid(param + ".source.url", "Field required");
    url = u->get<std::string>();
  } else {
    return invalid(param + ".source.type",
                   "image source '" + type + "' is not supported for this provider");
  }
  part = json{{"type", "image_url"}, {"image_url", {{"url", url}}}};
  return std::nullopt;
}

std::optional<ApiError> documentPart(const json& block, const std::string& param, json& part) {
  const json* source = member(block, "source");
  if (!source || !source->is_object()) return invalid(param + ".source", "Field required");
  std::string type = source->value("type", "");
  if (type == "text") {
    part = json{{"type", "text"}, {"text", source->value("data", "")}};
    return std::nullopt;
  }
  if (type != "base64")
    return invalid(param + ".source.type",
                   "document source '" + type + "' is not supported for this provider");
  std::string media = source->value("media_type", "application/pdf");
  json file = {{"file_data", "data:" + media + ";base64," + source->value("data", "")}};
  if (const json* title = member(block, "title"); title && title->is_string())
    file["filename"] = *title;
  part = json{{"type", "file"}, {"file", std::move(file)}};
  return std::nullopt;
}

// A tool_result's content -> the tool message's text; images go to `images`.
std::optional<ApiError> toolResultText(const json& block, const std::string& param,
                                       std::string& text, json& images) {
  const json* content = member(block, "content");
  if (!content) return std::nullopt;
  if (content->is_string()) {
    text = content->get<std::string>();
    return std::nullopt;
  }
  if (!content->is_array()) return invalid(param + ".content", "Input should be a valid list");
  for (size_t i = 0; i < content->size(); ++i) {
    const json& b = (*content)[i];
    std::string p = param + ".content." + std::to_string(i);
    std::string type = b.is_object() ? b.value("type", "") : "";
    if (type == "text") {
      if (!text.empty()) text += "\n";
      text += b.value("text", "");
    } else if (type == "image") {
      json part;
      if (auto err = imagePart(b, p, part)) return err;
      images.push_back(std::move(part));
    } else if (type == "document") {
      json part;
      if (auto err = documentPart(b, p, part)) return err;
      images.push_back(std::move(part));
    } else {
      return invalid(p + ".type",
                     "content block type '" + type + "' is not supported for this provider");
    }
  }
  return std::nullopt;
}

// Text parts only: one string; otherwise the parts.
json contentOf(json parts) {
  if (parts.size() == 1 && parts[0]["type"] == "text") return parts[0]["text"];
  return parts;
}

std::optional<ApiError> convertMessage(const json& m, size_t index, json& out) {
  std::string param = "messages." + std::to_string(index);
  if (!m.is_object()) return invalid(param, "Input should be a valid dictionary");
  const json* role = member(m, "role");
  if (!role) return invalid(param + ".role", "Field required");
  if (!role->is_string()) return invalid(param + ".role", "Input should be a valid string");
  std::string r = role->get<std::string>();
  if (r != "user" && r != "assistant" && r != "system")
    return invalid(param + ".role", "Input should be 'user' or 'assistant'");
  const json* content = member(m, "content");
  if (!content) return invalid(param + ".content", "Field required");

  json blocks = json::array();
  if (content->is_string())
    blocks.push_back(json{{"type", "text"}, {"text", *content}});
  else if (content->is_array())
    blocks = *content;
  else
    return invalid(param + ".content", "Input should be a valid list");

  json parts = json::array();         // user/system content parts
  json toolMessages = json::array();  // role "tool", before the rest of a user turn
  json toolCalls = json::array();
  std::string assistantText;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const json& b = blocks[i];
    std::string p = param + ".content." + std::to_string(i);
    if (!b.is_object()) return invalid(p, "Input should be a valid dictionary");
    const json* typeMember = member(b, "type");
    if (!typeMember || !typeMember->is_string()) return invalid(p + ".type", "Field required");
    std::string type = typeMember->get<std::string>();
    if (type == "text") {
      const json* text = member(b, "text");
      if (!text || !text->is_string()) return invalid(p + ".text", "Field required");
      if (r == "assistant")
        assistantText += text->get<std::string>();
      else
        parts.push_back(json{{"type", "text"}, {"text", *text}});
    } else if (type == "image" && r != "assistant") {
      json part;
      if (auto err = imagePart(b, p, part)) return err;
      parts.push_back(std::move(part));
    } else if (type == "document" && r == "user") {
      json part;
      if (auto err = documentPart(b, p, part)) return err;
      parts.push_back(std::move(part));
    } else if (type == "tool_use" && r == "assistant") {
      const json* id = member(b, "id");
      const json* name = member(b, "name");
      if (!id || !id->is_string()) return invalid(p + ".id", "Field required");
      if (!name || !name->is_string()) return invalid(p + ".name", "Field required");
      const json* input = member(b, "input");
      toolCalls.push_back(
          json{{"id", *id},
               {"type", "function"},
               {"function",
                {{"name", *name}, {"arguments", input ? dumpJson(*input) : std::string("{}")}}}});
    } else if (type == "tool_result" && r == "user") {
      const json* id = member(b, "tool_use_id");
      if (!id || !id->is_string()) return invalid(p + ".tool_use_id", "Field required");
      std::string text;
      if (auto err = toolResultText(b, p, text, parts)) return err;
      toolMessages.push_back(json{{"role", "tool"}, {"tool_call_id", *id}, {"content", text}});
    } else if ((type == "thinking" || type == "redacted_thinking") && r == "assistant") {
      continue;  // only Anthropic can verify them
    } else {
      return invalid(p + ".type", "content block type '" + type + "' is not supported in a " + r +
                                      " message for this provider");
    }
  }

  if (r == "assistant") {
    if (assistantText.empty() && toolCalls.empty()) return std::nullopt;  // only thinking
    json msg = {{"role", "assistant"}};
    msg["content"] =
        assistantText.empty() && !toolCalls.empty() ? json(nullptr) : json(assistantText);
    if (!toolCalls.empty()) msg["tool_calls"] = std::move(toolCalls);
    out.push_back(std::move(msg));
    return std::nullopt;
  }
  if (r == "system") {
    std::string text;
    for (const auto& part : parts) {
      if (part["type"] != "text")
        return invalid(param + ".content", "a system message may contain text only");
      if (!text.empty()) text += "\n";
      text += part["text"].get<std::string>();
    }
    out.push_back(json{{"role", "system"}, {"content", text}});
    return std::nullopt;
  }
  for (auto& t : toolMessages) out.push_back(std::move(t));
  if (!parts.empty()) out.push_back(json{{"role", "user"}, {"content", contentOf(parts)}});
  return std::nullopt;
}

std::optional<ApiError> convertTools(const json& tools, json& out) {
  if (!tools.is_array()) return invalid("tools", "Input should be a valid list");
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    std::string param = "tools." + std::to_string(i);
    if (!t.is_object()) return invalid(param, "Input should be a valid dictionary");
    if (const json* type = member(t, "type"); type && *type != "custom")
      return apiError(
          400, "invalid_request_error", "unsupported_parameter",
          param + ".type: tool type " + dumpJson(*type) + " is not supported for this provider",
          param + ".type");
    const json* name = member(t, "name");
    if (!name || !name->is_string()) return invalid(param + ".name", "Field required");
    json fn = {{"name", *name}};
    if (const json* d = member(t, "description"); d && d->is_string()) fn["description"] = *d;
    const json* schema = member(t, "input_schema");
    if (!schema || !schema->is_object()) return invalid(param + ".input_schema", "Field required");
    fn["parameters"] = *schema;
    out.push_back(json{{"type", "function"}, {"function", std::move(fn)}});
  }
  return std::nullopt;
}

std::string stopReasonFor(std::string_view finishReason) {
  if (finishReason == "length") return "max_tokens";
  if (finishReason == "tool_calls" || finishReason == "function_call") return "tool_use";
  if (finishReason == "content_filter") return "refusal";
  return "end_turn";
}

// Usage as Anthropic reports it: input excludes cache reads and writes.
ojson anthropicUsage(const Usage& u) {
  ojson j = ojson::object();
  j["input_tokens"] = u.promptTokens - u.cachedTokens - u.cacheWriteTokens;
  j["output_tokens"] = u.completionTokens;
  j["cache_creation_input_tokens"] = u.cacheWriteTokens;
  j["cache_read_input_tokens"] = u.cachedTokens;
  return j;
}

ApiError incompleteStream() {
  return apiError(502, "server_error", "upstream_error",
                  "the upstream stream ended before it was complete");
}

// ---- The front: Anthropic client, any other upstream.

class AnthropicFront final : public Translator {
 public:
  AnthropicFront(std::string clientModel, std::unique_ptr<Translator> inner)
      : clientModel_(std::move(clientModel)), inner_(std::move(inner)) {
    messageId_ = "msg_" + randomId(24);
  }

  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    try {
      json in = parseUntrusted<json>(request.body);
      if (!in.is_object())
        return apiError(400, "invalid_request_error", "",
                        "The request body must be a JSON object.");
      json oai;
      if (auto err = anthropicRequestToOpenAI(in, oai)) return err;
      oai["model"] = clientModel_;
      if (const json* t = member(in, "thinking"); t && t->is_object())
        thinkingRequested_ = t->value("type", "") != "disabled";
      bool stream = request.stream || (oai.contains("stream") && oai["stream"] == true);
      requestText_ = dumpJson(oai);
      requestScan_ = json_scan::scan(requestText_);
      if (!requestScan_.ok)
        return apiError(400, "invalid_request_error", "", "The request could not be translated.");
      return inner_->buildRequest(
          ClientRequest{requestText_, requestScan_, stream, request.anthropicBeta}, upstreamModel,
          out);
    } catch (const std::exception& e) {
      return apiError(400, "invalid_request_error", "",
                      std::string("The request could not be translated: ") + e.what());
    }
  }

  std::string translateResponse(std::string_view upstreamBody) override {
    std::string openai = inner_->translateResponse(upstreamBody);
    try {
      return translate(openai);
    } catch (const std::exception& e) {
      return renderError(Dialect::kAnthropic,
                         apiError(502, "server_error", "upstream_error",
                                  std::string("unreadable upstream response: ") + e.what()));
    }
  }

  void onStreamEvent(const sse::Event& event, std::string& out) override {
    std::string openai;
    inner_->onStreamEvent(event, openai);
    relay(openai, out);
  }

  bool onStreamEnd(std::string& out) override {
    std::string openai;
    bool ok = inner_->onStreamEnd(openai);
    relay(openai, out);
    if (done_ && ok) return true;
    if (!errored_) {
      errored_ = true;
      out.append(renderStreamError(Dialect::kAnthropic, incompleteStream()));
    }
    return false;
  }

  ApiError upstreamError(int status, std::string_view body) override {
    return inner_->upstreamError(status, body);
  }
  const Usage& usage() const override { return inner_->usage(); }
  int64_t contentChunks() const override { return inner_->contentChunks(); }

 private:
  std::string translate(const std::string& openai) {
    json in = parseUntrusted<json>(openai);
    if (!in.is_object())
      return renderError(Dialect::kAnthropic,
                         apiError(502, "server_error", "upstream_error",
                                  "the upstream returned a response that is not a JSON object"));
    if (in.contains("error")) return renderError(Dialect::kAnthropic, apiErrorFromOpenAI(in));
    json message = json::object();
    std::string finish;
    if (auto c = in.find("choices");
        c != in.end() && c->is_array() && !c->empty() && (*c)[0].is_object()) {
      const json& choice = (*c)[0];
      if (auto m = choice.find("message"); m != choice.end() && m->is_object()) message = *m;
      if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) finish = *f;
    }
    ojson content = ojson::array();
    if (thinkingRequested_) {
      std::string reasoning = stringMember(message, "reasoning_content");
      if (reasoning.empty()) reasoning = stringMember(message, "reasoning");
      if (!reasoning.empty())
        content.push_back(ojson{{"type", "thinking"}, {"thinking", reasoning}, {"signature", ""}});
    }
    if (std::string text = stringMember(message, "content"); !text.empty())
      content.push_back(ojson{{"type", "text"}, {"text", text}});
    if (auto calls = message.find("tool_calls"); calls != message.end() && calls->is_array()) {
      for (const auto& call : *calls) {
        if (!call.is_object()) continue;
        json fn = call.value("function", json::object());
        ojson input = ojson::object();
        if (fn.is_object()) {
          ojson parsed = parseUntrusted<ojson>(stringMember(fn, "arguments"));
          if (parsed.is_object()) input = std::move(parsed);
        }
        ojson block = ojson::object();
        block["type"] = "tool_use";
        std::string id = stringMember(call, "id");
        block["id"] = id.empty() ? "toolu_" + randomId(24) : id;
        block["name"] = fn.is_object() ? stringMember(fn, "name") : std::string();
        block["input"] = std::move(input);
        content.push_back(std::move(block));
      }
    }
    if (content.empty()) content.push_back(ojson{{"type", "text"}, {"text", ""}});

    ojson out = ojson::object();
    std::string id = stringMember(in, "id");
    out["id"] = id.empty() ? messageId_ : "msg_" + id;
    out["type"] = "message";
    out["role"] = "assistant";
    out["model"] = clientModel_;
    out["content"] = std::move(content);
    out["stop_reason"] = stopReasonFor(finish);
    out["stop_sequence"] = nullptr;
    out["usage"] = anthropicUsage(inner_->usage());
    return dumpJson(out);
  }

  static std::string stringMember(const json& o, const char* key) {
    if (!o.is_object()) return {};
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  // Inner's OpenAI SSE bytes -> Anthropic events.
  void relay(std::string_view openai, std::string& out) {
    if (openai.empty()) return;
    parser_.feed(openai, [&](const sse::Event& e) {
      try {
        openAIEvent(e, out);
      } catch (const std::exception& ex) {
        if (errored_ || done_) return;
        errored_ = true;
        out.append(renderStreamError(
            Dialect::kAnthropic, apiError(502, "server_error", "upstream_error",
                                          std::string("unreadable upstream event: ") + ex.what())));
      }
    });
  }

  void openAIEvent(const sse::Event& e, std::string& out) {
    if (done_ || errored_) return;
    if (e.data == "[DONE]") {
      finish(out);
      return;
    }
    json chunk = parseUntrusted<json>(e.data);
    if (!chunk.is_object()) return;
    if (auto err = chunk.find("error"); err != chunk.end() && !err->is_null()) {
      errored_ = true;
      out.append(renderStreamError(Dialect::kAnthropic, apiErrorFromOpenAI(*err)));
      return;
    }
    auto choices = chunk.find("choices");
    if (choices == chunk.end() || !choices->is_array() || choices->empty()) return;
    start(out, stringMember(chunk, "id"));
    const json& choice = (*choices)[0];
    if (!choice.is_object()) return;
    if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
      const json& delta = *d;
      if (thinkingRequested_) {
        std::string reasoning = stringMember(delta, "reasoning_content");
        if (reasoning.empty()) reasoning = stringMember(delta, "reasoning");
        if (!reasoning.empty()) {
          if (openKind_ != Open::kThinking) {
            openBlock(out, Open::kThinking,
                      ojson{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}});
          }
          blockDelta(out, ojson{{"type", "thinking_delta"}, {"thinking", reasoning}});
        }
      }
      if (std::string text = stringMember(delta, "content"); !text.empty()) {
        if (openKind_ != Open::kText)
          openBlock(out, Open::kText, ojson{{"type", "text"}, {"text", ""}});
        blockDelta(out, ojson{{"type", "text_delta"}, {"text", text}});
      }
      if (auto calls = delta.find("tool_calls"); calls != delta.end() && calls->is_array()) {
        for (const auto& call : *calls) toolCallDelta(out, call);
      }
    }
    if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) {
      stopReason_ = stopReasonFor(f->get<std::string>());
      closeBlock(out);
    }
  }

  void toolCallDelta(std::string& out, const json& call) {
    if (!call.is_object()) return;
    int64_t index = call.contains("index") && call["index"].is_number_integer()
                        ? call["index"].get<int64_t>()
                        : 0;
    json fn = call.value("function", json::object());
    if (!fn.is_object()) fn = json::object();
    std::string args = stringMember(fn, "arguments");
    auto known = toolBlocks_.find(index);
    if (known == toolBlocks_.end()) {
      std::string id = stringMember(call, "id");
      ojson block = ojson::object();
      block["type"] = "tool_use";
      block["id"] = id.empty() ? "toolu_" + randomId(24) : id;
      block["name"] = stringMember(fn, "name");
      block["input"] = ojson::object();
      openBlock(out, Open::kTool, std::move(block));
      known = toolBlocks_.emplace(index, blockIndex_).first;
    }
    if (!args.empty()) {
      ojson delta = {{"type", "input_json_delta"}, {"partial_json", args}};
      ojson event = ojson::object();
      event["type"] = "content_block_delta";
      event["index"] = known->second;
      event["delta"] = std::move(delta);
      appendEvent(out, "content_block_delta", dumpJson(event));
    }
  }

  enum class Open { kNone, kText, kThinking, kTool };

  void start(std::string& out, const std::string& openAIId) {
    if (started_) return;
    started_ = true;
    if (!openAIId.empty()) messageId_ = "msg_" + openAIId;
    ojson usage = ojson::object();
    const Usage& u = inner_->usage();
    usage["input_tokens"] = u.known ? u.promptTokens - u.cachedTokens - u.cacheWriteTokens : 0;
    usage["output_tokens"] = 0;
    usage["cache_creation_input_tokens"] = u.known ? u.cacheWriteTokens : 0;
    usage["cache_read_input_tokens"] = u.known ? u.cachedTokens : 0;
    ojson message = ojson::object();
    message["id"] = messageId_;
    message["type"] = "message";
    message["role"] = "assistant";
    message["model"] = clientModel_;
    message["content"] = ojson::array();
    message["stop_reason"] = nullptr;
    message["stop_sequence"] = nullptr;
    message["usage"] = std::move(usage);
    ojson event = ojson::object();
    event["type"] = "message_start";
    event["message"] = std::move(message);
    appendEvent(out, "message_start", dumpJson(event));
  }

  void openBlock(std::string& out, Open kind, ojson block) {
    closeBlock(out);
    blockIndex_ = nextBlock_++;
    openKind_ = kind;
    ojson event = ojson::object();
    event["type"] = "content_block_start";
    event["index"] = blockIndex_;
    event["content_block"] = std::move(block);
    appendEvent(out, "content_block_start", dumpJson(event));
  }

  void blockDelta(std::string& out, ojson delta) {
    ojson event = ojson::object();
    event["type"] = "content_block_delta";
    event["index"] = blockIndex_;
    event["delta"] = std::move(delta);
    appendEvent(out, "content_block_delta", dumpJson(event));
  }

  void closeBlock(std::string& out) {
    if (openKind_ == Open::kNone) return;
    openKind_ = Open::kNone;
    ojson event = ojson::object();
    event["type"] = "content_block_stop";
    event["index"] = blockIndex_;
    appendEvent(out, "content_block_stop", dumpJson(event));
  }

  void finish(std::string& out) {
    start(out, "");
    closeBlock(out);
    ojson delta = ojson::object();
    delta["stop_reason"] = stopReason_.empty() ? "end_turn" : stopReason_;
    delta["stop_sequence"] = nullptr;
    ojson event = ojson::object();
    event["type"] = "message_delta";
    event["delta"] = std::move(delta);
    event["usage"] = anthropicUsage(inner_->usage());
    appendEvent(out, "message_delta", dumpJson(event));
    appendEvent(out, "message_stop", R"({"type":"message_stop"})");
    done_ = true;
  }

  std::string clientModel_;
  std::unique_ptr<Translator> inner_;
  std::string messageId_;
  bool thinkingRequested_ = false;
  // The OpenAI request handed to inner (its scan points into the text).
  std::string requestText_;
  json_scan::Result requestScan_;
  // Stream state.
  sse::Parser parser_;
  bool started_ = false;
  bool done_ = false;
  bool errored_ = false;
  Open openKind_ = Open::kNone;
  int64_t blockIndex_ = -1;
  int64_t nextBlock_ = 0;
  std::map<int64_t, int64_t> toolBlocks_;  // OpenAI tool-call index -> Anthropic block index
  std::string stopReason_;
};

// ---- The passthrough: Anthropic client, Anthropic upstream.

class AnthropicPassthrough final : public Translator {
 public:
  AnthropicPassthrough(std::string clientModel, const Target& target)
      : clientModel_(std::move(clientModel)), target_(target) {
    json_scan::appendString(clientModelJson_, clientModel_);
  }

  std::optional<ApiError> buildRequest(const ClientRequest& request, std::string_view upstreamModel,
                                       UpstreamCall& out) override {
    try {
      const json_scan::Member* model = request.scan.find("model");
      if (!model) return invalid("model", "Field required");
      // The model replaced here must be the one Anthropic reads (the last of duplicates).
      if (auto err = refuseDuplicateMembers(request.body, request.scan, {"model", "stream"}))
        return err;
      bool stream = request.stream;
      if (const json_scan::Member* s = request.scan.find("stream"); s && s->kind == 't')
        stream = true;
      if (target_.vertex) {
        ojson body = parseUntrusted<ojson>(request.body);
        if (!body.is_object())
          return apiError(400, "invalid_request_error", "",
                          "The request body must be a JSON object.");
        body.erase("model");
        body["anthropic_version"] = "vertex-2023-10-16";
        out.body = dumpJson(body);
        out.path = "/publishers/anthropic/models/" + std::string(upstreamModel) +
                   (stream ? ":streamRawPredict" : ":rawPredict");
      } else {
        std::string replacement;
        json_scan::appendString(replacement, upstreamModel);
        out.body = json_scan::splice(request.body, *model, replacement);
        out.path = "/messages";
      }
      if (!request.anthropicBeta.empty())
        out.headers.emplace_back("anthropic-beta", std::string(request.anthropicBeta));
      return std::nullopt;
    } catch (const std::exception& e) {
      return apiError(400, "invalid_request_error", "",
                      std::string("The request could not be forwarded: ") + e.what());
    }
  }

  std::string translateResponse(std::string_view upstreamBody) override {
    auto scan = json_scan::scan(upstreamBody);
    if (!scan.ok || !scan.isObject) return std::string(upstreamBody);
    if (const json_scan::Member* u = scan.find("usage"); u && u->kind == 'o') {
      json usage = parseUntrusted<json>(upstreamBody.substr(u->valueBegin, u->valueEnd - u->valueBegin));
      parseAnthropicUsage(usage, usage_);
    }
    const json_scan::Member* model = scan.find("model");
    if (!model) return std::string(upstreamBody);
    return json_scan::splice(upstreamBody, *model, clientModelJson_);
  }

  void onStreamEvent(const sse::Event& event, std::string& out) override {
    if (done_ || sawError_) return;
    try {
      json data = parseUntrusted<json>(event.data);
      std::string type = event.event;
      if (data.is_object()) {
        auto t = data.find("type");
        if (t != data.end() && t->is_string() && type.empty()) type = t->get<std::string>();
      }
      if (type.empty()) return;  // the SDK drops events without a name
      std::string_view payload = event.data;
      std::string rewritten;
      if (type == "message_start" && data.is_object()) {
        auto m = data.find("message");
        if (m != data.end() && m->is_object()) {
          if (auto u = m->find("usage"); u != m->end()) parseAnthropicUsage(*u, usage_);
          rewritten = rewriteModel(event.data);
          payload = rewritten;
        }
      } else if (type == "message_delta" && data.is_object()) {
        if (auto u = data.find("usage"); u != data.end()) parseAnthropicUsage(*u, usage_);
      } else if (type == "content_block_delta") {
        ++contentChunks_;
      } else if (type == "message_stop") {
        done_ = true;
      } else if (type == "error") {
        sawError_ = true;
      }
      appendEvent(out, type, payload);
    } catch (const std::exception& e) {
      sawError_ = true;
      out.append(renderStreamError(
          Dialect::kAnthropic, apiError(502, "server_error", "upstream_error",
                                        std::string("unreadable upstream event: ") + e.what())));
    }
  }

  bool onStreamEnd(std::string& out) override {
    if (done_) return true;
    if (!sawError_) out.append(renderStreamError(Dialect::kAnthropic, incompleteStream()));
    return false;
  }

  ApiError upstreamError(int status, std::string_view body) override {
    return anthropicUpstreamError(status, body);
  }

 private:
  // message_start's data with message.model replaced, other bytes kept.
  std::string rewriteModel(std::string_view data) {
    auto outer = json_scan::scan(data);
    const json_scan::Member* message = outer.ok ? outer.find("message") : nullptr;
    if (!message || message->kind != 'o') return std::string(data);
    std::string_view inner =
        data.substr(message->valueBegin, message->valueEnd - message->valueBegin);
    auto innerScan = json_scan::scan(inner);
    const json_scan::Member* model = innerScan.ok ? innerScan.find("model") : nullptr;
    if (!model) return std::string(data);
    return json_scan::splice(data, *message, json_scan::splice(inner, *model, clientModelJson_));
  }

  std::string clientModel_;
  std::string clientModelJson_;
  Target target_;
  bool done_ = false;
  bool sawError_ = false;
};

}  // namespace

std::optional<ApiError> anthropicRequestToOpenAI(const nlohmann::ordered_json& in,
                                                 nlohmann::ordered_json& out) {
  try {
    if (!in.is_object())
      return apiError(400, "invalid_request_error", "", "The request body must be a JSON object.");
    out = json::object();
    if (const json* model = member(in, "model")) out["model"] = *model;

    const json* maxTokens = member(in, "max_tokens");
    if (!maxTokens) return invalid("max_tokens", "Field required");
    if (!maxTokens->is_number_integer() || maxTokens->get<int64_t>() < 1)
      return invalid("max_tokens", "Input should be a valid positive integer");
    const json* messages = member(in, "messages");
    if (!messages) return invalid("messages", "Field required");
    if (!messages->is_array()) return invalid("messages", "Input should be a valid list");

    json msgs = json::array();
    if (const json* system = member(in, "system")) {
      std::string text;
      if (system->is_string()) {
        text = system->get<std::string>();
      } else if (system->is_array()) {
        for (size_t i = 0; i < system->size(); ++i) {
          const json& b = (*system)[i];
          if (!b.is_object() || b.value("type", "") != "text" || !b.contains("text") ||
              !b["text"].is_string())
            return invalid("system." + std::to_string(i), "only text blocks are supported");
          if (!text.empty()) text += "\n";
          text += b["text"].get<std::string>();
        }
      } else {
        return invalid("system", "Input should be a valid string or list");
      }
      if (!text.empty()) msgs.push_back(json{{"role", "system"}, {"content", text}});
    }
    for (size_t i = 0; i < messages->size(); ++i)
      if (auto err = convertMessage((*messages)[i], i, msgs)) return err;
    out["messages"] = std::move(msgs);
    out["max_tokens"] = *maxTokens;

    if (const json* stop = member(in, "stop_sequences")) {
      if (!stop->is_array()) return invalid("stop_sequences", "Input should be a valid list");
      if (!stop->empty()) out["stop"] = *stop;
    }
    for (const char* key : {"temperature", "top_p"}) {
      if (const json* v = member(in, key)) {
        if (!v->is_number()) return invalid(key, "Input should be a valid number");
        out[key] = *v;
      }
    }
    bool hasTools = false;
    if (const json* tools = member(in, "tools")) {
      json converted = json::array();
      if (auto err = convertTools(*tools, converted)) return err;
      hasTools = !converted.empty();
      if (hasTools) out["tools"] = std::move(converted);
    }
    if (const json* tc = member(in, "tool_choice")) {
      if (!tc->is_object()) return invalid("tool_choice", "Input should be a valid dictionary");
      std::string type = tc->value("type", "");
      if (type == "auto")
        out["tool_choice"] = "auto";
      else if (type == "any")
        out["tool_choice"] = "required";
      else if (type == "none")
        out["tool_choice"] = "none";
      else if (type == "tool") {
        const json* name = member(*tc, "name");
        if (!name || !name->is_string()) return invalid("tool_choice.name", "Field required");
        out["tool_choice"] = json{{"type", "function"}, {"function", {{"name", *name}}}};
      } else {
        return invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'");
      }
      if (!hasTools) out.erase("tool_choice");
      if (const json* d = member(*tc, "disable_parallel_tool_use"); d && *d == true && hasTools)
        out["parallel_tool_calls"] = false;
    }
    if (const json* metadata = member(in, "metadata"); metadata && metadata->is_object())
      if (const json* user = member(*metadata, "user_id"); user && user->is_string())
        out["user"] = *user;
    if (const json* stream = member(in, "stream"); stream && *stream == true) out["stream"] = true;
    return std::nullopt;
  } catch (const std::exception& e) {
    return apiError(400, "invalid_request_error", "",
                    std::string("The request could not be translated: ") + e.what());
  }
}

std::unique_ptr<Translator> makeAnthropicFront(std::string clientModel,
                                               std::unique_ptr<Translator> inner) {
  return std::make_unique<AnthropicFront>(std::move(clientModel), std::move(inner));
}

std::unique_ptr<Translator> makeAnthropicPassthrough(std::string clientModel,
                                                     const Target& target) {
  return std::make_unique<AnthropicPassthrough>(std::move(clientModel), target);
}

}  // namespace finops::dp
