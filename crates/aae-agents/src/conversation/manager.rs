//! Conversation managers: what the model is shown of a long conversation, applied by the agent
//! loop before each model call (Strands' `SlidingWindowConversationManager` and
//! `SummarizingConversationManager` are the reference).
//!
//! A window is always a suffix of the conversation that does not start with a tool result, so an
//! assistant turn's tool calls and their results are kept or dropped together.

use aae_models::{CallContext, ChatRequest, Message};
use async_trait::async_trait;

use crate::agent::RunContext;

/// Shortens what the model is shown so it fits a budget.
#[async_trait]
pub trait ConversationManager: Send + Sync {
    /// Shortens `messages` (oldest first, without the system prompt) in place. Never separates
    /// an assistant's tool calls from their results and always keeps the newest message. Never
    /// fails: a manager that cannot do better falls back to the plain window.
    async fn reduce(&self, context: &RunContext, call: &CallContext, messages: &mut Vec<Message>);
}

/// How much of a conversation the model is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowBudget {
    /// Most messages.
    pub max_messages: usize,
    /// Most tokens, as [`estimated_tokens`] counts them.
    pub max_tokens: u64,
}

impl Default for WindowBudget {
    fn default() -> Self {
        Self { max_messages: 40, max_tokens: 24_000 }
    }
}

/// A rough token count of one message (4 characters a token, as the router's estimate, plus a
/// few tokens of framing).
pub fn estimated_tokens(message: &Message) -> u64 {
    let chars = match message {
        Message::System { content } | Message::User { content } => content.len(),
        Message::Assistant { content, tool_calls } => {
            content.len()
                + tool_calls.iter().map(|c| c.id.len() + c.name.len() + c.arguments.to_string().len()).sum::<usize>()
        }
        Message::Tool { tool_call_id, name, content } => tool_call_id.len() + name.len() + content.len(),
    };
    (chars as u64).div_ceil(4) + 4
}

/// Where the window of `messages` starts: the longest suffix within `budget` that does not start
/// with a tool result. When even the newest messages do not fit, the newest suffix that does not
/// start with a tool result (the last turn with its tool results), over budget rather than split.
pub fn window_start(messages: &[Message], budget: WindowBudget) -> usize {
    let n = messages.len();
    let mut required = n;
    let mut tokens = 0u64;
    for (i, message) in messages.iter().enumerate().rev() {
        tokens += estimated_tokens(message);
        if n - i > budget.max_messages || tokens > budget.max_tokens {
            break;
        }
        required = i;
    }
    if required == 0 {
        return 0;
    }
    let starts_window = |i: &usize| !matches!(messages[*i], Message::Tool { .. });
    (required..n).find(starts_window).or_else(|| (0..required).rev().find(starts_window)).unwrap_or(0)
}

/// Drops the oldest messages that do not fit (Strands' `SlidingWindowConversationManager`).
#[derive(Debug, Clone, Default)]
pub struct SlidingWindow {
    budget: WindowBudget,
}

impl SlidingWindow {
    /// A window of `budget`.
    pub fn new(budget: WindowBudget) -> Self {
        Self { budget }
    }
}

#[async_trait]
impl ConversationManager for SlidingWindow {
    async fn reduce(&self, _context: &RunContext, _call: &CallContext, messages: &mut Vec<Message>) {
        let start = window_start(messages, self.budget);
        if start > 0 {
            tracing::debug!(dropped = start, kept = messages.len() - start, "conversation window applied");
            messages.drain(..start);
        }
    }
}

/// The system prompt of the summary call, unless [`Summarizing::with_prompt`] replaces it.
pub const DEFAULT_SUMMARY_PROMPT: &str = "You summarise the earlier part of a conversation between a user, an \
     assistant and its tools so the assistant can continue it. Keep every fact, decision, name, number, \
     tool result and open question the assistant needs; drop pleasantries. Answer with the summary only.";

/// What the summary message starts with.
pub const SUMMARY_PREFIX: &str = "Summary of the earlier conversation:\n";

/// Replaces the messages that do not fit with one user message summarising them, written by
/// the model through the router (so the caller's preference and credits apply); the newest
/// messages are kept as they are (Strands' `SummarizingConversationManager`). When the summary
/// call fails, it drops them as [`SlidingWindow`] does.
#[derive(Debug, Clone)]
pub struct Summarizing {
    budget: WindowBudget,
    prompt: String,
    summary_max_tokens: u32,
}

impl Summarizing {
    /// A window of `budget`, one message and up to 1024 tokens of it left for the summary.
    pub fn new(budget: WindowBudget) -> Self {
        Self { budget, prompt: DEFAULT_SUMMARY_PROMPT.to_owned(), summary_max_tokens: 1024 }
    }

    /// Another system prompt for the summary call.
    pub fn with_prompt(mut self, prompt: &str) -> Self {
        self.prompt = prompt.to_owned();
        self
    }

    /// The most tokens the summary may have.
    pub fn with_summary_max_tokens(mut self, tokens: u32) -> Self {
        self.summary_max_tokens = tokens;
        self
    }

    /// The budget of the kept messages: the whole budget less room for the summary.
    fn kept_budget(&self) -> WindowBudget {
        WindowBudget {
            max_messages: self.budget.max_messages.saturating_sub(1).max(1),
            max_tokens: self.budget.max_tokens.saturating_sub(u64::from(self.summary_max_tokens) + 4),
        }
    }

    async fn summarise(&self, context: &RunContext, call: &CallContext, dropped: &[Message]) -> Result<String, String> {
        let request = ChatRequest {
            messages: vec![Message::system(self.prompt.clone()), Message::user(render(dropped))],
            max_tokens: Some(self.summary_max_tokens),
            ..ChatRequest::default()
        };
        let routed = context.router.chat(call, &request).await.map_err(|e| e.to_string())?;
        let summary = routed.value.content.trim();
        if summary.is_empty() {
            return Err("the model returned an empty summary".to_owned());
        }
        Ok(summary.to_owned())
    }
}

#[async_trait]
impl ConversationManager for Summarizing {
    async fn reduce(&self, context: &RunContext, call: &CallContext, messages: &mut Vec<Message>) {
        let start = window_start(messages, self.kept_budget());
        if start == 0 {
            return;
        }
        match self.summarise(context, call, &messages[..start]).await {
            Ok(summary) => {
                tracing::debug!(summarised = start, kept = messages.len() - start, "conversation summarised");
                messages.drain(..start);
                messages.insert(0, Message::user(format!("{SUMMARY_PREFIX}{summary}")));
            }
            Err(error) => {
                tracing::warn!(error = %error, "conversation summary failed; dropping the oldest messages instead");
                let start = window_start(messages, self.budget);
                messages.drain(..start);
            }
        }
    }
}

/// The messages as plain text for the summary call.
fn render(messages: &[Message]) -> String {
    let mut text = String::new();
    for message in messages {
        match message {
            Message::System { content } => text.push_str(&format!("system: {content}\n")),
            Message::User { content } => text.push_str(&format!("user: {content}\n")),
            Message::Assistant { content, tool_calls } => {
                if !content.is_empty() {
                    text.push_str(&format!("assistant: {content}\n"));
                }
                for call in tool_calls {
                    text.push_str(&format!("assistant called {} ({}) with {}\n", call.name, call.id, call.arguments));
                }
            }
            Message::Tool { tool_call_id, name, content } => {
                text.push_str(&format!("tool {name} ({tool_call_id}) returned: {content}\n"));
            }
        }
    }
    text
}
