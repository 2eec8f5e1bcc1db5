#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <nlohmann/json.hpp>

#include "common/header_policy.h"
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

// A stored JSON array of strings, or nullopt when the setting was never written.
std::optional<std::vector<std::string>> readList(SQLite::Database& db, const char* key) {
  auto v = readSetting(db, key);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(*v, nullptr, false);
  if (j.is_array())
    for (auto& h : j)
      if (h.is_string()) out.push_back(h.get<std::string>());
  return out;
}

void writeList(SQLite::Database& db, SettingList list, const std::vector<std::string>& entries) {
  std::vector<std::string> normalized;
  if (auto err = normalizeSettingList(list, entries, normalized))
    throw StoreError(StoreError::Code::kInvalidArgument, *err);
  writeSetting(db, settingListName(list), nlohmann::json(normalized).dump());
}
}  // namespace

SettingsRow Store::settingsLocked() {
  SettingsRow s;
  if (auto v = readSetting(db_, "enforce_keys")) s.enforceKeys = *v != "false";
  s.forwardHeaders = readList(db_, "forward_headers").value_or(std::vector<std::string>{});
  s.allowedHeaders = readList(db_, "allowed_headers").value_or(defaultAllowedHeaders());
  s.allowedOrigins = readList(db_, "allowed_origins").value_or(defaultAllowedOrigins());
  s.extraHeaders = readList(db_, "extra_headers").value_or(std::vector<std::string>{});
  if (auto v = readSetting(db_, "log_content")) s.logContent = *v != "false";
  if (auto v = readSetting(db_, "revision")) s.revision = std::stoull(*v);
  return s;
}

SettingsRow Store::getSettings() {
  std::lock_guard lock(mu_);
  return settingsLocked();
}

SettingsRow Store::updateSettings(const SettingsPatch& patch) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  uint64_t revision = 0;
  if (auto v = readSetting(db_, "revision")) revision = std::stoull(*v);
  if (patch.ifRevision && *patch.ifRevision != revision)
    throw StoreError(StoreError::Code::kAborted,
                     "the settings changed since they were read (revision " +
                         std::to_string(*patch.ifRevision) + ", now " + std::to_string(revision) +
                         "): read them again and retry");
  writeSetting(db_, "revision", std::to_string(revision + 1));
  if (patch.enforceKeys) writeSetting(db_, "enforce_keys", *patch.enforceKeys ? "true" : "false");
  if (patch.forwardHeaders) writeList(db_, SettingList::kForwardHeaders, *patch.forwardHeaders);
  if (patch.allowedHeaders) writeList(db_, SettingList::kAllowedHeaders, *patch.allowedHeaders);
  if (patch.allowedOrigins) writeList(db_, SettingList::kAllowedOrigins, *patch.allowedOrigins);
  if (patch.extraHeaders) writeList(db_, SettingList::kExtraHeaders, *patch.extraHeaders);
  if (patch.logContent) writeSetting(db_, "log_content", *patch.logContent ? "true" : "false");
  bumpVersionLocked();
  SettingsRow s = settingsLocked();
  tx.commit();
  return s;
}

}  // namespace finops::cp
