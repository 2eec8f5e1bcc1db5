#include "dataplane/logs/content.h"

#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataplane/sse/parser.h"
#include "dataplane/translate/json_util.h"

namespace finops::dp::logs {

namespace {

using Json = nlohmann::json;
constexpr auto kReplace = Json::error_handler_t::replace;

enum class Api { kOpenAI, kAnthropic, kGemini };

Api apiOf(std::string_view dialect) {
  if (dialect == "anthropic") return Api::kAnthropic;
  if (dialect == "genai" || dialect == "gemini") return Api::kGemini;
  return Api::kOpenAI;  // "openai", "client", ""
}

std::string compact(const Json& j) { return j.dump(-1, ' ', false, kReplace); }

const std::string* str(const Json& o, const char* key) {
  const Json* v = member(o, key);
  return v && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
}

const Json* arr(const Json& o, const char* key) {
  const Json* v = member(o, key);
  return v && v->is_array() ? v : nullptr;
}

const Json* obj(const Json& o, const char* key) {
  const Json* v = member(o, key);
  return v && v->is_object() ? v : nullptr;
}

// Text, then tool calls each on a line of their own, then error lines.
class TextOut {
 public:
  void text(std::string_view t) {
    if (t.empty()) return;
    if (lastWasLine_) out_.push_back('\n');
    out_ += t;
    lastWasLine_ = false;
  }
  void toolCall(std::string_view name, std::string_view args) {
    line("tool_call " + std::string(name) + "(" + std::string(args) + ")");
  }
  void error(const Json& e) { line("error: " + compact(e)); }
  // Between two choices of one response.
  void separator() {
    if (!out_.empty()) {
      out_ += "\n\n";
      lastWasLine_ = false;
    }
  }
  std::string take() { return std::move(out_); }

