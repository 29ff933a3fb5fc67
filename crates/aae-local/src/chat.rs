//! `LocalChatModel`: SmolLM2-135M-Instruct run in-process on the CPU by llama.cpp (the
//! `llama-cpp-2` bindings), with the chat template and tokenizer from the GGUF file itself.
//!
//! The model is loaded once and shared (`Clone` is an `Arc` clone). Each request gets its own
//! llama.cpp context sized to its prompt and token budget, and runs on a blocking thread: the
//! async runtime is never blocked. `ChatSettings::max_concurrent` requests run at once; the
//! others wait (asynchronously) for a slot.

mod deltas;
mod generate;
mod stream;

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tracing::info;

pub use stream::{ChatEvent, ChatStream};

use crate::error::LocalError;
use crate::weights::{CHAT_MODEL_FILE, LocalModelKind, require};

/// How the chat model runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatSettings {
    /// CPU threads llama.cpp uses for one request (prompt and generation).
    pub threads: NonZeroU32,
    /// Requests served at once; more wait for a slot. Each one uses `threads` threads.
    pub max_concurrent: NonZeroU32,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self { threads: default_threads(), max_concurrent: NonZeroU32::MIN }
    }
}

/// Half the available cores, at least one: on a 2-core machine that is shared with other work,
/// a second llama.cpp thread waits for a busy core at every step and generation gets slower, not
/// faster (measured: see the crate docs). On a machine of its own, set `threads` to the cores.
pub fn default_threads() -> NonZeroU32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let half = u32::try_from(cores / 2).unwrap_or(u32::MAX);
    NonZeroU32::new(half).unwrap_or(NonZeroU32::MIN)
}

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The user.
    User,
    /// The model (earlier turns).
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
}

impl ChatMessage {
    /// A message of `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// Constrains the generated text to a language, so a small model's structured output and tool
/// calls always parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// A GBNF grammar (llama.cpp's format) whose start rule is `root`.
    Grammar(String),
    /// A JSON Schema; the output is one JSON value valid against it (converted to a grammar by
    /// llama.cpp's own converter).
    JsonSchema(serde_json::Value),
}

/// One generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The conversation, oldest first; must not be empty.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature; 0 means greedy (deterministic).
    pub temperature: f32,
    /// Nucleus sampling (with temperature > 0); `None` keeps every token.
    pub top_p: Option<f32>,
    /// Seed of the random sampler (temperature > 0).
    pub seed: u32,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Generation ends when one of these appears; it is not part of the text.
    pub stop: Vec<String>,
    /// Grammar or JSON Schema the output must follow.
    pub constraint: Option<Constraint>,
    /// Keep generating past the end-of-turn token until `max_tokens` (benchmarks only).
    pub ignore_end_of_turn: bool,
}

impl ChatRequest {
    /// A greedy request with a budget of 256 tokens.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            temperature: 0.0,
            top_p: None,
            seed: 0,
            max_tokens: 256,
            stop: Vec::new(),
            constraint: None,
            ignore_end_of_turn: false,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "sequence")]
pub enum StopReason {
    /// The model ended its turn.
    EndOfTurn,
    /// A stop sequence appeared (the text ends where it started).
    StopSequence(String),
    /// `max_tokens` were generated (or the context is full).
    MaxTokens,
}

/// The result of a generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatOutput {
    /// The generated text (without the stop sequence).
    pub text: String,
    /// Tokens of the templated prompt.
    pub prompt_tokens: u32,
    /// Tokens generated (including the one that completed a stop sequence; not the end token).
    pub completion_tokens: u32,
    /// Why it ended.
    pub stop_reason: StopReason,
    /// Wall-clock time spent evaluating the prompt.
    pub prompt_time: Duration,
    /// Wall-clock time spent generating (sampling and evaluating each new token).
    pub generation_time: Duration,
}

