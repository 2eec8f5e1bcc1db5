#include "tests/fuzz/fuzz_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace finops::fuzz {

void fail(const char* file, int line, const char* what, std::string_view detail) {
  std::fprintf(stderr, "\n==== invariant failed at %s:%d: %s\n", file, line, what);
  if (!detail.empty())
    std::fprintf(stderr, "==== %.*s\n", static_cast<int>(std::min<size_t>(detail.size(), 4000)),
                 detail.data());
  std::abort();
}

std::vector<std::string_view> pieces(std::string_view data, uint8_t seed) {
  std::vector<std::string_view> out;
  uint32_t state = 0x9E3779B9u ^ seed;
  const size_t maxPiece = seed == 0 ? 1 : 1 + (size_t{seed} * seed) / 16;  // 1 .. 4065
  while (!data.empty()) {
    state = state * 1664525u + 1013904223u;
    size_t n = 1 + (state >> 8) % maxPiece;
    n = std::min(n, data.size());
    out.push_back(data.substr(0, n));
    data.remove_prefix(n);
  }
  return out;
}

bool isJson(std::string_view text) {
  // nlohmann stops at a NUL byte as if the text ended there; valid JSON has none (control
  // characters in strings are escaped).
  return text.find('\0') == std::string_view::npos && nlohmann::json::accept(text);
}

std::vector<sse::Event> sseEvents(std::string_view text) {
  std::vector<sse::Event> events;
  sse::Parser p;
  auto add = [&](const sse::Event& e) { events.push_back(e); };
  p.feed(text, add);
  p.feed("\n\n", add);
  return events;
}

std::pair<std::string_view, std::string_view> splitAtNul(std::string_view data) {
  size_t nul = data.find('\0');
  if (nul == std::string_view::npos) return {data, {}};
  return {data.substr(0, nul), data.substr(nul + 1)};
}

}  // namespace finops::fuzz
