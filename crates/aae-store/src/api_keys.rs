//! API keys: long-lived credentials a user creates for programmatic access (`api_keys`,
//! migration `0005_api_keys`).
//!
//! As with refresh tokens, hashing is the caller's job: a key arrives as the sha256 hex of the
//! secret, plus a short `prefix` shown in listings, so this store never sees a key it could leak.
//! Revoked and expired keys stay in the table; [`ApiKeyStore::find_by_hash`] returns them with
//! their state and the caller decides ([`ApiKey::is_active`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::MAX_TOKEN_HASH_LEN;
use crate::error::{StoreError, StoreErrorKind, StoreResult};
use crate::row::SqlRow;

/// The longest key name accepted, in characters.
pub const MAX_API_KEY_NAME_LEN: usize = 100;

pub(crate) const ENTITY: &str = "api key";

/// One API key's record. The secret itself is never stored, only its sha256 hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Id.
    pub id: Uuid,
    /// The user it acts as.
    pub user_id: Uuid,
    /// The name its owner gave it.
    pub name: String,
    /// The first characters of the key, shown in listings (e.g. `aae-sk-Ab12`).
    pub prefix: String,
    /// The models it may call; empty means every model.
    pub allowed_models: Vec<String>,
    /// When it stops being accepted; `None` never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The latest use recorded by [`ApiKeyStore::touch`].
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key is accepted at `now`: not revoked and not expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires| expires > now)
    }
}

/// A key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Owner; must exist.
    pub user_id: Uuid,
    /// 1 to [`MAX_API_KEY_NAME_LEN`] characters, not only whitespace.
    pub name: String,
    /// The first characters of the key, shown in listings.
    pub prefix: String,
    /// The sha256 hex of the key: 1 to [`MAX_TOKEN_HASH_LEN`] characters, unique.
    pub key_hash: String,
    /// The models it may call; empty means every model.
    pub allowed_models: Vec<String>,
    /// When it stops being accepted; `None` never.
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewApiKey {
    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_API_KEY_NAME_LEN {
            return Err(StoreError::invalid(ENTITY, format!("name must be 1 to {MAX_API_KEY_NAME_LEN} characters")));
        }
        if self.key_hash.is_empty() || self.key_hash.len() > MAX_TOKEN_HASH_LEN {
            return Err(StoreError::invalid(
                ENTITY,
                format!("key hash must be 1 to {MAX_TOKEN_HASH_LEN} characters (sha256 hex)"),
            ));
        }
        Ok(())
    }

    /// `allowed_models` as the JSON array stored.
    pub(crate) fn allowed_models_json(&self) -> Value {
        Value::from(self.allowed_models.clone())
    }
}

/// API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key with a new id. `Invalid` for an empty name (or one longer than
    /// [`MAX_API_KEY_NAME_LEN`] characters) or an empty hash (or one longer than
    /// [`MAX_TOKEN_HASH_LEN`]); `Conflict` when the hash is taken; `NotFound` when the user does
    /// not exist.
    async fn create(&self, key: NewApiKey) -> StoreResult<ApiKey>;

    /// The key whose hash is `key_hash`, whatever its state (revoked and expired keys included;
    /// callers decide with [`ApiKey::is_active`]). `NotFound` when none; the error never carries
    /// the hash.
    async fn find_by_hash(&self, key_hash: &str) -> StoreResult<ApiKey>;

    /// The user's keys, newest first, revoked ones excluded (expired ones included).
    async fn list_by_user(&self, user_id: Uuid) -> StoreResult<Vec<ApiKey>>;

    /// Revokes the user's key `id` (sets `revoked_at` to now) and returns the revoked record.
    /// `NotFound` when the key does not exist, belongs to another user, or is already revoked.
    async fn revoke(&self, user_id: Uuid, id: Uuid) -> StoreResult<ApiKey>;

    /// Records that the key was used at `at`: sets `last_used_at` when `at` is later than the
    /// stored value (or none is stored). An unknown id is not an error.
    async fn touch(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
}

