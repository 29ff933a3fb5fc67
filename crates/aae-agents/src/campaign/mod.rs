//! The campaign pipeline: AAE's main job. A brief goes in; seed 003's artifacts come out
//! (`website/index.html`, `pdf/campaign_report.pdf`, `artifacts/workflow_state.json`,
//! `metadata/campaign_metadata.json`) with the creatives in every standard size, a progress log
//! and a record of every agent interaction.
//!
//! The pipeline runs the orchestrator's specialists in the orchestrator's order, one step each:
//!
//! | step | agent | guarantees |
//! | --- | --- | --- |
//! | `market_insights` | `market_insights_agent` | insights text in the state |
//! | `ad_creatives` | `ad_creative_agent` | rendered creatives |
//! | `publish` | `campaign_automation_agent` | the landing page and the PDF report |
//! | `save` | (the `save_campaign` tool) | the workflow state and the metadata |
//!
//! A specialist may answer without producing its artifact (a small local model often does):
//! the step then asks the model for just the content, as schema-constrained JSON, and calls the
//! tool itself; if that fails too, the content comes from the brief (`fallback.rs`). Each fallback
//! is recorded in the step's [`AgentInteraction`]. A model or provider failure fails the step.
//!
//! After every completed step the state is written to `artifacts/workflow_state.json` with the
//! steps done so far, so [`load_checkpoint`] and [`CampaignPipeline::run`] resume a failed or
//! interrupted campaign from the step that did not finish.

mod fallback;
mod record;

use std::sync::{Arc, Mutex, PoisonError};

use aae_storage::layout::CampaignArtifact;
use aae_types::BucketPurpose;
use aae_types::ErrorCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agent::{Agent, AgentSettings, RunContext};
use crate::error::AgentError;
use crate::events::{AgentEvent, EventSink};
use crate::orchestrator::{ad_creative_agent, campaign_automation_agent, market_insights_agent};
use crate::tool::{Tool, ToolError};
use crate::tools::{
    CampaignWorkspace, CreateLandingPage, CreatePdfReport, RenderAdCreatives, SaveCampaign, WorkflowState,
    WorkspaceState,
};

pub use record::{AgentInteraction, InteractionRecorder, ProgressEntry, StepStatus};

/// One step of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStep {
    /// Audience and market insights.
    MarketInsights,
    /// Ad copy and the rendered creatives.
    AdCreatives,
    /// Landing page and PDF report.
    Publish,
    /// Workflow state and metadata.
    Save,
}

impl CampaignStep {
    /// Every step, in order.
    pub const ALL: [Self; 4] = [Self::MarketInsights, Self::AdCreatives, Self::Publish, Self::Save];

    /// The step's name in the progress log and the workflow state.
    pub fn name(self) -> &'static str {
        match self {
            Self::MarketInsights => "market_insights",
            Self::AdCreatives => "ad_creatives",
            Self::Publish => "publish",
            Self::Save => "save",
        }
    }

    /// Percent done once this step completes.
    pub fn percent_after(self) -> f64 {
        match self {
            Self::MarketInsights => 25.0,
            Self::AdCreatives => 55.0,
            Self::Publish => 85.0,
            Self::Save => 100.0,
        }
    }
}

/// Why a campaign run stopped.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// A step failed; the steps before it are saved and a resume starts here.
    #[error("campaign step {step} failed: {message}")]
    Step {
        /// The step.
        step: &'static str,
        /// What went wrong.
        message: String,
        /// The classification of the underlying error (retryable ones are `Unavailable`,
        /// `RateLimited`).
        code: ErrorCode,
    },
    /// The checkpoint could not be written or read.
    #[error("campaign state: {0}")]
    State(String),
}

impl CampaignError {
    /// The classification.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Step { code, .. } => *code,
            Self::State(_) => ErrorCode::Unavailable,
        }
    }

    /// Whether running again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.code(), ErrorCode::Unavailable | ErrorCode::RateLimited)
    }
}

/// The four artifacts' URLs (seed 003's `website_url`, `pdf_url`, `workflow_state_url`,
/// `metadata_url`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignUrls {
    /// The landing page.
    pub website_url: Option<String>,
    /// The PDF report.
    pub pdf_url: Option<String>,
    /// The workflow state.
    pub workflow_state_url: Option<String>,
    /// The metadata.
    pub metadata_url: Option<String>,
}