/// The embedded chat model. Cheap to clone; all clones share the loaded weights.
#[derive(Clone)]
pub struct LocalChatModel {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalChatModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalChatModel")
            .field("path", &self.inner.path)
            .field("settings", &self.inner.settings)
            .finish()
    }
}

struct Inner {
    path: PathBuf,
    model: LlamaModel,
    template: LlamaChatTemplate,
    settings: ChatSettings,
    /// llama.cpp's context creation mutates the model: one at a time (see `LlamaModel::new_context`).
    new_context: Mutex<()>,
    slots: Arc<Semaphore>,
}

/// The process-wide llama.cpp backend (it may be initialised only once).
fn backend() -> Result<&'static LlamaBackend, LocalError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|err| err.to_string())
        })
        .as_ref()
        .map_err(|message| LocalError::Load { model: "llama.cpp backend".to_owned(), message: message.clone() })
}

impl LocalChatModel {
    /// Loads the chat model from `models_dir` (blocking: about 0.1 s, the file is mmapped).
    /// Without the weights the error names `aae models fetch`.
    pub fn load(models_dir: &Path, settings: ChatSettings) -> Result<Self, LocalError> {
        require(models_dir, LocalModelKind::Chat)?;
        let path = models_dir.join(CHAT_MODEL_FILE);
        let load_error = |message: String| LocalError::Load { model: CHAT_MODEL_FILE.to_owned(), message };
        let model = LlamaModel::load_from_file(backend()?, &path, &LlamaModelParams::default())
            .map_err(|err| load_error(err.to_string()))?;
        let template = model.chat_template(None).map_err(|err| load_error(format!("no chat template: {err}")))?;
        info!(
            path = %path.display(),
            params = model.n_params(),
            context = model.n_ctx_train(),
            threads = settings.threads.get(),
            "loaded local chat model"
        );
        let slots = Arc::new(Semaphore::new(settings.max_concurrent.get() as usize));
        Ok(Self { inner: Arc::new(Inner { path, model, template, settings, new_context: Mutex::new(()), slots }) })
    }

    /// Loads on a blocking thread.
    pub async fn load_async(models_dir: PathBuf, settings: ChatSettings) -> Result<Self, LocalError> {
        tokio::task::spawn_blocking(move || Self::load(&models_dir, settings))
            .await
            .map_err(|err| LocalError::Inference(format!("model loading task failed: {err}")))?
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &ChatSettings {
        &self.inner.settings
    }

    /// The largest context (prompt plus generated tokens) the model supports.
    pub fn context_tokens(&self) -> u32 {
        self.inner.model.n_ctx_train()
    }

    /// The prompt text the chat template makes of `messages` (ending with the opening of the
    /// assistant's turn).
    pub fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String, LocalError> {
        generate::render(&self.inner, messages)
    }

    /// Generates on the calling thread (which it blocks), calling `on_delta` with each piece of
    /// text as it is produced; `on_delta` returns `false` to cancel. Ignores `max_concurrent`.
    pub fn generate_blocking(
        &self,
        request: &ChatRequest,
        on_delta: &mut dyn FnMut(&str) -> bool,
    ) -> Result<ChatOutput, LocalError> {
        generate::run(&self.inner, request, on_delta)
    }

    /// Generates on a blocking thread once a slot is free; returns the whole output.
    pub async fn generate(&self, request: ChatRequest) -> Result<ChatOutput, LocalError> {
        let mut stream = self.stream(request);
        while let Some(event) = stream.next_event().await {
            if let ChatEvent::Done(output) = event? {
                return Ok(output);
            }
        }
        Err(LocalError::Inference("generation ended without a result".to_owned()))
    }

    /// Streams the generation: text deltas as they are produced, then `Done` with the output
    /// (its text is the concatenation of the deltas). Must be called inside a tokio runtime.
    /// Dropping the stream cancels the generation.
    pub fn stream(&self, request: ChatRequest) -> ChatStream {
        stream::start(Arc::clone(&self.inner), request)
    }
}
