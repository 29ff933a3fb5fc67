//! Converse's wire shapes in the SDK's types: a [`ChatRequest`] becomes `system` blocks,
//! alternating `messages` (tool calls as `toolUse` blocks, tool results as `toolResult` blocks in
//! a user turn), `inferenceConfig` and `toolConfig`; replies become text, tool calls, a
//! [`StopReason`] and [`Usage`]. JSON travels as smithy [`Document`]s, converted both ways here.
//!
//! Structured output has no Converse field of its own: it is a forced tool, named after the
//! schema, whose input schema is the requested one (wrapped in `{"value": …}` when it is not an
//! object schema, since tool inputs must be objects) and `toolChoice: {tool: {name}}`. The
//! model's input to that tool is the answer, returned as JSON text.
//!
//! `tool_choice` becomes `toolConfig.toolChoice` ([`tool_config`]): `Auto` sends none (Converse's
//! default, `auto`), `Required` sends `any`, `Tool(name)` sends `tool: {name}`. Converse has no
//! `none`: `None` leaves the tools out, except when the history holds tool calls or results,
//! because Converse then requires the `toolConfig`; the tools stay and the choice is `auto`, so
//! the model may still call one. With a response format:
//! - no tools, or `None`: the answer tool alone is forced (tools the history needs are sent
//!   too, and the forced answer keeps them uncalled);
//! - tools and `Auto`: the choice is `any` over the tools and the answer tool, so the model
//!   either calls a tool or answers in the schema, never in free text;
//! - `Required` or `Tool(name)`: the choice wins; the answer tool is not sent, the structured
//!   answer comes in a later turn.

use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, AutoToolChoice, ContentBlock, ConversationRole, InferenceConfiguration, Message as WireMessage,
    SpecificToolChoice, StopReason as WireStopReason, SystemContentBlock, TokenUsage, Tool,
    ToolChoice as WireToolChoice, ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock,
    ToolSpecification, ToolUseBlock,
};
use aws_smithy_types::{Document, Number};
use serde_json::{Map, Value, json};

use crate::types::{ChatRequest, JsonSchemaFormat, Message, StopReason, ToolCall, ToolChoice, Usage};

/// A chat request in Converse's terms.
#[derive(Debug)]
pub(crate) struct Converse {
    pub system: Vec<SystemContentBlock>,
    pub messages: Vec<WireMessage>,
    pub inference: Option<InferenceConfiguration>,
    pub tools: Option<ToolConfiguration>,
    pub structured: Option<Structured>,
}

/// The forced tool that carries structured output.
#[derive(Debug, Clone)]
pub(crate) struct Structured {
    /// The tool's name.
    pub tool: String,
    /// Whether the schema was wrapped in `{"value": …}`.
    pub wrapped: bool,
}

impl Structured {
    fn new(format: &JsonSchemaFormat) -> Self {
        let mut tool: String =
            format.name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')).take(64).collect();
        if tool.is_empty() {
            "structured_output".clone_into(&mut tool);
        }
        let wrapped = format.schema.get("type").and_then(Value::as_str) != Some("object");
        Self { tool, wrapped }
    }

    fn schema(&self, format: &JsonSchemaFormat) -> Value {
        if self.wrapped {
            json!({"type": "object", "properties": {"value": format.schema}, "required": ["value"]})
        } else {
            format.schema.clone()
        }
    }

    /// The answer the model gave as the tool's input, as JSON text.
    pub(crate) fn answer(&self, mut input: Value) -> String {
        if self.wrapped {
            input = input.get_mut("value").map(Value::take).unwrap_or(Value::Null);
        }
        input.to_string()
    }
}

