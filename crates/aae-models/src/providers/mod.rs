//! Provider implementations, one folder each, and the factory that builds the configured ones.
//! Bedrock, SageMaker and the embedded local model are added by their own modules as they land;
//! until then the router answers their models with a `not configured` error.

pub mod gemini;
pub mod openai_compatible;

use std::sync::Arc;

use aae_config::Config;
use aae_types::Provider;

use crate::provider::ModelProvider;

pub use gemini::{GeminiAuth, GeminiProvider};
pub use openai_compatible::OpenAiCompatibleProvider;

/// Every provider the configuration sets up, with the catalog provider it serves.
pub fn from_config(config: &Config) -> Vec<(Provider, Arc<dyn ModelProvider>)> {
    let mut providers: Vec<(Provider, Arc<dyn ModelProvider>)> = Vec::new();
    if let Some(gemini) = GeminiProvider::from_config(&config.providers.gemini) {
        providers.push((Provider::Gemini, Arc::new(gemini)));
    }
    if let Some(openai) = OpenAiCompatibleProvider::from_config(&config.providers.openai_compatible) {
        providers.push((Provider::OpenaiCompatible, Arc::new(openai)));
    }
    providers
}
