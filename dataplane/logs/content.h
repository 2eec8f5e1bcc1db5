// Request-log content: what the request path captured (cheaply, as bytes) and how the log
// shipper's thread turns it into LogRecord.request_content / response_content. Pure
// functions; safe on any bytes (hostile bodies included); nothing here throws.
#pragma once

#include <cstddef>
#include <string>

namespace finops::dp::logs {

// What the request path captured; processed on the shipper thread.
struct RawContent {
  std::string request;     // the request body as received (already cut to maxBytes by the capturer)
  std::string response;    // the body sent to the client, or for a stream the SSE bytes sent (cut)
  bool streamed = false;
  std::string dialect;     // "openai" (or "client", ""), "anthropic" or "genai": the client's API
  std::string route;       // "/v1/chat/completions", "/v1/embeddings", "/anthropic/v1/messages", ...
  int status = 0;
  bool truncated = false;  // the capturer cut something
};

// The response as text for the log, from a response body or SSE stream in the client's
// dialect: the assistant's text, then each tool call on a line of its own as
// "tool_call name(arguments)" (arguments as JSON text).
// - OpenAI: chat completions (message.content, refusal, tool_calls), legacy completions
//   (choices[].text), both plain and streamed; several choices are separated by a blank line;
//   embeddings give "[embedding: N vectors]".
// - Anthropic messages: content[] text and tool_use blocks; streamed: text_delta and
//   input_json_delta pieces of each content block. Thinking blocks are left out.
// - Gemini: candidates[0].content.parts[] text (thought parts left out) and functionCall;
//   streamed: one GenerateContentResponse per SSE data event.
// An error event inside a stream adds a line "error: <the error object as JSON>".
// status >= 400: the body as it is. Anything unparseable or of an unknown shape (a model list,
// a token count): the raw text as it is.
std::string responseText(const RawContent& c);

// Cuts s to at most max bytes, at a UTF-8 character boundary; true when it cut.
bool cutUtf8(std::string& s, size_t max);

// Drops an incomplete UTF-8 sequence at the very end of s (left by a cut made without regard
// to characters); true when it dropped something.
bool dropPartialUtf8Tail(std::string& s);

// Replaces every byte that is not part of a well-formed UTF-8 sequence with U+FFFD, so the
// text can travel in a protobuf string field; true when it changed s.
bool makeValidUtf8(std::string& s);

}  // namespace finops::dp::logs
