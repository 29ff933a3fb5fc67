//! [`JobStore`] on PostgreSQL. Leasing is one statement,
//! `UPDATE jobs … WHERE id IN (SELECT id … ORDER BY priority_rank, run_at LIMIT n FOR UPDATE SKIP
//! LOCKED) RETURNING …`: concurrent workers skip each other's rows instead of waiting, and each job
//! goes to exactly one of them. Times come from the database clock (`now()`), so workers on
//! machines with skewed clocks agree on lease expiry and `run_at`.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{PgStore, json};
use crate::error::{SqlxResultExt, StoreError, StoreResult};
use crate::jobs::{
    Backoff, JOB_COLUMNS, Job, JobFilter, JobStore, NewJob, check_progress, check_worker, job_from_row,
    lost_or_missing, sort_leased,
};

const ENTITY: &str = "job";

/// [`JOB_COLUMNS`] with the DECIMAL(5,2) progress read as float8.
static COLUMNS: LazyLock<String> = LazyLock::new(|| {
    JOB_COLUMNS.replace("progress_percentage,", "progress_percentage::float8 AS progress_percentage,")
});

/// The lease statement of [`JobStore::lease`]: reap expired leases, lease up to `$4` jobs. Always
/// answers at least one row: `reaped_count`, then the leased job's columns (all NULL when none).
static LEASE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH reaped AS (UPDATE jobs SET \
           status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
           error_info = CASE WHEN attempts >= max_attempts \
             THEN jsonb_build_object('error', 'lease expired', 'lease_owner', lease_owner, 'attempts', attempts) \
             ELSE error_info END, \
           completed_at = CASE WHEN attempts >= max_attempts THEN now() ELSE NULL END, \
           lease_owner = NULL, lease_expires_at = NULL, updated_at = now() \
           WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at < now() \
             FOR UPDATE SKIP LOCKED) \
           RETURNING 1), \
         leased AS (UPDATE jobs SET status = 'running', lease_owner = $1, \
           lease_expires_at = now() + make_interval(secs => $2), attempts = attempts + 1, \
           started_at = COALESCE(started_at, now()), updated_at = now() \
           WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= now() \
             AND (cardinality($3::text[]) = 0 OR kind = ANY($3)) \
             ORDER BY priority_rank, run_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
           RETURNING {}) \
         SELECT (SELECT count(*) FROM reaped) AS reaped_count, leased.* \
         FROM (VALUES (1)) AS one(x) LEFT JOIN leased ON true",
        *COLUMNS
    )
});

/// Jobs per `INSERT … SELECT FROM UNNEST` statement in [`JobStore::enqueue_many`].
const ENQUEUE_CHUNK: usize = 5_000;

/// Bulk enqueues of at least this many jobs refresh the planner's statistics of `jobs`.
const ANALYZE_AFTER: usize = 1_000;

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

