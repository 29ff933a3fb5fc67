//! Embeddings, images and video through the router: the same breaker, limits, retries and
//! accounting as chat. Images and video use the fixed generation models (seed 000: Qwen-Image
//! and Wan2.2); a video job is started once and polled every `router.video_poll_ms` until it is
//! done, failed, or `router.video_timeout_secs` have passed.

use std::time::Instant;

use aae_types::{ModelEntry, ModelKind, Provider};

use super::{CallContext, ModelRouter, Routed};
use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::types::{
    EmbeddingRequest, EmbeddingResponse, ImageOutput, ImageRequest, VideoOutput, VideoRequest, VideoStatus,
};
use crate::usage::Metered;

impl ModelRouter {
    /// The embedding model for `key` (`provider/model`), or the first embedding model of a
    /// provider that has an implementation, in catalog order (Gemini, Bedrock, local).
    /// OpenAI-compatible models may be used for embeddings when named explicitly.
    pub fn embedding_model(&self, key: Option<&str>) -> ModelResult<ModelEntry> {
        match key {
            Some(key) => {
                let entry = self.catalog.resolve_key(key)?;
                if entry.kind != ModelKind::Embedding && entry.provider != Provider::OpenaiCompatible {
                    return Err(ModelError::unsupported(entry.provider.as_str(), &entry.name, "embeddings"));
                }
                Ok(entry.clone())
            }
            None => {
                self.catalog.of_kind(ModelKind::Embedding).find(|e| self.has_provider(e.provider)).cloned().ok_or_else(
                    || {
                        ModelError::new(
                            ModelErrorKind::NotConfigured,
                            "",
                            "",
                            "no provider with an embedding model is configured",
                        )
                    },
                )
            }
        }
    }

    /// Embeds `request.inputs` with [`embedding_model`](Self::embedding_model)`(key)`.
    pub async fn embed(
        &self,
        context: &CallContext,
        key: Option<&str>,
        request: &EmbeddingRequest,
    ) -> ModelResult<Routed<EmbeddingResponse>> {
        let started = Instant::now();
        let estimated = request.inputs.iter().map(|t| t.len() as u64).sum::<u64>().div_ceil(4);
        let result = match self.embedding_model(key) {
            Ok(entry) => self
                .attempt(&entry, estimated, |provider, id| async move { provider.embed(&id, request).await })
                .await
                .map(|value| (value, entry)),
            Err(error) => Err(error),
        };
        self.settled(context, started, result, |value| Metered { usage: value.usage, ..Metered::default() }).await
    }

    fn generation_model(&self, kind: ModelKind) -> ModelResult<ModelEntry> {
        self.catalog.of_kind(kind).next().cloned().ok_or_else(|| {
            ModelError::new(ModelErrorKind::NotConfigured, "", "", format!("no {} model in the catalog", kind.as_str()))
        })
    }

    /// One image from the image model (Qwen-Image).
    pub async fn generate_image(
        &self,
        context: &CallContext,
        request: &ImageRequest,
    ) -> ModelResult<Routed<ImageOutput>> {
        let started = Instant::now();
        let result = match self.generation_model(ModelKind::Image) {
            Ok(entry) => self
                .attempt(&entry, 0, |provider, id| async move { provider.generate_image(&id, request).await })
                .await
                .map(|value| (value, entry)),
            Err(error) => Err(error),
        };
        self.settled(context, started, result, |_| Metered { images: 1, ..Metered::default() }).await
    }

    /// One video from the video model (Wan2.2): starts the job, then polls it.
    pub async fn generate_video(
        &self,
        context: &CallContext,
        request: &VideoRequest,
    ) -> ModelResult<Routed<VideoOutput>> {
        let started = Instant::now();
        let result = match self.generation_model(ModelKind::Video) {
            Ok(entry) => self.run_video(&entry, request, started).await.map(|value| (value, entry)),
            Err(error) => Err(error),
        };
        self.settled(context, started, result, |value| Metered { video_seconds: value.seconds, ..Metered::default() })
            .await
    }

    /// Records the outcome of one embedding or generation call: usage, cost and the credit hold
    /// captured on success (metered by `meter`), the hold released on failure.
    async fn settled<T>(
        &self,
        context: &CallContext,
        started: Instant,
        result: ModelResult<(T, ModelEntry)>,
        meter: impl FnOnce(&T) -> Metered,
    ) -> ModelResult<Routed<T>> {
        let (value, model) = match result {
            Ok(done) => done,
            Err(error) => {
                self.settle_failure(context, None, started).await;
                return Err(error);
            }
        };
        let cost_micros = self.settle_success(context, &model, started, &meter(&value)).await;
        Ok(Routed { value, model, failures: Vec::new(), cost_micros })
    }

    async fn run_video(
        &self,
        entry: &ModelEntry,
        request: &VideoRequest,
        started: Instant,
    ) -> ModelResult<VideoOutput> {
        let job =
            self.attempt(entry, 0, |provider, id| async move { provider.start_video(&id, request).await }).await?;
        loop {
            let job = &job;
            let status =
                self.attempt(entry, 0, |provider, id| async move { provider.poll_video(&id, job).await }).await?;
            match status {
                VideoStatus::Done { output } => return Ok(output),
                VideoStatus::Failed { message } => {
                    return Err(ModelError::new(
                        ModelErrorKind::InvalidResponse,
                        entry.provider.as_str(),
                        &entry.name,
                        format!("video job {} failed: {message}", job.id),
                    ));
                }
                VideoStatus::Pending => {}
            }
            if started.elapsed() + self.video_poll > self.video_timeout {
                return Err(ModelError::new(
                    ModelErrorKind::Timeout,
                    entry.provider.as_str(),
                    &entry.name,
                    format!("video job {} not done within {} s", job.id, self.video_timeout.as_secs()),
                ));
            }
            tokio::time::sleep(self.video_poll).await;
        }
    }
}
