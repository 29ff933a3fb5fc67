//! [`UsageStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{PgStore, id, now, opt_ts};
use crate::error::{SqlxResultExt, StoreResult};
use crate::usage::{
    NewUsage, SUMMARY_SQL, USAGE_COLUMNS, UsageRecord, UsageStore, UsageSummary, list_sql, model_usage_from_row,
    usage_from_row,
};

const ENTITY: &str = "usage";

#[async_trait]
impl UsageStore for PgStore {
    async fn record(&self, usage: NewUsage) -> StoreResult<UsageRecord> {
        usage.check()?;
        let sql = format!(
            "INSERT INTO usage_records ({USAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             RETURNING {USAGE_COLUMNS}"
        );
        let row: PgRow = sqlx::query(&sql)
            .bind(id(Uuid::new_v4()))
            .bind(id(usage.user_id))
            .bind(&usage.provider)
            .bind(&usage.model)
            .bind(usage.input_tokens)
            .bind(usage.output_tokens)
            .bind(usage.cost_micros)
            .bind(&usage.request_id)
            .bind(now())
            .bind(usage.images)
            .bind(usage.video_seconds)
            .bind(usage.latency_ms)
            .fetch_one(&self.pool)
            .await
            .on(ENTITY)?;
        usage_from_row(&row)
    }

    async fn record_many(&self, usages: &[NewUsage]) -> StoreResult<u64> {
        for usage in usages {
            usage.check()?;
        }
        if usages.is_empty() {
            return Ok(0);
        }
        // One statement: each column travels as one array parameter.
        let done = sqlx::query(
            "INSERT INTO usage_records (id, user_id, provider, model, input_tokens, output_tokens, cost_micros, \
             request_id, created_at, images, video_seconds, latency_ms) \
             SELECT id, user_id, provider, model, input_tokens, output_tokens, cost_micros, request_id, now(), \
             images, video_seconds, latency_ms \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], \
             $8::text[], $9::int8[], $10::int8[], $11::int8[]) \
             AS t(id, user_id, provider, model, input_tokens, output_tokens, cost_micros, request_id, images, \
             video_seconds, latency_ms)",
        )
        .bind(usages.iter().map(|_| Uuid::new_v4()).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.user_id).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.provider.as_str()).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.model.as_str()).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.input_tokens).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.output_tokens).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.cost_micros).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.request_id.as_deref()).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.images).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.video_seconds).collect::<Vec<_>>())
        .bind(usages.iter().map(|u| u.latency_ms).collect::<Vec<_>>())
        .execute(&self.pool)
        .await
        .on(ENTITY)?;
        Ok(done.rows_affected())
    }

    async fn list(
        &self,
        user_id: Uuid,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> StoreResult<Vec<UsageRecord>> {
        let rows: Vec<PgRow> = sqlx::query(&list_sql())
            .bind(id(user_id))
            .bind(opt_ts(since))
            .bind(opt_ts(until))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)?;
        rows.iter().map(usage_from_row).collect()
    }

    async fn summary(
        &self,
        user_id: Uuid,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<UsageSummary> {
        let rows: Vec<PgRow> = sqlx::query(SUMMARY_SQL)
            .bind(id(user_id))
            .bind(opt_ts(since))
            .bind(opt_ts(until))
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)?;
        let by_model = rows.iter().map(model_usage_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(UsageSummary::from_models(user_id, by_model))
    }
}
