#include <algorithm>

#include "cli/args.h"
#include "cli/connection.h"
#include "cli/settings.h"
#include "common/header_policy.h"

namespace finops::cli {
namespace {
bool isEdit(const std::string& value) {
  return !value.empty() && (value.front() == '+' || value.front() == '-');
}
}  // namespace

bool isListSetting(const std::string& key) {
  return key == "forward_headers" || key == "allowed_headers" || key == "allowed_origins" ||
         key == "extra_headers";
}

bool isBoolSetting(const std::string& key) { return key == "enforce_keys" || key == "log_content"; }

bool parseBoolSetting(const std::string& key, const std::string& v) {
  if (v == "true" || v == "on" || v == "1" || v == "yes" || v == "default") return true;
  if (v == "false" || v == "off" || v == "0" || v == "no") return false;
  throw CliError(kExitUsage, key + " must be true or false, not '" + v + "'");
}

std::vector<std::string> settingDefault(const std::string& key) {
  if (key == "allowed_headers") return defaultAllowedHeaders();
  if (key == "allowed_origins") return defaultAllowedOrigins();
  return {};
}

std::vector<std::string> editSettingList(const std::string& key,
                                         const std::vector<std::string>& current,
                                         const std::string& value) {
  if (value == "default") return settingDefault(key);
  std::vector<std::string> items = splitList(value);
  if (!isEdit(value)) {
    for (const auto& i : items)
      if (i.front() == '+' || i.front() == '-')
        throw CliError(kExitUsage, key + ": '" + i +
                                       "': start the value with + or - to edit the current "
                                       "list (e.g. " +
                                       key + "=+a,b), or give the whole list");
    return items;
  }
  std::vector<std::string> out = current;
  auto find = [&](const std::string& entry) {
    return std::find_if(out.begin(), out.end(),
                        [&](const std::string& e) { return asciiLower(e) == asciiLower(entry); });
  };
  bool adding = true;
  for (std::string item : items) {
    if (item.front() == '+' || item.front() == '-') {
      adding = item.front() == '+';
      item.erase(0, 1);
      while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    }
    if (item.empty()) throw CliError(kExitUsage, key + ": empty entry in '" + value + "'");
    auto it = find(item);
    if (adding) {
      if (it == out.end()) out.push_back(item);
    } else {
      if (it == out.end()) {
        std::string now;
        for (const auto& e : out) now += (now.empty() ? "" : ",") + e;
        throw CliError(kExitUsage, key + ": '" + item + "' is not in the list (now: " +
                                       (now.empty() ? "empty" : now) + ")");
      }
      out.erase(it);
    }
  }
  return out;
}

}  // namespace finops::cli