/// What a finished run leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignOutcome {
    /// The final workspace state.
    pub state: WorkspaceState,
    /// The artifacts' URLs.
    pub urls: CampaignUrls,
    /// Every agent interaction of this run (resumed runs hold only their own).
    pub interactions: Vec<AgentInteraction>,
    /// The progress log of this run.
    pub progress: Vec<ProgressEntry>,
    /// Steps skipped because a previous run completed them.
    pub resumed_from: Option<&'static str>,
}

type ProgressCallback = Arc<dyn Fn(&ProgressEntry) + Send + Sync>;

/// Runs a campaign over a workspace.
#[derive(Clone)]
pub struct CampaignPipeline {
    workspace: Arc<CampaignWorkspace>,
    on_progress: Option<ProgressCallback>,
    settings: AgentSettings,
    extra_tools: Vec<Arc<dyn Tool>>,
}

/// How the pipeline's specialists run unless [`CampaignPipeline::with_agent_settings`] says
/// otherwise: a few turns each (a specialist needs two or three) and replies of at most 1,024
/// tokens, which bounds a small local model that would otherwise ramble to the default limits.
pub fn default_agent_settings() -> AgentSettings {
    AgentSettings { max_turns: 6, max_tokens: Some(1024), ..AgentSettings::default() }
}

impl std::fmt::Debug for CampaignPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CampaignPipeline").field("campaign", &self.workspace.campaign_id()).finish_non_exhaustive()
    }
}

