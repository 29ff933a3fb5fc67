//! Usage records: one per model call (provider, model, tokens, cost), with per-user summaries.
//! Cost is in micro-credits, the ledger's unit (see [`crate::credits`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::row::SqlRow;

/// One model call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Id.
    pub id: Uuid,
    /// Who.
    pub user_id: Uuid,
    /// Provider, e.g. `bedrock`.
    pub provider: String,
    /// Model, e.g. `claude-4.5-sonnet`.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Cost in micro-credits.
    pub cost_micros: i64,
    /// Images generated.
    pub images: i64,
    /// Seconds of video generated.
    pub video_seconds: i64,
    /// How long the call took, in milliseconds.
    pub latency_ms: i64,
    /// The request it belongs to.
    pub request_id: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A model call to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsage {
    /// Who.
    pub user_id: Uuid,
    /// Provider; must not be empty.
    pub provider: String,
    /// Model; must not be empty.
    pub model: String,
    /// Prompt tokens, ≥ 0.
    pub input_tokens: i64,
    /// Completion tokens, ≥ 0.
    pub output_tokens: i64,
    /// Cost in micro-credits, ≥ 0.
    pub cost_micros: i64,
    /// Images generated, ≥ 0.
    pub images: i64,
    /// Seconds of video generated, ≥ 0.
    pub video_seconds: i64,
    /// How long the call took, in milliseconds, ≥ 0.
    pub latency_ms: i64,
    /// Request id.
    pub request_id: Option<String>,
}

impl NewUsage {
    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.provider.is_empty() || self.model.is_empty() {
            return Err(StoreError::invalid("usage", "provider and model must not be empty"));
        }
        let counts =
            [self.input_tokens, self.output_tokens, self.cost_micros, self.images, self.video_seconds, self.latency_ms];
        if counts.iter().any(|n| *n < 0) {
            return Err(StoreError::invalid("usage", "token counts, outputs, latency and cost must not be negative"));
        }
        Ok(())
    }
}

/// Usage of one provider and model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsage {
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Calls.
    pub requests: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Cost in micro-credits.
    pub cost_micros: i64,
}

/// A user's usage over a time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSummary {
    /// Who.
    pub user_id: Uuid,
    /// Calls.
    pub requests: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Cost in micro-credits.
    pub cost_micros: i64,
    /// Per provider and model, by provider then model.
    pub by_model: Vec<ModelUsage>,
}

impl UsageSummary {
    pub(crate) fn from_models(user_id: Uuid, by_model: Vec<ModelUsage>) -> Self {
        let sum = |f: fn(&ModelUsage) -> i64| by_model.iter().map(f).sum();
        Self {
            user_id,
            requests: sum(|m| m.requests),
            input_tokens: sum(|m| m.input_tokens),
            output_tokens: sum(|m| m.output_tokens),
            cost_micros: sum(|m| m.cost_micros),
            by_model,
        }
    }
}

/// Usage records.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Records a call. `Invalid` for empty names or negative numbers; `Conflict` when the user does
    /// not exist.
    async fn record(&self, usage: NewUsage) -> StoreResult<UsageRecord>;

    /// Records many calls in one statement (one transaction); all or none. The same checks as
    /// [`record`](Self::record). Returns how many were written.
    async fn record_many(&self, usages: &[NewUsage]) -> StoreResult<u64>;

    /// The user's records in `[since, until)` (open ends when `None`), newest first, at most
    /// `limit`.
    async fn list(
        &self,
        user_id: Uuid,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> StoreResult<Vec<UsageRecord>>;

    /// Totals of the user's records in `[since, until)`, overall and per provider and model.
    async fn summary(
        &self,
        user_id: Uuid,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<UsageSummary>;
}

pub(crate) const USAGE_COLUMNS: &str = "id, user_id, provider, model, input_tokens, output_tokens, cost_micros, \
     request_id, created_at, images, video_seconds, latency_ms";

/// Both engines accept it; `$1` user, `$2` since or NULL, `$3` until or NULL.
pub(crate) const SUMMARY_SQL: &str = "SELECT provider, model, COUNT(*) AS requests, \
     CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, CAST(SUM(output_tokens) AS BIGINT) AS output_tokens, \
     CAST(SUM(cost_micros) AS BIGINT) AS cost_micros FROM usage_records \
     WHERE user_id = $1 AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3) \
     GROUP BY provider, model ORDER BY provider, model";

/// Both engines accept it; `$1` user, `$2` since or NULL, `$3` until or NULL, `$4` limit.
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT {USAGE_COLUMNS} FROM usage_records WHERE user_id = $1 AND ($2 IS NULL OR created_at >= $2) \
         AND ($3 IS NULL OR created_at < $3) ORDER BY created_at DESC, id DESC LIMIT $4"
    )
}

pub(crate) fn usage_from_row(row: &impl SqlRow) -> StoreResult<UsageRecord> {
    Ok(UsageRecord {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        provider: row.text("provider")?,
        model: row.text("model")?,
        input_tokens: row.int("input_tokens")?,
        output_tokens: row.int("output_tokens")?,
        cost_micros: row.int("cost_micros")?,
        images: row.int("images")?,
        video_seconds: row.int("video_seconds")?,
        latency_ms: row.int("latency_ms")?,
        request_id: row.opt_text("request_id")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn model_usage_from_row(row: &impl SqlRow) -> StoreResult<ModelUsage> {
    Ok(ModelUsage {
        provider: row.text("provider")?,
        model: row.text("model")?,
        requests: row.int("requests")?,
        input_tokens: row.int("input_tokens")?,
        output_tokens: row.int("output_tokens")?,
        cost_micros: row.int("cost_micros")?,
    })
}
