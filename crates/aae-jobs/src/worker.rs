//! [`Worker`]: leases jobs of the kinds it has handlers for and runs up to `concurrency` of them
//! at once; [`Worker::run`] until shutdown, or [`Worker::step`] one round at a time (tests).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aae_config::JobsConfig;
use aae_store::{Backoff, Job, JobStore};
use futures::future::BoxFuture;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::ahead::LeaseAhead;
use crate::completer::Completer;
pub use crate::run::JobOutcome;
use crate::run::{Counters, Finished, Shared, Slots, release, run_job};
use crate::{Faults, JobHandler};

/// How a worker leases, heartbeats, retries and shuts down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Jobs run at once (at least 1).
    pub concurrency: u32,
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// Time between heartbeats of a running job (less than `lease`).
    pub heartbeat: Duration,
    /// How long an idle worker waits before leasing again (a PostgreSQL `NOTIFY` wakes it sooner).
    pub poll_interval: Duration,
    /// Delay before a failed job's next attempt.
    pub backoff: Backoff,
    /// At shutdown, how long running jobs may go on before their handlers are stopped and their
    /// leases given back.
    pub shutdown_grace: Duration,
    /// At most this many jobs leased ahead of free slots; 0 leases only for free slots. Only short
    /// jobs are leased ahead: a worker holds enough to feed its slots for 100 ms at the rate
    /// its jobs have been finishing, so jobs that run for seconds are never held back.
    pub lease_ahead: u32,
}

impl WorkerOptions {
    /// The `jobs` section of the configuration, with a 30 s shutdown grace.
    pub fn from_config(config: &JobsConfig) -> Self {
        Self {
            concurrency: config.concurrency.max(1),
            lease: Duration::from_secs(config.lease_secs.max(1)),
            heartbeat: Duration::from_secs(config.heartbeat_secs.max(1)),
            poll_interval: Duration::from_millis(config.poll_interval_ms.max(1)),
            backoff: Backoff {
                base: Duration::from_secs(config.backoff_initial_secs),
                max: Duration::from_secs(config.backoff_max_secs),
            },
            shutdown_grace: Duration::from_secs(30),
            lease_ahead: config.lease_ahead,
        }
    }

    /// How long a handler told to stop may take before it is dropped.
    pub(crate) fn stop_grace(&self) -> Duration {
        self.heartbeat.min(Duration::from_secs(5))
    }
}

/// The handlers a worker runs, by kind.
#[derive(Clone, Default)]
pub struct Handlers(BTreeMap<String, Arc<dyn JobHandler>>);

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Handlers {
    /// No handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the handler of its kind.
    pub fn with(mut self, handler: impl JobHandler + 'static) -> Self {
        self.insert(Arc::new(handler));
        self
    }

    /// Adds (or replaces) the handler of its kind.
    pub fn insert(&mut self, handler: Arc<dyn JobHandler>) {
        self.0.insert(handler.kind().to_owned(), handler);
    }

    /// The kinds handled, sorted.
    pub fn kinds(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    fn get(&self, kind: &str) -> Option<&Arc<dyn JobHandler>> {
        self.0.get(kind)
    }
}

/// What a worker did: jobs leased and how each ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Jobs leased.
    pub leased: u64,
    /// Each job run, in the order it ended.
    pub outcomes: Vec<(Uuid, JobOutcome)>,
}

impl StepReport {
    /// How many jobs ended with `outcome`.
    pub fn count(&self, outcome: JobOutcome) -> usize {
        self.outcomes.iter().filter(|(_, o)| *o == outcome).count()
    }
}

static WORKERS_IN_PROCESS: AtomicU32 = AtomicU32::new(0);

/// A new worker id, `hostname:pid:n` (n counts the workers of this process from 0).
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let n = WORKERS_IN_PROCESS.fetch_add(1, Ordering::Relaxed);
    format!("{host}:{}:{n}", std::process::id())
}

/// Leases and runs jobs. Cheap to share behind an `Arc`; [`Worker::shutdown`] stops it.
pub struct Worker {
    shared: Arc<Shared>,
    handlers: Handlers,
    kinds: Vec<String>,
    shutdown: CancellationToken,
    slots: Arc<Slots>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("id", &self.shared.worker_id).field("kinds", &self.kinds).finish()
    }
}

impl Worker {
    /// A worker with a fresh [`worker_id`].
    pub fn new(store: Arc<dyn JobStore>, handlers: Handlers, options: WorkerOptions) -> Self {
        Self::with_id(worker_id(), store, handlers, options, Arc::new(Faults::default()))
    }

