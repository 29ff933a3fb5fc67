//! Router overhead benchmark (docs/benchmarks.md, `bench/router.sh`): the latency AAE's model
//! router adds over calling an OpenAI-compatible upstream directly, at a constant request rate.
//!
//! ```text
//! router_overhead fake --latency-ms 20 [--port P]
//!     runs aae-testkit's fake OpenAI-compatible server (fixed latency) until killed; prints its
//!     base URL on the first line of stdout
//! router_overhead load --mode direct|router|proxy --upstream URL --rate R --seconds S
//!                      [--stream] [--model M] [--api-key K] [--warmup-seconds W]
//!     sends R requests/s (open loop: each request is scheduled at its own instant, latency is
//!     measured from that instant so a stall is not hidden) and prints one JSON line:
//!     {mode, stream, rate, sent, ok, errors, achieved_rps, p50_ms, p90_ms, p99_ms, max_ms,
//!      cpu_ms_per_request, rss_mb}
//! ```
//!
//! `direct` posts to `{upstream}/chat/completions` with reqwest; `router` sends the same request
//! through `ModelRouter::chat` / `chat_stream` (OpenAI-compatible provider at `upstream`, rate
//! limits off, breaker and retries on as configured by default) in this process; `proxy` posts
//! to another gateway (LiteLLM) exactly as `direct` does. A streamed request ends at its last
//! byte (direct, proxy) or its `Stop` event (router). CPU is this process's user+system time
//! over the measured window, divided by the requests sent: for `router`, minus the `direct` run,
//! it is the router's own cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aae_config::{Config, ConfigSources};
use aae_models::{CallContext, ChatRequest, Message, ModelRouter, collect_stream};
use aae_testkit::{FakeModelServer, FakeReply};
use aae_types::UserModelPreference;
use anyhow::{Context, bail};
use futures::StreamExt;
use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fake") => fake(&args[1..]).await,
        Some("load") => load(&args[1..]).await,
        _ => bail!("usage: router_overhead fake|load …  (see the file's docs)"),
    }
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

async fn fake(args: &[String]) -> anyhow::Result<()> {
    let latency: u64 = number(args, "--latency-ms", 20)?;
    let port: u16 = number(args, "--port", 0)?;
    let server = FakeModelServer::openai_on(port).await?;
    server.set_latency(Duration::from_millis(latency));
    server.set_default(FakeReply::text("Wake up to bold flavour: coffee roasted this morning, at your door by noon."));
    server.set_recording(false);
    println!("{}", server.base_url());
    std::future::pending::<()>().await;
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Direct,
    Router,
    Proxy,
}

struct Target {
    mode: Mode,
    stream: bool,
    url: String,
    model: String,
    api_key: Option<String>,
    client: reqwest::Client,
    router: Option<ModelRouter>,
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::system("You write short ad copy."),
            Message::user(format!("Write a tagline for a coffee brand ({model}).")),
        ],
        max_tokens: Some(64),
        ..ChatRequest::default()
    }
}

impl Target {
    async fn call(&self) -> anyhow::Result<()> {
        if let Some(router) = &self.router {
            let context = CallContext {
                preference: Some(UserModelPreference::new("openai_compatible", &self.model)),
                ..CallContext::default()
            };
            let request = request(&self.model);
            if self.stream {
                let routed = router.chat_stream(&context, &request).await?;
                collect_stream(routed.stream).await?;
            } else {
                router.chat(&context, &request).await?;
            }
            return Ok(());
        }
        let body = serde_json::json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": "You write short ad copy."},
                {"role": "user", "content": format!("Write a tagline for a coffee brand ({}).", self.model)},
            ],
            "max_tokens": 64,
            "stream": self.stream,
        });
        let mut http = self.client.post(format!("{}/chat/completions", self.url)).json(&body);
        if let Some(key) = &self.api_key {
            http = http.bearer_auth(key);
        }
        let response = http.send().await?;
        let status = response.status();
        if !status.is_success() {
            bail!("http {status}: {}", response.text().await.unwrap_or_default());
        }
        let mut bytes = response.bytes_stream();
        while let Some(chunk) = bytes.next().await {
            chunk?;
        }
        Ok(())
    }
}

async fn target(args: &[String]) -> anyhow::Result<Target> {
    let mode = match flag(args, "--mode") {
        Some("direct") => Mode::Direct,
        Some("router") => Mode::Router,
        Some("proxy") => Mode::Proxy,
        other => bail!("--mode must be direct, router or proxy, not {other:?}"),
    };
    let url = flag(args, "--upstream").context("--upstream URL is required")?.trim_end_matches('/').to_owned();
    let model = flag(args, "--model").unwrap_or("fake-20ms").to_owned();
    let client = reqwest::Client::builder().pool_max_idle_per_host(4096).tcp_nodelay(true).build()?;
    let router = if mode == Mode::Router {
        let sources = ConfigSources { ignore_env: true, ..Default::default() }
            .set("providers.openai_compatible.base_url", &url)
            .set("providers.openai_compatible.models", &model)
            .set("router.limits.requests_per_minute", "0")
            .set("router.limits.tokens_per_minute", "0");
        let config = Config::load(&sources)?;
        Some(ModelRouter::from_config(&config).await?)
    } else {
        None
    };
    let api_key = flag(args, "--api-key").map(str::to_owned);
    Ok(Target { mode, stream: args.iter().any(|a| a == "--stream"), url, model, api_key, client, router })
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return Duration::ZERO };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn run_at(target: &Arc<Target>, rate: f64, seconds: f64) -> (Vec<Duration>, usize, usize) {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = (rate * seconds).round() as usize;
    let start = Instant::now() + Duration::from_millis(10);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (target, latencies, errors) = (target.clone(), latencies.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            match target.call().await {
                Ok(()) => latencies.lock().await.push(due.elapsed()),
                Err(error) => {
                    if errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 3 {
                        eprintln!("request failed: {error:#}");
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let latencies = std::mem::take(&mut *latencies.lock().await);
    (latencies, total, errors.load(std::sync::atomic::Ordering::Relaxed))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn load(args: &[String]) -> anyhow::Result<()> {
    let target = Arc::new(target(args).await?);
    let rate: f64 = number(args, "--rate", 100.0)?;
    let seconds: f64 = number(args, "--seconds", 10.0)?;
    let warmup: f64 = number(args, "--warmup-seconds", 2.0)?;
    if warmup > 0.0 {
        run_at(&target, rate.min(200.0), warmup).await;
    }
    let cpu_before = cpu_time();
    let started = Instant::now();
    let (mut latencies, sent, errors) = run_at(&target, rate, seconds).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_time().saturating_sub(cpu_before);
    latencies.sort_unstable();
    let mode = match target.mode {
        Mode::Direct => "direct",
        Mode::Router => "router",
        Mode::Proxy => "proxy",
    };
    let report = serde_json::json!({
        "mode": mode,
        "stream": target.stream,
        "rate": rate,
        "sent": sent,
        "ok": latencies.len(),
        "errors": errors,
        "achieved_rps": latencies.len() as f64 / elapsed,
        "p50_ms": percentile(&latencies, 0.50),
        "p90_ms": percentile(&latencies, 0.90),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": percentile(&latencies, 1.0),
        "cpu_ms_per_request": cpu.as_secs_f64() * 1000.0 / sent.max(1) as f64,
        "rss_mb": rss_mb(),
    });
    println!("{report}");
    Ok(())
}
