use std::process::ExitCode;
use std::sync::Arc;

use aae_config::Config;
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
    let state = AppState::new(Arc::new(config), storage).with_records(records);
    aae_server::serve(state, listener).await?;
    Ok(ExitCode::SUCCESS)
}
