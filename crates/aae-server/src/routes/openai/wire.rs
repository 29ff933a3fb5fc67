//! The OpenAI chat-completions, models and embeddings wire format, and its translation to and
//! from `aae-models`' provider-neutral types. Fields AAE does not use (`top_p`, `seed`,
//! `presence_penalty`, `user`, …) are accepted and ignored, as other OpenAI-compatible servers
//! do; the ones it cannot honour (`n` > 1, image parts) are refused with a message.

use aae_models::{
    ChatRequest, ChatResponse, JsonSchemaFormat, Message, StopReason, ToolCall, ToolChoice, ToolDefinition, Usage,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::GatewayError;

/// `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub struct ChatCompletionRequest {
    /// A catalog name (`claude-4.5-sonnet`), `provider/name`, or `default` (the caller's
    /// preference).
    pub model: String,
    /// The conversation.
    pub messages: Vec<WireMessage>,
    /// Answer as Server-Sent Events.
    #[serde(default)]
    pub stream: bool,
    /// `include_usage`: a last chunk with the usage.
    pub stream_options: Option<StreamOptions>,
    /// Functions the model may call.
    pub tools: Option<Vec<WireTool>>,
    /// `auto`, `none`, `required` or `{"type": "function", "function": {"name": …}}`.
    pub tool_choice: Option<Value>,
    /// Sampling temperature, 0 to 2.
    pub temperature: Option<f32>,
    /// Most tokens to generate (deprecated spelling).
    pub max_tokens: Option<u32>,
    /// Most tokens to generate.
    pub max_completion_tokens: Option<u32>,
    /// A stop sequence or a list of up to 4.
    pub stop: Option<Stop>,
    /// `text`, `json_object` or `json_schema`.
    pub response_format: Option<ResponseFormat>,
    /// Number of choices; only 1 is served.
    pub n: Option<u32>,
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk carrying `usage`.
    #[serde(default)]
    pub include_usage: bool,
}

/// `stop`: one string or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One sequence.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// `response_format`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Plain text (the default).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// The schema and its name.
        json_schema: WireJsonSchema,
    },
}

/// `response_format.json_schema`.
#[derive(Debug, Deserialize)]
pub struct WireJsonSchema {
    /// The schema's name.
    pub name: String,
    /// The JSON Schema.
    pub schema: Option<Value>,
}

/// One message of the conversation.
#[derive(Debug, Deserialize)]
pub struct WireMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text, or a list of parts (text parts only).
    pub content: Option<Content>,
    /// The calls an assistant message made.
    pub tool_calls: Option<Vec<WireToolCall>>,
    /// The call a `tool` message answers.
    pub tool_call_id: Option<String>,
}

/// `content`: a string or a list of parts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Parts.
    Parts(Vec<Value>),
}

/// A function the model may call.
#[derive(Debug, Deserialize)]
pub struct WireTool {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: WireFunction,
}

/// A function's declaration.
#[derive(Debug, Deserialize)]
pub struct WireFunction {
    /// Name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Option<Value>,
}

/// A tool call, as in assistant messages and replies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireToolCall {
    /// The call's id.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// The function and its arguments as JSON text.
    pub function: WireCalledFunction,
}

fn function_type() -> String {
    "function".to_owned()
}

/// The function of a tool call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireCalledFunction {
    /// Name.
    pub name: String,
    /// Arguments, JSON text.
    pub arguments: String,
}

impl From<&ToolCall> for WireToolCall {
    fn from(call: &ToolCall) -> Self {
        Self {
            id: call.id.clone(),
            kind: function_type(),
            function: WireCalledFunction { name: call.name.clone(), arguments: call.arguments.to_string() },
        }
    }
}

