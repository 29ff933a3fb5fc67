//! Tools and structured output for the embedded model, by constrained decoding.
//!
//! A request with tools is answered with one JSON object, forced by a schema: either
//! `{"tool": NAME, "arguments": {…}}` (arguments matching that tool's schema) or
//! `{"answer": "…"}`. The tools are described in the system prompt so the model knows what the
//! names mean. Earlier tool calls are shown to the model in the same JSON form and tool results
//! as user turns, because SmolLM2's chat template has no tool role. A request with a response
//! format is constrained to its schema directly.
//!
//! `tool_choice` picks the branches: `Auto` all tools and the answer, `Required` the tools
//! only, `Tool(name)` that tool only (and only it is described), `None` no tool branch: the
//! request is planned as if it had no tools (free text, or its response format).

use aae_local::{ChatMessage, ChatOutput, Constraint};
use serde_json::{Value, json};

use super::{NAME, stop_reason, usage};
use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::types::{ChatRequest, ChatResponse, Message, StopReason, ToolCall, ToolChoice, ToolDefinition};

/// What the reply must look like.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// Free text.
    Text,
    /// JSON matching the response format.
    Json,
    /// A tool call or an answer, as JSON.
    Tools,
}

/// How one request is put to the local model and how its reply is read back.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) messages: Vec<aae_local::ChatMessage>,
    pub(super) constraint: Option<Constraint>,
    mode: Mode,
}

/// The plan for `request`; an error names what the local model cannot do with it.
pub(super) fn plan(request: &ChatRequest) -> Result<Plan, String> {
    if request.messages.is_empty() {
        return Err("the request has no messages".to_owned());
    }
    let offered: Vec<&ToolDefinition> = match &request.tool_choice {
        ToolChoice::Auto | ToolChoice::Required => request.tools.iter().collect(),
        ToolChoice::None => Vec::new(),
        ToolChoice::Tool(name) => request.tools.iter().filter(|tool| &tool.name == name).collect(),
    };
    let may_answer = request.tool_choice == ToolChoice::Auto;
    let (mode, constraint) = if !offered.is_empty() {
        let max_tokens = request.max_tokens.unwrap_or(super::DEFAULT_MAX_TOKENS);
        (Mode::Tools, Some(Constraint::JsonSchema(tools_schema(&offered, may_answer, max_tokens))))
    } else if let Some(format) = &request.response_format {
        (Mode::Json, Some(Constraint::JsonSchema(format.schema.clone())))
    } else {
        (Mode::Text, None)
    };
    let mut messages: Vec<ChatMessage> = Vec::with_capacity(request.messages.len() + 1);
    for message in &request.messages {
        messages.push(match message {
            Message::System { content } => ChatMessage::system(content.clone()),
            Message::User { content } => ChatMessage::user(content.clone()),
            Message::Assistant { content, tool_calls } if tool_calls.is_empty() => {
                ChatMessage::assistant(content.clone())
            }
            Message::Assistant { tool_calls, .. } => {
                let calls: Vec<String> = tool_calls
                    .iter()
                    .map(|call| json!({ "tool": call.name, "arguments": call.arguments }).to_string())
                    .collect();
                ChatMessage::assistant(calls.join("\n"))
            }
            Message::Tool { name, content, .. } => ChatMessage::user(format!("Result of tool {name}: {content}")),
        });
    }
    let instructions = match mode {
        Mode::Tools => Some(tools_prompt(&offered, may_answer)),
        Mode::Json => request
            .response_format
            .as_ref()
            .map(|format| format!("Reply with one JSON value matching this JSON Schema: {}", format.schema)),
        Mode::Text => None,
    };
    if let Some(instructions) = instructions {
        match messages.first_mut() {
            Some(first) if first.role == aae_local::Role::System => {
                first.content = format!("{}\n\n{instructions}", first.content);
            }
            _ => messages.insert(0, ChatMessage::system(instructions)),
        }
    }
    Ok(Plan { messages, constraint, mode })
}

impl Plan {
    /// Whether the reply must be complete before it can be read (a tool call).
    pub(super) fn needs_whole_reply(&self) -> bool {
        self.mode == Mode::Tools
    }

