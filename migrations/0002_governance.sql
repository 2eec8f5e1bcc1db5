-- Governance: customers and teams, key rules, budgets and rate limits, prices, usage.
CREATE TABLE customers (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE teams (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  customer_id TEXT REFERENCES customers(id) ON DELETE RESTRICT,
  created_at  INTEGER NOT NULL
);

ALTER TABLE virtual_keys ADD COLUMN team_id TEXT REFERENCES teams(id) ON DELETE RESTRICT;
ALTER TABLE virtual_keys ADD COLUMN customer_id TEXT REFERENCES customers(id) ON DELETE RESTRICT;
ALTER TABLE virtual_keys ADD COLUMN expires_at INTEGER;  -- unix seconds; NULL: never
ALTER TABLE virtual_keys ADD COLUMN allowed_providers TEXT NOT NULL DEFAULT '[]';  -- JSON array
ALTER TABLE virtual_keys ADD COLUMN allowed_models TEXT NOT NULL DEFAULT '[]';     -- JSON array
ALTER TABLE virtual_keys ADD COLUMN rotated_at INTEGER;

-- Key names become unique among keys that are not revoked (apply files match keys by name).
UPDATE virtual_keys SET name = name || '-' || substr(id, 4, 6)
 WHERE status != 'revoked' AND EXISTS (
   SELECT 1 FROM virtual_keys o
    WHERE o.name = virtual_keys.name AND o.status != 'revoked' AND o.rowid < virtual_keys.rowid);
CREATE UNIQUE INDEX virtual_keys_live_name ON virtual_keys(name) WHERE status != 'revoked';

-- Budgets (kind 'budget', amount in nano-dollars) and rate limits.
CREATE TABLE limits (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  owner_kind TEXT NOT NULL CHECK (owner_kind IN ('customer', 'team', 'key')),
  owner_id   TEXT NOT NULL,
  provider   TEXT NOT NULL DEFAULT '',
  kind       TEXT NOT NULL CHECK (kind IN ('budget', 'requests', 'tokens', 'concurrency')),
  amount     INTEGER NOT NULL CHECK (amount >= 0),
  window     TEXT NOT NULL DEFAULT '',
  calendar   INTEGER NOT NULL DEFAULT 1,
  anchor_ms  INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (owner_kind, owner_id, provider, name)
);

-- Custom prices (the builtin table ships in the binary). Nano-dollars per million tokens.
CREATE TABLE prices (
  provider     TEXT NOT NULL,
  model        TEXT NOT NULL,
  input        INTEGER NOT NULL,
  output       INTEGER NOT NULL,
  cached_input INTEGER,
  cache_write  INTEGER,
  per_image    INTEGER NOT NULL DEFAULT 0,
  per_second   INTEGER NOT NULL DEFAULT 0,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (provider, model)
);

-- One row per request, applied exactly once (request_id is the key).
CREATE TABLE usage_records (
  request_id         TEXT PRIMARY KEY,
  ts_ms              INTEGER NOT NULL,
  node               TEXT NOT NULL DEFAULT '',
  key_id             TEXT NOT NULL DEFAULT '',
  team_id            TEXT NOT NULL DEFAULT '',
  customer_id        TEXT NOT NULL DEFAULT '',
  provider           TEXT NOT NULL DEFAULT '',
  model              TEXT NOT NULL DEFAULT '',
  prompt_tokens      INTEGER NOT NULL DEFAULT 0,
  completion_tokens  INTEGER NOT NULL DEFAULT 0,
  cached_tokens      INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens INTEGER NOT NULL DEFAULT 0,
  cost_nano          INTEGER NOT NULL DEFAULT 0,
  priced             INTEGER NOT NULL DEFAULT 1,
  estimated          INTEGER NOT NULL DEFAULT 0,
  streamed           INTEGER NOT NULL DEFAULT 0,
  status             INTEGER NOT NULL DEFAULT 0,
  outcome            TEXT NOT NULL DEFAULT '',
  latency_ms         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX usage_by_ts ON usage_records(ts_ms);
CREATE INDEX usage_by_key ON usage_records(key_id, ts_ms);
CREATE INDEX usage_by_team ON usage_records(team_id, ts_ms) WHERE team_id != '';
CREATE INDEX usage_by_customer ON usage_records(customer_id, ts_ms) WHERE customer_id != '';

-- What each limit has used per window, all nodes (kept in step with usage_records).
CREATE TABLE limit_usage (
  limit_id        TEXT NOT NULL,
  window_start_ms INTEGER NOT NULL,
  used            INTEGER NOT NULL,
  PRIMARY KEY (limit_id, window_start_ms)
);

-- Allowances granted to data-plane nodes per limit and window, and what each consumed.
CREATE TABLE limit_grants (
  limit_id        TEXT NOT NULL,
  window_start_ms INTEGER NOT NULL,
  node            TEXT NOT NULL,
  granted         INTEGER NOT NULL,
  consumed        INTEGER NOT NULL,
  expires_ms      INTEGER NOT NULL,
  PRIMARY KEY (limit_id, window_start_ms, node)
);
CREATE INDEX limit_grants_by_expiry ON limit_grants(expires_ms);