/// The request's `max_completion_tokens` (or `max_tokens`).
impl ChatCompletionRequest {
    /// Translates the request into the router's, checking what the router cannot take.
    pub fn to_chat_request(&self) -> Result<ChatRequest, GatewayError> {
        if let Some(n) = self.n
            && n != 1
        {
            return Err(GatewayError::invalid("n", format!("only n = 1 is supported, not {n}")));
        }
        if self.messages.is_empty() {
            return Err(GatewayError::invalid("messages", "messages must hold at least one message"));
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(GatewayError::invalid("temperature", format!("temperature must be between 0 and 2, not {t}")));
        }
        let messages = messages(&self.messages)?;
        let tools = match &self.tools {
            None => Vec::new(),
            Some(tools) => tools.iter().enumerate().map(|(i, t)| tool(i, t)).collect::<Result<_, _>>()?,
        };
        let tool_choice = match &self.tool_choice {
            None => ToolChoice::Auto,
            Some(value) => tool_choice(value)?,
        };
        if let ToolChoice::Tool(name) = &tool_choice
            && !tools.iter().any(|t: &ToolDefinition| &t.name == name)
        {
            return Err(GatewayError::invalid(
                "tool_choice",
                format!("tool_choice names function `{name}`, which is not among tools"),
            ));
        }
        if tools.is_empty() && matches!(tool_choice, ToolChoice::Required | ToolChoice::Tool(_)) {
            return Err(GatewayError::invalid("tool_choice", "tool_choice requires a tool, but tools is empty"));
        }
        let stop = match &self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(list)) if list.len() <= 4 => list.clone(),
            Some(Stop::Many(list)) => {
                return Err(GatewayError::invalid("stop", format!("at most 4 stop sequences, not {}", list.len())));
            }
        };
        let response_format = match &self.response_format {
            None | Some(ResponseFormat::Text) => None,
            Some(ResponseFormat::JsonObject) => {
                Some(JsonSchemaFormat { name: "json_object".to_owned(), schema: json!({"type": "object"}) })
            }
            Some(ResponseFormat::JsonSchema { json_schema }) => Some(JsonSchemaFormat {
                name: json_schema.name.clone(),
                schema: json_schema.schema.clone().unwrap_or_else(|| json!({"type": "object"})),
            }),
        };
        Ok(ChatRequest {
            messages,
            tools,
            tool_choice,
            temperature: self.temperature,
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            stop,
            response_format,
        })
    }
}

fn text(content: &Option<Content>, index: usize) -> Result<String, GatewayError> {
    match content {
        None => Ok(String::new()),
        Some(Content::Text(text)) => Ok(text.clone()),
        Some(Content::Parts(parts)) => {
            let mut out = String::new();
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => out.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default()),
                    other => {
                        return Err(GatewayError::invalid(
                            &format!("messages[{index}].content"),
                            format!(
                                "content parts of type {} are not supported; send text parts only",
                                other.map_or_else(|| "(none)".to_owned(), |t| format!("`{t}`"))
                            ),
                        ));
                    }
                }
            }
            Ok(out)
        }
    }
}

fn messages(wire: &[WireMessage]) -> Result<Vec<Message>, GatewayError> {
    let mut out = Vec::with_capacity(wire.len());
    for (index, message) in wire.iter().enumerate() {
        let content = text(&message.content, index)?;
        let converted = match message.role.as_str() {
            "system" | "developer" => Message::System { content },
            "user" => Message::User { content },
            "assistant" => {
                let calls = message.tool_calls.as_deref().unwrap_or_default();
                let tool_calls = calls
                    .iter()
                    .map(|call| {
                        let arguments = if call.function.arguments.trim().is_empty() {
                            json!({})
                        } else {
                            serde_json::from_str(&call.function.arguments).map_err(|e| {
                                GatewayError::invalid(
                                    &format!("messages[{index}].tool_calls"),
                                    format!("the arguments of call `{}` are not JSON: {e}", call.id),
                                )
                            })?
                        };
                        Ok(ToolCall { id: call.id.clone(), name: call.function.name.clone(), arguments })
                    })
                    .collect::<Result<Vec<_>, GatewayError>>()?;
                Message::Assistant { content, tool_calls }
            }
            "tool" => {
                let id = message.tool_call_id.clone().ok_or_else(|| {
                    GatewayError::invalid(
                        &format!("messages[{index}].tool_call_id"),
                        "a tool message needs the tool_call_id of the call it answers",
                    )
                })?;
                // Gemini matches results by function name: find the call this answers.
                let name = out
                    .iter()
                    .rev()
                    .find_map(|m: &Message| match m {
                        Message::Assistant { tool_calls, .. } => {
                            tool_calls.iter().find(|c| c.id == id).map(|c| c.name.clone())
                        }
                        _ => None,
                    })
                    .ok_or_else(|| {
                        GatewayError::invalid(
                            &format!("messages[{index}].tool_call_id"),
                            format!("no earlier assistant message made the tool call `{id}`"),
                        )
                    })?;
                Message::Tool { tool_call_id: id, name, content }
            }
            other => {
                return Err(GatewayError::invalid(
                    &format!("messages[{index}].role"),
                    format!("unknown role `{other}`; use system, developer, user, assistant or tool"),
                ));
            }
        };
        out.push(converted);
    }
    Ok(out)
}

