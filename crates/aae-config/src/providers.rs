//! The model layer's sections: `providers` (how to reach each model provider), `models` (the
//! embedded local models), `router` (timeouts, retries, rate limits, circuit breaker, fallbacks)
//! and `prices` (cost per model, the basis of usage records and credit captures).

use std::collections::BTreeMap;
use std::path::PathBuf;

use aae_types::{ModelCatalog, Provider, UserModelPreference};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{Config, redact, redact_opt};
use crate::validate::ConfigError;

/// Every model provider. A provider without its settings is simply not configured; the embedded
/// local provider always is.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvidersConfig {
    /// Google Gemini.
    pub gemini: GeminiConfig,
    /// An OpenAI-compatible chat-completions server (vLLM, llama.cpp server, Ollama).
    pub openai_compatible: OpenAiCompatibleConfig,
    /// AWS Bedrock (credentials and endpoint from the AWS chain, `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`).
    pub bedrock: BedrockConfig,
    /// AWS SageMaker endpoints (`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`).
    pub sagemaker: SageMakerConfig,
}

/// How requests to Gemini are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GeminiMode {
    /// The Gemini API with an API key in the `x-goog-api-key` header (default).
    #[default]
    ApiKey,
    /// Vertex AI with an OAuth bearer token.
    Vertex,
}

/// Google Gemini.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeminiConfig {
    /// `api_key` (default) or `vertex`.
    pub mode: GeminiMode,
    /// API key (`AAE__PROVIDERS__GEMINI__API_KEY`); Gemini is configured when it is set (or, in
    /// `vertex` mode, when `access_token` is set).
    #[serde(serialize_with = "redact")]
    pub api_key: SecretString,
    /// Base URL up to the `models` segment. Default: the Gemini API,
    /// `https://generativelanguage.googleapis.com/v1beta`. For Vertex AI,
    /// `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google`.
    pub base_url: String,
    /// Vertex AI bearer token (e.g. from `gcloud auth print-access-token`).
    #[serde(serialize_with = "redact")]
    pub access_token: SecretString,
}

impl Default for GeminiConfig {
    fn default() -> Self {
        Self {
            mode: GeminiMode::ApiKey,
            api_key: SecretString::from(""),
            base_url: "https://generativelanguage.googleapis.com/v1beta".to_owned(),
            access_token: SecretString::from(""),
        }
    }
}

impl GeminiConfig {
    /// Whether the credential the mode needs is set.
    pub fn configured(&self) -> bool {
        match self.mode {
            GeminiMode::ApiKey => !self.api_key.expose_secret().trim().is_empty(),
            GeminiMode::Vertex => !self.access_token.expose_secret().trim().is_empty(),
        }
    }
}

/// An OpenAI-compatible server.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiCompatibleConfig {
    /// Base URL up to `/v1`, e.g. `http://127.0.0.1:11434/v1`; configured when set.
    pub base_url: Option<String>,
    /// Bearer token, if the server wants one.
    #[serde(serialize_with = "redact_opt")]
    pub api_key: Option<SecretString>,
    /// The server's model names, as a list or a comma-separated string
    /// (`AAE__PROVIDERS__OPENAI_COMPATIBLE__MODELS=qwen2.5:7b,llama3.2`). They join the catalog.
    #[serde(deserialize_with = "list_or_csv")]
    pub models: Vec<String>,
}

/// AWS Bedrock: Converse, ConverseStream and InvokeModel (Titan embeddings) through the AWS SDK.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BedrockConfig {
    /// Whether Bedrock is used. Credentials come from the AWS chain unless `api_key` is set.
    pub enabled: bool,
    /// Region; default `aws.region`, then the AWS chain, else `us-east-1`.
    pub region: Option<String>,
    /// Bedrock runtime endpoint, e.g. a local fake; default `aws.endpoint_url`, then
    /// `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` / `AWS_ENDPOINT_URL`, else the regional endpoint.
    pub endpoint_url: Option<String>,
    /// A Bedrock API key, sent as a bearer token instead of SigV4-signing with the AWS chain's
    /// credentials (`AAE__PROVIDERS__BEDROCK__API_KEY`; the SDK also reads
    /// `AWS_BEARER_TOKEN_BEDROCK`).
    #[serde(serialize_with = "redact_opt")]
    pub api_key: Option<SecretString>,
    /// Cross-region inference-profile prefix put before chat model ids, e.g. `us` turns
    /// `anthropic.claude-…` into `us.anthropic.claude-…`; ids that already carry a region prefix
    /// (`us.`, `eu.`, `apac.`, `global.`, …) or are ARNs are left alone.
    pub inference_profile_prefix: Option<String>,
    /// Model id overrides, catalog name (or catalog model id) → Bedrock model id, inference
    /// profile id or ARN.
    pub model_ids: BTreeMap<String, String>,
}

