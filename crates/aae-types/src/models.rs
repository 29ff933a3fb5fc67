//! The model catalog (seed 000 `CONVERSATIONAL_MODELS` and `GENERATION_MODELS`, plus the embedded
//! local models, embedding models and the models of an OpenAI-compatible server) and
//! [`UserModelPreference`], validated against it (Property 7).
//!
//! A catalog entry pairs AAE's name of a model (what users choose and what usage records show) with
//! the id the provider's API expects (what goes on the wire, Property 5).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Conversational models users may choose (seed 000), as `(provider, [(name, provider model id)])`.
pub const CONVERSATIONAL_MODELS: &[(&str, &[(&str, &str)])] = &[
    ("gemini", &[("gemini-2.5-flash", "gemini-2.5-flash"), ("gemini-2.5-pro", "gemini-2.5-pro")]),
    (
        "bedrock",
        &[
            ("claude-4.5-sonnet", "anthropic.claude-sonnet-4-20250514-v1:0"),
            ("qwen3", "qwen.qwen3-235b-a22b-2507-v1:0"),
            ("nova-2-lite", "us.amazon.nova-lite-v1:0"),
        ],
    ),
    ("local", &[("smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")]),
];

/// Creative generation models (seed 000, fixed: not user-selectable), as
/// `(kind, [(name, SageMaker endpoint)])`.
pub const GENERATION_MODELS: &[(&str, &[(&str, &str)])] = &[
    ("image", &[("qwen-image", "sagemaker-endpoint-qwen-image")]),
    ("video", &[("wan2.2", "sagemaker-endpoint-wan-video")]),
];

/// Embedding models, as `(provider, [(name, provider model id)])`.
pub const EMBEDDING_MODELS: &[(&str, &[(&str, &str)])] = &[
    ("gemini", &[("gemini-embedding-001", "gemini-embedding-001")]),
    ("bedrock", &[("titan-embed-text-v2", "amazon.titan-embed-text-v2:0")]),
    ("local", &[("all-minilm-l6-v2", "all-MiniLM-L6-v2")]),
];

/// A model provider AAE can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Google Gemini (REST, API key or Vertex AI).
    Gemini,
    /// AWS Bedrock (Converse).
    Bedrock,
    /// AWS SageMaker endpoints (Qwen-Image, Wan2.2).
    Sagemaker,
    /// Any OpenAI-compatible chat-completions server (vLLM, llama.cpp server, Ollama).
    OpenaiCompatible,
    /// The embedded local models.
    Local,
}

impl Provider {
    /// Every provider, in catalog order.
    pub const ALL: [Provider; 5] =
        [Provider::Gemini, Provider::Bedrock, Provider::Sagemaker, Provider::OpenaiCompatible, Provider::Local];

    /// The configuration and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gemini => "gemini",
            Self::Bedrock => "bedrock",
            Self::Sagemaker => "sagemaker",
            Self::OpenaiCompatible => "openai_compatible",
            Self::Local => "local",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = ModelSelectionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| ModelSelectionError::UnknownProvider {
            provider: s.to_owned(),
            allowed: Provider::ALL.iter().map(|p| p.as_str().to_owned()).collect(),
        })
    }
}

/// What a model produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Chat: messages in, text and tool calls out.
    Conversational,
    /// Images from a prompt.
    Image,
    /// Video from a prompt (a long-running job).
    Video,
    /// Vectors from text.
    Embedding,
}

impl ModelKind {
    /// The spelling used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Conversational => "conversational",
            Self::Image => "image",
            Self::Video => "video",
            Self::Embedding => "embedding",
        }
    }
}

/// One capability of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Non-streaming chat.
    Chat,
    /// Streaming chat.
    Streaming,
    /// Tool (function) calling.
    Tools,
    /// Output constrained by a JSON schema.
    StructuredOutput,
    /// Text embeddings.
    Embeddings,
    /// Image generation.
    ImageGeneration,
    /// Video generation.
    VideoGeneration,
}

impl Capability {
    /// The spelling used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Streaming => "streaming",
            Self::Tools => "tools",
            Self::StructuredOutput => "structured_output",
            Self::Embeddings => "embeddings",
            Self::ImageGeneration => "image",
            Self::VideoGeneration => "video",
        }
    }

    /// The capabilities every model of `kind` has.
    pub fn for_kind(kind: ModelKind, provider: Provider) -> Vec<Capability> {
        match kind {
            ModelKind::Conversational if provider == Provider::Local => vec![Self::Chat, Self::Streaming],
            ModelKind::Conversational => {
                vec![Self::Chat, Self::Streaming, Self::Tools, Self::StructuredOutput]
            }
            ModelKind::Embedding => vec![Self::Embeddings],
            ModelKind::Image => vec![Self::ImageGeneration],
            ModelKind::Video => vec![Self::VideoGeneration],
        }
    }
}

/// One model of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Who serves it.
    pub provider: Provider,
    /// AAE's name, e.g. `claude-4.5-sonnet`.
    pub name: String,
    /// The provider's id, e.g. `anthropic.claude-sonnet-4-20250514-v1:0` (a SageMaker endpoint
    /// name for generation models).
    pub model_id: String,
    /// What it produces.
    pub kind: ModelKind,
    /// What it can do.
    pub capabilities: Vec<Capability>,
}

