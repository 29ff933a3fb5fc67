//! Tokens of an Amazon Cognito user pool (`auth.mode = cognito`).
//!
//! A token is accepted when: its header names RS256 and a `kid` of the pool's JWKS (downloaded
//! from `auth.cognito.jwks_url`, cached, and downloaded again when an unknown `kid` appears, at
//! most once per `jwks_min_refresh_secs`); the signature verifies; `iss` is the pool's issuer;
//! `exp` is in the future; `token_use` is `access` (with `client_id` one of
//! `auth.cognito.client_ids`) or `id` (with `aud` one of them). The user is created on first
//! sight (subject = the token's `sub`) and is an admin while the token lists
//! `auth.cognito.admin_group` in `cognito:groups`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aae_config::Config;
use aae_store::{NewUser, Records, Role, User, UserUpdate};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::Caller;
use crate::error::ApiError;

/// Users looked up by token subject, so a token does not cost a database round trip on every
/// request.
type UserCache = std::sync::Arc<std::sync::Mutex<HashMap<String, (User, Instant)>>>;

/// How long a user looked up from a token's subject is reused without a database read.
const USER_CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kid: String,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    token_use: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default, rename = "cognito:username")]
    cognito_username: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    groups: Vec<String>,
}

struct KeySet {
    keys: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

/// The Cognito authenticator.
pub struct CognitoAuth {
    records: Records,
    http: reqwest::Client,
    jwks_url: String,
    issuer: String,
    client_ids: Vec<String>,
    admin_group: String,
    min_refresh: Duration,
    keys: tokio::sync::RwLock<KeySet>,
    refresh: tokio::sync::Mutex<()>,
    users: UserCache,
}

impl CognitoAuth {
    /// The authenticator of `auth.cognito`.
    pub fn from_config(config: &Config, records: &Records) -> Result<Self, ApiError> {
        let cognito = &config.auth.cognito;
        let region = config.aws.region.as_deref();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ApiError::internal(format!("cannot build the JWKS client: {e}")))?;
        Ok(Self {
            records: records.clone(),
            http,
            jwks_url: cognito.jwks(region),
            issuer: cognito.expected_issuer(region),
            client_ids: cognito.client_ids.clone(),
            admin_group: cognito.admin_group.clone(),
            min_refresh: Duration::from_secs(cognito.jwks_min_refresh_secs),
            keys: tokio::sync::RwLock::new(KeySet { keys: HashMap::new(), fetched: None }),
            refresh: tokio::sync::Mutex::new(()),
            users: UserCache::default(),
        })
    }

    /// The key with `kid`, downloading the JWKS when it is not known yet.
    async fn key(&self, kid: &str) -> Result<DecodingKey, ApiError> {
        if let Some(key) = self.keys.read().await.keys.get(kid) {
            return Ok(key.clone());
        }
        // One download at a time; whoever waited finds the fresh set.
        let _guard = self.refresh.lock().await;
        {
            let keys = self.keys.read().await;
            if let Some(key) = keys.keys.get(kid) {
                return Ok(key.clone());
            }
            if keys.fetched.is_some_and(|at| at.elapsed() < self.min_refresh) {
                return Err(ApiError::unauthenticated("the token was signed by a key this user pool does not have"));
            }
        }
        let fetched = self.fetch().await;
        let mut keys = self.keys.write().await;
        keys.fetched = Some(Instant::now());
        match fetched {
            Ok(set) => keys.keys = set,
            Err(e) if keys.keys.is_empty() => return Err(e),
            Err(e) => tracing::warn!(error = %e, "jwks refresh failed; keeping the cached keys"),
        }
        keys.keys
            .get(kid)
            .cloned()
            .ok_or_else(|| ApiError::unauthenticated("the token was signed by a key this user pool does not have"))
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, ApiError> {
        let unavailable = |what: String| {
            tracing::warn!(url = %self.jwks_url, error = %what, "cannot load the cognito jwks");
            ApiError::new(
                aae_types::ErrorCode::Unavailable,
                "the identity provider's signing keys cannot be loaded; retry shortly",
            )
        };
        let response = self.http.get(&self.jwks_url).send().await.map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("status {}", response.status())));
        }
        let jwks: Jwks = response.json().await.map_err(|e| unavailable(e.to_string()))?;
        let mut keys = HashMap::new();
        for jwk in jwks.keys {
            if jwk.kty != "RSA" || jwk.alg.as_deref().is_some_and(|a| a != "RS256") {
                continue;
            }
            match DecodingKey::from_rsa_components(&jwk.n, &jwk.e) {
                Ok(key) => {
                    keys.insert(jwk.kid, key);
                }
                Err(e) => tracing::warn!(kid = %jwk.kid, error = %e, "skipping an unusable jwks key"),
            }
        }
        tracing::info!(keys = keys.len(), "cognito jwks loaded");
        Ok(keys)
    }

    /// Checks a Cognito token and returns the caller (created on first sight).
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let invalid =
            || ApiError::unauthenticated("the token is not a valid token of this server's user pool; sign in again");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.validate_aud = false; // checked below, per token_use
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 5;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::unauthenticated("the token has expired; sign in again")
                }
                _ => invalid(),
            })?
            .claims;
        let audience_ok = match claims.token_use.as_str() {
            "access" => claims.client_id.as_ref().is_some_and(|c| self.client_ids.contains(c)),
            "id" => match &claims.aud {
                Some(Value::String(aud)) => self.client_ids.contains(aud),
                Some(Value::Array(auds)) => {
                    auds.iter().filter_map(Value::as_str).any(|a| self.client_ids.iter().any(|c| c == a))
                }
                _ => false,
            },
            _ => false,
        };
        if !audience_ok {
            return Err(invalid());
        }
        let admin = claims.groups.contains(&self.admin_group);
        let user = self.user(&claims, admin).await?;
        Ok(Caller::from_user(&user, None, claims.exp))
    }

    async fn user(&self, claims: &Claims, admin: bool) -> Result<User, ApiError> {
        let role = if admin { Role::Admin } else { Role::User };
        let fresh = |u: &User| u.role == role && claims.email.as_ref().is_none_or(|e| *e == u.email);
        let cached = {
            let users = self.users.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            users.get(&claims.sub).filter(|(u, at)| at.elapsed() < USER_CACHE_TTL && fresh(u)).map(|(u, _)| u.clone())
        };
        if let Some(user) = cached {
            return Ok(user);
        }
        let existing = match self.records.users.get_by_subject(&claims.sub).await {
            Ok(user) => Some(user),
            Err(e) if e.kind == aae_store::StoreErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let mut user = match existing {
            // Access tokens carry no email: the one an ID token gave is kept.
            Some(user) if claims.email.as_ref().is_none_or(|e| *e == user.email) => user,
            existing => {
                let email = claims
                    .email
                    .clone()
                    .or_else(|| existing.map(|u| u.email))
                    .or_else(|| claims.username.clone())
                    .or_else(|| claims.cognito_username.clone())
                    .unwrap_or_else(|| claims.sub.clone());
                self.records.users.upsert_by_subject(NewUser { role, ..NewUser::new(&claims.sub, &email) }).await?
            }
        };
        // The pool's groups decide the role while this mode is on.
        if user.role != role {
            user = self.records.users.update(user.id, UserUpdate { role: Some(role), ..UserUpdate::default() }).await?;
        }
        let mut users = self.users.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if users.len() > 10_000 {
            users.clear();
        }
        users.insert(claims.sub.clone(), (user.clone(), Instant::now()));
        Ok(user)
    }
}