impl CampaignPipeline {
    /// A pipeline over `workspace` (fresh, or restored with [`load_checkpoint`]).
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self { workspace, on_progress: None, settings: default_agent_settings(), extra_tools: Vec::new() }
    }

    /// Offers `tools` to every specialist besides its platform tools (the tools of the MCP
    /// servers in `mcp.servers`, from `McpClients::tools`).
    pub fn with_tools(mut self, tools: Vec<Arc<dyn Tool>>) -> Self {
        self.extra_tools = tools;
        self
    }

    /// Runs the specialists with `settings`.
    pub fn with_agent_settings(mut self, settings: AgentSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Called with every progress entry as it happens.
    pub fn on_progress(mut self, f: impl Fn(&ProgressEntry) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }

    /// Runs the steps the workspace has not completed yet, in order.
    pub async fn run(&self, context: &RunContext) -> Result<CampaignOutcome, CampaignError> {
        let done = self.workspace.state().completed_steps;
        let resumed_from = CampaignStep::ALL.into_iter().find(|s| !done.iter().any(|d| d == s.name()));
        let resumed_from = resumed_from.filter(|_| !done.is_empty()).map(CampaignStep::name);
        let progress = Arc::new(Mutex::new(Vec::new()));
        let mut interactions = Vec::new();
        for step in CampaignStep::ALL {
            if done.iter().any(|d| d == step.name()) {
                self.log(&progress, step, StepStatus::Skipped, "completed by an earlier run");
                continue;
            }
            self.log(&progress, step, StepStatus::Started, "");
            match self.run_step(context, step).await {
                Ok(mut step_interactions) => {
                    interactions.append(&mut step_interactions);
                    self.workspace.update(|state| state.completed_steps.push(step.name().to_owned()));
                    if step != CampaignStep::Save {
                        self.checkpoint().await?;
                    }
                    self.log(&progress, step, StepStatus::Completed, "");
                }
                Err(err) => {
                    self.log(&progress, step, StepStatus::Failed, &err.to_string());
                    return Err(err);
                }
            }
        }
        let progress = std::mem::take(&mut *progress.lock().unwrap_or_else(PoisonError::into_inner));
        Ok(CampaignOutcome { state: self.workspace.state(), urls: self.urls(), interactions, progress, resumed_from })
    }

    fn log(&self, progress: &Mutex<Vec<ProgressEntry>>, step: CampaignStep, status: StepStatus, message: &str) {
        let percent = match status {
            StepStatus::Completed | StepStatus::Skipped => step.percent_after(),
            StepStatus::Started | StepStatus::Failed => {
                let index = CampaignStep::ALL.iter().position(|s| *s == step).unwrap_or(0);
                index.checked_sub(1).map_or(0.0, |i| CampaignStep::ALL[i].percent_after())
            }
        };
        let entry = ProgressEntry {
            at: Utc::now(),
            step: step.name().to_owned(),
            status,
            message: message.to_owned(),
            percent,
        };
        if let Some(f) = &self.on_progress {
            f(&entry);
        }
        progress.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    }

    async fn run_step(&self, context: &RunContext, step: CampaignStep) -> Result<Vec<AgentInteraction>, CampaignError> {
        let ws = &self.workspace;
        let fail = |message: String, code: ErrorCode| CampaignError::Step { step: step.name(), message, code };
        match step {
            CampaignStep::MarketInsights => {
                let query = fallback::insights_query(ws.brief());
                let mut interaction = self.ask(context, step, market_insights_agent(ws), &query).await?;
                let mut insights = fallback::paragraphs(&interaction.answer);
                if insights.is_empty() {
                    insights = fallback::brief_insights(ws.brief());
                    interaction.fallback = Some("insights written from the brief (the agent gave none)".into());
                }
                ws.update(|state| state.insights = insights);
                Ok(vec![interaction])
            }
            CampaignStep::AdCreatives => {
                let before = ws.state().creatives.len();
                let query = fallback::creatives_query(ws.brief(), &ws.state().insights);
                let mut interaction = self.ask(context, step, ad_creative_agent(ws), &query).await?;
                if ws.state().creatives.len() == before {
                    let (copy, how) = fallback::creative_copy(context, ws.brief(), &query).await;
                    let tool = RenderAdCreatives::new(ws.clone());
                    call_tool(&tool, context, copy).await.map_err(|e| fail(e.to_string(), ErrorCode::Internal))?;
                    interaction.fallback = Some(format!("render_ad_creatives called by the pipeline ({how})"));
                }
                Ok(vec![interaction])
            }
            CampaignStep::Publish => {
                let state = ws.state();
                let query = fallback::publish_query(ws.brief(), &state.insights, &state.creatives);
                let mut interaction = self.ask(context, step, campaign_automation_agent(ws), &query).await?;
                let mut notes = Vec::new();
                if ws.state().landing_page.is_none() {
                    let (args, how) = fallback::landing_page(context, ws.brief(), &query).await;
                    let tool = CreateLandingPage::new(ws.clone());
                    call_tool(&tool, context, args).await.map_err(|e| fail(e.to_string(), ErrorCode::Internal))?;
                    notes.push(format!("create_landing_page called by the pipeline ({how})"));
                }
                if ws.state().report.is_none() {
                    let args = fallback::report(ws.brief(), &ws.state().insights);
                    let tool = CreatePdfReport::new(ws.clone());
                    call_tool(&tool, context, args).await.map_err(|e| fail(e.to_string(), ErrorCode::Internal))?;
                    notes.push("create_pdf_report called by the pipeline (from the brief and insights)".to_owned());
                }
                if !notes.is_empty() {
                    interaction.fallback = Some(notes.join("; "));
                }
                Ok(vec![interaction])
            }
            CampaignStep::Save => {
                let state = ws.state();
                let summary = state
                    .summary
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| fallback::summary(ws.brief(), &state));
                // The step itself is marked complete in the saved state.
                ws.update(|state| state.completed_steps.push(CampaignStep::Save.name().to_owned()));
                let saved = call_tool(&SaveCampaign::new(ws.clone()), context, json!({"summary": summary})).await;
                ws.update(|state| {
                    state.completed_steps.pop();
                });
                saved.map_err(|e| fail(e.to_string(), ErrorCode::Unavailable))?;
                Ok(Vec::new())
            }
        }
    }

    /// Runs one specialist on `query`, recording its interaction.
    async fn ask(
        &self,
        context: &RunContext,
        step: CampaignStep,
        agent: Agent,
        query: &str,
    ) -> Result<AgentInteraction, CampaignError> {
        let agent = agent.with_settings(self.settings.clone()).with_tools(self.extra_tools.iter().cloned());
        let recorder = InteractionRecorder::new(step.name(), agent.name(), query);
        let forward = context.events.clone();
        let sink = {
            let recorder = recorder.clone();
            EventSink::new(move |event: AgentEvent| {
                recorder.observe(&event);
                forward.emit(event);
            })
        };
        let child = RunContext { events: sink, ..context.child() };
        let result = agent.run(&child, vec![aae_models::Message::user(query.to_owned())]).await;
        match result {
            Ok(output) => Ok(recorder.finish(Some(&output), None)),
            // The agent did not finish (turn limit, or a reply the model could not complete,
            // e.g. a small model's JSON cut off at the token limit): what it produced still
            // counts, and the step's guarantees fill the gaps.
            Err(err) if unusable_output(&err) => Ok(recorder.finish(None, Some(err.to_string()))),
            Err(err) => Err(CampaignError::Step { step: step.name(), code: err.code(), message: err.to_string() }),
        }
    }

    /// Writes `artifacts/workflow_state.json` with the state so far.
    async fn checkpoint(&self) -> Result<(), CampaignError> {
        let ws = &self.workspace;
        let key = ws.artifact_key(CampaignArtifact::WorkflowState).map_err(|e| CampaignError::State(e.to_string()))?;
        let state = WorkflowState { campaign_id: ws.campaign_id().to_owned(), saved_at: Utc::now(), state: ws.state() };
        let bytes = serde_json::to_vec_pretty(&state).map_err(|e| CampaignError::State(e.to_string()))?;
        ws.store(&key, bytes, CampaignArtifact::WorkflowState.content_type(), "workflow_state")
            .await
            .map(drop)
            .map_err(|e| CampaignError::State(format!("cannot write {key}: {e}")))
    }

    fn urls(&self) -> CampaignUrls {
        let ws = &self.workspace;
        let state = ws.state();
        let url = |key: Option<String>| key.and_then(|k| ws.storage().cdn_url(BucketPurpose::CampaignOutputs, &k).ok());
        let artifact = |a: CampaignArtifact| url(ws.artifact_key(a).ok());
        let saved = state.completed_steps.iter().any(|s| s == CampaignStep::Save.name());
        CampaignUrls {
            website_url: url(state.landing_page.clone()),
            pdf_url: url(state.report.clone()),
            workflow_state_url: artifact(CampaignArtifact::WorkflowState),
            metadata_url: if saved { artifact(CampaignArtifact::Metadata) } else { None },
        }
    }
}