 private:
  void line(const std::string& l) {
    if (!out_.empty() && out_.back() != '\n') out_.push_back('\n');
    out_ += l;
    lastWasLine_ = true;
  }
  std::string out_;
  bool lastWasLine_ = false;
};

// Arguments as JSON text: strings (OpenAI's arguments) as they are, anything else compact.
std::string argsText(const Json* v) {
  if (!v) return "{}";
  if (v->is_string()) return v->get<std::string>();
  return compact(*v);
}

// Message content that may be a string or an array of parts ({"type":"text","text":...}).
void contentText(const Json& content, TextOut& out) {
  if (content.is_string()) {
    out.text(content.get_ref<const std::string&>());
  } else if (content.is_array()) {
    for (const auto& part : content)
      if (const std::string* t = str(part, "text")) out.text(*t);
  }
}

// ---- OpenAI -------------------------------------------------------------------------------

std::optional<std::string> openaiBody(const Json& j, std::string_view route) {
  if (const Json* data = arr(j, "data")) {
    bool embeddings = route.ends_with("embeddings") ||
                      (!data->empty() && (*data)[0].is_object() && (*data)[0].contains("embedding"));
    if (embeddings) return "[embedding: " + std::to_string(data->size()) + " vectors]";
    return std::nullopt;
  }
  const Json* choices = arr(j, "choices");
  if (!choices) return std::nullopt;
  TextOut out;
  for (const auto& choice : *choices) {
    if (!choice.is_object()) continue;
    out.separator();
    if (const Json* message = obj(choice, "message")) {
      if (const Json* content = member(*message, "content")) contentText(*content, out);
      if (const std::string* refusal = str(*message, "refusal")) out.text(*refusal);
      if (const Json* calls = arr(*message, "tool_calls")) {
        for (const auto& call : *calls) {
          const Json* fn = obj(call, "function");
          if (!fn) continue;
          const std::string* name = str(*fn, "name");
          out.toolCall(name ? *name : "", argsText(member(*fn, "arguments")));
        }
      }
      if (const Json* fn = obj(*message, "function_call")) {
        const std::string* name = str(*fn, "name");
        out.toolCall(name ? *name : "", argsText(member(*fn, "arguments")));
      }
    } else if (const std::string* text = str(choice, "text")) {
      out.text(*text);  // legacy completions
    }
  }
  return out.take();
}

struct StreamToolCall {
  std::string name;
  std::string args;
};
struct StreamChoice {
  std::string text;
  std::map<int64_t, StreamToolCall> tools;  // by tool-call index
};

// Calls onData(json) for each SSE data event that is JSON; returns how many were.
template <typename F>
size_t forEachJsonEvent(std::string_view sseText, F&& onData) {
  sse::Parser parser;
  size_t n = 0;
  auto onEvent = [&](const sse::Event& e) {
    if (e.data.empty() || e.data == "[DONE]") return;
    Json j = parseUntrusted(e.data);
    if (j.is_discarded()) return;
    ++n;
    onData(j);
  };
  parser.feed(sseText, onEvent);
  // A last event cut before its blank line still counts when its data line is whole.
  parser.feed("\n\n", onEvent);
  return n;
}

std::optional<std::string> openaiStream(std::string_view sseText) {
  std::map<int64_t, StreamChoice> choices;
  std::vector<Json> errors;
  size_t events = forEachJsonEvent(sseText, [&](const Json& j) {
    if (const Json* e = member(j, "error")) {
      errors.push_back(*e);
      return;
    }
    const Json* cs = arr(j, "choices");
    if (!cs) return;
    for (const auto& choice : *cs) {
      if (!choice.is_object()) continue;
      const Json* idx = member(choice, "index");
      StreamChoice& c = choices[idx && idx->is_number_integer() ? idx->get<int64_t>() : 0];
      if (const std::string* text = str(choice, "text")) c.text += *text;  // legacy
      const Json* delta = obj(choice, "delta");
      if (!delta) continue;
      if (const std::string* content = str(*delta, "content")) c.text += *content;
      if (const std::string* refusal = str(*delta, "refusal")) c.text += *refusal;
      if (const Json* calls = arr(*delta, "tool_calls")) {
        int64_t position = 0;
        for (const auto& call : *calls) {
          const Json* ci = member(call, "index");
          int64_t i = ci && ci->is_number_integer() ? ci->get<int64_t>() : position;
          ++position;
          StreamToolCall& t = c.tools[i];
          const Json* fn = obj(call, "function");
          if (!fn) continue;
          if (const std::string* name = str(*fn, "name"); name && t.name.empty()) t.name = *name;
          if (const std::string* args = str(*fn, "arguments")) t.args += *args;
        }
      }
    }
  });
  if (events == 0) return std::nullopt;
  TextOut out;
  for (auto& [index, c] : choices) {
    out.separator();
    out.text(c.text);
    for (auto& [i, t] : c.tools) out.toolCall(t.name, t.args);
  }
  for (const auto& e : errors) out.error(e);
  return out.take();
}

// ---- Anthropic ----------------------------------------------------------------------------

std::optional<std::string> anthropicBody(const Json& j) {
  const Json* content = arr(j, "content");
  if (!content) return std::nullopt;
  TextOut out;
  for (const auto& block : *content) {
    const std::string* type = str(block, "type");
    if (!type) continue;
    if (*type == "text") {
      if (const std::string* t = str(block, "text")) out.text(*t);
    } else if (*type == "tool_use" || *type == "server_tool_use") {
      const std::string* name = str(block, "name");
      out.toolCall(name ? *name : "", argsText(member(block, "input")));
    }
  }
  return out.take();
}

struct AnthropicBlock {
  std::string type;
  std::string text;
  std::string name;
  std::string startInput;  // the input given with content_block_start
  std::string partialJson;
};

std::optional<std::string> anthropicStream(std::string_view sseText) {
  std::map<int64_t, AnthropicBlock> blocks;
  std::vector<Json> errors;
  auto indexOf = [](const Json& j) -> int64_t {
    const Json* i = member(j, "index");
    return i && i->is_number_integer() ? i->get<int64_t>() : 0;
  };
  size_t events = forEachJsonEvent(sseText, [&](const Json& j) {
    const std::string* type = str(j, "type");
    if (!type) return;
    if (*type == "error") {
      if (const Json* e = member(j, "error")) errors.push_back(*e);
    } else if (*type == "content_block_start") {
      const Json* cb = obj(j, "content_block");
      if (!cb) return;
      AnthropicBlock& b = blocks[indexOf(j)];
      if (const std::string* t = str(*cb, "type")) b.type = *t;
      if (const std::string* t = str(*cb, "text")) b.text += *t;
      if (const std::string* n = str(*cb, "name")) b.name = *n;
      if (const Json* in = member(*cb, "input")) b.startInput = compact(*in);
    } else if (*type == "content_block_delta") {
      const Json* delta = obj(j, "delta");
      if (!delta) return;
      AnthropicBlock& b = blocks[indexOf(j)];
      const std::string* dt = str(*delta, "type");
      if (!dt) return;
      if (*dt == "text_delta") {
        if (b.type.empty()) b.type = "text";
        if (const std::string* t = str(*delta, "text")) b.text += *t;
      } else if (*dt == "input_json_delta") {
        if (b.type.empty()) b.type = "tool_use";
        if (const std::string* p = str(*delta, "partial_json")) b.partialJson += *p;
      }
    }
  });
  if (events == 0) return std::nullopt;
  TextOut out;
  for (auto& [index, b] : blocks) {
    if (b.type == "text") {
      out.text(b.text);
    } else if (b.type == "tool_use" || b.type == "server_tool_use") {
      out.toolCall(b.name, !b.partialJson.empty()  ? b.partialJson
                           : !b.startInput.empty() ? b.startInput
                                                   : "{}");
    }
  }
  for (const auto& e : errors) out.error(e);
  return out.take();
}

// ---- Gemini -------------------------------------------------------------------------------

// candidates[0].content.parts of one GenerateContentResponse; false when it has no candidates.
bool geminiParts(const Json& j, TextOut& out) {
  const Json* candidates = arr(j, "candidates");
  if (!candidates) return false;
  if (candidates->empty()) return true;
  const Json* content = obj((*candidates)[0], "content");
  const Json* parts = content ? arr(*content, "parts") : nullptr;
  if (!parts) return true;
  for (const auto& part : *parts) {
    if (!part.is_object()) continue;
    if (const Json* thought = member(part, "thought"); thought && thought->is_boolean() && thought->get<bool>())
      continue;
    if (const std::string* t = str(part, "text")) out.text(*t);
    if (const Json* fc = obj(part, "functionCall")) {
      const std::string* name = str(*fc, "name");
      out.toolCall(name ? *name : "", argsText(member(*fc, "args")));
    }
  }
  return true;
}

std::optional<std::string> geminiBody(const Json& j) {
  TextOut out;
  if (!geminiParts(j, out)) return std::nullopt;
  return out.take();
}

std::optional<std::string> geminiStream(std::string_view sseText) {
  TextOut out;
  std::vector<Json> errors;
  size_t events = forEachJsonEvent(sseText, [&](const Json& j) {
    if (const Json* e = member(j, "error")) {
      errors.push_back(*e);
      return;
    }
    geminiParts(j, out);
  });
  if (events == 0) return std::nullopt;
  for (const auto& e : errors) out.error(e);
  return out.take();
}

std::optional<std::string> fromBody(Api api, std::string_view route, std::string_view body) {
  Json j = parseUntrusted(body);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  switch (api) {
    case Api::kOpenAI: return openaiBody(j, route);
    case Api::kAnthropic: return anthropicBody(j);
    case Api::kGemini: return geminiBody(j);
  }
  return std::nullopt;
}

std::optional<std::string> fromStream(Api api, std::string_view sseText) {
  switch (api) {
    case Api::kOpenAI: return openaiStream(sseText);
    case Api::kAnthropic: return anthropicStream(sseText);
    case Api::kGemini: return geminiStream(sseText);
  }
  return std::nullopt;
}

// The length of the well-formed UTF-8 sequence at p (n bytes available), 0 when there is none.
size_t sequenceLength(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return n >= 2 && cont(p[1]) ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3) return 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return p[1] >= lo && p[1] <= hi && cont(p[2]) ? 3 : 0;
  }
  if (c < 0xF5) {
    if (n < 4) return 0;
    unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return p[1] >= lo && p[1] <= hi && cont(p[2]) && cont(p[3]) ? 4 : 0;
  }
  return 0;
}

