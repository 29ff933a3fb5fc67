//! Conversation state on real servers: histories persisted in PostgreSQL (a fresh database per
//! test) and cached in a private `redis-server`; resumption after a restart; a lost or corrupt
//! cache rebuilt from the records; the sliding window and the summarising manager in front of
//! the scripted model.

use std::sync::Arc;

use aae_agents::conversation::{SUMMARY_PREFIX, window_start};
use aae_agents::{Agent, ConversationSession, SlidingWindow, Summarizing, WindowBudget};
use aae_config::RedisConfig;
use aae_models::{Message, ToolCall};
use aae_store::{MessageRole, NewUser, Records, SharedCache};
use aae_testkit::{Engine, RedisServer, TestDatabase};
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{calls, text, weather_tool, world};

async fn postgres() -> (TestDatabase, Records) {
    let db = TestDatabase::new(Engine::Postgres).await.unwrap();
    let records = aae_store::open(&db.config, db.data_dir()).await.unwrap();
    (db, records)
}

fn cache(server: &RedisServer) -> SharedCache {
    let config = RedisConfig { url: server.url().into(), key_prefix: "agents:".to_owned(), ..RedisConfig::default() };
    SharedCache::from_config(&config).unwrap()
}

async fn new_conversation(records: &Records) -> Uuid {
    let user = records.users.create(NewUser::new(Uuid::new_v4().to_string(), "chat@example.com")).await.unwrap();
    records.conversations.create(user.id, Some("chat"), Value::Null).await.unwrap().id
}

fn call(id: &str, name: &str, arguments: Value) -> ToolCall {
    ToolCall { id: id.to_owned(), name: name.to_owned(), arguments }
}

fn tool(id: &str, name: &str, content: &str) -> Message {
    Message::Tool { tool_call_id: id.to_owned(), name: name.to_owned(), content: content.to_owned() }
}

