//! Measures the embedded local models and prints one JSON object:
//! - chat: prompt and generated tokens per second at each thread count (greedy, the same prompt,
//!   exactly `--tokens` generated: the end-of-turn token is ignored);
//! - embeddings: sentences per second over `--sentences` short sentences.
//!
//! ```text
//! cargo run --release -p aae-local --example local_bench -- [--models-dir DIR] [--threads 1,2]
//!     [--tokens 128] [--runs 3] [--sentences-file FILE] [--only chat|embed] [--batch-size 32]
//!     [--print-prompt] [--print-sentences]
//! ```
//! The prompt is built in; the sentences are 256 generated ones unless a file (one a line) is
//! given. The weights are fetched
//! into the models directory first when missing (default `~/.cache/aae-tools/models`).
//! `--print-prompt` and `--print-sentences` print the templated prompt and the default sentences
//! and exit, so the Python peers get exactly the same input.
//! The embedder's threads follow `RAYON_NUM_THREADS`. `bench/local_models.sh` runs it against
//! llama-cpp-python and sentence-transformers.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Instant;

use aae_local::{ChatMessage, ChatRequest, ChatSettings, EmbedSettings, LocalChatModel, LocalEmbedder};
use anyhow::{Context, bail};
use serde_json::json;

const USER_PROMPT: &str = "You are writing copy for an online advertising campaign. The product is a \
reusable stainless steel water bottle that keeps drinks cold for 24 hours and hot for 12 hours. The \
audience is young professionals who commute by bicycle and care about the environment. Write a short \
story, in the second person, about a morning commute in which the bottle plays a small but memorable \
part, then list three possible headlines and two calls to action for the campaign.";

struct Args {
    models_dir: PathBuf,
    threads: Vec<u32>,
    tokens: u32,
    runs: usize,
    sentences_file: Option<PathBuf>,
    print_prompt: bool,
    print_sentences: bool,
    only: Option<String>,
    batch_size: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    let mut args = Args {
        models_dir: home.join(".cache/aae-tools/models"),
        threads: vec![1, 2],
        tokens: 128,
        runs: 3,
        sentences_file: None,
        print_prompt: false,
        print_sentences: false,
        only: None,
        batch_size: EmbedSettings::default().batch_size,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--models-dir" => args.models_dir = value()?.into(),
            "--threads" => {
                args.threads = value()?.split(',').map(str::parse).collect::<Result<_, _>>().context("--threads")?
            }
            "--tokens" => args.tokens = value()?.parse().context("--tokens")?,
            "--runs" => args.runs = value()?.parse().context("--runs")?,
            "--sentences-file" => args.sentences_file = Some(value()?.into()),
            "--print-prompt" => args.print_prompt = true,
            "--print-sentences" => args.print_sentences = true,
            "--only" => args.only = Some(value()?),
            "--batch-size" => args.batch_size = value()?.parse().context("--batch-size")?,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

/// 256 short, distinct sentences (the Python peer generates the same when given no file).
fn default_sentences() -> Vec<String> {
    let subjects = ["The new campaign", "Our summer sale", "This coffee brand", "A local bakery", "The running shoe"];
    let verbs = ["reaches", "delights", "surprises", "welcomes", "inspires", "rewards", "invites", "thanks"];
    let objects = ["early risers", "busy parents", "cyclists", "students", "remote workers", "new customers"];
    (0..256)
        .map(|i| {
            let (s, v, o) = (subjects[i % 5], verbs[(i / 5) % 8], objects[(i / 40) % 6]);
            format!("{s} {v} {o} with offer number {i}.")
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    if args.print_sentences {
        println!("{}", default_sentences().join("\n"));
        return Ok(());
    }
    aae_local::fetch(&args.models_dir, &mut |event| eprintln!("fetch: {event:?}"))?;
    let messages = vec![ChatMessage::user(USER_PROMPT)];

    let (chat, embed) = match args.only.as_deref() {
        None => (true, true),
        Some("chat") => (true, false),
        Some("embed") => (false, true),
        Some(other) => bail!("--only takes chat or embed, not {other}"),
    };

    let mut generation = Vec::new();
    for &threads in args.threads.iter().filter(|_| chat || args.print_prompt) {
        let settings =
            ChatSettings { threads: NonZeroU32::new(threads).context("threads >= 1")?, ..Default::default() };
        let model = LocalChatModel::load(&args.models_dir, settings)?;
        if args.print_prompt {
            print!("{}", model.render_prompt(&messages)?);
            return Ok(());
        }
        let mut request = ChatRequest::new(messages.clone());
        request.max_tokens = args.tokens;
        request.ignore_end_of_turn = true;
        model.generate_blocking(&request, &mut |_| true)?; // warm-up
        let (mut prompt_rates, mut gen_rates) = (Vec::new(), Vec::new());
        let mut counts = (0, 0);
        for _ in 0..args.runs {
            let out = model.generate_blocking(&request, &mut |_| true)?;
            counts = (out.prompt_tokens, out.completion_tokens);
            prompt_rates.push(f64::from(out.prompt_tokens) / out.prompt_time.as_secs_f64());
            gen_rates.push(f64::from(out.completion_tokens) / out.generation_time.as_secs_f64());
        }
        generation.push(json!({
            "threads": threads,
            "prompt_tokens": counts.0,
            "generated_tokens": counts.1,
            "prompt_tokens_per_s": round1(median(prompt_rates)),
            "generated_tokens_per_s": round1(median(gen_rates)),
        }));
    }

    let mut report = json!({
        "engine": "aae-local: llama-cpp-2 0.1.160 (llama.cpp), packed BERT on ndarray 0.17 / matrixmultiply 0.3.11",
        "generation": generation,
        "runs": args.runs,
    });
    if embed {
        report["embeddings"] = embeddings(&args)?;
    }
    println!("{report}");
    Ok(())
}

fn embeddings(args: &Args) -> anyhow::Result<serde_json::Value> {
    let sentences = match &args.sentences_file {
        Some(path) => std::fs::read_to_string(path)?.lines().map(str::to_owned).collect(),
        None => default_sentences(),
    };
    let embedder = LocalEmbedder::load(&args.models_dir, EmbedSettings { batch_size: args.batch_size })?;
    embedder.embed_blocking(&sentences[..sentences.len().min(32)])?; // warm-up
    let mut rates = Vec::new();
    for _ in 0..args.runs {
        let started = Instant::now();
        let vectors = embedder.embed_blocking(&sentences)?;
        rates.push(vectors.len() as f64 / started.elapsed().as_secs_f64());
    }
    Ok(json!({
        "sentences": sentences.len(),
        "batch_size": args.batch_size,
        "threads": std::env::var("RAYON_NUM_THREADS").ok(),
        "sentences_per_s": round1(median(rates)),
    }))
}
