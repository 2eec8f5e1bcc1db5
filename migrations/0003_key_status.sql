-- Keys can be disabled: widen the status CHECK (SQLite needs the table rebuilt for that).
CREATE TABLE virtual_keys_new (
  id                TEXT PRIMARY KEY,
  name              TEXT NOT NULL,
  key_hash          BLOB NOT NULL UNIQUE,  -- SHA-256 of the key; the key itself is never stored
  key_prefix        TEXT NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
  created_at        INTEGER NOT NULL,
  revoked_at        INTEGER,
  team_id           TEXT REFERENCES teams(id) ON DELETE RESTRICT,
  customer_id       TEXT REFERENCES customers(id) ON DELETE RESTRICT,
  expires_at        INTEGER,                      -- unix seconds; NULL: never
  allowed_providers TEXT NOT NULL DEFAULT '[]',  -- JSON array
  allowed_models    TEXT NOT NULL DEFAULT '[]',  -- JSON array
  rotated_at        INTEGER
);
INSERT INTO virtual_keys_new (id, name, key_hash, key_prefix, status, created_at, revoked_at,
                              team_id, customer_id, expires_at, allowed_providers,
                              allowed_models, rotated_at)
  SELECT id, name, key_hash, key_prefix, status, created_at, revoked_at, team_id, customer_id,
         expires_at, allowed_providers, allowed_models, rotated_at
    FROM virtual_keys;
DROP TABLE virtual_keys;
ALTER TABLE virtual_keys_new RENAME TO virtual_keys;
CREATE UNIQUE INDEX virtual_keys_live_name ON virtual_keys(name) WHERE status != 'revoked';