/// Two parallel calls, a text-only answer, and a call id reused in a later turn (as providers
/// that number calls per turn do) for a different tool.
fn sample_history() -> Vec<Message> {
    vec![
        Message::system("Answer briefly."),
        Message::user("Weather and time in Oslo? ünïcødé ✓"),
        Message::Assistant {
            content: "Checking.".to_owned(),
            tool_calls: vec![
                call("call_1", "get_weather", json!({"city": "Oslo", "options": {"units": ["c", "f"], "days": 1.5}})),
                call("call_2", "get_time", json!({})),
            ],
        },
        tool("call_1", "get_weather", r#"{"celsius":3}"#),
        tool("call_2", "get_time", "12:00"),
        Message::assistant("3 °C at noon."),
        Message::user("And now?"),
        Message::Assistant {
            content: String::new(),
            tool_calls: vec![call("call_1", "get_time", json!({"tz": "CET"}))],
        },
        tool("call_1", "get_time", "13:00"),
        Message::assistant("13:00."),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_tool_calls_and_results_survive_the_store_round_trip() {
    let (_db, records) = postgres().await;
    let id = new_conversation(&records).await;
    let history = sample_history();
    let mut session = ConversationSession::open(records.conversations.clone(), id).await.unwrap();
    assert!(session.history().is_empty());
    session.append(history[..5].to_vec()).await.unwrap();
    session.append(history[5..].to_vec()).await.unwrap();
    assert_eq!(session.history(), history.as_slice());

    let stored = records.conversations.messages(id, 0, 100).await.unwrap();
    assert_eq!(stored.len(), history.len());
    assert_eq!(stored[2].role, MessageRole::Assistant);
    assert_eq!(
        stored[2].tool_calls,
        Some(json!([
            {"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo", "options": {"units": ["c", "f"], "days": 1.5}}},
            {"id": "call_2", "name": "get_time", "arguments": {}}
        ]))
    );
    assert_eq!(
        (stored[4].role, stored[4].tool_call_id.as_deref(), stored[4].content.as_str()),
        (MessageRole::Tool, Some("call_2"), "12:00")
    );
    assert_eq!(stored[5].tool_calls, None, "a text-only answer stores no tool calls");

    let reopened = ConversationSession::open(records.conversations.clone(), id).await.unwrap();
    assert_eq!(reopened.history(), history.as_slice(), "names of tool results come back from their calls");

    let missing = ConversationSession::open(records.conversations.clone(), Uuid::new_v4()).await.unwrap_err();
    assert_eq!(missing.code(), aae_types::ErrorCode::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_resumes_after_a_restart_with_the_same_history() {
    let mut server = RedisServer::start().unwrap();
    let (_db, records) = postgres().await;
    let id = new_conversation(&records).await;
    let w = world();
    w.model.script(
        "planner",
        [
            calls(&[("call_1", "get_weather", json!({"city": "Oslo"}))]),
            text("It is 3 degrees in Oslo."),
            text("Yes, still 3 degrees."),
        ],
    );
    let agent = Agent::new("planner", "planner: answer weather questions.").with_tool(weather_tool());

    let first_history = {
        let cached = records.clone().with_cache(cache(&server));
        let mut session = ConversationSession::open(cached.conversations.clone(), id).await.unwrap();
        let output = session.run(&agent, &w.context, "Weather in Oslo?").await.unwrap();
        assert_eq!(output.answer, "It is 3 degrees in Oslo.");
        assert_eq!(session.history(), output.messages.as_slice());
        session.history().to_vec()
    };
    assert!(matches!(&first_history[1], Message::Assistant { tool_calls, .. } if tool_calls[0].name == "get_weather"));
    assert!(
        matches!(&first_history[2], Message::Tool { tool_call_id, name, .. } if tool_call_id == "call_1" && name == "get_weather")
    );
    assert_eq!(first_history.len(), 4, "question, tool call, tool result, answer: {first_history:?}");

    // Restart: a new process with a new cache handle, and Redis restarted empty.
    server.kill();
    server.resume().unwrap();
    let restarted = records.clone().with_cache(cache(&server));
    let mut session = ConversationSession::open(restarted.conversations.clone(), id).await.unwrap();
    assert_eq!(session.history(), first_history.as_slice());

    let output = session.run(&agent, &w.context, "Still cold?").await.unwrap();
    let seen = &w.model.requests_of("planner")[2].messages;
    assert_eq!(&seen[1..5], first_history.as_slice(), "the model is given the resumed history");
    assert_eq!(seen[5], Message::user("Still cold?"));
    assert_eq!(output.messages.len(), 6);

    let from_records = ConversationSession::open(records.conversations.clone(), id).await.unwrap();
    assert_eq!(from_records.history(), output.messages.as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_or_corrupt_cache_is_rebuilt_from_the_stored_history() {
    let server = RedisServer::start().unwrap();
    let (_db, records) = postgres().await;
    let shared = cache(&server);
    let cached = records.clone().with_cache(shared.clone());
    let id = new_conversation(&records).await;
    let history = sample_history();
    ConversationSession::open(cached.conversations.clone(), id).await.unwrap().append(history.clone()).await.unwrap();

    let key = format!("conv:{id}:messages");
    let entry = |raw: Option<String>| -> Value { serde_json::from_str(&raw.expect("a cache entry")).expect("json") };
    let opened = ConversationSession::open(cached.conversations.clone(), id).await.unwrap();
    assert_eq!(opened.history(), history.as_slice());
    let first = entry(shared.get(&key).await);
    assert_eq!(first["messages"].as_array().map(Vec::len), Some(history.len()), "the history is cached under its id");
    assert!(shared.ttl() > std::time::Duration::ZERO);

    // Lost.
    assert!(shared.delete(&key).await);
    assert_eq!(shared.get(&key).await, None);
    let opened = ConversationSession::open(cached.conversations.clone(), id).await.unwrap();
    assert_eq!(opened.history(), history.as_slice());
    assert_eq!(entry(shared.get(&key).await), first, "rebuilt identically");

    // Corrupt.
    assert!(shared.set(&key, "{\"messages\": [trunc", shared.ttl()).await);
    let opened = ConversationSession::open(cached.conversations.clone(), id).await.unwrap();
    assert_eq!(opened.history(), history.as_slice());
    assert_eq!(entry(shared.get(&key).await), first, "rebuilt identically");
}

/// A conversation of `turns` exchanges (a question, `rounds` of parallel tool calls each with
/// their results, an answer), cut after `keep` messages (a model call may come mid-loop).
fn generated(turns: &[(usize, Vec<usize>)], keep: usize) -> Vec<Message> {
    let mut messages = Vec::new();
    let mut next_id = 0;
    for (length, rounds) in turns {
        messages.push(Message::user("q".repeat(*length)));
        for parallel in rounds {
            let ids: Vec<String> = (0..*parallel).map(|i| format!("call_{}", next_id + i)).collect();
            next_id += parallel;
            let tool_calls = ids.iter().map(|id| call(id, "lookup", json!({"q": id}))).collect();
            messages.push(Message::Assistant { content: String::new(), tool_calls });
            messages.extend(ids.iter().map(|id| tool(id, "lookup", &"r".repeat(*length))));
        }
        messages.push(Message::assistant("a".repeat(*length)));
    }
    messages.truncate(keep.max(1));
    messages
}

fn fits(messages: &[Message], budget: WindowBudget) -> bool {
    messages.len() <= budget.max_messages
        && messages.iter().map(aae_agents::conversation::estimated_tokens).sum::<u64>() <= budget.max_tokens
}

proptest! {
    #[test]
    fn the_window_never_separates_tool_calls_from_their_results(
        turns in prop::collection::vec((0usize..120, prop::collection::vec(1usize..4, 0..4)), 1..10),
        keep in 1usize..200,
        max_messages in 1usize..25,
        max_tokens in 1u64..400,
    ) {
        let messages = generated(&turns, keep);
        let budget = WindowBudget { max_messages, max_tokens };
        let start = window_start(&messages, budget);
        let window = &messages[start..];
        prop_assert!(!window.is_empty(), "the newest message is always kept");
        prop_assert!(!matches!(window[0], Message::Tool { .. }), "a window never starts with a tool result");
        for (i, message) in window.iter().enumerate() {
            if let Message::Tool { tool_call_id, .. } = message {
                let answered = window[..i].iter().any(|m| matches!(m, Message::Assistant { tool_calls, .. } if tool_calls.iter().any(|c| &c.id == tool_call_id)));
                prop_assert!(answered, "result {} kept without its call", tool_call_id);
            }
            if let Message::Assistant { tool_calls, .. } = message {
                for c in tool_calls {
                    let in_history = messages.iter().any(|m| matches!(m, Message::Tool { tool_call_id, .. } if *tool_call_id == c.id));
                    let in_window = window.iter().any(|m| matches!(m, Message::Tool { tool_call_id, .. } if *tool_call_id == c.id));
                    prop_assert_eq!(in_history, in_window, "call {} kept without its result", &c.id);
                }
            }
        }
        let valid = |s: usize| !matches!(messages[s], Message::Tool { .. });
        if !fits(window, budget) {
            prop_assert!(!(start + 1..messages.len()).any(valid), "over budget only for the newest unit");
        }
        for s in (0..start).filter(|s| valid(*s)) {
            prop_assert!(!fits(&messages[s..], budget), "a longer window from {} would fit", s);
        }
    }
}

/// Three exchanges with a tool call each (12 messages) and a new question.
fn long_input() -> Vec<Message> {
    let mut input = Vec::new();
    for (i, city) in ["Oslo", "Lima", "Pune"].iter().enumerate() {
        let id = format!("call_{i}");
        input.push(Message::user(format!("Weather in {city}?")));
        input.push(Message::Assistant {
            content: String::new(),
            tool_calls: vec![call(&id, "get_weather", json!({"city": city}))],
        });
        input.push(tool(&id, "get_weather", &format!("{{\"city\":\"{city}\",\"celsius\":{i}}}")));
        input.push(Message::assistant(format!("{i} degrees in {city}.")));
    }
    input.push(Message::user("Which was coldest?"));
    input
}

#[tokio::test]
async fn the_summarising_manager_replaces_the_dropped_prefix_with_the_models_summary() {
    let w = world();
    w.model.script("summarizer", [text("Oslo 0, Lima 1, Pune 2 degrees.")]);
    w.model.script("planner", [text("Oslo.")]);
    // Four messages: the summary and three kept. Three would start at the third exchange's tool
    // result, so the window starts after it and keeps two.
    let manager = Summarizing::new(WindowBudget { max_messages: 4, max_tokens: 100_000 })
        .with_prompt("summarizer: summarise the conversation.");
    let agent = Agent::new("planner", "planner: answer.").with_conversation_manager(Arc::new(manager));
    let input = long_input();
    let output = agent.run(&w.context, input.clone()).await.unwrap();

    let summary_requests = w.model.requests_of("summarizer");
    assert_eq!(summary_requests.len(), 1);
    let Message::User { content: dropped } = &summary_requests[0].messages[1] else { panic!("a user message") };
    assert!(dropped.contains("user: Weather in Oslo?"), "{dropped}");
    assert!(dropped.contains(r#"tool get_weather (call_2) returned: {"city":"Pune","celsius":2}"#), "{dropped}");
    assert!(!dropped.contains("2 degrees in Pune"), "kept messages are not summarised: {dropped}");

    let seen = &w.model.requests_of("planner")[0].messages;
    let mut expected = vec![
        Message::system("planner: answer."),
        Message::user(format!("{SUMMARY_PREFIX}Oslo 0, Lima 1, Pune 2 degrees.")),
    ];
    expected.extend_from_slice(&input[11..]);
    assert_eq!(seen, &expected);

    let mut transcript = input;
    transcript.push(Message::assistant("Oslo."));
    assert_eq!(output.messages, transcript, "the run's transcript stays complete");
}

#[tokio::test]
async fn a_failed_summary_falls_back_to_the_plain_window() {
    let w = world();
    // No script for the summarizer: its call fails.
    w.model.script("planner", [text("Oslo."), text("Oslo.")]);
    let budget = WindowBudget { max_messages: 4, max_tokens: 100_000 };
    let manager = Summarizing::new(budget).with_prompt("summarizer: summarise the conversation.");
    let summarising = Agent::new("planner", "planner: answer.").with_conversation_manager(Arc::new(manager));
    let input = long_input();
    let output = summarising.run(&w.context, input.clone()).await.unwrap();
    assert!(!w.model.requests_of("summarizer").is_empty(), "the summary was attempted");
    assert_eq!(output.answer, "Oslo.");

    let windowed =
        Agent::new("planner", "planner: answer.").with_conversation_manager(Arc::new(SlidingWindow::new(budget)));
    windowed.run(&w.context, input.clone()).await.unwrap();

    let requests = w.model.requests_of("planner");
    // The last four messages start with the third exchange's tool call, kept with its result.
    let mut expected = vec![Message::system("planner: answer.")];
    expected.extend_from_slice(&input[9..]);
    assert_eq!(requests[0].messages, expected, "summarising fell back to the window");
    assert_eq!(requests[1].messages, expected, "the plain window");
}
