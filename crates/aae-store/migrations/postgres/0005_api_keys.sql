-- API keys for programmatic access.

-- Keys by their sha256 hex; the raw key never reaches the database, only a short prefix shown in
-- listings. `allowed_models` is a JSON array of model ids, empty for every model. Revoked and
-- expired keys stay (their state is in `revoked_at` and `expires_at`).
CREATE TABLE api_keys (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL CHECK (length(name) >= 1),
    prefix TEXT NOT NULL,
    key_hash VARCHAR(64) NOT NULL UNIQUE,
    allowed_models JSONB NOT NULL DEFAULT '[]'::jsonb,
    expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
-- A user's keys, newest first (ApiKeyStore::list_by_user).
CREATE INDEX api_keys_user_created_idx ON api_keys (user_id, created_at);
