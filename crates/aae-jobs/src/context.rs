//! [`JobHandler`], the code behind one job kind, and [`JobContext`], what a run of it sees.

use std::sync::Arc;

use aae_store::{Job, JobStore, StoreErrorKind};
use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::JobError;

/// Runs the jobs of one kind. One implementation per file under `kinds/`.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// The `kind` of the jobs this handler runs, e.g. `noop`, `campaign`.
    fn kind(&self) -> &str;

    /// Runs one attempt of the job. Returns the metrics to store with the completed job, or an
    /// error: [`JobError::Retryable`] (the job is tried again after a backoff), or
    /// [`JobError::Permanent`] (it fails now). Long runs should check
    /// [`JobContext::cancellation`] between steps and return [`JobError::Cancelled`] once it
    /// fires: the job was cancelled, its lease was lost, or the worker is shutting down. A run
    /// may be repeated (a worker that dies mid-run is replaced after its lease expires), so
    /// handlers write their outputs idempotently.
    async fn run(&self, ctx: &JobContext) -> Result<Option<Value>, JobError>;
}

/// What a handler's run sees: the job, progress reporting and a cancellation token.
#[derive(Clone)]
pub struct JobContext {
    job: Job,
    worker_id: Arc<str>,
    store: Arc<dyn JobStore>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext").field("job", &self.job.id).field("worker", &self.worker_id).finish()
    }
}

impl JobContext {
    pub(crate) fn new(job: Job, worker_id: Arc<str>, store: Arc<dyn JobStore>, cancel: CancellationToken) -> Self {
        Self { job, worker_id, store, cancel }
    }

    /// The job as leased (its `attempts` counts this attempt).
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The job's input (`configuration`; `null` when unset).
    pub fn configuration(&self) -> &Value {
        &self.job.configuration
    }

    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> i32 {
        self.job.attempts
    }

    /// The worker running it (`hostname:pid:n`).
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Fires when the run must stop: the job was cancelled, the lease was lost, or the worker is
    /// shutting down and its deadline passed.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether the run must stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Records `progress_percentage` (clamped to 0..=100) and, when given, `current_stage`.
    /// [`JobError::Cancelled`] when the worker no longer holds the lease (the token fires too);
    /// other store failures are logged and ignored, since progress is advisory.
    pub async fn report_progress(&self, percent: f64, stage: Option<&str>) -> Result<(), JobError> {
        if self.cancel.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        let percent = if percent.is_finite() { percent.clamp(0.0, 100.0) } else { 0.0 };
        match self.store.report_progress(self.job.id, &self.worker_id, percent, stage).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind == StoreErrorKind::LeaseLost || e.kind == StoreErrorKind::NotFound => {
                self.cancel.cancel();
                Err(JobError::Cancelled)
            }
            Err(error) => {
                tracing::warn!(job = %self.job.id, %error, "job progress not recorded");
                Ok(())
            }
        }
    }
}
