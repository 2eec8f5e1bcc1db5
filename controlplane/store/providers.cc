#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/url.h"
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
  if (!parseUrl(url, &err)) throw StoreError(Code::kInvalidArgument, "base URL '" + url + "': " + err);
}

void validateModels(const std::vector<std::string>& models) {
  for (const auto& m : models)
    if (m.empty() || m.size() > 256)
      throw StoreError(Code::kInvalidArgument, "model names must be 1 to 256 characters");
}

void validateKeys(const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    if (k.empty()) throw StoreError(Code::kInvalidArgument, "an API key is empty");
    for (char c : k)
      if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
        throw StoreError(Code::kInvalidArgument,
                         "an API key contains whitespace or control characters");
  }
}

void insertKeys(SQLite::Database& db, const std::string& provider,
                const std::vector<std::string>& keys) {
  int64_t now = std::time(nullptr);
  int pos = 0;
  for (const auto& k : keys) {
    SQLite::Statement ins(db,
                          "INSERT INTO provider_keys(id, provider_name, position, value, created_at) "
                          "VALUES (?, ?, ?, ?, ?)");
    ins.bind(1, randomId("pk_"));
    ins.bind(2, provider);
    ins.bind(3, pos++);
    ins.bind(4, k);
    ins.bind(5, now);
    ins.exec();
  }
}
}  // namespace

std::vector<ProviderRow> Store::listProvidersLocked(const std::string* only) {
  std::vector<ProviderRow> rows;
  std::string sql =
      "SELECT name, type, base_url, models, list_upstream_models, created_at, updated_at "
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
    rows.push_back(std::move(r));
  }
  for (auto& r : rows) {
    SQLite::Statement k(db_,
                        "SELECT id, value FROM provider_keys WHERE provider_name = ? "
                        "ORDER BY position");
    k.bind(1, r.name);
    while (k.executeStep()) r.keys.push_back({k.getColumn(0).getString(), k.getColumn(1).getString()});
  }
  return rows;
}

ProviderRow Store::createProvider(ProviderRow row, const std::vector<std::string>& keys) {
  validateName(row.name);
  validateUrl(row.baseUrl);
  validateModels(row.models);
  validateKeys(keys);
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_);
  if (!listProvidersLocked(&row.name).empty())
    throw StoreError(Code::kAlreadyExists, "provider '" + row.name + "' already exists");
  int64_t now = std::time(nullptr);
  SQLite::Statement ins(db_,
                        "INSERT INTO providers(name, type, base_url, models, list_upstream_models, "
                        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, row.name);
  ins.bind(2, row.type);
  ins.bind(3, row.baseUrl);
  ins.bind(4, nlohmann::json(row.models).dump());
  ins.bind(5, row.listUpstreamModels ? 1 : 0);
  ins.bind(6, now);
  ins.bind(7, now);
  ins.exec();
  insertKeys(db_, row.name, keys);
  bumpVersionLocked();
  auto out = listProvidersLocked(&row.name).at(0);
  tx.commit();
  return out;
}

ProviderRow Store::updateProvider(const std::string& name, const ProviderPatch& patch) {
  if (patch.baseUrl) validateUrl(*patch.baseUrl);
  if (patch.models) validateModels(*patch.models);
  if (patch.keys) validateKeys(*patch.keys);
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_);
  auto existing = listProvidersLocked(&name);
  if (existing.empty()) throw StoreError(Code::kNotFound, "provider '" + name + "' not found");
  ProviderRow r = existing[0];
  if (patch.baseUrl) r.baseUrl = *patch.baseUrl;
  if (patch.models) r.models = *patch.models;
  if (patch.listUpstreamModels) r.listUpstreamModels = *patch.listUpstreamModels;
  SQLite::Statement up(db_,
                       "UPDATE providers SET base_url = ?, models = ?, list_upstream_models = ?, "
                       "updated_at = ? WHERE name = ?");
  up.bind(1, r.baseUrl);
  up.bind(2, nlohmann::json(r.models).dump());
  up.bind(3, r.listUpstreamModels ? 1 : 0);
  up.bind(4, static_cast<int64_t>(std::time(nullptr)));
  up.bind(5, name);
  up.exec();
  if (patch.keys) {
    SQLite::Statement del(db_, "DELETE FROM provider_keys WHERE provider_name = ?");
    del.bind(1, name);
    del.exec();
    insertKeys(db_, name, *patch.keys);
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

ProviderRow Store::deleteProvider(const std::string& name) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_);
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
