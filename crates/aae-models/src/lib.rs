//! AAE's model layer: one interface to every model provider, and the router every model call
//! goes through.
//!
//! Owns:
//! - [`ModelProvider`] (`provider.rs`): chat with tools and structured output, the unified
//!   stream of [`StreamEvent`]s, embeddings, image generation, video jobs;
//! - the providers (`providers/`): [`OpenAiCompatibleProvider`] (vLLM, llama.cpp server,
//!   Ollama) and [`GeminiProvider`] (API key or Vertex AI), both over `reqwest` with SSE
//!   streaming (`sse.rs`); [`BedrockProvider`] (Claude, Qwen3, Nova through Converse and
//!   ConverseStream, Titan embeddings, on the AWS SDK); [`SageMakerProvider`] (Qwen-Image and
//!   Wan2.2 endpoints through the AWS SDK, asynchronous video through S3, every output checked
//!   before it is returned); [`LocalProvider`] (the embedded SmolLM2 and MiniLM of `aae-local`,
//!   tools and structured output by constrained decoding);
//! - [`ModelRouter`] (`router/`): the user's preference → provider and catalog model id,
//!   circuit breaker (`breaker.rs`), token buckets (`rate_limit.rs`), timeouts and retries
//!   (`retry.rs`, the only retry layer for models), fallback (`fallback.rs`), and accounting
//!   (`usage.rs`: prices, usage records and credit holds through `aae-store`);
//! - [`ModelError`], the one error type, with [`ModelError::is_retryable`] and its
//!   [`aae_types::ErrorCode`].
//!
//! It does not own the catalog or [`aae_types::UserModelPreference`] (`aae-types`), the stored
//! preference, usage and ledger (`aae-store`), the local inference engines (`aae-local`), or
//! agents (`aae-agents`).

mod availability;
mod error;
mod http;
mod provider;
pub mod providers;
pub mod router;
mod sse;
#[cfg(feature = "test-utils")]
pub mod testing;
mod types;
pub mod usage;

pub use availability::availability;
pub use error::{ModelError, ModelErrorKind, ModelResult};
pub use provider::ModelProvider;
pub use providers::{
    BedrockOptions, BedrockProvider, GeminiAuth, GeminiProvider, LocalProvider, OpenAiCompatibleProvider,
    SageMakerProvider,
};
pub use router::{CallContext, ModelRouter, Routed, RoutedStream};
pub use types::{
    ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, ImageOutput, ImageRequest,
    JsonSchemaFormat, Message, StopReason, StreamEvent, ToolCall, ToolChoice, ToolDefinition, Usage, VideoJob,
    VideoOutput, VideoRequest, VideoStatus, collect_stream,
};
pub use usage::{Accounting, CreditHold, Metered, PriceTable, UsageBatch};
