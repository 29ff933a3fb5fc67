//! Who is calling: local accounts ([`local`]: Argon2id passwords, HS256 access tokens, rotating
//! refresh tokens) or an Amazon Cognito user pool ([`cognito`]: RS256 tokens checked against the
//! pool's JWKS), chosen by `auth.mode`.
//!
//! Handlers ask for a [`Caller`] (any signed-in user) or an [`Admin`]; both extractors check the
//! bearer token, then take one token from the caller's rate-limit bucket for the route's group.

pub mod cognito;
pub mod keys;
pub mod local;
pub mod password;

use aae_config::{AuthMode, Config};
use aae_store::{Records, Role, User};
use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{Method, header};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// AAE's user id.
    pub id: Uuid,
    /// Email address.
    pub email: String,
    /// Role.
    pub role: Role,
    /// The access token's id (local tokens), for logout.
    pub token_id: Option<String>,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

impl Caller {
    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    fn from_user(user: &User, token_id: Option<String>, expires_at: i64) -> Self {
        Self { id: user.id, email: user.email.clone(), role: user.role, token_id, expires_at }
    }
}

/// An admin caller; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

/// The configured authenticator.
pub enum Authenticator {
    /// AAE's own accounts.
    Local(local::LocalAuth),
    /// A Cognito user pool.
    Cognito(cognito::CognitoAuth),
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local(_) => "Authenticator::Local",
            Self::Cognito(_) => "Authenticator::Cognito",
        })
    }
}

impl Authenticator {
    /// The authenticator `auth.mode` names. Local mode loads (or creates) its signing key.
    pub fn from_config(config: &Config, records: &Records) -> Result<Self, ApiError> {
        match config.auth.mode {
            AuthMode::Local => Ok(Self::Local(local::LocalAuth::from_config(config, records)?)),
            AuthMode::Cognito => Ok(Self::Cognito(cognito::CognitoAuth::from_config(config, records)?)),
        }
    }

    /// Checks a bearer token and returns the caller.
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        match self {
            Self::Local(auth) => auth.verify(token).await,
            Self::Cognito(auth) => auth.verify(token).await,
        }
    }

    /// The local authenticator, or 404 in Cognito mode (its users sign in with Cognito).
    pub fn local(&self) -> Result<&local::LocalAuth, ApiError> {
        match self {
            Self::Local(auth) => Ok(auth),
            Self::Cognito(_) => Err(ApiError::not_found(
                "this server authenticates with a Cognito user pool (auth.mode = cognito); sign in through Cognito and send its token",
            )),
        }
    }
}

/// The bearer token of a request.
pub fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("sign in and send `Authorization: Bearer <access token>`"))?;
    let value = value.to_str().map_err(|_| ApiError::unauthenticated("the Authorization header is not valid text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be `Bearer <access token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthenticated("the Authorization header must be `Bearer <access token>`"));
    }
    Ok(token.trim())
}

/// The rate-limit group of a route: the matched route template and method decide it.
pub fn route_group(method: &Method, route: &str) -> &'static str {
    if route.starts_with("/v1/") {
        "gateway"
    } else if route.starts_with("/api/v1/auth/") {
        "auth"
    } else if route.ends_with("/messages") && method == Method::POST {
        "chat"
    } else if route.starts_with("/api/v1/campaigns") && method != Method::GET {
        "campaigns"
    } else if route.starts_with("/api/v1/files") {
        "files"
    } else if route.starts_with("/api/v1/admin") {
        "admin"
    } else {
        "default"
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let api = state.api()?;
        let token = bearer(parts)?;
        if keys::is_api_key(token) {
            return Err(ApiError::unauthenticated(
                "API keys are for the OpenAI-compatible /v1/* routes; sign in and send the access token here",
            ));
        }
        let caller = api.auth.verify(token).await?;
        let route = parts.extensions.get::<MatchedPath>().map_or_else(|| parts.uri.path(), MatchedPath::as_str);
        let group = route_group(&parts.method, route);
        api.limiter.check(group, &caller.id.to_string()).await?;
        Ok(caller)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.is_admin() {
            return Err(ApiError::forbidden(
                "this endpoint is for admins; an admin can grant the role with `aae users grant-admin EMAIL`",
            ));
        }
        Ok(Self(caller))
    }
}
