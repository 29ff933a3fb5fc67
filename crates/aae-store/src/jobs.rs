//! Jobs and the durable job queue (seed 002 `jobs` + `job_queue`).
//!
//! The `jobs` table is the queue: next to seed 002's columns it keeps `kind`, `attempts`,
//! `max_attempts`, `run_at`, `lease_owner` and `lease_expires_at`. Seed 002's `job_queue` table is
//! kept in step by database triggers (one row per job: its status, priority, `queued_at`,
//! `processing_started_at`, `completed_at`) and is never written by this crate.
//!
//! Life of a job: `queued` → (lease) `running` → `completed`, or → (fail) `queued` again with
//! `run_at` pushed back by exponential backoff, until `attempts` reaches `max_attempts`, then
//! `failed` with `error_info`. A lease that expires (the worker died) puts the job back to
//! `queued` (or `failed` when it has used its attempts) at the next lease call. `cancelled` is
//! set by [`JobStore::cancel`]; [`JobStore::retry`] re-queues failed and cancelled jobs.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{StoreError, StoreErrorKind, StoreResult};
use crate::row::SqlRow;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $entity:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::StoreError::invalid(
                        $entity,
                        format!("`{other}` is not one of {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// Where a job is in its life.
    JobStatus, "job" {
        /// Waiting for `run_at` and a worker.
        Queued = "queued",
        /// Leased by a worker.
        Running = "running",
        /// Done.
        Completed = "completed",
        /// Out of attempts; `error_info` says why.
        Failed = "failed",
        /// Cancelled by an operator or its owner.
        Cancelled = "cancelled",
    }
}

string_enum! {
    /// Queue priority (seed 002 `low|normal|high`); higher priorities lease first.
    Priority, "job" {
        /// Leased after everything else.
        Low = "low",
        /// The default.
        Normal = "normal",
        /// Leased first.
        High = "high",
    }
}

/// A job record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: Uuid,
    /// Owner, when the job belongs to a user.
    pub user_id: Option<Uuid>,
    /// What runs it, e.g. `campaign`, `ingest_document`; workers lease by kind.
    pub kind: String,
    /// Status.
    pub status: JobStatus,
    /// Priority.
    pub priority: Priority,
    /// Short title (seed 002 `topic`).
    pub topic: String,
    /// Longer description.
    pub description: Option<String>,
    /// Input of the job (`null` when unset).
    pub configuration: Value,
    /// 0 to 100, two decimals.
    pub progress_percentage: f64,
    /// What the worker is doing now.
    pub current_stage: Option<String>,
    /// Why the last attempt failed.
    pub error_info: Option<Value>,
    /// What the job measured.
    pub metrics: Option<Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// The caller's estimate.
    pub estimated_completion: Option<DateTime<Utc>>,
    /// Batch this job belongs to.
    pub batch_id: Option<Uuid>,
    /// Leases taken so far (each lease is an attempt, including ones whose worker died).
    pub attempts: i32,
    /// Attempts allowed before the job fails for good.
    pub max_attempts: i32,
    /// Not leased before this time.
    pub run_at: DateTime<Utc>,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// When the lease ends unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// First lease.
    pub started_at: Option<DateTime<Utc>>,
    /// Reached `completed`, `failed` or `cancelled`.
    pub completed_at: Option<DateTime<Utc>>,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Kind; must not be empty.
    pub kind: String,
    /// Title; must not be empty.
    pub topic: String,
    /// Owner.
    pub user_id: Option<Uuid>,
    /// Description.
    pub description: Option<String>,
    /// Input.
    pub configuration: Value,
    /// Priority.
    pub priority: Priority,
    /// Batch.
    pub batch_id: Option<Uuid>,
    /// Attempts allowed, at least 1.
    pub max_attempts: i32,
    /// Earliest start; `None` = now.
    pub run_at: Option<DateTime<Utc>>,
    /// The caller's estimate.
    pub estimated_completion: Option<DateTime<Utc>>,
}