fn tool(index: usize, tool: &WireTool) -> Result<ToolDefinition, GatewayError> {
    if tool.kind != "function" {
        return Err(GatewayError::invalid(
            &format!("tools[{index}].type"),
            format!("only function tools are supported, not `{}`", tool.kind),
        ));
    }
    let name = &tool.function.name;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(GatewayError::invalid(
            &format!("tools[{index}].function.name"),
            format!("`{name}` is not a valid function name: 1 to 64 of a-z, A-Z, 0-9, _ and -"),
        ));
    }
    Ok(ToolDefinition {
        name: name.clone(),
        description: tool.function.description.clone(),
        parameters: tool.function.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    })
}

fn tool_choice(value: &Value) -> Result<ToolChoice, GatewayError> {
    match value {
        Value::String(s) if s == "auto" => Ok(ToolChoice::Auto),
        Value::String(s) if s == "none" => Ok(ToolChoice::None),
        Value::String(s) if s == "required" => Ok(ToolChoice::Required),
        Value::Object(object) => object
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Tool(name.to_owned()))
            .ok_or_else(|| {
                GatewayError::invalid(
                    "tool_choice",
                    "an object tool_choice must be {\"type\": \"function\", \"function\": {\"name\": …}}",
                )
            }),
        _ => Err(GatewayError::invalid("tool_choice", "tool_choice must be auto, none, required or a function object")),
    }
}

/// OpenAI's `finish_reason` for a stop reason.
pub fn finish_reason(reason: &StopReason, has_tool_calls: bool) -> &'static str {
    match reason {
        StopReason::ToolUse => "tool_calls",
        _ if has_tool_calls => "tool_calls",
        StopReason::MaxTokens => "length",
        StopReason::ContentFilter => "content_filter",
        StopReason::EndTurn | StopReason::StopSequence | StopReason::Other(_) => "stop",
    }
}

/// `usage`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WireUsage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
}

impl From<Usage> for WireUsage {
    fn from(usage: Usage) -> Self {
        Self {
            prompt_tokens: usage.input_tokens,
            completion_tokens: usage.output_tokens,
            total_tokens: usage.input_tokens + usage.output_tokens,
        }
    }
}

/// A `chat.completion` object.
#[derive(Debug, Serialize)]
pub struct ChatCompletion<'a> {
    /// `chatcmpl-…`.
    pub id: &'a str,
    /// `chat.completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// The model that answered.
    pub model: &'a str,
    /// One choice.
    pub choices: [Choice; 1],
    /// Token counts.
    pub usage: WireUsage,
    /// Not tracked.
    pub system_fingerprint: Option<String>,
}

/// The one choice of a completion.
#[derive(Debug, Serialize)]
pub struct Choice {
    /// 0.
    pub index: u32,
    /// The assistant's message.
    pub message: AssistantMessage,
    /// Why it stopped.
    pub finish_reason: &'static str,
    /// Not provided.
    pub logprobs: Option<Value>,
}