size_t leadLength(unsigned char c) {
  if (c >= 0xC2 && c < 0xE0) return 2;
  if (c >= 0xE0 && c < 0xF0) return 3;
  if (c >= 0xF0 && c < 0xF5) return 4;
  return 0;
}

}  // namespace

std::string responseText(const RawContent& c) {
  try {
    if (c.status >= 400 || c.response.empty()) return c.response;
    const Api api = apiOf(c.dialect);
    std::optional<std::string> text;
    if (c.streamed) text = fromStream(api, c.response);
    if (!text) text = fromBody(api, c.route, c.response);
    if (text) return std::move(*text);
  } catch (...) {
    // Fall through: the raw text.
  }
  return c.response;
}

bool cutUtf8(std::string& s, size_t max) {
  if (s.size() <= max) return false;
  size_t p = max;
  // Back to the first byte of the character that straddles the cut (at most 3 steps).
  for (int steps = 0; p > 0 && steps < 3 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80; ++steps) --p;
  if ((static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) p = max;  // not UTF-8 here anyway
  s.resize(p);
  return true;
}

bool dropPartialUtf8Tail(std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    size_t want = leadLength(c);
    if (want > back) {
      s.resize(n - back);
      return true;
    }
    return false;
  }
  return false;
}

bool makeValidUtf8(std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t len = sequenceLength(p + i, n - i);
    if (len == 0) break;
    i += len;
  }
  if (i == n) return false;
  std::string out;
  out.reserve(n + 16);
  out.append(s, 0, i);
  while (i < n) {
    size_t len = sequenceLength(p + i, n - i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  s = std::move(out);
  return true;
}

}  // namespace finops::dp::logs
