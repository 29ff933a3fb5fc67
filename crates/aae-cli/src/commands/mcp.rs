//! `aae mcp serve|list`: the platform tools as an MCP server, and the configured MCP servers'
//! tools as the agents see them.
//!
//! `aae mcp serve --brief FILE [--campaign-id ID] [--http ADDR]` serves the platform tools of
//! one campaign workspace: the brief gives the brand colours, logo, budget and currency (as for
//! `aae campaign create`), and every artifact lands in the configured storage under
//! `campaigns/{campaign-id}/`. Generated media go through the model router from the config.
//! Without `--http` the protocol runs on stdin/stdout (logs stay on stderr), one client per
//! process, as MCP hosts start stdio servers; with it, streamable HTTP at `http://ADDR/mcp`
//! until Ctrl-C.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use aae_agents::mcp::{McpClients, ToolServer};
use aae_agents::tools::{CampaignWorkspace, load_brief, platform_tools};
use aae_agents::{EventSink, RunContext};
use aae_config::Config;
use aae_models::{CallContext, ModelRouter};
use aae_storage::StorageService;
use anyhow::Context;
use serde_json::json;

use crate::cli::{McpCommand, McpServeArgs};

/// Runs one `aae mcp` subcommand.
pub async fn run(command: McpCommand, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        McpCommand::Serve(args) => serve(&config, args).await,
        McpCommand::List { json } => list(&config, json).await,
    }
}

async fn serve(config: &Config, args: McpServeArgs) -> anyhow::Result<ExitCode> {
    let brief = load_brief(&args.brief).with_context(|| format!("cannot use the brief {}", args.brief.display()))?;
    let campaign_id =
        args.campaign_id.unwrap_or_else(|| chrono::Utc::now().format("campaign_%Y%m%d_%H%M%S_%6f").to_string());
    let storage = Arc::new(StorageService::from_config(config).await?);
    storage.ensure_buckets().await?;
    let router = Arc::new(ModelRouter::from_config(config).await?);
    let brief_dir = args.brief.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let workspace = CampaignWorkspace::new(campaign_id.clone(), storage, brief)
        .with_context(|| format!("--campaign-id {campaign_id}"))?
        .with_brief_dir(brief_dir);
    let workspace = Arc::new(workspace);
    let context = RunContext::new(router, CallContext::default(), EventSink::default());
    let server = ToolServer::new("aae", platform_tools(&workspace), context)?.with_instructions(&format!(
        "AAE's platform tools for campaign {campaign_id} ({}): render ad creatives in every standard size, \
         create the landing page and the PDF report, generate images and videos, save the campaign. \
         Brand colours, logo, budget and currency come from the brief.",
        workspace.brief().name
    ));
    match args.http {
        None => {
            tracing::info!(campaign_id = %campaign_id, "serving the platform tools over stdio");
            server.serve_stdio().await?;
        }
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}; choose a free --http address"))?;
            let local = listener.local_addr()?;
            eprintln!("serving the platform tools of campaign {campaign_id} at http://{local}/mcp (Ctrl-C stops)");
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            server.serve_http(listener, &args.allow_host, shutdown).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let clients = McpClients::connect(&config.mcp).await?;
    let mut rows = Vec::new();
    for connection in clients.connections() {
        for tool in connection.tools() {
            rows.push(json!({
                "server": connection.name(),
                "name": tool.name(),
                "description": tool.description(),
            }));
        }
    }
    if json {
        println!("{}", serde_json::Value::Array(rows));
    } else if config.mcp.servers.is_empty() {
        println!("no MCP servers configured (mcp.servers)");
    } else {
        for row in &rows {
            println!("{:<40} {}", row["name"].as_str().unwrap_or(""), row["description"].as_str().unwrap_or(""));
        }
        println!("{} tools from {} servers", rows.len(), clients.connections().len());
    }
    Ok(ExitCode::SUCCESS)
}