impl NewJob {
    /// A normal-priority job with 3 attempts, runnable now.
    pub fn new(kind: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            topic: topic.into(),
            user_id: None,
            description: None,
            configuration: Value::Null,
            priority: Priority::Normal,
            batch_id: None,
            max_attempts: 3,
            run_at: None,
            estimated_completion: None,
        }
    }

    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.kind.trim().is_empty() || self.topic.trim().is_empty() {
            return Err(StoreError::invalid("job", "kind and topic must not be empty"));
        }
        if self.max_attempts < 1 {
            return Err(StoreError::invalid("job", "max_attempts must be at least 1"));
        }
        Ok(())
    }
}

/// Backoff between failed attempts: `min(base × 2^(attempts − 1), max)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Cap on one delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_secs(5), max: Duration::from_secs(3600) }
    }
}

impl Backoff {
    /// The delay after the `attempts`-th attempt failed.
    pub fn delay(&self, attempts: i32) -> Duration {
        let exponent = attempts.saturating_sub(1).clamp(0, 30) as u32;
        self.base.saturating_mul(1u32 << exponent).min(self.max)
    }
}

/// Which jobs [`JobStore::list`] returns; unset fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    /// Owner.
    pub user_id: Option<Uuid>,
    /// Status.
    pub status: Option<JobStatus>,
    /// Kind.
    pub kind: Option<String>,
    /// Batch.
    pub batch_id: Option<Uuid>,
    /// At most this many (0 = 100).
    pub limit: u32,
    /// Skip this many.
    pub offset: u64,
}

impl JobFilter {
    pub(crate) fn limit(&self) -> i64 {
        if self.limit == 0 { 100 } else { i64::from(self.limit.min(10_000)) }
    }
}

