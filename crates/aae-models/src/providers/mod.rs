//! Provider implementations, one folder each, and the factory that builds the configured ones.
//! The embedded local provider is always set up; the others when their configuration says so.

pub mod bedrock;
pub mod gemini;
pub mod local;
pub mod openai_compatible;
pub mod sagemaker;

use std::sync::Arc;

use aae_config::Config;
use aae_types::Provider;

use crate::provider::ModelProvider;

pub use bedrock::{BedrockOptions, BedrockProvider};
pub use gemini::{GeminiAuth, GeminiProvider};
pub use local::LocalProvider;
pub use openai_compatible::OpenAiCompatibleProvider;
pub use sagemaker::SageMakerProvider;

/// Every provider the configuration sets up, with the catalog provider it serves. Async because
/// the AWS providers load the AWS chain (region, credentials, endpoint overrides); makes no
/// request to any provider.
pub async fn from_config(config: &Config) -> Vec<(Provider, Arc<dyn ModelProvider>)> {
    let mut providers: Vec<(Provider, Arc<dyn ModelProvider>)> =
        vec![(Provider::Local, Arc::new(LocalProvider::from_config(config)))];
    if let Some(gemini) = GeminiProvider::from_config(&config.providers.gemini) {
        providers.push((Provider::Gemini, Arc::new(gemini)));
    }
    if let Some(openai) = OpenAiCompatibleProvider::from_config(&config.providers.openai_compatible) {
        providers.push((Provider::OpenaiCompatible, Arc::new(openai)));
    }
    if config.providers.bedrock.enabled {
        providers.push((Provider::Bedrock, Arc::new(BedrockProvider::from_config(config).await)));
    }
    if config.providers.sagemaker.enabled {
        match SageMakerProvider::from_config(config).await {
            Ok(sagemaker) => providers.push((Provider::Sagemaker, Arc::new(sagemaker))),
            Err(error) => tracing::error!(error = %error, "sagemaker provider could not be set up"),
        }
    }
    providers
}
