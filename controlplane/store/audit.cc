#include <SQLiteCpp/Statement.h>

#include "controlplane/store/store.h"

namespace finops::cp {

void Store::setAuditPolicy(const AuditPolicy& p) {
  std::lock_guard lock(mu_);
  auditPolicy_ = p;
  auditPrunedMs_ = 0;
}

int64_t Store::appendAudit(const AuditRow& row) {
  std::lock_guard lock(mu_);
  SQLite::Statement ins(db_,
                        "INSERT INTO audit_log(at, token_id, token_name, scope, method, target, "
                        "code, message, peer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, row.atMs);
  ins.bind(2, row.tokenId);
  ins.bind(3, row.tokenName);
  ins.bind(4, row.scope);
  ins.bind(5, row.method);
  ins.bind(6, row.target);
  ins.bind(7, row.code);
  ins.bind(8, row.message);
  ins.bind(9, row.peer);
  ins.exec();
  int64_t id = db_.getLastInsertRowid();
  // Retention: one DELETE (using the index on `at`) at most every pruneIntervalMs.
  if (auditPrunedMs_ == 0 || row.atMs - auditPrunedMs_ >= auditPolicy_.pruneIntervalMs) {
    SQLite::Statement del(db_, "DELETE FROM audit_log WHERE at < ?");
    del.bind(1, row.atMs - auditPolicy_.retentionMs);
    del.exec();
    auditPrunedMs_ = row.atMs;
  }
  return id;
}

std::vector<AuditRow> Store::listAudit(const AuditFilter& f) {
  if (f.limit < 1 || f.limit > 10000)
    throw StoreError(StoreError::Code::kInvalidArgument, "audit limit must be between 1 and 10000");
  if (f.sinceMs && f.untilMs && f.sinceMs > f.untilMs)
    throw StoreError(StoreError::Code::kInvalidArgument, "'since' is after 'until'");
  std::string sql =
      "SELECT id, at, token_id, token_name, scope, method, target, code, message, peer "
      "FROM audit_log WHERE 1";
  if (f.sinceMs) sql += " AND at >= :since";
  if (f.untilMs) sql += " AND at < :until";
  if (!f.token.empty()) sql += " AND (token_id = :token OR token_name = :token)";
  if (!f.method.empty()) sql += " AND method = :method COLLATE NOCASE";
  if (f.beforeId) sql += " AND id < :before";
  sql += " ORDER BY id DESC LIMIT :limit";
  std::lock_guard lock(mu_);
  SQLite::Statement q(db_, sql);
  if (f.sinceMs) q.bind(":since", f.sinceMs);
  if (f.untilMs) q.bind(":until", f.untilMs);
  if (!f.token.empty()) q.bind(":token", f.token);
  if (!f.method.empty()) q.bind(":method", f.method);
  if (f.beforeId) q.bind(":before", f.beforeId);
  q.bind(":limit", f.limit);
  std::vector<AuditRow> out;
  while (q.executeStep()) {
    AuditRow r;
    r.id = q.getColumn(0).getInt64();
    r.atMs = q.getColumn(1).getInt64();
    r.tokenId = q.getColumn(2).getString();
    r.tokenName = q.getColumn(3).getString();
    r.scope = q.getColumn(4).getString();
    r.method = q.getColumn(5).getString();
    r.target = q.getColumn(6).getString();
    r.code = q.getColumn(7).getString();
    r.message = q.getColumn(8).getString();
    r.peer = q.getColumn(9).getString();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace finops::cp
