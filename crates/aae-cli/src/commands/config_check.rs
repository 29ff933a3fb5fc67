//! `aae config check`: validated configuration (secrets redacted) and one health line per
//! configured service.

use std::process::ExitCode;

use aae_config::Config;
use aae_storage::StorageService;
use aae_types::ServiceHealth;

pub async fn run(config: Config, json: bool) -> anyhow::Result<ExitCode> {
    let mut health: Vec<ServiceHealth> = match StorageService::from_config(&config).await {
        Ok(storage) => storage.health().await,
        Err(error) => vec![failed("storage", error.to_string())],
    };
    // Connects without migrating: checking the configuration changes no schema.
    health.push(match aae_store::connect(&config.database, &config.data_dir).await {
        Ok(records) => {
            let line = records.health().await;
            records.close().await;
            line
        }
        Err(error) => failed("database", error.to_string()),
    });
    match aae_store::SharedCache::from_config(&config.redis) {
        Ok(cache) => health.extend(cache.health().await),
        Err(error) => health.push(failed("redis", error.to_string())),
    }
    if config.campaigns.backend == aae_config::CampaignBackendKind::Dynamodb {
        // DescribeTable only: checking the configuration creates no table.
        health.push(match aae_store::DynamoCampaignStore::from_config(&config, None).await {
            Ok(store) => store.health().await,
            Err(error) => failed("campaigns", error.to_string()),
        });
    }
    let healthy = health.iter().all(|h| h.healthy);
    if json {
        let body = serde_json::json!({ "config": config.to_redacted_json(), "services": health, "healthy": healthy });
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        println!("# effective configuration (secrets redacted)\n{}", config.to_redacted_toml());
        println!("# services");
        for line in &health {
            let mark = if line.healthy { "ok  " } else { "FAIL" };
            println!("{mark} {:<18} {:>5} ms  {}", line.service, line.latency_ms, line.detail);
        }
    }
    Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn failed(service: &str, detail: String) -> ServiceHealth {
    ServiceHealth { service: service.into(), healthy: false, detail, latency_ms: 0, last_check: chrono_now() }
}

fn chrono_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{now}")
}
