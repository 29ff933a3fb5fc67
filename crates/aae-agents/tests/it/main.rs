//! aae-agents integration tests: the agent loop, tools and agents as tools, driven by a scripted
//! model that answers each agent from its own script (keyed by the agent's system prompt), so
//! runs with concurrent sub-agents stay deterministic.

#![allow(clippy::unwrap_used)]

mod campaign;
mod conversation;
mod mcp;
mod tools;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aae_agents::{Agent, AgentError, AgentEvent, AgentSettings, AgentTool, EventSink, FnTool, RunContext, ToolError};
use aae_config::{Config, ConfigSources};
use aae_models::{
    CallContext, ChatRequest, ChatResponse, ChatStream, Message, ModelError, ModelProvider, ModelResult, ModelRouter,
    StopReason, StreamEvent, ToolCall, Usage,
};
use aae_types::Provider;
use async_trait::async_trait;
use serde_json::{Value, json};

/// Answers each agent from the queue registered for its system prompt's first word.
#[derive(Default)]
struct PerAgentModel {
    scripts: Mutex<HashMap<String, VecDeque<ChatResponse>>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl PerAgentModel {
    fn script(&self, agent: &str, replies: impl IntoIterator<Item = ChatResponse>) {
        self.scripts.lock().unwrap().entry(agent.to_owned()).or_default().extend(replies);
    }

    fn requests_of(&self, agent: &str) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().iter().filter(|r| key(r) == agent).cloned().collect()
    }
}

fn key(request: &ChatRequest) -> String {
    match request.messages.first() {
        Some(Message::System { content }) => {
            content.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("").to_owned()
        }
        _ => String::new(),
    }
}

/// A scripted reply that makes the model fail with `InvalidResponse` (a reply it could not
/// complete, as a small model's JSON cut off at the token limit).
const INVALID_RESPONSE: &str = "\u{0}invalid response";

fn text(content: &str) -> ChatResponse {
    ChatResponse {
        content: content.to_owned(),
        tool_calls: Vec::new(),
        usage: Usage { input_tokens: 100, output_tokens: 10 },
        stop_reason: StopReason::EndTurn,
    }
}

fn calls(calls: &[(&str, &str, Value)]) -> ChatResponse {
    ChatResponse {
        content: String::new(),
        tool_calls: calls
            .iter()
            .map(|(id, name, arguments)| ToolCall {
                id: (*id).to_owned(),
                name: (*name).to_owned(),
                arguments: arguments.clone(),
            })
            .collect(),
        usage: Usage { input_tokens: 100, output_tokens: 20 },
        stop_reason: StopReason::ToolUse,
    }
}

#[async_trait]
impl ModelProvider for PerAgentModel {
    fn name(&self) -> &str {
        "local"
    }

    async fn chat(&self, _model_id: &str, request: &ChatRequest) -> ModelResult<ChatResponse> {
        self.requests.lock().unwrap().push(request.clone());
        let agent = key(request);
        let next = self.scripts.lock().unwrap().get_mut(&agent).and_then(VecDeque::pop_front);
        if next.as_ref().is_some_and(|r| r.content == INVALID_RESPONSE) {
            let message = "the reply was cut off after 1024 tokens before its JSON ended";
            return Err(ModelError::new(aae_models::ModelErrorKind::InvalidResponse, "local", "m", message));
        }
        next.ok_or_else(|| {
            ModelError::new(
                aae_models::ModelErrorKind::InvalidRequest,
                "local",
                "m",
                format!("no script left for {agent}"),
            )
        })
    }

