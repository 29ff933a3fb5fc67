//! Provider-neutral request and response types: chat messages, tools, tool calls, the unified
//! stream event, embeddings, images and video jobs.

use std::pin::Pin;

use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ModelError, ModelErrorKind, ModelResult};

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// Instructions for the model.
    System {
        /// Text.
        content: String,
    },
    /// What the user said.
    User {
        /// Text.
        content: String,
    },
    /// What the model said before: text and/or the tool calls it made.
    Assistant {
        /// Text, possibly empty when the turn only called tools.
        content: String,
        /// Tool calls the model made in this turn.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call.
    Tool {
        /// The id of the call it answers.
        tool_call_id: String,
        /// The tool's name (Gemini matches results by name).
        name: String,
        /// The result, usually JSON text.
        content: String,
    },
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::System { content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::User { content: content.into() }
    }

    /// An assistant message with text only.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::Assistant { content: content.into(), tool_calls: Vec::new() }
    }

    /// A tool result.
    pub fn tool_result(call: &ToolCall, content: impl Into<String>) -> Self {
        Self::Tool { tool_call_id: call.id.clone(), name: call.name.clone(), content: content.into() }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// Name, `[a-zA-Z0-9_-]{1,64}`.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments (an object schema).
    pub parameters: Value,
}

/// One complete tool call made by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's call id (generated when the provider has none, as Gemini).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Parsed JSON arguments.
    pub arguments: Value,
}

/// Output constrained to a JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// A name for the schema (OpenAI requires one).
    pub name: String,
    /// The JSON Schema the reply must match.
    pub schema: Value,
}

/// Which tools the model may or must call (OpenAI's `tool_choice`). Serialised as `"auto"`,
/// `"none"`, `"required"` or `{"tool": NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides whether to call tools (and which).
    #[default]
    Auto,
    /// The model must not call tools; it answers.
    None,
    /// The model must call at least one of the request's tools.
    Required,
    /// The model must call the named tool, one of the request's tools.
    Tool(String),
}

/// A chat request, independent of the model it goes to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(default)]
    pub tools: Vec<ToolDefinition>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Most tokens to generate.
    pub max_tokens: Option<u32>,
    /// Sequences that end generation.
    #[serde(default)]
    pub stop: Vec<String>,
    /// Structured output: the reply is JSON matching this schema.
    pub response_format: Option<JsonSchemaFormat>,
    /// Which of `tools` the model may or must call ([`ToolChoice::Auto`] by default).
    #[serde(default)]
    pub tool_choice: ToolChoice,
}

impl ChatRequest {
    /// A request with one user message.
    pub fn user(prompt: impl Into<String>) -> Self {
        Self { messages: vec![Message::user(prompt)], ..Self::default() }
    }

    /// Checks `tool_choice` against `tools`: [`ToolChoice::Required`] needs at least one tool and
    /// [`ToolChoice::Tool`] one of that name. Every provider calls it before sending anything; the
    /// error is an invalid request of `provider`/`model`.
    pub fn validate_tool_choice(&self, provider: &str, model: &str) -> ModelResult<()> {
        let problem = match &self.tool_choice {
            ToolChoice::Auto | ToolChoice::None => return Ok(()),
            ToolChoice::Required if self.tools.is_empty() => {
                "tool_choice is `required` but the request has no tools".to_owned()
            }
            ToolChoice::Required => return Ok(()),
            ToolChoice::Tool(name) if self.tools.iter().any(|tool| &tool.name == name) => return Ok(()),
            ToolChoice::Tool(name) => {
                format!("tool_choice names tool `{name}`, which is not among the request's tools")
            }
        };
        Err(ModelError::new(ModelErrorKind::InvalidRequest, provider, model, problem))
    }

    /// A rough token estimate (4 characters a token) of the prompt plus `max_tokens`, used by the
    /// tokens-per-minute bucket before the provider reports real counts.
    pub fn estimated_tokens(&self) -> u64 {
        self.estimated_prompt_tokens() + u64::from(self.max_tokens.unwrap_or(256))
    }

    /// A rough token estimate (4 characters a token) of the prompt alone.
    pub fn estimated_prompt_tokens(&self) -> u64 {
        let chars: usize = self
            .messages
            .iter()
            .map(|m| match m {
                Message::System { content } | Message::User { content } => content.len(),
                Message::Assistant { content, tool_calls } => {
                    content.len() + tool_calls.iter().map(|c| c.arguments.to_string().len()).sum::<usize>()
                }
                Message::Tool { content, .. } => content.len(),
            })
            .sum();
        (chars as u64).div_ceil(4)
    }
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model finished its turn.
    EndTurn,
    /// `max_tokens` was reached.
    MaxTokens,
    /// A stop sequence was produced.
    StopSequence,
    /// The model called tools and waits for their results.
    ToolUse,
    /// A safety filter stopped it.
    ContentFilter,
    /// Anything else, as the provider spelled it.
    Other(String),
}

