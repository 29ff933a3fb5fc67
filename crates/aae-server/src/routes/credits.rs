//! `GET /api/v1/credits` (the caller's balance and newest ledger entries) and admin
//! `POST /api/v1/admin/users/{user_id}/credits` (a grant, idempotent by key).

use aae_store::{Balance, LedgerEntry, MICROS_PER_CREDIT, StoreErrorKind};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiQuery};
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

fn credits(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_CREDIT as f64
}

/// A balance in credits.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceBody {
    /// Sum of grants.
    pub granted: f64,
    /// Reserved by work in progress.
    pub held: f64,
    /// Spent.
    pub spent: f64,
    /// What new work may reserve.
    pub available: f64,
}

impl From<Balance> for BalanceBody {
    fn from(b: Balance) -> Self {
        Self {
            granted: credits(b.granted),
            held: credits(b.held),
            spent: credits(b.spent),
            available: credits(b.available),
        }
    }
}

/// One ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryBody {
    /// Entry id.
    pub id: Uuid,
    /// `grant`, `hold`, `capture` or `release`.
    pub kind: String,
    /// Credits.
    pub amount: f64,
    /// The hold a capture or release settles.
    pub hold_id: Option<Uuid>,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&LedgerEntry> for EntryBody {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            id: e.id,
            kind: e.kind.as_str().to_owned(),
            amount: credits(e.amount),
            hold_id: e.hold_id,
            reason: e.reason.clone(),
            created_at: e.created_at,
        }
    }
}

/// Balance and ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditsBody {
    /// The balance.
    pub balance: BalanceBody,
    /// Newest entries first.
    pub ledger: Vec<EntryBody>,
}

/// How many entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Entries, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// Credits to add (> 0, at most 1,000,000,000).
    #[schema(example = 100.0)]
    pub amount: f64,
    /// Why (shown in the user's ledger).
    #[serde(default)]
    pub reason: Option<String>,
    /// A key that makes retries of the same grant write it once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// A grant's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantResponse {
    /// The entry.
    pub entry: EntryBody,
    /// The user's balance after it.
    pub balance: BalanceBody,
}

/// The caller's balance and newest ledger entries.
#[utoipa::path(get, path = "/api/v1/credits", tag = "credits", security(("bearer" = [])), params(LedgerQuery),
    responses((status = 200, body = CreditsBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn get_credits(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> Result<Json<CreditsBody>, ApiError> {
    let api = state.api()?;
    let limit = super::page_limit(query.limit)?;
    let balance = api.records.credits.balance(caller.id).await?;
    let entries = api.records.credits.entries(caller.id, limit).await?;
    Ok(Json(CreditsBody { balance: balance.into(), ledger: entries.iter().map(EntryBody::from).collect() }))
}

/// Grants credits to a user (admins only).
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/credits", tag = "credits", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The user's id")), request_body = GrantRequest,
    responses((status = 201, body = GrantResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn grant(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<GrantRequest>,
) -> Result<(StatusCode, Json<GrantResponse>), ApiError> {
    let api = state.api()?;
    let not_found = || ApiError::not_found(format!("no user `{user_id}`"));
    let id = Uuid::parse_str(&user_id).map_err(|_| not_found())?;
    if !body.amount.is_finite() || body.amount <= 0.0 || body.amount > 1e9 {
        return Err(ApiError::invalid("amount must be a number of credits above 0 and at most 1000000000"));
    }
    let micros = (body.amount * MICROS_PER_CREDIT as f64).round() as i64;
    if micros == 0 {
        return Err(ApiError::invalid("amount must be at least 0.000001 credits"));
    }
    if body.idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 200) {
        return Err(ApiError::invalid("idempotency_key must have 1 to 200 characters"));
    }
    match api.records.users.get(id).await {
        Ok(_) => {}
        Err(e) if e.kind == StoreErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(e.into()),
    }
    let reason = body.reason.unwrap_or_else(|| format!("granted by {}", admin.email));
    let entry = api.records.credits.grant(id, micros, &reason, body.idempotency_key.as_deref()).await?;
    let balance = api.records.credits.balance(id).await?;
    tracing::info!(user = %id, admin = %admin.id, micros, "credits granted");
    Ok((StatusCode::CREATED, Json(GrantResponse { entry: EntryBody::from(&entry), balance: balance.into() })))
}