    async fn chat_stream(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatStream> {
        let response = self.chat(model_id, request).await?;
        let mut events = Vec::new();
        for word in response.content.split_inclusive(' ') {
            events.push(Ok(StreamEvent::TextDelta { text: word.to_owned() }));
        }
        events.extend(response.tool_calls.into_iter().map(|call| Ok(StreamEvent::ToolCall { call })));
        events.push(Ok(StreamEvent::Usage { usage: response.usage }));
        events.push(Ok(StreamEvent::Stop { reason: response.stop_reason }));
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

struct World {
    model: Arc<PerAgentModel>,
    context: RunContext,
    events: Arc<Mutex<Vec<AgentEvent>>>,
}

fn world() -> World {
    let mut config = Config::load(&ConfigSources { ignore_env: true, ..Default::default() }).unwrap();
    config.prices.insert(
        "local/smollm2-135m-instruct".into(),
        aae_config::ModelPrice { input_per_million: 1000.0, output_per_million: 2000.0, ..Default::default() },
    );
    let model = Arc::new(PerAgentModel::default());
    let router = ModelRouter::new(&config).unwrap().with_provider(Provider::Local, model.clone());
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = events.clone();
    let sink = EventSink::new(move |event| sink_events.lock().unwrap().push(event));
    World { model, context: RunContext::new(Arc::new(router), CallContext::default(), sink), events }
}

fn weather_tool() -> FnTool {
    FnTool::new(
        "get_weather",
        "Current weather of a city.",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}),
        |_, args| async move { Ok(json!({"city": args["city"], "celsius": 3})) },
    )
}

#[tokio::test]
async fn a_tool_call_round_trip_ends_with_the_answer_and_reports_every_step() {
    let w = world();
    w.model.script(
        "planner",
        [calls(&[("c1", "get_weather", json!({"city": "Oslo"}))]), text("Oslo is cold: bring a coat.")],
    );
    let agent = Agent::new("planner", "planner: plan outdoor ads.").with_tool(weather_tool());
    let out = agent.run(&w.context, vec![Message::user("Should we run the Oslo billboard?")]).await.unwrap();
    assert_eq!(out.answer, "Oslo is cold: bring a coat.");
    assert_eq!(out.turns, 2);
    assert_eq!(out.usage, Usage { input_tokens: 200, output_tokens: 30 });
    assert_eq!(out.cost_micros, 200 * 1000 + 30 * 2000, "priced per million tokens, in micro-credits");
    assert_eq!(out.messages.len(), 4, "user, assistant call, tool result, answer");
    let Message::Tool { content, .. } = &out.messages[2] else { panic!("tool result") };
    assert_eq!(serde_json::from_str::<Value>(content).unwrap(), json!({"city": "Oslo", "celsius": 3}));
    // The second model call saw the system prompt, the call and its result.
    let second = &w.model.requests_of("planner")[1];
    assert_eq!(second.messages.len(), 4);
    assert_eq!(second.tools[0].name, "get_weather");

    let events = w.events.lock().unwrap().clone();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            AgentEvent::AgentStarted { .. } => "started",
            AgentEvent::TextDelta { .. } => "text",
            AgentEvent::ToolCall { .. } => "call",
            AgentEvent::ToolResult { .. } => "result",
            AgentEvent::Usage { .. } => "usage",
            AgentEvent::AgentFinished { .. } => "finished",
        })
        .collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(&kinds[1..4], ["call", "usage", "result"]);
    assert_eq!(kinds.last(), Some(&"finished"));
    assert!(events.iter().all(|e| e.agent() == "planner"));
}

#[tokio::test]
async fn invalid_arguments_and_unknown_tools_are_answered_so_the_model_can_correct_itself() {
    let w = world();
    w.model.script(
        "planner",
        [
            calls(&[("c1", "get_weather", json!({"town": "Oslo"})), ("c2", "get_wether", json!({}))]),
            calls(&[("c3", "get_weather", json!({"city": "Oslo"}))]),
            text("done"),
        ],
    );
    let ran = Arc::new(Mutex::new(0));
    let counter = ran.clone();
    let tool = FnTool::new(
        "get_weather",
        "Weather.",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}),
        move |_, _| {
            *counter.lock().unwrap() += 1;
            async { Ok(json!("3 C")) }
        },
    );
    let agent = Agent::new("planner", "planner").with_tool(tool);
    let out = agent.run(&w.context, vec![Message::user("weather?")]).await.unwrap();
    assert_eq!(out.answer, "done");
    assert_eq!(*ran.lock().unwrap(), 1, "only the valid call reached the tool");
    let Message::Tool { content, .. } = &out.messages[2] else { panic!() };
    assert!(content.contains("missing required property \\\"city\\\""), "{content}");
    let Message::Tool { content, .. } = &out.messages[3] else { panic!() };
    assert!(content.contains("unknown tool get_wether; available tools: get_weather"), "{content}");
}

#[tokio::test]
async fn independent_tool_calls_of_one_turn_run_concurrently() {
    let w = world();
    w.model.script("planner", [calls(&[("a", "meet", json!({})), ("b", "meet", json!({}))]), text("both met")]);
    // Each execution waits for the other: a sequential loop would never get past the first.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let tool = FnTool::new("meet", "Waits for a partner.", json!({"type": "object"}), move |_, _| {
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            Ok(json!("met"))
        }
    });
    let agent = Agent::new("planner", "planner").with_tool(tool);
    let out = tokio::time::timeout(Duration::from_secs(10), agent.run(&w.context, vec![Message::user("go")]))
        .await
        .expect("the two calls ran at the same time")
        .unwrap();
    assert_eq!(out.answer, "both met");
}

#[tokio::test]
async fn transient_tool_failures_are_retried_and_permanent_ones_are_not() {
    let w = world();
    w.model.script("planner", [calls(&[("a", "flaky", json!({})), ("b", "broken", json!({}))]), text("ok")]);
    let tries = Arc::new(Mutex::new(0));
    let counter = tries.clone();
    let flaky = FnTool::new("flaky", "Fails twice.", json!({"type": "object"}), move |_, _| {
        let attempt = {
            let mut n = counter.lock().unwrap();
            *n += 1;
            *n
        };
        async move { if attempt < 3 { Err(ToolError::Transient("503 from upstream".into())) } else { Ok(json!("fine")) } }
    });
    let broken = FnTool::new("broken", "Always fails.", json!({"type": "object"}), |_, _| async {
        Err(ToolError::Failed("the logo file is not a PNG".into()))
    });
    let settings = AgentSettings { tool_backoff: Duration::from_millis(1), ..AgentSettings::default() };
    let agent = Agent::new("planner", "planner").with_tool(flaky).with_tool(broken).with_settings(settings);
    agent.run(&w.context, vec![Message::user("go")]).await.unwrap();
    let results: Vec<(String, bool, u32)> = w
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolResult { name, is_error, attempts, .. } => Some((name.clone(), *is_error, *attempts)),
            _ => None,
        })
        .collect();
    assert!(results.contains(&("flaky".to_owned(), false, 3)), "{results:?}");
    assert!(results.contains(&("broken".to_owned(), true, 1)), "{results:?}");
}

