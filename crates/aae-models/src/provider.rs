//! [`ModelProvider`]: what every provider implements. Providers speak one protocol each and know
//! nothing of users, preferences, retries, limits or credits: the router adds those. A provider
//! makes exactly one attempt per call.

use async_trait::async_trait;

use crate::error::{ModelError, ModelResult};
use crate::types::{
    ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, ImageOutput, ImageRequest, VideoJob,
    VideoRequest, VideoStatus,
};

/// A model provider, used as `Arc<dyn ModelProvider>`.
///
/// `model_id` is always the id the provider's API expects (the catalog's `model_id`, Property 5),
/// never AAE's name of the model. Errors name the provider and `model_id`; the router renames
/// them to the catalog name. Capabilities a provider lacks answer
/// [`ModelErrorKind::Unsupported`](crate::ModelErrorKind::Unsupported), which the default
/// methods do.
#[async_trait]
pub trait ModelProvider: Send + Sync {
    /// The provider's name as the catalog spells it, e.g. `gemini`.
    fn name(&self) -> &str;

    /// One chat completion. Tool calls in the reply are complete, with parsed JSON arguments.
    /// Fails with a retryable error for throttling, 5xx, timeouts and connection failures, and a
    /// non-retryable one for everything the provider refused or the reply it could not parse.
    async fn chat(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatResponse>;

    /// One streamed chat completion. The returned stream yields text deltas as they arrive, each
    /// tool call once and complete (assembled from its fragments), usage when the provider sends
    /// it, and ends with exactly one `Stop`. Errors before the first byte are returned directly
    /// (so they can be retried); errors mid-stream end the stream with that error.
    async fn chat_stream(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatStream>;

    /// One vector per input, in order.
    async fn embed(&self, model_id: &str, request: &EmbeddingRequest) -> ModelResult<EmbeddingResponse> {
        let _ = request;
        Err(ModelError::unsupported(self.name(), model_id, "embeddings"))
    }

    /// One image, encoded, with its MIME type. Implementations check the bytes decode as an
    /// image of the requested size before returning them (Property 8).
    async fn generate_image(&self, model_id: &str, request: &ImageRequest) -> ModelResult<ImageOutput> {
        let _ = request;
        Err(ModelError::unsupported(self.name(), model_id, "image generation"))
    }

    /// Starts a video generation job; poll it with [`poll_video`](Self::poll_video).
    async fn start_video(&self, model_id: &str, request: &VideoRequest) -> ModelResult<VideoJob> {
        let _ = request;
        Err(ModelError::unsupported(self.name(), model_id, "video generation"))
    }

    /// The state of a job from [`start_video`](Self::start_video). Cheap; the router calls it
    /// repeatedly until the job is done, failed, or the timeout passes.
    async fn poll_video(&self, model_id: &str, job: &VideoJob) -> ModelResult<VideoStatus> {
        let _ = job;
        Err(ModelError::unsupported(self.name(), model_id, "video generation"))
    }
}
