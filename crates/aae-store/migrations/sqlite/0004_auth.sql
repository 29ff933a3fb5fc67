-- Local accounts and refresh tokens (the HTTP API's own sign-in), and presigned uploads that are
-- recorded before their bytes arrive. Same conventions as 0001: text UUIDs, fixed-width RFC 3339
-- UTC text timestamps bound by AAE.

-- One password per local account; the hash (e.g. argon2id PHC string) is computed by the caller.
CREATE TABLE local_credentials (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Refresh tokens by their sha256 hex; the raw token never reaches the database. Rotation revokes
-- the old row and inserts the new one in one transaction.
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) <= 64),
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Sign-in by email matches case-insensitively (UserStore::find_by_email).
CREATE INDEX users_email_lower_idx ON users (lower(email));

-- A presigned upload is recorded `pending` and becomes `confirmed` once the object exists.
ALTER TABLE file_metadata ADD COLUMN status TEXT NOT NULL DEFAULT 'confirmed'
    CHECK (status IN ('pending', 'confirmed'));