    /// A worker with the given id and failure injection (tests).
    pub fn with_id(
        id: impl Into<String>,
        store: Arc<dyn JobStore>,
        handlers: Handlers,
        mut options: WorkerOptions,
        faults: Arc<Faults>,
    ) -> Self {
        options.concurrency = options.concurrency.max(1);
        let kinds = handlers.kinds();
        let worker_id: Arc<str> = Arc::from(id.into());
        let shared = Arc::new(Shared {
            completer: Completer::new(Arc::clone(&store), Arc::clone(&worker_id)),
            store,
            worker_id,
            options,
            faults,
            deadline: CancellationToken::new(),
            counters: Counters::default(),
        });
        Self { shared, handlers, kinds, shutdown: CancellationToken::new(), slots: Arc::default() }
    }

    /// `hostname:pid:n`, the `lease_owner` of its jobs.
    pub fn id(&self) -> &str {
        &self.shared.worker_id
    }

    /// The kinds it leases.
    pub fn kinds(&self) -> &[String] {
        &self.kinds
    }

    /// Asks [`Worker::run`] to stop: no more leases, running jobs get `shutdown_grace` to end.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Jobs that ended with `outcome` so far (both [`Worker::run`] and [`Worker::step`]).
    pub fn count(&self, outcome: JobOutcome) -> u64 {
        self.shared.counters.get(outcome)
    }

