//! `aae db …`: the record database.

use std::process::ExitCode;

use aae_config::{CampaignBackendKind, Config};
use anyhow::Context;
use secrecy::ExposeSecret;

/// `aae db migrate`: applies pending migrations and, with `campaigns.backend = dynamodb`, creates
/// the campaigns table and its indexes when missing; reports what it did (`--json`: the
/// migration report, plus `campaigns` `{table, created, indexes_added}` on DynamoDB).
pub async fn migrate(config: Config, json: bool) -> anyhow::Result<ExitCode> {
    let records = aae_store::connect(&config.database, &config.data_dir).await?;
    let report = records.migrate().await?;
    let campaigns = match config.campaigns.backend {
        CampaignBackendKind::Sql => None,
        CampaignBackendKind::Dynamodb => {
            let store = aae_store::DynamoCampaignStore::from_config(&config, None).await?;
            let table =
                store.ensure_table().await.with_context(|| format!("{}: cannot ensure the table", store.describe()))?;
            Some((store.describe().to_owned(), table))
        }
    };
    if json {
        let mut body = serde_json::to_value(&report)?;
        if let (Some((_, table)), Some(object)) = (&campaigns, body.as_object_mut()) {
            object.insert("campaigns".into(), serde_json::to_value(table)?);
        }
        println!("{}", serde_json::to_string(&body)?);
    } else {
        if report.applied.is_empty() {
            println!("{}: schema up to date ({} migrations)", records.describe(), report.known);
        } else {
            println!(
                "{}: applied {} migration(s): {}",
                records.describe(),
                report.applied.len(),
                report.applied.join(", ")
            );
        }
        if let Some((describe, table)) = &campaigns {
            let what = match (table.created, table.indexes_added.is_empty()) {
                (true, _) => "table and both indexes created".to_owned(),
                (false, false) => format!("added {}", table.indexes_added.join(", ")),
                (false, true) => "table and both indexes present".to_owned(),
            };
            println!("{describe}: {what}");
        }
    }
    records.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `aae db import-redis`: imports legacy job hashes; exits 1 when some keys were skipped.
pub async fn import_redis(config: Config, url: Option<String>, pattern: &str, json: bool) -> anyhow::Result<ExitCode> {
    let url = match url.filter(|u| !u.trim().is_empty()) {
        Some(url) => url,
        None if config.redis.enabled() => config.redis.url.expose_secret().to_owned(),
        None => {
            anyhow::bail!("no redis to import from: pass --url redis://host:6379 or set redis.url (AAE__REDIS__URL)")
        }
    };
    let records = aae_store::open(&config.database, &config.data_dir).await?;
    let report = records.import_redis_jobs(&url, pattern).await.context("import from redis failed")?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{}: {} key(s) matched `{pattern}`: {} job(s) imported, {} already there, {} skipped",
            records.describe(),
            report.scanned,
            report.imported,
            report.existing,
            report.skipped.len()
        );
        for skipped in &report.skipped {
            println!("  skipped {}: {}", skipped.key, skipped.reason);
        }
    }
    records.close().await;
    Ok(if report.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
