#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/url.h"
#include "controlplane/store/secrets.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {
using Code = StoreError::Code;

void validateName(const std::string& name) {
  if (name.empty() || name.size() > 64)
    throw StoreError(Code::kInvalidArgument, "provider name must be 1 to 64 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok)
      throw StoreError(Code::kInvalidArgument,
                       "provider name '" + name +
                           "' may contain only lower-case letters, digits, '-', '_' and '.'");
  }
}

void validateUrl(const std::string& url) {
  std::string err;
  if (parseUrl(url, &err)) return;
  // Never echo the URL into the error, which reaches logs and the audit log: user info
  // ("https://user:password@host") or a query ("?key=AIza...") may hold a credential.
  throw StoreError(Code::kInvalidArgument, "base URL: " + err);
}

void validateModels(const std::vector<std::string>& models) {
  for (const auto& m : models)
    if (m.empty() || m.size() > 256)
      throw StoreError(Code::kInvalidArgument, "model names must be 1 to 256 characters");
}

// A Vertex AI key is a service-account JSON key file.
void validateServiceAccount(const std::string& k) {
  auto j = nlohmann::json::parse(k, nullptr, false);
  if (!j.is_object())
    throw StoreError(Code::kInvalidArgument,
                     "a Vertex AI key must be a service-account JSON key file (it is not JSON)");
  for (const char* field : {"client_email", "private_key"})
    if (!j.contains(field) || !j[field].is_string() || j[field].get<std::string>().empty())
      throw StoreError(Code::kInvalidArgument,
                       std::string("the service-account JSON has no '") + field + "'");
  if (j.contains("type") && j["type"] != "service_account")
    throw StoreError(Code::kInvalidArgument,
                     "the JSON key is not a service account's (type is not 'service_account')");
}

void validateKeys(const std::string& type, const std::vector<std::string>& keys) {
  if (type == "vertex" && keys.size() != 1)
    throw StoreError(Code::kInvalidArgument,
                     "a Vertex AI provider needs exactly one service-account key");
  for (const auto& k : keys) {
    if (type == "vertex") {
      validateServiceAccount(k);
      continue;
    }
    if (k.empty()) throw StoreError(Code::kInvalidArgument, "an API key is empty");
    if (isSealed(k))
      throw StoreError(Code::kInvalidArgument,
                       "an API key cannot start with 'fenc1:' (the prefix of encrypted values)");
    for (char c : k)
      if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
        throw StoreError(Code::kInvalidArgument,
                         "an API key contains whitespace or control characters");
  }
}

const char* kTypes[] = {"openai", "anthropic", "gemini", "vertex"};

void validateType(const std::string& type) {
  for (const char* t : kTypes)
    if (type == t) return;
  throw StoreError(Code::kInvalidArgument,
                   "unknown provider type '" + type + "' (openai, anthropic, gemini, vertex)");
}

void validateOptions(const ProviderRow& r) {
  const auto& o = r.options;
  if (o.defaultMaxTokens < 0 || o.defaultMaxTokens > 10'000'000)
    throw StoreError(Code::kInvalidArgument, "default max tokens must be between 1 and 10000000");
  if (!o.tokenUrl.empty()) validateUrl(o.tokenUrl);
  auto label = [](const std::string& v, const char* what) {
    for (char c : v) {
      bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
      if (!ok)
        throw StoreError(Code::kInvalidArgument,
                         std::string(what) + " '" + v + "' may contain only letters, digits, '-', '_', '.' and ':'");
    }
  };
  label(o.vertexProject, "Vertex project");
  label(o.vertexLocation, "Vertex location");
  if (r.type == "vertex" && (o.vertexProject.empty() || o.vertexLocation.empty()))
    throw StoreError(Code::kInvalidArgument, "a Vertex AI provider needs a project and a location");
}

std::string optionsJson(const ProviderOptionsRow& o) {
  nlohmann::json j = nlohmann::json::object();
  if (o.defaultMaxTokens) j["default_max_tokens"] = o.defaultMaxTokens;
  if (!o.vertexProject.empty()) j["vertex_project"] = o.vertexProject;
  if (!o.vertexLocation.empty()) j["vertex_location"] = o.vertexLocation;
  if (!o.tokenUrl.empty()) j["token_url"] = o.tokenUrl;
  return j.dump();
}

ProviderOptionsRow parseOptions(const std::string& text) {
  ProviderOptionsRow o;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return o;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (auto it = j.find("default_max_tokens"); it != j.end() && it->is_number_integer())
    o.defaultMaxTokens = it->get<int64_t>();
  o.vertexProject = str("vertex_project");
  o.vertexLocation = str("vertex_location");
  o.tokenUrl = str("token_url");
  return o;
}

