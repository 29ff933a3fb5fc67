//! The BERT encoder of the embedding model: weights read from `model.safetensors` and
//! `config.json` (Hugging Face's layout), and a forward pass over *packed* sequences: the tokens of
//! every text of a batch are rows of one matrix, so the dense layers (nearly all of the work) run
//! as a few large matrix products with no padding, and attention runs per text.

use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

use super::kernels::{LayerNorm, Linear, add_layer_norm, attention, gelu, linear};

/// The fields of `config.json` the encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BertConfig {
    pub(crate) vocab_size: usize,
    pub(crate) hidden_size: usize,
    pub(crate) num_hidden_layers: usize,
    pub(crate) num_attention_heads: usize,
    pub(crate) intermediate_size: usize,
    pub(crate) max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    pub(crate) type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    pub(crate) layer_norm_eps: f64,
    #[serde(default = "default_hidden_act")]
    pub(crate) hidden_act: String,
}

fn default_type_vocab_size() -> usize {
    2
}
fn default_layer_norm_eps() -> f64 {
    1e-12
}
fn default_hidden_act() -> String {
    "gelu".to_owned()
}

#[derive(Debug)]
struct Layer {
    /// Query, key and value projections stacked into one `3·hidden × hidden` layer.
    qkv: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// The loaded encoder.
#[derive(Debug)]
pub(crate) struct Bert {
    config: BertConfig,
    word_embeddings: Vec<f32>,
    position_embeddings: Vec<f32>,
    token_type_embeddings: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Bert {
    /// Builds the encoder from a parsed config and the bytes of `model.safetensors`. Tensor
    /// names may carry a `bert.` prefix or not; every tensor must be f32 with the shape the
    /// config implies.
    pub(crate) fn load(config: BertConfig, safetensors: &[u8]) -> Result<Self, String> {
        if config.hidden_act != "gelu" {
            return Err(format!("config.json: hidden_act {:?} is not supported (only \"gelu\")", config.hidden_act));
        }
        if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(format!(
                "config.json: hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size, config.num_attention_heads
            ));
        }
        let tensors = SafeTensors::deserialize(safetensors).map_err(|err| format!("model.safetensors: {err}"))?;
        let prefix = if tensors.names().iter().any(|name| name.starts_with("bert.")) { "bert." } else { "" };
        let (h, inter) = (config.hidden_size, config.intermediate_size);
        let eps = config.layer_norm_eps as f32;
        let get = |name: &str, shape: &[usize]| read_f32(&tensors, &format!("{prefix}{name}"), shape);
        let linear = |name: &str, outputs: usize, inputs: usize| -> Result<Linear, String> {
            Ok(Linear {
                weight: get(&format!("{name}.weight"), &[outputs, inputs])?,
                bias: get(&format!("{name}.bias"), &[outputs])?,
                inputs,
                outputs,
            })
        };
        let norm = |name: &str| -> Result<LayerNorm, String> {
            Ok(LayerNorm {
                weight: get(&format!("{name}.weight"), &[h])?,
                bias: get(&format!("{name}.bias"), &[h])?,
                eps,
            })
        };

        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let at = format!("encoder.layer.{i}");
            let (q, k, v) = (
                linear(&format!("{at}.attention.self.query"), h, h)?,
                linear(&format!("{at}.attention.self.key"), h, h)?,
                linear(&format!("{at}.attention.self.value"), h, h)?,
            );
            let qkv = Linear {
                weight: [q.weight, k.weight, v.weight].concat(),
                bias: [q.bias, k.bias, v.bias].concat(),
                inputs: h,
                outputs: 3 * h,
            };
            layers.push(Layer {
                qkv,
                attention_output: linear(&format!("{at}.attention.output.dense"), h, h)?,
                attention_norm: norm(&format!("{at}.attention.output.LayerNorm"))?,
                intermediate: linear(&format!("{at}.intermediate.dense"), inter, h)?,
                output: linear(&format!("{at}.output.dense"), h, inter)?,
                output_norm: norm(&format!("{at}.output.LayerNorm"))?,
            });
        }
        Ok(Self {
            word_embeddings: get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            position_embeddings: get("embeddings.position_embeddings.weight", &[config.max_position_embeddings, h])?,
            token_type_embeddings: get("embeddings.token_type_embeddings.weight", &[config.type_vocab_size, h])?,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
            config,
        })
    }

    /// Width of the hidden states.
    pub(crate) fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// Encodes packed sequences: `ids` and `type_ids` are the tokens of every sequence one
    /// after the other, `lengths` how many belong to each. Returns the last hidden states,
    /// one row of `hidden_size` per token, in the same order.
    pub(crate) fn forward(&self, ids: &[u32], type_ids: &[u32], lengths: &[usize]) -> Result<Vec<f32>, String> {
        let h = self.config.hidden_size;
        let tokens = ids.len();
        if type_ids.len() != tokens || lengths.iter().sum::<usize>() != tokens {
            return Err(format!(
                "{tokens} token ids, {} type ids and lengths adding up to {}",
                type_ids.len(),
                lengths.iter().sum::<usize>()
            ));
        }
        if let Some(&len) = lengths.iter().find(|&&len| len > self.config.max_position_embeddings) {
            return Err(format!(
                "a sequence of {len} tokens exceeds the model's {} positions",
                self.config.max_position_embeddings
            ));
        }

        let mut x = vec![0.0f32; tokens * h];
        let mut row = 0;
        for &len in lengths {
            for position in 0..len {
                let (id, type_id) = (ids[row] as usize, type_ids[row] as usize);
                if id >= self.config.vocab_size || type_id >= self.config.type_vocab_size {
                    return Err(format!("token {id} (type {type_id}) is outside the model's vocabulary"));
                }
                let out = &mut x[row * h..][..h];
                let word = &self.word_embeddings[id * h..][..h];
                let pos = &self.position_embeddings[position * h..][..h];
                let kind = &self.token_type_embeddings[type_id * h..][..h];
                for (((o, w), p), k) in out.iter_mut().zip(word).zip(pos).zip(kind) {
                    *o = w + p + k;
                }
                row += 1;
            }
        }
        add_layer_norm(&mut x, None, &self.embedding_norm);

        let mut qkv = vec![0.0f32; tokens * 3 * h];
        let mut context = vec![0.0f32; tokens * h];
        let mut projected = vec![0.0f32; tokens * h];
        let mut intermediate = vec![0.0f32; tokens * self.config.intermediate_size];
        for layer in &self.layers {
            linear(&x, &layer.qkv, &mut qkv);
            attention(&qkv, lengths, self.config.num_attention_heads, &mut context);
            linear(&context, &layer.attention_output, &mut projected);
            add_layer_norm(&mut x, Some(&projected), &layer.attention_norm);
            linear(&x, &layer.intermediate, &mut intermediate);
            gelu(&mut intermediate);
            linear(&intermediate, &layer.output, &mut projected);
            add_layer_norm(&mut x, Some(&projected), &layer.output_norm);
        }
        Ok(x)
    }
}

/// Reads one f32 tensor, checking its shape.
fn read_f32(tensors: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
    let view = tensors.tensor(name).map_err(|err| format!("model.safetensors: tensor {name}: {err}"))?;
    if view.dtype() != Dtype::F32 {
        return Err(format!("model.safetensors: tensor {name} is {:?}; only F32 weights are supported", view.dtype()));
    }
    if view.shape() != shape {
        return Err(format!(
            "model.safetensors: tensor {name} has shape {:?}, config.json implies {shape:?}",
            view.shape()
        ));
    }
    Ok(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}
