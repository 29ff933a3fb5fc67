//! `GET /api/v1/models` and `GET|PUT /api/v1/users/me/model-preference` (seed 001 task 8,
//! seed 000's `UserModelPreference`).

use aae_types::UserModelPreference;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// One model of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    /// `gemini`, `bedrock`, `sagemaker`, `openai_compatible` or `local`.
    pub provider: String,
    /// AAE's name, e.g. `claude-4.5-sonnet`.
    pub model: String,
    /// The provider's id.
    pub model_id: String,
    /// `conversational`, `image`, `video` or `embedding`.
    pub kind: String,
    /// What it can do (`chat`, `streaming`, `tools`, …).
    pub capabilities: Vec<String>,
    /// Whether this server can call it now.
    pub available: bool,
    /// How it is configured, or what to set to make it available.
    pub availability: String,
    /// Price in credits per million input tokens.
    pub input_per_million: Option<f64>,
    /// Price in credits per million output tokens.
    pub output_per_million: Option<f64>,
}

/// The catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Every model AAE knows.
    pub models: Vec<ModelInfo>,
}

/// A user's conversational model (seed 000 `UserModelPreference`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceBody {
    /// Provider, e.g. `gemini`, `bedrock`.
    #[schema(example = "bedrock")]
    pub conversational_provider: String,
    /// Model as the catalog names it, e.g. `claude-4.5-sonnet`.
    #[schema(example = "claude-4.5-sonnet")]
    pub conversational_model: String,
}

/// The preference in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferenceResponse {
    /// Provider.
    pub conversational_provider: String,
    /// Model.
    pub conversational_model: String,
    /// `user` when the user chose it, `default` when the server's default applies.
    pub source: &'static str,
    /// Whether this server can call the model now.
    pub available: bool,
    /// When the user last chose.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Lists every model with its availability and price.
#[utoipa::path(get, path = "/api/v1/models", tag = "models", security(("bearer" = [])),
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list_models(State(state): State<AppState>, _caller: Caller) -> Result<Json<ModelList>, ApiError> {
    let config = &state.config;
    let catalog = config.model_catalog();
    let models = catalog
        .entries()
        .iter()
        .map(|entry| {
            let (available, availability) = aae_models::availability(config, entry);
            let price = config.prices.get(&entry.key());
            ModelInfo {
                provider: entry.provider.as_str().to_owned(),
                model: entry.name.clone(),
                model_id: entry.model_id.clone(),
                kind: entry.kind.as_str().to_owned(),
                capabilities: entry.capabilities.iter().map(|c| c.as_str().to_owned()).collect(),
                available,
                availability,
                input_per_million: price.map(|p| p.input_per_million),
                output_per_million: price.map(|p| p.output_per_million),
            }
        })
        .collect();
    Ok(Json(ModelList { models }))
}

/// The preference a user's chats and campaigns use: their own, else the server's default.
pub(crate) async fn effective_preference(
    state: &AppState,
    user: uuid::Uuid,
) -> Result<(UserModelPreference, Option<DateTime<Utc>>), ApiError> {
    let api = state.api()?;
    Ok(match api.records.preferences.get(user).await? {
        Some(p) => (UserModelPreference::new(p.conversational_provider, p.conversational_model), Some(p.updated_at)),
        None => (state.config.default_model_preference(), None),
    })
}

fn response(
    state: &AppState,
    preference: UserModelPreference,
    updated_at: Option<DateTime<Utc>>,
) -> PreferenceResponse {
    let catalog = state.config.model_catalog();
    let available = preference.validate(&catalog).is_ok_and(|entry| aae_models::availability(&state.config, entry).0);
    PreferenceResponse {
        source: if updated_at.is_some() { "user" } else { "default" },
        available,
        updated_at,
        conversational_provider: preference.conversational_provider,
        conversational_model: preference.conversational_model,
    }
}

/// The caller's conversational model.
#[utoipa::path(get, path = "/api/v1/users/me/model-preference", tag = "models", security(("bearer" = [])),
    responses((status = 200, body = PreferenceResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get_preference(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PreferenceResponse>, ApiError> {
    let (preference, updated_at) = effective_preference(&state, caller.id).await?;
    Ok(Json(response(&state, preference, updated_at)))
}

/// Chooses the caller's conversational model; an unknown provider or model answers 422 with
/// the allowed choices.
#[utoipa::path(put, path = "/api/v1/users/me/model-preference", tag = "models", security(("bearer" = [])),
    request_body = PreferenceBody,
    responses((status = 200, body = PreferenceResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn put_preference(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PreferenceBody>,
) -> Result<Json<PreferenceResponse>, ApiError> {
    let api = state.api()?;
    let preference = UserModelPreference::new(body.conversational_provider.trim(), body.conversational_model.trim());
    preference.validate(&state.config.model_catalog()).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let stored = api
        .records
        .preferences
        .set(caller.id, &preference.conversational_provider, &preference.conversational_model)
        .await?;
    Ok(Json(response(&state, preference, Some(stored.updated_at))))
}
