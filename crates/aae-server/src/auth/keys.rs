//! API keys for the OpenAI-compatible gateway: `aae-sk-` and 43 characters of base64url (256
//! random bits), shown once, stored as their SHA-256 hex (`aae_store::ApiKeyStore`), sent as
//! `Authorization: Bearer`. A key may expire and may be limited to some models.
//!
//! A checked key is remembered in process for `gateway.key_cache_secs` so a busy key costs no
//! database read per request. Expiry is checked on every request; revoking through this server
//! forgets the key at once, and with Redis (`redis.url`) a `revoked-key:{id}` marker makes other
//! instances refuse it at once too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use aae_store::{ApiKey, NewApiKey, Records, StoreErrorKind};
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Caller;
use crate::error::ApiError;

/// What every AAE API key starts with.
pub const KEY_PREFIX: &str = "aae-sk-";

/// Characters of a key shown in listings.
const SHOWN: usize = KEY_PREFIX.len() + 6;

/// How often a key's `last_used_at` is written at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Whether a bearer token is an API key (rather than an access token).
pub fn is_api_key(token: &str) -> bool {
    token.starts_with(KEY_PREFIX)
}

/// SHA-256 hex of a key: what the store keeps.
pub fn key_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What a new key is for.
#[derive(Debug, Clone, Default)]
pub struct KeyOptions {
    /// A name to recognise it by (1 to 100 characters).
    pub name: String,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Models it may call (`provider/name` or catalog names); empty: all.
    pub allowed_models: Vec<String>,
}

/// A key just created: the secret (shown once) and its record.
#[derive(Debug)]
pub struct CreatedKey {
    /// The key itself.
    pub secret: String,
    /// Its record.
    pub key: ApiKey,
}

/// `models` as a key's allowed models: each must be in `catalog`, as a name or `provider/name`;
/// duplicates are dropped.
pub fn check_allowed_models(catalog: &aae_types::ModelCatalog, models: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::with_capacity(models.len());
    for model in models {
        let model = model.trim();
        if !catalog.entries().iter().any(|e| e.key() == model || e.name == model) {
            let names: Vec<String> = catalog.entries().iter().map(|e| e.name.clone()).collect();
            return Err(ApiError::invalid(format!(
                "allowed_models names `{model}`, which is not in the catalog; known models: {}",
                names.join(", ")
            )));
        }
        if !out.iter().any(|m| m == model) {
            out.push(model.to_owned());
        }
    }
    if out.len() > 100 {
        return Err(ApiError::invalid("allowed_models may list at most 100 models"));
    }
    Ok(out)
}

/// Creates a key for `user_id`.
pub async fn create_key(records: &Records, user_id: Uuid, options: KeyOptions) -> Result<CreatedKey, ApiError> {
    let name = options.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    if let Some(at) = options.expires_at
        && at <= Utc::now()
    {
        return Err(ApiError::invalid(format!("expires_at {} is in the past", at.to_rfc3339())));
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let key = records
        .api_keys
        .create(NewApiKey {
            user_id,
            name: name.to_owned(),
            prefix: secret[..SHOWN].to_owned(),
            key_hash: key_hash(&secret),
            allowed_models: options.allowed_models,
            expires_at: options.expires_at,
        })
        .await?;
    Ok(CreatedKey { secret, key })
}

struct Cached {
    key: ApiKey,
    caller: Caller,
    checked: Instant,
    touched: Instant,
}

/// Checks API keys, remembering good ones for a short while.
pub struct ApiKeys {
    records: Records,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

fn refused(message: &str) -> ApiError {
    ApiError::unauthenticated(message.to_owned())
}

impl ApiKeys {
    /// A checker over `records`, remembering keys for `ttl`.
    pub fn new(records: Records, ttl: Duration) -> Self {
        Self { records, ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The caller a key stands for, and the key; 401 for an unknown, revoked or expired key.
    pub async fn verify(&self, secret: &str) -> Result<(Caller, ApiKey), ApiError> {
        let hash = key_hash(secret);
        let now = Utc::now();
        let hit = {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            match cache.get_mut(&hash) {
                Some(cached) if cached.checked.elapsed() < self.ttl => {
                    let touch = cached.touched.elapsed() >= TOUCH_EVERY;
                    if touch {
                        cached.touched = Instant::now();
                    }
                    Some((cached.caller.clone(), cached.key.clone(), touch))
                }
                _ => None,
            }
        };
        if let Some((caller, key, touch)) = hit {
            check_active(&key, now)?;
            if self.records.cache.status().enabled
                && self.records.cache.get(&format!("revoked-key:{}", key.id)).await.is_some()
            {
                self.forget(key.id);
                return Err(refused("this API key was revoked; create a new one with POST /api/v1/keys"));
            }
            if touch {
                self.touch(key.id, now);
            }
            return Ok((caller, key));
        }
        let key = match self.records.api_keys.find_by_hash(&hash).await {
            Ok(key) => key,
            Err(error) if error.kind == StoreErrorKind::NotFound => {
                return Err(refused(
                    "the API key is not valid; create one with POST /api/v1/keys or `aae keys create EMAIL`",
                ));
            }
            Err(error) => return Err(error.into()),
        };
        check_active(&key, now)?;
        let user = self.records.users.get(key.user_id).await?;
        let caller = Caller {
            id: user.id,
            email: user.email.clone(),
            role: user.role,
            token_id: None,
            expires_at: key.expires_at.map_or(i64::MAX, |at| at.timestamp()),
        };
        self.touch(key.id, now);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.insert(
            hash,
            Cached { key: key.clone(), caller: caller.clone(), checked: Instant::now(), touched: Instant::now() },
        );
        Ok((caller, key))
    }

    /// Records the use on its own task; failures are logged.
    fn touch(&self, id: Uuid, at: DateTime<Utc>) {
        let store = std::sync::Arc::clone(&self.records.api_keys);
        tokio::spawn(async move {
            if let Err(error) = store.touch(id, at).await {
                tracing::warn!(key = %id, error = %error, "recording an API key's use failed");
            }
        });
    }

    fn forget(&self, id: Uuid) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|_, cached| cached.key.id != id);
    }

    /// Revokes `user_id`'s key `id`: stored, forgotten here, and marked in Redis for other
    /// instances. 404 when the user has no such active key.
    pub async fn revoke(&self, user_id: Uuid, id: Uuid) -> Result<ApiKey, ApiError> {
        let key = self.records.api_keys.revoke(user_id, id).await?;
        self.forget(id);
        if self.records.cache.status().enabled {
            let ttl = self.ttl.max(Duration::from_secs(1));
            self.records.cache.set(&format!("revoked-key:{id}"), "1", ttl).await;
        }
        Ok(key)
    }
}

fn check_active(key: &ApiKey, now: DateTime<Utc>) -> Result<(), ApiError> {
    if key.revoked_at.is_some() {
        return Err(refused("this API key was revoked; create a new one with POST /api/v1/keys"));
    }
    if let Some(at) = key.expires_at
        && at <= now
    {
        return Err(ApiError::unauthenticated(format!(
            "this API key expired at {}; create a new one with POST /api/v1/keys",
            at.to_rfc3339()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_recognised_and_hashed() {
        assert!(is_api_key("aae-sk-abc"));
        assert!(!is_api_key("eyJhbGciOi"));
        assert_eq!(key_hash("aae-sk-x").len(), 64);
        assert_ne!(key_hash("aae-sk-x"), key_hash("aae-sk-y"));
    }
}