// --- provider keys at rest: sealed with the keyring, bound to (row id, provider name) so a
// value copied to another row or provider does not open.
std::string secretAad(const std::string& rowId, const std::string& provider) {
  return "finops provider_keys:" + rowId + ":" + provider;
}

std::string sealSecret(const Keyring* keyring, const std::string& rowId,
                       const std::string& provider, const std::string& plaintext) {
  if (!keyring) throw SecretsError("no master key is installed: provider keys cannot be stored");
  return keyring->seal(plaintext, secretAad(rowId, provider));
}

// The plaintext of a stored value. A value not in the sealed format was written in the clear
// by an older version (installKeyring seals those at startup) and is returned as it is.
std::string openSecret(const Keyring* keyring, const std::string& rowId,
                       const std::string& provider, const std::string& stored) {
  if (!isSealed(stored)) return stored;
  auto where = "provider '" + provider + "' key " + rowId + ": ";
  if (!keyring)
    throw SecretsError(where + "encrypted with master key " + sealedKeyId(stored) +
                       ", but no master key is installed");
  try {
    return keyring->open(stored, secretAad(rowId, provider));
  } catch (const SecretsError& e) {
    throw SecretsError(where + e.what());
  }
}

void insertKeys(SQLite::Database& db, const Keyring* keyring, const std::string& provider,
                const std::vector<std::string>& keys) {
  int64_t now = std::time(nullptr);
  int pos = 0;
  for (const auto& k : keys) {
    SQLite::Statement ins(db,
                          "INSERT INTO provider_keys(id, provider_name, position, value, created_at) "
                          "VALUES (?, ?, ?, ?, ?)");
    std::string id = randomId("pk_");
    ins.bind(1, id);
    ins.bind(2, provider);
    ins.bind(3, pos++);
    ins.bind(4, sealSecret(keyring, id, provider, k));
    ins.bind(5, now);
    ins.exec();
  }
}
}  // namespace

std::vector<ProviderRow> Store::listProvidersLocked(const std::string* only) {
  std::vector<ProviderRow> rows;
  std::string sql =
      "SELECT name, type, base_url, models, list_upstream_models, created_at, updated_at, "
      "options "
      "FROM providers";
  if (only) sql += " WHERE name = ?";
  sql += " ORDER BY name";
  SQLite::Statement q(db_, sql);
  if (only) q.bind(1, *only);
  while (q.executeStep()) {
    ProviderRow r;
    r.name = q.getColumn(0).getString();
    r.type = q.getColumn(1).getString();
    r.baseUrl = q.getColumn(2).getString();
    auto models = nlohmann::json::parse(q.getColumn(3).getString(), nullptr, false);
    if (models.is_array())
      for (auto& m : models)
        if (m.is_string()) r.models.push_back(m.get<std::string>());
    r.listUpstreamModels = q.getColumn(4).getInt() != 0;
    r.createdAt = q.getColumn(5).getInt64();
    r.updatedAt = q.getColumn(6).getInt64();
    r.options = parseOptions(q.getColumn(7).getString());
    rows.push_back(std::move(r));
  }
  for (auto& r : rows) {
    SQLite::Statement k(db_,
                        "SELECT id, value FROM provider_keys WHERE provider_name = ? "
                        "ORDER BY position");
    k.bind(1, r.name);
    while (k.executeStep()) {
      std::string id = k.getColumn(0).getString();
      std::string value = openSecret(keyring_.get(), id, r.name, k.getColumn(1).getString());
      r.keys.push_back({std::move(id), std::move(value)});
    }
  }
  return rows;
}

