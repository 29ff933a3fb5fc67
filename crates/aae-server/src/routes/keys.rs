//! `POST|GET /api/v1/keys` and `DELETE /api/v1/keys/{key_id}`: the caller's API keys for the
//! OpenAI-compatible gateway. The secret is in the creation response only; listings show its
//! first characters. Managing keys needs a signed-in session (a key cannot mint keys).

use aae_store::ApiKey;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ApiJson;
use crate::auth::Caller;
use crate::auth::keys::{KeyOptions, check_allowed_models, create_key};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A new key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// A name to recognise it by (1 to 100 characters).
    #[schema(example = "LibreChat")]
    pub name: String,
    /// When it stops working (RFC 3339); none: never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Or: days from now until it stops working (1 to 3650).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Models it may call (catalog names or `provider/name`); empty or absent: all.
    #[serde(default)]
    pub allowed_models: Vec<String>,
}

/// A key as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyBody {
    /// Key id (for `DELETE`).
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its first characters, e.g. `aae-sk-Ab12Cd`.
    pub prefix: String,
    /// Models it may call; empty: all.
    pub allowed_models: Vec<String>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for KeyBody {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            allowed_models: key.allowed_models.clone(),
            expires_at: key.expires_at,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// A key just created, with its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyBody {
    /// The key: send it as `Authorization: Bearer <key>`. It is not shown again.
    pub key: String,
    /// Its record.
    #[serde(flatten)]
    pub record: KeyBody,
}

/// The caller's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Newest first; revoked keys are not listed.
    pub keys: Vec<KeyBody>,
}

/// Creates an API key; its secret is in this response only.
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys", security(("bearer" = [])), request_body = CreateKeyRequest,
    responses((status = 201, body = CreatedKeyBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKeyBody>), ApiError> {
    let api = state.api()?;
    let expires_at = match (body.expires_at, body.expires_in_days) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("give expires_at or expires_in_days, not both")),
        (Some(at), None) => Some(at),
        (None, Some(days @ 1..=3650)) => Some(Utc::now() + Duration::days(i64::from(days))),
        (None, Some(days)) => return Err(ApiError::invalid(format!("expires_in_days must be 1 to 3650, not {days}"))),
        (None, None) => None,
    };
    let allowed_models = check_allowed_models(&state.config.model_catalog(), &body.allowed_models)?;
    let created =
        create_key(&api.records, caller.id, KeyOptions { name: body.name, expires_at, allowed_models }).await?;
    tracing::info!(user = %caller.id, key = %created.key.id, "API key created");
    Ok((StatusCode::CREATED, Json(CreatedKeyBody { key: created.secret, record: KeyBody::from(&created.key) })))
}

/// The caller's keys, newest first, without their secrets.
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys", security(("bearer" = [])),
    responses((status = 200, body = KeyList), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<KeyList>, ApiError> {
    let api = state.api()?;
    let keys = api.records.api_keys.list_by_user(caller.id).await?;
    Ok(Json(KeyList { keys: keys.iter().map(KeyBody::from).collect() }))
}

/// Revokes one of the caller's keys; it answers 401 from then on.
#[utoipa::path(delete, path = "/api/v1/keys/{key_id}", tag = "keys", security(("bearer" = [])),
    params(("key_id" = String, Path, description = "The key's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let api = state.api()?;
    let not_found = || ApiError::not_found(format!("you have no active API key `{key_id}`"));
    let id = Uuid::parse_str(&key_id).map_err(|_| not_found())?;
    match api.keys.revoke(caller.id, id).await {
        Ok(_) => {
            tracing::info!(user = %caller.id, key = %id, "API key revoked");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(error) if error.code == aae_types::ErrorCode::NotFound => Err(not_found()),
        Err(error) => Err(error),
    }
}
