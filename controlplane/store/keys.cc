#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <ctime>

#include "common/crypto.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {
using Code = StoreError::Code;
}

std::vector<VirtualKeyRow> Store::listKeysLocked(const std::string* only) {
  std::string sql =
      "SELECT id, name, key_hash, key_prefix, status, created_at, revoked_at FROM virtual_keys";
  if (only) sql += " WHERE id = ?";
  sql += " ORDER BY created_at, id";
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
    rows.push_back(std::move(r));
  }
  return rows;
}

std::pair<VirtualKeyRow, std::string> Store::createKey(const std::string& name) {
  if (name.empty() || name.size() > 128)
    throw StoreError(Code::kInvalidArgument, "key name must be 1 to 128 characters");
  // 256 bits from the CSPRNG, base64url: 43 characters after the prefix.
  std::string secret = std::string(kVirtualKeyPrefix) + base64Url(randomBytes(32));
  VirtualKeyRow r;
  r.id = randomId("vk_");
  r.name = name;
  r.keyHash = sha256Bytes(secret);
  r.keyPrefix = secret.substr(0, std::string_view(kVirtualKeyPrefix).size() + 4);
  r.status = "active";
  r.createdAt = std::time(nullptr);
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_);
  SQLite::Statement ins(db_,
                        "INSERT INTO virtual_keys(id, name, key_hash, key_prefix, status, created_at) "
                        "VALUES (?, ?, ?, ?, 'active', ?)");
  ins.bind(1, r.id);
  ins.bind(2, r.name);
  ins.bind(3, r.keyHash.data(), static_cast<int>(r.keyHash.size()));
  ins.bind(4, r.keyPrefix);
  ins.bind(5, r.createdAt);
  ins.exec();
  bumpVersionLocked();
  tx.commit();
  return {r, secret};
}

VirtualKeyRow Store::getKey(const std::string& id) {
  std::lock_guard lock(mu_);
  auto rows = listKeysLocked(&id);
  if (rows.empty()) throw StoreError(Code::kNotFound, "virtual key '" + id + "' not found");
  return rows[0];
}

std::vector<VirtualKeyRow> Store::listKeys() {
  std::lock_guard lock(mu_);
  return listKeysLocked(nullptr);
}

VirtualKeyRow Store::revokeKey(const std::string& id) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_);
  auto rows = listKeysLocked(&id);
  if (rows.empty()) throw StoreError(Code::kNotFound, "virtual key '" + id + "' not found");
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

}  // namespace finops::cp
