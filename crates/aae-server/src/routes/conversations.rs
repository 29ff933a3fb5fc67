//! Conversations with the assistant: create, list, show (with messages), and
//! `POST /api/v1/conversations/{id}/messages`, which runs the assistant agent on the
//! conversation's history with the caller's model preference and answers as Server-Sent Events
//! (`agent_started`, `text_delta`, `tool_call`, `tool_result`, `usage`, `agent_finished`, then
//! `done` or `error`) when the client accepts `text/event-stream`, else as one JSON body.
//!
//! Every message, tool call and tool result is persisted by [`ConversationSession`] as the run
//! goes, so a client that disconnects mid-answer finds the answer in the conversation later;
//! the run is not cancelled by the disconnect.

use std::convert::Infallible;
use std::sync::Arc;

use aae_agents::{Agent, AgentEvent, AgentSettings, ConversationSession, EventSink, FnTool, RunContext, ToolError};
use aae_models::CallContext;
use aae_store::{Conversation, Message, Records, StoreErrorKind};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::campaigns::json_event;
use super::models::effective_preference;
use super::uploads::OffsetQuery;
use super::{ApiBody, ApiJson, ApiQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

const SYSTEM_PROMPT: &str = "You are AAE, the Automated Ad Engine's assistant for a marketing team. \
Help plan campaigns, write ad copy, taglines and landing-page text, and answer questions about the \
user's campaigns. Use the tools to look up the user's campaigns instead of guessing. Be concise.";

/// Longest message accepted, in characters.
const MAX_MESSAGE_CHARS: usize = 32_000;

/// A new conversation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    /// Title (at most 500 characters).
    #[serde(default)]
    pub title: Option<String>,
}

/// A conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationBody {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: Option<String>,
    /// Messages so far (tool calls and results included).
    pub message_count: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last message.
    pub updated_at: DateTime<Utc>,
}

impl From<&Conversation> for ConversationBody {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id,
            title: c.title.clone(),
            message_count: c.message_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    /// Position, from 0.
    pub sequence: i64,
    /// `user`, `assistant`, `tool` or `system`.
    pub role: String,
    /// Text (a tool's result for `tool`).
    pub content: String,
    /// The assistant's tool calls.
    #[schema(value_type = Option<Vec<Object>>)]
    pub tool_calls: Option<Value>,
    /// The call a tool message answers.
    pub tool_call_id: Option<String>,
    /// Written.
    pub created_at: DateTime<Utc>,
}

impl From<&Message> for MessageBody {
    fn from(m: &Message) -> Self {
        Self {
            sequence: m.sequence,
            role: m.role.as_str().to_owned(),
            content: m.content.clone(),
            tool_calls: m.tool_calls.clone(),
            tool_call_id: m.tool_call_id.clone(),
            created_at: m.created_at,
        }
    }
}

/// A conversation with its messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: ConversationBody,
    /// Every message, oldest first.
    pub messages: Vec<MessageBody>,
}

/// The caller's conversations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    /// Most recently active first.
    pub conversations: Vec<ConversationBody>,
    /// Pass as `offset` for the next page; absent on the last.
    pub next_offset: Option<u64>,
}

/// A user message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The text (1 to 32,000 characters).
    #[schema(example = "Write three taglines for our cold brew subscription")]
    pub content: String,
}

/// The assistant's answer (the JSON form).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyBody {
    /// The conversation.
    pub conversation_id: Uuid,
    /// The final answer.
    pub answer: String,
    /// `provider/model` of the preference used.
    pub model: String,
    /// Model turns.
    pub turns: u32,
    /// Prompt tokens of all turns.
    pub input_tokens: u64,
    /// Generated tokens of all turns.
    pub output_tokens: u64,
    /// Cost in credits.
    pub cost: f64,
    /// Every event of the run, as the stream would have sent them.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
}

