#include "controlplane/store/migrations.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <cstdlib>
#include <ctime>
#include <map>
#include <stdexcept>

#include "common/crypto.h"

namespace finops::cp {

int applyMigrations(SQLite::Database& db, const std::vector<EmbeddedMigration>& migrations) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
      " applied_at INTEGER NOT NULL)");
  std::map<long, std::pair<std::string, std::string>> applied;
  {
    SQLite::Statement q(db, "SELECT version, name, checksum FROM schema_migrations");
    while (q.executeStep()) {
      applied[q.getColumn(0).getInt64()] = {q.getColumn(1).getString(), q.getColumn(2).getString()};
    }
  }
  std::map<long, const EmbeddedMigration*> known;
  for (const auto& m : migrations) {
    long version = std::strtol(m.name, nullptr, 10);
    if (version <= 0) throw std::runtime_error(std::string("bad migration name: ") + m.name);
    known[version] = &m;
  }
  for (const auto& [version, rec] : applied) {
    auto it = known.find(version);
    if (it == known.end()) {
      throw std::runtime_error("database has migration " + rec.first +
                               " which this binary does not know: the database is newer than "
                               "the code; refusing to start");
    }
    if (toHex(sha256Bytes(it->second->sql)) != rec.second) {
      throw std::runtime_error("migration " + rec.first +
                               " was changed after it was applied (checksum mismatch)");
    }
  }
  int count = 0;
  for (const auto& [version, m] : known) {
    if (applied.count(version)) continue;
    SQLite::Transaction tx(db);
    db.exec(m->sql);
    SQLite::Statement ins(db,
                          "INSERT INTO schema_migrations(version, name, checksum, applied_at) "
                          "VALUES (?, ?, ?, ?)");
    ins.bind(1, static_cast<int64_t>(version));
    ins.bind(2, m->name);
    ins.bind(3, toHex(sha256Bytes(m->sql)));
    ins.bind(4, static_cast<int64_t>(std::time(nullptr)));
    ins.exec();
    tx.commit();
    ++count;
  }
  return count;
}

}  // namespace finops::cp
