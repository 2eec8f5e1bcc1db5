// Small helpers the translators share for reading JSON DOMs and reporting bad input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dataplane/schema/json_limits.h"
#include "dataplane/translate/translator.h"

namespace finops::dp {

// How deep untrusted JSON may nest before the translators refuse it. Request bodies are
// checked against the configured --max-json-depth before any parse, but JSON also arrives
// inside strings (tool-call arguments, tool results) and from upstreams, and nlohmann's
// serialiser and our walkers recurse once per level: without a bound, one deep value would
// overflow a worker's stack.
inline constexpr int kMaxJsonDepth = 128;

// Parses untrusted JSON text without throwing: a discarded value when the text is invalid or
// nests deeper than kMaxJsonDepth. Use it for every parse of bytes from a client or upstream.
template <typename Json = nlohmann::json>
Json parseUntrusted(std::string_view text) {
  if (json_limits::tooDeep(text, kMaxJsonDepth)) return Json(Json::value_t::discarded);
  return Json::parse(text, nullptr, false);
}

// The member `key` of object `o`, or nullptr when `o` is not an object, has no such member
// or it is null. Works for nlohmann::json and nlohmann::ordered_json.
template <typename Json, typename Key>
const Json* member(const Json& o, const Key& key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return nullptr;
  return &*it;
}

// Token counts read from upstream usage objects are kept within [0, kMaxTokenCount]: never
// negative (a negative count would be a credit), and small enough that sums of a few of them
// never overflow. (2^40, about 1.1e12, is far beyond any real request.)
inline constexpr int64_t kMaxTokenCount = int64_t{1} << 40;

// A JSON number as a token count: fractions truncated, clamped to [0, kMaxTokenCount];
// `fallback` when `v` is not a number. Never converts an out-of-range double (that is
// undefined behaviour).
template <typename Json>
int64_t tokenCount(const Json& v, int64_t fallback = 0) {
  if (!v.is_number()) return fallback;
  if (v.is_number_unsigned()) {
    const auto u = v.template get<uint64_t>();
    return u > static_cast<uint64_t>(kMaxTokenCount) ? kMaxTokenCount : static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return std::clamp<int64_t>(v.template get<int64_t>(), 0, kMaxTokenCount);
  const double d = v.template get<double>();
  if (!(d > 0)) return 0;  // negative, zero, NaN
  return d >= static_cast<double>(kMaxTokenCount) ? kMaxTokenCount : static_cast<int64_t>(d);
}

// How many members of the top-level object scanned into `scan` (from `text`) have the key
// `key`, with escapes in keys decoded ("mod\u0065l" is "model").
inline size_t countMembers(std::string_view text, const json_scan::Result& scan,
                           std::string_view key) {
  size_t n = 0;
  for (const auto& m : scan.members) {
    if (m.rawKey.find('\\') == std::string_view::npos) {
      n += m.rawKey == key;
      continue;
    }
    // The raw key sits between quotes in `text`: decode it as a string value.
    json_scan::Member k;
    k.valueBegin = static_cast<size_t>(m.rawKey.data() - text.data()) - 1;
    k.valueEnd = k.valueBegin + m.rawKey.size() + 2;
    k.kind = 's';
    n += json_scan::stringValue(text, k) == key;
  }
  return n;
}

// A translator that forwards the client's bytes and rewrites some members in place must see
// each of them once: JSON parsers upstream keep the last of duplicate members, so a second
// "model" (or "mod\u0065l") would reach the provider instead of the one the gateway checked
// and priced. 400 duplicate_member naming the first repeated key, or nullopt.
inline std::optional<ApiError> refuseDuplicateMembers(std::string_view text,
                                                      const json_scan::Result& scan,
                                                      std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys)
    if (countMembers(text, scan, key) > 1)
      return apiError(400, "invalid_request_error", "duplicate_member",
                      "The request body has more than one '" + std::string(key) +
                          "' member (escaped spellings of a key count as the same key).",
                      std::string(key));
  return std::nullopt;
}

// 400 invalid_type: "Invalid type for '<param>': expected <expected>."
inline ApiError badType(const std::string& param, const char* expected) {
  return apiError(400, "invalid_request_error", "invalid_type",
                  "Invalid type for '" + param + "': expected " + expected + ".", param);
}

}  // namespace finops::dp
