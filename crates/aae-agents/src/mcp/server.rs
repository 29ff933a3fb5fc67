//! [`ToolServer`]: a set of [`Tool`]s served over MCP (stdio or streamable HTTP).
//!
//! The handler is written by hand rather than with rmcp's `#[tool_router]` macros because AAE's
//! tools are values (`Arc<dyn Tool>` with a JSON Schema), not Rust methods.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::McpError;
use crate::agent::RunContext;
use crate::schema;
use crate::tool::{Tool, ToolError};

/// The path of the streamable HTTP endpoint in [`ToolServer::router`].
pub const MCP_HTTP_PATH: &str = "/mcp";

/// An MCP server offering `tools`. Cheap to clone (the streamable HTTP transport makes one per
/// session); every call runs with the same [`RunContext`] (router, caller, event sink).
#[derive(Clone)]
pub struct ToolServer {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    name: String,
    instructions: Option<String>,
    tools: Vec<Arc<dyn Tool>>,
    listed: Vec<rmcp::model::Tool>,
    context: RunContext,
}

impl std::fmt::Debug for ToolServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tools: Vec<&str> = self.inner.tools.iter().map(|t| t.name()).collect();
        f.debug_struct("ToolServer").field("name", &self.inner.name).field("tools", &tools).finish_non_exhaustive()
    }
}

impl ToolServer {
    /// A server called `name` (its `serverInfo.name`) offering `tools`, which run with `context`.
    /// Refuses duplicate names and schemas that are not object schemas, as [`crate::Agent`] does.
    pub fn new(name: &str, tools: Vec<Arc<dyn Tool>>, context: RunContext) -> Result<Self, McpError> {
        let mut listed = Vec::with_capacity(tools.len());
        for tool in &tools {
            let definition = tool.definition();
            if listed.iter().any(|t: &rmcp::model::Tool| t.name == definition.name) {
                return Err(McpError::Tools(format!("two tools are called {}", definition.name)));
            }
            schema::check_tool_schema(&definition.parameters)
                .map_err(|e| McpError::Tools(format!("tool {}: {e}", definition.name)))?;
            let Value::Object(input_schema) = definition.parameters else { continue };
            listed.push(rmcp::model::Tool::new(definition.name, definition.description, input_schema));
        }
        let inner = Inner { name: name.to_owned(), instructions: None, tools, listed, context };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Adds the `instructions` sent to clients at initialisation.
    pub fn with_instructions(self, instructions: &str) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.instructions = Some(instructions.to_owned());
        Self { inner: Arc::new(inner) }
    }

    /// The names of the served tools.
    pub fn tool_names(&self) -> Vec<&str> {
        self.inner.tools.iter().map(|t| t.name()).collect()
    }

    /// Serves one client on this process's stdin and stdout until it disconnects. Logs must go to
    /// stderr: stdout carries the protocol.
    pub async fn serve_stdio(self) -> Result<(), McpError> {
        let running = self.serve(rmcp::transport::stdio()).await.map_err(|e| McpError::Serve(format!("stdio: {e}")))?;
        running.waiting().await.map_err(|e| McpError::Serve(format!("stdio: {e}")))?;
        Ok(())
    }

    /// The streamable HTTP endpoint at [`MCP_HTTP_PATH`], one session per client. `allowed_hosts`
    /// lists the `Host` values accepted besides the loopback names (rmcp refuses others, against
    /// DNS rebinding); `shutdown` ends every session.
    pub fn router(&self, allowed_hosts: &[String], shutdown: CancellationToken) -> axum::Router {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(str::to_owned).to_vec();
        hosts.extend(allowed_hosts.iter().cloned());
        let config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts).with_cancellation_token(shutdown);
        let server = self.clone();
        let service: StreamableHttpService<ToolServer, LocalSessionManager> =
            StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
        axum::Router::new().nest_service(MCP_HTTP_PATH, service)
    }

    /// Serves [`router`](Self::router) on `listener` until `shutdown` completes, then ends every
    /// session.
    pub async fn serve_http(
        &self,
        listener: tokio::net::TcpListener,
        allowed_hosts: &[String],
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), McpError> {
        let address: Option<SocketAddr> = listener.local_addr().ok();
        let token = CancellationToken::new();
        let router = self.router(allowed_hosts, token.clone());
        tracing::info!(address = ?address, path = MCP_HTTP_PATH, "mcp server listening");
        let stop = token.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                stop.cancel();
            })
            .await
            .map_err(|e| McpError::Serve(format!("http: {e}")))
    }

    async fn run_tool(&self, tool: &Arc<dyn Tool>, arguments: Option<JsonObject>) -> CallToolResult {
        let name = tool.name();
        let arguments = Value::Object(arguments.unwrap_or_default());
        let started = Instant::now();
        match tool.call_checked(&self.inner.context, arguments).await {
            Ok(output) => {
                tracing::info!(tool = name, elapsed_ms = started.elapsed().as_millis() as u64, "mcp tool call");
                output_result(output)
            }
            Err(error @ ToolError::InvalidArguments(_)) => {
                tracing::info!(tool = name, error = %error, "mcp tool call refused");
                CallToolResult::error(vec![ContentBlock::text(error.to_string())])
            }
            Err(error) => {
                tracing::warn!(tool = name, error = %error, "mcp tool call failed");
                CallToolResult::error(vec![ContentBlock::text(error.to_string())])
            }
        }
    }
}

/// A tool's JSON output as a result: objects are also `structuredContent`; strings are text.
fn output_result(output: Value) -> CallToolResult {
    match output {
        Value::Object(_) => CallToolResult::structured(output),
        Value::String(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        other => CallToolResult::success(vec![ContentBlock::text(other.to_string())]),
    }
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        let config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(self.inner.name.clone(), env!("CARGO_PKG_VERSION")));
        match &self.inner.instructions {
            Some(instructions) => config.with_instructions(instructions.clone()),
            None => config,
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.inner.listed.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.inner.listed.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = self.inner.tools.iter().find(|t| t.name() == request.name) else {
            let known = self.tool_names().join(", ");
            return Err(ErrorData::invalid_params(format!("unknown tool `{}`; tools: {known}", request.name), None));
        };
        Ok(self.run_tool(tool, request.arguments).await.into())
    }
}