/// AWS SageMaker endpoints (seed 000 `SageMakerConfig`). Credentials come from the AWS chain;
/// the S3 objects of asynchronous inference are reached with the `storage.s3` endpoint, region
/// and path-style settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SageMakerConfig {
    /// Whether the endpoints are used.
    pub enabled: bool,
    /// Qwen-Image endpoint (real-time inference). The catalog names the default endpoint; the
    /// provider sends its requests to this one.
    pub qwen_image_endpoint: String,
    /// Wan2.2 endpoint (asynchronous inference).
    pub wan_video_endpoint: String,
    /// `s3://bucket/prefix/` where the JSON input of each asynchronous (video) request is
    /// written before `InvokeEndpointAsync`; video generation needs it.
    pub async_input_location: Option<String>,
    /// SageMaker runtime endpoint URL; default `aws.endpoint_url`,
    /// `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, `AWS_ENDPOINT_URL`, or AWS itself.
    pub endpoint_url: Option<String>,
    /// Region of the endpoints; default `aws.region` / the AWS chain.
    pub region: Option<String>,
}

impl Default for SageMakerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            qwen_image_endpoint: "sagemaker-endpoint-qwen-image".to_owned(),
            wan_video_endpoint: "sagemaker-endpoint-wan-video".to_owned(),
            async_input_location: None,
            endpoint_url: None,
            region: None,
        }
    }
}

/// The embedded local models.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Where model weights live; default `{data_dir}/models` (see [`Config::models_dir`]).
    pub dir: Option<PathBuf>,
    /// CPU threads of the local model; 0 (default) means half the cores, at least 1, which
    /// suits a machine shared with other work.
    pub threads: u32,
}

/// The model router.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Timeout of one provider request in seconds (a stream: until its last event).
    pub request_timeout_secs: u64,
    /// Retries.
    pub retry: ModelRetryConfig,
    /// Token buckets.
    pub limits: LimitsConfig,
    /// Circuit breaker per provider and model.
    pub breaker: BreakerConfig,
    /// Longest a video generation job may run before it fails as timed out, in seconds.
    pub video_timeout_secs: u64,
    /// How often a running video job is polled, in milliseconds.
    pub video_poll_ms: u64,
    /// Ordered fallbacks, `provider/model` → `[provider/model, …]`, tried in order when the model
    /// fails after its retries.
    pub fallbacks: BTreeMap<String, Vec<String>>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        let fallbacks = BTreeMap::from([
            ("bedrock/claude-4.5-sonnet".to_owned(), vec!["bedrock/qwen3".to_owned()]),
            ("bedrock/qwen3".to_owned(), vec!["bedrock/claude-4.5-sonnet".to_owned()]),
        ]);
        Self {
            request_timeout_secs: 120,
            video_timeout_secs: 1_800,
            video_poll_ms: 5_000,
            retry: ModelRetryConfig::default(),
            limits: LimitsConfig::default(),
            breaker: BreakerConfig::default(),
            fallbacks,
        }
    }
}

/// Retries of retryable model errors (throttling, 5xx, timeouts, connection resets).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelRetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff in milliseconds, doubled each retry, with jitter.
    pub initial_backoff_ms: u64,
    /// Cap on one computed backoff (a provider's `Retry-After` is honoured as long as it fits in
    /// the deadline).
    pub max_backoff_ms: u64,
    /// Cap on the total time of one call with its retries, in seconds.
    pub deadline_secs: u64,
}

impl Default for ModelRetryConfig {
    fn default() -> Self {
        Self { max_retries: 3, initial_backoff_ms: 250, max_backoff_ms: 10_000, deadline_secs: 180 }
    }
}