    /// Reads the generated output as the response the request asked for.
    pub(super) fn response(&self, model_id: &str, output: ChatOutput) -> ModelResult<ChatResponse> {
        let invalid = |message: String| ModelError::new(ModelErrorKind::InvalidResponse, NAME, model_id, message);
        let cut_off = || {
            invalid(format!(
                "the reply was cut off after {} tokens before its JSON ended; raise max_tokens",
                output.completion_tokens
            ))
        };
        let mut response = ChatResponse {
            content: String::new(),
            tool_calls: Vec::new(),
            usage: usage(&output),
            stop_reason: stop_reason(&output.stop_reason),
        };
        match self.mode {
            Mode::Text => response.content = output.text,
            Mode::Json => {
                if serde_json::from_str::<Value>(&output.text).is_err() {
                    return Err(cut_off());
                }
                response.content = output.text;
            }
            Mode::Tools => {
                let reply: Value = serde_json::from_str(&output.text).map_err(|_| cut_off())?;
                if let Some(name) = reply.get("tool").and_then(Value::as_str) {
                    let arguments = reply.get("arguments").cloned().unwrap_or_else(|| json!({}));
                    let id = format!("call_{}", uuid::Uuid::new_v4().simple());
                    response.tool_calls.push(ToolCall { id, name: name.to_owned(), arguments });
                    response.stop_reason = StopReason::ToolUse;
                } else if let Some(answer) = reply.get("answer").and_then(Value::as_str) {
                    answer.clone_into(&mut response.content);
                } else {
                    return Err(invalid(format!("the reply is neither a tool call nor an answer: {reply}")));
                }
            }
        }
        Ok(response)
    }
}

/// One JSON object: a call of one of the tools with arguments matching its schema, or (when
/// `may_answer`) an answer. The answer has at most one character per token of `max_tokens`, less
/// room for the JSON around it: every token carries at least one character, so even a small
/// model that rambles closes its JSON before the token limit cuts it off.
fn tools_schema(tools: &[&ToolDefinition], may_answer: bool, max_tokens: u32) -> Value {
    let answer_chars = max_tokens.saturating_sub(32).max(16);
    let mut choices: Vec<Value> = tools
        .iter()
        .map(|tool| {
            json!({
                "type": "object",
                "properties": { "tool": { "const": tool.name }, "arguments": tool.parameters },
                "required": ["tool", "arguments"],
                "additionalProperties": false
            })
        })
        .collect();
    if may_answer {
        choices.push(json!({
            "type": "object",
            "properties": { "answer": { "type": "string", "maxLength": answer_chars } },
            "required": ["answer"],
            "additionalProperties": false
        }));
    }
    json!({ "oneOf": choices })
}

