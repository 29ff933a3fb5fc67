-- Local accounts and refresh tokens (the HTTP API's own sign-in), and presigned uploads that are
-- recorded before their bytes arrive.

-- One password per local account; the hash (e.g. argon2id PHC string) is computed by the caller.
CREATE TABLE local_credentials (
    user_id UUID PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- Refresh tokens by their sha256 hex; the raw token never reaches the database. Rotation revokes
-- the old row (UPDATE … WHERE revoked_at IS NULL, so one of concurrent rotations wins) and
-- inserts the new one in one transaction.
CREATE TABLE refresh_tokens (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash VARCHAR(64) NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Sign-in by email matches case-insensitively (UserStore::find_by_email).
CREATE INDEX users_email_lower_idx ON users (lower(email));

-- A presigned upload is recorded `pending` and becomes `confirmed` once the object exists.
ALTER TABLE file_metadata ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'confirmed'
    CHECK (status IN ('pending', 'confirmed'));
