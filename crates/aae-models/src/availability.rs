//! Whether a catalog model can be called with the configuration at hand, and if not, what makes
//! it callable: what `aae models list` and `GET /api/v1/models` report.

use aae_config::Config;
use aae_types::{ModelEntry, ModelKind, Provider};

/// `(available, how)`: whether the entry's provider is configured (the embedded models: whether
/// their weights are in place, a cheap size check, not the sha256), and how it is configured or
/// what to set to configure it.
pub fn availability(config: &Config, entry: &ModelEntry) -> (bool, String) {
    let provider = entry.provider;
    if provider == Provider::Local {
        let kind = match entry.kind {
            ModelKind::Embedding => aae_local::LocalModelKind::Embedding,
            _ => aae_local::LocalModelKind::Chat,
        };
        return match aae_local::require(&config.models_dir(), kind) {
            Ok(()) => (true, "embedded".to_owned()),
            Err(_) => (false, "run aae models fetch".to_owned()),
        };
    }
    if config.provider_configured(provider) {
        let how = match provider {
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
