//! Test databases, worker options with short timings, and test-only job kinds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aae_jobs::{JobContext, JobError, JobHandler, WorkerOptions};
use aae_store::{Backoff, Records};
use aae_testkit::{Engine, TestDatabase};
use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

pub struct Db {
    pub records: Records,
    _db: TestDatabase,
}

impl Db {
    pub async fn new(engine: Engine) -> Self {
        let db = TestDatabase::new(engine).await.unwrap();
        let records = aae_store::open(&db.config, db.data_dir()).await.unwrap();
        Self { records, _db: db }
    }
}

/// Short timings: 2 s leases, 100 ms heartbeats, 50 ms polls, 200 ms backoff doubling to 1 s.
pub fn options() -> WorkerOptions {
    WorkerOptions {
        concurrency: 2,
        lease: Duration::from_secs(2),
        heartbeat: Duration::from_millis(100),
        poll_interval: Duration::from_millis(50),
        backoff: Backoff { base: Duration::from_millis(200), max: Duration::from_secs(1) },
        shutdown_grace: Duration::from_secs(5),
        lease_ahead: 16,
    }
}

/// `flaky`: every run fails, retryably or permanently.
pub struct Flaky {
    pub permanent: bool,
}

#[async_trait]
impl JobHandler for Flaky {
    fn kind(&self) -> &str {
        "flaky"
    }

    async fn run(&self, ctx: &JobContext) -> Result<Option<Value>, JobError> {
        let error = format!("attempt {} failed", ctx.attempt());
        let error = if self.permanent { JobError::permanent(error) } else { JobError::retryable(error) };
        Err(error.with_details(json!({"attempt": ctx.attempt()})))
    }
}

/// `gate`: reports 50 % "halfway", then waits for a permit from [`Gate::open`] (completes) or for
/// its cancellation token (records that it saw it and stops).
pub struct GateState {
    pub started: AtomicU32,
    pub saw_cancel: AtomicU32,
    permits: Semaphore,
}

impl Default for GateState {
    fn default() -> Self {
        Self { started: AtomicU32::new(0), saw_cancel: AtomicU32::new(0), permits: Semaphore::new(0) }
    }
}

#[derive(Clone, Default)]
pub struct Gate(pub Arc<GateState>);

impl Gate {
    pub fn open(&self, n: usize) {
        self.0.permits.add_permits(n);
    }

    pub fn started(&self) -> u32 {
        self.0.started.load(Ordering::SeqCst)
    }

    pub fn saw_cancel(&self) -> u32 {
        self.0.saw_cancel.load(Ordering::SeqCst)
    }

    /// Waits until `n` runs have started.
    pub async fn wait_started(&self, n: u32) {
        for _ in 0..400 {
            if self.started() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{n} gate runs did not start in 10 s (started {})", self.started());
    }
}

#[async_trait]
impl JobHandler for Gate {
    fn kind(&self) -> &str {
        "gate"
    }

    async fn run(&self, ctx: &JobContext) -> Result<Option<Value>, JobError> {
        ctx.report_progress(50.0, Some("halfway")).await?;
        self.0.started.fetch_add(1, Ordering::SeqCst);
        tokio::select! {
            permit = self.0.permits.acquire() => {
                permit.map_err(|_| JobError::retryable("gate closed"))?.forget();
                Ok(Some(json!({"opened": true, "attempt": ctx.attempt()})))
            }
            _ = ctx.cancellation().cancelled() => {
                self.0.saw_cancel.fetch_add(1, Ordering::SeqCst);
                Err(JobError::Cancelled)
            }
        }
    }
}

/// Generates `sqlite::<name>` and `postgres::<name>` tests running `super::<name>(Db)`.
#[macro_export]
macro_rules! engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::Db::new(aae_testkit::Engine::Sqlite).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::Db::new(aae_testkit::Engine::Postgres).await).await;
                }
            )+
        }
    };
}
