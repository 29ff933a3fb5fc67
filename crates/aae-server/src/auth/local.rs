//! Local accounts: a user whose subject is `local:{email}`, an Argon2id password hash, HS256
//! access tokens (`auth.access_token_ttl_secs`, default 15 minutes) and opaque refresh tokens
//! (32 random bytes, stored as their SHA-256) that rotate on every use. Replaying a used refresh
//! token revokes every session of the account (the store's reuse detection). Logout revokes the
//! refresh token and the access token it is called with.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aae_config::Config;
use aae_store::{NewUser, Records, Role, StoreErrorKind, User};
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Caller, password};
use crate::error::ApiError;

/// The audience of local access tokens.
const AUDIENCE: &str = "aae-api";

/// The claims of a local access token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
    email: String,
    role: Role,
}

/// A token pair, as `/auth/login` and `/auth/refresh` answer it.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The signed access token.
    pub access_token: String,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// AAE's own accounts.
pub struct LocalAuth {
    records: Records,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
    min_password: usize,
    allow_registration: bool,
    /// Access tokens revoked by logout before they expire: `jti` → expiry (Unix seconds).
    revoked: Mutex<HashMap<String, i64>>,
}

/// The subject of a local account.
pub fn local_subject(email: &str) -> String {
    format!("local:{}", email.trim().to_lowercase())
}

/// SHA-256 hex of a refresh token: what the store keeps.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks an email address enough to catch typos: one `@`, something on both sides, a dot in
/// the domain, no spaces, at most 254 characters.
pub fn check_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if !valid {
        return Err(ApiError::invalid(format!("`{email}` is not an email address; example: ana@example.com")));
    }
    Ok(email.to_owned())
}

