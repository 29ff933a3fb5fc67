//! `LocalEmbedder`: all-MiniLM-L6-v2 sentence embeddings (384 dimensions) with our own BERT
//! forward pass ([`bert`], [`kernels`]) and the `tokenizers` crate, computed as
//! sentence-transformers does: tokens truncated at 256 (the model's `max_seq_length`; the shipped
//! `tokenizer.json` says 128), mean-pooled over each text's tokens, then L2-normalised.
//!
//! Unlike a padded batch, the texts of a batch are packed (no padding tokens at all), which is
//! where most of the speed over sentence-transformers comes from (docs/benchmarks.md).
//!
//! The work runs on rayon's global pool: all cores by default, `RAYON_NUM_THREADS` (read once,
//! at the first computation) caps them.

mod bert;
mod kernels;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokenizers::{Tokenizer, TruncationParams};
use tracing::info;

use self::bert::{Bert, BertConfig};
use crate::error::LocalError;
use crate::weights::{EMBEDDING_MODEL_DIR, LocalModelKind, require};

/// Dimensions of every embedding.
pub const EMBEDDING_DIMENSIONS: usize = 384;
/// Tokens per text beyond which the text is truncated (sentence-transformers' `max_seq_length`).
pub const MAX_SEQUENCE_TOKENS: usize = 256;

/// How the embedder batches its work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedSettings {
    /// Texts per forward pass (their tokens are packed, so no text pads another).
    pub batch_size: usize,
}

impl Default for EmbedSettings {
    fn default() -> Self {
        Self { batch_size: 32 }
    }
}

/// The embedded embedding model. Cheap to clone; clones share the weights.
#[derive(Clone)]
pub struct LocalEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    model: Bert,
    tokenizer: Tokenizer,
    settings: EmbedSettings,
}

impl std::fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbedder").field("dir", &self.inner.dir).field("settings", &self.inner.settings).finish()
    }
}

impl LocalEmbedder {
    /// Loads the model from `models_dir` (blocking: reads about 91 MB). Without the weights the
    /// error names `aae models fetch`.
    pub fn load(models_dir: &Path, settings: EmbedSettings) -> Result<Self, LocalError> {
        require(models_dir, LocalModelKind::Embedding)?;
        let dir = models_dir.join(EMBEDDING_MODEL_DIR);
        let load_error = |message: String| LocalError::Load { model: EMBEDDING_MODEL_DIR.to_owned(), message };

        let config_path = dir.join("config.json");
        let config = std::fs::read(&config_path).map_err(|err| LocalError::io(&config_path, err))?;
        let config: BertConfig =
            serde_json::from_slice(&config).map_err(|err| load_error(format!("config.json: {err}")))?;
        let layers = config.num_hidden_layers;

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|err| load_error(format!("tokenizer.json: {err}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_SEQUENCE_TOKENS, ..TruncationParams::default() }))
            .map_err(|err| load_error(format!("truncation: {err}")))?;
        tokenizer.with_padding(None);

        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path).map_err(|err| LocalError::io(&weights_path, err))?;
        let model = Bert::load(config, &weights).map_err(load_error)?;
        if model.hidden_size() != EMBEDDING_DIMENSIONS {
            return Err(load_error(format!("hidden size {} is not {EMBEDDING_DIMENSIONS}", model.hidden_size())));
        }
        info!(dir = %dir.display(), layers, "loaded local embedding model");
        let settings = EmbedSettings { batch_size: settings.batch_size.max(1) };
        Ok(Self { inner: Arc::new(Inner { dir, model, tokenizer, settings }) })
    }

    /// Loads on a blocking thread.
    pub async fn load_async(models_dir: PathBuf, settings: EmbedSettings) -> Result<Self, LocalError> {
        tokio::task::spawn_blocking(move || Self::load(&models_dir, settings))
            .await
            .map_err(|err| LocalError::Inference(format!("model loading task failed: {err}")))?
    }

    /// Embeds `texts` on a blocking thread; one unit-length vector of
    /// [`EMBEDDING_DIMENSIONS`] per text, in order.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, LocalError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
            .await
            .map_err(|err| LocalError::Inference(format!("embedding task failed: {err}")))?
    }

    /// Embeds `texts` on the calling thread (which it blocks).
    pub fn embed_blocking<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, LocalError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.inner.settings.batch_size) {
            let batch: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
            out.extend(self.embed_batch(&batch)?);
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LocalError> {
        let failed = |err: &dyn std::fmt::Display| LocalError::Inference(format!("embedding: {err}"));
        let encodings = self.inner.tokenizer.encode_batch(texts.to_vec(), true).map_err(|err| failed(&err))?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let ids: Vec<u32> = encodings.iter().flat_map(|e| e.get_ids().iter().copied()).collect();
        let type_ids: Vec<u32> = encodings.iter().flat_map(|e| e.get_type_ids().iter().copied()).collect();
        let hidden = self.inner.model.forward(&ids, &type_ids, &lengths).map_err(|err| failed(&err))?;
        Ok(mean_pool_normalize(&hidden, &lengths, self.inner.model.hidden_size()))
    }
}

/// The mean of each text's token states, divided by its L2 norm.
fn mean_pool_normalize(hidden: &[f32], lengths: &[usize], width: usize) -> Vec<Vec<f32>> {
    let mut rows = hidden.chunks_exact(width);
    lengths
        .iter()
        .map(|&len| {
            let mut mean = vec![0.0f32; width];
            for row in rows.by_ref().take(len) {
                for (m, v) in mean.iter_mut().zip(row) {
                    *m += v;
                }
            }
            let count = len.max(1) as f32;
            mean.iter_mut().for_each(|m| *m /= count);
            let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
            mean.iter_mut().for_each(|m| *m /= norm);
            mean
        })
        .collect()
}

/// Cosine similarity of two vectors (1.0 for identical directions).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(f32::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert!((cosine(&[1.0, 1.0], &[-1.0, -1.0]) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn loading_without_weights_names_the_fetch_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = LocalEmbedder::load(dir.path(), EmbedSettings::default()).expect_err("no weights");
        assert!(err.to_string().contains("aae models fetch"), "{err}");
    }
}