/// The assistant's message of a reply.
#[derive(Debug, Serialize)]
pub struct AssistantMessage {
    /// `assistant`.
    pub role: &'static str,
    /// The text; `null` when the turn only called tools.
    pub content: Option<String>,
    /// Tool calls, when any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall>,
    /// Never set.
    pub refusal: Option<String>,
}

impl<'a> ChatCompletion<'a> {
    /// The completion object of a reply.
    pub fn new(id: &'a str, created: i64, model: &'a str, response: &ChatResponse) -> Self {
        let has_calls = !response.tool_calls.is_empty();
        let content = if response.content.is_empty() && has_calls { None } else { Some(response.content.clone()) };
        Self {
            id,
            object: "chat.completion",
            created,
            model,
            choices: [Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content,
                    tool_calls: response.tool_calls.iter().map(WireToolCall::from).collect(),
                    refusal: None,
                },
                finish_reason: finish_reason(&response.stop_reason, has_calls),
                logprobs: None,
            }],
            usage: response.usage.into(),
            system_fingerprint: None,
        }
    }
}

/// `POST /v1/embeddings`.
#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest {
    /// An embedding model of the catalog.
    pub model: String,
    /// One text or a list of texts.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64` (little-endian f32).
    pub encoding_format: Option<String>,
    /// Not supported; refused unless it equals the model's size.
    pub dimensions: Option<u32>,
}

/// `input`: one text, several, or token arrays (refused).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several.
    Many(Vec<String>),
    /// Token ids (not supported).
    Tokens(Value),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<ChatRequest, GatewayError> {
        serde_json::from_value::<ChatCompletionRequest>(body).expect("shape").to_chat_request()
    }

    #[test]
    fn a_full_request_translates() {
        let request = parse(json!({
            "model": "m",
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "weather "}, {"type": "text", "text": "in Oslo?"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "{\"celsius\": -3}"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "weather"}},
            "max_tokens": 10, "max_completion_tokens": 20, "stop": "END", "temperature": 0.5,
            "response_format": {"type": "json_schema", "json_schema": {"name": "ad", "schema": {"type": "object"}}},
            "top_p": 0.9, "seed": 3, "user": "ignored"
        }))
        .expect("valid");
        assert_eq!(request.messages[0], Message::system("be brief"));
        assert_eq!(request.messages[1], Message::user("weather in Oslo?"));
        let Message::Tool { name, .. } = &request.messages[3] else { panic!("tool message") };
        assert_eq!(name, "weather");
        assert_eq!(request.tool_choice, ToolChoice::Tool("weather".into()));
        assert_eq!((request.max_tokens, request.stop.clone()), (Some(20), vec!["END".to_owned()]));
        assert_eq!(request.response_format.expect("format").name, "ad");
    }

    #[test]
    fn what_cannot_be_served_is_refused_with_the_parameter() {
        let cases = [
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}), "n"),
            (json!({"model": "m", "messages": []}), "messages"),
            (json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}), "messages[0].role"),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}),
                "messages[0].content",
            ),
            (
                json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "zz", "content": "x"}]}),
                "messages[0].tool_call_id",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}),
                "tool_choice",
            ),
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}), "temperature"),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]}),
                "stop",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "bad name"}}]}),
                "tools[0].function.name",
            ),
        ];
        for (body, param) in cases {
            let error = parse(body.clone()).expect_err(&body.to_string());
            assert_eq!(error.param.as_deref(), Some(param), "{body}: {}", error.message);
        }
    }

    #[test]
    fn replies_use_openai_finish_reasons_and_null_content_for_pure_tool_calls() {
        let response = ChatResponse {
            content: String::new(),
            tool_calls: vec![ToolCall { id: "c".into(), name: "f".into(), arguments: json!({"a": 1}) }],
            usage: Usage { input_tokens: 3, output_tokens: 4 },
            stop_reason: StopReason::EndTurn,
        };
        let body = serde_json::to_value(ChatCompletion::new("chatcmpl-1", 1, "m", &response)).expect("json");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(body["usage"]["total_tokens"], 7);
        assert_eq!(finish_reason(&StopReason::MaxTokens, false), "length");
    }
}