    /// Leases and runs jobs until [`Worker::shutdown`]; then lets running jobs finish for up to
    /// `shutdown_grace`, stops the rest and releases their leases (and those of jobs leased ahead
    /// and not started). Returns what it did.
    ///
    /// Leases run concurrently with the jobs: a lease is in flight while handlers run, and short
    /// jobs are leased ahead of free slots (see [`WorkerOptions::lease_ahead`]), so a freed slot
    /// starts its next job without a round trip. Completions are recorded in batches: every
    /// completion waiting when the previous batch returns goes out in one store call.
    pub async fn run(&self) -> StepReport {
        let mut report = StepReport::default();
        let mut running: JoinSet<Finished> = JoinSet::new();
        let options = &self.shared.options;
        let concurrency = options.concurrency;
        let mut ahead = LeaseAhead::new(concurrency, options.lease_ahead);
        let mut leasing: Option<BoxFuture<'_, aae_store::StoreResult<Vec<Job>>>> = None;
        // The last lease found nothing: wait for a wake-up (NOTIFY or poll interval) before the next.
        let mut idle = false;
        // The last lease failed: wait for the poll interval before the next.
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + options.heartbeat, options.heartbeat);
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tracing::info!(worker = %self.id(), kinds = ?self.kinds, concurrency, lease_ahead = options.lease_ahead, "worker started");
        while !self.shutdown.is_cancelled() {
            while let Some(done) = running.try_join_next() {
                self.finished(&mut report, Some(&mut ahead), done);
            }
            while self.slots.busy() < concurrency {
                let Some(job) = ahead.pop() else { break };
                self.spawn(&mut running, job);
            }
            if leasing.is_none() && !idle && retry_at.is_none() {
                let want = ahead.want(concurrency.saturating_sub(self.slots.busy()));
                if want > 0 {
                    leasing = Some(Box::pin(self.lease(want)));
                }
            }
            tokio::select! {
                leased = async { match leasing.as_mut() { Some(lease) => lease.await, None => std::future::pending().await } }, if leasing.is_some() => {
                    leasing = None;
                    match leased {
                        Ok(jobs) => {
                            idle = jobs.is_empty();
                            report.leased += jobs.len() as u64;
                            ahead.push(jobs);
                        }
                        Err(error) => {
                            tracing::warn!(worker = %self.id(), %error, "job lease failed; retrying after the poll interval");
                            retry_at = Some(tokio::time::Instant::now() + options.poll_interval);
                        }
                    }
                }
                Some(done) = running.join_next(), if !running.is_empty() => self.finished(&mut report, Some(&mut ahead), done),
                // A handler returned (its outcome may still be being recorded): start the next job.
                _ = self.slots.freed() => {}
                // The queue had no runnable job: wait for new ones (a NOTIFY on PostgreSQL, else
                // the poll interval).
                _ = self.shared.store.wait_for_jobs(options.poll_interval), if idle && leasing.is_none() => idle = false,
                _ = async { if let Some(at) = retry_at { tokio::time::sleep_until(at).await } }, if retry_at.is_some() => retry_at = None,
                _ = beat.tick(), if !ahead.is_empty() => self.heartbeat_ahead(&mut ahead).await,
                _ = self.shutdown.cancelled() => {}
            }
        }
        // A lease in flight may already hold jobs: wait for it so they are given back, not left
        // to expire.
        if let Some(lease) = leasing.take()
            && let Ok(jobs) = lease.await
        {
            report.leased += jobs.len() as u64;
            ahead.push(jobs);
        }
        for job in ahead.take_all() {
            let outcome = release(&self.shared, job.id).await;
            self.shared.counters.add(outcome);
            report.outcomes.push((job.id, outcome));
        }
        self.drain(&mut running, &mut report).await;
        tracing::info!(worker = %self.id(), leased = report.leased, "worker stopped");
        report
    }

    /// Renews the leases of the jobs leased ahead; drops those no longer held (cancelled, or
    /// taken by another worker after this one stalled).
    async fn heartbeat_ahead(&self, ahead: &mut LeaseAhead) {
        let ids = ahead.ids();
        let options = &self.shared.options;
        match self.shared.store.heartbeat_many(&ids, &self.shared.worker_id, options.lease).await {
            Ok(held) => {
                if held.len() < ids.len() {
                    tracing::info!(worker = %self.id(), dropped = ids.len() - held.len(), "jobs leased ahead are no longer held; dropped");
                }
                ahead.retain_held(&held);
            }
            Err(error) => {
                tracing::warn!(worker = %self.id(), %error, "heartbeat of jobs leased ahead failed; retrying at the next one")
            }
        }
    }

    /// One round: leases up to `concurrency` jobs and runs them to their outcome (heartbeating
    /// as [`Worker::run`] does). Returns an empty report when nothing was runnable.
    pub async fn step(&self) -> StepReport {
        let mut report = StepReport::default();
        let mut running = JoinSet::new();
        match self.lease(self.shared.options.concurrency).await {
            Ok(jobs) => {
                report.leased = jobs.len() as u64;
                for job in jobs {
                    self.spawn(&mut running, job);
                }
            }
            Err(error) => tracing::warn!(worker = %self.id(), %error, "job lease failed"),
        }
        while let Some(done) = running.join_next().await {
            self.finished(&mut report, None, done);
        }
        report
    }

    /// The shutdown deadline: handlers still running are stopped and their leases released.
    /// [`Worker::run`] fires it itself after `shutdown_grace`; tests may fire it earlier.
    pub fn stop_running_jobs(&self) {
        self.shared.deadline.cancel();
    }

    async fn lease(&self, n: u32) -> aae_store::StoreResult<Vec<Job>> {
        if self.kinds.is_empty() {
            return Ok(Vec::new());
        }
        let options = &self.shared.options;
        let jobs = self.shared.store.lease(&self.shared.worker_id, &self.kinds, options.lease, n).await?;
        self.shared.counters.leased.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        Ok(jobs)
    }

    fn spawn(&self, running: &mut JoinSet<Finished>, job: Job) {
        // Leases only name kinds with a handler, so the lookup cannot miss; be safe regardless.
        let Some(handler) = self.handlers.get(&job.kind).cloned() else {
            tracing::error!(job = %job.id, kind = %job.kind, "no handler for leased job; its lease will expire");
            return;
        };
        running.spawn(run_job(Arc::clone(&self.shared), handler, job, self.slots.take()));
    }

    fn finished(
        &self,
        report: &mut StepReport,
        ahead: Option<&mut LeaseAhead>,
        done: Result<Finished, tokio::task::JoinError>,
    ) {
        match done {
            Ok(Finished { id, outcome, ran }) => {
                if let Some(ahead) = ahead {
                    ahead.observe(ran);
                }
                self.shared.counters.add(outcome);
                report.outcomes.push((id, outcome));
            }
            // Handler panics are caught inside the task; this is a runtime shutting down.
            Err(error) => tracing::error!(worker = %self.id(), %error, "job task ended abnormally"),
        }
    }

    async fn drain(&self, running: &mut JoinSet<Finished>, report: &mut StepReport) {
        if running.is_empty() {
            return;
        }
        let grace = self.shared.options.shutdown_grace;
        tracing::info!(worker = %self.id(), running = running.len(), grace_ms = grace.as_millis() as u64, "worker stopping; waiting for running jobs");
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            tokio::select! {
                done = running.join_next() => match done {
                    Some(done) => self.finished(report, None, done),
                    None => return,
                },
                _ = tokio::time::sleep_until(deadline), if !self.shared.deadline.is_cancelled() => {
                    tracing::info!(worker = %self.id(), running = running.len(), "shutdown deadline passed; stopping jobs and releasing their leases");
                    self.shared.deadline.cancel();
                }
            }
        }
    }
}
