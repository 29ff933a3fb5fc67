//! Orchestration overhead benchmark (issue 5, docs/benchmarks.md, `bench/orchestration.sh`):
//! the CPU time and peak memory AAE's agent loop costs per tool-using turn, without the model.
//! `bench/orchestration_strands.py` runs the same script on Strands Agents.
//!
//! ```text
//! orchestration_bench --upstream URL [--conversations N] [--warmup W] [--concurrency C] [--model M]
//! ```
//!
//! The script: an orchestrator whose three tools are specialist agents ([`AgentTool`]:
//! `market_insights_agent`, `ad_creative_agent`, `campaign_automation_agent`), each with one
//! plain tool (`lookup_audience`, `write_copy`, `publish_page`: small JSON built from the
//! arguments). The model is the scripted OpenAI-compatible server of aae-testkit
//! (`cargo run --example scripted_openai -p aae-testkit`) at `URL` (up to and including `/v1`),
//! reached through aae-models' [`ModelRouter`] with one provider, the OpenAI-compatible one
//! (default retry policy and breaker, rate limits off; streamed turns, as [`Agent::run`] makes
//! them). Per conversation the server makes the orchestrator call the three specialists in
//! turn, and each specialist its tool once: 10 model calls and 6 tool-using turns.
//!
//! The agents are built once; `W` warm-up conversations run first, then `N` measured ones, `C`
//! at a time (1: one after the other). It prints one JSON line: the counts seen by the agents'
//! event stream and by the server over the measured conversations (`GET /stats` before and
//! after), this process's CPU time over them (the sum of its threads' run time from
//! `/proc/self/task/*/schedstat`, in nanoseconds; `cpu_ms_ticks` is the same from
//! `/proc/self/stat` in 10 ms ticks, as a cross-check), per tool-using turn and per
//! conversation, the resident memory after set-up and its peak (`VmHWM`), and the wall time.
//! The model server runs in its own process, so its CPU is not counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aae_agents::{Agent, AgentEvent, AgentTool, EventSink, RunContext, Tool, ToolError, ToolOutput};
use aae_config::{Config, ConfigSources};
use aae_models::{CallContext, Message, ModelRouter, OpenAiCompatibleProvider};
use aae_types::{Provider, UserModelPreference};
use anyhow::{Context, bail};
use async_trait::async_trait;
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// The prompts and the request are the same text as in bench/orchestration_strands.py.
const ORCHESTRATOR_PROMPT: &str = "You run advertising campaigns. Ask market_insights_agent for insights, \
then ad_creative_agent for the copy, then campaign_automation_agent to publish, and finish with a short summary.";
const INSIGHTS_PROMPT: &str = "You are a market analyst. Look the audience up with lookup_audience and answer \
with concise insights.";
const CREATIVE_PROMPT: &str = "You are an ad copywriter. Write the copy with write_copy and answer with it.";
const AUTOMATION_PROMPT: &str = "You publish campaigns. Publish the landing page with publish_page and answer \
with what was published.";
const REQUEST: &str = "Run the Lumen Roast launch campaign: a specialty coffee subscription for remote workers \
in Berlin, budget 5,000 EUR, warm tone.";

/// A plain tool: `name(a, b)` answering small JSON built from its two string arguments.
struct PlainTool {
    name: &'static str,
    description: &'static str,
    arguments: [&'static str; 2],
    answer: fn(&str, &str) -> Value,
}

#[async_trait]
impl Tool for PlainTool {
    fn name(&self) -> &str {
        self.name
    }

    fn description(&self) -> &str {
        self.description
    }

    fn parameters(&self) -> Value {
        let [a, b] = self.arguments;
        json!({"type": "object", "properties": {a: {"type": "string"}, b: {"type": "string"}}, "required": [a, b]})
    }