impl PgStore {
    async fn job_exists(&self, job_id: Uuid) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await
            .on(ENTITY)?;
        Ok(found.is_some())
    }

    async fn fetch_job(&self, query: PgQuery<'_>) -> StoreResult<Option<Job>> {
        let row: Option<PgRow> = query.fetch_optional(&self.pool).await.on(ENTITY)?;
        row.map(|r| job_from_row(&r)).transpose()
    }
}

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue(&self, job: NewJob) -> StoreResult<Job> {
        job.check()?;
        let sql = format!(
            "INSERT INTO jobs (id, user_id, status, priority, topic, description, configuration, progress_percentage, \
             created_at, updated_at, estimated_completion, batch_id, kind, attempts, max_attempts, run_at) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, 0, now(), now(), $7, $8, $9, 0, $10, COALESCE($11, now())) \
             RETURNING {}",
            *COLUMNS
        );
        let row: PgRow = sqlx::query(&sql)
            .bind(Uuid::new_v4())
            .bind(job.user_id)
            .bind(job.priority.as_str())
            .bind(&job.topic)
            .bind(&job.description)
            .bind(json(&job.configuration))
            .bind(job.estimated_completion)
            .bind(job.batch_id)
            .bind(&job.kind)
            .bind(job.max_attempts)
            .bind(job.run_at)
            .fetch_one(&self.pool)
            .await
            .on(ENTITY)?;
        job_from_row(&row)
    }

    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> StoreResult<Vec<Uuid>> {
        for job in &jobs {
            job.check()?;
        }
        let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::new_v4()).collect();
        let mut tx = self.write_tx(ENTITY).await?;
        // One statement per chunk: each column travels as one array parameter.
        for (chunk, chunk_ids) in jobs.chunks(ENQUEUE_CHUNK).zip(ids.chunks(ENQUEUE_CHUNK)) {
            let configuration: Vec<Option<Value>> = chunk.iter().map(|j| json(&j.configuration).cloned()).collect();
            sqlx::query(
                "INSERT INTO jobs (id, user_id, status, priority, topic, description, configuration, \
                 progress_percentage, created_at, updated_at, estimated_completion, batch_id, kind, attempts, \
                 max_attempts, run_at) \
                 SELECT id, user_id, 'queued', priority, topic, description, configuration, 0, now(), now(), \
                 estimated_completion, batch_id, kind, 0, max_attempts, COALESCE(run_at, now()) \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[], \
                 $7::timestamptz[], $8::uuid[], $9::text[], $10::int4[], $11::timestamptz[]) \
                 AS t(id, user_id, priority, topic, description, configuration, estimated_completion, batch_id, \
                 kind, max_attempts, run_at)",
            )
            .bind(chunk_ids)
            .bind(chunk.iter().map(|j| j.user_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.priority.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.topic.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.description.as_deref()).collect::<Vec<_>>())
            .bind(configuration)
            .bind(chunk.iter().map(|j| j.estimated_completion).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.batch_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.max_attempts).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.run_at).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .on(ENTITY)?;
        }
        tx.commit().await.on(ENTITY)?;
        if jobs.len() >= ANALYZE_AFTER {
            // A bulk load leaves the planner's statistics stale (an empty `jobs` table plans the
            // lease as a bitmap scan and sort of every queued row, milliseconds per lease, instead
            // of reading the first n entries of `jobs_ready_idx`). PostgreSQL's advice after bulk
            // loads: ANALYZE. Best effort; autovacuum would get there later.
            if let Err(error) = sqlx::query("ANALYZE jobs").execute(&self.pool).await {
                tracing::debug!(%error, "analyze after bulk enqueue failed");
            }
        }
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
        // One round trip: expired leases go back to the queue (or fail when out of attempts) in a
        // data-modifying CTE, and up to n queued jobs are leased in the same statement. Rows
        // another caller is already reaping or leasing are skipped, not waited for. The reaped
        // jobs are not visible to the lease in the same statement's snapshot, so when some were
        // reaped and fewer than n leased, the statement runs once more to pick them up.
        let mut jobs = Vec::new();
        for _ in 0..2 {
            let want = n - jobs.len() as u32;
            let rows: Vec<PgRow> = sqlx::query(&LEASE_SQL)
                .bind(worker_id)
                .bind(lease_duration.as_secs_f64())
                .bind(kinds)
                .bind(i64::from(want))
                .fetch_all(&self.pool)
                .await
                .on(ENTITY)?;
            let reaped: i64 = rows.first().map(|r| r.try_get("reaped_count")).transpose().on(ENTITY)?.unwrap_or(0);
            for row in &rows {
                if row.try_get::<Option<Uuid>, _>("id").on(ENTITY)?.is_some() {
                    jobs.push(job_from_row(row)?);
                }
            }
            if reaped == 0 || jobs.len() as u32 >= n {
                break;
            }
        }
        sort_leased(&mut jobs);
        Ok(jobs)
    }

    async fn heartbeat(&self, job_id: Uuid, worker_id: &str, lease_duration: Duration) -> StoreResult<DateTime<Utc>> {
        let expires: Option<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now() \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING lease_expires_at",
        )
        .bind(job_id)
        .bind(worker_id)
        .bind(lease_duration.as_secs_f64())
        .fetch_optional(&self.pool)
        .await
        .on(ENTITY)?;
        match expires {
            Some(expires) => Ok(expires),
            None => Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id)),
        }
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
            "UPDATE jobs SET progress_percentage = $3, current_stage = COALESCE($4, current_stage), updated_at = now() \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(job_id)
        .bind(worker_id)
        .bind(progress)
        .bind(stage)
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
             lease_owner = NULL, lease_expires_at = NULL, completed_at = now(), updated_at = now() \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING {}",
            *COLUMNS
        );
        let metrics = metrics.as_ref().and_then(json);
        match self.fetch_job(sqlx::query(&sql).bind(job_id).bind(worker_id).bind(metrics)).await? {
            Some(job) => Ok(job),
            None => Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id)),
        }
    }

    async fn complete_many(&self, worker_id: &str, jobs: Vec<(Uuid, Option<Value>)>) -> StoreResult<Vec<Uuid>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = jobs.iter().map(|(id, _)| *id).collect();
        let metrics: Vec<Option<Value>> = jobs.into_iter().map(|(_, m)| m.filter(|m| !m.is_null())).collect();
        // `DISTINCT ON` keeps one metrics value per id, so a repeated id cannot make the join
        // update a row twice.
        sqlx::query_scalar(
            "UPDATE jobs SET status = 'completed', progress_percentage = 100, \
             metrics = COALESCE(t.metrics, jobs.metrics), \
             lease_owner = NULL, lease_expires_at = NULL, completed_at = now(), updated_at = now() \
             FROM (SELECT DISTINCT ON (id) id, metrics FROM UNNEST($2::uuid[], $3::jsonb[]) AS u(id, metrics)) AS t \
             WHERE jobs.id = t.id AND jobs.status = 'running' AND jobs.lease_owner = $1 RETURNING jobs.id",
        )
        .bind(worker_id)
        .bind(ids)
        .bind(metrics)
        .fetch_all(&self.pool)
        .await
        .on(ENTITY)
    }

    async fn heartbeat_many(&self, ids: &[Uuid], worker_id: &str, lease_duration: Duration) -> StoreResult<Vec<Uuid>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_scalar(
            "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now() \
             WHERE id = ANY($1::uuid[]) AND status = 'running' AND lease_owner = $2 RETURNING id",
        )
        .bind(ids)
        .bind(worker_id)
        .bind(lease_duration.as_secs_f64())
        .fetch_all(&self.pool)
        .await
        .on(ENTITY)
    }

    async fn fail(&self, job_id: Uuid, worker_id: &str, error_info: Value, backoff: Backoff) -> StoreResult<Job> {
        // The same delay as `Backoff::delay`: min(base × 2^(attempts − 1), max), exponent capped at 30.
        let sql = format!(
            "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
             error_info = $3, \
             run_at = CASE WHEN attempts >= max_attempts THEN run_at ELSE now() + make_interval(secs => \
               LEAST($4 * power(2, LEAST(GREATEST(attempts - 1, 0), 30)), $5)) END, \
             completed_at = CASE WHEN attempts >= max_attempts THEN now() ELSE NULL END, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = now() \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING {}",
            *COLUMNS
        );
        let query = sqlx::query(&sql)
            .bind(job_id)
            .bind(worker_id)
            .bind(json(&error_info))
            .bind(backoff.base.as_secs_f64())
            .bind(backoff.max.as_secs_f64());
        match self.fetch_job(query).await? {
            Some(job) => Ok(job),
            None => Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id)),
        }
    }

    async fn fail_permanently(&self, job_id: Uuid, worker_id: &str, error_info: Value) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'failed', error_info = $3, completed_at = now(), lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = now() \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING {}",
            *COLUMNS
        );
        match self.fetch_job(sqlx::query(&sql).bind(job_id).bind(worker_id).bind(json(&error_info))).await? {
            Some(job) => Ok(job),
            None => Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id)),
        }
    }

    async fn release(&self, job_id: Uuid, worker_id: &str) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0), run_at = now(), \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = now() \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING {}",
            *COLUMNS
        );
        match self.fetch_job(sqlx::query(&sql).bind(job_id).bind(worker_id)).await? {
            Some(job) => Ok(job),
            None => Err(lost_or_missing(self.job_exists(job_id).await?, job_id, worker_id)),
        }
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        self.wakeups.wait(&self.pool, timeout).await;
    }

    async fn cancel(&self, job_id: Uuid) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, completed_at = now(), \
             updated_at = now() WHERE id = $1 AND status IN ('queued', 'running') RETURNING {}",
            *COLUMNS
        );
        match self.fetch_job(sqlx::query(&sql).bind(job_id)).await? {
            Some(job) => Ok(job),
            None if self.job_exists(job_id).await? => {
                Err(StoreError::conflict(ENTITY, "only queued or running jobs can be cancelled").with_id(job_id))
            }
            None => Err(StoreError::not_found(ENTITY, job_id)),
        }
    }

    async fn retry(&self, job_id: Uuid) -> StoreResult<Job> {
        let sql = format!(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = now(), progress_percentage = 0, \
             current_stage = NULL, completed_at = NULL, updated_at = now() \
             WHERE id = $1 AND status IN ('failed', 'cancelled') RETURNING {}",
            *COLUMNS
        );
        match self.fetch_job(sqlx::query(&sql).bind(job_id)).await? {
            Some(job) => Ok(job),
            None if self.job_exists(job_id).await? => {
                Err(StoreError::conflict(ENTITY, "only failed or cancelled jobs can be retried").with_id(job_id))
            }
            None => Err(StoreError::not_found(ENTITY, job_id)),
        }
    }

    async fn get(&self, job_id: Uuid) -> StoreResult<Job> {
        let sql = format!("SELECT {} FROM jobs WHERE id = $1", *COLUMNS);
        self.fetch_job(sqlx::query(&sql).bind(job_id)).await?.ok_or_else(|| StoreError::not_found(ENTITY, job_id))
    }

    async fn list(&self, filter: &JobFilter) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "SELECT {} FROM jobs WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2) \
             AND ($3::text IS NULL OR kind = $3) AND ($4::uuid IS NULL OR batch_id = $4) \
             ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6",
            *COLUMNS
        );
        let rows: Vec<PgRow> = sqlx::query(&sql)
            .bind(filter.user_id)
            .bind(filter.status.map(|s| s.as_str()))
            .bind(&filter.kind)
            .bind(filter.batch_id)
            .bind(filter.limit())
            .bind(filter.offset as i64)
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)?;
        rows.iter().map(job_from_row).collect()
    }
}
