#include "dataplane/logs/content.h"

#include <gtest/gtest.h>

#include <string>

namespace finops::dp::logs {
namespace {

RawContent openai(std::string response, bool streamed = false,
                  std::string route = "/v1/chat/completions") {
  RawContent c;
  c.dialect = "openai";
  c.route = std::move(route);
  c.status = 200;
  c.streamed = streamed;
  c.response = std::move(response);
  return c;
}

RawContent anthropic(std::string response, bool streamed = false) {
  RawContent c = openai(std::move(response), streamed, "/anthropic/v1/messages");
  c.dialect = "anthropic";
  return c;
}

RawContent genai(std::string response, bool streamed = false) {
  RawContent c = openai(std::move(response), streamed,
                        streamed ? "/genai/v1beta/models/openai/gpt-4o-mini:streamGenerateContent"
                                 : "/genai/v1beta/models/openai/gpt-4o-mini:generateContent");
  c.dialect = "genai";
  return c;
}

// ---- OpenAI ---------------------------------------------------------------------------------

TEST(ResponseText, OpenAIChatCompletion) {
  EXPECT_EQ(responseText(openai(R"({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1731000000,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant",
      "content": "The capital of France is Paris.", "refusal": null},
      "logprobs": null, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 14, "completion_tokens": 7, "total_tokens": 21}})")),
            "The capital of France is Paris.");
}

TEST(ResponseText, OpenAIChatCompletionWithToolCalls) {
  EXPECT_EQ(responseText(openai(R"({
    "id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Checking both.",
      "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
        {"id": "call_2", "type": "function",
         "function": {"name": "get_time", "arguments": "{}"}}]},
      "finish_reason": "tool_calls"}]})")),
            "Checking both.\n"
            "tool_call get_weather({\"city\": \"Paris\"})\n"
            "tool_call get_time({})");
}

TEST(ResponseText, OpenAIChatCompletionSeveralChoices) {
  EXPECT_EQ(responseText(openai(R"({"object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "One."}, "finish_reason": "stop"},
    {"index": 1, "message": {"role": "assistant", "content": "Two."}, "finish_reason": "stop"}]})")),
            "One.\n\nTwo.");
}

TEST(ResponseText, OpenAIChatStream) {
  std::string sse =
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"created\":1731000000,\"model\":\"anthropic/claude-sonnet-4-5\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Checking both.\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\": \\\"Par\"}}]},\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"is\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{\\\"city\\\": \\\"Rome\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
      "data: {\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":30,\"total_tokens\":70}}\n\n"
      "data: [DONE]\n\n";
  EXPECT_EQ(responseText(openai(sse, true)),
            "Checking both.\n"
            "tool_call get_weather({\"city\": \"Paris\"})\n"
            "tool_call get_weather({\"city\": \"Rome\"})");
}

TEST(ResponseText, OpenAIStreamWithCrlfAndAnErrorChunk) {
  std::string sse =
      "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\r\n\r\n"
      "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}\r\n\r\n";
  EXPECT_EQ(responseText(openai(sse, true)),
            "Hel\nerror: {\"code\":\"overloaded\",\"message\":\"Overloaded\",\"param\":null,"
            "\"type\":\"server_error\"}");
}

TEST(ResponseText, OpenAIStreamCutMidEventKeepsWholeEvents) {
  RawContent c = openai(
      "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once upon\"}}]}\n\n"
      "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" a time\"}}]}\n"
      "\n"
      "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"cont",
      true);
  c.truncated = true;
  EXPECT_EQ(responseText(c), "Once upon a time");
}

TEST(ResponseText, OpenAILegacyCompletion) {
  EXPECT_EQ(responseText(openai(R"({"id": "cmpl-1", "object": "text_completion",
    "model": "gpt-3.5-turbo-instruct",
    "choices": [{"text": "\n\nThis is indeed a test", "index": 0, "logprobs": null,
                 "finish_reason": "length"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})",
                                false, "/v1/completions")),
            "\n\nThis is indeed a test");
  std::string sse =
      "data: {\"id\":\"cmpl-2\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"Say\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}],\"model\":\"gpt-3.5-turbo-instruct\"}\n\n"
      "data: {\"id\":\"cmpl-2\",\"object\":\"text_completion\",\"choices\":[{\"text\":\" hi\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],\"model\":\"gpt-3.5-turbo-instruct\"}\n\n"
      "data: [DONE]\n\n";
  EXPECT_EQ(responseText(openai(sse, true, "/v1/completions")), "Say hi");
}

TEST(ResponseText, OpenAIEmbeddings) {
  EXPECT_EQ(responseText(openai(R"({"object": "list", "data": [
    {"object": "embedding", "index": 0, "embedding": [0.0023, -0.0093, 0.0158]},
    {"object": "embedding", "index": 1, "embedding": [0.0112, 0.0041, -0.0077]}],
    "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}})",
                                false, "/v1/embeddings")),
            "[embedding: 2 vectors]");
}

