#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {
using Code = StoreError::Code;

std::vector<std::string> jsonList(const std::string& text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string toJsonList(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }

void validateRules(const std::vector<std::string>& providers, const std::vector<std::string>& models) {
  for (const auto& p : providers) {
    if (p.empty() || p.size() > 64)
      throw StoreError(Code::kInvalidArgument, "allowed provider names must be 1 to 64 characters");
    if (p.find('/') != std::string::npos || p.find('*') != std::string::npos)
      throw StoreError(Code::kInvalidArgument,
                       "allowed provider '" + p + "' must be a provider name (use an allowed "
                       "model pattern such as 'openai/*' for globs)");
  }
  for (const auto& m : models)
    if (m.empty() || m.size() > 256)
      throw StoreError(Code::kInvalidArgument, "allowed model patterns must be 1 to 256 characters");
}

std::string newSecret() {
  // 256 bits from the CSPRNG, base64url: 43 characters after the prefix.
  return std::string(kVirtualKeyPrefix) + base64Url(randomBytes(32));
}

std::string prefixOf(const std::string& secret) {
  return secret.substr(0, std::string_view(kVirtualKeyPrefix).size() + 4);
}

}  // namespace

std::vector<VirtualKeyRow> Store::listKeysLocked(const std::string* only) {
  std::string sql =
      "SELECT k.id, k.name, k.key_hash, k.key_prefix, k.status, k.created_at, k.revoked_at, "
      "k.rotated_at, coalesce(k.team_id, ''), coalesce(t.name, ''), coalesce(k.customer_id, ''), "
      "coalesce(c.name, ''), coalesce(k.customer_id, t.customer_id, ''), "
      "coalesce(c.name, tc.name, ''), k.expires_at, k.allowed_providers, k.allowed_models, "
      "k.log_content FROM virtual_keys k LEFT JOIN teams t ON t.id = k.team_id "
      "LEFT JOIN customers c ON c.id = k.customer_id "
      "LEFT JOIN customers tc ON tc.id = t.customer_id";
  if (only) sql += " WHERE k.id = ?";
  sql += " ORDER BY k.created_at, k.id";
  SQLite::Statement q(db_, sql);
  if (only) q.bind(1, *only);
  std::vector<VirtualKeyRow> rows;
  while (q.executeStep()) {
    VirtualKeyRow r;
    r.id = q.getColumn(0).getString();
    r.name = q.getColumn(1).getString();
    auto h = q.getColumn(2);
    r.keyHash.assign(static_cast<const char*>(h.getBlob()), h.getBytes());
    r.keyPrefix = q.getColumn(3).getString();
    r.status = q.getColumn(4).getString();
    r.createdAt = q.getColumn(5).getInt64();
    if (!q.getColumn(6).isNull()) r.revokedAt = q.getColumn(6).getInt64();
    if (!q.getColumn(7).isNull()) r.rotatedAt = q.getColumn(7).getInt64();
    r.teamId = q.getColumn(8).getString();
    r.teamName = q.getColumn(9).getString();
    r.customerId = q.getColumn(10).getString();
    r.customerName = q.getColumn(11).getString();
    r.effectiveCustomerId = q.getColumn(12).getString();
    r.effectiveCustomerName = q.getColumn(13).getString();
    if (!q.getColumn(14).isNull()) r.expiresAt = q.getColumn(14).getInt64();
    r.allowedProviders = jsonList(q.getColumn(15).getString());
    r.allowedModels = jsonList(q.getColumn(16).getString());
    r.logContent = q.getColumn(17).getInt() != 0;
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string Store::resolveKeyLocked(const std::string& ref) {
  SQLite::Statement q(db_,
                      "SELECT id FROM virtual_keys WHERE id = ?1 "
                      "UNION ALL SELECT id FROM virtual_keys WHERE name = ?1 AND status != 'revoked' "
                      "LIMIT 1");
  q.bind(1, ref);
  if (!q.executeStep()) throw StoreError(Code::kNotFound, "virtual key '" + ref + "' not found");
  return q.getColumn(0).getString();
}

std::pair<VirtualKeyRow, std::string> Store::createKey(const KeySpec& spec) {
  validateDisplayName("key", spec.name);
  validateRules(spec.allowedProviders, spec.allowedModels);
  if (!spec.team.empty() && !spec.customer.empty())
    throw StoreError(Code::kInvalidArgument,
                     "a key belongs to a team or to a customer, not both (a team's keys "
                     "belong to the team's customer)");
  std::string secret = newSecret();
  std::string id = randomId("vk_");
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string teamId = spec.team.empty() ? "" : resolveTeamLocked(spec.team);
  std::string customerId = spec.customer.empty() ? "" : resolveCustomerLocked(spec.customer);
  SQLite::Statement ins(
      db_,
      "INSERT INTO virtual_keys(id, name, key_hash, key_prefix, status, created_at, team_id, "
      "customer_id, expires_at, allowed_providers, allowed_models, log_content) "
      "VALUES (?, ?, ?, ?, ?, ?, nullif(?, ''), nullif(?, ''), ?, ?, ?, ?)");
  std::string hash = sha256Bytes(secret);
  ins.bind(1, id);
  ins.bind(2, spec.name);
  ins.bind(3, hash.data(), static_cast<int>(hash.size()));
  ins.bind(4, prefixOf(secret));
  ins.bind(5, spec.disabled ? "disabled" : "active");
  ins.bind(6, static_cast<int64_t>(std::time(nullptr)));
  ins.bind(7, teamId);
  ins.bind(8, customerId);
  if (spec.expiresAt) ins.bind(9, *spec.expiresAt);
  else ins.bind(9);
  ins.bind(10, toJsonList(spec.allowedProviders));
  ins.bind(11, toJsonList(spec.allowedModels));
  ins.bind(12, spec.logContent ? 1 : 0);
  try {
    ins.exec();
  } catch (const SQLite::Exception& e) {
    if (isUniqueViolation(e))
      throw StoreError(Code::kAlreadyExists, "a virtual key named '" + spec.name + "' already exists");
    throw;
  }
  bumpVersionLocked();
  auto row = listKeysLocked(&id).at(0);
  tx.commit();
  return {row, secret};
}

VirtualKeyRow Store::getKey(const std::string& ref) {
  std::lock_guard lock(mu_);
  std::string id = resolveKeyLocked(ref);
  return listKeysLocked(&id).at(0);
}

std::vector<VirtualKeyRow> Store::listKeys() {
  std::lock_guard lock(mu_);
  return listKeysLocked(nullptr);
}

VirtualKeyRow Store::revokeKey(const std::string& ref) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string id = resolveKeyLocked(ref);
  auto rows = listKeysLocked(&id);
  if (rows[0].status != "revoked") {
    SQLite::Statement up(db_,
                         "UPDATE virtual_keys SET status = 'revoked', revoked_at = ? WHERE id = ?");
    up.bind(1, static_cast<int64_t>(std::time(nullptr)));
    up.bind(2, id);
    up.exec();
    bumpVersionLocked();
  }
  auto out = listKeysLocked(&id).at(0);
  tx.commit();
  return out;
}

VirtualKeyRow Store::updateKey(const std::string& ref, const KeyPatch& patch) {
  if (patch.name) validateDisplayName("key", *patch.name);
  if (patch.status && *patch.status != "active" && *patch.status != "disabled")
    throw StoreError(Code::kInvalidArgument, "key status must be 'active' or 'disabled'");
  validateRules(patch.allowedProviders.value_or(std::vector<std::string>{}),
                patch.allowedModels.value_or(std::vector<std::string>{}));
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string id = resolveKeyLocked(ref);
  auto cur = listKeysLocked(&id).at(0);
  if (cur.status == "revoked")
    throw StoreError(Code::kInvalidArgument, "virtual key '" + ref + "' is revoked");
  std::string teamId = cur.teamId, customerId = cur.customerId;
  if (patch.team) teamId = patch.team->empty() ? "" : resolveTeamLocked(*patch.team);
  if (patch.customer) customerId = patch.customer->empty() ? "" : resolveCustomerLocked(*patch.customer);
  // Attaching to one detaches from the other unless both were given.
  if (patch.team && !patch.team->empty() && !patch.customer) customerId.clear();
  if (patch.customer && !patch.customer->empty() && !patch.team) teamId.clear();
  if (!teamId.empty() && !customerId.empty())
    throw StoreError(Code::kInvalidArgument, "a key belongs to a team or to a customer, not both");
  auto expires = patch.expiresAt ? *patch.expiresAt : cur.expiresAt;
  SQLite::Statement up(
      db_,
      "UPDATE virtual_keys SET name = ?, team_id = nullif(?, ''), customer_id = nullif(?, ''), "
      "expires_at = ?, allowed_providers = ?, allowed_models = ?, status = ?, log_content = ? "
      "WHERE id = ?");
  up.bind(1, patch.name.value_or(cur.name));
  up.bind(2, teamId);
  up.bind(3, customerId);
  if (expires) up.bind(4, *expires);
  else up.bind(4);
  up.bind(5, toJsonList(patch.allowedProviders.value_or(cur.allowedProviders)));
  up.bind(6, toJsonList(patch.allowedModels.value_or(cur.allowedModels)));
  up.bind(7, patch.status.value_or(cur.status));
  up.bind(8, patch.logContent.value_or(cur.logContent) ? 1 : 0);
  up.bind(9, id);
  try {
    up.exec();
  } catch (const SQLite::Exception& e) {
    if (isUniqueViolation(e))
      throw StoreError(Code::kAlreadyExists, "a virtual key named '" + *patch.name + "' already exists");
    throw;
  }
  bumpVersionLocked();
  auto out = listKeysLocked(&id).at(0);
  tx.commit();
  return out;
}

std::pair<VirtualKeyRow, std::string> Store::rotateKey(const std::string& ref) {
  std::string secret = newSecret();
  std::string hash = sha256Bytes(secret);
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string id = resolveKeyLocked(ref);
  if (listKeysLocked(&id).at(0).status == "revoked")
    throw StoreError(Code::kInvalidArgument, "virtual key '" + ref + "' is revoked");
  SQLite::Statement up(db_,
                       "UPDATE virtual_keys SET key_hash = ?, key_prefix = ?, rotated_at = ? "
                       "WHERE id = ?");
  up.bind(1, hash.data(), static_cast<int>(hash.size()));
  up.bind(2, prefixOf(secret));
  up.bind(3, static_cast<int64_t>(std::time(nullptr)));
  up.bind(4, id);
  up.exec();
  bumpVersionLocked();
  auto out = listKeysLocked(&id).at(0);
  tx.commit();
  return {out, secret};
}

VirtualKeyRow Store::deleteKey(const std::string& ref) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string id = resolveKeyLocked(ref);
  auto out = listKeysLocked(&id).at(0);
  SQLite::Statement delLimits(db_, "DELETE FROM limits WHERE owner_kind = 'key' AND owner_id = ?");
  delLimits.bind(1, id);
  delLimits.exec();
  SQLite::Statement del(db_, "DELETE FROM virtual_keys WHERE id = ?");
  del.bind(1, id);
  del.exec();
  bumpVersionLocked();
  tx.commit();
  return out;
}

}  // namespace finops::cp
