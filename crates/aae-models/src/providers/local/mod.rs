//! The embedded local provider: SmolLM2-135M-Instruct chat (llama.cpp) and all-MiniLM-L6-v2
//! embeddings (a packed BERT), run in-process by `aae-local` from the weights in `models.dir`
//! (default `<data dir>/models`, filled by `aae models fetch`). Always configured: it is what AAE uses
//! when no cloud model is set up.
//!
//! Models are loaded on first use, once per process, on a blocking thread; until the weights are
//! fetched every call fails with a `not configured` error that names `aae models fetch`, and a
//! later call succeeds once they are there (a failed load is not cached).
//!
//! A 135M-parameter model has no native tool calling, so tools and structured output come from
//! constrained decoding (`tools.rs`): the reply is forced to be JSON matching a schema built
//! from the tool definitions or the requested response format, so it always parses.

mod tools;

use std::num::NonZeroU32;
use std::path::PathBuf;

use aae_config::Config;
use aae_local::{ChatEvent, ChatSettings, EmbedSettings, LocalChatModel, LocalEmbedder, LocalError};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::OnceCell;

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::provider::ModelProvider;
use crate::types::{
    ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, StopReason, StreamEvent, Usage,
};

const NAME: &str = "local";

/// Sampling temperature when the request sets none: low, as SmolLM2's authors recommend for
/// instruction following.
const DEFAULT_TEMPERATURE: f32 = 0.2;
/// Nucleus sampling used with a non-zero temperature.
const DEFAULT_TOP_P: f32 = 0.9;
/// Token budget when the request sets none.
const DEFAULT_MAX_TOKENS: u32 = 512;

/// The embedded provider. Cheap to share; models load on first use.
pub struct LocalProvider {
    models_dir: PathBuf,
    chat_settings: ChatSettings,
    chat: OnceCell<LocalChatModel>,
    embedder: OnceCell<LocalEmbedder>,
}

impl std::fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProvider")
            .field("models_dir", &self.models_dir)
            .field("chat_settings", &self.chat_settings)
            .field("chat_loaded", &self.chat.initialized())
            .field("embedder_loaded", &self.embedder.initialized())
            .finish()
    }
}

impl LocalProvider {
    /// A provider over the weights in `models_dir`, running with `settings`.
    pub fn new(models_dir: PathBuf, chat_settings: ChatSettings) -> Self {
        Self { models_dir, chat_settings, chat: OnceCell::new(), embedder: OnceCell::new() }
    }

    /// The provider of `config`: `models.dir` and `models.threads` (0: half the cores).
    pub fn from_config(config: &Config) -> Self {
        let mut settings = ChatSettings::default();
        if let Some(threads) = NonZeroU32::new(config.models.threads) {
            settings.threads = threads;
        }
        Self::new(config.models_dir(), settings)
    }

    /// Where it reads the weights.
    pub fn models_dir(&self) -> &std::path::Path {
        &self.models_dir
    }

    async fn chat_model(&self, model_id: &str) -> ModelResult<&LocalChatModel> {
        self.chat
            .get_or_try_init(|| LocalChatModel::load_async(self.models_dir.clone(), self.chat_settings.clone()))
            .await
            .map_err(|e| local_error(model_id, e))
    }

    async fn embedding_model(&self, model_id: &str) -> ModelResult<&LocalEmbedder> {
        self.embedder
            .get_or_try_init(|| LocalEmbedder::load_async(self.models_dir.clone(), EmbedSettings::default()))
            .await
            .map_err(|e| local_error(model_id, e))
    }

    fn local_request(request: &ChatRequest, plan: &tools::Plan) -> aae_local::ChatRequest {
        let temperature = request.temperature.unwrap_or(DEFAULT_TEMPERATURE).max(0.0);
        aae_local::ChatRequest {
            messages: plan.messages.clone(),
            temperature,
            top_p: (temperature > 0.0).then_some(DEFAULT_TOP_P),
            seed: rand::random(),
            max_tokens: request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            stop: request.stop.clone(),
            constraint: plan.constraint.clone(),
            ignore_end_of_turn: false,
        }
    }
}

