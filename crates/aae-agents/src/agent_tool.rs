//! [`AgentTool`]: an agent offered to another agent as a tool (seed 000 "agents as tools").
//!
//! The calling model sends `{"query": "…"}` and gets the agent's answer as the tool result. The
//! sub-agent runs with a child [`RunContext`] (same router, caller and event sink, depth + 1),
//! so its steps appear in the caller's event stream under its own name, and only its answer
//! enters the caller's context. With `keep_context`, the sub-agent remembers its earlier
//! queries and answers across calls (its own transcript, not the caller's).

use std::sync::Arc;

use aae_models::{Message, ModelErrorKind};
use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::agent::{Agent, RunContext};
use crate::error::AgentError;
use crate::tool::{Tool, ToolError, ToolOutput};

/// The arguments of an agent offered as a tool: `{query}`, a non-empty string of at most
/// `max_chars` characters when given.
pub(crate) fn query_parameters(description: &str, max_chars: Option<u32>) -> Value {
    let mut query = json!({"type": "string", "minLength": 1, "description": description});
    if let Some(max) = max_chars {
        query["maxLength"] = json!(max);
    }
    json!({
        "type": "object",
        "properties": {"query": query},
        "required": ["query"],
        "additionalProperties": false
    })
}

/// An agent used as a tool.
pub struct AgentTool {
    agent: Arc<Agent>,
    description: String,
    keep_context: bool,
    transcript: Mutex<Vec<Message>>,
}

impl std::fmt::Debug for AgentTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentTool")
            .field("agent", &self.agent.name())
            .field("keep_context", &self.keep_context)
            .finish_non_exhaustive()
    }
}

impl AgentTool {
    /// `agent` as a tool named after it, described by its description; each call starts fresh.
    pub fn new(agent: Agent) -> Self {
        let description = if agent.description().is_empty() {
            format!("Ask the {} agent. Send a self-contained query; it answers in text.", agent.name())
        } else {
            agent.description().to_owned()
        };
        Self { agent: Arc::new(agent), description, keep_context: false, transcript: Mutex::new(Vec::new()) }
    }

    /// Keeps the agent's transcript between calls, so a follow-up query can refer to earlier ones.
    pub fn keep_context(mut self, keep: bool) -> Self {
        self.keep_context = keep;
        self
    }

    /// The wrapped agent.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// The transcript kept so far (empty without `keep_context`).
    pub async fn transcript(&self) -> Vec<Message> {
        self.transcript.lock().await.clone()
    }
}

#[async_trait]
impl Tool for AgentTool {
    fn name(&self) -> &str {
        self.agent.name()
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        query_parameters("What to ask, with every detail the agent needs.", None)
    }

    async fn call(&self, context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let query = arguments.get("query").and_then(Value::as_str).unwrap_or_default().to_owned();
        // Calls of a context-keeping agent are serialised so each sees the previous answer.
        let mut transcript = self.transcript.lock().await;
        let mut input = if self.keep_context { transcript.clone() } else { Vec::new() };
        input.push(Message::user(query));
        match self.agent.run(&context.child(), input).await {
            Ok(output) => {
                if self.keep_context {
                    *transcript = output.messages;
                }
                Ok(Value::String(output.answer))
            }
            Err(AgentError::Model { source, .. })
                if source.is_retryable()
                    || matches!(source.kind, ModelErrorKind::AllFailed | ModelErrorKind::RateLimited) =>
            {
                Err(ToolError::Transient(source.to_string()))
            }
            Err(error) => Err(ToolError::Failed(error.to_string())),
        }
    }
}
