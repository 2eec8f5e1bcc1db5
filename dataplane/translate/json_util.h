// Small helpers the translators share for reading JSON DOMs and reporting bad input.
#pragma once

#include <string>

#include "dataplane/translate/translator.h"

namespace finops::dp {

// The member `key` of object `o`, or nullptr when `o` is not an object, has no such member
// or it is null. Works for nlohmann::json and nlohmann::ordered_json.
template <typename Json, typename Key>
const Json* member(const Json& o, const Key& key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return nullptr;
  return &*it;
}

// 400 invalid_type: "Invalid type for '<param>': expected <expected>."
inline ApiError badType(const std::string& param, const char* expected) {
  return apiError(400, "invalid_request_error", "invalid_type",
                  "Invalid type for '" + param + "': expected " + expected + ".", param);
}

}  // namespace finops::dp
