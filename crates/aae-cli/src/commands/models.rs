//! `aae models list`: the catalog with what the configuration makes available and the prices.

use std::process::ExitCode;

use aae_config::{Config, ModelPrice};
use aae_types::{ModelEntry, Provider};

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
    println!(
        "{:<18} {:<24} {:<15} {:<40} {:<34} price (credits)",
        "provider", "model", "kind", "capabilities", "availability"
    );
    for row in &rows {
        let marker = if row.provider == default.conversational_provider && row.model == default.conversational_model {
            " (default)"
        } else {
            ""
        };
        println!(
            "{:<18} {:<24} {:<15} {:<40} {:<34} {}",
            row.provider,
            format!("{}{marker}", row.model),
            row.kind,
            row.capabilities.join(","),
            row.availability,
            row.price.as_ref().map(describe_price).unwrap_or_else(|| "free".to_owned())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn row<'a>(config: &Config, entry: &'a ModelEntry) -> Row<'a> {
    let (available, availability) = availability(config, entry.provider);
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

/// Whether the provider is configured, and if not, what configures it. Bedrock, SageMaker and
/// the embedded model are listed as configured, but their implementations land separately.
fn availability(config: &Config, provider: Provider) -> (bool, String) {
    if config.provider_configured(provider) {
        let how = match provider {
            Provider::Local => format!("embedded, weights in {}", config.models_dir().display()),
            Provider::OpenaiCompatible => "configured (base_url)".to_owned(),
            _ => "configured".to_owned(),
        };
        return (true, how);
    }
    let hint = match provider {
        Provider::Gemini => "set AAE__PROVIDERS__GEMINI__API_KEY",
        Provider::Bedrock => "set AAE__PROVIDERS__BEDROCK__ENABLED=true",
        Provider::Sagemaker => "set AAE__PROVIDERS__SAGEMAKER__ENABLED=true",
        Provider::OpenaiCompatible => "set AAE__PROVIDERS__OPENAI_COMPATIBLE__BASE_URL",
        Provider::Local => "",
    };
    (false, hint.to_owned())
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
