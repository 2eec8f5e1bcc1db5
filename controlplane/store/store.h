// The control plane's state in SQLite. One connection guarded by a mutex: every method is
// thread-safe and runs in its own transaction. Mutations bump the config version in the
// same transaction. Errors are thrown as StoreError (caller-facing) or std::exception
// (internal failures).
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace finops::cp {

class StoreError : public std::runtime_error {
 public:
  enum class Code { kNotFound, kAlreadyExists, kInvalidArgument };
  StoreError(Code code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

struct ProviderKeyRow {
  std::string id;
  std::string value;  // SECRET
};

struct ProviderRow {
  std::string name;
  std::string type;  // "openai"
  std::string baseUrl;
  std::vector<std::string> models;
  bool listUpstreamModels = true;
  std::vector<ProviderKeyRow> keys;
  int64_t createdAt = 0;
  int64_t updatedAt = 0;
};

struct VirtualKeyRow {
  std::string id;
  std::string name;
  std::string keyHash;  // 32 raw bytes
  std::string keyPrefix;
  std::string status;  // "active" | "revoked"
  int64_t createdAt = 0;
  std::optional<int64_t> revokedAt;
};

struct SettingsRow {
  bool enforceKeys = true;
  std::vector<std::string> forwardHeaders;  // lower case
};

struct AdminTokenRow {
  std::string id;
  std::string name;
  std::string scope;
};

// Everything a snapshot is built from, read in one transaction.
struct StateView {
  uint64_t version = 0;
  std::vector<ProviderRow> providers;
  std::vector<VirtualKeyRow> keys;
  SettingsRow settings;
};

struct ProviderPatch {
  std::optional<std::string> baseUrl;
  std::optional<std::vector<std::string>> keys;    // replaces all keys
  std::optional<std::vector<std::string>> models;  // replaces the list
  std::optional<bool> listUpstreamModels;
};

struct SettingsPatch {
  std::optional<bool> enforceKeys;
  std::optional<std::vector<std::string>> forwardHeaders;
};

class Store {
 public:
  // Opens (creating directories and the file as needed) and migrates. Throws on failure.
  explicit Store(const std::string& path);

  // --- admin tokens (admin_tokens.cc)
  // Creates the first admin token if none exists; returns it (the only time it is seen).
  std::optional<std::string> ensureInitialAdminToken();
  std::optional<AdminTokenRow> findAdminToken(std::string_view token);

  // --- providers (providers.cc)
  ProviderRow createProvider(ProviderRow row, const std::vector<std::string>& keys);
  ProviderRow updateProvider(const std::string& name, const ProviderPatch& patch);
  ProviderRow getProvider(const std::string& name);
  std::vector<ProviderRow> listProviders();
  ProviderRow deleteProvider(const std::string& name);

  // --- virtual keys (keys.cc)
  // Returns the row and the secret key (shown once).
  std::pair<VirtualKeyRow, std::string> createKey(const std::string& name);
  VirtualKeyRow getKey(const std::string& id);
  std::vector<VirtualKeyRow> listKeys();
  VirtualKeyRow revokeKey(const std::string& id);

  // --- settings (settings.cc)
  SettingsRow getSettings();
  SettingsRow updateSettings(const SettingsPatch& patch);

  uint64_t configVersion();
  StateView loadState();

 private:
  void bumpVersionLocked();
  uint64_t versionLocked();
  std::vector<ProviderRow> listProvidersLocked(const std::string* only);
  std::vector<VirtualKeyRow> listKeysLocked(const std::string* only);
  SettingsRow settingsLocked();

  std::mutex mu_;
  SQLite::Database db_;  // GUARDED_BY(mu_)
};

// Prefix of virtual keys.
inline constexpr const char* kVirtualKeyPrefix = "sk-fo-";
inline constexpr const char* kAdminTokenPrefix = "fo-admin-";

}  // namespace finops::cp
