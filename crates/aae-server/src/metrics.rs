//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4 / OpenMetrics):
//!
//! - `aae_http_requests_total{method, route, status}` and
//!   `aae_http_request_duration_seconds{method, route}`: every request, labelled by its route
//!   template (`/api/v1/campaigns/{campaign_id}`), never the raw path, so ids cannot explode the
//!   series;
//! - `aae_errors_total{code}`: error responses by error code;
//! - `aae_model_calls_total`, `aae_model_tokens_total{direction}`,
//!   `aae_model_cost_credits_total`, `aae_model_latency_seconds` by `provider` and `model`: every
//!   model call the router records (through [`MeteredUsage`], wrapped around the usage store);
//! - `aae_jobs{status}`: jobs in the queue by status, read when scraped.
//!
//! One registry per process.

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use aae_store::{NewUsage, StoreResult, UsageRecord, UsageStore, UsageSummary};
use aae_types::ErrorCode;
use async_trait::async_trait;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use uuid::Uuid;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    provider: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

fn model_latency_histogram() -> Histogram {
    // 10 ms … ~5 min
    Histogram::new(exponential_buckets(0.01, 2.0, 15))
}

struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    errors: Family<CodeLabels, Counter>,
    model_calls: Family<ModelLabels, Counter>,
    model_tokens: Family<TokenLabels, Counter>,
    model_cost: Family<ModelLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    model_latency: Family<ModelLabels, Histogram, fn() -> Histogram>,
    jobs: Family<StatusLabels, Gauge>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::default();
    let requests = Family::<HttpLabels, Counter>::default();
    registry.register("aae_http_requests", "HTTP requests by route template and status", requests.clone());
    let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
        latency_histogram as fn() -> Histogram,
    );
    registry.register("aae_http_request_duration_seconds", "HTTP request latency", durations.clone());
    let errors = Family::<CodeLabels, Counter>::default();
    registry.register("aae_errors", "error responses by error code", errors.clone());
    let model_calls = Family::<ModelLabels, Counter>::default();
    registry.register("aae_model_calls", "model calls recorded by the router", model_calls.clone());
    let model_tokens = Family::<TokenLabels, Counter>::default();
    registry.register("aae_model_tokens", "model tokens by direction (input, output)", model_tokens.clone());
    let model_cost = Family::<ModelLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
    registry.register("aae_model_cost_credits", "model cost in credits", model_cost.clone());
    let model_latency = Family::<ModelLabels, Histogram, fn() -> Histogram>::new_with_constructor(
        model_latency_histogram as fn() -> Histogram,
    );
    registry.register("aae_model_latency_seconds", "model call latency", model_latency.clone());
    let jobs = Family::<StatusLabels, Gauge>::default();
    registry.register("aae_jobs", "jobs in the queue by status (read when scraped)", jobs.clone());
    Metrics { registry, requests, durations, errors, model_calls, model_tokens, model_cost, model_latency, jobs }
});

/// Counts an error response.
pub fn count_error(code: ErrorCode) {
    METRICS.errors.get_or_create(&CodeLabels { code: code.as_str().to_owned() }).inc();
}

/// Sets the job gauges.
pub fn set_jobs(status: &'static str, count: i64) {
    METRICS.jobs.get_or_create(&StatusLabels { status }).set(count);
}

/// The registry in the text exposition format.
pub fn render() -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &METRICS.registry) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    out
}

/// Middleware: counts and times every request by its route template.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    METRICS.requests.get_or_create(&HttpLabels { method: method.clone(), route: route.clone(), status }).inc();
    METRICS.durations.get_or_create(&RouteLabels { method, route }).observe(started.elapsed().as_secs_f64());
    response
}

fn count_call(usage: &NewUsage) {
    let labels = ModelLabels { provider: usage.provider.clone(), model: usage.model.clone() };
    METRICS.model_calls.get_or_create(&labels).inc();
    for (direction, tokens) in [("input", usage.input_tokens), ("output", usage.output_tokens)] {
        let labels = TokenLabels { provider: labels.provider.clone(), model: labels.model.clone(), direction };
        METRICS.model_tokens.get_or_create(&labels).inc_by(tokens.max(0) as u64);
    }
    METRICS.model_cost.get_or_create(&labels).inc_by(usage.cost_micros.max(0) as f64 / 1_000_000.0);
    METRICS.model_latency.get_or_create(&labels).observe(usage.latency_ms.max(0) as f64 / 1000.0);
}

/// The usage store with every recorded model call also counted in the metrics.
pub struct MeteredUsage(pub Arc<dyn UsageStore>);

#[async_trait]
impl UsageStore for MeteredUsage {
    async fn record(&self, usage: NewUsage) -> StoreResult<UsageRecord> {
        count_call(&usage);
        self.0.record(usage).await
    }

    async fn record_many(&self, usages: &[NewUsage]) -> StoreResult<u64> {
        usages.iter().for_each(count_call);
        self.0.record_many(usages).await
    }

    async fn list(
        &self,
        user_id: Uuid,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> StoreResult<Vec<UsageRecord>> {
        self.0.list(user_id, since, until, limit).await
    }

    async fn summary(
        &self,
        user_id: Uuid,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<UsageSummary> {
        self.0.summary(user_id, since, until).await
    }
}
