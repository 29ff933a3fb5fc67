//! `GET /api/v1/health`: one line per configured service (storage, database, redis when set);
//! 503 when any is unhealthy.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

pub(crate) async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut services = state.storage.health().await;
    if let Some(records) = &state.records {
        services.push(records.health().await);
        services.extend(records.cache.health().await);
    }
    let healthy = services.iter().all(|s| s.healthy);
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "version": env!("CARGO_PKG_VERSION"),
        "environment": state.config.environment.as_str(),
        "services": services,
    });
    (status, Json(body))
}
