//! MCP, the Model Context Protocol, with the `rmcp` crate (issue 5, seed 001 task 9), both ways:
//!
//! - **Server** ([`ToolServer`], `server.rs`): any set of [`Tool`](crate::Tool)s served over stdio
//!   or streamable HTTP (`aae mcp serve` serves the platform tools of one campaign workspace).
//!   `tools/list` gives each tool's [`definition`](crate::Tool::definition); `tools/call`
//!   validates the arguments with [`schema::validate`](crate::schema::validate) and runs the tool.
//!   Invalid arguments and tool failures are tool results with `isError: true` and the message
//!   (naming the offending field), so a client's model can correct itself; only an unknown tool
//!   is a protocol error (`-32602`). Object outputs are also sent as `structuredContent`.
//! - **Client** ([`connect`], [`McpClients`], `client.rs`): the servers of `mcp.servers` in the
//!   config, started as child processes (`command`, `args`, `env`) or reached over streamable HTTP
//!   (`url`, `bearer_token`), connected at start-up; each of their tools is an [`McpTool`] named
//!   `{server}__{tool}`, ready for [`Agent::with_tools`](crate::Agent::with_tools). Connection
//!   errors name the server; a bearer token never appears in logs or errors.

mod client;
mod server;

use aae_types::ErrorCode;

pub use client::{McpClients, McpConnection, McpTool, TOOL_NAME_SEPARATOR, connect};
pub use server::{MCP_HTTP_PATH, ToolServer};

/// Why serving or connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// A configured server could not be started, reached, initialised or listed.
    #[error("mcp server {server}: {message}")]
    Connect {
        /// The server's configured name.
        server: String,
        /// What failed (secrets removed).
        message: String,
    },
    /// The tools to serve are unusable (duplicate names, a schema that is not an object schema).
    #[error("mcp tools: {0}")]
    Tools(String),
    /// The transport of a served session failed.
    #[error("mcp serve: {0}")]
    Serve(String),
}

impl McpError {
    /// The closed code the callers map to a status or exit message.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Connect { .. } | Self::Serve(_) => ErrorCode::Unavailable,
            Self::Tools(_) => ErrorCode::Internal,
        }
    }
}
