#include "controlplane/store/store.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <filesystem>

#include "controlplane/store/migrations.h"

namespace finops::cp {
namespace {
SQLite::Database openDb(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA foreign_keys=ON");
  // Deleted and overwritten rows (old provider key ciphertexts) are zeroed, not left in free
  // space.
  db.exec("PRAGMA secure_delete=ON");
  db.setBusyTimeout(5000);
  return db;
}
}  // namespace

Store::Store(const std::string& path) : db_(openDb(path)) {
  applyMigrations(db_, embeddedMigrations());
}

bool isUniqueViolation(const SQLite::Exception& e) {
  return e.getExtendedErrorCode() == 2067 /* SQLITE_CONSTRAINT_UNIQUE */ ||
         std::string_view(e.what()).find("UNIQUE") != std::string_view::npos;
}

void validateDisplayName(const std::string& what, const std::string& name) {
  if (name.empty() || name.size() > 128)
    throw StoreError(StoreError::Code::kInvalidArgument, what + " name must be 1 to 128 characters");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f)
      throw StoreError(StoreError::Code::kInvalidArgument, what + " name contains control characters");
}

uint64_t Store::versionLocked() {
  return static_cast<uint64_t>(
      db_.execAndGet("SELECT version FROM config_version WHERE id = 1").getInt64());
}

void Store::bumpVersionLocked() { db_.exec("UPDATE config_version SET version = version + 1 WHERE id = 1"); }

uint64_t Store::configVersion() {
  std::lock_guard lock(mu_);
  return versionLocked();
}

StateView Store::loadState() {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_);  // one consistent read
  StateView v;
  v.version = versionLocked();
  v.providers = listProvidersLocked(nullptr);
  v.keys = listKeysLocked(nullptr);
  v.settings = settingsLocked();
  v.limits = listLimitsLocked(nullptr);
  {
    SQLite::Statement q(db_,
                        "SELECT provider, model, input, output, cached_input, cache_write, per_image, "
                        "per_second FROM prices ORDER BY provider, model");
    while (q.executeStep()) {
      PriceRow r;
      r.provider = q.getColumn(0).getString();
      r.model = q.getColumn(1).getString();
      r.input = q.getColumn(2).getInt64();
      r.output = q.getColumn(3).getInt64();
      if (!q.getColumn(4).isNull()) r.cachedInput = q.getColumn(4).getInt64();
      if (!q.getColumn(5).isNull()) r.cacheWrite = q.getColumn(5).getInt64();
      r.perImage = q.getColumn(6).getInt64();
      r.perSecond = q.getColumn(7).getInt64();
      r.source = "custom";
      v.customPrices.push_back(std::move(r));
    }
  }
  tx.commit();
  return v;
}

}  // namespace finops::cp
