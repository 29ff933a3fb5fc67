//! `/api/v1/auth`: register, login, refresh, logout, profile (seed 004's `/auth`).

use aae_store::User;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiBody, ApiJson, ClientAddress};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A new local account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address; the account's sign-in name.
    #[schema(example = "ana@example.com")]
    pub email: String,
    /// At least `auth.min_password_length` characters (default 8), at most 1024 bytes.
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token `/login` or an earlier `/refresh` returned.
    pub refresh_token: String,
}

/// Logout: the refresh token to revoke with the access token (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// The session's refresh token.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Tokens (OAuth 2 style).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Exchange at `/api/v1/auth/refresh` for a new pair; works once.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// A user's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    /// User id.
    pub id: Uuid,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// `user` or `admin`.
    #[schema(value_type = String, example = "user")]
    pub role: aae_store::Role,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl From<&User> for Profile {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
            created_at: user.created_at,
        }
    }
}

fn tokens(pair: crate::auth::local::TokenPair) -> TokenResponse {
    TokenResponse {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
    }
}

/// Creates a local account.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = Profile), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    client: ClientAddress,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Profile>), ApiError> {
    let api = state.api()?;
    api.limiter.check("auth", &client.0).await?;
    let user = api.auth.local()?.register(&body.email, &body.password, body.name).await?;
    Ok((StatusCode::CREATED, Json(Profile::from(&user))))
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    client: ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let api = state.api()?;
    api.limiter.check("auth", &client.0).await?;
    let (_, pair) = api.auth.local()?.login(&body.email, &body.password).await?;
    Ok(Json(tokens(pair)))
}

/// Exchanges a refresh token for a new pair (the old refresh token stops working; replaying it
/// signs the account out everywhere).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    client: ClientAddress,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let api = state.api()?;
    api.limiter.check("auth", &client.0).await?;
    let pair = api.auth.local()?.refresh(&body.refresh_token).await?;
    Ok(Json(tokens(pair)))
}

/// Signs out: revokes the access token and, when given, the refresh token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body(content = LogoutRequest, description = "optional"),
    security(("bearer" = [])),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    ApiBody(body): ApiBody,
) -> Result<StatusCode, ApiError> {
    let api = state.api()?;
    let body: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?
    };
    api.auth.local()?.logout(&caller, body.refresh_token.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/auth/profile", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn profile(State(state): State<AppState>, caller: Caller) -> Result<Json<Profile>, ApiError> {
    let api = state.api()?;
    let user = api.records.users.get(caller.id).await.map_err(|e| match e.kind {
        aae_store::StoreErrorKind::NotFound => ApiError::unauthenticated("this account no longer exists"),
        _ => e.into(),
    })?;
    Ok(Json(Profile::from(&user)))
}
