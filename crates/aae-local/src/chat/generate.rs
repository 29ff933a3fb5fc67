//! The blocking generation loop: template → tokens → prompt evaluation → sample, stream, repeat.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaChatMessage;
use llama_cpp_2::sampling::LlamaSampler;
use tracing::debug;

use super::deltas::{Deltas, Pushed};
use super::{ChatMessage, ChatOutput, ChatRequest, Constraint, Inner, StopReason, backend};
use crate::error::LocalError;

/// Tokens evaluated per `decode` call while reading the prompt.
const PROMPT_BATCH: usize = 512;
/// Contexts are sized in steps of this many tokens.
const CONTEXT_STEP: u32 = 256;

pub(super) fn render(inner: &Inner, messages: &[ChatMessage]) -> Result<String, LocalError> {
    if messages.is_empty() {
        return Err(LocalError::InvalidRequest("no messages".to_owned()));
    }
    let chat = messages
        .iter()
        .map(|m| LlamaChatMessage::new(m.role.as_str().to_owned(), m.content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| LocalError::InvalidRequest(format!("message text: {err}")))?;
    inner
        .model
        .apply_chat_template(&inner.template, &chat, true)
        .map_err(|err| LocalError::Inference(format!("chat template: {err}")))
}

fn validate(request: &ChatRequest) -> Result<(), LocalError> {
    let invalid = |message: &str| Err(LocalError::InvalidRequest(message.to_owned()));
    if request.max_tokens == 0 {
        return invalid("max_tokens must be at least 1");
    }
    if !request.temperature.is_finite() || request.temperature < 0.0 {
        return invalid("temperature must be a finite number >= 0");
    }
    if let Some(top_p) = request.top_p
        && !(top_p > 0.0 && top_p <= 1.0)
    {
        return invalid("top_p must be in (0, 1]");
    }
    Ok(())
}

fn sampler(inner: &Inner, request: &ChatRequest) -> Result<LlamaSampler, LocalError> {
    let mut chain = Vec::new();
    if let Some(constraint) = &request.constraint {
        let grammar = match constraint {
            Constraint::Grammar(gbnf) => gbnf.clone(),
            Constraint::JsonSchema(schema) => {
                llama_cpp_2::json_schema_to_grammar(&schema.to_string()).map_err(|err| {
                    LocalError::InvalidRequest(format!("json schema not convertible to a grammar: {err}"))
                })?
            }
        };
        let grammar = LlamaSampler::grammar(&inner.model, &grammar, "root")
            .map_err(|err| LocalError::InvalidRequest(format!("invalid grammar (start rule must be `root`): {err}")))?;
        chain.push(grammar);
    }
    if request.temperature == 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if let Some(top_p) = request.top_p {
            chain.push(LlamaSampler::top_p(top_p, 1));
        }
        chain.push(LlamaSampler::temp(request.temperature));
        chain.push(LlamaSampler::dist(request.seed));
    }
    Ok(LlamaSampler::chain_simple(chain))
}

pub(super) fn run(
    inner: &Inner,
    request: &ChatRequest,
    on_delta: &mut dyn FnMut(&str) -> bool,
) -> Result<ChatOutput, LocalError> {
    validate(request)?;
    let prompt = render(inner, &request.messages)?;
    let vocab = inner.model.vocab();
    let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
    let prompt_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
    let limit = inner.model.n_ctx_train();
    if prompt_tokens >= limit {
        return Err(LocalError::InvalidRequest(format!(
            "prompt of {prompt_tokens} tokens does not fit the model's context of {limit} tokens"
        )));
    }
    let max_tokens = request.max_tokens.min(limit - prompt_tokens);
    let wanted = (prompt_tokens + max_tokens).div_ceil(CONTEXT_STEP) * CONTEXT_STEP;
    let threads = i32::try_from(inner.settings.threads.get()).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(wanted.min(limit)))
        .with_n_batch(PROMPT_BATCH as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = {
        let _guard = inner.new_context.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        inner
            .model
            .new_context(backend()?, params)
            .map_err(|err| LocalError::Inference(format!("cannot create a context: {err}")))?
    };
    let mut sampler = sampler(inner, request)?;
    let failed = |what: &str, err: &dyn std::fmt::Display| LocalError::Inference(format!("{what}: {err}"));

    // Prompt: evaluated in batches, logits only for its last token.
    let started = Instant::now();
    let mut batch = LlamaBatch::new(PROMPT_BATCH, 1);
    for (chunk_index, chunk) in tokens.chunks(PROMPT_BATCH).enumerate() {
        batch.clear();
        let offset = chunk_index * PROMPT_BATCH;
        for (i, token) in chunk.iter().enumerate() {
            let pos = offset + i;
            batch.add(*token, pos as i32, &[0], pos + 1 == tokens.len()).map_err(|err| failed("batch", &err))?;
        }
        ctx.decode(&mut batch).map_err(|err| failed("prompt evaluation", &err))?;
    }
    let prompt_time = started.elapsed();

    let started = Instant::now();
    let mut deltas = Deltas::new(&request.stop);
    let mut completion_tokens: u32 = 0;
    let mut position = tokens.len() as i32;
    let mut logits_index = batch.n_tokens() - 1;
    let mut piece = Vec::with_capacity(32);
    let mut stop_reason = StopReason::MaxTokens;
    let mut finished = false;
    while completion_tokens < max_tokens {
        let token = sampler.sample(&ctx, logits_index);
        if vocab.is_eog(token) && !request.ignore_end_of_turn {
            stop_reason = StopReason::EndOfTurn;
            break;
        }
        completion_tokens += 1;
        piece.clear();
        vocab.token_to_piece_into(token, &mut piece, false, None);
        match deltas.push(&piece) {
            Pushed::Continue { delta } => {
                if !delta.is_empty() && !on_delta(&delta) {
                    return Err(LocalError::Inference("generation cancelled".to_owned()));
                }
            }
            Pushed::Stop { delta, sequence } => {
                if !delta.is_empty() {
                    on_delta(&delta);
                }
                stop_reason = StopReason::StopSequence(sequence);
                finished = true;
                break;
            }
        }
        if completion_tokens == max_tokens {
            break;
        }
        batch.clear();
        batch.add(token, position, &[0], true).map_err(|err| failed("batch", &err))?;
        ctx.decode(&mut batch).map_err(|err| failed("token evaluation", &err))?;
        position += 1;
        logits_index = 0;
    }
    if !finished {
        let delta = match deltas.finish() {
            Pushed::Continue { delta } => delta,
            Pushed::Stop { delta, sequence } => {
                stop_reason = StopReason::StopSequence(sequence);
                delta
            }
        };
        if !delta.is_empty() {
            on_delta(&delta);
        }
    }
    let generation_time = started.elapsed();
    debug!(
        prompt_tokens,
        completion_tokens,
        prompt_ms = millis(prompt_time),
        generation_ms = millis(generation_time),
        "local generation finished"
    );
    Ok(ChatOutput {
        text: deltas.text().to_owned(),
        prompt_tokens,
        completion_tokens,
        stop_reason,
        prompt_time,
        generation_time,
    })
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