#[tokio::test]
async fn the_turn_limit_stops_a_model_that_never_answers() {
    let w = world();
    w.model.script("planner", (0..5).map(|i| calls(&[(&*format!("c{i}"), "get_weather", json!({"city": "Oslo"}))])));
    let settings = AgentSettings { max_turns: 3, ..AgentSettings::default() };
    let agent = Agent::new("planner", "planner").with_tool(weather_tool()).with_settings(settings);
    let error = agent.run(&w.context, vec![Message::user("go")]).await.unwrap_err();
    assert!(matches!(error, AgentError::TurnLimit { max_turns: 3, .. }), "{error}");
    assert_eq!(error.to_string(), "agent planner reached its limit of 3 turns without answering");
}

#[tokio::test]
async fn misconfigured_agents_are_refused_before_any_model_call() {
    let w = world();
    let agent = Agent::new("planner", "planner").with_tool(weather_tool()).with_tool(weather_tool());
    let error = agent.run(&w.context, vec![Message::user("go")]).await.unwrap_err();
    assert_eq!(error.to_string(), "agent planner is misconfigured: two tools are called get_weather");
    assert!(w.model.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn agents_as_tools_show_their_steps_in_the_callers_stream_but_not_in_its_answer() {
    let w = world();
    w.model.script(
        "orchestrator",
        [
            calls(&[
                ("o1", "market_insights_agent", json!({"query": "Who buys cold brew in Oslo?"})),
                ("o2", "ad_creative_agent", json!({"query": "Headline for cold brew"})),
            ]),
            text("Plan: target commuters with 'Cold brew, warm city'."),
        ],
    );
    w.model
        .script("insights", [calls(&[("i1", "get_weather", json!({"city": "Oslo"}))]), text("Commuters aged 25-40.")]);
    w.model.script("creative", [text("Cold brew, warm city")]);
    let insights = Agent::new("market_insights_agent", "insights: you research markets.")
        .with_description("Researches audiences and markets.")
        .with_tool(weather_tool());
    let creative = Agent::new("ad_creative_agent", "creative: you write ad copy.");
    let orchestrator = Agent::new("orchestrator", "orchestrator: you plan campaigns.")
        .with_tool(AgentTool::new(insights))
        .with_tool(AgentTool::new(creative));
    let out = orchestrator.run(&w.context, vec![Message::user("Plan a cold brew campaign in Oslo")]).await.unwrap();
    assert_eq!(out.answer, "Plan: target commuters with 'Cold brew, warm city'.");
    let Message::Tool { content, name, .. } = &out.messages[2] else { panic!() };
    assert_eq!((name.as_str(), content.as_str()), ("market_insights_agent", "Commuters aged 25-40."));

    let events = w.events.lock().unwrap().clone();
    let sub_events: Vec<&AgentEvent> = events.iter().filter(|e| e.agent() == "market_insights_agent").collect();
    assert!(
        sub_events
            .iter()
            .any(|e| matches!(e, AgentEvent::ToolCall { depth: 1, call, .. } if call.name == "get_weather"))
    );
    assert!(sub_events.iter().any(|e| matches!(e, AgentEvent::AgentFinished { depth: 1, .. })));
    let top_text: String = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TextDelta { depth: 0, text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(top_text, out.answer, "only the orchestrator's own text is at depth 0");
    // The orchestrator's tool schema for a sub-agent is {query}.
    let tools = &w.model.requests_of("orchestrator")[0].tools;
    assert_eq!(tools[0].parameters["required"], json!(["query"]));
    assert_eq!(tools[0].description, "Researches audiences and markets.");
}

#[tokio::test]
async fn an_agent_tool_keeps_its_own_context_between_calls_when_asked() {
    let w = world();
    w.model.script("creative", [text("Cold brew, warm city"), text("Cold brew, warmer city")]);
    let tool = AgentTool::new(Agent::new("ad_creative_agent", "creative: you write ad copy.")).keep_context(true);
    use aae_agents::Tool;
    tool.call(&w.context, json!({"query": "A headline"})).await.unwrap();
    let second = tool.call(&w.context, json!({"query": "Warmer, please"})).await.unwrap();
    assert_eq!(second, json!("Cold brew, warmer city"));
    let seen = &w.model.requests_of("creative")[1].messages;
    assert_eq!(seen.len(), 4, "system, first query, first answer, second query: {seen:?}");
    assert_eq!(tool.transcript().await.len(), 4);
}
