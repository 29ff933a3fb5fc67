//! Gemini's REST wire format (`generateContent`, `streamGenerateContent`): request bodies and the
//! parts of replies AAE reads. Tool schemas and structured output use the JSON Schema fields
//! (`parametersJsonSchema`, `responseJsonSchema`), which both the Gemini API and Vertex AI accept.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::types::{ChatRequest, Message, StopReason, ToolCall, ToolChoice, Usage};

/// The body of `models/{model}:generateContent` (and its streaming twin). With tools, a
/// `tool_choice` other than [`ToolChoice::Auto`] (Gemini's default) becomes
/// `toolConfig.functionCallingConfig`: `NONE`, `ANY`, or `ANY` with `allowedFunctionNames`.
pub(crate) fn generate_body(request: &ChatRequest) -> Value {
    let mut system = Vec::new();
    let mut contents: Vec<(String, Vec<Value>)> = Vec::new();
    let mut push = |role: &str, parts: Vec<Value>| match contents.last_mut() {
        // Gemini wants alternating turns: parallel function responses share one user turn.
        Some((last, existing)) if last == role => existing.extend(parts),
        _ => contents.push((role.to_owned(), parts)),
    };
    for message in &request.messages {
        match message {
            Message::System { content } => system.push(json!({ "text": content })),
            Message::User { content } => push("user", vec![json!({ "text": content })]),
            Message::Assistant { content, tool_calls } => {
                let mut parts = Vec::new();
                if !content.is_empty() {
                    parts.push(json!({ "text": content }));
                }
                for call in tool_calls {
                    parts.push(json!({ "functionCall": { "name": call.name, "args": call.arguments } }));
                }
                push("model", parts);
            }
            Message::Tool { name, content, .. } => {
                let response = match serde_json::from_str::<Value>(content) {
                    Ok(Value::Object(object)) => Value::Object(object),
                    Ok(other) => json!({ "result": other }),
                    Err(_) => json!({ "result": content }),
                };
                push("user", vec![json!({ "functionResponse": { "name": name, "response": response } })]);
            }
        }
    }
    let contents: Vec<Value> =
        contents.into_iter().map(|(role, parts)| json!({ "role": role, "parts": parts })).collect();
    let mut body = json!({ "contents": contents });
    if !system.is_empty() {
        body["systemInstruction"] = json!({ "parts": system });
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({ "name": t.name, "description": t.description, "parametersJsonSchema": t.parameters }))
            .collect();
        body["tools"] = json!([{ "functionDeclarations": declarations }]);
        let calling = match &request.tool_choice {
            ToolChoice::Auto => None,
            ToolChoice::None => Some(json!({ "mode": "NONE" })),
            ToolChoice::Required => Some(json!({ "mode": "ANY" })),
            ToolChoice::Tool(name) => Some(json!({ "mode": "ANY", "allowedFunctionNames": [name] })),
        };
        if let Some(calling) = calling {
            body["toolConfig"] = json!({ "functionCallingConfig": calling });
        }
    }
    let mut config = Map::new();
    if let Some(temperature) = request.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if let Some(max_tokens) = request.max_tokens {
        config.insert("maxOutputTokens".into(), json!(max_tokens));
    }
    if !request.stop.is_empty() {
        config.insert("stopSequences".into(), json!(request.stop));
    }
    if let Some(format) = &request.response_format {
        config.insert("responseMimeType".into(), json!("application/json"));
        config.insert("responseJsonSchema".into(), format.schema.clone());
    }
    if !config.is_empty() {
        body["generationConfig"] = Value::Object(config);
    }
    body
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateResponse {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    pub usage_metadata: Option<UsageMetadata>,
    pub prompt_feedback: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate {
    pub content: Option<Content>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Content {
    #[serde(default)]
    pub parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part {
    pub text: Option<String>,
    #[serde(default)]
    pub thought: bool,
    pub function_call: Option<FunctionCall>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCall {
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub args: Option<Value>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsageMetadata {
    #[serde(default)]
    pub prompt_token_count: u64,
    #[serde(default)]
    pub candidates_token_count: u64,
    #[serde(default)]
    pub thoughts_token_count: u64,
}

impl From<UsageMetadata> for Usage {
    fn from(usage: UsageMetadata) -> Self {
        Usage {
            input_tokens: usage.prompt_token_count,
            output_tokens: usage.candidates_token_count + usage.thoughts_token_count,
        }
    }
}

impl FunctionCall {
    /// The unified call; Gemini's calls often have no id, so one is made from the position.
    pub(crate) fn into_call(self, position: usize) -> ToolCall {
        ToolCall {
            id: self.id.filter(|id| !id.is_empty()).unwrap_or_else(|| format!("call_{position}")),
            name: self.name,
            arguments: self.args.unwrap_or_else(|| Value::Object(Map::new())),
        }
    }
}

pub(crate) fn stop_reason(finish_reason: &str, called_tools: bool) -> StopReason {
    match finish_reason {
        "STOP" if called_tools => StopReason::ToolUse,
        "STOP" => StopReason::EndTurn,
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            StopReason::ContentFilter
        }
        other => StopReason::Other(other.to_lowercase()),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct EmbedResponse {
    pub embedding: Option<Values>,
    #[serde(default)]
    pub embeddings: Vec<Values>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Values {
    pub values: Vec<f32>,
}

/// Vertex AI `:predict` reply of an embedding model.
#[derive(Debug, Deserialize)]
pub(crate) struct PredictResponse {
    #[serde(default)]
    pub predictions: Vec<Prediction>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Prediction {
    pub embeddings: PredictedEmbedding,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PredictedEmbedding {
    pub values: Vec<f32>,
    pub statistics: Option<EmbeddingStatistics>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingStatistics {
    #[serde(default)]
    pub token_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ToolDefinition;

    #[test]
    fn tool_choice_becomes_a_function_calling_config() {
        let tool = ToolDefinition { name: "get_weather".into(), description: String::new(), parameters: json!({}) };
        let body = |tools: Vec<ToolDefinition>, tool_choice| {
            generate_body(&ChatRequest { tools, tool_choice, ..ChatRequest::user("hi") })
        };
        let config = |choice| body(vec![tool.clone()], choice).get("toolConfig").cloned();
        assert_eq!(config(ToolChoice::Auto), None);
        assert_eq!(config(ToolChoice::None), Some(json!({"functionCallingConfig": {"mode": "NONE"}})));
        assert_eq!(config(ToolChoice::Required), Some(json!({"functionCallingConfig": {"mode": "ANY"}})));
        assert_eq!(
            config(ToolChoice::Tool("get_weather".into())),
            Some(json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}))
        );
        let without = body(Vec::new(), ToolChoice::None);
        assert!(without.get("toolConfig").is_none() && without.get("tools").is_none(), "{without}");
    }
}
