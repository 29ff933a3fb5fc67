//! `aae serve`: the HTTP API and, unless `--no-workers` (`server.workers = false`), job workers
//! in the same process. SIGINT or SIGTERM stops accepting requests, ends event streams, lets
//! in-flight requests finish, then stops leasing jobs, lets running ones finish for
//! `server.shutdown_grace_secs` and hands the rest back to the queue.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aae_config::Config;
use aae_jobs::{JobOutcome, Worker, WorkerOptions, kinds};
use aae_models::ModelRouter;
use aae_server::AppState;
use aae_storage::StorageService;
use anyhow::Context;

pub async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let storage = Arc::new(StorageService::from_config(&config).await?);
    storage.ensure_buckets().await?;
    // Start-up applies pending migrations, as `aae db migrate` does, and opens the campaign
    // backend `campaigns.backend` names (creating the DynamoDB table with `create_table`).
    let records = aae_store::Records::open_config(&config, Some(Arc::clone(&storage))).await?;
    let records = records.with_cache(aae_store::SharedCache::from_config(&config.redis)?);
    tracing::info!(database = records.describe(), redis = config.redis.enabled(), "records ready");
    let address = format!("{}:{}", config.server.host, config.server.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}; set AAE__SERVER__PORT or --port to a free port"))?;
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let worker = if config.server.workers {
        // The jobs' model calls count in /metrics as the API's do.
        let mut metered = records.clone();
        metered.usage = Arc::new(aae_server::metrics::MeteredUsage(Arc::clone(&records.usage)));
        let (campaigns, mcp) = super::campaign::campaign_job(&config, &metered, Arc::clone(&storage)).await?;
        let mut options = WorkerOptions::from_config(&config.jobs);
        options.shutdown_grace = grace;
        let worker = Arc::new(Worker::new(Arc::clone(&records.jobs), kinds::builtin().with(campaigns), options));
        tracing::info!(worker = %worker.id(), "job workers running in this process (--no-workers turns them off)");
        let running = tokio::spawn({
            let worker = Arc::clone(&worker);
            async move { worker.run().await }
        });
        Some((worker, running, mcp))
    } else {
        None
    };
    let router = ModelRouter::from_config(&config).await?;
    let state = AppState::new(Arc::new(config), storage)
        .with_api(records.clone(), router)
        .map_err(|e| anyhow::anyhow!("cannot start the API: {e}"))?;
    let served = aae_server::serve(state, listener).await;
    if let Some((worker, running, _mcp)) = worker {
        worker.shutdown();
        let report = running.await?;
        tracing::info!(
            completed = report.count(JobOutcome::Completed),
            released = report.count(JobOutcome::Released),
            "job workers stopped"
        );
    }
    records.close().await;
    served?;
    Ok(ExitCode::SUCCESS)
}
