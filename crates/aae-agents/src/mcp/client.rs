//! MCP clients: [`connect`] to a configured server (a stdio child process or a streamable HTTP
//! endpoint), list its tools, and offer each as an [`McpTool`].

use std::sync::Arc;
use std::time::Duration;

use aae_config::{McpConfig, McpServerConfig, McpTransportKind};
use async_trait::async_trait;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ContentBlock, ErrorCode, Implementation,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ServiceError, ServiceExt};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::McpError;
use crate::agent::RunContext;
use crate::tool::{Tool, ToolError, ToolOutput};

type Client = RunningService<RoleClient, ClientConfig>;

/// Separates the server's name from its tool's name in an [`McpTool`]'s name.
pub const TOOL_NAME_SEPARATOR: &str = "__";

/// One tool of a connected MCP server, offered to agents as `{server}__{tool}` (characters
/// outside `[a-zA-Z0-9_-]` in the tool's name become `_`). The prefix keeps the tools of two
/// servers, and AAE's own, from colliding, and tells the model where a tool comes from.
/// The connection stays open while any of its tools is alive.
pub struct McpTool {
    name: String,
    remote: String,
    server: String,
    description: String,
    parameters: Value,
    client: Arc<Client>,
}

impl std::fmt::Debug for McpTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTool").field("name", &self.name).field("server", &self.server).finish_non_exhaustive()
    }
}

impl McpTool {
    /// The server it belongs to.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Its name on that server.
    pub fn remote_name(&self) -> &str {
        &self.remote
    }
}

#[async_trait]
impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        self.parameters.clone()
    }

    async fn call(&self, _context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let Value::Object(arguments) = arguments else {
            return Err(ToolError::InvalidArguments("arguments must be a JSON object".to_owned()));
        };
        let params = CallToolRequestParams::new(self.remote.clone()).with_arguments(arguments);
        let server = &self.server;
        match self.client.call_tool(params).await {
            Ok(result) if result.is_error == Some(true) => {
                let output = result_output(result);
                let message = output.as_str().map_or_else(|| output.to_string(), str::to_owned);
                Err(ToolError::Failed(format!("mcp server {server}: {message}")))
            }
            Ok(result) => Ok(result_output(result)),
            Err(ServiceError::McpError(error)) if error.code == ErrorCode::INVALID_PARAMS => {
                Err(ToolError::InvalidArguments(format!("mcp server {server}: {}", error.message)))
            }
            Err(
                error @ (ServiceError::TransportClosed | ServiceError::TransportSend(_) | ServiceError::Timeout { .. }),
            ) => Err(ToolError::Transient(format!("mcp server {server}: {}", aae_types::error_chain(&error)))),
            Err(error) => Err(ToolError::Failed(format!("mcp server {server}: {}", aae_types::error_chain(&error)))),
        }
    }
}

/// What a tool result gives the model: its `structuredContent` when present, else its content:
/// one text block is parsed as JSON when it is JSON and kept as a string otherwise; several
/// blocks become an array. Binary data (images, audio) is replaced by its size.
fn result_output(result: CallToolResult) -> Value {
    if let Some(structured) = result.structured_content {
        return structured;
    }
    let mut blocks: Vec<Value> = result.content.into_iter().map(block_output).collect();
    match blocks.len() {
        0 => Value::Null,
        1 => blocks.remove(0),
        _ => Value::Array(blocks),
    }
}

fn block_output(block: ContentBlock) -> Value {
    if let Some(text) = block.as_text() {
        return serde_json::from_str(&text.text).unwrap_or_else(|_| Value::String(text.text.clone()));
    }
    let mut value = serde_json::to_value(&block).unwrap_or(Value::Null);
    if let Some(data) = value.get_mut("data")
        && let Some(len) = data.as_str().map(str::len)
    {
        *data = json!(format!("[{len} bytes of base64 omitted]"));
    }
    value
}

/// A connected server and the tools it offers.
pub struct McpConnection {
    name: String,
    tools: Vec<Arc<McpTool>>,
}

impl std::fmt::Debug for McpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tools: Vec<&str> = self.tools.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("McpConnection").field("name", &self.name).field("tools", &tools).finish()
    }
}

impl McpConnection {
    /// The server's configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its tools, for [`crate::Agent::with_tools`].
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.tools.iter().map(|t| t.clone() as Arc<dyn Tool>).collect()
    }
}

/// Every server of `mcp.servers`, connected at start-up.
#[derive(Debug, Default)]
pub struct McpClients {
    connections: Vec<McpConnection>,
}

impl McpClients {
    /// Connects to every configured server at once; the first failure is the error (it names
    /// the server), so a misconfigured server stops start-up instead of silently missing.
    pub async fn connect(config: &McpConfig) -> Result<Self, McpError> {
        let timeout = Duration::from_secs(config.connect_timeout_secs);
        let connections = futures::future::try_join_all(config.servers.iter().map(|s| connect(s, timeout))).await?;
        Ok(Self { connections })
    }

    /// The connections, in configuration order.
    pub fn connections(&self) -> &[McpConnection] {
        &self.connections
    }

