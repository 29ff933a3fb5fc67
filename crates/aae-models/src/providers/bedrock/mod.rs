//! AWS Bedrock through the official `aws-sdk-bedrockruntime` client: chat with `Converse`,
//! streamed chat with `ConverseStream` (`stream.rs`), embeddings with `InvokeModel` on Titan
//! text embeddings v2 (`{"inputText", "normalize": true}` → `{"embedding", "inputTextTokenCount"}`,
//! one call per input, up to 8 at a time, in order). Request and reply shapes, including
//! structured output as a forced tool, are in `wire.rs`.
//!
//! # Reaching Bedrock
//! Region: `providers.bedrock.region`, else `aws.region`, else the AWS chain, else `us-east-1`.
//! Endpoint: `providers.bedrock.endpoint_url`, else `aws.endpoint_url`, else the SDK's own
//! `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` / `AWS_ENDPOINT_URL`, else the regional endpoint.
//! Credentials: SigV4 with the AWS chain (`aws.profile` selects a profile), or, when
//! `providers.bedrock.api_key` is set, that Bedrock API key as a bearer token. The SDK's own
//! retries are off ([`RetryConfig::disabled`]): the router is the only retry layer. Connecting
//! is capped at 3 s; there is no SDK operation timeout and no stalled-stream check, because the
//! router's request timeout covers each call and each stream to its last event.
//!
//! # Model ids
//! The router passes the catalog's model id. `providers.bedrock.model_ids` replaces it (keyed by
//! the catalog name, e.g. `claude-4.5-sonnet`, or by the catalog model id). Then, for chat only,
//! `providers.bedrock.inference_profile_prefix` (e.g. `us`) is put in front:
//! `anthropic.claude-…` → `us.anthropic.claude-…`. Ids that already start with a region prefix
//! (`us.`, `us-gov.`, `eu.`, `apac.`, `jp.`, `au.`, `ca.`, `global.`) and ARNs are left alone, and
//! embedding model ids never get the prefix (Titan is invoked in-region). Errors keep naming the
//! catalog model id and mention the id sent when it differs.
//!
//! # Errors
//! `ThrottlingException`, `ServiceQuotaExceededException` and HTTP 429 are throttling;
//! `ServiceUnavailableException`, `InternalServerException`, `ModelNotReadyException`,
//! `ModelErrorException`, other 5xx and connection failures are unavailability;
//! `ModelTimeoutException` and timeouts are timeouts (all three retryable).
//! `ValidationException` is an invalid request (a model id Bedrock does not know: model not
//! found); `AccessDeniedException`, bad or missing credentials, 401 and 403 are unauthorized;
//! `ResourceNotFoundException` and 404 are model not found. Messages carry the AWS error code and
//! message, never credentials.

