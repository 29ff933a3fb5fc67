//! One leased job, from start to recorded outcome: run the handler, heartbeat while it runs,
//! stop it when the lease is lost, the job is cancelled or the shutdown deadline passes, then
//! record `complete`, `fail`, `fail_permanently` or `release`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aae_store::{Job, JobStatus, JobStore, StoreError, StoreErrorKind, StoreResult};
use futures::FutureExt;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::completer::Completer;
use crate::{Faults, JobContext, JobError, JobHandler, WorkerOptions};

/// Attempts to record an outcome when the store fails for a reason other than a lost lease.
const RECORD_ATTEMPTS: u32 = 4;
/// The first pause between those attempts; doubles.
const RECORD_RETRY_DELAY: Duration = Duration::from_millis(100);

/// How one leased job ended for this worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Completed with the handler's metrics.
    Completed,
    /// Failed with attempts left: queued again after the backoff.
    Retrying,
    /// Failed for good (out of attempts, or a permanent error).
    Failed,
    /// Cancelled while it ran; the handler was told to stop.
    Cancelled,
    /// Another worker holds the lease now (this one stalled past expiry); nothing was recorded.
    LeaseLost,
    /// Given back to the queue by a shutdown.
    Released,
    /// The outcome could not be recorded (the store kept failing); the lease will expire.
    Unrecorded,
}

/// Counts of [`JobOutcome`]s.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub leased: AtomicU64,
    pub outcomes: [AtomicU64; 7],
}

impl Counters {
    pub(crate) fn add(&self, outcome: JobOutcome) {
        self.outcomes[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, outcome: JobOutcome) -> u64 {
        self.outcomes[outcome as usize].load(Ordering::Relaxed)
    }
}

/// What every job task of one worker shares.
pub(crate) struct Shared {
    pub store: Arc<dyn JobStore>,
    pub worker_id: Arc<str>,
    pub options: WorkerOptions,
    pub faults: Arc<Faults>,
    /// Fires when the shutdown deadline passes: running handlers stop and leases go back.
    pub deadline: CancellationToken,
    pub counters: Counters,
    /// Records completions in batches.
    pub completer: Completer,
}

/// Counts the handlers running, so a worker runs at most `concurrency` at once.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    busy: AtomicU32,
    freed: Notify,
}

impl Slots {
    /// Handlers running now.
    pub(crate) fn busy(&self) -> u32 {
        self.busy.load(Ordering::SeqCst)
    }

    /// Takes a slot; the caller checked one is free.
    pub(crate) fn take(self: &Arc<Self>) -> Slot {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Slot(Arc::clone(self))
    }

    /// Resolves after a slot was given back (at once if one was given back since the last call).
    pub(crate) async fn freed(&self) {
        self.freed.notified().await;
    }
}

/// One running handler's slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.freed.notify_one();
    }
}

/// A job task's result: the job, how it ended, and how long its handler ran.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finished {
    pub id: Uuid,
    pub outcome: JobOutcome,
    pub ran: Duration,
}

/// Runs `job` with `handler` and records its outcome.
///
/// `slot` is held while the handler runs and given back as soon as it returns, before the
/// outcome is recorded: recording (batched) does not keep the next job from starting.
pub(crate) async fn run_job(shared: Arc<Shared>, handler: Arc<dyn JobHandler>, job: Job, slot: Slot) -> Finished {
    let (id, attempt) = (job.id, job.attempts);
    let worker = Arc::clone(&shared.worker_id);
    tracing::info!(job = %id, kind = %job.kind, attempt, worker = %worker, "job started");
    let cancel = CancellationToken::new();
    let ctx = JobContext::new(job, Arc::clone(&worker), Arc::clone(&shared.store), cancel.clone());
    let started = Instant::now();
    let run = AssertUnwindSafe(handler.run(&ctx)).catch_unwind();
    tokio::pin!(run);
    let every = shared.options.heartbeat;
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            _ = beat.tick(), if !shared.faults.heartbeats_paused() => {
                match shared.store.heartbeat(id, &worker, shared.options.lease).await {
                    Ok(_) => {}
                    Err(e) if matches!(e.kind, StoreErrorKind::LeaseLost | StoreErrorKind::NotFound) => {
                        cancel.cancel();
                        let _ = tokio::time::timeout(shared.options.stop_grace(), &mut run).await;
                        let outcome = lost(&shared, id).await;
                        return Finished { id, outcome, ran: started.elapsed() };
                    }
                    Err(error) => tracing::warn!(job = %id, %error, "job heartbeat failed; retrying at the next one"),
                }
            }
            _ = shared.deadline.cancelled() => {
                cancel.cancel();
                let _ = tokio::time::timeout(shared.options.stop_grace(), &mut run).await;
                let outcome = release(&shared, id).await;
                return Finished { id, outcome, ran: started.elapsed() };
            }
        }
    };
    let ran = started.elapsed();
    drop(slot);
    let outcome = match result {
        Ok(Ok(metrics)) => complete(&shared, id, metrics).await,
        Ok(Err(JobError::Cancelled)) if cancel.is_cancelled() => lost(&shared, id).await,
        Ok(Err(error)) => fail(&shared, id, attempt, error).await,
        Err(_panic) => fail(&shared, id, attempt, JobError::retryable("job handler panicked")).await,
    };
    let elapsed_ms = ran.as_millis() as u64;
    tracing::info!(job = %id, attempt, worker = %worker, elapsed_ms, outcome = ?outcome, "job finished");
    Finished { id, outcome, ran }
}

