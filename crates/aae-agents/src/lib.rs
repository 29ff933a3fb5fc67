//! AAE's agents: the "agents as tools" pattern of seed 000 §3 on top of the model router.
//!
//! Owns:
//! - [`Tool`] (`tool.rs`): a typed capability with a JSON Schema of its arguments, validated by
//!   [`schema::validate`] before the tool runs, so a model's malformed call is answered with
//!   a precise error the model can correct instead of reaching the tool;
//! - [`Agent`] (`agent.rs`): a system prompt, a model choice (through the router, so the user's
//!   preference, limits, fallback and credits apply) and tools; [`Agent::run`] loops until the
//!   model answers or the turn limit is hit, runs independent tool calls of one turn
//!   concurrently, retries failed tool executions with backoff, and reports every step as an
//!   [`AgentEvent`];
//! - [`AgentTool`] (`agent_tool.rs`): any agent offered to another as a tool (`{query}` in, its
//!   answer out), optionally keeping its own context between calls; its events appear inside
//!   the caller's stream, tagged with its name, and never in the caller's answer;
//! - [`conversation`] (`conversation/`): conversation state. [`ConversationSession`] persists
//!   every message, tool call and tool result of an agent's runs in the record store (cached in
//!   Redis by `aae-store` when configured) and resumes a conversation from it after a restart;
//!   [`ConversationManager`]s ([`SlidingWindow`], [`Summarizing`]) fit a long conversation into
//!   what the model is shown before each model call, never separating tool calls from their
//!   results;
//! - [`AgentEvent`] and [`EventSink`] (`events.rs`);
//! - [`mcp`] (`mcp/`): MCP with `rmcp`; [`mcp::ToolServer`] serves any tools (the platform
//!   tools in `aae mcp serve`) over stdio or streamable HTTP, and [`mcp::McpClients`] connects the
//!   servers of `mcp.servers` and offers their tools to agents as [`mcp::McpTool`]s;
//! - the platform [`tools`] (`tools/`): the campaign's creatives, landing page, PDF report,
//!   generated media and saved state, stored under `campaigns/{campaign_id}/` with the
//!   provenance of every asset, over a shared [`tools::CampaignWorkspace`];
//! - the campaign's agents ([`orchestrator`]): `market_insights_agent`, `ad_creative_agent` and
//!   `campaign_automation_agent` with their platform tools, and the orchestrator that has the
//!   three as its tools (seed 000 §3);
//! - the [`campaign`] pipeline (`campaign/`): AAE's main job, brief in, every artifact out, with
//!   the specialists in the orchestrator's order, guaranteed artifacts (constrained-JSON and
//!   brief fallbacks when a small model leaves one unmade), a progress log, one
//!   [`campaign::AgentInteraction`] per specialist call, and a checkpoint after every step so a
//!   failed campaign resumes where it stopped.
//!
//! It does not own the model providers or routing (`aae-models`), the conversation records and
//! their Redis cache (`aae-store`), the platform tools' rendering (`aae-creative`), the storage service
//! (`aae-storage`) or jobs (`aae-jobs`).

mod agent;
mod agent_tool;
pub mod campaign;
pub mod conversation;
mod error;
mod events;
pub mod mcp;
pub mod orchestrator;
pub mod schema;
mod tool;
pub mod tools;

pub use agent::{Agent, AgentOutput, AgentSettings, RunContext};
pub use agent_tool::AgentTool;
pub use conversation::{ConversationManager, ConversationSession, SlidingWindow, Summarizing, WindowBudget};
pub use error::{AgentError, AgentResult};
pub use events::{AgentEvent, EventSink};
pub use tool::{FnTool, Tool, ToolError, ToolOutput};