mod error;
mod stream;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aae_config::Config;
use aae_types::Provider;
use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::{Credentials, Region, Token};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::ConverseOutput;
use futures::{StreamExt, TryStreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::provider::ModelProvider;
use crate::types::{ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, Usage};
use error::sdk_error;

const NAME: &str = "bedrock";
/// Titan embedding calls in flight at once for one request.
const EMBED_CONCURRENCY: usize = 8;
/// Region prefixes of cross-region inference profile ids.
const REGION_PREFIXES: &[&str] = &["us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"];

/// How to reach Bedrock and which model ids to send. Unset fields come from the AWS chain.
#[derive(Debug, Clone, Default)]
pub struct BedrockOptions {
    /// Region; default from the chain, else `us-east-1`.
    pub region: Option<String>,
    /// Endpoint, e.g. `http://127.0.0.1:PORT` for a local fake.
    pub endpoint_url: Option<String>,
    /// Named AWS profile.
    pub profile: Option<String>,
    /// A Bedrock API key sent as a bearer token instead of SigV4 credentials.
    pub api_key: Option<SecretString>,
    /// A fixed access key id and secret (local fakes, tests); default: the credential chain.
    pub static_credentials: Option<(String, SecretString)>,
    /// Cross-region inference profile prefix for chat model ids, e.g. `us`.
    pub inference_profile_prefix: Option<String>,
    /// Overrides, catalog model id (the id the router passes) → the id to send.
    pub model_ids: BTreeMap<String, String>,
}

impl BedrockOptions {
    /// `providers.bedrock` with the `aws` section as fallback; `model_ids` keys that name a
    /// catalog model are turned into that model's catalog id.
    pub fn from_config(config: &Config) -> Self {
        let bedrock = &config.providers.bedrock;
        let catalog = config.model_catalog();
        let mut model_ids = BTreeMap::new();
        for (key, id) in &bedrock.model_ids {
            if let Some(entry) = catalog.get(Provider::Bedrock, key) {
                model_ids.insert(entry.model_id.clone(), id.clone());
            }
            model_ids.entry(key.clone()).or_insert_with(|| id.clone());
        }
        Self {
            region: bedrock.region.clone().or_else(|| config.aws.region.clone()),
            endpoint_url: bedrock.endpoint_url.clone().or_else(|| config.aws.endpoint_url.clone()),
            profile: config.aws.profile.clone(),
            api_key: bedrock.api_key.clone(),
            static_credentials: None,
            inference_profile_prefix: bedrock.inference_profile_prefix.clone(),
            model_ids,
        }
    }
}

/// The id sent for each catalog model id (see the module docs).
#[derive(Debug, Clone, Default)]
struct ModelIds {
    overrides: HashMap<String, String>,
    prefix: Option<String>,
}

impl ModelIds {
    fn new(options: &BedrockOptions) -> Self {
        let prefix = options.inference_profile_prefix.as_deref().map(|p| p.trim().trim_end_matches('.').to_lowercase());
        Self {
            overrides: options.model_ids.iter().map(|(k, v)| (k.clone(), v.trim().to_owned())).collect(),
            prefix: prefix.filter(|p| !p.is_empty()),
        }
    }

    fn embedding(&self, model_id: &str) -> String {
        self.overrides.get(model_id).map_or(model_id, String::as_str).to_owned()
    }

    fn chat(&self, model_id: &str) -> String {
        let id = self.embedding(model_id);
        let prefixed =
            id.starts_with("arn:") || id.split_once('.').is_some_and(|(head, _)| REGION_PREFIXES.contains(&head));
        match &self.prefix {
            Some(prefix) if !prefixed => format!("{prefix}.{id}"),
            _ => id,
        }
    }
}

/// The Bedrock provider.
pub struct BedrockProvider {
    client: Client,
    ids: ModelIds,
    description: String,
}

impl std::fmt::Debug for BedrockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BedrockProvider").field("at", &self.description).field("ids", &self.ids).finish()
    }
}

impl BedrockProvider {
    /// A provider as `options` say. Loads the AWS chain (region, profile, endpoint overrides)
    /// but makes no request; credentials are resolved on the first call.
    pub async fn connect(options: &BedrockOptions) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(3)).build())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint.trim_end_matches('/'));
        }
        let api_key = options.api_key.as_ref().filter(|key| !key.expose_secret().trim().is_empty());
        if let Some((key, secret)) = &options.static_credentials {
            loader =
                loader.credentials_provider(Credentials::new(key, secret.expose_secret(), None, None, "aae-static"));
        } else if api_key.is_some() {
            // No SigV4 identity, so the SDK picks bearer auth.
            loader = loader.no_credentials();
        }
        let sdk = loader.load().await;
        let mut builder = aws_sdk_bedrockruntime::config::Builder::from(&sdk);
        if sdk.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        if let Some(key) = api_key {
            builder = builder.bearer_token(Token::new(key.expose_secret(), None));
        }
        let config = builder.build();
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        let endpoint = sdk.endpoint_url().map(|e| format!(" at {e}")).unwrap_or_default();
        let auth = if api_key.is_some() { "api key" } else { "aws credentials" };
        let mut provider = Self::new(Client::from_conf(config), options);
        provider.description = format!("bedrock runtime ({region}{endpoint}, {auth})");
        provider
    }

    /// [`connect`](Self::connect) with [`BedrockOptions::from_config`].
    pub async fn from_config(config: &Config) -> Self {
        Self::connect(&BedrockOptions::from_config(config)).await
    }

    /// A provider on a client built elsewhere, with the model ids of `options` (its other
    /// fields are ignored).
    pub fn new(client: Client, options: &BedrockOptions) -> Self {
        Self { client, ids: ModelIds::new(options), description: "bedrock runtime".to_owned() }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Where it sends requests and how it authenticates, without secrets.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// The id sent to Bedrock for a chat with the catalog's `model_id`.
    pub fn chat_model_id(&self, model_id: &str) -> String {
        self.ids.chat(model_id)
    }

    async fn embed_one(&self, model_id: &str, wire_id: &str, text: &str) -> ModelResult<(Vec<f32>, u64)> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct TitanReply {
            embedding: Vec<f32>,
            #[serde(default)]
            input_text_token_count: u64,
        }
        let body = json!({ "inputText": text, "normalize": true }).to_string();
        let output = self
            .client
            .invoke_model()
            .model_id(wire_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| sdk_error(model_id, wire_id, &e))?;
        let reply: TitanReply = serde_json::from_slice(output.body().as_ref()).map_err(|e| {
            ModelError::new(
                ModelErrorKind::InvalidResponse,
                NAME,
                model_id,
                format!("reply is not a titan embedding: {e}"),
            )
        })?;
        Ok((reply.embedding, reply.input_text_token_count))
    }
}