fn tools_prompt(tools: &[&ToolDefinition], may_answer: bool) -> String {
    let mut text = String::from(if may_answer {
        "You can call tools. To call one, reply with {\"tool\": NAME, \"arguments\": {...}}. \
         To answer the user directly, reply with {\"answer\": \"...\"}. Tools:"
    } else {
        "You must call a tool: reply with {\"tool\": NAME, \"arguments\": {...}}. Tools:"
    });
    for tool in tools {
        text.push_str(&format!("\n- {}: {} Arguments: {}", tool.name, tool.description, tool.parameters));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn output(text: &str) -> ChatOutput {
        ChatOutput {
            text: text.to_owned(),
            prompt_tokens: 10,
            completion_tokens: 5,
            stop_reason: aae_local::StopReason::EndOfTurn,
            prompt_time: Duration::ZERO,
            generation_time: Duration::ZERO,
        }
    }

    fn weather_tool() -> ToolDefinition {
        ToolDefinition {
            name: "get_weather".into(),
            description: "Weather of a city.".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        }
    }

    #[test]
    fn tools_are_described_and_history_is_rendered_for_a_template_without_tool_roles() {
        let call = ToolCall { id: "c1".into(), name: "get_weather".into(), arguments: json!({"city": "Oslo"}) };
        let request = ChatRequest {
            messages: vec![
                Message::system("Be brief."),
                Message::user("Weather in Oslo?"),
                Message::Assistant { content: String::new(), tool_calls: vec![call.clone()] },
                Message::tool_result(&call, "{\"temp\": 3}"),
            ],
            tools: vec![weather_tool()],
            ..ChatRequest::default()
        };
        let plan = plan(&request).expect("plan");
        assert_eq!(plan.messages.len(), 4);
        assert!(plan.messages[0].content.starts_with("Be brief.\n\nYou can call tools"));
        assert!(plan.messages[0].content.contains("get_weather: Weather of a city."));
        assert_eq!(plan.messages[2].content, r#"{"arguments":{"city":"Oslo"},"tool":"get_weather"}"#);
        assert_eq!(plan.messages[3].content, "Result of tool get_weather: {\"temp\": 3}");
        let Some(Constraint::JsonSchema(schema)) = &plan.constraint else { panic!("constrained") };
        assert_eq!(schema["oneOf"].as_array().map(Vec::len), Some(2));
        assert_eq!(schema["oneOf"][0]["properties"]["tool"]["const"], "get_weather");
        // Default 512 tokens: an answer of at most 480 characters always fits.
        assert_eq!(schema["oneOf"][1]["properties"]["answer"]["maxLength"], 480);
        let short = super::plan(&ChatRequest { max_tokens: Some(100), ..request }).expect("plan");
        let Some(Constraint::JsonSchema(schema)) = &short.constraint else { panic!("constrained") };
        assert_eq!(schema["oneOf"][1]["properties"]["answer"]["maxLength"], 68);
    }

    #[test]
    fn a_tool_reply_becomes_a_tool_call_and_an_answer_becomes_text() {
        let request = ChatRequest { tools: vec![weather_tool()], ..ChatRequest::user("Weather in Oslo?") };
        let plan = plan(&request).expect("plan");
        assert!(plan.needs_whole_reply());
        let response =
            plan.response("m", output(r#"{"tool": "get_weather", "arguments": {"city": "Oslo"}}"#)).expect("call");
        assert_eq!(response.stop_reason, StopReason::ToolUse);
        assert_eq!(response.tool_calls[0].name, "get_weather");
        assert_eq!(response.tool_calls[0].arguments, json!({"city": "Oslo"}));
        assert!(response.tool_calls[0].id.starts_with("call_"));
        let response = plan.response("m", output(r#"{"answer": "It is cold."}"#)).expect("answer");
        assert_eq!((response.content.as_str(), response.stop_reason), ("It is cold.", StopReason::EndTurn));
        let error = plan.response("m", output(r#"{"tool": "get_wea"#)).expect_err("cut off");
        assert!(error.to_string().contains("raise max_tokens"), "{error}");
    }

    #[test]
    fn tool_choice_selects_the_branches_of_the_schema() {
        let search = ToolDefinition {
            name: "search".into(),
            description: "Search the web.".into(),
            parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
        };
        let request = |tool_choice| ChatRequest {
            tools: vec![weather_tool(), search.clone()],
            tool_choice,
            ..ChatRequest::user("Weather in Oslo?")
        };
        let branches = |plan: &Plan| -> Vec<String> {
            let Some(Constraint::JsonSchema(schema)) = &plan.constraint else { return Vec::new() };
            schema["oneOf"]
                .as_array()
                .map(|choices| {
                    choices
                        .iter()
                        .map(|c| c["properties"]["tool"]["const"].as_str().unwrap_or("answer").to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let auto = plan(&request(ToolChoice::Auto)).expect("plan");
        assert_eq!(branches(&auto), ["get_weather", "search", "answer"]);
        let required = plan(&request(ToolChoice::Required)).expect("plan");
        assert_eq!(branches(&required), ["get_weather", "search"]);
        assert!(required.needs_whole_reply());
        assert!(required.messages[0].content.starts_with("You must call a tool"), "{}", required.messages[0].content);
        let one = plan(&request(ToolChoice::Tool("search".into()))).expect("plan");
        assert_eq!(branches(&one), ["search"]);
        assert!(!one.messages[0].content.contains("get_weather"), "only the chosen tool is described");
        let reply = one.response("m", output(r#"{"tool": "search", "arguments": {"q": "oslo"}}"#)).expect("call");
        assert_eq!((reply.tool_calls[0].name.as_str(), reply.stop_reason), ("search", StopReason::ToolUse));

        // `None`: planned as without tools, free text or the response format.
        let none = plan(&request(ToolChoice::None)).expect("plan");
        assert!(none.constraint.is_none() && !none.needs_whole_reply());
        assert_eq!(none.messages.len(), 1, "no tool instructions");
        let format = crate::types::JsonSchemaFormat { name: "a".into(), schema: json!({"type": "object"}) };
        let json = plan(&ChatRequest { response_format: Some(format), ..request(ToolChoice::None) }).expect("plan");
        assert_eq!(json.constraint, Some(Constraint::JsonSchema(json!({"type": "object"}))));
    }

    #[test]
    fn an_empty_request_is_refused() {
        assert!(plan(&ChatRequest::default()).is_err());
    }
}
