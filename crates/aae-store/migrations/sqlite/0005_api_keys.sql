-- API keys for programmatic access. Same conventions as 0001: text UUIDs, JSON as text,
-- fixed-width RFC 3339 UTC text timestamps bound by AAE.

-- Keys by their sha256 hex; the raw key never reaches the database, only a short prefix shown in
-- listings. `allowed_models` is a JSON array of model ids, empty for every model. Revoked and
-- expired keys stay (their state is in `revoked_at` and `expires_at`).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE CHECK (length(key_hash) BETWEEN 1 AND 64),
    allowed_models TEXT NOT NULL DEFAULT '[]',
    expires_at TEXT,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
-- A user's keys, newest first (ApiKeyStore::list_by_user).
CREATE INDEX api_keys_user_created_idx ON api_keys (user_id, created_at);