/// Maps `request`; fails (with a message for an invalid-request error) when the SDK refuses a
/// shape, e.g. an empty tool name.
pub(crate) fn converse(request: &ChatRequest) -> Result<Converse, String> {
    let built = |what: &str, e: aws_smithy_types::error::operation::BuildError| format!("invalid {what}: {e}");
    let mut system = Vec::new();
    let mut turns: Vec<(ConversationRole, Vec<ContentBlock>)> = Vec::new();
    let mut push = |role: ConversationRole, blocks: Vec<ContentBlock>| match turns.last_mut() {
        // Converse wants alternating roles: consecutive tool results (and a user message after
        // them) share one user turn.
        _ if blocks.is_empty() => {}
        Some((last, existing)) if *last == role => existing.extend(blocks),
        _ => turns.push((role, blocks)),
    };
    for message in &request.messages {
        match message {
            Message::System { content } if !content.trim().is_empty() => {
                system.push(SystemContentBlock::Text(content.clone()));
            }
            Message::System { .. } => {}
            Message::User { content } => push(ConversationRole::User, text_block(content)),
            Message::Assistant { content, tool_calls } => {
                let mut blocks = text_block(content);
                for call in tool_calls {
                    let block = ToolUseBlock::builder()
                        .tool_use_id(&call.id)
                        .name(&call.name)
                        .input(to_document(&call.arguments))
                        .build()
                        .map_err(|e| built("tool call", e))?;
                    blocks.push(ContentBlock::ToolUse(block));
                }
                push(ConversationRole::Assistant, blocks);
            }
            Message::Tool { tool_call_id, content, .. } => {
                let result = match serde_json::from_str::<Value>(content) {
                    Ok(object @ Value::Object(_)) => ToolResultContentBlock::Json(to_document(&object)),
                    _ => ToolResultContentBlock::Text(content.clone()),
                };
                let block = ToolResultBlock::builder()
                    .tool_use_id(tool_call_id)
                    .content(result)
                    .build()
                    .map_err(|e| built("tool result", e))?;
                push(ConversationRole::User, vec![ContentBlock::ToolResult(block)]);
            }
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, content)| WireMessage::builder().role(role).set_content(Some(content)).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| built("message", e))?;

    let inference =
        (request.temperature.is_some() || request.max_tokens.is_some() || !request.stop.is_empty()).then(|| {
            InferenceConfiguration::builder()
                .set_temperature(request.temperature)
                .set_max_tokens(request.max_tokens.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
                .set_stop_sequences((!request.stop.is_empty()).then(|| request.stop.clone()))
                .build()
        });

    let (tools, structured) = tool_config(request)?;
    Ok(Converse { system, messages, inference, tools, structured })
}

/// The `toolConfig` of `request` and the answer tool of its response format, when one is sent
/// (see the module docs for how `tool_choice` and the response format combine).
fn tool_config(request: &ChatRequest) -> Result<(Option<ToolConfiguration>, Option<Structured>), String> {
    let built = |what: &str, e: aws_smithy_types::error::operation::BuildError| format!("invalid {what}: {e}");
    let history_has_tools = request.messages.iter().any(|message| match message {
        Message::Assistant { tool_calls, .. } => !tool_calls.is_empty(),
        Message::Tool { .. } => true,
        Message::System { .. } | Message::User { .. } => false,
    });
    let send_tools = request.tool_choice != ToolChoice::None || history_has_tools;
    let mut tools = Vec::new();
    if send_tools {
        for tool in &request.tools {
            tools.push(tool_spec(&tool.name, &tool.description, &tool.parameters).map_err(|e| built("tool", e))?);
        }
    }
    let user_tools = !tools.is_empty();
    let forced = |name: &str| -> Result<WireToolChoice, String> {
        let specific = SpecificToolChoice::builder().name(name).build().map_err(|e| built("tool choice", e))?;
        Ok(WireToolChoice::Tool(specific))
    };
    let answer_tool = match request.tool_choice {
        ToolChoice::Auto | ToolChoice::None => request.response_format.as_ref(),
        ToolChoice::Required | ToolChoice::Tool(_) => None,
    };
    let structured = answer_tool.map(Structured::new);
    let choice = match (&request.tool_choice, &structured) {
        (ToolChoice::Auto, Some(_)) if user_tools => Some(WireToolChoice::Any(AnyToolChoice::builder().build())),
        (ToolChoice::Auto | ToolChoice::None, Some(answer)) => Some(forced(&answer.tool)?),
        (ToolChoice::Auto, None) => None,
        (ToolChoice::None, None) if user_tools => Some(WireToolChoice::Auto(AutoToolChoice::builder().build())),
        (ToolChoice::None, None) => None,
        (ToolChoice::Required, _) => Some(WireToolChoice::Any(AnyToolChoice::builder().build())),
        (ToolChoice::Tool(name), _) => Some(forced(name)?),
    };
    if let (Some(format), Some(answer)) = (answer_tool, &structured) {
        let description = format!("Give the final answer as the input of this tool: JSON matching `{}`.", format.name);
        tools.push(tool_spec(&answer.tool, &description, &answer.schema(format)).map_err(|e| built("schema", e))?);
    }
    if tools.is_empty() {
        return Ok((None, structured));
    }
    let config = ToolConfiguration::builder().set_tools(Some(tools)).set_tool_choice(choice).build();
    Ok((Some(config.map_err(|e| built("tools", e))?), structured))
}

/// A text block, or none for empty text (Converse refuses blank text blocks).
fn text_block(text: &str) -> Vec<ContentBlock> {
    if text.is_empty() { Vec::new() } else { vec![ContentBlock::Text(text.to_owned())] }
}

fn tool_spec(
    name: &str,
    description: &str,
    schema: &Value,
) -> Result<Tool, aws_smithy_types::error::operation::BuildError> {
    let spec = ToolSpecification::builder()
        .name(name)
        .set_description((!description.is_empty()).then(|| description.to_owned()))
        .input_schema(ToolInputSchema::Json(to_document(schema)))
        .build()?;
    Ok(Tool::ToolSpec(spec))
}

/// Text and tool calls of a reply's content blocks; the forced tool's input becomes the text.
/// The flag says whether the structured answer was found.
pub(crate) fn reply(blocks: &[ContentBlock], structured: Option<&Structured>) -> (String, Vec<ToolCall>, bool) {
    let mut content = String::new();
    let mut calls = Vec::new();
    let mut answered = false;
    for block in blocks {
        match block {
            ContentBlock::Text(text) => content.push_str(text),
            ContentBlock::ToolUse(tool) => {
                let arguments = to_json(tool.input());
                match structured {
                    Some(forced) if forced.tool == tool.name() => {
                        content = forced.answer(arguments);
                        answered = true;
                    }
                    _ => calls.push(ToolCall {
                        id: tool.tool_use_id().to_owned(),
                        name: tool.name().to_owned(),
                        arguments,
                    }),
                }
            }
            _ => {}
        }
    }
    (content, calls, answered)
}

/// Our stop reason; a `tool_use` stop that only produced the structured answer is an end of turn.
pub(crate) fn stop_reason(reason: &WireStopReason, structured_only: bool) -> StopReason {
    match reason.as_str() {
        "end_turn" => StopReason::EndTurn,
        "tool_use" if structured_only => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "content_filtered" | "guardrail_intervened" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// Token counts (negative counts, which the service never sends, read as 0).
pub(crate) fn usage(usage: &TokenUsage) -> Usage {
    let count = |n: i32| u64::try_from(n).unwrap_or(0);
    Usage { input_tokens: count(usage.input_tokens()), output_tokens: count(usage.output_tokens()) }
}

/// JSON → smithy document. Integers stay integers (`PosInt` / `NegInt`), other numbers are floats.
pub(crate) fn to_document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(to_document).collect()),
        Value::Object(map) => Document::Object(map.iter().map(|(k, v)| (k.clone(), to_document(v))).collect()),
    }
}

