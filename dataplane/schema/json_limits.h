// Cheap checks of a request body against the gateway's hostile-input limits, run before any
// JSON parser builds anything: how deep the nesting goes, and how many messages a
// conversation holds. Pure functions, safe on any byte string (the fuzzers call them).
#pragma once

#include <cstddef>
#include <string_view>

#include "dataplane/schema/json_scan.h"

namespace finops::dp::json_limits {

// The deepest object/array nesting in `text` ("{}" and "[]" are depth 1, "[[]]" depth 2),
// found by one pass over the bytes: '{' and '[' outside strings open a level, '}' and ']'
// close one, and inside strings backslash escapes are skipped (so "\"[" opens nothing).
// Stops at the first level deeper than `limit` and returns limit + 1. Invalid JSON gives some
// depth (never negative), never a crash.
int maxDepth(std::string_view text, int limit);

inline bool tooDeep(std::string_view text, int limit) { return maxDepth(text, limit) > limit; }

// The number of elements of `arrayText`, a valid JSON array ("[...]", as json_scan validated
// it): the values separated by commas at its top level.
size_t arrayLength(std::string_view arrayText);

// The length of the array that the top-level member `key` of the object scanned into `scan`
// (from `text`) holds. Keys are compared decoded, so "messag\u0065s" counts as "messages";
// with duplicate keys the longest array counts. -1 when no such member holds an array.
long long memberArrayLength(std::string_view text, const json_scan::Result& scan,
                            std::string_view key);

}  // namespace finops::dp::json_limits
