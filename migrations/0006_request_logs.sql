-- Request logs (docs/observability.md): one row per request any data plane served, the content
-- (request body, response text) in an FTS5 table of its own, and running totals for retention.
ALTER TABLE virtual_keys ADD COLUMN log_content INTEGER NOT NULL DEFAULT 1;  -- 0: never log content

CREATE TABLE request_logs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,  -- ingestion order
  request_id        TEXT NOT NULL UNIQUE,
  ts_ms             INTEGER NOT NULL,            -- when the request arrived (data plane clock)
  node              TEXT NOT NULL DEFAULT '',
  key_id            TEXT NOT NULL DEFAULT '',
  key_name          TEXT NOT NULL DEFAULT '',
  team_id           TEXT NOT NULL DEFAULT '',
  team_name         TEXT NOT NULL DEFAULT '',
  customer_id       TEXT NOT NULL DEFAULT '',
  customer_name     TEXT NOT NULL DEFAULT '',
  method            TEXT NOT NULL DEFAULT '',
  route             TEXT NOT NULL DEFAULT '',
  provider          TEXT NOT NULL DEFAULT '',
  model             TEXT NOT NULL DEFAULT '',
  status            INTEGER NOT NULL DEFAULT 0,
  error_type        TEXT NOT NULL DEFAULT '',
  latency_us        INTEGER NOT NULL DEFAULT 0,
  ttft_us           INTEGER NOT NULL DEFAULT 0,
  overhead_us       INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens     INTEGER NOT NULL DEFAULT 0,
  cost_nano         INTEGER NOT NULL DEFAULT 0,
  streamed          INTEGER NOT NULL DEFAULT 0,
  content_logged    INTEGER NOT NULL DEFAULT 0,
  content_truncated INTEGER NOT NULL DEFAULT 0,
  dialect           TEXT NOT NULL DEFAULT '',
  bytes             INTEGER NOT NULL DEFAULT 0   -- what the row and its content take, about
);
-- Newest first, alone or under one filter.
CREATE INDEX request_logs_by_ts ON request_logs(ts_ms, id);
CREATE INDEX request_logs_by_provider ON request_logs(provider, ts_ms, id);
CREATE INDEX request_logs_by_model ON request_logs(model, ts_ms, id);
CREATE INDEX request_logs_by_key ON request_logs(key_id, ts_ms, id);
CREATE INDEX request_logs_by_status ON request_logs(status, ts_ms, id);
CREATE INDEX request_logs_by_team ON request_logs(team_id, ts_ms, id);
CREATE INDEX request_logs_by_customer ON request_logs(customer_id, ts_ms, id);
-- Errors only (a few percent of the rows); queries say error_type != '' to use it.
CREATE INDEX request_logs_by_error ON request_logs(error_type, ts_ms, id) WHERE error_type != '';

-- The content, searchable; rowid = request_logs.id. Rows exist only where content was logged.
CREATE VIRTUAL TABLE request_log_content USING fts5(request, response, tokenize = 'unicode61');

-- Running totals, kept by triggers, so retention by size never sums the table.
CREATE TABLE request_log_totals (
  one   INTEGER PRIMARY KEY CHECK (one = 1),
  rows  INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT INTO request_log_totals(one, rows, bytes) VALUES (1, 0, 0);
CREATE TRIGGER request_logs_count_insert AFTER INSERT ON request_logs BEGIN
  UPDATE request_log_totals SET rows = rows + 1, bytes = bytes + new.bytes WHERE one = 1;
END;
CREATE TRIGGER request_logs_count_delete AFTER DELETE ON request_logs BEGIN
  UPDATE request_log_totals SET rows = rows - 1, bytes = bytes - old.bytes WHERE one = 1;
  DELETE FROM request_log_content WHERE rowid = old.id;
END;
