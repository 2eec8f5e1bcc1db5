// Helpers shared by the fuzz targets: invariant checks that stop the fuzzer with a message,
// fuzzer-chosen chunking, and small JSON/SSE predicates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/sse/parser.h"

namespace finops::fuzz {

// Prints "invariant failed at file:line: what (detail)" to stderr and aborts, so that
// libFuzzer records the input as a crash.
[[noreturn]] void fail(const char* file, int line, const char* what, std::string_view detail);

#define FUZZ_CHECK(cond, detail)                                          \
  do {                                                                    \
    if (!(cond)) ::finops::fuzz::fail(__FILE__, __LINE__, #cond, detail); \
  } while (0)

// The input split into pieces whose sizes come from `seed`: seed 0 gives one byte per
// piece; otherwise sizes vary pseudo-randomly between 1 and a maximum that grows with the
// seed (so the fuzzer can explore both fine and coarse splits). Concatenated, the pieces
// are `data`.
std::vector<std::string_view> pieces(std::string_view data, uint8_t seed);

// RFC 8259 JSON (nlohmann's strict parser: UTF-8 checked, no comments, no NUL bytes).
bool isJson(std::string_view text);

// The events of an SSE text, plus a last unterminated one.
std::vector<sse::Event> sseEvents(std::string_view text);

// The text up to the first NUL byte, and what follows it ("" when there is none).
std::pair<std::string_view, std::string_view> splitAtNul(std::string_view data);

}  // namespace finops::fuzz