impl LocalAuth {
    /// The authenticator of `auth` with the key `auth.jwt_secret` or the generated one.
    pub fn from_config(config: &Config, records: &Records) -> Result<Self, ApiError> {
        let secret = match &config.auth.jwt_secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => aae_storage::load_or_create_secret(&config.data_dir, "jwt")
                .map_err(|e| ApiError::internal(format!("cannot load the token signing key: {e}")))?,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.auth.issuer.as_str()]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 5;
        Ok(Self {
            records: records.clone(),
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            issuer: config.auth.issuer.clone(),
            access_ttl: Duration::from_secs(config.auth.access_token_ttl_secs),
            refresh_ttl: Duration::from_secs(config.auth.refresh_token_ttl_secs),
            min_password: config.auth.min_password_length,
            allow_registration: config.auth.allow_registration,
            revoked: Mutex::new(HashMap::new()),
        })
    }

    fn check_password(&self, password: &str) -> Result<(), ApiError> {
        if password.chars().count() < self.min_password {
            return Err(ApiError::invalid(format!("the password must have at least {} characters", self.min_password)));
        }
        if password.len() > password::MAX_PASSWORD_BYTES {
            return Err(ApiError::invalid(format!(
                "the password must have at most {} bytes",
                password::MAX_PASSWORD_BYTES
            )));
        }
        Ok(())
    }

    /// Creates an account. `Conflict` when the email is taken.
    pub async fn register(&self, email: &str, password: &str, name: Option<String>) -> Result<User, ApiError> {
        if !self.allow_registration {
            return Err(ApiError::forbidden(
                "registration is closed on this server (auth.allow_registration = false); ask an operator for an account",
            ));
        }
        let email = check_email(email)?;
        self.check_password(password)?;
        if let Some(name) = &name
            && (name.chars().count() > 255 || name.chars().any(char::is_control))
        {
            return Err(ApiError::invalid("name must be at most 255 characters without control characters"));
        }
        let hash = password::hash(password.to_owned()).await?;
        let user = NewUser { name, ..NewUser::new(local_subject(&email), &email) };
        let user = self.records.users.create(user).await.map_err(|e| match e.kind {
            StoreErrorKind::Conflict => ApiError::new(
                aae_types::ErrorCode::Conflict,
                format!("an account for {email} already exists; sign in instead"),
            ),
            _ => e.into(),
        })?;
        self.records.auth.set_password(user.id, &hash).await?;
        Ok(user)
    }

    /// Checks the email and password; a new token pair when they match.
    pub async fn login(&self, email: &str, password: &str) -> Result<(User, TokenPair), ApiError> {
        let denied = || ApiError::unauthenticated("wrong email or password");
        if password.len() > password::MAX_PASSWORD_BYTES {
            return Err(denied());
        }
        let user = match self.records.users.get_by_subject(&local_subject(email)).await {
            Ok(user) => Some(user),
            Err(e) if e.kind == StoreErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let stored = match &user {
            Some(user) => self.records.auth.password_hash(user.id).await?,
            None => None,
        };
        let matches = password::verify(password.to_owned(), stored).await?;
        let user = user.filter(|_| matches).ok_or_else(denied)?;
        let pair = self.issue(&user).await?;
        Ok((user, pair))
    }

    /// A new pair for `user`: an access token and a refresh token.
    pub async fn issue(&self, user: &User) -> Result<TokenPair, ApiError> {
        let refresh_token = new_refresh_token();
        let expires_at = Utc::now() + self.refresh_ttl;
        self.records.auth.issue_refresh(user.id, &token_hash(&refresh_token), expires_at).await?;
        Ok(TokenPair { access_token: self.access_token(user)?, refresh_token, expires_in: self.access_ttl.as_secs() })
    }

    fn access_token(&self, user: &User) -> Result<String, ApiError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            exp: now + self.access_ttl.as_secs() as i64,
            iat: now,
            jti: Uuid::new_v4().simple().to_string(),
            email: user.email.clone(),
            role: user.role,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(format!("cannot sign an access token: {e}")))
    }

    /// Exchanges a refresh token for a new pair; the old refresh token stops working.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, ApiError> {
        let new = new_refresh_token();
        let expires_at = Utc::now() + self.refresh_ttl;
        let rotated =
            self.records.auth.rotate_refresh(&token_hash(refresh_token), &token_hash(&new), expires_at).await.map_err(
                |e| match e.kind {
                    StoreErrorKind::NotFound => {
                        ApiError::unauthenticated("the refresh token is unknown, expired or revoked; sign in again")
                    }
                    _ => e.into(),
                },
            )?;
        let user = self.records.users.get(rotated.user_id).await?;
        Ok(TokenPair {
            access_token: self.access_token(&user)?,
            refresh_token: new,
            expires_in: self.access_ttl.as_secs(),
        })
    }

    /// Revokes the caller's access token and, when given, its refresh token.
    pub async fn logout(&self, caller: &Caller, refresh_token: Option<&str>) -> Result<(), ApiError> {
        if let Some(token) = refresh_token {
            self.records.auth.revoke_refresh(&token_hash(token)).await?;
        }
        if let Some(jti) = &caller.token_id {
            let now = Utc::now().timestamp();
            {
                let mut revoked = self.revoked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                revoked.retain(|_, exp| *exp > now);
                revoked.insert(jti.clone(), caller.expires_at);
            }
            let ttl = Duration::from_secs((caller.expires_at - now).max(1) as u64);
            self.records.cache.set(&format!("revoked-token:{jti}"), "1", ttl).await;
        }
        Ok(())
    }

    /// Checks a local access token: signature (HS256 only), issuer, audience, expiry, revocation.
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthenticated("the access token has expired; refresh it or sign in again")
                }
                _ => ApiError::unauthenticated("the access token is not valid; sign in again"),
            }
        })?;
        let claims = data.claims;
        let id = Uuid::parse_str(&claims.sub)
            .map_err(|_| ApiError::unauthenticated("the access token is not valid; sign in again"))?;
        let revoked_here = {
            let revoked = self.revoked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            revoked.contains_key(&claims.jti)
        };
        let revoked = revoked_here
            || (self.records.cache.status().enabled
                && self.records.cache.get(&format!("revoked-token:{}", claims.jti)).await.is_some());
        if revoked {
            return Err(ApiError::unauthenticated("the access token was revoked by logout; sign in again"));
        }
        Ok(Caller { id, email: claims.email, role: claims.role, token_id: Some(claims.jti), expires_at: claims.exp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_subjects_normalised() {
        assert_eq!(check_email(" Ana@Example.com ").expect("valid"), "Ana@Example.com");
        for bad in ["ana", "ana@", "@example.com", "ana@example", "a na@example.com", "ana@.com"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert_eq!(local_subject("Ana@Example.com"), "local:ana@example.com");
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, b) = (new_refresh_token(), new_refresh_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
