//! [`Agent`] and its loop: call the model with the agent's tools, run the tools it asks for
//! (concurrently, validated, retried), feed the results back, until it answers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aae_models::{
    CallContext, ChatRequest, Message, Metered, ModelRouter, StreamEvent, ToolCall, ToolDefinition, Usage,
};
use aae_types::UserModelPreference;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::conversation::ConversationManager;
use crate::error::{AgentError, AgentResult};
use crate::events::{AgentEvent, EventSink};
use crate::schema;
use crate::tool::{Tool, ToolError};

/// How an agent runs.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    /// Model turns before the run fails with [`AgentError::TurnLimit`].
    pub max_turns: u32,
    /// Extra executions of a tool that failed with a retryable error.
    pub tool_retries: u32,
    /// First backoff between tool executions (doubled each retry, with jitter).
    pub tool_backoff: Duration,
    /// Longest one tool execution may take.
    pub tool_timeout: Duration,
    /// Sampling temperature (`None`: the provider's default).
    pub temperature: Option<f32>,
    /// Most tokens per model turn.
    pub max_tokens: Option<u32>,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            max_turns: 12,
            tool_retries: 2,
            tool_backoff: Duration::from_millis(200),
            tool_timeout: Duration::from_secs(300),
            temperature: None,
            max_tokens: Some(2048),
        }
    }
}

/// What a run has to work with: the router, who is calling (preference, credits, request id),
/// where events go, and how deep in the agent tree the run is.
#[derive(Clone)]
pub struct RunContext {
    /// Every model call goes through it.
    pub router: Arc<ModelRouter>,
    /// The caller, for the preference, usage records and credit hold.
    pub call: CallContext,
    /// Where events go.
    pub events: EventSink,
    /// 0 for the top agent.
    pub depth: u32,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext").field("call", &self.call).field("depth", &self.depth).finish_non_exhaustive()
    }
}

impl RunContext {
    /// A top-level context.
    pub fn new(router: Arc<ModelRouter>, call: CallContext, events: EventSink) -> Self {
        Self { router, call, events, depth: 0 }
    }