fn invalid_request(model_id: &str, message: String) -> ModelError {
    ModelError::new(ModelErrorKind::InvalidRequest, NAME, model_id, message)
}

#[async_trait]
impl ModelProvider for BedrockProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn chat(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatResponse> {
        request.validate_tool_choice(NAME, model_id)?;
        let wire_id = self.ids.chat(model_id);
        let parts = wire::converse(request).map_err(|m| invalid_request(model_id, m))?;
        let output = self
            .client
            .converse()
            .model_id(&wire_id)
            .set_system((!parts.system.is_empty()).then_some(parts.system))
            .set_messages(Some(parts.messages))
            .set_inference_config(parts.inference)
            .set_tool_config(parts.tools)
            .send()
            .await
            .map_err(|e| sdk_error(model_id, &wire_id, &e))?;
        let Some(ConverseOutput::Message(message)) = output.output() else {
            let message = "reply has no output message".to_owned();
            return Err(ModelError::new(ModelErrorKind::InvalidResponse, NAME, model_id, message));
        };
        let (content, tool_calls, answered) = wire::reply(message.content(), parts.structured.as_ref());
        let stop_reason = wire::stop_reason(output.stop_reason(), answered && tool_calls.is_empty());
        let usage = output.usage().map(wire::usage).unwrap_or_default();
        Ok(ChatResponse { content, tool_calls, usage, stop_reason })
    }

    async fn chat_stream(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatStream> {
        request.validate_tool_choice(NAME, model_id)?;
        let wire_id = self.ids.chat(model_id);
        let parts = wire::converse(request).map_err(|m| invalid_request(model_id, m))?;
        let mut output = self
            .client
            .converse_stream()
            .model_id(&wire_id)
            .set_system((!parts.system.is_empty()).then_some(parts.system))
            .set_messages(Some(parts.messages))
            .set_inference_config(parts.inference)
            .set_tool_config(parts.tools)
            .send()
            .await
            .map_err(|e| sdk_error(model_id, &wire_id, &e))?;
        let mut assembler = stream::Assembler::new(model_id, parts.structured);
        // The first event is awaited here, so an exception before it is returned (and retried).
        let first = match output.stream.recv().await.map_err(|e| stream::stream_error(model_id, &e))? {
            Some(event) => assembler.on_event(event)?,
            None => assembler.finish()?,
        };
        Ok(stream::events(output.stream, assembler, first))
    }

    async fn embed(&self, model_id: &str, request: &EmbeddingRequest) -> ModelResult<EmbeddingResponse> {
        let wire_id = self.ids.embedding(model_id);
        let calls: Vec<_> = request.inputs.iter().map(|text| self.embed_one(model_id, &wire_id, text)).collect();
        let results: Vec<(Vec<f32>, u64)> =
            futures::stream::iter(calls).buffered(EMBED_CONCURRENCY).try_collect().await?;
        let input_tokens = results.iter().map(|(_, tokens)| tokens).sum();
        let vectors = results.into_iter().map(|(vector, _)| vector).collect();
        Ok(EmbeddingResponse { vectors, usage: Usage { input_tokens, output_tokens: 0 } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_then_the_inference_profile_prefix() {
        let options = BedrockOptions {
            inference_profile_prefix: Some(" US. ".into()),
            model_ids: BTreeMap::from([("qwen.qwen3-235b-a22b-2507-v1:0".into(), "qwen.qwen3-32b-v1:0".into())]),
            ..BedrockOptions::default()
        };
        let ids = ModelIds::new(&options);
        assert_eq!(ids.chat("anthropic.claude-sonnet-4-20250514-v1:0"), "us.anthropic.claude-sonnet-4-20250514-v1:0");
        assert_eq!(ids.chat("us.amazon.nova-lite-v1:0"), "us.amazon.nova-lite-v1:0");
        assert_eq!(ids.chat("global.anthropic.claude-x"), "global.anthropic.claude-x");
        assert_eq!(
            ids.chat("arn:aws:bedrock:us-east-1:1:inference-profile/x"),
            "arn:aws:bedrock:us-east-1:1:inference-profile/x"
        );
        assert_eq!(ids.chat("qwen.qwen3-235b-a22b-2507-v1:0"), "us.qwen.qwen3-32b-v1:0");
        assert_eq!(ids.embedding("amazon.titan-embed-text-v2:0"), "amazon.titan-embed-text-v2:0");
        assert_eq!(ModelIds::default().chat("anthropic.x"), "anthropic.x");
    }
}