/// Maps an `aae-local` error: missing or corrupt weights are `not configured` (the message names
/// `aae models fetch`), a bad request is invalid, the rest is the engine failing.
fn local_error(model_id: &str, error: LocalError) -> ModelError {
    let kind = match &error {
        LocalError::WeightsMissing { .. } | LocalError::WeightsCorrupt { .. } => ModelErrorKind::NotConfigured,
        LocalError::InvalidRequest(_) => ModelErrorKind::InvalidRequest,
        LocalError::Pip { .. } => ModelErrorKind::Unavailable,
        LocalError::Wheel { .. } | LocalError::Io { .. } | LocalError::Load { .. } | LocalError::Inference(_) => {
            ModelErrorKind::InvalidResponse
        }
    };
    ModelError::new(kind, NAME, model_id, error.to_string())
}

fn stop_reason(reason: &aae_local::StopReason) -> StopReason {
    match reason {
        aae_local::StopReason::EndOfTurn => StopReason::EndTurn,
        aae_local::StopReason::StopSequence(_) => StopReason::StopSequence,
        aae_local::StopReason::MaxTokens => StopReason::MaxTokens,
    }
}

fn usage(output: &aae_local::ChatOutput) -> Usage {
    Usage { input_tokens: u64::from(output.prompt_tokens), output_tokens: u64::from(output.completion_tokens) }
}

#[async_trait]
impl ModelProvider for LocalProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn chat(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatResponse> {
        request.validate_tool_choice(NAME, model_id)?;
        let plan = tools::plan(request).map_err(|message| invalid_request(model_id, message))?;
        let model = self.chat_model(model_id).await?;
        let output = model.generate(Self::local_request(request, &plan)).await.map_err(|e| local_error(model_id, e))?;
        plan.response(model_id, output)
    }

    async fn chat_stream(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatStream> {
        request.validate_tool_choice(NAME, model_id)?;
        let plan = tools::plan(request).map_err(|message| invalid_request(model_id, message))?;
        let model = self.chat_model(model_id).await?;
        let local_request = Self::local_request(request, &plan);
        if plan.needs_whole_reply() {
            // A tool call is known only once its JSON is complete: generate, then replay as events.
            let output = model.generate(local_request).await.map_err(|e| local_error(model_id, e))?;
            let response = plan.response(model_id, output)?;
            return Ok(Box::pin(futures::stream::iter(response_events(response).into_iter().map(Ok))));
        }
        let model_id = model_id.to_owned();
        let events = model.stream(local_request).map(move |event| match event {
            Ok(ChatEvent::Delta(text)) => vec![Ok(StreamEvent::TextDelta { text })],
            Ok(ChatEvent::Done(output)) => vec![
                Ok(StreamEvent::Usage { usage: usage(&output) }),
                Ok(StreamEvent::Stop { reason: stop_reason(&output.stop_reason) }),
            ],
            Err(error) => vec![Err(local_error(&model_id, error))],
        });
        Ok(Box::pin(events.flat_map(futures::stream::iter)))
    }

    async fn embed(&self, model_id: &str, request: &EmbeddingRequest) -> ModelResult<EmbeddingResponse> {
        let embedder = self.embedding_model(model_id).await?;
        let vectors = embedder.embed(request.inputs.clone()).await.map_err(|e| local_error(model_id, e))?;
        let input_tokens = request.inputs.iter().map(|text| text.len().div_ceil(4) as u64).sum();
        Ok(EmbeddingResponse { vectors, usage: Usage { input_tokens, output_tokens: 0 } })
    }
}

fn invalid_request(model_id: &str, message: String) -> ModelError {
    ModelError::new(ModelErrorKind::InvalidRequest, NAME, model_id, message)
}

/// The events a complete response is streamed as.
fn response_events(response: ChatResponse) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    if !response.content.is_empty() {
        events.push(StreamEvent::TextDelta { text: response.content });
    }
    events.extend(response.tool_calls.into_iter().map(|call| StreamEvent::ToolCall { call }));
    events.push(StreamEvent::Usage { usage: response.usage });
    events.push(StreamEvent::Stop { reason: response.stop_reason });
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_weights_every_call_names_the_fetch_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let provider = LocalProvider::new(dir.path().to_owned(), ChatSettings::default());
        let error = provider.chat("m", &ChatRequest::user("hi")).await.expect_err("no weights");
        assert_eq!(error.kind, ModelErrorKind::NotConfigured);
        assert!(error.to_string().contains("aae models fetch"), "{error}");
        let error = provider.embed("e", &EmbeddingRequest { inputs: vec!["a".into()] }).await.expect_err("no weights");
        assert!(error.to_string().contains("aae models fetch"), "{error}");
        assert!(!error.is_retryable());
    }
}
