// `finopsctl settings`: the pieces that can be tested without a control plane.
#pragma once

#include <string>
#include <vector>

namespace finops::cli {

// The settings that are lists of names or origins.
bool isListSetting(const std::string& key);
// The settings that are true or false (enforce_keys, log_content).
bool isBoolSetting(const std::string& key);
// A bool setting's value: true/on/yes/1/default (both default to true) or false/off/no/0.
// Throws CliError(kExitUsage) naming `key` otherwise.
bool parseBoolSetting(const std::string& key, const std::string& value);
// A list setting's default ({} for forward_headers and extra_headers).
std::vector<std::string> settingDefault(const std::string& key);

// Applies one `key=value` edit to `current`:
//   "a,b"        replaces the list ("" empties it)
//   "+a,b"       adds a and b (entries already there stay once)
//   "-a,b"       removes a and b (a usage error if one is not in the list)
//   "+a,-b,c"    once the value starts with a sign, each entry may carry its own; an entry
//                without one takes the sign before it (here: add a, remove b and c)
//   "default"    the setting's default
// Entries are compared case-insensitively. Throws CliError(kExitUsage) on a bad edit.
std::vector<std::string> editSettingList(const std::string& key,
                                         const std::vector<std::string>& current,
                                         const std::string& value);

}  // namespace finops::cli
