//! AAE side of `bench/jobs.sh`: bulk-enqueues N `noop` jobs with `JobStore::enqueue_many`, then
//! drains them with one [`Worker`] at concurrency W (the `aae worker` loop: lease up to the free
//! slots, run, complete), timing both phases in-process. Prints one JSON line.
//!
//! Usage: `AAE__DATABASE__URL=postgres://… queue_bench JOBS WORKERS`

use std::sync::Arc;
use std::time::{Duration, Instant};

use aae_config::{Config, ConfigSources};
use aae_jobs::{JobOutcome, Worker, WorkerOptions, kinds};
use aae_store::{JobFilter, JobStatus, NewJob};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args.next().unwrap_or_else(|| "20000".into()).parse()?;
    let workers: u32 = args.next().unwrap_or_else(|| "8".into()).parse()?;
    let config = Config::load(&ConfigSources::default())?;
    let records = aae_store::Records::from_config(&config).await?;

    let batch = vec![NewJob::new("noop", "bench"); jobs];
    let started = Instant::now();
    records.jobs.enqueue_many(batch).await?;
    let enqueue_s = started.elapsed().as_secs_f64();

    let options = WorkerOptions { concurrency: workers, ..WorkerOptions::from_config(&config.jobs) };
    let started = Instant::now();
    let worker = Arc::new(Worker::new(Arc::clone(&records.jobs), kinds::builtin(), options));
    let running = tokio::spawn({
        let worker = Arc::clone(&worker);
        async move { worker.run().await }
    });
    while worker.count(JobOutcome::Completed) < jobs as u64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let drain_s = started.elapsed().as_secs_f64();
    worker.shutdown();
    running.await?;

    let filter = JobFilter { status: Some(JobStatus::Completed), limit: 10_000, ..JobFilter::default() };
    let sample = records.jobs.list(&filter).await?;
    anyhow::ensure!(sample.iter().all(|j| j.attempts == 1), "a job ran twice");
    records.close().await;
    println!(
        "{}",
        serde_json::json!({"side": "aae", "jobs": jobs, "workers": workers, "enqueue_s": enqueue_s, "drain_s": drain_s})
    );
    Ok(())
}