    /// The tools of every server, to offer to an agent.
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.connections.iter().flat_map(McpConnection::tools).collect()
    }
}

/// Connects to `server`, initialises the session and lists its tools, within `timeout`.
/// Errors name the server; the bearer token never appears in them.
pub async fn connect(server: &McpServerConfig, timeout: Duration) -> Result<McpConnection, McpError> {
    let fail = |message: String| McpError::Connect { server: server.name.clone(), message: scrub(server, message) };
    let attempt = async {
        let info =
            ClientConfig::new(ClientCapabilities::default(), Implementation::new("aae", env!("CARGO_PKG_VERSION")));
        let client = match server.transport() {
            McpTransportKind::Stdio => {
                let mut command = tokio::process::Command::new(&server.command);
                command.args(&server.args).envs(&server.env);
                let transport = TokioChildProcess::new(command)
                    .map_err(|e| fail(format!("cannot start `{}`: {e}", server.command)))?;
                info.serve(transport)
                    .await
                    .map_err(|e| fail(format!("initialisation failed: {}", aae_types::error_chain(&e))))?
            }
            McpTransportKind::StreamableHttp => {
                let mut config = StreamableHttpClientTransportConfig::with_uri(server.url.trim().to_owned());
                if let Some(token) = &server.bearer_token {
                    config = config.auth_header(token.expose_secret().to_owned());
                }
                let transport = StreamableHttpClientTransport::from_config(config);
                info.serve(transport).await.map_err(|e| {
                    fail(format!("cannot connect to {}: {}", shown_url(&server.url), aae_types::error_chain(&e)))
                })?
            }
        };
        let listed = client
            .list_all_tools()
            .await
            .map_err(|e| fail(format!("cannot list tools: {}", aae_types::error_chain(&e))))?;
        Ok::<_, McpError>((client, listed))
    };
    let (client, listed) = tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| fail(format!("no answer within {} s (mcp.connect_timeout_secs)", timeout.as_secs())))??;
    let client = Arc::new(client);
    let mut tools: Vec<Arc<McpTool>> = Vec::with_capacity(listed.len());
    for tool in listed {
        let local: String = tool
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
            .collect();
        let name = format!("{}{TOOL_NAME_SEPARATOR}{local}", server.name);
        if name.len() > 64 || tools.iter().any(|t| t.name == name) {
            tracing::warn!(server = %server.name, tool = %tool.name, "mcp tool skipped: its name is too long or not unique");
            continue;
        }
        let mut parameters = (*tool.input_schema).clone();
        parameters.entry("type").or_insert_with(|| json!("object"));
        let description = tool.description.as_deref().unwrap_or(tool.name.as_ref());
        tools.push(Arc::new(McpTool {
            description: format!("{description} (tool `{}` of MCP server {})", tool.name, server.name),
            remote: tool.name.into_owned(),
            name,
            server: server.name.clone(),
            parameters: Value::Object(parameters),
            client: client.clone(),
        }));
    }
    tracing::info!(server = %server.name, tools = tools.len(), "mcp server connected");
    Ok(McpConnection { name: server.name.clone(), tools })
}

/// `url` without user info or query, which may carry credentials.
fn shown_url(url: &str) -> String {
    let url = url.trim();
    let url = url.split(['?', '#']).next().unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            if path.is_empty() { format!("{scheme}://{host}") } else { format!("{scheme}://{host}/{path}") }
        }
        None => url.to_owned(),
    }
}

/// Removes the server's secrets from an error message, whatever the library put in it.
fn scrub(server: &McpServerConfig, mut message: String) -> String {
    if let Some(token) = &server.bearer_token {
        let token = token.expose_secret();
        if !token.is_empty() {
            message = message.replace(token, "[redacted]");
        }
    }
    // HTTP libraries quote the URL they failed on: drop its user info and query.
    let url = server.url.trim();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            message = message.replace(&format!("{userinfo}@"), "");
        }
    }
    if let Some(index) = url.find('?') {
        message = message.replace(&url[index..], "");
    }
    for value in server.env.values().filter(|v| v.len() >= 8) {
        message = message.replace(value.as_str(), "[redacted]");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_drop_credentials_and_queries() {
        assert_eq!(shown_url("https://u:p@mcp.example.com:8443/mcp?key=1"), "https://mcp.example.com:8443/mcp");
        assert_eq!(shown_url("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }

    #[test]
    fn result_output_prefers_structured_content_and_parses_json_text() {
        assert_eq!(result_output(CallToolResult::structured(json!({"a": 1}))), json!({"a": 1}));
        assert_eq!(result_output(CallToolResult::success(vec![ContentBlock::text("[1,2]")])), json!([1, 2]));
        assert_eq!(result_output(CallToolResult::success(vec![ContentBlock::text("plain")])), json!("plain"));
        let image = result_output(CallToolResult::success(vec![ContentBlock::image("aGVsbG8=", "image/png")]));
        assert_eq!(image["data"], json!("[8 bytes of base64 omitted]"));
    }
}
