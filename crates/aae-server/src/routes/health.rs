//! `GET /api/v1/health`: one seed-000 `ServiceHealth` line per configured service — storage
//! (and its secondary and CDN), database, campaigns store, redis, each configured model
//! provider — each marked `required` or not; 200 when every required line is healthy, 503
//! otherwise. Redis and the model providers are optional: the server works from the database
//! while Redis is down, and a provider that is down fails the calls that need it (the router's
//! fallbacks may cover them), so an unhealthy optional line makes the status `degraded`, still
//! 200. `GET /metrics` serves the Prometheus registry.

use std::time::{Duration, Instant};

use aae_store::StoreErrorKind;
use aae_types::{Provider, ServiceHealth};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// One service's line.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceLine {
    /// `storage`, `database`, `campaigns`, `redis`, `model.{provider}`, …
    pub service: String,
    /// Whether the probe succeeded.
    pub healthy: bool,
    /// What was probed, or why it failed.
    pub detail: String,
    /// Probe time in milliseconds.
    pub latency_ms: u64,
    /// When the probe ran.
    pub last_check: String,
    /// Whether the server's status depends on it.
    pub required: bool,
}

/// The server's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `healthy`, `degraded` (an optional service is down; 200) or `unhealthy` (a required one
    /// is; 503).
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// `development`, `staging` or `production`.
    pub environment: &'static str,
    /// One line per service.
    pub services: Vec<ServiceLine>,
}

fn line(health: ServiceHealth, required: bool) -> ServiceLine {
    ServiceLine {
        service: health.service,
        healthy: health.healthy,
        detail: health.detail,
        latency_ms: health.latency_ms,
        last_check: health.last_check,
        required,
    }
}

fn probe_line(service: &str, started: Instant, result: Result<String, String>) -> ServiceHealth {
    let (healthy, detail) = match result {
        Ok(detail) => (true, detail),
        Err(detail) => (false, detail),
    };
    ServiceHealth {
        service: service.to_owned(),
        healthy,
        detail,
        latency_ms: started.elapsed().as_millis() as u64,
        last_check: Utc::now().to_rfc3339(),
    }
}

async fn campaigns_line(state: &AppState) -> Option<ServiceHealth> {
    let records = state.records.as_ref()?;
    let started = Instant::now();
    let backend = state.config.campaigns.backend;
    let result = match records.campaigns.get("__aae_health_probe__").await {
        Ok(_) => Ok(format!("{backend:?} store answers").to_lowercase()),
        Err(e) if e.kind == StoreErrorKind::NotFound => Ok(format!("{backend:?} store answers").to_lowercase()),
        Err(e) => Err(e.to_string()),
    };
    Some(probe_line("campaigns", started, result))
}

async fn provider_line(state: &AppState, provider: Provider) -> ServiceHealth {
    let started = Instant::now();
    let config = &state.config;
    let result = match provider {
        Provider::Local => {
            let catalog = config.model_catalog();
            let entry = catalog.of_kind(aae_types::ModelKind::Conversational).find(|e| e.provider == Provider::Local);
            match entry.map(|e| aae_models::availability(config, e)) {
                Some((true, how)) => Ok(how),
                Some((false, hint)) => Err(format!("weights missing: {hint}")),
                None => Err("no embedded model".to_owned()),
            }
        }
        Provider::OpenaiCompatible => {
            let base = config.providers.openai_compatible.base_url.clone().unwrap_or_default();
            let url = format!("{}/models", base.trim_end_matches('/'));
            match &*PROBE_CLIENT {
                Ok(client) => match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() || r.status() == StatusCode::UNAUTHORIZED => {
                        Ok(format!("{base} answers"))
                    }
                    Ok(r) => Err(format!("{base} answered {}", r.status())),
                    Err(e) => Err(format!("{base} unreachable: {}", aae_types::error_chain(&e))),
                },
                Err(e) => Err(e.clone()),
            }
        }
        // Probing a paid API on every health check would cost money and quota: these lines say
        // what is configured; the router's breaker reports failures as they happen.
        _ => Ok("configured (not probed)".to_owned()),
    };
    probe_line(&format!("model.{}", provider.as_str()), started, result)
}

/// One HTTP client for every probe (its connection pool and TLS set-up are reused), built on
/// first use.
static PROBE_CLIENT: std::sync::LazyLock<Result<reqwest::Client, String>> = std::sync::LazyLock::new(|| {
    reqwest::Client::builder().timeout(Duration::from_secs(3)).build().map_err(|e| e.to_string())
});

/// Health of every configured service.
#[utoipa::path(get, path = "/api/v1/health", tag = "health",
    responses((status = 200, body = HealthBody), (status = 503, body = HealthBody)))]
pub(crate) async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthBody>) {
    let mut services: Vec<ServiceLine> = state.storage.health().await.into_iter().map(|h| line(h, true)).collect();
    if let Some(records) = &state.records {
        services.push(line(records.health().await, true));
        services.extend(campaigns_line(&state).await.map(|h| line(h, true)));
        services.extend(records.cache.health().await.map(|h| line(h, false)));
    }
    if state.api.is_some() {
        let default = state.config.default_model_preference();
        for provider in Provider::ALL {
            if provider != Provider::Local && !state.config.provider_configured(provider) {
                continue;
            }
            let mut health = provider_line(&state, provider).await;
            if default.conversational_provider == provider.as_str() {
                health.detail.push_str("; the default conversational model's provider");
            }
            services.push(line(health, false));
        }
    }
    let healthy = services.iter().filter(|s| s.required).all(|s| s.healthy);
    let degraded = services.iter().any(|s| !s.healthy);
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = HealthBody {
        status: match (healthy, degraded) {
            (false, _) => "unhealthy",
            (true, true) => "degraded",
            (true, false) => "healthy",
        },
        version: env!("CARGO_PKG_VERSION"),
        environment: state.config.environment.as_str(),
        services,
    };
    (status, Json(body))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Some(records) = &state.records {
        for status in ["queued", "running", "completed", "failed", "cancelled"] {
            let filter =
                aae_store::JobFilter { status: status.parse().ok(), limit: 10_000, ..aae_store::JobFilter::default() };
            if let Ok(jobs) = records.jobs.list(&filter).await {
                crate::metrics::set_jobs(status, jobs.len() as i64);
            }
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render())
}
