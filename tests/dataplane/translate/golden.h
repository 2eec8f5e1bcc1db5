// Golden-file tests for translators. A case is a directory under
// tests/dataplane/translate/golden/<name>/ holding some of:
//
//   meta.json               {"upstream_model": "...", "stream": bool, "anthropic_beta": "..."}
//                           (all optional; upstream_model defaults to "m", stream to the
//                           request's "stream" member)
//   request.json            the client's request body (required)
//   request_error.json      buildRequest must fail: expected {"status","type","param",...}
//   upstream_request.json   the upstream body buildRequest must produce
//   upstream_path.txt       the upstream path (first line, trimmed)
//   upstream_response.json  a non-streamed upstream 2xx body ...
//   response.json           ... and the client body it must become
//   upstream_stream.txt     an upstream SSE stream (raw bytes, exactly as on the wire) ...
//   stream.txt              ... and the client stream it must become. The stream is fed once
//                           whole and once one byte at a time; both must match.
//   stream_complete.txt     "false" when onStreamEnd must report an incomplete stream
//   usage.json              {"prompt","completion","cached","cache_write"} after the response
//                           (or stream)
//   upstream_error.json     {"status": N, "body": <json or string>} for upstreamError ...
//   error.json              ... and the ApiError it must give: {"status","type","code","message"}
//
// JSON is compared structurally (member order ignored); an expected string "<any>"
// matches any value (generated ids, timestamps). Streams are compared event by event:
// event names exactly, data as JSON when both sides parse, else as text.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/sse/parser.h"
#include "dataplane/translate/translator.h"

namespace finops::dp::golden {

// Absolute path of a case directory.
std::string caseDir(std::string_view name);
// File contents, or nullopt when the file does not exist.
std::optional<std::string> readFile(const std::string& path);

// "" when `actual` matches `expected` ("<any>" matches anything), else where it differs.
std::string jsonDiff(const nlohmann::json& expected, const nlohmann::json& actual,
                     const std::string& path = "$");

// The events of an SSE text.
std::vector<sse::Event> parseEvents(std::string_view text);
// "" when the streams match event by event.
std::string eventsDiff(std::string_view expected, std::string_view actual);

// Feeds an upstream SSE text to `t` (whole, or one byte at a time), then ends it.
// Returns all client bytes; `complete` gets onStreamEnd's result.
std::string runStream(Translator& t, std::string_view upstream, bool byteAtATime,
                      bool* complete = nullptr);

// Runs one case with fresh translators from `make`. Reports failures with gtest
// (ADD_FAILURE naming the case and file); fails if the case has no checks at all.
void runCase(std::string_view name, const std::function<std::unique_ptr<Translator>()>& make);

}  // namespace finops::dp::golden
