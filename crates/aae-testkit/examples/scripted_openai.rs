//! A scripted, stateless OpenAI-compatible chat-completions server for the orchestration
//! benchmark (`bench/orchestration.sh`, docs/benchmarks.md): both AAE and Strands Agents run the
//! same agents-as-tools script against it, in their own processes, so its CPU is not theirs.
//!
//! ```text
//! scripted_openai [--port P]
//!     serves until killed; prints its base URL (`http://127.0.0.1:P/v1`) on the first line
//! ```
//!
//! The reply is decided by the request alone. The tools offered name the agent (an orchestrator
//! offers `market_insights_agent`, `ad_creative_agent` and `campaign_automation_agent`; each
//! specialist offers its one plain tool: `lookup_audience`, `write_copy`, `publish_page`), and
//! the number of `role: tool` messages is the step:
//!
//! | agent | step 0 | step 1 | step 2 | step 3 |
//! | --- | --- | --- | --- | --- |
//! | orchestrator | calls `market_insights_agent` | calls `ad_creative_agent` | calls `campaign_automation_agent` | answers |
//! | specialist | calls its plain tool | answers | | |
//!
//! so one conversation is 10 model calls, 6 of them answered with a tool call. Any other request
//! is answered `400` and counted as unrecognised. Replies are JSON (`stream: false`) or SSE
//! (`stream: true`: a role chunk, the text one word per chunk, a tool call as a header chunk and
//! its arguments in 8-character pieces, a finish chunk, a usage chunk when
//! `stream_options.include_usage` is set, `[DONE]`), as OpenAI sends them.
//!
//! `GET /stats` answers the counts so far (requests, tool-call and text replies, streamed,
//! unrecognised, and per agent), which the benchmark reads before and after its measured runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The agents of the script, in the order of [`Stats::by_agent`].
const AGENTS: [&str; 4] = ["orchestrator", "market_insights_agent", "ad_creative_agent", "campaign_automation_agent"];

/// A scripted tool call: the tool and its arguments (JSON text).
#[derive(Clone, Copy)]
struct Call {
    id: &'static str,
    name: &'static str,
    arguments: &'static str,
}

