//! `aae db …`: the record database.

use std::process::ExitCode;

use aae_config::Config;

/// `aae db migrate`: applies pending migrations and reports what it did.
pub async fn migrate(config: Config, json: bool) -> anyhow::Result<ExitCode> {
    let records = aae_store::connect(&config.database, &config.data_dir).await?;
    let report = records.migrate().await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.applied.is_empty() {
        println!("{}: schema up to date ({} migrations)", records.describe(), report.known);
    } else {
        println!(
            "{}: applied {} migration(s): {}",
            records.describe(),
            report.applied.len(),
            report.applied.join(", ")
        );
    }
    records.close().await;
    Ok(ExitCode::SUCCESS)
}
