//! [`JobStore`] on SQLite. Leasing is one `UPDATE … WHERE id IN (SELECT … ORDER BY … LIMIT n)
//! RETURNING …` inside a `BEGIN IMMEDIATE` transaction: SQLite has one writer at a time, so two
//! leases can never claim the same job.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteStore, id, json, opt_id, opt_ts, ts};
use crate::error::{SqlxResultExt, StoreError, StoreResult};
use crate::jobs::{
    Backoff, JOB_COLUMNS, Job, JobFilter, JobStore, NewJob, check_progress, check_worker, job_from_row,
    lost_or_missing, sort_leased,
};
use crate::row::now;

const ENTITY: &str = "job";

fn later(from: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    from + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX)
}

impl SqliteStore {
    async fn job_exists(&self, job_id: Uuid) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1")
            .bind(id(job_id))
            .fetch_optional(&self.pool)
            .await
            .on(ENTITY)?;
        Ok(found.is_some())
    }

    async fn fetch_job(&self, query: SqlQuery<'_>) -> StoreResult<Option<Job>> {
        let row: Option<SqliteRow> = query.fetch_optional(&self.pool).await.on(ENTITY)?;
        row.map(|r| job_from_row(&r)).transpose()
    }
}

type SqlQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, job: NewJob) -> StoreResult<Job> {
        job.check()?;
        let now = now();
        let sql = format!(
            "INSERT INTO jobs (id, user_id, status, priority, topic, description, configuration, progress_percentage, \
             created_at, updated_at, estimated_completion, batch_id, kind, attempts, max_attempts, run_at) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, 0, $7, $7, $8, $9, $10, 0, $11, $12) RETURNING {JOB_COLUMNS}"
        );
        let row: SqliteRow = sqlx::query(&sql)
            .bind(id(Uuid::new_v4()))
            .bind(opt_id(job.user_id))
            .bind(job.priority.as_str())
            .bind(&job.topic)
            .bind(&job.description)
            .bind(json(&job.configuration))
            .bind(ts(now))
            .bind(opt_ts(job.estimated_completion))
            .bind(opt_id(job.batch_id))
            .bind(&job.kind)
            .bind(job.max_attempts)
            .bind(ts(job.run_at.unwrap_or(now)))
            .fetch_one(&self.pool)
            .await
            .on(ENTITY)?;
        self.job_wakeups.notify_waiters();
        job_from_row(&row)
    }

    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> StoreResult<Vec<Uuid>> {
        for job in &jobs {
            job.check()?;
        }
        let now = now();
        let mut ids = Vec::with_capacity(jobs.len());
        let mut tx = self.write_tx(ENTITY).await?;
        for job in &jobs {
            let job_id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO jobs (id, user_id, status, priority, topic, description, configuration, \
                 progress_percentage, created_at, updated_at, estimated_completion, batch_id, kind, attempts, \
                 max_attempts, run_at) VALUES ($1, $2, 'queued', $3, $4, $5, $6, 0, $7, $7, $8, $9, $10, 0, $11, $12)",
            )
            .bind(id(job_id))
            .bind(opt_id(job.user_id))
            .bind(job.priority.as_str())
            .bind(&job.topic)
            .bind(&job.description)
            .bind(json(&job.configuration))
            .bind(ts(now))
            .bind(opt_ts(job.estimated_completion))
            .bind(opt_id(job.batch_id))
            .bind(&job.kind)
            .bind(job.max_attempts)
            .bind(ts(job.run_at.unwrap_or(now)))
            .execute(&mut *tx)
            .await
            .on(ENTITY)?;
            ids.push(job_id);
        }
        tx.commit().await.on(ENTITY)?;
        self.job_wakeups.notify_waiters();
        Ok(ids)
    }

    async fn lease(
        &self,
        worker_id: &str,
        kinds: &[String],
        lease_duration: Duration,
        n: u32,
    ) -> StoreResult<Vec<Job>> {
        check_worker(worker_id)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let now = now();
        let mut tx = self.write_tx(ENTITY).await?;
        sqlx::query(
            "UPDATE jobs SET \
             status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
             error_info = CASE WHEN attempts >= max_attempts \
               THEN json_object('error', 'lease expired', 'lease_owner', lease_owner, 'attempts', attempts) \
               ELSE error_info END, \
             completed_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
             WHERE status = 'running' AND lease_expires_at < $1",
        )
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .on(ENTITY)?;
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, \
             started_at = COALESCE(started_at, $3), updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 \
               AND ($4 = '[]' OR kind IN (SELECT value FROM json_each($4))) \
               ORDER BY priority_rank, run_at LIMIT $5) \
             RETURNING {JOB_COLUMNS}"
        );
        let rows: Vec<SqliteRow> = sqlx::query(&sql)
            .bind(worker_id)
            .bind(ts(later(now, lease_duration)))
            .bind(ts(now))
            .bind(serde_json::to_string(kinds).unwrap_or_else(|_| "[]".into()))
            .bind(i64::from(n))
            .fetch_all(&mut *tx)
            .await
            .on(ENTITY)?;
        tx.commit().await.on(ENTITY)?;
        let mut jobs = rows.iter().map(job_from_row).collect::<StoreResult<Vec<_>>>()?;
        sort_leased(&mut jobs);
        Ok(jobs)
    }

    async fn heartbeat(&self, job_id: Uuid, worker_id: &str, lease_duration: Duration) -> StoreResult<DateTime<Utc>> {
        let now = now();
        let expires = later(now, lease_duration);
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $3, updated_at = $4 \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id(job_id))
        .bind(worker_id)
        .bind(ts(expires))
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .on(ENTITY)?;
        if done.rows_affected() == 0 {
            return Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id));
        }
        Ok(expires)
    }

    async fn report_progress(
        &self,
        job_id: Uuid,
        worker_id: &str,
        progress: f64,
        stage: Option<&str>,
    ) -> StoreResult<()> {
        check_progress(progress)?;
        let done = sqlx::query(
            "UPDATE jobs SET progress_percentage = round($3, 2), current_stage = COALESCE($4, current_stage), \
             updated_at = $5 WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id(job_id))
        .bind(worker_id)
        .bind(progress)
        .bind(stage)
        .bind(ts(now()))
        .execute(&self.pool)
        .await
        .on(ENTITY)?;
        if done.rows_affected() == 0 {
            return Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id));
        }
        Ok(())
    }

    async fn complete(&self, job_id: Uuid, worker_id: &str, metrics: Option<Value>) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'completed', progress_percentage = 100, metrics = COALESCE($3, metrics), \
             lease_owner = NULL, lease_expires_at = NULL, completed_at = $4, updated_at = $4 \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING {JOB_COLUMNS}"
        );
        let metrics = metrics.as_ref().and_then(json);
        let job =
            self.fetch_job(sqlx::query(&sql).bind(id(job_id)).bind(worker_id).bind(metrics).bind(ts(now()))).await?;
        match job {
            Some(job) => Ok(job),
            None => Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id)),
        }
    }

    async fn complete_many(&self, worker_id: &str, jobs: Vec<(Uuid, Option<Value>)>) -> StoreResult<Vec<Uuid>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        // One write transaction (one fsync of the WAL) for the whole batch.
        let now = ts(now());
        let mut tx = self.write_tx(ENTITY).await?;
        let mut done = Vec::with_capacity(jobs.len());
        for (job_id, metrics) in jobs {
            let metrics = metrics.as_ref().and_then(json);
            let updated = sqlx::query(
                "UPDATE jobs SET status = 'completed', progress_percentage = 100, metrics = COALESCE($3, metrics), \
                 lease_owner = NULL, lease_expires_at = NULL, completed_at = $4, updated_at = $4 \
                 WHERE id = $1 AND status = 'running' AND lease_owner = $2",
            )
            .bind(id(job_id))
            .bind(worker_id)
            .bind(metrics)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .on(ENTITY)?;
            if updated.rows_affected() > 0 {
                done.push(job_id);
            }
        }
        tx.commit().await.on(ENTITY)?;
        Ok(done)
    }

    async fn fail(&self, job_id: Uuid, worker_id: &str, error_info: Value, backoff: Backoff) -> StoreResult<Job> {
        let now = now();
        let mut tx = self.write_tx(ENTITY).await?;
        let attempts: Option<(i64, i64)> = sqlx::query_as(
            "SELECT attempts, max_attempts FROM jobs WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id(job_id))
        .bind(worker_id)
        .fetch_optional(&mut *tx)
        .await
        .on(ENTITY)?;
        let Some((attempts, max_attempts)) = attempts else {
            drop(tx);
            return Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id));
        };
        let give_up = attempts >= max_attempts;
        let run_at = if give_up { None } else { Some(later(now, backoff.delay(attempts as i32))) };
        let sql = format!(
            "UPDATE jobs SET status = CASE WHEN $3 THEN 'failed' ELSE 'queued' END, error_info = $4, \
             run_at = COALESCE($5, run_at), completed_at = CASE WHEN $3 THEN $6 ELSE NULL END, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $6 WHERE id = $1 AND lease_owner = $2 \
             RETURNING {JOB_COLUMNS}"
        );
        let row: SqliteRow = sqlx::query(&sql)
            .bind(id(job_id))
            .bind(worker_id)
            .bind(give_up)
            .bind(json(&error_info))
            .bind(opt_ts(run_at))
            .bind(ts(now))
            .fetch_one(&mut *tx)
            .await
            .on(ENTITY)?;
        tx.commit().await.on(ENTITY)?;
        job_from_row(&row)
    }

    async fn fail_permanently(&self, job_id: Uuid, worker_id: &str, error_info: Value) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'failed', error_info = $3, completed_at = $4, lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = $4 \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING {JOB_COLUMNS}"
        );
        let query = sqlx::query(&sql).bind(id(job_id)).bind(worker_id).bind(json(&error_info)).bind(ts(now()));
        match self.fetch_job(query).await? {
            Some(job) => Ok(job),
            None => Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id)),
        }
    }

    async fn release(&self, job_id: Uuid, worker_id: &str) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'queued', attempts = max(attempts - 1, 0), run_at = $3, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $3 \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING {JOB_COLUMNS}"
        );
        match self.fetch_job(sqlx::query(&sql).bind(id(job_id)).bind(worker_id).bind(ts(now()))).await? {
            Some(job) => {
                self.job_wakeups.notify_waiters();
                Ok(job)
            }
            None => Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id)),
        }
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.job_wakeups.notified()).await;
    }

    async fn cancel(&self, job_id: Uuid) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, completed_at = $2, \
             updated_at = $2 WHERE id = $1 AND status IN ('queued', 'running') RETURNING {JOB_COLUMNS}"
        );
        match self.fetch_job(sqlx::query(&sql).bind(id(job_id)).bind(ts(now()))).await? {
            Some(job) => Ok(job),
            None if self.job_exists(job_id).await? => {
                Err(StoreError::conflict(ENTITY, "only queued or running jobs can be cancelled").with_id(job_id))
            }
            None => Err(StoreError::not_found(ENTITY, job_id)),
        }
    }

    async fn retry(&self, job_id: Uuid) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $2, progress_percentage = 0, \
             current_stage = NULL, completed_at = NULL, updated_at = $2 \
             WHERE id = $1 AND status IN ('failed', 'cancelled') RETURNING {JOB_COLUMNS}"
        );
        match self.fetch_job(sqlx::query(&sql).bind(id(job_id)).bind(ts(now()))).await? {
            Some(job) => Ok(job),
            None if self.job_exists(job_id).await? => {
                Err(StoreError::conflict(ENTITY, "only failed or cancelled jobs can be retried").with_id(job_id))
            }
            None => Err(StoreError::not_found(ENTITY, job_id)),
        }
    }

    async fn get(&self, job_id: Uuid) -> StoreResult<Job> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        self.fetch_job(sqlx::query(&sql).bind(id(job_id))).await?.ok_or_else(|| StoreError::not_found(ENTITY, job_id))
    }

    async fn list(&self, filter: &JobFilter) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR batch_id = $4) \
             ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
        );
        let rows: Vec<SqliteRow> = sqlx::query(&sql)
            .bind(opt_id(filter.user_id))
            .bind(filter.status.map(|s| s.as_str()))
            .bind(&filter.kind)
            .bind(opt_id(filter.batch_id))
            .bind(filter.limit())
            .bind(filter.offset as i64)
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)?;
        rows.iter().map(job_from_row).collect()
    }
}