/// Token buckets per provider and model.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per minute per model; 0 is unlimited.
    pub requests_per_minute: u32,
    /// Tokens (estimated in + out) per minute per model; 0 is unlimited.
    pub tokens_per_minute: u64,
    /// How long a request waits for its bucket before failing as rate limited, in milliseconds.
    pub max_wait_ms: u64,
    /// Per-model overrides, `provider/model` → limits.
    pub models: BTreeMap<String, ModelLimits>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { requests_per_minute: 600, tokens_per_minute: 2_000_000, max_wait_ms: 2_000, models: BTreeMap::new() }
    }
}

/// Limits of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelLimits {
    /// Requests per minute; 0 is unlimited.
    pub requests_per_minute: u32,
    /// Tokens per minute; 0 is unlimited.
    pub tokens_per_minute: u64,
}

/// Circuit breaker per provider and model.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failed calls (after retries) that open the breaker; 0 disables it.
    pub failure_threshold: u32,
    /// Seconds the breaker stays open before one trial call is let through.
    pub cooldown_secs: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { failure_threshold: 5, cooldown_secs: 30 }
    }
}

/// The price of one model, in credits (1 credit = 1,000,000 micro-credits in the ledger).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelPrice {
    /// Per million input (prompt) tokens.
    pub input_per_million: f64,
    /// Per million output (completion) tokens.
    pub output_per_million: f64,
    /// Per generated image.
    pub per_image: f64,
    /// Per generated second of video.
    pub per_video_second: f64,
}

/// The default price table, one credit per US dollar of list price (models not listed cost nothing).
pub fn default_prices() -> BTreeMap<String, ModelPrice> {
    let tokens =
        |input, output| ModelPrice { input_per_million: input, output_per_million: output, ..Default::default() };
    BTreeMap::from([
        ("gemini/gemini-2.5-flash".to_owned(), tokens(0.30, 2.50)),
        ("gemini/gemini-2.5-pro".to_owned(), tokens(1.25, 10.0)),
        ("gemini/gemini-embedding-001".to_owned(), tokens(0.15, 0.0)),
        ("bedrock/claude-4.5-sonnet".to_owned(), tokens(3.0, 15.0)),
        ("bedrock/qwen3".to_owned(), tokens(0.22, 0.88)),
        ("bedrock/nova-2-lite".to_owned(), tokens(0.06, 0.24)),
        ("bedrock/titan-embed-text-v2".to_owned(), tokens(0.02, 0.0)),
        ("sagemaker/qwen-image".to_owned(), ModelPrice { per_image: 0.04, ..Default::default() }),
        ("sagemaker/wan2.2".to_owned(), ModelPrice { per_video_second: 0.10, ..Default::default() }),
    ])
}

pub(crate) fn list_or_csv<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    let items = match ListOrCsv::deserialize(deserializer)? {
        ListOrCsv::List(items) => items,
        ListOrCsv::Csv(text) => text.split(',').map(str::to_owned).collect(),
    };
    Ok(items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
}

impl Config {
    /// Where model weights live: `models.dir`, or `{data_dir}/models`.
    pub fn models_dir(&self) -> PathBuf {
        self.models.dir.clone().unwrap_or_else(|| self.data_dir.join("models"))
    }

    /// The model catalog: built in plus `providers.openai_compatible.models`.
    pub fn model_catalog(&self) -> ModelCatalog {
        ModelCatalog::new(self.providers.openai_compatible.models.as_slice())
    }

    /// Whether `provider` is configured: Gemini with its credential, an OpenAI-compatible server
    /// with a base URL, Bedrock and SageMaker when enabled; the local provider always.
    pub fn provider_configured(&self, provider: Provider) -> bool {
        let providers = &self.providers;
        match provider {
            Provider::Gemini => providers.gemini.configured(),
            Provider::OpenaiCompatible => providers.openai_compatible.base_url.is_some(),
            Provider::Bedrock => providers.bedrock.enabled,
            Provider::Sagemaker => providers.sagemaker.enabled,
            Provider::Local => true,
        }
    }

    /// The preference of a user who never chose, a function of this configuration: Gemini's
    /// `gemini-2.5-flash` when Gemini is configured, else Bedrock's `claude-4.5-sonnet` when
    /// Bedrock is enabled, else the first model of the OpenAI-compatible server, else the
    /// embedded `local/smollm2-135m-instruct` (no cloud needed). See
    /// [`UserModelPreference::default_for`].
    pub fn default_model_preference(&self) -> UserModelPreference {
        UserModelPreference::default_for(&self.model_catalog(), |p| self.provider_configured(p))
    }