ProviderRow Store::createProvider(ProviderRow row, const std::vector<std::string>& keys) {
  validateName(row.name);
  validateType(row.type);
  validateUrl(row.baseUrl);
  validateModels(row.models);
  validateKeys(row.type, keys);
  validateOptions(row);
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  if (!listProvidersLocked(&row.name).empty())
    throw StoreError(Code::kAlreadyExists, "provider '" + row.name + "' already exists");
  int64_t now = std::time(nullptr);
  SQLite::Statement ins(db_,
                        "INSERT INTO providers(name, type, base_url, models, list_upstream_models, "
                        "created_at, updated_at, options) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, row.name);
  ins.bind(2, row.type);
  ins.bind(3, row.baseUrl);
  ins.bind(4, nlohmann::json(row.models).dump());
  ins.bind(5, row.listUpstreamModels ? 1 : 0);
  ins.bind(6, now);
  ins.bind(7, now);
  ins.bind(8, optionsJson(row.options));
  ins.exec();
  insertKeys(db_, keyring_.get(), row.name, keys);
  bumpVersionLocked();
  auto out = listProvidersLocked(&row.name).at(0);
  tx.commit();
  return out;
}

ProviderRow Store::updateProvider(const std::string& name, const ProviderPatch& patch) {
  if (patch.baseUrl) validateUrl(*patch.baseUrl);
  if (patch.models) validateModels(*patch.models);
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  auto existing = listProvidersLocked(&name);
  if (existing.empty()) throw StoreError(Code::kNotFound, "provider '" + name + "' not found");
  ProviderRow r = existing[0];
  if (patch.baseUrl) r.baseUrl = *patch.baseUrl;
  if (patch.models) r.models = *patch.models;
  if (patch.listUpstreamModels) r.listUpstreamModels = *patch.listUpstreamModels;
  if (patch.keys) validateKeys(r.type, *patch.keys);
  if (patch.defaultMaxTokens) r.options.defaultMaxTokens = *patch.defaultMaxTokens;
  if (patch.vertexProject) r.options.vertexProject = *patch.vertexProject;
  if (patch.vertexLocation) r.options.vertexLocation = *patch.vertexLocation;
  if (patch.tokenUrl) r.options.tokenUrl = *patch.tokenUrl;
  validateOptions(r);
  SQLite::Statement up(db_,
                       "UPDATE providers SET base_url = ?, models = ?, list_upstream_models = ?, "
                       "updated_at = ?, options = ? WHERE name = ?");
  up.bind(1, r.baseUrl);
  up.bind(2, nlohmann::json(r.models).dump());
  up.bind(3, r.listUpstreamModels ? 1 : 0);
  up.bind(4, static_cast<int64_t>(std::time(nullptr)));
  up.bind(5, optionsJson(r.options));
  up.bind(6, name);
  up.exec();
  if (patch.keys) {
    SQLite::Statement del(db_, "DELETE FROM provider_keys WHERE provider_name = ?");
    del.bind(1, name);
    del.exec();
    insertKeys(db_, keyring_.get(), name, *patch.keys);
  }
  bumpVersionLocked();
  auto out = listProvidersLocked(&name).at(0);
  tx.commit();
  return out;
}

ProviderRow Store::getProvider(const std::string& name) {
  std::lock_guard lock(mu_);
  auto rows = listProvidersLocked(&name);
  if (rows.empty()) throw StoreError(Code::kNotFound, "provider '" + name + "' not found");
  return rows[0];
}

std::vector<ProviderRow> Store::listProviders() {
  std::lock_guard lock(mu_);
  return listProvidersLocked(nullptr);
}

std::set<std::string> Store::providerSecretKeyIds() {
  std::lock_guard lock(mu_);
  std::set<std::string> ids;
  SQLite::Statement q(db_, "SELECT value FROM provider_keys");
  while (q.executeStep()) {
    std::string value = q.getColumn(0).getString();
    if (!isSealed(value)) continue;
    // A value without a key id is reported, with its row, by installKeyring.
    if (std::string id = sealedKeyId(value); !id.empty()) ids.insert(id);
  }
  return ids;
}

KeyringInstallResult Store::installKeyring(std::shared_ptr<const Keyring> keyring) {
  if (!keyring) throw std::invalid_argument("installKeyring: null keyring");
  std::lock_guard lock(mu_);
  KeyringInstallResult result;
  {
    SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
    struct Stored {
      std::string id, provider, value;
    };
    std::vector<Stored> rows;
    SQLite::Statement q(db_, "SELECT id, provider_name, value FROM provider_keys ORDER BY id");
    while (q.executeStep())
      rows.push_back(
          {q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()});
    result.total = static_cast<int>(rows.size());
    for (const auto& r : rows) {
      bool sealed = isSealed(r.value);
      // Opens (authenticates) every value, also those already under the current key.
      std::string plain = openSecret(keyring.get(), r.id, r.provider, r.value);
      if (sealed && sealedKeyId(r.value) == keyring->currentId()) continue;
      SQLite::Statement up(db_, "UPDATE provider_keys SET value = ? WHERE id = ?");
      up.bind(1, keyring->seal(plain, secretAad(r.id, r.provider)));
      up.bind(2, r.id);
      up.exec();
      ++(sealed ? result.rotated : result.plaintext);
    }
    tx.commit();
  }
  keyring_ = std::move(keyring);
  if (result.rotated + result.plaintext > 0) {
    // The old values (in the clear, or under a key being retired) must not survive in free
    // pages or in the write-ahead log: rebuild the file, then empty the log.
    db_.exec("VACUUM");
    db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return result;
}

ProviderRow Store::deleteProvider(const std::string& name) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  auto rows = listProvidersLocked(&name);
  if (rows.empty()) throw StoreError(Code::kNotFound, "provider '" + name + "' not found");
  SQLite::Statement del(db_, "DELETE FROM providers WHERE name = ?");
  del.bind(1, name);
  del.exec();
  bumpVersionLocked();
  tx.commit();
  return rows[0];
}

}  // namespace finops::cp
