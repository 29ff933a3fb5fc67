//! The chat-completions wire format: request bodies and the parts of replies AAE reads.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::types::{ChatRequest, Message, StopReason, ToolCall, ToolChoice, Usage};

/// The body of `POST {base}/chat/completions`. `tool_choice` is sent with tools only, and not for
/// [`ToolChoice::Auto`], the servers' default.
pub(crate) fn chat_body(model_id: &str, request: &ChatRequest, stream: bool) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = json!({ "model": model_id, "messages": messages, "stream": stream });
    if stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(max_tokens) = request.max_tokens {
        body["max_tokens"] = json!(max_tokens);
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters }})
            })
            .collect();
        body["tools"] = Value::Array(tools);
        match &request.tool_choice {
            ToolChoice::Auto => {}
            ToolChoice::None => body["tool_choice"] = json!("none"),
            ToolChoice::Required => body["tool_choice"] = json!("required"),
            ToolChoice::Tool(name) => {
                body["tool_choice"] = json!({"type": "function", "function": {"name": name}});
            }
        }
    }
    if let Some(format) = &request.response_format {
        body["response_format"] = json!({"type": "json_schema", "json_schema": {
            "name": format.name, "schema": format.schema, "strict": true }});
    }
    body
}

fn message(message: &Message) -> Value {
    match message {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": content}),
        Message::Assistant { content, tool_calls } => {
            let mut value = json!({"role": "assistant", "content": content});
            if !tool_calls.is_empty() {
                if content.is_empty() {
                    value["content"] = Value::Null;
                }
                value["tool_calls"] = tool_calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function", "function": {
                            "name": c.name, "arguments": c.arguments.to_string() }})
                    })
                    .collect();
            }
            value
        }
        Message::Tool { tool_call_id, content, .. } => {
            json!({"role": "tool", "tool_call_id": tool_call_id, "content": content})
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Completion {
    #[serde(default)]
    pub choices: Vec<Choice>,
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    pub message: Option<ReplyMessage>,
    pub delta: Option<ReplyMessage>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReplyMessage {
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<WireToolCall>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireToolCall {
    #[serde(default)]
    pub index: Option<usize>,
    pub id: Option<String>,
    pub function: Option<WireFunction>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFunction {
    pub name: Option<String>,
    pub arguments: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Self {
        Usage { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens }
    }
}

pub(crate) fn stop_reason(finish_reason: Option<&str>) -> StopReason {
    match finish_reason {
        None | Some("stop") => StopReason::EndTurn,
        Some("length") => StopReason::MaxTokens,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        Some("content_filter") => StopReason::ContentFilter,
        Some(other) => StopReason::Other(other.to_owned()),
    }
}

/// Parses a tool call's JSON arguments (an empty string is `{}`).
pub(crate) fn tool_call(
    provider: &str,
    model: &str,
    id: String,
    name: String,
    arguments: &str,
) -> ModelResult<ToolCall> {
    let arguments = if arguments.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(arguments).map_err(|e| {
            ModelError::new(
                ModelErrorKind::InvalidResponse,
                provider,
                model,
                format!("arguments of tool call `{name}` are not JSON: {e}"),
            )
        })?
    };
    Ok(ToolCall { id, name, arguments })
}

#[derive(Debug, Deserialize)]
pub(crate) struct Embeddings {
    pub data: Vec<EmbeddingItem>,
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingItem {
    #[serde(default)]
    pub index: usize,
    pub embedding: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ToolDefinition;

    #[test]
    fn tool_choice_is_sent_with_tools_in_openai_form() {
        let tool = ToolDefinition { name: "get_weather".into(), description: String::new(), parameters: json!({}) };
        let body = |tools: Vec<ToolDefinition>, tool_choice| {
            chat_body("m", &ChatRequest { tools, tool_choice, ..ChatRequest::user("hi") }, false)
        };
        let with_tools = |choice| body(vec![tool.clone()], choice).get("tool_choice").cloned();
        assert_eq!(with_tools(ToolChoice::Auto), None);
        assert_eq!(with_tools(ToolChoice::None), Some(json!("none")));
        assert_eq!(with_tools(ToolChoice::Required), Some(json!("required")));
        assert_eq!(
            with_tools(ToolChoice::Tool("get_weather".into())),
            Some(json!({"type": "function", "function": {"name": "get_weather"}}))
        );
        let without = body(Vec::new(), ToolChoice::None);
        assert!(without.get("tool_choice").is_none() && without.get("tools").is_none(), "{without}");
    }
}
