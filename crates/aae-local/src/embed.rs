//! `LocalEmbedder`: all-MiniLM-L6-v2 sentence embeddings (384 dimensions) with candle's BERT and
//! the `tokenizers` crate, computed exactly as sentence-transformers does: tokens truncated at
//! 256 (the model's `max_seq_length`; the shipped `tokenizer.json` says 128), padded to the
//! longest text of the batch, mean-pooled over the attention mask, then L2-normalised.
//!
//! candle runs its CPU kernels on all cores by default; `RAYON_NUM_THREADS` (read once, at the
//! first computation) caps them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use tracing::info;

use crate::error::LocalError;
use crate::weights::{EMBEDDING_MODEL_DIR, LocalModelKind, require};

/// Dimensions of every embedding.
pub const EMBEDDING_DIMENSIONS: usize = 384;
/// Tokens per text beyond which the text is truncated (sentence-transformers' `max_seq_length`).
pub const MAX_SEQUENCE_TOKENS: usize = 256;

/// How the embedder batches its work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedSettings {
    /// Texts per forward pass. Texts are sorted by length first, so a batch pads little.
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
    model: BertModel,
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
        let config: Config =
            serde_json::from_slice(&config).map_err(|err| load_error(format!("config.json: {err}")))?;

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|err| load_error(format!("tokenizer.json: {err}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_SEQUENCE_TOKENS, ..TruncationParams::default() }))
            .map_err(|err| load_error(format!("truncation: {err}")))?;
        tokenizer
            .with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..PaddingParams::default() }));

        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &device)
            .map_err(|err| load_error(format!("model.safetensors: {err}")))?;
        let model = BertModel::load(VarBuilder::from_tensors(tensors, DType::F32, &device), &config)
            .map_err(|err| load_error(format!("bert weights: {err}")))?;
        info!(dir = %dir.display(), layers = config.num_hidden_layers, "loaded local embedding model");
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
        // Longest first, so each batch holds texts of similar length and pads little.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].as_ref().len()));
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.inner.settings.batch_size) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_ref()).collect();
            for (&i, vector) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LocalError> {
        let failed = |err: &dyn std::fmt::Display| LocalError::Inference(format!("embedding: {err}"));
        let encodings = self.inner.tokenizer.encode_batch(texts.to_vec(), true).map_err(|err| failed(&err))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let flat = |get: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> {
            encodings.iter().flat_map(|e| get(e).iter().copied()).collect()
        };
        let device = Device::Cpu;
        let tensor = |data: Vec<u32>| Tensor::from_vec(data, (rows, width), &device).map_err(|err| failed(&err));
        let ids = tensor(flat(tokenizers::Encoding::get_ids))?;
        let type_ids = tensor(flat(tokenizers::Encoding::get_type_ids))?;
        let mask = tensor(flat(tokenizers::Encoding::get_attention_mask))?;

        let pooled = mean_pool_normalize(&self.inner.model, &ids, &type_ids, &mask).map_err(|err| failed(&err))?;
        pooled.to_vec2::<f32>().map_err(|err| failed(&err))
    }
}

/// BERT forward pass, mean over the real tokens ((rows, width, 384) · mask / tokens per row),
/// then each row divided by its L2 norm.
fn mean_pool_normalize(
    model: &BertModel,
    ids: &Tensor,
    type_ids: &Tensor,
    mask: &Tensor,
) -> candle_core::Result<Tensor> {
    let hidden = model.forward(ids, type_ids, Some(mask))?;
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    mean.broadcast_div(&norms)
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