    async fn call(&self, _context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let [a, b] = self.arguments;
        let text = |key: &str| arguments.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok((self.answer)(&text(a), &text(b)))
    }
}

fn lookup_audience() -> PlainTool {
    PlainTool {
        name: "lookup_audience",
        description: "Looks up an audience segment in a region.",
        arguments: ["segment", "region"],
        answer: |segment, region| {
            json!({"segment": segment, "region": region, "size": 1000 * (segment.len() + region.len()),
                "interests": ["coffee", "productivity", "home office"]})
        },
    }
}

fn write_copy() -> PlainTool {
    PlainTool {
        name: "write_copy",
        description: "Writes ad copy for a product in a tone.",
        arguments: ["product", "tone"],
        answer: |product, tone| {
            json!({"headline": format!("{product}: fresh beans, brighter mornings"), "tone": tone,
                "call_to_action": "Start tasting"})
        },
    }
}

fn publish_page() -> PlainTool {
    PlainTool {
        name: "publish_page",
        description: "Publishes a landing page.",
        arguments: ["title", "slug"],
        answer: |title, slug| json!({"url": format!("https://lumen.example/{slug}"), "title": title, "status": "published"}),
    }
}

fn orchestrator() -> Agent {
    let specialist = |name: &str, description: &str, prompt: &str, tool: PlainTool| {
        AgentTool::new(Agent::new(name, prompt).with_description(description).with_tool(tool))
    };
    Agent::new("orchestrator", ORCHESTRATOR_PROMPT)
        .with_tool(specialist(
            "market_insights_agent",
            "Researches the audience and the market; answers with insights.",
            INSIGHTS_PROMPT,
            lookup_audience(),
        ))
        .with_tool(specialist(
            "ad_creative_agent",
            "Writes the ad copy; answers with it.",
            CREATIVE_PROMPT,
            write_copy(),
        ))
        .with_tool(specialist(
            "campaign_automation_agent",
            "Publishes the landing page; answers with what was published.",
            AUTOMATION_PROMPT,
            publish_page(),
        ))
}

/// What the event stream saw.
#[derive(Default)]
struct Counts {
    model_calls: AtomicU64,
    tool_calls: AtomicU64,
    tool_errors: AtomicU64,
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn number<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match flag(args, name) {
        Some(text) => text.parse().ok().with_context(|| format!("{name} {text} is not a number")),
        None => Ok(default),
    }
}

/// Sum of the run time of this process's threads, from `/proc/self/task/*/schedstat`, and the
/// number of threads summed.
fn thread_cpu() -> anyhow::Result<(Duration, usize)> {
    let mut total = 0u64;
    let mut threads = 0;
    for entry in std::fs::read_dir("/proc/self/task").context("reading /proc/self/task")? {
        let path = entry?.path().join("schedstat");
        // A thread may exit between the listing and the read.
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let nanos: u64 = text.split_whitespace().next().and_then(|n| n.parse().ok()).context("schedstat format")?;
        total += nanos;
        threads += 1;
    }
    Ok((Duration::from_nanos(total), threads))
}

/// User plus system time of the process (exited threads included) in 10 ms ticks.
fn tick_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return Duration::ZERO };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A `/proc/self/status` value in MiB (`VmRSS`, `VmHWM`).
fn status_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The scripted server's counters (`GET /stats` next to `/v1`), over a plain HTTP/1.1 socket.
async fn server_stats(upstream: &str) -> anyhow::Result<Value> {
    let authority = upstream
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .context("--upstream must be http://host:port/v1")?;
    let mut socket = tokio::net::TcpStream::connect(authority).await.context("connecting for /stats")?;
    let request = format!("GET /stats HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await?;
    let mut reply = String::new();
    socket.read_to_string(&mut reply).await?;
    let (head, body) = reply.split_once("\r\n\r\n").context("no HTTP body from /stats")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("/stats answered {}", head.lines().next().unwrap_or_default());
    }
    serde_json::from_str(body).context("/stats is not JSON")
}

fn delta(after: &Value, before: &Value) -> Value {
    match (after, before) {
        (Value::Object(after), Value::Object(before)) => {
            Value::Object(after.iter().map(|(k, v)| (k.clone(), delta(v, &before[k]))).collect())
        }
        (Value::Number(after), Value::Number(before)) => {
            json!(after.as_u64().unwrap_or(0).saturating_sub(before.as_u64().unwrap_or(0)))
        }
        (after, _) => after.clone(),
    }
}