/// One scripted reply.
#[derive(Clone, Copy)]
enum Reply {
    Call(Call),
    Text(&'static str),
}

const ORCHESTRATOR: [Reply; 4] = [
    Reply::Call(Call {
        id: "call_orch_1",
        name: "market_insights_agent",
        arguments: r#"{"query":"Audience and market insights for Lumen Roast, a specialty coffee subscription for remote workers in Berlin."}"#,
    }),
    Reply::Call(Call {
        id: "call_orch_2",
        name: "ad_creative_agent",
        arguments: r#"{"query":"Write a headline, a body line and a call to action for Lumen Roast for remote workers who value fresh coffee at home."}"#,
    }),
    Reply::Call(Call {
        id: "call_orch_3",
        name: "campaign_automation_agent",
        arguments: r#"{"query":"Publish the Lumen Roast launch landing page with the approved copy."}"#,
    }),
    Reply::Text(
        "Campaign ready: insights gathered, copy written and the landing page published at \
         https://lumen.example/launch. Next, watch sign-ups for two weeks and move budget to the best channel.",
    ),
];

/// Per specialist (in [`AGENTS`] order from index 1): its plain tool's call, then its answer.
const SPECIALISTS: [(Call, &str); 3] = [
    (
        Call {
            id: "call_mi_1",
            name: "lookup_audience",
            arguments: r#"{"segment":"remote workers","region":"Berlin"}"#,
        },
        "Remote workers in Berlin, 25 to 40, buy coffee online every week; they value freshness and \
         convenience and answer to morning-routine messages on Instagram and LinkedIn.",
    ),
    (
        Call { id: "call_ac_1", name: "write_copy", arguments: r#"{"product":"Lumen Roast","tone":"warm"}"# },
        "Headline: Fresh beans, brighter mornings. Body: Roasted this week, at your door by Friday, \
         ground for your desk. Call to action: Start tasting.",
    ),
    (
        Call { id: "call_ca_1", name: "publish_page", arguments: r#"{"title":"Lumen Roast launch","slug":"launch"}"# },
        "Published https://lumen.example/launch with the approved copy and saved the campaign.",
    ),
];

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    streamed: AtomicU64,
    tool_call_replies: AtomicU64,
    text_replies: AtomicU64,
    unrecognised: AtomicU64,
    by_agent: [AtomicU64; 4],
}

type Shared = Arc<Stats>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = match args.iter().position(|a| a == "--port").and_then(|i| args.get(i + 1)) {
        Some(text) => text.parse().with_context(|| format!("--port {text} is not a port"))?,
        None => 0,
    };
    let stats: Shared = Arc::new(Stats::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/stats", get(stats_handler))
        .with_state(stats);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.context("binding the port")?;
    let address = listener.local_addr()?;
    println!("http://{address}/v1");
    axum::serve(listener, app).await.context("serving")?;
    Ok(())
}

async fn models() -> Response {
    json_response(
        StatusCode::OK,
        json!({"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "aae"}]}).to_string(),
    )
}

async fn stats_handler(State(stats): State<Shared>) -> Response {
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let by_agent: serde_json::Map<String, Value> =
        AGENTS.iter().zip(&stats.by_agent).map(|(name, counter)| ((*name).to_owned(), json!(load(counter)))).collect();
    json_response(
        StatusCode::OK,
        json!({
            "requests": load(&stats.requests),
            "streamed": load(&stats.streamed),
            "tool_call_replies": load(&stats.tool_call_replies),
            "text_replies": load(&stats.text_replies),
            "unrecognised": load(&stats.unrecognised),
            "by_agent": by_agent,
        })
        .to_string(),
    )
}

/// Which agent sent `request` (index into [`AGENTS`]), from the tools it offers.
fn agent_of(request: &Value) -> Option<usize> {
    let tools = request["tools"].as_array()?;
    let offers = |name: &str| tools.iter().any(|t| t["function"]["name"].as_str() == Some(name));
    if offers("market_insights_agent") && offers("ad_creative_agent") && offers("campaign_automation_agent") {
        return Some(0);
    }
    SPECIALISTS.iter().position(|(call, _)| tools.len() == 1 && offers(call.name)).map(|i| i + 1)
}

fn reply_for(agent: usize, step: usize) -> Option<Reply> {
    if agent == 0 {
        return ORCHESTRATOR.get(step).copied();
    }
    let (call, text) = SPECIALISTS.get(agent - 1)?;
    match step {
        0 => Some(Reply::Call(*call)),
        1 => Some(Reply::Text(text)),
        _ => None,
    }
}

async fn chat(State(stats): State<Shared>, body: Bytes) -> Response {
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let step = request["messages"].as_array().map_or(0, |m| m.iter().filter(|m| m["role"] == "tool").count());
    let Some((agent, reply)) = agent_of(&request).and_then(|agent| Some((agent, reply_for(agent, step)?))) else {
        stats.unrecognised.fetch_add(1, Ordering::Relaxed);
        let message = format!("the script has no reply for these tools at step {step}");
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": 400, "message": message, "type": "invalid_request_error"}}).to_string(),
        );
    };
    stats.by_agent[agent].fetch_add(1, Ordering::Relaxed);
    match reply {
        Reply::Call(_) => stats.tool_call_replies.fetch_add(1, Ordering::Relaxed),
        Reply::Text(_) => stats.text_replies.fetch_add(1, Ordering::Relaxed),
    };
    let model = request["model"].as_str().unwrap_or("scripted");
    let prompt_tokens = (body.len() as u64).div_ceil(4);
    let completion_tokens = match &reply {
        Reply::Call(call) => (call.name.len() + call.arguments.len()) as u64,
        Reply::Text(text) => text.len() as u64,
    }
    .div_ceil(4);
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens});
    if request["stream"].as_bool().unwrap_or(false) {
        stats.streamed.fetch_add(1, Ordering::Relaxed);
        let include_usage = request["stream_options"]["include_usage"].as_bool().unwrap_or(false);
        return sse(model, &reply, include_usage.then_some(usage));
    }
    let (message, finish) = match &reply {
        Reply::Call(call) => (
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": call.arguments}}]}),
            "tool_calls",
        ),
        Reply::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
    };
    json_response(
        StatusCode::OK,
        json!({"id": "chatcmpl-scripted", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": usage})
        .to_string(),
    )
}

/// The reply as one SSE body, chunked as OpenAI streams it.
fn sse(model: &str, reply: &Reply, usage: Option<Value>) -> Response {
    let mut body = String::with_capacity(4096);
    let mut chunk = |delta: Value, finish: Option<&str>| {
        let event = json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
        body.push_str("data: ");
        body.push_str(&event.to_string());
        body.push_str("\n\n");
    };
    let finish = match reply {
        Reply::Text(text) => {
            chunk(json!({"role": "assistant", "content": ""}), None);
            for word in words(text) {
                chunk(json!({"content": word}), None);
            }
            "stop"
        }
        Reply::Call(call) => {
            chunk(json!({"role": "assistant", "content": null}), None);
            chunk(
                json!({"tool_calls": [{"index": 0, "id": call.id, "type": "function",
                    "function": {"name": call.name, "arguments": ""}}]}),
                None,
            );
            let characters: Vec<char> = call.arguments.chars().collect();
            for piece in characters.chunks(8) {
                let piece: String = piece.iter().collect();
                chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), None);
            }
            "tool_calls"
        }
    };
    chunk(json!({}), Some(finish));
    if let Some(usage) = usage {
        let event = json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": model, "choices": [], "usage": usage});
        body.push_str("data: ");
        body.push_str(&event.to_string());
        body.push_str("\n\n");
    }
    body.push_str("data: [DONE]\n\n");
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream"));
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    response
}

/// `text` as a model streams it: one word per piece, each after the first with its space.
fn words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' && i > start {
            pieces.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}