/// Smithy document → JSON. Non-finite floats, which JSON cannot hold, become `null`.
pub(crate) fn to_json(document: &Document) -> Value {
    match document {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Document::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<Map<String, Value>>())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ToolDefinition;

    #[test]
    fn json_and_documents_round_trip() {
        let value = json!({"a": [1, -2, 2.5, "x", true, null], "b": {"c": u64::MAX, "d": i64::MIN}});
        assert_eq!(to_json(&to_document(&value)), value);
        assert_eq!(to_document(&json!(-2)), Document::Number(Number::NegInt(-2)));
        assert_eq!(to_document(&json!(7)), Document::Number(Number::PosInt(7)));
        assert_eq!(to_json(&Document::Number(Number::Float(f64::NAN))), Value::Null);
    }

    #[test]
    fn tool_results_share_a_user_turn_and_roles_alternate() {
        let call = ToolCall { id: "tooluse_1".into(), name: "get_weather".into(), arguments: json!({"city": "Oslo"}) };
        let other = ToolCall { id: "tooluse_2".into(), name: "get_time".into(), arguments: json!({}) };
        let request = ChatRequest {
            messages: vec![
                Message::system("be brief"),
                Message::user("weather and time?"),
                Message::Assistant { content: String::new(), tool_calls: vec![call.clone(), other.clone()] },
                Message::tool_result(&call, r#"{"celsius": -3}"#),
                Message::tool_result(&other, "12:00"),
                Message::user("thanks"),
            ],
            ..ChatRequest::default()
        };
        let converse = converse(&request).unwrap();
        assert_eq!(converse.system, vec![SystemContentBlock::Text("be brief".into())]);
        let roles: Vec<&str> = converse.messages.iter().map(|m| m.role().as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(converse.messages[1].content().len(), 2, "no empty text block");
        let last = converse.messages[2].content();
        assert_eq!(last.len(), 3);
        let ContentBlock::ToolResult(result) = &last[0] else { panic!("{last:?}") };
        assert_eq!(result.content()[0], ToolResultContentBlock::Json(to_document(&json!({"celsius": -3}))));
        assert!(converse.inference.is_none() && converse.tools.is_none());
    }

    #[test]
    fn structured_output_is_a_forced_tool() {
        let request = ChatRequest {
            response_format: Some(JsonSchemaFormat { name: "city list!".into(), schema: json!({"type": "array"}) }),
            ..ChatRequest::user("cities?")
        };
        let converse = converse(&request).unwrap();
        let forced = converse.structured.clone().unwrap();
        assert_eq!((forced.tool.as_str(), forced.wrapped), ("citylist", true));
        let tools = converse.tools.unwrap();
        assert_eq!(tools.tools().len(), 1);
        assert!(matches!(tools.tool_choice(), Some(WireToolChoice::Tool(t)) if t.name() == "citylist"));
        let answer = ToolUseBlock::builder()
            .tool_use_id("t")
            .name("citylist")
            .input(to_document(&json!({"value": ["Oslo"]})))
            .build()
            .unwrap();
        let (text, calls, answered) = reply(&[ContentBlock::ToolUse(answer)], Some(&forced));
        assert_eq!((text.as_str(), calls.len(), answered), (r#"["Oslo"]"#, 0, true));
        assert_eq!(stop_reason(&WireStopReason::ToolUse, answered), StopReason::EndTurn);
        assert_eq!(stop_reason(&WireStopReason::GuardrailIntervened, false), StopReason::ContentFilter);
    }

    /// The names of the tools sent, the choice (`auto`, `any`, `tool:NAME`, or `-` for none) and
    /// the answer tool.
    fn sent(request: &ChatRequest) -> (Vec<String>, String, Option<String>) {
        let converse = converse(request).unwrap();
        let answer = converse.structured.map(|s| s.tool);
        let Some(config) = converse.tools else { return (Vec::new(), "-".into(), answer) };
        let names = config
            .tools()
            .iter()
            .map(|tool| match tool {
                Tool::ToolSpec(spec) => spec.name().to_owned(),
                other => format!("{other:?}"),
            })
            .collect();
        let choice = match config.tool_choice() {
            None => "-".to_owned(),
            Some(WireToolChoice::Auto(_)) => "auto".to_owned(),
            Some(WireToolChoice::Any(_)) => "any".to_owned(),
            Some(WireToolChoice::Tool(tool)) => format!("tool:{}", tool.name()),
            Some(other) => format!("{other:?}"),
        };
        (names, choice, answer)
    }

    #[test]
    fn tool_choice_maps_to_converse_and_combines_with_structured_output() {
        let search = ToolDefinition { name: "search".into(), description: String::new(), parameters: json!({}) };
        let format = JsonSchemaFormat { name: "answer".into(), schema: json!({"type": "object"}) };
        let request = |tool_choice, format: Option<&JsonSchemaFormat>| ChatRequest {
            tools: vec![search.clone()],
            tool_choice,
            response_format: format.cloned(),
            ..ChatRequest::user("find it")
        };
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let answer = Some("answer".to_owned());
        let tool = || ToolChoice::Tool("search".into());
        // Without a response format.
        assert_eq!(sent(&request(ToolChoice::Auto, None)), (names(&["search"]), "-".into(), None));
        assert_eq!(sent(&request(ToolChoice::None, None)), (Vec::new(), "-".into(), None));
        assert_eq!(sent(&request(ToolChoice::Required, None)), (names(&["search"]), "any".into(), None));
        assert_eq!(sent(&request(tool(), None)), (names(&["search"]), "tool:search".into(), None));
        // With one: a tool or the answer, the answer alone, or the choice wins.
        let with = Some(&format);
        assert_eq!(
            sent(&request(ToolChoice::Auto, with)),
            (names(&["search", "answer"]), "any".into(), answer.clone())
        );
        assert_eq!(sent(&request(ToolChoice::None, with)), (names(&["answer"]), "tool:answer".into(), answer.clone()));
        assert_eq!(sent(&request(ToolChoice::Required, with)), (names(&["search"]), "any".into(), None));
        assert_eq!(sent(&request(tool(), with)), (names(&["search"]), "tool:search".into(), None));

        // `None` after tool use: Converse needs the tools, so they stay with `auto`; a response
        // format still forces the answer.
        let call = ToolCall { id: "t1".into(), name: "search".into(), arguments: json!({}) };
        let mut after = request(ToolChoice::None, None);
        after.messages.push(Message::Assistant { content: String::new(), tool_calls: vec![call.clone()] });
        after.messages.push(Message::tool_result(&call, "found"));
        assert_eq!(sent(&after), (names(&["search"]), "auto".into(), None));
        after.response_format = Some(format.clone());
        assert_eq!(sent(&after), (names(&["search", "answer"]), "tool:answer".into(), answer));
    }
}
