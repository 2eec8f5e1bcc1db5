-- Scoped admin tokens (who created each one, when it was last used; names unique among active
-- tokens) and the audit log of admin calls.
ALTER TABLE admin_tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';  -- id of the creating token
ALTER TABLE admin_tokens ADD COLUMN last_used_at INTEGER;  -- unix seconds, written at most once a minute
CREATE UNIQUE INDEX admin_tokens_live_name ON admin_tokens(name) WHERE revoked_at IS NULL;

-- One row per admin call, allowed or refused. Never holds a secret (no tokens, no API keys, no
-- request bodies).
CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,            -- unix milliseconds
  token_id   TEXT NOT NULL DEFAULT '',    -- '' when the call carried no valid token
  token_name TEXT NOT NULL DEFAULT '',
  scope      TEXT NOT NULL DEFAULT '',
  method     TEXT NOT NULL,               -- AdminService method, e.g. 'CreateKey'
  target     TEXT NOT NULL DEFAULT '',    -- the object the call named (key id, provider name...)
  code       TEXT NOT NULL,               -- gRPC status code name, 'OK' on success
  message    TEXT NOT NULL DEFAULT '',    -- the error message, '' on success
  peer       TEXT NOT NULL DEFAULT ''     -- the caller's address as gRPC reports it
);
CREATE INDEX audit_log_by_at ON audit_log(at);
CREATE INDEX audit_log_by_token ON audit_log(token_id, id);
