//! `mcp`: the MCP servers whose tools AAE's agents are offered (issue 5, seed 001 task 9).
//!
//! ```toml
//! [[mcp.servers]]
//! name = "files"                      # [a-zA-Z0-9_-]{1,32}, unique; prefixes its tools: files__read_file
//! command = "npx"                     # a child process spoken to over stdio…
//! args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv/briefs"]
//! env = { LOG_LEVEL = "warn" }        # (values are treated as secrets)
//!
//! [[mcp.servers]]
//! name = "crm"
//! url = "https://mcp.example.com/mcp" # …or a streamable HTTP endpoint
//! bearer_token = "…"                  # secret; sent as `Authorization: Bearer …`
//! ```

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::redact_opt;
use crate::validate::ConfigError;

/// MCP client settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Servers connected at start-up; each one's tools are offered to the agents as
    /// `{name}__{tool}`.
    pub servers: Vec<McpServerConfig>,
    /// Seconds to wait for a server to start, initialise and list its tools.
    pub connect_timeout_secs: u64,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self { servers: Vec::new(), connect_timeout_secs: 30 }
    }
}

/// One MCP server: exactly one of `command` (stdio child process) or `url` (streamable HTTP).
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpServerConfig {
    /// `[a-zA-Z0-9_-]{1,32}`, unique among the servers; the prefix of its tools' names.
    pub name: String,
    /// Program to start (looked up on `PATH`); the server speaks MCP on its stdin and stdout.
    pub command: String,
    /// Arguments of `command`.
    pub args: Vec<String>,
    /// Extra environment variables of `command` (values may be keys, so they are redacted).
    #[serde(serialize_with = "redact_values")]
    pub env: BTreeMap<String, String>,
    /// Streamable HTTP endpoint, `http://` or `https://`.
    pub url: String,
    /// Token sent as `Authorization: Bearer …` to `url`. Secret: never logged or shown.
    #[serde(serialize_with = "redact_opt")]
    pub bearer_token: Option<SecretString>,
}

impl std::fmt::Debug for McpServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServerConfig")
            .field("name", &self.name)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("url", &self.url)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// How a configured server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpTransportKind {
    /// A child process over stdio.
    Stdio,
    /// Streamable HTTP.
    StreamableHttp,
}

impl McpServerConfig {
    /// The transport `command` / `url` select (checked by [`Config::validate`](crate::Config::validate)).
    pub fn transport(&self) -> McpTransportKind {
        if self.command.trim().is_empty() { McpTransportKind::StreamableHttp } else { McpTransportKind::Stdio }
    }
}

fn redact_values<S: Serializer>(env: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
    let redacted: BTreeMap<&str, &str> = env.keys().map(|k| (k.as_str(), "[redacted]")).collect();
    redacted.serialize(s)
}

/// Whether `name` is a valid server name.
pub(crate) fn valid_server_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl McpConfig {
    /// The rules of `mcp.*`; keys are named `mcp.servers[i].key`.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.connect_timeout_secs == 0 {
            return Err(ConfigError::invalid("mcp.connect_timeout_secs", "must be at least 1 second"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, server) in self.servers.iter().enumerate() {
            let key = |field: &str| format!("mcp.servers[{i}].{field}");
            if !valid_server_name(&server.name) {
                return Err(ConfigError::invalid(
                    &key("name"),
                    format!("`{}` must be 1 to 32 of a-z, A-Z, 0-9, _ and -", server.name),
                ));
            }
            if !seen.insert(server.name.as_str()) {
                return Err(ConfigError::invalid(&key("name"), format!("`{}` is used by another server", server.name)));
            }
            let has_command = !server.command.trim().is_empty();
            let has_url = !server.url.trim().is_empty();
            match (has_command, has_url) {
                (true, true) => {
                    return Err(ConfigError::invalid(
                        &key("url"),
                        format!("server `{}` sets both command and url; set one", server.name),
                    ));
                }
                (false, false) => {
                    return Err(ConfigError::invalid(
                        &key("command"),
                        format!("server `{}` needs a command (stdio) or a url (streamable HTTP)", server.name),
                    ));
                }
                (true, false) => {
                    if server.bearer_token.is_some() {
                        return Err(ConfigError::invalid(&key("bearer_token"), "applies to url servers only"));
                    }
                    if let Some(bad) = server.env.keys().find(|k| k.is_empty() || k.contains(['=', '\0'])) {
                        return Err(ConfigError::invalid(&key("env"), format!("`{bad}` is not a variable name")));
                    }
                }
                (false, true) => {
                    let url = server.url.trim();
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(ConfigError::invalid(
                            &key("url"),
                            format!("`{url}` must start with http:// or https://"),
                        ));
                    }
                    if !server.args.is_empty() || !server.env.is_empty() {
                        return Err(ConfigError::invalid(&key("args"), "args and env apply to command servers only"));
                    }
                    if server.bearer_token.as_ref().is_some_and(|t| t.expose_secret().trim().is_empty()) {
                        return Err(ConfigError::invalid(&key("bearer_token"), "is empty; remove it or set a token"));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn server(name: &str) -> McpServerConfig {
        McpServerConfig { name: name.into(), command: "mcp-server".into(), ..Default::default() }
    }

    fn error(config: &McpConfig) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_key_of_the_offending_server() {
        let mut config = McpConfig { servers: vec![server("files"), server("files")], ..Default::default() };
        assert!(error(&config).contains("mcp.servers[1].name"), "{}", error(&config));
        config.servers[1] = McpServerConfig { name: "web".into(), ..Default::default() };
        assert!(error(&config).contains("mcp.servers[1].command"));
        config.servers[1].url = "ftp://x".into();
        assert!(error(&config).contains("mcp.servers[1].url"));
        config.servers[1].url = "http://127.0.0.1:9/mcp".into();
        config.servers[1].command = "x".into();
        assert!(error(&config).contains("set one"));
        config.servers[1].command.clear();
        config.servers[0].name = "bad name".into();
        assert!(error(&config).contains("mcp.servers[0].name"));
        config.servers[0].name = "files".into();
        config.validate().unwrap();
    }

    #[test]
    fn the_bearer_token_and_env_values_are_redacted() {
        let config = McpConfig {
            servers: vec![
                McpServerConfig {
                    name: "crm".into(),
                    url: "https://mcp.example.com/mcp".into(),
                    bearer_token: Some(SecretString::from("tok-123")),
                    ..Default::default()
                },
                McpServerConfig { env: BTreeMap::from([("API_KEY".into(), "sk-456".into())]), ..server("files") },
            ],
            ..Default::default()
        };
        config.validate().unwrap();
        let text = serde_json::to_string(&config).unwrap();
        assert!(!text.contains("tok-123") && !text.contains("sk-456"), "{text}");
        assert!(text.contains("API_KEY") && text.contains("[redacted]"));
        assert_eq!(config.servers[0].transport(), McpTransportKind::StreamableHttp);
        assert_eq!(config.servers[1].transport(), McpTransportKind::Stdio);
    }
}
