// Forward-only schema migrations, embedded in the binary from migrations/*.sql.
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>
#include <vector>

namespace finops::cp {

struct EmbeddedMigration {
  const char* name;  // "0001_init.sql"; the leading number is the version
  const char* sql;
};

// Generated at build time (cmake/embed_migrations.cmake), sorted by name.
const std::vector<EmbeddedMigration>& embeddedMigrations();

// Applies every migration not yet recorded in schema_migrations, each in its own
// transaction, recording its SHA-256. Throws std::runtime_error when the database holds a
// migration this binary does not know (newer database) or one whose checksum differs.
// Returns the number applied.
int applyMigrations(SQLite::Database& db, const std::vector<EmbeddedMigration>& migrations);

}  // namespace finops::cp
