#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <ctime>

#include "common/crypto.h"
#include "controlplane/store/store.h"

namespace finops::cp {

std::optional<std::string> Store::ensureInitialAdminToken() {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_);
  if (db_.execAndGet("SELECT COUNT(*) FROM admin_tokens").getInt64() > 0) return std::nullopt;
  std::string token = std::string(kAdminTokenPrefix) + base64Url(randomBytes(32));
  SQLite::Statement ins(db_,
                        "INSERT INTO admin_tokens(id, name, token_hash, scope, created_at) "
                        "VALUES (?, 'initial', ?, 'admin', ?)");
  ins.bind(1, randomId("at_"));
  std::string hash = sha256Bytes(token);
  ins.bind(2, hash.data(), static_cast<int>(hash.size()));
  ins.bind(3, static_cast<int64_t>(std::time(nullptr)));
  ins.exec();
  tx.commit();
  return token;
}

std::optional<AdminTokenRow> Store::findAdminToken(std::string_view token) {
  std::string hash = sha256Bytes(token);
  std::lock_guard lock(mu_);
  SQLite::Statement q(db_,
                      "SELECT id, name, scope, token_hash FROM admin_tokens "
                      "WHERE token_hash = ? AND revoked_at IS NULL");
  q.bind(1, hash.data(), static_cast<int>(hash.size()));
  if (!q.executeStep()) return std::nullopt;
  auto stored = q.getColumn(3);
  std::string_view storedHash(static_cast<const char*>(stored.getBlob()), stored.getBytes());
  if (!constantTimeEqual(storedHash, hash)) return std::nullopt;
  return AdminTokenRow{q.getColumn(0).getString(), q.getColumn(1).getString(),
                       q.getColumn(2).getString()};
}

}  // namespace finops::cp
