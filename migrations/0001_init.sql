-- Initial schema: settings, admin tokens, providers and their upstream keys, virtual keys.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- Single row: the version of the config that data planes receive. Every change bumps it
-- in the same transaction, so versions stay monotonic across restarts.
CREATE TABLE config_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 1);

CREATE TABLE admin_tokens (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  token_hash BLOB NOT NULL UNIQUE,  -- SHA-256 of the token; the token itself is never stored
  scope      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

CREATE TABLE providers (
  name                 TEXT PRIMARY KEY,
  type                 TEXT NOT NULL,
  base_url             TEXT NOT NULL,
  models               TEXT NOT NULL DEFAULT '[]',  -- JSON array of bare model names
  list_upstream_models INTEGER NOT NULL DEFAULT 1,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL
);

CREATE TABLE provider_keys (
  id            TEXT PRIMARY KEY,
  provider_name TEXT NOT NULL REFERENCES providers(name) ON DELETE CASCADE,
  position      INTEGER NOT NULL,
  value         TEXT NOT NULL,  -- SECRET
  created_at    INTEGER NOT NULL
);
CREATE INDEX provider_keys_by_provider ON provider_keys(provider_name, position);

CREATE TABLE virtual_keys (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  key_hash   BLOB NOT NULL UNIQUE,  -- SHA-256 of the key; the key itself is never stored
  key_prefix TEXT NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
