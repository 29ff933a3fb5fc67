//! The campaign pipeline: AAE's main job. A brief goes in; seed 003's artifacts come out
//! (`website/index.html`, `pdf/campaign_report.pdf`, `artifacts/workflow_state.json`,
//! `metadata/campaign_metadata.json`) with the creatives in every standard size, a progress log
//! and a record of every agent interaction.
//!
//! The campaign orchestrator drives it (seed 000 "agents as tools"): its three tools are the
//! specialists, each wrapped as one pipeline step ([`StepTool`]):
//!
//! | step | agent | guarantees |
//! | --- | --- | --- |
//! | `market_insights` | `market_insights_agent` | insights text in the state |
//! | `ad_creatives` | `ad_creative_agent` | rendered creatives |
//! | `publish` | `campaign_automation_agent` | the landing page and the PDF report |
//! | `save` | (the `save_campaign` tool) | the workflow state and the metadata |
//!
//! The orchestrator decides the order and writes each specialist's query; the step adds the
//! brief's facts, runs the specialist, and makes sure its artifact exists. Steps run one at a
//! time even when the orchestrator asks for several at once, and a step already done answers
//! with what it produced instead of running again. When the orchestrator finishes (or gives up)
//! with steps it never asked for, the pipeline runs them itself in order, then saves; so a model
//! that cannot orchestrate still yields every artifact. [`CampaignPipeline::orchestrated`] turns
//! the orchestrator off (the steps then run in order directly).
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
use std::time::Duration;

use aae_storage::StorageErrorKind;
use aae_storage::layout::CampaignArtifact;
use aae_types::BucketPurpose;
use aae_types::ErrorCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agent::{Agent, AgentSettings, RunContext};
use crate::agent_tool::query_parameters;
use crate::error::AgentError;
use crate::orchestrator::{
    ORCHESTRATOR, ORCHESTRATOR_PROMPT, ad_creative_agent, campaign_automation_agent, campaign_request,
    market_insights_agent,
};
use crate::tool::{Tool, ToolError, ToolOutput};
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
type InteractionCallback = Arc<dyn Fn(&AgentInteraction) + Send + Sync>;

/// The pipeline step that records the orchestrator's own interaction.
pub const ORCHESTRATE: &str = "orchestrate";

/// Runs a campaign over a workspace.
#[derive(Clone)]
pub struct CampaignPipeline {
    workspace: Arc<CampaignWorkspace>,
    on_progress: Option<ProgressCallback>,
    on_interaction: Option<InteractionCallback>,
    settings: AgentSettings,
    extra_tools: Vec<Arc<dyn Tool>>,
    orchestrated: bool,
}

/// How the pipeline's agents run unless [`CampaignPipeline::with_agent_settings`] says
/// otherwise: a few turns each (a specialist needs two or three, the orchestrator four) and
/// replies of at most 1,024 tokens, which bounds a small local model that would otherwise ramble
/// to the default limits.
pub fn default_agent_settings() -> AgentSettings {
    AgentSettings { max_turns: 6, max_tokens: Some(1024), ..AgentSettings::default() }
}

/// The longest query the orchestrator may write to a step (the step adds the brief and earlier
/// results itself). Fewer characters than the orchestrator has tokens, so a small local model's
/// constrained tool call closes its JSON instead of rambling to the token limit.
const QUERY_MAX_CHARS: u32 = 400;

/// The orchestrator's replies are tool calls and a short summary: at most this many tokens.
const ORCHESTRATOR_MAX_TOKENS: u32 = 512;

/// How long the orchestrator waits for one step (a specialist's whole run, fallbacks included)
/// before it gives up on it; the pipeline then runs the step itself.
const STEP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl std::fmt::Debug for CampaignPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CampaignPipeline").field("campaign", &self.workspace.campaign_id()).finish_non_exhaustive()
    }
}

/// What one run has logged and recorded so far, shared with the orchestrator's step tools.
#[derive(Default)]
struct RunLog {
    progress: Mutex<Vec<ProgressEntry>>,
    interactions: Mutex<Vec<AgentInteraction>>,
    /// The first step failure inside the orchestrator's run; later steps are refused.
    failure: Mutex<Option<CampaignError>>,
    /// Steps run one at a time.
    step_lock: tokio::sync::Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CampaignPipeline {
    /// A pipeline over `workspace` (fresh, or restored with [`load_checkpoint`]).
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self {
            workspace,
            on_progress: None,
            on_interaction: None,
            settings: default_agent_settings(),
            extra_tools: Vec::new(),
            orchestrated: true,
        }
    }

    /// Offers `tools` to every specialist besides its platform tools (the tools of the MCP
    /// servers in `mcp.servers`, from `McpClients::tools`).
    pub fn with_tools(mut self, tools: Vec<Arc<dyn Tool>>) -> Self {
        self.extra_tools = tools;
        self
    }

