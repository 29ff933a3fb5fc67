//! [`UsageStore`] on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteStore, id, now, opt_ts};
use crate::error::{SqlxResultExt, StoreResult};
use crate::usage::{
    NewUsage, SUMMARY_SQL, USAGE_COLUMNS, UsageRecord, UsageStore, UsageSummary, list_sql, model_usage_from_row,
    usage_from_row,
};

const ENTITY: &str = "usage";

#[async_trait]
impl UsageStore for SqliteStore {
    async fn record(&self, usage: NewUsage) -> StoreResult<UsageRecord> {
        usage.check()?;
        let sql = format!(
            "INSERT INTO usage_records ({USAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             RETURNING {USAGE_COLUMNS}"
        );
        let row: SqliteRow = sqlx::query(&sql)
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
        // One transaction, one prepared statement run per row: SQLite's cost is the commit.
        let sql = format!(
            "INSERT INTO usage_records ({USAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        let mut tx = self.write_tx(ENTITY).await?;
        let at = now();
        for usage in usages {
            sqlx::query(&sql)
                .bind(id(Uuid::new_v4()))
                .bind(id(usage.user_id))
                .bind(&usage.provider)
                .bind(&usage.model)
                .bind(usage.input_tokens)
                .bind(usage.output_tokens)
                .bind(usage.cost_micros)
                .bind(&usage.request_id)
                .bind(&at)
                .bind(usage.images)
                .bind(usage.video_seconds)
                .bind(usage.latency_ms)
                .execute(&mut *tx)
                .await
                .on(ENTITY)?;
        }
        tx.commit().await.on(ENTITY)?;
        Ok(usages.len() as u64)
    }

    async fn list(
        &self,
        user_id: Uuid,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> StoreResult<Vec<UsageRecord>> {
        let rows: Vec<SqliteRow> = sqlx::query(&list_sql())
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
        let rows: Vec<SqliteRow> = sqlx::query(SUMMARY_SQL)
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
