//! `aae worker`: runs job workers alone (no HTTP) until SIGINT or SIGTERM. The first signal stops
//! leasing and lets running jobs finish for `--grace-secs`; then (or at a second signal) their
//! handlers are stopped and their leases given back to the queue.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aae_config::Config;
use aae_jobs::kinds;
use aae_jobs::{JobOutcome, Worker, WorkerOptions};
use aae_store::Records;

use crate::cli::WorkerArgs;

/// Runs workers until a signal.
pub async fn run(config: Config, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    // The same records `aae serve` opens (campaigns on DynamoDB when configured): job kinds that
    // write campaigns and artifacts see what the API serves.
    let storage = Arc::new(aae_storage::StorageService::from_config(&config).await?);
    let records = Records::open_config(&config, Some(Arc::clone(&storage))).await?;
    let mut options = WorkerOptions::from_config(&config.jobs);
    if let Some(concurrency) = args.concurrency {
        options.concurrency = concurrency.max(1);
    }
    options.shutdown_grace = Duration::from_secs(args.grace_secs);
    let (campaigns, _mcp) = super::campaign::campaign_job(&config, &records, storage).await?;
    let worker = Arc::new(Worker::new(Arc::clone(&records.jobs), kinds::builtin().with(campaigns), options));
    tracing::info!(worker = %worker.id(), database = records.describe(), "aae worker running; SIGINT or SIGTERM stops it");
    let running = tokio::spawn({
        let worker = Arc::clone(&worker);
        async move { worker.run().await }
    });
    signal().await?;
    worker.shutdown();
    // A second signal skips the grace period.
    let impatient = tokio::spawn({
        let worker = Arc::clone(&worker);
        async move {
            if signal().await.is_ok() {
                worker.stop_running_jobs();
            }
        }
    });
    let report = running.await?;
    impatient.abort();
    tracing::info!(
        leased = report.leased,
        completed = report.count(JobOutcome::Completed),
        failed = report.count(JobOutcome::Failed),
        released = report.count(JobOutcome::Released),
        "aae worker stopped"
    );
    records.close().await;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM.
async fn signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    Ok(())
}
