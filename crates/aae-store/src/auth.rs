//! Local accounts: one password hash per user (`local_credentials`) and the refresh tokens of
//! the HTTP API's sessions (`refresh_tokens`, migration `0004_auth`).
//!
//! Hashing is the caller's job: passwords arrive as a finished hash (e.g. an argon2id PHC
//! string) and refresh tokens as the sha256 hex of the token, so this store never sees a secret
//! it could leak. Rotation follows OAuth 2 refresh-token reuse detection: presenting a token that
//! was already revoked (a replay of a rotated, possibly stolen token) revokes every token of its
//! user.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::row::SqlRow;

/// The longest token hash accepted: a sha256 digest in hex.
pub const MAX_TOKEN_HASH_LEN: usize = 64;

/// A refresh token, without its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// Id.
    pub id: Uuid,
    /// The user it signs in.
    pub user_id: Uuid,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked (rotated, signed out, or revoked with all of its user's tokens).
    pub revoked_at: Option<DateTime<Utc>>,
    /// Issued.
    pub created_at: DateTime<Utc>,
}

/// Local credentials and refresh tokens.
#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Sets (creates or replaces) the user's password hash. `Invalid` when the hash is empty;
    /// `Conflict` when the user does not exist.
    async fn set_password(&self, user_id: Uuid, password_hash: &str) -> StoreResult<()>;

    /// The user's password hash, or `None` when the user has no local password (or does not
    /// exist).
    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>>;

    /// Records a new refresh token by its hash. `Invalid` for an empty hash or one longer than
    /// [`MAX_TOKEN_HASH_LEN`]; `Conflict` when the user does not exist or the hash is taken.
    async fn issue_refresh(
        &self,
        user_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<RefreshToken>;

    /// Exchanges the token hashed `old_hash` for a new one hashed `new_hash`, in one
    /// transaction: the old token must exist, be unrevoked and unexpired; it is revoked and a
    /// token for the same user expiring at `new_expires_at` is inserted and returned.
    ///
    /// `NotFound` when the old token is unknown or expired. When it exists but was already
    /// revoked (a replay), every token of its user is revoked, then `NotFound`. Of concurrent
    /// rotations of one token exactly one succeeds; the others are replays of a revoked token.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_at: DateTime<Utc>,
    ) -> StoreResult<RefreshToken>;

    /// Revokes the token (sign-out); `true` when it was active (unrevoked and unexpired).
    async fn revoke_refresh(&self, token_hash: &str) -> StoreResult<bool>;

    /// Revokes every active token of the user; how many.
    async fn revoke_all(&self, user_id: Uuid) -> StoreResult<u64>;
}

pub(crate) const TOKEN_COLUMNS: &str = "id, user_id, expires_at, revoked_at, created_at";

/// Inserts token `$1` of user `$2` hashed `$3`, expiring at `$4`, issued at `$5`.
pub(crate) fn insert_token_sql() -> String {
    format!(
        "INSERT INTO refresh_tokens (id, user_id, token_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {TOKEN_COLUMNS}"
    )
}

/// Revokes every active token of user `$1` at time `$2`.
pub(crate) const REVOKE_ALL_SQL: &str =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2";

/// Revokes the active token hashed `$1` at time `$2`, returning its user.
pub(crate) const REVOKE_ACTIVE_SQL: &str = "UPDATE refresh_tokens SET revoked_at = $2 \
     WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING user_id";

pub(crate) fn check_password_hash(password_hash: &str) -> StoreResult<()> {
    if password_hash.is_empty() {
        return Err(StoreError::invalid("local credential", "password hash must not be empty"));
    }
    Ok(())
}

pub(crate) fn check_token_hash(token_hash: &str) -> StoreResult<()> {
    if token_hash.is_empty() || token_hash.len() > MAX_TOKEN_HASH_LEN {
        return Err(StoreError::invalid(
            "refresh token",
            format!("token hash must be 1 to {MAX_TOKEN_HASH_LEN} characters (sha256 hex)"),
        ));
    }
    Ok(())
}

/// The token presented for rotation is unknown, expired or revoked (never says which).
pub(crate) fn token_not_found() -> StoreError {
    StoreError::new(crate::StoreErrorKind::NotFound, "refresh token", "unknown, expired or revoked")
}

pub(crate) fn token_from_row(row: &impl SqlRow) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        created_at: row.time("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_are_bounded() {
        assert!(check_token_hash(&"a".repeat(64)).is_ok());
        assert!(check_token_hash("").is_err());
        assert!(check_token_hash(&"a".repeat(65)).is_err());
        assert!(check_password_hash("").is_err());
        assert!(check_password_hash("$argon2id$v=19$…").is_ok());
    }

    #[test]
    fn a_missing_token_never_names_the_hash() {
        let error = token_not_found();
        assert_eq!(error.kind, crate::StoreErrorKind::NotFound);
        assert_eq!(error.to_string(), "refresh token not found: unknown, expired or revoked");
    }
}