    pub(crate) fn validate_models(&self) -> Result<(), ConfigError> {
        let openai = &self.providers.openai_compatible;
        if let Some(url) = &openai.base_url {
            check_http_url("providers.openai_compatible.base_url", url, "http://127.0.0.1:11434/v1")?;
            if openai.models.is_empty() {
                return Err(ConfigError::invalid(
                    "providers.openai_compatible.models",
                    "must list at least one model when providers.openai_compatible.base_url is set; \
                     e.g. AAE__PROVIDERS__OPENAI_COMPATIBLE__MODELS=qwen2.5:7b",
                ));
            }
        }
        check_http_url(
            "providers.gemini.base_url",
            &self.providers.gemini.base_url,
            "https://generativelanguage.googleapis.com/v1beta",
        )?;
        let sagemaker = &self.providers.sagemaker;
        for (key, value) in [
            ("providers.sagemaker.qwen_image_endpoint", &sagemaker.qwen_image_endpoint),
            ("providers.sagemaker.wan_video_endpoint", &sagemaker.wan_video_endpoint),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::invalid(key, "must name a SageMaker endpoint"));
            }
        }
        if let Some(location) = &sagemaker.async_input_location {
            let bucket = location.strip_prefix("s3://").map(|rest| rest.split('/').next().unwrap_or(""));
            if bucket.is_none_or(str::is_empty) {
                return Err(ConfigError::invalid(
                    "providers.sagemaker.async_input_location",
                    format!("`{location}` is not an S3 location; example: s3://my-bucket/sagemaker/async-input/"),
                ));
            }
        }
        if let Some(url) = &sagemaker.endpoint_url {
            check_http_url(
                "providers.sagemaker.endpoint_url",
                url,
                "https://runtime.sagemaker.us-east-1.amazonaws.com",
            )?;
        }
        let router = &self.router;
        if router.request_timeout_secs == 0 {
            return Err(ConfigError::invalid("router.request_timeout_secs", "must be at least 1 second"));
        }
        if router.video_timeout_secs == 0 || router.video_poll_ms == 0 {
            return Err(ConfigError::invalid(
                "router.video_timeout_secs",
                "router.video_timeout_secs and router.video_poll_ms must be at least 1",
            ));
        }
        let retry = &router.retry;
        if retry.max_backoff_ms < retry.initial_backoff_ms {
            return Err(ConfigError::invalid(
                "router.retry.max_backoff_ms",
                "must be at least router.retry.initial_backoff_ms",
            ));
        }
        if retry.deadline_secs == 0 {
            return Err(ConfigError::invalid("router.retry.deadline_secs", "must be at least 1 second"));
        }
        if router.breaker.failure_threshold > 0 && router.breaker.cooldown_secs == 0 {
            return Err(ConfigError::invalid("router.breaker.cooldown_secs", "must be at least 1 second"));
        }
        let catalog = self.model_catalog();
        let check_key = |key: &str, path: String| {
            catalog.resolve_key(key).map(|_| ()).map_err(|e| ConfigError::invalid(&path, e.to_string()))
        };
        for (model, fallbacks) in &router.fallbacks {
            check_key(model, format!("router.fallbacks.\"{model}\""))?;
            for fallback in fallbacks {
                check_key(fallback, format!("router.fallbacks.\"{model}\""))?;
                if fallback == model {
                    return Err(ConfigError::invalid(
                        &format!("router.fallbacks.\"{model}\""),
                        "a model may not fall back to itself",
                    ));
                }
            }
        }
        for model in router.limits.models.keys() {
            check_key(model, format!("router.limits.models.\"{model}\""))?;
        }
        for (model, price) in &self.prices {
            check_key(model, format!("prices.\"{model}\""))?;
            let all = [price.input_per_million, price.output_per_million, price.per_image, price.per_video_second];
            if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return Err(ConfigError::invalid(&format!("prices.\"{model}\""), "prices must be zero or positive"));
            }
        }
        Ok(())
    }
}

fn check_http_url(key: &str, value: &str, example: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(value)
        .map_err(|e| ConfigError::invalid(key, format!("`{value}` is not a URL ({e}); example: {example}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(key, format!("must start with http:// or https://; example: {example}")));
    }
    Ok(())
}