TEST(ResponseText, UnknownShapesStayRaw) {
  std::string models = R"({"object":"list","data":[{"id":"openai/gpt-4o-mini","object":"model"}]})";
  EXPECT_EQ(responseText(openai(models, false, "/v1/models")), models);
  std::string count = R"({"input_tokens": 14})";
  RawContent c = anthropic(count);
  c.route = "/anthropic/v1/messages/count_tokens";
  EXPECT_EQ(responseText(c), count);
}

// ---- Anthropic ------------------------------------------------------------------------------

TEST(ResponseText, AnthropicMessage) {
  EXPECT_EQ(responseText(anthropic(R"({
    "id": "msg_01", "type": "message", "role": "assistant", "model": "openai/gpt-4o",
    "content": [{"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_9", "name": "get_weather",
                 "input": {"city": "Oslo"}}],
    "stop_reason": "tool_use", "stop_sequence": null,
    "usage": {"input_tokens": 50, "output_tokens": 10}})")),
            "Let me check.\ntool_call get_weather({\"city\":\"Oslo\"})");
}

TEST(ResponseText, AnthropicStream) {
  std::string sse =
      "event: message_start\n"
      "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_chatcmpl-1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"openai/gpt-4o\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n"
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Check\"}}\n\n"
      "event: ping\n"
      "data: {\"type\": \"ping\"}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ing.\"}}\n\n"
      "event: content_block_stop\n"
      "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"
      "event: content_block_stop\n"
      "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"get_time\",\"input\":{}}}\n\n"
      "event: content_block_stop\n"
      "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
      "event: message_delta\n"
      "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":30}}\n\n"
      "event: message_stop\n"
      "data: {\"type\":\"message_stop\"}\n\n";
  EXPECT_EQ(responseText(anthropic(sse, true)),
            "Checking.\ntool_call get_weather({\"city\":\"Paris\"})\ntool_call get_time({})");
}

TEST(ResponseText, AnthropicStreamErrorEvent) {
  std::string sse =
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
      "event: error\n"
      "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"The server is overloaded\"}}\n\n";
  EXPECT_EQ(responseText(anthropic(sse, true)),
            "Hel\nerror: {\"message\":\"The server is overloaded\",\"type\":\"overloaded_error\"}");
}

// ---- Gemini ---------------------------------------------------------------------------------

TEST(ResponseText, GeminiGenerateContent) {
  EXPECT_EQ(responseText(genai(R"({
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "I think about it.", "thought": true},
        {"text": "Rome is sunny. "},
        {"functionCall": {"id": "call_X1", "name": "get_weather", "args": {"city": "Rome"}}}]},
      "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 10, "totalTokenCount": 80},
    "modelVersion": "openai/gpt-4o-mini", "responseId": "chatcmpl-2"})")),
            "Rome is sunny. \ntool_call get_weather({\"city\":\"Rome\"})");
}

TEST(ResponseText, GeminiStream) {
  std::string sse =
      "data: {\"candidates\": [{\"content\": {\"role\": \"model\", \"parts\": [{\"text\": \"Hi\"}]}, \"index\": 0}], \"modelVersion\": \"openai/gpt-4o-mini\", \"responseId\": \"chatcmpl-9\"}\r\n\r\n"
      "data: {\"candidates\": [{\"content\": {\"role\": \"model\", \"parts\": [{\"text\": \"!\"}]}, \"index\": 0}], \"modelVersion\": \"openai/gpt-4o-mini\", \"responseId\": \"chatcmpl-9\"}\r\n\r\n"
      "data: {\"candidates\": [{\"content\": {\"role\": \"model\", \"parts\": [{\"functionCall\": {\"id\": \"call_1\", \"name\": \"get_weather\", \"args\": {\"city\": \"Paris\"}}}, {\"functionCall\": {\"id\": \"call_2\", \"name\": \"get_time\", \"args\": {}}}]}, \"index\": 0}]}\r\n\r\n"
      "data: {\"candidates\": [{\"finishReason\": \"STOP\", \"index\": 0}], \"usageMetadata\": {\"promptTokenCount\": 9, \"candidatesTokenCount\": 2, \"totalTokenCount\": 11}, \"modelVersion\": \"openai/gpt-4o-mini\", \"responseId\": \"chatcmpl-9\"}\r\n\r\n";
  EXPECT_EQ(responseText(genai(sse, true)),
            "Hi!\ntool_call get_weather({\"city\":\"Paris\"})\ntool_call get_time({})");
}

TEST(ResponseText, GeminiStreamError) {
  std::string sse =
      "data: {\"candidates\": [{\"content\": {\"role\": \"model\", \"parts\": [{\"text\": \"Hel\"}]}, \"index\": 0}]}\n\n"
      "data: {\"error\": {\"code\": 429, \"message\": \"Rate limit reached for requests\", \"status\": \"RESOURCE_EXHAUSTED\"}}\n\n";
  EXPECT_EQ(responseText(genai(sse, true)),
            "Hel\nerror: {\"code\":429,\"message\":\"Rate limit reached for requests\","
            "\"status\":\"RESOURCE_EXHAUSTED\"}");
}

