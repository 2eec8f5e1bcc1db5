#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <ctime>

#include "common/crypto.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {

using Code = StoreError::Code;

constexpr const char* kColumns =
    "id, name, scope, created_at, revoked_at, last_used_at, created_by";

AdminTokenRow readRow(SQLite::Statement& q) {
  AdminTokenRow r;
  r.id = q.getColumn(0).getString();
  r.name = q.getColumn(1).getString();
  r.scope = q.getColumn(2).getString();
  r.createdAt = q.getColumn(3).getInt64();
  if (!q.getColumn(4).isNull()) r.revokedAt = q.getColumn(4).getInt64();
  if (!q.getColumn(5).isNull()) r.lastUsedAt = q.getColumn(5).getInt64();
  r.createdBy = q.getColumn(6).getString();
  return r;
}

std::string newSecret() { return std::string(kAdminTokenPrefix) + base64Url(randomBytes(32)); }

void insertToken(SQLite::Database& db, const AdminTokenRow& r, const std::string& secret) {
  SQLite::Statement ins(
      db,
      "INSERT INTO admin_tokens(id, name, token_hash, scope, created_at, created_by) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  ins.bind(1, r.id);
  ins.bind(2, r.name);
  std::string hash = sha256Bytes(secret);
  ins.bind(3, hash.data(), static_cast<int>(hash.size()));
  ins.bind(4, r.scope);
  ins.bind(5, r.createdAt);
  ins.bind(6, r.createdBy);
  ins.exec();
}

std::optional<AdminTokenRow> selectOne(SQLite::Database& db, const char* where,
                                       const std::string& arg) {
  SQLite::Statement q(db, std::string("SELECT ") + kColumns + " FROM admin_tokens WHERE " + where);
  q.bind(1, arg);
  if (!q.executeStep()) return std::nullopt;
  return readRow(q);
}

}  // namespace

bool isAdminScope(const std::string& scope) {
  return scope == "admin" || scope == "keys:write" || scope == "read";
}

std::optional<std::string> Store::ensureInitialAdminToken() {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  if (db_.execAndGet("SELECT COUNT(*) FROM admin_tokens").getInt64() > 0) return std::nullopt;
  std::string token = newSecret();
  AdminTokenRow r;
  r.id = randomId("at_");
  r.name = "initial";
  r.scope = "admin";
  r.createdAt = static_cast<int64_t>(std::time(nullptr));
  insertToken(db_, r, token);
  tx.commit();
  return token;
}

std::optional<AdminTokenRow> Store::findAdminToken(std::string_view token) {
  std::string hash = sha256Bytes(token);
  std::lock_guard lock(mu_);
  SQLite::Statement q(db_, std::string("SELECT ") + kColumns +
                               ", token_hash FROM admin_tokens "
                               "WHERE token_hash = ? AND revoked_at IS NULL");
  q.bind(1, hash.data(), static_cast<int>(hash.size()));
  if (!q.executeStep()) return std::nullopt;
  auto stored = q.getColumn(7);
  std::string_view storedHash(static_cast<const char*>(stored.getBlob()), stored.getBytes());
  if (!constantTimeEqual(storedHash, hash)) return std::nullopt;
  return readRow(q);
}

std::optional<AdminTokenRow> Store::authenticateAdminToken(std::string_view token, int64_t nowMs) {
  auto row = findAdminToken(token);
  if (!row) return row;
  std::lock_guard lock(mu_);
  auto it = tokenUsedWrittenMs_.find(row->id);
  if (it != tokenUsedWrittenMs_.end() && nowMs - it->second < auditPolicy_.lastUsedIntervalMs)
    return row;
  SQLite::Statement up(db_, "UPDATE admin_tokens SET last_used_at = ? WHERE id = ?");
  up.bind(1, nowMs / 1000);
  up.bind(2, row->id);
  up.exec();
  tokenUsedWrittenMs_[row->id] = nowMs;
  row->lastUsedAt = nowMs / 1000;
  return row;
}

std::pair<AdminTokenRow, std::string> Store::createAdminToken(const std::string& name,
                                                              const std::string& scope,
                                                              const std::string& createdBy) {
  validateDisplayName("admin token", name);
  if (!isAdminScope(scope))
    throw StoreError(Code::kInvalidArgument,
                     "admin token scope must be admin, keys:write or read (got '" + scope + "')");
  AdminTokenRow r;
  r.id = randomId("at_");
  r.name = name;
  r.scope = scope;
  r.createdAt = static_cast<int64_t>(std::time(nullptr));
  r.createdBy = createdBy;
  std::string secret = newSecret();
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  try {
    insertToken(db_, r, secret);
  } catch (const SQLite::Exception& e) {
    if (isUniqueViolation(e))
      throw StoreError(Code::kAlreadyExists,
                       "an active admin token named '" + name + "' already exists");
    throw;
  }
  tx.commit();
  return {r, secret};
}

std::vector<AdminTokenRow> Store::listAdminTokens(bool includeRevoked) {
  std::lock_guard lock(mu_);
  SQLite::Statement q(db_, std::string("SELECT ") + kColumns + " FROM admin_tokens" +
                               (includeRevoked ? "" : " WHERE revoked_at IS NULL") +
                               " ORDER BY created_at DESC, rowid DESC");
  std::vector<AdminTokenRow> out;
  while (q.executeStep()) out.push_back(readRow(q));
  return out;
}

AdminTokenRow Store::revokeAdminToken(const std::string& ref) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  auto row = selectOne(db_, "id = ?", ref);
  if (!row) row = selectOne(db_, "name = ? AND revoked_at IS NULL", ref);
  if (!row) throw StoreError(Code::kNotFound, "admin token '" + ref + "' not found");
  if (row->revokedAt) return *row;
  if (row->scope == "admin" &&
      db_.execAndGet(
             "SELECT COUNT(*) FROM admin_tokens WHERE scope = 'admin' AND revoked_at IS NULL")
              .getInt64() <= 1)
    throw StoreError(Code::kFailedPrecondition,
                     "admin token '" + row->name +
                         "' is the last active token with scope admin; create another admin "
                         "token before revoking it");
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  SQLite::Statement up(db_, "UPDATE admin_tokens SET revoked_at = ? WHERE id = ?");
  up.bind(1, now);
  up.bind(2, row->id);
  up.exec();
  tx.commit();
  tokenUsedWrittenMs_.erase(row->id);
  row->revokedAt = now;
  return *row;
}

}  // namespace finops::cp