    /// Runs the agents with `settings`.
    pub fn with_agent_settings(mut self, settings: AgentSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Whether the orchestrator drives the steps (default); `false` runs them in order directly.
    pub fn orchestrated(mut self, orchestrated: bool) -> Self {
        self.orchestrated = orchestrated;
        self
    }

    /// Called with every progress entry as it happens.
    pub fn on_progress(mut self, f: impl Fn(&ProgressEntry) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }

    /// Called with every agent interaction as it ends, failed ones included, so a caller can
    /// keep the record of a run that fails later.
    pub fn on_interaction(mut self, f: impl Fn(&AgentInteraction) + Send + Sync + 'static) -> Self {
        self.on_interaction = Some(Arc::new(f));
        self
    }

    fn is_done(&self, step: CampaignStep) -> bool {
        self.workspace.state().completed_steps.iter().any(|s| s == step.name())
    }

    /// Runs the steps the workspace has not completed yet: the orchestrator first, then any step
    /// it left, in order.
    pub async fn run(&self, context: &RunContext) -> Result<CampaignOutcome, CampaignError> {
        let done = self.workspace.state().completed_steps;
        let resumed_from = CampaignStep::ALL.into_iter().find(|s| !done.iter().any(|d| d == s.name()));
        let resumed_from = resumed_from.filter(|_| !done.is_empty()).map(CampaignStep::name);
        let log = Arc::new(RunLog::default());
        for step in CampaignStep::ALL.into_iter().filter(|s| self.is_done(*s)) {
            self.log(&log, step, StepStatus::Skipped, "completed by an earlier run");
        }
        let agent_steps = [CampaignStep::MarketInsights, CampaignStep::AdCreatives, CampaignStep::Publish];
        if self.orchestrated && agent_steps.iter().any(|s| !self.is_done(*s)) {
            self.orchestrate(context, &log).await?;
        }
        for step in CampaignStep::ALL {
            self.execute(context, &log, step, None).await?;
        }
        let progress = std::mem::take(&mut *lock(&log.progress));
        let interactions = std::mem::take(&mut *lock(&log.interactions));
        Ok(CampaignOutcome { state: self.workspace.state(), urls: self.urls(), interactions, progress, resumed_from })
    }

    /// Runs the orchestrator with the specialists' steps as its tools. Its own failure is
    /// recorded and left to the direct run of the remaining steps; a step's failure is returned.
    async fn orchestrate(&self, context: &RunContext, log: &Arc<RunLog>) -> Result<(), CampaignError> {
        let ws = &self.workspace;
        let max_tokens = self.settings.max_tokens.map_or(ORCHESTRATOR_MAX_TOKENS, |t| t.min(ORCHESTRATOR_MAX_TOKENS));
        let settings = AgentSettings {
            tool_timeout: STEP_TIMEOUT,
            tool_retries: 0,
            max_tokens: Some(max_tokens),
            ..self.settings.clone()
        };
        let mut orchestrator = Agent::new(ORCHESTRATOR, ORCHESTRATOR_PROMPT).with_settings(settings);
        for step in [CampaignStep::MarketInsights, CampaignStep::AdCreatives, CampaignStep::Publish] {
            orchestrator = orchestrator.with_tool(StepTool::new(self.clone(), Arc::clone(log), step));
        }
        let mut query = campaign_request(ws);
        let done = ws.state().completed_steps;
        if !done.is_empty() {
            query.push_str(&format!(
                "\n\nAn earlier run already completed: {}. Their results are saved; ask only for what is left.",
                done.join(", ")
            ));
        }
        let recorder = InteractionRecorder::new(ORCHESTRATE, ORCHESTRATOR, &query);
        // The specialists' steps are recorded by their own interactions.
        let child = recorder.child_context(context, Some(ORCHESTRATOR));
        let interaction = match orchestrator.run(&child, vec![aae_models::Message::user(query)]).await {
            Ok(output) => recorder.finish(Some(&output), None),
            Err(err) => {
                tracing::warn!(campaign = ws.campaign_id(), error = %err, "the orchestrator did not finish; the pipeline runs the steps it left");
                recorder.finish(None, Some(err.to_string()))
            }
        };
        self.record(log, interaction);
        match lock(&log.failure).take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Runs `step` unless it is done; `instructions` are the orchestrator's query, if it asked.
    async fn execute(
        &self,
        context: &RunContext,
        log: &RunLog,
        step: CampaignStep,
        instructions: Option<&str>,
    ) -> Result<(), CampaignError> {
        let _one_at_a_time = log.step_lock.lock().await;
        if self.is_done(step) {
            return Ok(());
        }
        self.log(log, step, StepStatus::Started, "");
        if let Err(err) = self.run_step(context, log, step, instructions).await {
            self.log(log, step, StepStatus::Failed, &err.to_string());
            return Err(err);
        }
        if step != CampaignStep::Save {
            self.workspace.update(|state| state.completed_steps.push(step.name().to_owned()));
            self.checkpoint().await?;
        }
        self.log(log, step, StepStatus::Completed, "");
        Ok(())
    }

    fn log(&self, log: &RunLog, step: CampaignStep, status: StepStatus, message: &str) {
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
        lock(&log.progress).push(entry);
    }

    fn record(&self, log: &RunLog, interaction: AgentInteraction) {
        if let Some(f) = &self.on_interaction {
            f(&interaction);
        }
        lock(&log.interactions).push(interaction);
    }

    async fn run_step(
        &self,
        context: &RunContext,
        log: &RunLog,
        step: CampaignStep,
        instructions: Option<&str>,
    ) -> Result<(), CampaignError> {
        let ws = &self.workspace;
        let fail = |message: String, code: ErrorCode| CampaignError::Step { step: step.name(), message, code };
        let query = |base: String| match instructions.map(str::trim).filter(|i| !i.is_empty()) {
            Some(asked) => format!("{base}\n\nThe campaign orchestrator asks: {asked}"),
            None => base,
        };
        match step {
            CampaignStep::MarketInsights => {
                let query = query(fallback::insights_query(ws.brief()));
                let mut interaction = self.ask(context, log, step, market_insights_agent(ws), &query).await?;
                let mut insights = fallback::paragraphs(&interaction.answer);
                if insights.is_empty() {
                    insights = fallback::brief_insights(ws.brief());
                    interaction.fallback = Some("insights written from the brief (the agent gave none)".into());
                }
                ws.update(|state| state.insights = insights);
                self.record(log, interaction);
            }
            CampaignStep::AdCreatives => {
                let before = ws.state().creatives.len();
                let query = query(fallback::creatives_query(ws.brief(), &ws.state().insights));
                let mut interaction = self.ask(context, log, step, ad_creative_agent(ws), &query).await?;
                let mut made = Ok(());
                if ws.state().creatives.len() == before {
                    let draft = fallback::creative_copy(context, ws.brief(), &query).await;
                    interaction.add_spent(&draft.spent);
                    interaction.fallback = Some(format!("render_ad_creatives called by the pipeline ({})", draft.how));
                    made = RenderAdCreatives::new(ws.clone()).call_checked(context, draft.args).await.map(drop);
                }
                self.record(log, interaction);
                made.map_err(|e| fail(e.to_string(), ErrorCode::Internal))?;
            }
            CampaignStep::Publish => {
                let state = ws.state();
                let query = query(fallback::publish_query(ws.brief(), &state.insights, &state.creatives));
                let mut interaction = self.ask(context, log, step, campaign_automation_agent(ws), &query).await?;
                let mut notes = Vec::new();
                let mut made = Ok(());
                if ws.state().landing_page.is_none() {
                    let draft = fallback::landing_page(context, ws.brief(), &query).await;
                    interaction.add_spent(&draft.spent);
                    notes.push(format!("create_landing_page called by the pipeline ({})", draft.how));
                    made = CreateLandingPage::new(ws.clone()).call_checked(context, draft.args).await.map(drop);
                }
                if made.is_ok() && ws.state().report.is_none() {
                    let args = fallback::report(ws.brief(), &ws.state().insights);
                    notes.push("create_pdf_report called by the pipeline (from the brief and insights)".to_owned());
                    made = CreatePdfReport::new(ws.clone()).call_checked(context, args).await.map(drop);
                }
                if !notes.is_empty() {
                    interaction.fallback = Some(notes.join("; "));
                }
                self.record(log, interaction);
                made.map_err(|e| fail(e.to_string(), ErrorCode::Internal))?;
            }
            CampaignStep::Save => {
                let state = ws.state();
                let summary = state
                    .summary
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| fallback::summary(ws.brief(), &state));
                // The saved state already counts this step as complete; it is taken back if the
                // save fails, so a resume saves again.
                ws.update(|state| state.completed_steps.push(step.name().to_owned()));
                let saved = SaveCampaign::new(ws.clone()).call_checked(context, json!({"summary": summary})).await;
                if let Err(err) = saved {
                    ws.update(|state| state.completed_steps.retain(|s| s != step.name()));
                    return Err(fail(err.to_string(), ErrorCode::Unavailable));
                }
            }
        }
        Ok(())
    }

    /// Runs one specialist on `query`. Its interaction is returned when it answered or could not
    /// complete its reply (the step's guarantees then fill the gaps), and recorded here when it
    /// failed the step.
    async fn ask(
        &self,
        context: &RunContext,
        log: &RunLog,
        step: CampaignStep,
        agent: Agent,
        query: &str,
    ) -> Result<AgentInteraction, CampaignError> {
        let agent = agent.with_settings(self.settings.clone()).with_tools(self.extra_tools.iter().cloned());
        let recorder = InteractionRecorder::new(step.name(), agent.name(), query);
        let child = recorder.child_context(context, None);
        let result = agent.run(&child, vec![aae_models::Message::user(query.to_owned())]).await;
        match result {
            Ok(output) => Ok(recorder.finish(Some(&output), None)),
            // The agent did not finish (turn limit, or a reply the model could not complete,
            // e.g. a small model's JSON cut off at the token limit): what it produced still
            // counts, and the step's guarantees fill the gaps.
            Err(err) if unusable_output(&err) => Ok(recorder.finish(None, Some(err.to_string()))),
            Err(err) => {
                self.record(log, recorder.finish(None, Some(err.to_string())));
                Err(CampaignError::Step { step: step.name(), code: err.code(), message: err.to_string() })
            }
        }
    }

    /// What a completed step produced, as the orchestrator sees it.
    fn produced(&self, log: &RunLog, step: CampaignStep) -> Value {
        let state = self.workspace.state();
        let answer = lock(&log.interactions)
            .iter()
            .rev()
            .find(|i| i.step == step.name())
            .map(|i| i.answer.clone())
            .unwrap_or_default();
        let produced = match step {
            CampaignStep::MarketInsights => json!({"insights": state.insights}),
            CampaignStep::AdCreatives => {
                let keys: Vec<&str> = state.creatives.iter().map(|c| c.key.as_str()).collect();
                json!({"creatives": keys})
            }
            CampaignStep::Publish => json!({"landing_page": state.landing_page, "report": state.report}),
            CampaignStep::Save => json!({}),
        };
        json!({"step": step.name(), "status": "completed", "answer": answer, "produced": produced})
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

/// One specialist's step offered to the orchestrator as a tool named after the specialist
/// (`{query}` in, what the step produced out).
pub struct StepTool {
    pipeline: CampaignPipeline,
    log: Arc<RunLog>,
    step: CampaignStep,
    name: String,
    description: String,
}

impl std::fmt::Debug for StepTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepTool").field("step", &self.step).finish_non_exhaustive()
    }
}

impl StepTool {
    fn new(pipeline: CampaignPipeline, log: Arc<RunLog>, step: CampaignStep) -> Self {
        let ws = &pipeline.workspace;
        let agent = match step {
            CampaignStep::MarketInsights => market_insights_agent(ws),
            CampaignStep::AdCreatives => ad_creative_agent(ws),
            CampaignStep::Publish | CampaignStep::Save => campaign_automation_agent(ws),
        };
        let (name, description) = (agent.name().to_owned(), agent.description().to_owned());
        Self { pipeline, log, step, name, description }
    }
}

#[async_trait::async_trait]
impl Tool for StepTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        query_parameters(
            "What to ask: the focus of this step. The agent already has the brief and earlier results.",
            Some(QUERY_MAX_CHARS),
        )
    }

    async fn call(&self, context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        if let Some(failed) = lock(&self.log.failure).as_ref() {
            return Err(ToolError::Failed(format!("the campaign stopped: {failed}")));
        }
        let query = arguments.get("query").and_then(Value::as_str).unwrap_or_default();
        match self.pipeline.execute(context, &self.log, self.step, Some(query)).await {
            Ok(()) => Ok(self.pipeline.produced(&self.log, self.step)),
            Err(err) => {
                let message = err.to_string();
                lock(&self.log.failure).get_or_insert(err);
                Err(ToolError::Failed(message))
            }
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

/// The state saved by an earlier run of this campaign (`artifacts/workflow_state.json`), if any.
pub async fn load_checkpoint(workspace: &CampaignWorkspace) -> Result<Option<WorkspaceState>, CampaignError> {
    let key =
        workspace.artifact_key(CampaignArtifact::WorkflowState).map_err(|e| CampaignError::State(e.to_string()))?;
    let bytes = match workspace.storage().download_bytes(BucketPurpose::CampaignOutputs, &key).await {
        Ok((_, bytes)) => bytes,
        Err(e) if e.kind == StorageErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CampaignError::State(format!("cannot read {key}: {e}"))),
    };
    let saved: WorkflowState = serde_json::from_slice(&bytes)
        .map_err(|e| CampaignError::State(format!("{key} is not a workflow state: {e}")))?;
    if saved.campaign_id != workspace.campaign_id() {
        return Err(CampaignError::State(format!("{key} belongs to campaign {}", saved.campaign_id)));
    }
    Ok(Some(saved.state))
}
