//! [`Tool`]: a capability an agent's model may call, with a JSON Schema of its arguments.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aae_models::ToolDefinition;
use async_trait::async_trait;
use serde_json::Value;

use crate::agent::RunContext;

/// What a tool returns to the model: JSON (text is a JSON string).
pub type ToolOutput = Value;

/// Why a tool failed. The message is shown to the model, so it says what was wrong in terms
/// the model can act on; it must not contain secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not match the schema or the tool's own rules. Not retried: the model
    /// gets the message and may call again with better arguments.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// A dependency failed in a way that may pass (network, throttling, 5xx). Retried with
    /// backoff up to the agent's tool retry limit.
    #[error("temporarily failed: {0}")]
    Transient(String),
    /// The tool failed for good.
    #[error("failed: {0}")]
    Failed(String),
}

impl ToolError {
    /// Whether running the tool again with the same arguments may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// A tool. Used as `Arc<dyn Tool>`; `call` receives arguments already validated against
/// [`parameters`](Self::parameters).
#[async_trait]
pub trait Tool: Send + Sync {
    /// Name, `[a-zA-Z0-9_-]{1,64}`, unique among an agent's tools.
    fn name(&self) -> &str;

    /// What it does and when to use it, for the model.
    fn description(&self) -> &str;

    /// JSON Schema (an object schema) of the arguments.
    fn parameters(&self) -> Value;

    /// Runs the tool.
    async fn call(&self, context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError>;

    /// Checks `arguments` against [`parameters`](Self::parameters); the error names what is
    /// wrong, for the model or client that sent them.
    fn check_arguments(&self, arguments: &Value) -> Result<(), ToolError> {
        crate::schema::validate(&self.parameters(), arguments).map_err(ToolError::InvalidArguments)
    }

    /// Checks `arguments`, then runs the tool: how callers other than an agent's loop (the MCP
    /// server, the campaign pipeline) call a tool.
    async fn call_checked(&self, context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        self.check_arguments(&arguments)?;
        self.call(context, arguments).await
    }

    /// The definition sent to the model.
    fn definition(&self) -> ToolDefinition {
        ToolDefinition {
            name: self.name().to_owned(),
            description: self.description().to_owned(),
            parameters: self.parameters(),
        }
    }
}

type ToolFn =
    dyn Fn(RunContext, Value) -> Pin<Box<dyn Future<Output = Result<ToolOutput, ToolError>> + Send>> + Send + Sync;

/// A tool made of a name, a description, a schema and an async function.
#[derive(Clone)]
pub struct FnTool {
    name: String,
    description: String,
    parameters: Value,
    f: Arc<ToolFn>,
}

impl std::fmt::Debug for FnTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnTool").field("name", &self.name).finish_non_exhaustive()
    }
}

impl FnTool {
    /// A tool calling `f(context, arguments)`.
    pub fn new<F, Fut>(name: &str, description: &str, parameters: Value, f: F) -> Self
    where
        F: Fn(RunContext, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolOutput, ToolError>> + Send + 'static,
    {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            parameters,
            f: Arc::new(move |context, arguments| Box::pin(f(context, arguments))),
        }
    }
}

#[async_trait]
impl Tool for FnTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        self.parameters.clone()
    }

    async fn call(&self, context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        (self.f)(context.clone(), arguments).await
    }
}
