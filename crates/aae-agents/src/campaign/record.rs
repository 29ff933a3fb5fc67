//! What a campaign run records: the progress log ([`ProgressEntry`]) and one
//! [`AgentInteraction`] per specialist call, built from the agent's events by an
//! [`InteractionRecorder`].

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agent::{AgentOutput, RunContext};
use crate::events::{AgentEvent, EventSink};

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It began.
    Started,
    /// It finished and its state is saved.
    Completed,
    /// It failed; a resume starts here.
    Failed,
    /// An earlier run completed it.
    Skipped,
}

/// One line of the campaign's progress log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The step's name.
    pub step: String,
    /// What happened.
    pub status: StepStatus,
    /// Details (the error of a failed step).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Percent of the campaign done.
    pub percent: f64,
}

/// One tool call an agent made during an interaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// The agent that called it (a specialist, or one of its own sub-agents).
    pub agent: String,
    /// The tool.
    pub tool: String,
    /// The arguments as the model gave them.
    pub arguments: Value,
    /// Whether it ended in an error.
    pub is_error: bool,
    /// Executions (retries included).
    pub attempts: u32,
    /// Milliseconds it took.
    pub duration_ms: u64,
}

/// One specialist call of a campaign: what it was asked, what it did and answered, what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInteraction {
    /// The pipeline step.
    pub step: String,
    /// The specialist.
    pub agent: String,
    /// Its query.
    pub query: String,
    /// Its answer (empty when it did not finish).
    pub answer: String,
    /// Model turns.
    pub turns: u32,
    /// Every tool call, in order.
    pub tool_calls: Vec<ToolCallRecord>,
    /// Models that answered, in order of first use.
    pub models: Vec<String>,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Cost in micro-credits.
    pub cost_micros: i64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Why the agent did not finish, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the pipeline did itself because the agent left its artifact unmade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl AgentInteraction {
    /// Adds what a fallback's model call spent.
    pub(super) fn add_spent(&mut self, spent: &super::fallback::Spent) {
        self.input_tokens += spent.usage.input_tokens;
        self.output_tokens += spent.usage.output_tokens;
        self.cost_micros += spent.cost_micros;
        if let Some(model) = spent.model.as_ref().filter(|m| !self.models.contains(m)) {
            self.models.push(model.clone());
        }
    }
}

/// Builds an [`AgentInteraction`] from the events of one agent run (its sub-agents included).
#[derive(Debug, Clone)]
pub struct InteractionRecorder {
    inner: Arc<Mutex<AgentInteraction>>,
}

impl InteractionRecorder {
    /// Starts recording `agent`'s run on `query` for `step`.
    pub fn new(step: &str, agent: &str, query: &str) -> Self {
        let now = Utc::now();
        Self {
            inner: Arc::new(Mutex::new(AgentInteraction {
                step: step.to_owned(),
                agent: agent.to_owned(),
                query: query.to_owned(),
                answer: String::new(),
                turns: 0,
                tool_calls: Vec::new(),
                models: Vec::new(),
                input_tokens: 0,
                output_tokens: 0,
                cost_micros: 0,
                started_at: now,
                finished_at: now,
                error: None,
                fallback: None,
            })),
        }
    }

    /// A child of `parent` whose events this recorder observes (only `agent`'s own, when given)
    /// before they go on to `parent`'s sink.
    pub fn child_context(&self, parent: &RunContext, agent: Option<&'static str>) -> RunContext {
        let recorder = self.clone();
        let forward = parent.events.clone();
        let events = EventSink::new(move |event: AgentEvent| {
            if agent.is_none_or(|name| event.agent() == name) {
                recorder.observe(&event);
            }
            forward.emit(event);
        });
        RunContext { events, ..parent.child() }
    }

    /// Takes one event into account.
    pub fn observe(&self, event: &AgentEvent) {
        let mut record = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            AgentEvent::ToolCall { agent, call, .. } => record.tool_calls.push(ToolCallRecord {
                agent: agent.clone(),
                tool: call.name.clone(),
                arguments: call.arguments.clone(),
                is_error: false,
                attempts: 0,
                duration_ms: 0,
            }),
            AgentEvent::ToolResult { name, is_error, attempts, duration_ms, agent, .. } => {
                let pending = record
                    .tool_calls
                    .iter_mut()
                    .rev()
                    .find(|c| &c.tool == name && &c.agent == agent && c.attempts == 0);
                if let Some(call) = pending {
                    call.is_error = *is_error;
                    call.attempts = *attempts;
                    call.duration_ms = *duration_ms;
                }
            }
            AgentEvent::Usage { model, usage, cost_micros, .. } => {
                record.input_tokens += usage.input_tokens;
                record.output_tokens += usage.output_tokens;
                record.cost_micros += cost_micros;
                if !record.models.contains(model) {
                    record.models.push(model.clone());
                }
            }
            AgentEvent::AgentStarted { .. } | AgentEvent::TextDelta { .. } | AgentEvent::AgentFinished { .. } => {}
        }
    }

    /// The finished record: the output when the agent answered, the error when it did not.
    pub fn finish(&self, output: Option<&AgentOutput>, error: Option<String>) -> AgentInteraction {
        let mut record = self.inner.lock().unwrap_or_else(PoisonError::into_inner).clone();
        record.finished_at = Utc::now();
        if let Some(output) = output {
            record.answer = output.answer.clone();
            record.turns = output.turns;
        }
        record.error = error;
        record
    }
}