/// The job queue.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new `queued` job. `Invalid` for an empty kind or topic or `max_attempts < 1`;
    /// `Conflict` when `user_id` names no user.
    async fn enqueue(&self, job: NewJob) -> StoreResult<Job>;

    /// Stores many `queued` jobs at once (bulk enqueue, one round trip per few thousand jobs),
    /// all or none, and returns their ids in the order given. Checks each job as [`enqueue`] does.
    ///
    /// [`enqueue`]: JobStore::enqueue
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> StoreResult<Vec<Uuid>>;

    /// Leases up to `n` runnable jobs (status `queued`, `run_at` reached) of the given kinds (all
    /// kinds when empty) to `worker_id` for `lease_duration`, highest priority first, then oldest
    /// `run_at`. Each job is leased by exactly one caller even when many lease at once. Leasing
    /// counts an attempt. Before leasing, jobs whose lease expired are put back in the queue (or
    /// failed when out of attempts).
    async fn lease(&self, worker_id: &str, kinds: &[String], lease_duration: Duration, n: u32)
    -> StoreResult<Vec<Job>>;

    /// Extends the lease of `id` to now + `lease_duration` and returns the new expiry.
    /// `LeaseLost` when `worker_id` no longer holds it; `NotFound` for an unknown job.
    async fn heartbeat(&self, id: Uuid, worker_id: &str, lease_duration: Duration) -> StoreResult<DateTime<Utc>>;

    /// Extends the leases `worker_id` holds on `ids` (a worker's jobs leased ahead and not started
    /// yet), in one round trip where the engine allows; returns the ids whose lease it extended.
    /// An id missing from the result is no longer held by `worker_id` (cancelled, expired and
    /// taken by another worker, or unknown).
    async fn heartbeat_many(&self, ids: &[Uuid], worker_id: &str, lease_duration: Duration) -> StoreResult<Vec<Uuid>> {
        let mut held = Vec::with_capacity(ids.len());
        for &id in ids {
            match self.heartbeat(id, worker_id, lease_duration).await {
                Ok(_) => held.push(id),
                Err(e) if matches!(e.kind, StoreErrorKind::LeaseLost | StoreErrorKind::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(held)
    }

    /// Records progress (0 to 100) and the current stage. `Invalid` outside 0..=100; `LeaseLost`
    /// when `worker_id` no longer holds the lease.
    async fn report_progress(&self, id: Uuid, worker_id: &str, progress: f64, stage: Option<&str>) -> StoreResult<()>;

    /// Marks the job `completed` (progress 100) with optional metrics. Only the lease holder may;
    /// `LeaseLost` otherwise.
    async fn complete(&self, id: Uuid, worker_id: &str, metrics: Option<Value>) -> StoreResult<Job>;

    /// Completes many jobs held by `worker_id` at once (as [`complete`] does each), in one round
    /// trip where the engine allows; returns the ids it completed. A job missing from the result
    /// was not completed because `worker_id` no longer holds it (or it does not exist).
    ///
    /// [`complete`]: JobStore::complete
    async fn complete_many(&self, worker_id: &str, jobs: Vec<(Uuid, Option<Value>)>) -> StoreResult<Vec<Uuid>> {
        let mut done = Vec::with_capacity(jobs.len());
        for (id, metrics) in jobs {
            match self.complete(id, worker_id, metrics).await {
                Ok(job) => done.push(job.id),
                Err(e) if matches!(e.kind, StoreErrorKind::LeaseLost | StoreErrorKind::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Records a failed attempt with `error_info`. With attempts left the job goes back to
    /// `queued` with `run_at = now + backoff.delay(attempts)`; otherwise it is `failed`. Only the
    /// lease holder may; `LeaseLost` otherwise.
    async fn fail(&self, id: Uuid, worker_id: &str, error_info: Value, backoff: Backoff) -> StoreResult<Job>;

    /// Records a failure that retrying cannot fix: the job is `failed` with `error_info` now,
    /// whatever attempts it has left. Only the lease holder may; `LeaseLost` otherwise.
    async fn fail_permanently(&self, id: Uuid, worker_id: &str, error_info: Value) -> StoreResult<Job>;

    /// Gives a leased job back unfinished (a worker shutting down): the job is `queued` again,
    /// runnable now, and the attempt its lease counted is returned. Only the lease holder may;
    /// `LeaseLost` otherwise.
    async fn release(&self, id: Uuid, worker_id: &str) -> StoreResult<Job>;

    /// Waits until a job may have been enqueued, or until `timeout` passes, whichever is first.
    /// Workers call it when a lease found nothing. PostgreSQL wakes on `NOTIFY aae_jobs` (sent
    /// by a statement trigger on insert, from any process); SQLite wakes on enqueues made through
    /// this store (other processes are seen at the next poll). Spurious wake-ups are allowed.
    async fn wait_for_jobs(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }

    /// Cancels a `queued` or `running` job (a running job's worker learns it at its next
    /// heartbeat, as `LeaseLost`). `Conflict` when the job already ended; `NotFound` when missing.
    async fn cancel(&self, id: Uuid) -> StoreResult<Job>;

    /// Puts a `failed` or `cancelled` job back in the queue with fresh attempts, runnable now.
    /// `Conflict` for other statuses.
    async fn retry(&self, id: Uuid) -> StoreResult<Job>;

    /// The job; `NotFound` otherwise.
    async fn get(&self, id: Uuid) -> StoreResult<Job>;

    /// Jobs matching `filter`, newest first.
    async fn list(&self, filter: &JobFilter) -> StoreResult<Vec<Job>>;
}

/// The columns [`job_from_row`] reads (PostgreSQL casts `progress_percentage` to float8).
pub(crate) const JOB_COLUMNS: &str = "id, user_id, kind, status, priority, topic, description, configuration, \
     progress_percentage, current_stage, error_info, metrics, created_at, updated_at, estimated_completion, batch_id, \
     attempts, max_attempts, run_at, lease_owner, lease_expires_at, started_at, completed_at";

pub(crate) fn check_progress(progress: f64) -> StoreResult<()> {
    if !(0.0..=100.0).contains(&progress) {
        return Err(StoreError::invalid("job", format!("progress must be between 0 and 100, got {progress}")));
    }
    Ok(())
}

pub(crate) fn check_worker(worker_id: &str) -> StoreResult<()> {
    if worker_id.trim().is_empty() {
        return Err(StoreError::invalid("job", "worker id must not be empty"));
    }
    Ok(())
}

pub(crate) fn lease_lost(id: Uuid, worker_id: &str) -> StoreError {
    StoreError::new(StoreErrorKind::LeaseLost, "job", format!("worker `{worker_id}` does not hold the lease"))
        .with_id(id)
}

/// What a lease-holder operation that matched no row means: `NotFound` or `LeaseLost`.
pub(crate) fn lost_or_missing(found: bool, id: Uuid, worker_id: &str) -> StoreError {
    if found { lease_lost(id, worker_id) } else { StoreError::not_found("job", id) }
}

pub(crate) fn job_from_row(row: &impl SqlRow) -> StoreResult<Job> {
    let corrupt = |e: StoreError| StoreError::corrupt("job", e.message);
    Ok(Job {
        id: row.uuid("id")?,
        user_id: row.opt_uuid("user_id")?,
        kind: row.text("kind")?,
        status: row.text("status")?.parse().map_err(corrupt)?,
        priority: row.opt_text("priority")?.as_deref().unwrap_or("normal").parse().map_err(corrupt)?,
        topic: row.text("topic")?,
        description: row.opt_text("description")?,
        configuration: row.json("configuration")?,
        progress_percentage: row.opt_float("progress_percentage")?.unwrap_or(0.0),
        current_stage: row.opt_text("current_stage")?,
        error_info: row.opt_json("error_info")?,
        metrics: row.opt_json("metrics")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        estimated_completion: row.opt_time("estimated_completion")?,
        batch_id: row.opt_uuid("batch_id")?,
        attempts: row.int("attempts")? as i32,
        max_attempts: row.int("max_attempts")? as i32,
        run_at: row.time("run_at")?,
        lease_owner: row.opt_text("lease_owner")?,
        lease_expires_at: row.opt_time("lease_expires_at")?,
        started_at: row.opt_time("started_at")?,
        completed_at: row.opt_time("completed_at")?,
    })
}

/// Sorts leased jobs the way they were chosen (RETURNING does not promise an order).
pub(crate) fn sort_leased(jobs: &mut [Job]) {
    let rank = |p: Priority| match p {
        Priority::High => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    };
    jobs.sort_by(|a, b| rank(a.priority).cmp(&rank(b.priority)).then(a.run_at.cmp(&b.run_at)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let backoff = Backoff { base: Duration::from_secs(2), max: Duration::from_secs(60) };
        assert_eq!(backoff.delay(1), Duration::from_secs(2));
        assert_eq!(backoff.delay(2), Duration::from_secs(4));
        assert_eq!(backoff.delay(4), Duration::from_secs(16));
        assert_eq!(backoff.delay(6), Duration::from_secs(60));
        assert_eq!(backoff.delay(1_000), Duration::from_secs(60));
        assert_eq!(backoff.delay(0), Duration::from_secs(2));
    }

    #[test]
    fn statuses_and_priorities_parse_their_spelling_only() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), *status);
        }
        assert_eq!("high".parse::<Priority>().unwrap(), Priority::High);
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert!(err.message.contains("low, normal, high"), "{err}");
    }

    #[test]
    fn new_jobs_are_checked() {
        assert!(NewJob::new("campaign", "launch").check().is_ok());
        assert!(NewJob::new("", "launch").check().is_err());
        let mut job = NewJob::new("campaign", "launch");
        job.max_attempts = 0;
        assert!(job.check().is_err());
        assert!(check_progress(100.0).is_ok() && check_progress(100.5).is_err() && check_progress(f64::NAN).is_err());
    }
}