async fn owned_conversation(state: &AppState, caller: &Caller, id: &str) -> Result<Conversation, ApiError> {
    let api = state.api()?;
    let not_found = || ApiError::not_found(format!("no conversation `{id}`"));
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    match api.records.conversations.get(id).await {
        Ok(c) if c.user_id == caller.id => Ok(c),
        Ok(_) => Err(not_found()),
        Err(e) if e.kind == StoreErrorKind::NotFound => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

/// Starts a conversation.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])),
    request_body(content = NewConversation, description = "optional"),
    responses((status = 201, body = ConversationBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiBody(body): ApiBody,
) -> Result<(StatusCode, Json<ConversationBody>), ApiError> {
    let api = state.api()?;
    let body: NewConversation = if body.iter().all(u8::is_ascii_whitespace) {
        NewConversation::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?
    };
    if body.title.as_ref().is_some_and(|t| t.chars().count() > 500) {
        return Err(ApiError::invalid("title must be at most 500 characters"));
    }
    let conversation = api.records.conversations.create(caller.id, body.title.as_deref(), Value::Null).await?;
    Ok((StatusCode::CREATED, Json(ConversationBody::from(&conversation))))
}

/// The caller's conversations.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])), params(OffsetQuery),
    responses((status = 200, body = ConversationList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<OffsetQuery>,
) -> Result<Json<ConversationList>, ApiError> {
    let api = state.api()?;
    let limit = super::page_limit(query.limit)?;
    let offset = query.offset.unwrap_or(0);
    let mut items = api.records.conversations.list_by_user(caller.id, limit + 1, offset).await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok(Json(ConversationList {
        next_offset: more.then_some(offset + u64::from(limit)),
        conversations: items.iter().map(ConversationBody::from).collect(),
    }))
}

/// A conversation with every message.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}", tag = "conversations", security(("bearer" = [])),
    params(("conversation_id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = ConversationDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, ApiError> {
    let api = state.api()?;
    let conversation = owned_conversation(&state, &caller, &id).await?;
    let mut messages = Vec::new();
    loop {
        let page = api.records.conversations.messages(conversation.id, messages.len() as i64, 500).await?;
        let done = page.len() < 500;
        messages.extend(page.iter().map(MessageBody::from));
        if done {
            break;
        }
    }
    Ok(Json(ConversationDetail { conversation: ConversationBody::from(&conversation), messages }))
}

/// The assistant: the caller's model, and tools that read the caller's campaigns.
fn assistant(records: &Records, user: Uuid) -> Agent {
    let campaigns = Arc::clone(&records.campaigns);
    let list = FnTool::new(
        "list_campaigns",
        "The user's campaigns, newest first: id, name, status, created_at.",
        json!({"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 50}}, "additionalProperties": false}),
        move |_context, arguments| {
            let campaigns = Arc::clone(&campaigns);
            async move {
                let limit = arguments.get("limit").and_then(Value::as_u64).unwrap_or(10).clamp(1, 50) as u32;
                let page = campaigns
                    .list_by_user(&user.to_string(), limit, None)
                    .await
                    .map_err(|e| ToolError::Transient(e.to_string()))?;
                Ok(json!(
                    page.items
                        .iter()
                        .map(|c| json!({
                            "campaign_id": c.campaign_id, "campaign_name": c.campaign_name,
                            "status": c.status.as_str(), "created_at": c.created_at,
                        }))
                        .collect::<Vec<_>>()
                ))
            }
        },
    );
    let campaigns = Arc::clone(&records.campaigns);
    let get = FnTool::new(
        "get_campaign",
        "One of the user's campaigns: status, progress log, brief and execution time.",
        json!({"type": "object", "properties": {"campaign_id": {"type": "string"}}, "required": ["campaign_id"], "additionalProperties": false}),
        move |_context, arguments| {
            let campaigns = Arc::clone(&campaigns);
            async move {
                let id = arguments.get("campaign_id").and_then(Value::as_str).unwrap_or_default().to_owned();
                match campaigns.get(&id).await {
                    Ok(c) if c.user_id == user.to_string() => Ok(json!({
                        "campaign_id": c.campaign_id, "campaign_name": c.campaign_name, "status": c.status.as_str(),
                        "execution_time": c.execution_time, "brief": c.campaign_brief, "progress_log": c.progress_log,
                    })),
                    Ok(_) => Err(ToolError::InvalidArguments(format!("no campaign `{id}`"))),
                    Err(e) if e.kind == StoreErrorKind::NotFound => {
                        Err(ToolError::InvalidArguments(format!("no campaign `{id}`")))
                    }
                    Err(e) => Err(ToolError::Transient(e.to_string())),
                }
            }
        },
    );
    let settings = AgentSettings { max_turns: 6, ..AgentSettings::default() };
    Agent::new("assistant", SYSTEM_PROMPT).with_tool(list).with_tool(get).with_settings(settings)
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|part| part.trim().starts_with("text/event-stream")))
}

fn event_name(event: &AgentEvent) -> &'static str {
    match event {
        AgentEvent::AgentStarted { .. } => "agent_started",
        AgentEvent::TextDelta { .. } => "text_delta",
        AgentEvent::ToolCall { .. } => "tool_call",
        AgentEvent::ToolResult { .. } => "tool_result",
        AgentEvent::Usage { .. } => "usage",
        AgentEvent::AgentFinished { .. } => "agent_finished",
    }
}

/// Sends a message and runs the assistant on the conversation. Answers `text/event-stream` when
/// the client accepts it (events `agent_started`, `text_delta`, `tool_call`, `tool_result`,
/// `usage`, `agent_finished`, then `done` with the answer and totals, or `error`), else the
/// whole reply as JSON.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/messages", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "Conversation id")),
    request_body = SendMessage,
    responses((status = 200, body = ReplyBody, description = "JSON, or text/event-stream when accepted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendMessage>,
) -> Result<Response, ApiError> {
    let api = Arc::clone(state.api()?);
    let conversation = owned_conversation(&state, &caller, &id).await?;
    let content = body.content.trim().to_owned();
    if content.is_empty() || content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::invalid(format!("content must have 1 to {MAX_MESSAGE_CHARS} characters")));
    }
    let (preference, _) = effective_preference(&state, caller.id).await?;
    let entry = preference
        .validate(&state.config.model_catalog())
        .map_err(|e| ApiError::unprocessable(format!("your model preference no longer works: {e}")))?
        .clone();
    let model_key = entry.key();
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let call = CallContext {
        user_id: Some(caller.id),
        preference: Some(preference.clone()),
        request_id,
        ..CallContext::default()
    };
    let (sink, mut events) = EventSink::channel();
    let context = RunContext::new(Arc::clone(&api.router), call, sink);
    let agent = assistant(&api.records, caller.id).with_model(preference);
    let mut session = ConversationSession::open(Arc::clone(&api.records.conversations), conversation.id)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // The run goes on even if the client leaves: its messages are persisted as it goes.
    let run = tokio::spawn(async move {
        let result = session.run(&agent, &context, &content).await;
        drop(context);
        result
    });
    let conversation_id = conversation.id;
    if wants_stream(&headers) {
        let shutdown = state.shutdown.clone();
        let stream = async_stream(events, run, conversation_id, model_key, shutdown);
        return Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response());
    }
    let mut collected = Vec::new();
    while let Some(event) = events.recv().await {
        collected.push(serde_json::to_value(&event).unwrap_or(Value::Null));
    }
    let output =
        run.await.map_err(|e| ApiError::internal(format!("the assistant task failed: {e}")))?.map_err(agent_error)?;
    Ok(Json(ReplyBody {
        conversation_id,
        answer: output.answer,
        model: model_key,
        turns: output.turns,
        input_tokens: output.usage.input_tokens,
        output_tokens: output.usage.output_tokens,
        cost: output.cost_micros as f64 / 1_000_000.0,
        events: collected,
    })
    .into_response())
}

fn agent_error(error: aae_agents::AgentError) -> ApiError {
    match error {
        aae_agents::AgentError::Model { source, .. } => (*source).into(),
        other => ApiError::new(aae_types::ErrorCode::Unavailable, format!("the assistant could not answer: {other}")),
    }
}

type Run = tokio::task::JoinHandle<Result<aae_agents::AgentOutput, aae_agents::AgentError>>;

fn async_stream(
    events: tokio::sync::mpsc::UnboundedReceiver<AgentEvent>,
    run: Run,
    conversation_id: Uuid,
    model: String,
    shutdown: tokio_util::sync::CancellationToken,
) -> impl futures::Stream<Item = Result<Event, Infallible>> {
    enum Phase {
        Events(tokio::sync::mpsc::UnboundedReceiver<AgentEvent>, Run),
        Done,
    }
    futures::stream::unfold(Phase::Events(events, run), move |phase| {
        let model = model.clone();
        let shutdown = shutdown.clone();
        async move {
            let Phase::Events(mut events, run) = phase else { return None };
            let next = tokio::select! {
                event = events.recv() => event,
                () = shutdown.cancelled() => {
                    let event = json_event("error", &json!({"code": "unavailable", "message": "the server is shutting down; the answer will be in the conversation"}));
                    return Some((event, Phase::Done));
                }
            };
            if let Some(event) = next {
                let sse = json_event(event_name(&event), &event);
                return Some((sse, Phase::Events(events, run)));
            }
            let last = match run.await {
                Ok(Ok(output)) => json_event(
                    "done",
                    &json!({
                        "conversation_id": conversation_id, "answer": output.answer, "model": model,
                        "turns": output.turns, "input_tokens": output.usage.input_tokens,
                        "output_tokens": output.usage.output_tokens, "cost": output.cost_micros as f64 / 1_000_000.0,
                    }),
                ),
                Ok(Err(e)) => {
                    let error = agent_error(e);
                    json_event("error", &json!({"code": error.code.as_str(), "message": error.message}))
                }
                Err(e) => json_event("error", &json!({"code": "internal", "message": format!("the assistant task failed: {e}")})),
            };
            Some((last, Phase::Done))
        }
    })
    .map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_only_for_clients_that_accept_event_streams() {
        let mut headers = HeaderMap::new();
        assert!(!wants_stream(&headers));
        headers.insert(header::ACCEPT, "application/json".parse().expect("header"));
        assert!(!wants_stream(&headers));
        headers.insert(header::ACCEPT, "application/json, text/event-stream;q=0.9".parse().expect("header"));
        assert!(wants_stream(&headers));
    }
}