/// Whether an agent failed on its own output rather than on an unreachable or refusing model.
fn unusable_output(err: &AgentError) -> bool {
    match err {
        AgentError::TurnLimit { .. } => true,
        AgentError::Model { source, .. } => source.kind == aae_models::ModelErrorKind::InvalidResponse,
        _ => false,
    }
}

/// Calls a tool directly (validated like a model's call would be).
async fn call_tool(tool: &dyn Tool, context: &RunContext, arguments: Value) -> Result<Value, ToolError> {
    crate::schema::validate(&tool.parameters(), &arguments).map_err(ToolError::InvalidArguments)?;
    tool.call(context, arguments).await
}

/// The state saved by an earlier run of this campaign (`artifacts/workflow_state.json`), if any.
pub async fn load_checkpoint(workspace: &CampaignWorkspace) -> Result<Option<WorkspaceState>, CampaignError> {
    let key =
        workspace.artifact_key(CampaignArtifact::WorkflowState).map_err(|e| CampaignError::State(e.to_string()))?;
    let exists = workspace
        .storage()
        .exists(BucketPurpose::CampaignOutputs, &key)
        .await
        .map_err(|e| CampaignError::State(format!("cannot read {key}: {e}")))?;
    if !exists {
        return Ok(None);
    }
    let bytes = workspace.download(&key).await.map_err(|e| CampaignError::State(e.to_string()))?;
    let saved: WorkflowState = serde_json::from_slice(&bytes)
        .map_err(|e| CampaignError::State(format!("{key} is not a workflow state: {e}")))?;
    if saved.campaign_id != workspace.campaign_id() {
        return Err(CampaignError::State(format!("{key} belongs to campaign {}", saved.campaign_id)));
    }
    Ok(Some(saved.state))
}
