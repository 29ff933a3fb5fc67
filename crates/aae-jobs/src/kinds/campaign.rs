//! `campaign`: AAE's main job. Runs the campaign pipeline (`aae_agents::campaign`) for one
//! campaign record and keeps the record current (seed 003): status `running` → `completed` or
//! `failed`, the progress log as it happens, every agent interaction, the execution time and the
//! four artifact URLs. The job's own progress follows the pipeline's steps.
//!
//! Configuration ([`CampaignJobInput`]): `{"campaign_id", "brief", "user_id"?, "preference"?}`.
//! The record must exist (the CLI and the API create it, `pending`, before enqueueing).
//!
//! A run resumes from the campaign's checkpoint (`artifacts/workflow_state.json`), so a retry
//! after a provider outage, a worker that died mid-run, or `aae campaign resume` all continue
//! from the step that did not finish; completed steps are not paid for twice.

use std::sync::Arc;
use std::time::Instant;

use aae_agents::campaign::{CampaignPipeline, ProgressEntry, load_checkpoint};
use aae_agents::tools::CampaignWorkspace;
use aae_agents::{EventSink, RunContext, Tool};
use aae_models::{CallContext, ModelRouter};
use aae_storage::StorageService;
use aae_store::{Campaign, CampaignStatus, CampaignStore, StoreErrorKind};
use aae_types::{CampaignBrief, UserModelPreference};
use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{JobContext, JobError, JobHandler};

/// The kind's name in the queue.
pub const CAMPAIGN_KIND: &str = "campaign";

/// What a `campaign` job is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignJobInput {
    /// The campaign record to run.
    pub campaign_id: String,
    /// The brief (logo and document paths absolute).
    pub brief: CampaignBrief,
    /// Who pays: usage records and credits go to this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// The conversational model to use (default: the configured default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<UserModelPreference>,
}

/// The `campaign` kind.
#[derive(Clone)]
pub struct CampaignJob {
    campaigns: Arc<dyn CampaignStore>,
    storage: Arc<StorageService>,
    router: Arc<ModelRouter>,
    tools: Vec<Arc<dyn Tool>>,
}

impl std::fmt::Debug for CampaignJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CampaignJob")
    }
}

impl CampaignJob {
    /// The handler over the campaign records, the storage the artifacts go to, and the router
    /// every model call goes through.
    pub fn new(campaigns: Arc<dyn CampaignStore>, storage: Arc<StorageService>, router: Arc<ModelRouter>) -> Self {
        Self { campaigns, storage, router, tools: Vec::new() }
    }

    /// Offers `tools` (the configured MCP servers' tools) to the campaign's specialists.
    pub fn with_tools(mut self, tools: Vec<Arc<dyn Tool>>) -> Self {
        self.tools = tools;
        self
    }

    async fn save(&self, record: &Campaign) -> Result<(), JobError> {
        self.campaigns
            .put(record)
            .await
            .map_err(|e| JobError::retryable(format!("cannot update the campaign record: {e}")))
    }
}

fn append(log: &mut Option<Value>, items: impl IntoIterator<Item = Value>) {
    let mut entries = match log.take() {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    entries.extend(items);
    *log = Some(Value::Array(entries));
}

#[async_trait]
impl JobHandler for CampaignJob {
    fn kind(&self) -> &str {
        CAMPAIGN_KIND
    }

    async fn run(&self, ctx: &JobContext) -> Result<Option<Value>, JobError> {
        let input: CampaignJobInput = serde_json::from_value(ctx.configuration().clone())
            .map_err(|e| JobError::permanent(format!("campaign job configuration: {e}")))?;
        let mut record = match self.campaigns.get(&input.campaign_id).await {
            Ok(record) => record,
            Err(e) if e.kind == StoreErrorKind::NotFound => {
                return Err(JobError::permanent(format!("campaign {} does not exist", input.campaign_id)));
            }
            Err(e) => return Err(JobError::retryable(format!("cannot read campaign {}: {e}", input.campaign_id))),
        };
        if record.status == CampaignStatus::Cancelled {
            return Err(JobError::permanent(format!("campaign {} was cancelled", input.campaign_id)));
        }
        let workspace = CampaignWorkspace::new(&input.campaign_id, Arc::clone(&self.storage), input.brief.clone())
            .map_err(|e| JobError::permanent(format!("campaign {}: {e}", input.campaign_id)))?;
        let workspace = match load_checkpoint(&workspace).await {
            Ok(Some(state)) => workspace.with_state(state),
            Ok(None) => workspace,
            Err(e) => return Err(JobError::retryable(e.to_string())),
        };

        record.status = CampaignStatus::Running;
        record.completed_at = None;
        self.save(&record).await?;

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ProgressEntry>();
        let pipeline =
            CampaignPipeline::new(Arc::new(workspace)).on_progress(move |entry| drop(tx.send(entry.clone())));
        let call =
            CallContext { user_id: input.user_id, preference: input.preference.clone(), ..CallContext::default() };
        let context = RunContext::new(Arc::clone(&self.router), call, EventSink::default());
        let started = Instant::now();
        let run = pipeline.run(&context);
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                Some(entry) = rx.recv() => {
                    ctx.report_progress(entry.percent, Some(&entry.step)).await?;
                    append(&mut record.progress_log, [json!(entry)]);
                    self.save(&record).await?;
                }
                () = ctx.cancellation().cancelled() => return Err(JobError::Cancelled),
            }
        };
        while let Ok(entry) = rx.try_recv() {
            append(&mut record.progress_log, [json!(entry)]);
        }
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(outcome) => {
                let interactions = outcome.interactions.iter().map(|i| json!(i));
                let mut all = match std::mem::take(&mut record.agent_interactions) {
                    Value::Array(items) => items,
                    _ => Vec::new(),
                };
                all.extend(interactions);
                record.agent_interactions = Value::Array(all);
                record.status = CampaignStatus::Completed;
                record.completed_at = Some(Utc::now());
                record.execution_time = Some(record.execution_time.unwrap_or(0.0) + seconds);
                record.website_url = outcome.urls.website_url.clone();
                record.pdf_url = outcome.urls.pdf_url.clone();
                record.workflow_state_url = outcome.urls.workflow_state_url.clone();
                record.metadata_url = outcome.urls.metadata_url.clone();
                record.final_state = Some(json!(outcome.state));
                self.save(&record).await?;
                Ok(Some(json!({
                    "campaign_id": input.campaign_id,
                    "creatives": outcome.state.creatives.len(),
                    "resumed_from": outcome.resumed_from,
                    "urls": outcome.urls,
                    "execution_time": seconds,
                })))
            }
            Err(error) => {
                record.status = CampaignStatus::Failed;
                record.execution_time = Some(record.execution_time.unwrap_or(0.0) + seconds);
                self.save(&record).await?;
                let message = format!("campaign {}: {error}", input.campaign_id);
                Err(if error.is_retryable() { JobError::retryable(message) } else { JobError::permanent(message) })
            }
        }
    }
}
