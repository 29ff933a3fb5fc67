//! [`AgentEvent`]: what an agent run reports as it goes, and [`EventSink`], where it goes.
//!
//! Every event names the agent that produced it, so a sub-agent's steps (run through an
//! [`AgentTool`](crate::AgentTool)) are visible in the orchestrator's stream, tagged with the
//! sub-agent's name and nesting depth, without becoming part of the orchestrator's answer.

use std::sync::Arc;

use aae_models::{ToolCall, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One step of an agent run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// An agent started working on its input.
    AgentStarted {
        /// The agent.
        agent: String,
        /// 0 for the top agent, 1 for an agent it called as a tool, and so on.
        depth: u32,
    },
    /// A piece of the agent's text.
    TextDelta {
        /// The agent.
        agent: String,
        /// Nesting depth.
        depth: u32,
        /// The text.
        text: String,
    },
    /// The model called a tool.
    ToolCall {
        /// The agent.
        agent: String,
        /// Nesting depth.
        depth: u32,
        /// The call, with its arguments.
        call: ToolCall,
    },
    /// A tool returned (or failed; the failure is what the model sees).
    ToolResult {
        /// The agent.
        agent: String,
        /// Nesting depth.
        depth: u32,
        /// The call's id.
        id: String,
        /// The tool.
        name: String,
        /// The result given to the model.
        result: Value,
        /// Whether the tool failed.
        is_error: bool,
        /// Executions it took (retries included).
        attempts: u32,
        /// Wall time of the tool, in milliseconds.
        duration_ms: u64,
    },
    /// One model call ended: its tokens, its model and what it cost.
    Usage {
        /// The agent.
        agent: String,
        /// Nesting depth.
        depth: u32,
        /// `provider/model` that answered.
        model: String,
        /// Tokens.
        usage: Usage,
        /// Cost in micro-credits.
        cost_micros: i64,
    },
    /// An agent finished with its answer.
    AgentFinished {
        /// The agent.
        agent: String,
        /// Nesting depth.
        depth: u32,
        /// Its final answer.
        answer: String,
        /// Model turns it took.
        turns: u32,
    },
}

impl AgentEvent {
    /// The agent that produced the event.
    pub fn agent(&self) -> &str {
        match self {
            Self::AgentStarted { agent, .. }
            | Self::TextDelta { agent, .. }
            | Self::ToolCall { agent, .. }
            | Self::ToolResult { agent, .. }
            | Self::Usage { agent, .. }
            | Self::AgentFinished { agent, .. } => agent,
        }
    }
}

/// Where events go: a callback shared by an agent and the agents it calls. The default sink
/// drops them.
#[derive(Clone, Default)]
pub struct EventSink(Option<Arc<dyn Fn(AgentEvent) + Send + Sync>>);

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "EventSink(..)" } else { "EventSink(none)" })
    }
}

impl EventSink {
    /// A sink calling `f` with every event (from any task: keep it quick).
    pub fn new(f: impl Fn(AgentEvent) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    /// A sink sending events into a channel; the receiver sees them in order.
    pub fn channel() -> (Self, tokio::sync::mpsc::UnboundedReceiver<AgentEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self::new(move |event| drop(tx.send(event))), rx)
    }

    /// Reports `event`.
    pub fn emit(&self, event: AgentEvent) {
        if let Some(f) = &self.0 {
            f(event);
        }
    }
}