impl ModelEntry {
    /// `provider/name`, the key of price, limit and fallback tables.
    pub fn key(&self) -> String {
        format!("{}/{}", self.provider, self.name)
    }

    /// Whether the model has `capability`.
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }
}

/// Every model AAE knows, built in plus those of the configured OpenAI-compatible server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCatalog {
    entries: Vec<ModelEntry>,
}

impl ModelCatalog {
    /// The built-in catalog plus `openai_compatible_models` (conversational models of an
    /// OpenAI-compatible server, each name also its wire id).
    pub fn new<S: AsRef<str>>(openai_compatible_models: &[S]) -> Self {
        let mut entries = Vec::new();
        let mut push = |provider: Provider, kind: ModelKind, name: &str, id: &str| {
            entries.push(ModelEntry {
                provider,
                name: name.to_owned(),
                model_id: id.to_owned(),
                kind,
                capabilities: Capability::for_kind(kind, provider),
            });
        };
        for (provider, models) in CONVERSATIONAL_MODELS {
            for (name, id) in *models {
                push(parse_builtin(provider), ModelKind::Conversational, name, id);
            }
        }
        for model in openai_compatible_models {
            let model = model.as_ref().trim();
            if !model.is_empty() {
                push(Provider::OpenaiCompatible, ModelKind::Conversational, model, model);
            }
        }
        for (kind, models) in GENERATION_MODELS {
            let kind = if *kind == "image" { ModelKind::Image } else { ModelKind::Video };
            for (name, endpoint) in *models {
                push(Provider::Sagemaker, kind, name, endpoint);
            }
        }
        for (provider, models) in EMBEDDING_MODELS {
            for (name, id) in *models {
                push(parse_builtin(provider), ModelKind::Embedding, name, id);
            }
        }
        Self { entries }
    }

    /// The built-in catalog alone.
    pub fn builtin() -> Self {
        Self::new::<&str>(&[])
    }

    /// Every entry, conversational models first, in seed order.
    pub fn entries(&self) -> &[ModelEntry] {
        &self.entries
    }

    /// The entry for `provider` and model name, if any.
    pub fn get(&self, provider: Provider, name: &str) -> Option<&ModelEntry> {
        self.entries.iter().find(|e| e.provider == provider && e.name == name)
    }

    /// Parses `provider/name` and finds its entry; the error lists the allowed choices.
    pub fn resolve_key(&self, key: &str) -> Result<&ModelEntry, ModelSelectionError> {
        let (provider, name) = key.split_once('/').ok_or_else(|| ModelSelectionError::MalformedKey {
            key: key.to_owned(),
            allowed: self.entries.iter().map(ModelEntry::key).collect(),
        })?;
        self.resolve(provider, name, None)
    }

    /// Finds the entry for a provider and model name given as text, optionally of one kind.
    /// Unknown providers and models are errors listing what is allowed.
    pub fn resolve(
        &self,
        provider: &str,
        name: &str,
        kind: Option<ModelKind>,
    ) -> Result<&ModelEntry, ModelSelectionError> {
        let provider: Provider = provider.parse()?;
        let candidates: Vec<&ModelEntry> =
            self.entries.iter().filter(|e| e.provider == provider && kind.is_none_or(|k| e.kind == k)).collect();
        candidates.iter().copied().find(|e| e.name == name).ok_or_else(|| ModelSelectionError::UnknownModel {
            provider: provider.as_str().to_owned(),
            model: name.to_owned(),
            kind: kind.map(|k| k.as_str().to_owned()),
            allowed: candidates.iter().map(|e| e.name.clone()).collect(),
        })
    }

    /// The entries of one kind.
    pub fn of_kind(&self, kind: ModelKind) -> impl Iterator<Item = &ModelEntry> {
        self.entries.iter().filter(move |e| e.kind == kind)
    }
}

fn parse_builtin(provider: &str) -> Provider {
    Provider::ALL.into_iter().find(|p| p.as_str() == provider).unwrap_or(Provider::Local)
}

/// A user's conversational model choice (seed 000 `UserModelPreference`). Image and video models
/// are fixed (Qwen-Image and Wan2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserModelPreference {
    /// Provider, e.g. `gemini`, `bedrock`, `openai_compatible`, `local`.
    pub conversational_provider: String,
    /// Model name as the catalog spells it, e.g. `gemini-2.5-flash`.
    pub conversational_model: String,
}