/// Why a lease-holder call failed: the job was cancelled, or another worker holds it.
async fn lost(shared: &Shared, id: Uuid) -> JobOutcome {
    match shared.store.get(id).await {
        Ok(job) if job.status == JobStatus::Cancelled => {
            tracing::info!(job = %id, worker = %shared.worker_id, "job cancelled; handler stopped");
            JobOutcome::Cancelled
        }
        _ => {
            tracing::warn!(job = %id, worker = %shared.worker_id, "job lease lost; handler stopped, result discarded");
            JobOutcome::LeaseLost
        }
    }
}

async fn complete(shared: &Shared, id: Uuid, metrics: Option<Value>) -> JobOutcome {
    let result = recorded(|| async {
        if shared.faults.take_completion_failure() {
            return Err(StoreError::new(StoreErrorKind::Unavailable, "job", "injected completion failure"));
        }
        shared.completer.complete(id, metrics.clone()).await
    })
    .await;
    match result {
        Ok(true) => JobOutcome::Completed,
        Ok(false) => lost(shared, id).await,
        Err(e) if matches!(e.kind, StoreErrorKind::LeaseLost | StoreErrorKind::NotFound) => lost(shared, id).await,
        Err(error) => {
            tracing::error!(job = %id, %error, "job completion not recorded; it runs again after its lease expires");
            JobOutcome::Unrecorded
        }
    }
}

async fn fail(shared: &Shared, id: Uuid, attempt: i32, error: JobError) -> JobOutcome {
    let info = error.error_info(&shared.worker_id, attempt);
    tracing::warn!(job = %id, attempt, worker = %shared.worker_id, %error, retryable = error.is_retryable(), "job attempt failed");
    let result = recorded(|| async {
        if error.is_retryable() {
            shared.store.fail(id, &shared.worker_id, info.clone(), shared.options.backoff).await
        } else {
            shared.store.fail_permanently(id, &shared.worker_id, info.clone()).await
        }
    })
    .await;
    match result {
        Ok(job) if job.status == JobStatus::Queued => JobOutcome::Retrying,
        Ok(_) => JobOutcome::Failed,
        Err(e) if matches!(e.kind, StoreErrorKind::LeaseLost | StoreErrorKind::NotFound) => lost(shared, id).await,
        Err(error) => {
            tracing::error!(job = %id, %error, "job failure not recorded; it runs again after its lease expires");
            JobOutcome::Unrecorded
        }
    }
}

pub(crate) async fn release(shared: &Shared, id: Uuid) -> JobOutcome {
    match recorded(|| shared.store.release(id, &shared.worker_id)).await {
        Ok(_) => {
            tracing::info!(job = %id, worker = %shared.worker_id, "job lease released at shutdown");
            JobOutcome::Released
        }
        Err(e) if matches!(e.kind, StoreErrorKind::LeaseLost | StoreErrorKind::NotFound) => lost(shared, id).await,
        Err(error) => {
            tracing::error!(job = %id, %error, "job lease not released; it runs again after it expires");
            JobOutcome::Unrecorded
        }
    }
}

/// Retries `call` while the store is unavailable or failing internally (a lost lease is final).
async fn recorded<T, F, Fut>(mut call: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut delay = RECORD_RETRY_DELAY;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e)
                if attempt < RECORD_ATTEMPTS
                    && matches!(e.kind, StoreErrorKind::Unavailable | StoreErrorKind::Internal) =>
            {
                tracing::warn!(attempt, error = %e, "job store call failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}