// ---- Errors and junk ------------------------------------------------------------------------

TEST(ResponseText, ErrorsAreTheBodyAsItIs) {
  std::string body = R"({"error":{"message":"Slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}})";
  RawContent c = openai(body);
  c.status = 429;
  EXPECT_EQ(responseText(c), body);
  // Even when the error body happens to look like a completion.
  RawContent d = openai(R"({"choices":[{"message":{"content":"x"}}]})");
  d.status = 500;
  EXPECT_EQ(responseText(d), d.response);
}

TEST(ResponseText, UnparseableIsRaw) {
  EXPECT_EQ(responseText(openai("upstream said: <html>502</html>")), "upstream said: <html>502</html>");
  EXPECT_EQ(responseText(anthropic("{\"content\": [")), "{\"content\": [");
  EXPECT_EQ(responseText(genai("not sse at all", true)), "not sse at all");
  EXPECT_EQ(responseText(openai("")), "");
  // A stream whose events are not JSON.
  EXPECT_EQ(responseText(openai("data: hello\n\n", true)), "data: hello\n\n");
}

TEST(ResponseText, DeepJsonIsRawNotACrash) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(responseText(openai(deep)), deep);
  std::string sse = "data: " + deep + "\n\n";
  EXPECT_EQ(responseText(anthropic(sse, true)), sse);
}

TEST(ResponseText, WrongTypesAreSkippedNotThrown) {
  EXPECT_EQ(responseText(openai(R"({"choices":[{"message":{"content":42,"tool_calls":"x"}}, 7]})")), "");
  EXPECT_EQ(responseText(anthropic(R"({"content":[{"type":"text","text":5},{"type":"tool_use","name":[]}]})")),
            "tool_call ({})");
  EXPECT_EQ(responseText(genai(R"({"candidates":[{"content":{"parts":"x"}}]})")), "");
}

TEST(ResponseText, StreamedFlagWithAPlainBodyStillWorks) {
  EXPECT_EQ(responseText(openai(R"({"choices":[{"index":0,"message":{"content":"plain"}}]})", true)),
            "plain");
}

// ---- UTF-8 ----------------------------------------------------------------------------------

TEST(CutUtf8, CutsAtCharacterBoundaries) {
  std::string s = "h\xC3\xA9llo";  // "héllo": é is 2 bytes at [1,3)
  std::string t = s;
  EXPECT_TRUE(cutUtf8(t, 2));  // would split é
  EXPECT_EQ(t, "h");
  t = s;
  EXPECT_TRUE(cutUtf8(t, 3));
  EXPECT_EQ(t, "h\xC3\xA9");
  t = s;
  EXPECT_FALSE(cutUtf8(t, 6));
  EXPECT_EQ(t, s);
  EXPECT_FALSE(cutUtf8(t, 100));

  std::string emoji = "ab\xF0\x9F\x98\x80" "cd";  // a 4-byte character at [2,6)
  for (size_t max : {3u, 4u, 5u}) {
    std::string e = emoji;
    EXPECT_TRUE(cutUtf8(e, max)) << max;
    EXPECT_EQ(e, "ab") << max;
  }
  std::string e = emoji;
  EXPECT_TRUE(cutUtf8(e, 6));
  EXPECT_EQ(e, "ab\xF0\x9F\x98\x80");
  e = emoji;
  EXPECT_TRUE(cutUtf8(e, 0));
  EXPECT_EQ(e, "");
}

TEST(CutUtf8, NotUtf8IsCutAtMax) {
  std::string s(10, '\x80');
  EXPECT_TRUE(cutUtf8(s, 5));
  EXPECT_EQ(s.size(), 5u);
}

TEST(Utf8, DropsAPartialTail) {
  std::string s = "ab\xE2\x82";  // the first two bytes of "€"
  EXPECT_TRUE(dropPartialUtf8Tail(s));
  EXPECT_EQ(s, "ab");
  s = "ab\xE2\x82\xAC";
  EXPECT_FALSE(dropPartialUtf8Tail(s));
  EXPECT_EQ(s, "ab\xE2\x82\xAC");
  s = "abc";
  EXPECT_FALSE(dropPartialUtf8Tail(s));
  s = "";
  EXPECT_FALSE(dropPartialUtf8Tail(s));
}

TEST(Utf8, InvalidBytesBecomeReplacementCharacters) {
  std::string ok = "plain \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  std::string s = ok;
  EXPECT_FALSE(makeValidUtf8(s));
  EXPECT_EQ(s, ok);
  s = std::string("a\xFF" "b\xC0\xAF" "c\xED\xA0\x80" "d");  // junk, overlong, surrogate
  EXPECT_TRUE(makeValidUtf8(s));
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(s, "a" + r + "b" + r + r + "c" + r + r + r + "d");
}

}  // namespace
}  // namespace finops::dp::logs