pub(crate) const KEY_COLUMNS: &str =
    "id, user_id, name, prefix, allowed_models, expires_at, created_at, last_used_at, revoked_at";

/// Inserts key `$1` of user `$2` named `$3` with prefix `$4`, hash `$5`, models `$6`, expiring
/// at `$7`, created at `$8`.
pub(crate) fn insert_sql() -> String {
    format!(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, allowed_models, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {KEY_COLUMNS}"
    )
}

/// The key hashed `$1`.
pub(crate) fn find_by_hash_sql() -> String {
    format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1")
}

/// User `$1`'s unrevoked keys, newest first.
pub(crate) fn list_by_user_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL \
         ORDER BY created_at DESC, id DESC"
    )
}

/// Revokes key `$1` of user `$2` at `$3` unless already revoked.
pub(crate) fn revoke_sql() -> String {
    format!(
        "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL \
         RETURNING {KEY_COLUMNS}"
    )
}

/// Sets key `$1`'s `last_used_at` to `$2` unless a later use is recorded (on SQLite the fixed-width
/// text compares in time order).
pub(crate) const TOUCH_SQL: &str =
    "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";

/// No key has the hash presented (never says which hash).
pub(crate) fn key_not_found() -> StoreError {
    StoreError::new(StoreErrorKind::NotFound, ENTITY, "no key has this hash")
}

/// The insert's error: a foreign-key violation means the user does not exist (`NotFound`);
/// anything else is classified as usual (a taken hash is `Conflict`).
pub(crate) fn insert_error(user_id: Uuid, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::not_found("user", user_id),
        _ => StoreError::from_sqlx(ENTITY, error),
    }
}

pub(crate) fn key_from_row(row: &impl SqlRow) -> StoreResult<ApiKey> {
    let models = row.json("allowed_models")?;
    let allowed_models = match models {
        Value::Null => Vec::new(),
        other => serde_json::from_value(other)
            .map_err(|e| StoreError::corrupt(ENTITY, format!("allowed_models is not an array of strings: {e}")))?,
    };
    Ok(ApiKey {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        name: row.text("name")?,
        prefix: row.text("prefix")?,
        allowed_models,
        expires_at: row.opt_time("expires_at")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn new_key(name: &str, key_hash: &str) -> NewApiKey {
        NewApiKey {
            user_id: Uuid::new_v4(),
            name: name.to_owned(),
            prefix: "aae-sk-Ab12".to_owned(),
            key_hash: key_hash.to_owned(),
            allowed_models: Vec::new(),
            expires_at: None,
        }
    }

    #[test]
    fn names_and_hashes_are_bounded() {
        let hash = "a".repeat(64);
        assert!(new_key("ci", &hash).check().is_ok());
        assert!(new_key(&"é".repeat(100), &hash).check().is_ok(), "characters, not bytes");
        assert!(new_key(&"n".repeat(101), &hash).check().is_err());
        assert!(new_key("", &hash).check().is_err());
        assert!(new_key("  ", &hash).check().is_err());
        assert!(new_key("ci", "").check().is_err());
        assert!(new_key("ci", &"a".repeat(65)).check().is_err());
    }

    #[test]
    fn a_key_is_active_until_revoked_or_expired() {
        let now = Utc::now();
        let mut key = ApiKey {
            id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            name: "ci".into(),
            prefix: "aae-sk-Ab12".into(),
            allowed_models: Vec::new(),
            expires_at: None,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        assert!(key.is_active(now));
        key.expires_at = Some(now + Duration::hours(1));
        assert!(key.is_active(now));
        assert!(!key.is_active(now + Duration::hours(1)), "expired at the instant it expires");
        key.expires_at = None;
        key.revoked_at = Some(now);
        assert!(!key.is_active(now));
    }

    #[test]
    fn a_missing_key_never_names_the_hash() {
        let error = key_not_found();
        assert_eq!(error.kind, StoreErrorKind::NotFound);
        assert_eq!(error.to_string(), "api key not found: no key has this hash");
    }
}
