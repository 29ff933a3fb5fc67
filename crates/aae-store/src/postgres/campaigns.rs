//! [`CampaignStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;

use super::{PgStore, now, opt_json, opt_ts, ts};
use crate::campaigns::{
    CAMPAIGN_COLUMNS, Campaign, CampaignStats, CampaignStatus, CampaignStore, CampaignSummary, Cursor, Page, STATS_SQL,
    SUMMARY_COLUMNS, campaign_from_row, into_page, into_summary_page, page_limit, summary_from_row,
};
use crate::error::{SqlxResultExt, StoreError, StoreResult};

const ENTITY: &str = "campaign";

impl PgStore {
    /// Up to `limit + 1` rows of `select` (columns) where `column = value`, newest first, after
    /// `cursor`.
    async fn campaign_rows(
        &self,
        select: &str,
        column: &str,
        value: &str,
        limit: i64,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Vec<PgRow>> {
        let sql = format!(
            "SELECT {select} FROM campaigns WHERE {column} = $1 \
             AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND campaign_id < $3)) \
             ORDER BY created_at DESC, campaign_id DESC LIMIT $4"
        );
        sqlx::query(&sql)
            .bind(value)
            .bind(cursor.map(|c| c.created_at))
            .bind(cursor.map(|c| c.campaign_id.clone()))
            .bind(limit + 1)
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)
    }

    /// One page where `column = value`, newest first, after `cursor`.
    async fn campaign_page(
        &self,
        column: &str,
        value: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Campaign>> {
        let limit = page_limit(limit)?;
        let cursor = cursor.map(Cursor::decode).transpose()?;
        let rows = self.campaign_rows(CAMPAIGN_COLUMNS, column, value, limit, cursor.as_ref()).await?;
        let items = rows.iter().map(campaign_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(into_page(items, limit))
    }
}

#[async_trait]
impl CampaignStore for PgStore {
    async fn put(&self, c: &Campaign) -> StoreResult<()> {
        c.check()?;
        let sql = format!(
            "INSERT INTO campaigns ({CAMPAIGN_COLUMNS}, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (campaign_id) DO UPDATE SET user_id = excluded.user_id, \
             campaign_name = excluded.campaign_name, status = excluded.status, created_at = excluded.created_at, \
             completed_at = excluded.completed_at, execution_time = excluded.execution_time, \
             website_url = excluded.website_url, pdf_url = excluded.pdf_url, \
             workflow_state_url = excluded.workflow_state_url, metadata_url = excluded.metadata_url, \
             campaign_brief = excluded.campaign_brief, final_state = excluded.final_state, \
             progress_log = excluded.progress_log, agent_interactions = excluded.agent_interactions, \
             updated_at = excluded.updated_at"
        );
        sqlx::query(&sql)
            .bind(&c.campaign_id)
            .bind(&c.user_id)
            .bind(&c.campaign_name)
            .bind(c.status.as_str())
            .bind(ts(c.created_at))
            .bind(opt_ts(c.completed_at))
            .bind(c.execution_time)
            .bind(&c.website_url)
            .bind(&c.pdf_url)
            .bind(&c.workflow_state_url)
            .bind(&c.metadata_url)
            .bind(&c.campaign_brief)
            .bind(opt_json(c.final_state.as_ref()))
            .bind(opt_json(c.progress_log.as_ref()))
            .bind(&c.agent_interactions)
            .bind(now())
            .execute(&self.pool)
            .await
            .on(ENTITY)?;
        Ok(())
    }

    async fn get(&self, campaign_id: &str) -> StoreResult<Campaign> {
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE campaign_id = $1");
        let row: Option<PgRow> = sqlx::query(&sql).bind(campaign_id).fetch_optional(&self.pool).await.on(ENTITY)?;
        row.map(|r| campaign_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found(ENTITY, campaign_id))
    }

    async fn set_status(
        &self,
        campaign_id: &str,
        status: CampaignStatus,
        completed_at: Option<DateTime<Utc>>,
        execution_time: Option<f64>,
    ) -> StoreResult<()> {
        if execution_time.is_some_and(|t| !t.is_finite() || t < 0.0) {
            return Err(StoreError::invalid(ENTITY, "execution_time must be a non-negative number of seconds"));
        }
        let done = sqlx::query(
            "UPDATE campaigns SET status = $2, completed_at = COALESCE($3, completed_at), \
             execution_time = COALESCE($4, execution_time), updated_at = $5 WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .bind(status.as_str())
        .bind(opt_ts(completed_at))
        .bind(execution_time)
        .bind(now())
        .execute(&self.pool)
        .await
        .on(ENTITY)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(ENTITY, campaign_id));
        }
        Ok(())
    }

    async fn list_by_user(&self, user_id: &str, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Campaign>> {
        self.campaign_page("user_id", user_id, limit, cursor).await
    }

    async fn list_summaries_by_user(
        &self,
        user_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<CampaignSummary>> {
        let limit = page_limit(limit)?;
        let cursor = cursor.map(Cursor::decode).transpose()?;
        let select = format!("{SUMMARY_COLUMNS}, CAST(progress_log->-1->>'percent' AS DOUBLE PRECISION) AS progress");
        let rows = self.campaign_rows(&select, "user_id", user_id, limit, cursor.as_ref()).await?;
        let items = rows.iter().map(summary_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(into_summary_page(items, limit))
    }

    async fn list_by_status(
        &self,
        status: CampaignStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Campaign>> {
        self.campaign_page("status", status.as_str(), limit, cursor).await
    }

    async fn stats(&self, user_id: Option<&str>) -> StoreResult<CampaignStats> {
        let groups: Vec<(String, i64, f64, i64)> =
            sqlx::query_as(STATS_SQL).bind(user_id).fetch_all(&self.pool).await.on(ENTITY)?;
        Ok(CampaignStats::from_groups(groups))
    }

    async fn delete(&self, campaign_id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM campaigns WHERE campaign_id = $1")
            .bind(campaign_id)
            .execute(&self.pool)
            .await
            .on(ENTITY)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(ENTITY, campaign_id));
        }
        Ok(())
    }
}