impl UserModelPreference {
    /// A preference for `provider` and `model`, not yet validated.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self { conversational_provider: provider.into(), conversational_model: model.into() }
    }

    /// The default preference given which providers are configured (`configured(p)` is true when
    /// provider `p` can be called): Gemini's `gemini-2.5-flash` (the seed's default) when Gemini
    /// is configured, else Bedrock's `claude-4.5-sonnet`, else the first model of the
    /// OpenAI-compatible server, else the embedded `smollm2-135m-instruct`, which needs no cloud.
    pub fn default_for(catalog: &ModelCatalog, configured: impl Fn(Provider) -> bool) -> Self {
        let preferred = [
            (Provider::Gemini, Some("gemini-2.5-flash")),
            (Provider::Bedrock, Some("claude-4.5-sonnet")),
            (Provider::OpenaiCompatible, None),
        ];
        for (provider, name) in preferred {
            if !configured(provider) {
                continue;
            }
            let entry = match name {
                Some(name) => catalog.get(provider, name),
                None => catalog.of_kind(ModelKind::Conversational).find(|e| e.provider == provider),
            };
            if let Some(entry) = entry {
                return Self::new(provider.as_str(), entry.name.clone());
            }
        }
        Self::new(Provider::Local.as_str(), "smollm2-135m-instruct")
    }

    /// Checks the preference against the catalog (Property 7) and returns the chosen entry: an
    /// unknown provider, or a model that is not one of the provider's conversational models, is
    /// an error listing the allowed choices.
    pub fn validate<'c>(&self, catalog: &'c ModelCatalog) -> Result<&'c ModelEntry, ModelSelectionError> {
        catalog.resolve(&self.conversational_provider, &self.conversational_model, Some(ModelKind::Conversational))
    }
}

/// A provider or model that is not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelSelectionError {
    /// The provider is unknown.
    #[error("unknown model provider `{provider}`; allowed providers: {}", list(.allowed))]
    UnknownProvider {
        /// What was asked for.
        provider: String,
        /// The providers AAE knows.
        allowed: Vec<String>,
    },
    /// The provider is known but has no such model (of the requested kind).
    #[error("unknown {}model `{model}` for provider `{provider}`; allowed models: {}", kind_prefix(.kind), list(.allowed))]
    UnknownModel {
        /// The provider.
        provider: String,
        /// What was asked for.
        model: String,
        /// The kind that was required, if any.
        kind: Option<String>,
        /// The provider's models of that kind.
        allowed: Vec<String>,
    },
    /// A `provider/model` key without a slash.
    #[error("`{key}` must look like provider/model; allowed: {}", list(.allowed))]
    MalformedKey {
        /// What was given.
        key: String,
        /// Every `provider/model` key.
        allowed: Vec<String>,
    },
}

fn list(allowed: &[String]) -> String {
    if allowed.is_empty() { "none configured".to_owned() } else { allowed.join(", ") }
}

fn kind_prefix(kind: &Option<String>) -> String {
    kind.as_deref().map(|k| format!("{k} ")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_seed_models_with_their_ids() {
        let catalog = ModelCatalog::new(&["llama3"]);
        let claude = catalog.get(Provider::Bedrock, "claude-4.5-sonnet").unwrap();
        assert_eq!(claude.model_id, "anthropic.claude-sonnet-4-20250514-v1:0");
        assert_eq!(catalog.get(Provider::Sagemaker, "wan2.2").unwrap().model_id, "sagemaker-endpoint-wan-video");
        assert_eq!(catalog.get(Provider::OpenaiCompatible, "llama3").unwrap().kind, ModelKind::Conversational);
        assert!(catalog.get(Provider::Local, "all-minilm-l6-v2").unwrap().has(Capability::Embeddings));
        let keys: std::collections::HashSet<String> = catalog.entries().iter().map(ModelEntry::key).collect();
        assert_eq!(keys.len(), catalog.entries().len(), "keys are unique");
    }

    #[test]
    fn unknown_choices_list_the_allowed_ones() {
        let catalog = ModelCatalog::builtin();
        let err = UserModelPreference::new("openai", "gpt-4").validate(&catalog).unwrap_err().to_string();
        assert!(err.contains("unknown model provider `openai`"), "{err}");
        assert!(err.contains("gemini, bedrock, sagemaker, openai_compatible, local"), "{err}");
        let err = UserModelPreference::new("bedrock", "claude-3").validate(&catalog).unwrap_err().to_string();
        assert!(err.contains("claude-4.5-sonnet, qwen3, nova-2-lite"), "{err}");
        let err = UserModelPreference::new("sagemaker", "qwen-image").validate(&catalog).unwrap_err().to_string();
        assert!(err.contains("unknown conversational model `qwen-image`"), "{err}");
        assert!(err.contains("none configured"), "{err}");
    }

    #[test]
    fn default_follows_what_is_configured() {
        let catalog = ModelCatalog::new(&["qwen2.5:7b"]);
        let local = UserModelPreference::default_for(&catalog, |_| false);
        assert_eq!(local, UserModelPreference::new("local", "smollm2-135m-instruct"));
        assert!(local.validate(&catalog).is_ok());
        let openai = UserModelPreference::default_for(&catalog, |p| p == Provider::OpenaiCompatible);
        assert_eq!(openai, UserModelPreference::new("openai_compatible", "qwen2.5:7b"));
        let gemini = UserModelPreference::default_for(&catalog, |_| true);
        assert_eq!(gemini, UserModelPreference::new("gemini", "gemini-2.5-flash"));
    }
}