    /// The context of an agent called as a tool from this one.
    pub fn child(&self) -> Self {
        Self { depth: self.depth + 1, ..self.clone() }
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentOutput {
    /// The final answer.
    pub answer: String,
    /// The whole transcript without the system prompt: the input, every assistant turn with its
    /// tool calls, every tool result, the answer.
    pub messages: Vec<Message>,
    /// Model turns.
    pub turns: u32,
    /// Tokens of all turns.
    pub usage: Usage,
    /// Cost of all turns in micro-credits (sub-agents report their own).
    pub cost_micros: i64,
}

/// An agent: a system prompt, an optional model choice, tools and settings.
#[derive(Clone)]
pub struct Agent {
    name: String,
    description: String,
    system_prompt: String,
    model: Option<UserModelPreference>,
    tools: Vec<Arc<dyn Tool>>,
    settings: AgentSettings,
    conversation_manager: Option<Arc<dyn ConversationManager>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tools: Vec<&str> = self.tools.iter().map(|t| t.name()).collect();
        f.debug_struct("Agent").field("name", &self.name).field("tools", &tools).finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent called `name` (also its tool name when given to another agent).
    pub fn new(name: &str, system_prompt: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: String::new(),
            system_prompt: system_prompt.to_owned(),
            model: None,
            tools: Vec::new(),
            settings: AgentSettings::default(),
            conversation_manager: None,
        }
    }

    /// Fits what the model sees into a budget before each model call (a sliding window, or a
    /// window with a summary of the rest); the run's transcript stays complete.
    pub fn with_conversation_manager(mut self, manager: Arc<dyn ConversationManager>) -> Self {
        self.conversation_manager = Some(manager);
        self
    }

    /// What it is for (its tool description when given to another agent).
    pub fn with_description(mut self, description: &str) -> Self {
        description.clone_into(&mut self.description);
        self
    }

    /// Always uses this model instead of the caller's preference.
    pub fn with_model(mut self, model: UserModelPreference) -> Self {
        self.model = Some(model);
        self
    }

    /// Adds a tool.
    pub fn with_tool(mut self, tool: impl Tool + 'static) -> Self {
        self.tools.push(Arc::new(tool));
        self
    }

    /// Adds shared tools.
    pub fn with_tools(mut self, tools: impl IntoIterator<Item = Arc<dyn Tool>>) -> Self {
        self.tools.extend(tools);
        self
    }

    /// Replaces the settings.
    pub fn with_settings(mut self, settings: AgentSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Its settings.
    pub fn settings(&self) -> &AgentSettings {
        &self.settings
    }

    /// Checks tool names (valid, unique) and schemas (object schemas).
    pub fn validate(&self) -> AgentResult<()> {
        let config = |message: String| AgentError::Config { agent: self.name.clone(), message };
        let mut seen = HashSet::new();
        for tool in &self.tools {
            let name = tool.name();
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(config(format!("tool name {name:?} must match [a-zA-Z0-9_-]{{1,64}}")));
            }
            if !seen.insert(name) {
                return Err(config(format!("two tools are called {name}")));
            }
            schema::check_tool_schema(&tool.parameters()).map_err(|e| config(format!("tool {name}: {e}")))?;
        }
        Ok(())
    }

    fn emit(&self, context: &RunContext, event: impl FnOnce(String, u32) -> AgentEvent) {
        context.events.emit(event(self.name.clone(), context.depth));
    }

    /// Runs the agent on `input` (the conversation so far, oldest first, without its system
    /// prompt, which the agent adds) until the model answers without calling tools.
    pub async fn run(&self, context: &RunContext, input: Vec<Message>) -> AgentResult<AgentOutput> {
        self.validate()?;
        self.emit(context, |agent, depth| AgentEvent::AgentStarted { agent, depth });
        let definitions: Vec<ToolDefinition> = self.tools.iter().map(|t| t.definition()).collect();
        let mut call = context.call.clone();
        if let Some(model) = &self.model {
            call.preference = Some(model.clone());
        }
        // `messages` is the whole transcript; `seen` is what the model is shown, which the
        // conversation manager may shorten (it then keeps growing from the shortened view).
        let mut messages = input;
        let mut seen = messages.clone();
        let mut output = AgentOutput {
            answer: String::new(),
            messages: Vec::new(),
            turns: 0,
            usage: Usage::default(),
            cost_micros: 0,
        };
        while output.turns < self.settings.max_turns {
            output.turns += 1;
            if let Some(manager) = &self.conversation_manager {
                manager.reduce(context, &call, &mut seen).await;
            }
            let mut request_messages = Vec::with_capacity(seen.len() + 1);
            if !self.system_prompt.is_empty() {
                request_messages.push(Message::system(self.system_prompt.clone()));
            }
            request_messages.extend(seen.iter().cloned());
            let request = ChatRequest {
                messages: request_messages,
                tools: definitions.clone(),
                temperature: self.settings.temperature,
                max_tokens: self.settings.max_tokens,
                ..ChatRequest::default()
            };
            let (text, calls, usage, model) = self.turn(context, &call, &request).await?;
            let cost = context.router.prices().cost_micros(&model, &Metered { usage, ..Metered::default() });
            output.usage.input_tokens += usage.input_tokens;
            output.usage.output_tokens += usage.output_tokens;
            output.cost_micros += cost;
            self.emit(context, |agent, depth| AgentEvent::Usage { agent, depth, model, usage, cost_micros: cost });
            let turn = Message::Assistant { content: text.clone(), tool_calls: calls.clone() };
            seen.push(turn.clone());
            messages.push(turn);
            if calls.is_empty() {
                output.answer = text;
                output.messages = messages;
                let (answer, turns) = (output.answer.clone(), output.turns);
                self.emit(context, |agent, depth| AgentEvent::AgentFinished { agent, depth, answer, turns });
                return Ok(output);
            }
            let results = futures::future::join_all(calls.iter().map(|c| self.execute(context, c))).await;
            for (call, result) in calls.iter().zip(results) {
                let content = match result {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                let result = Message::tool_result(call, content);
                seen.push(result.clone());
                messages.push(result);
            }
        }
        Err(AgentError::TurnLimit { agent: self.name.clone(), max_turns: self.settings.max_turns })
    }

    /// One model turn, streamed: text deltas and tool calls are reported as they arrive.
    async fn turn(
        &self,
        context: &RunContext,
        call: &CallContext,
        request: &ChatRequest,
    ) -> AgentResult<(String, Vec<ToolCall>, Usage, String)> {
        let model_error = |source| AgentError::Model { agent: self.name.clone(), source: Box::new(source) };
        let routed = context.router.chat_stream(call, request).await.map_err(model_error)?;
        let model = routed.model.key();
        let mut stream = routed.stream;
        let (mut text, mut calls, mut usage) = (String::new(), Vec::new(), Usage::default());
        while let Some(event) = stream.next().await {
            match event.map_err(model_error)? {
                StreamEvent::TextDelta { text: delta } => {
                    text.push_str(&delta);
                    self.emit(context, |agent, depth| AgentEvent::TextDelta { agent, depth, text: delta });
                }
                StreamEvent::ToolCall { call } => {
                    let reported = call.clone();
                    self.emit(context, |agent, depth| AgentEvent::ToolCall { agent, depth, call: reported });
                    calls.push(call);
                }
                StreamEvent::Usage { usage: counted } => usage = counted,
                StreamEvent::Stop { .. } => {}
            }
        }
        Ok((text, calls, usage, model))
    }

    /// Runs one tool call: validation, timeout, retries of retryable failures. Always returns
    /// what the model should see; failures become `{"error": …}`.
    async fn execute(&self, context: &RunContext, call: &ToolCall) -> Value {
        let started = Instant::now();
        let (result, attempts) = match self.tools.iter().find(|t| t.name() == call.name) {
            None => {
                let names: Vec<&str> = self.tools.iter().map(|t| t.name()).collect();
                let message = format!("unknown tool {}; available tools: {}", call.name, names.join(", "));
                (Err(ToolError::InvalidArguments(message)), 0)
            }
            Some(tool) => match tool.check_arguments(&call.arguments) {
                Err(error) => (Err(error), 0),
                Ok(()) => self.execute_with_retries(context, tool.as_ref(), &call.arguments).await,
            },
        };
        let (value, is_error) = match result {
            Ok(value) => (value, false),
            Err(error) => {
                tracing::warn!(agent = %self.name, tool = %call.name, error = %error, "tool call failed");
                (json!({ "error": error.to_string() }), true)
            }
        };
        let event_value = value.clone();
        self.emit(context, |agent, depth| AgentEvent::ToolResult {
            agent,
            depth,
            id: call.id.clone(),
            name: call.name.clone(),
            result: event_value,
            is_error,
            attempts,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        value
    }

    async fn execute_with_retries(
        &self,
        context: &RunContext,
        tool: &dyn Tool,
        arguments: &Value,
    ) -> (Result<Value, ToolError>, u32) {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result =
                match tokio::time::timeout(self.settings.tool_timeout, tool.call(context, arguments.clone())).await {
                    Ok(result) => result,
                    Err(_) => Err(ToolError::Transient(format!(
                        "no result within {} s",
                        self.settings.tool_timeout.as_secs_f64()
                    ))),
                };
            match result {
                Err(error) if error.is_retryable() && attempts <= self.settings.tool_retries => {
                    let base = self.settings.tool_backoff.saturating_mul(1 << (attempts - 1).min(10));
                    let jitter = base.mul_f64(rand::random::<f64>() * 0.5);
                    tracing::info!(tool = tool.name(), attempts, error = %error, "retrying tool");
                    tokio::time::sleep(base / 2 + jitter).await;
                }
                other => return (other, attempts),
            }
        }
    }
}