async fn conversations(agent: &Agent, context: &RunContext, count: usize, concurrency: usize) -> anyhow::Result<()> {
    let runs = futures::stream::iter(0..count)
        .map(|_| agent.run(context, vec![Message::user(REQUEST)]))
        .buffer_unordered(concurrency.max(1));
    futures::pin_mut!(runs);
    while let Some(result) = runs.next().await {
        let output = result.context("a conversation failed")?;
        if output.turns != 4 {
            bail!("the orchestrator took {} turns, not 4", output.turns);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let upstream = flag(&args, "--upstream").context("--upstream URL is required")?.trim_end_matches('/').to_owned();
    let count: usize = number(&args, "--conversations", 50)?;
    let warmup: usize = number(&args, "--warmup", 5)?;
    let concurrency: usize = number(&args, "--concurrency", 1)?;
    let model = flag(&args, "--model").unwrap_or("scripted").to_owned();

    let sources = ConfigSources { ignore_env: true, ..Default::default() }
        .set("providers.openai_compatible.base_url", &upstream)
        .set("providers.openai_compatible.models", &model)
        .set("router.limits.requests_per_minute", "0")
        .set("router.limits.tokens_per_minute", "0");
    let config = Config::load(&sources)?;
    // One provider, the OpenAI-compatible one (with a dummy key, as the Strands side sends).
    let provider = OpenAiCompatibleProvider::new(&upstream, Some(SecretString::from("scripted-key")));
    let router = Arc::new(ModelRouter::new(&config)?.with_provider(Provider::OpenaiCompatible, Arc::new(provider)));
    let counts = Arc::new(Counts::default());
    let sink_counts = counts.clone();
    let events = EventSink::new(move |event| match event {
        AgentEvent::Usage { .. } => drop(sink_counts.model_calls.fetch_add(1, Ordering::Relaxed)),
        AgentEvent::ToolResult { is_error, .. } => {
            sink_counts.tool_calls.fetch_add(1, Ordering::Relaxed);
            if is_error {
                sink_counts.tool_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        _ => {}
    });
    let call =
        CallContext { preference: Some(UserModelPreference::new("openai_compatible", &model)), ..Default::default() };
    let context = RunContext::new(router, call, events);
    let agent = orchestrator();
    let rss_setup = status_mib("VmRSS");

    conversations(&agent, &context, warmup, concurrency).await?;
    let stats_before = server_stats(&upstream).await?;
    let model_calls_before = counts.model_calls.load(Ordering::Relaxed);
    let tool_calls_before = counts.tool_calls.load(Ordering::Relaxed);
    let (cpu_before, threads_before) = thread_cpu()?;
    let ticks_before = tick_cpu();
    let started = Instant::now();
    conversations(&agent, &context, count, concurrency).await?;
    let wall = started.elapsed();
    let (cpu_after, threads_after) = thread_cpu()?;
    let ticks = tick_cpu().saturating_sub(ticks_before);
    let cpu = cpu_after.saturating_sub(cpu_before);
    let server = delta(&server_stats(&upstream).await?, &stats_before);

    let tool_using_turns = server["tool_call_replies"].as_u64().unwrap_or(0);
    let cpu_ms = cpu.as_secs_f64() * 1000.0;
    let report = json!({
        "side": "aae",
        "variant": "aae",
        "concurrency": concurrency,
        "conversations": count,
        "warmup": warmup,
        "model_calls": counts.model_calls.load(Ordering::Relaxed) - model_calls_before,
        "tool_calls": counts.tool_calls.load(Ordering::Relaxed) - tool_calls_before,
        "tool_errors": counts.tool_errors.load(Ordering::Relaxed),
        "server": server,
        "tool_using_turns": tool_using_turns,
        "cpu_ms": cpu_ms,
        "cpu_ms_ticks": ticks.as_secs_f64() * 1000.0,
        "cpu_ms_per_tool_turn": cpu_ms / tool_using_turns.max(1) as f64,
        "cpu_ms_per_conversation": cpu_ms / count.max(1) as f64,
        "threads": [threads_before, threads_after],
        "rss_setup_mib": rss_setup,
        "peak_rss_mib": status_mib("VmHWM"),
        "wall_s": wall.as_secs_f64(),
    });
    println!("{report}");
    Ok(())
}