/// A complete (non-streamed) reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The text.
    pub content: String,
    /// Tool calls, complete.
    pub tool_calls: Vec<ToolCall>,
    /// Token counts.
    pub usage: Usage,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

/// One event of the unified chat stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// A piece of text.
    TextDelta {
        /// The new text.
        text: String,
    },
    /// A tool call, complete: assembled from all its streamed fragments.
    ToolCall {
        /// The call.
        call: ToolCall,
    },
    /// Token counts (usually once, near the end).
    Usage {
        /// Counts.
        usage: Usage,
    },
    /// Generation ended; always the last event of a successful stream.
    Stop {
        /// Why.
        reason: StopReason,
    },
}

/// The unified chat stream: events until `Stop`, or an error.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ModelError>> + Send>>;

/// Collects a stream into a [`ChatResponse`].
pub async fn collect_stream(mut stream: ChatStream) -> Result<ChatResponse, ModelError> {
    use futures::StreamExt;
    let mut response = ChatResponse {
        content: String::new(),
        tool_calls: Vec::new(),
        usage: Usage::default(),
        stop_reason: StopReason::EndTurn,
    };
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::TextDelta { text } => response.content.push_str(&text),
            StreamEvent::ToolCall { call } => response.tool_calls.push(call),
            StreamEvent::Usage { usage } => response.usage = usage,
            StreamEvent::Stop { reason } => response.stop_reason = reason,
        }
    }
    Ok(response)
}

/// Texts to embed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// One vector per input, in order.
    pub inputs: Vec<String>,
}

/// Embedding vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// One vector per input, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Input tokens, when the provider reports them.
    pub usage: Usage,
}

/// An image to generate (seed 000 Qwen-Image input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRequest {
    /// What to draw.
    pub prompt: String,
    /// What to avoid.
    pub negative_prompt: Option<String>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Seed for reproducible output.
    pub seed: Option<u64>,
    /// Diffusion steps.
    pub steps: Option<u32>,
}

/// A generated image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageOutput {
    /// Encoded bytes.
    pub bytes: Vec<u8>,
    /// MIME type, e.g. `image/png`.
    pub content_type: String,
}

/// A video to generate (Wan2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoRequest {
    /// What to show.
    pub prompt: String,
    /// Length in seconds.
    pub seconds: u32,
}

/// A started video generation job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoJob {
    /// The provider's handle to poll (e.g. an output location).
    pub id: String,
}

/// The state of a video job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum VideoStatus {
    /// Still running.
    Pending,
    /// Done.
    Done {
        /// The video.
        output: VideoOutput,
    },
    /// The provider reported a failure.
    Failed {
        /// Its reason.
        message: String,
    },
}

/// A generated video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoOutput {
    /// Encoded bytes (MP4).
    pub bytes: Vec<u8>,
    /// MIME type, e.g. `video/mp4`.
    pub content_type: String,
    /// Duration in seconds.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str) -> ToolDefinition {
        ToolDefinition { name: name.to_owned(), description: String::new(), parameters: json!({"type": "object"}) }
    }

    #[test]
    fn tool_choice_serialises_as_openai_spells_it_and_defaults_to_auto() {
        let forms = [
            (ToolChoice::Auto, json!("auto")),
            (ToolChoice::None, json!("none")),
            (ToolChoice::Required, json!("required")),
            (ToolChoice::Tool("get_weather".into()), json!({"tool": "get_weather"})),
        ];
        for (choice, form) in forms {
            assert_eq!(serde_json::to_value(&choice).unwrap(), form);
            assert_eq!(serde_json::from_value::<ToolChoice>(form).unwrap(), choice);
        }
        let request: ChatRequest = serde_json::from_value(json!({"messages": []})).unwrap();
        assert_eq!(request.tool_choice, ToolChoice::Auto);
    }

    #[test]
    fn a_tool_choice_must_name_one_of_the_tools() {
        let with =
            |tools: Vec<ToolDefinition>, tool_choice| ChatRequest { tools, tool_choice, ..ChatRequest::user("hi") };
        let valid = [
            with(Vec::new(), ToolChoice::Auto),
            with(Vec::new(), ToolChoice::None),
            with(vec![tool("a")], ToolChoice::Required),
            with(vec![tool("a"), tool("b")], ToolChoice::Tool("b".into())),
        ];
        for request in valid {
            assert!(request.validate_tool_choice("p", "m").is_ok(), "{:?}", request.tool_choice);
        }
        let error = with(vec![tool("a")], ToolChoice::Tool("b".into())).validate_tool_choice("p", "m").unwrap_err();
        assert_eq!(error.kind, ModelErrorKind::InvalidRequest);
        assert_eq!(
            error.to_string(),
            "invalid request p/m: tool_choice names tool `b`, which is not among the request's tools"
        );
        let error = with(Vec::new(), ToolChoice::Required).validate_tool_choice("p", "m").unwrap_err();
        assert_eq!(error.kind, ModelErrorKind::InvalidRequest);
        assert!(!error.is_retryable());
    }
}
