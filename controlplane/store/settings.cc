#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <nlohmann/json.hpp>

#include "controlplane/store/store.h"

namespace finops::cp {
namespace {
std::optional<std::string> readSetting(SQLite::Database& db, const char* key) {
  SQLite::Statement q(db, "SELECT value FROM settings WHERE key = ?");
  q.bind(1, key);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}
void writeSetting(SQLite::Database& db, const char* key, const std::string& value) {
  SQLite::Statement q(db,
                      "INSERT INTO settings(key, value) VALUES (?, ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  q.bind(1, key);
  q.bind(2, value);
  q.exec();
}
}  // namespace

SettingsRow Store::settingsLocked() {
  SettingsRow s;
  if (auto v = readSetting(db_, "enforce_keys")) s.enforceKeys = *v != "false";
  if (auto v = readSetting(db_, "forward_headers")) {
    auto j = nlohmann::json::parse(*v, nullptr, false);
    if (j.is_array())
      for (auto& h : j)
        if (h.is_string()) s.forwardHeaders.push_back(h.get<std::string>());
  }
  return s;
}

SettingsRow Store::getSettings() {
  std::lock_guard lock(mu_);
  return settingsLocked();
}

SettingsRow Store::updateSettings(const SettingsPatch& patch) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_);
  if (patch.enforceKeys) writeSetting(db_, "enforce_keys", *patch.enforceKeys ? "true" : "false");
  if (patch.forwardHeaders) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& h : *patch.forwardHeaders) {
      if (h.empty() || h.find_first_of(" :\r\n\t") != std::string::npos)
        throw StoreError(StoreError::Code::kInvalidArgument, "invalid header name: '" + h + "'");
      std::string lower;
      for (char c : h) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      arr.push_back(lower);
    }
    writeSetting(db_, "forward_headers", arr.dump());
  }
  bumpVersionLocked();
  SettingsRow s = settingsLocked();
  tx.commit();
  return s;
}

}  // namespace finops::cp
