//! `campaign`: AAE's main job. Runs the campaign pipeline (`aae_agents::campaign`) for one
//! campaign record and keeps the record current (seed 003): status `running` → `completed` or
//! `failed`, the progress log as it happens, every agent interaction, the execution time and the
//! four artifact URLs. The job's own progress follows the pipeline's steps.
//!
//! Configuration ([`CampaignJobInput`]): `{"campaign_id", "brief", "user_id"?, "preference"?}`.
//! The record must exist (the CLI and the API create it, `pending`, before enqueueing).
//!
//! Credits: with a paying user (`user_id`) and [`CampaignJob::with_credits`], each attempt first
//! holds `campaigns.credit_hold` credits (idempotency key
//! `campaign:{campaign_id}:job:{job_id}:attempt:{n}`), so a campaign the user cannot pay for fails
//! before any model runs, with a message that says so. When the attempt ends — completed, failed
//! or cancelled — what it actually cost (its agent interactions plus the assets it generated, at
//! most the hold) is captured and the rest released. A hold left open by an attempt that died
//! with its worker is released by the next attempt of the same campaign, so credits never stay
//! stuck.
//!
//! Every agent interaction is written to the record as it ends, so the record of an attempt
//! that fails later keeps what was asked, answered and spent.
//!
//! A run resumes from the campaign's checkpoint (`artifacts/workflow_state.json`), so a retry
//! after a provider outage, a worker that died mid-run, or `aae campaign resume` all continue
//! from the step that did not finish; completed steps are not paid for twice.

use std::sync::Arc;
use std::time::Instant;

use aae_agents::campaign::{AgentInteraction, CampaignPipeline, ProgressEntry, StepStatus, load_checkpoint};
use aae_agents::tools::CampaignWorkspace;
use aae_agents::{EventSink, RunContext, Tool};
use aae_models::{CallContext, ModelRouter};
use aae_storage::StorageService;
use aae_store::{
    Campaign, CampaignStatus, CampaignStore, CreditLedger, LedgerEntry, MICROS_PER_CREDIT, StoreErrorKind,
};
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
    credits: Option<Credits>,
}

#[derive(Clone)]
struct Credits {
    ledger: Arc<dyn CreditLedger>,
    hold_micros: i64,
}

impl std::fmt::Debug for CampaignJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CampaignJob")
    }
}

/// What the pipeline reports while it runs.
enum Update {
    Progress(ProgressEntry),
    Interaction(Box<AgentInteraction>),
}

impl CampaignJob {
    /// The handler over the campaign records, the storage the artifacts go to, and the router
    /// every model call goes through.
    pub fn new(campaigns: Arc<dyn CampaignStore>, storage: Arc<StorageService>, router: Arc<ModelRouter>) -> Self {
        Self { campaigns, storage, router, tools: Vec::new(), credits: None }
    }

    /// Offers `tools` (the configured MCP servers' tools) to the campaign's specialists.
    pub fn with_tools(mut self, tools: Vec<Arc<dyn Tool>>) -> Self {
        self.tools = tools;
        self
    }

    /// Holds `hold_micros` micro-credits (> 0) from the paying user before each attempt and
    /// settles the hold when it ends (see the module's documentation).
    pub fn with_credits(mut self, ledger: Arc<dyn CreditLedger>, hold_micros: i64) -> Self {
        self.credits = (hold_micros > 0).then_some(Credits { ledger, hold_micros });
        self
    }

    async fn save(&self, record: &Campaign) -> Result<(), JobError> {
        self.campaigns
            .put(record)
            .await
            .map_err(|e| JobError::retryable(format!("cannot update the campaign record: {e}")))
    }

    /// Takes this attempt's hold, after releasing any hold an earlier, interrupted attempt of
    /// the same campaign left open.
    async fn hold(&self, ctx: &JobContext, input: &CampaignJobInput) -> Result<Option<LedgerEntry>, JobError> {
        let (Some(credits), Some(user)) = (&self.credits, input.user_id) else { return Ok(None) };
        let id = &input.campaign_id;
        let prefix = format!("campaign:{id}:");
        let unavailable = |e: aae_store::StoreError| JobError::retryable(format!("campaign {id}: credit ledger: {e}"));
        for stale in credits.ledger.open_holds(user, &prefix).await.map_err(unavailable)? {
            match credits.ledger.release(stale.id).await {
                Ok(_) => {
                    tracing::info!(campaign = %id, hold = %stale.id, "released the credit hold of an interrupted attempt")
                }
                Err(e) if e.kind == StoreErrorKind::Conflict => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        let key = format!("{prefix}job:{}:attempt:{}", ctx.job().id, ctx.attempt());
        match credits.ledger.hold(user, credits.hold_micros, &format!("campaign {id}"), Some(&key)).await {
            Ok(hold) => Ok(Some(hold)),
            Err(e) if e.kind == StoreErrorKind::InsufficientCredits => {
                let available = credits.ledger.balance(user).await.map(|b| b.available).unwrap_or(0);
                Err(JobError::permanent(format!(
                    "campaign {id} needs {} credits held before it runs, but its user has {} available; \
                     add credits to the user's account, or lower campaigns.credit_hold",
                    credits_text(credits.hold_micros),
                    credits_text(available)
                )))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Captures what the attempt cost (at most the hold) and releases the rest. Failures are
    /// logged: the work is done, and the next attempt releases a hold left open.
    async fn settle(&self, hold: Option<&LedgerEntry>, spent: i64, campaign_id: &str) {
        let (Some(credits), Some(hold)) = (&self.credits, hold) else { return };
        if spent > hold.amount {
            tracing::warn!(
                campaign = campaign_id,
                spent_micros = spent,
                held_micros = hold.amount,
                "campaign cost more than its credit hold; captured the hold"
            );
        }
        if let Err(e) = credits.ledger.capture(hold.id, spent.clamp(0, hold.amount)).await {
            tracing::error!(campaign = campaign_id, hold = %hold.id, error = %e, "cannot settle the campaign's credit hold");
        }
    }
}

fn credits_text(micros: i64) -> String {
    format!("{:.6}", micros as f64 / MICROS_PER_CREDIT as f64)
}

/// Appends `item` to the JSON array `list` (a missing or non-array value starts a new one).
fn push(list: &mut Value, item: Value) {
    match list {
        Value::Array(items) => items.push(item),
        other => *other = Value::Array(vec![item]),
    }
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
        let workspace = Arc::new(workspace);
        let hold = match self.hold(ctx, &input).await {
            Ok(hold) => hold,
            Err(error) => {
                if !error.is_retryable() {
                    let entry = ProgressEntry {
                        at: Utc::now(),
                        step: "credit_hold".to_owned(),
                        status: StepStatus::Failed,
                        message: error.to_string(),
                        percent: 0.0,
                    };
                    push(record.progress_log.get_or_insert(Value::Null), json!(entry));
                    record.status = CampaignStatus::Failed;
                    self.save(&record).await?;
                }
                return Err(error);
            }
        };

        record.status = CampaignStatus::Running;
        record.completed_at = None;
        self.save(&record).await?;

        let assets_before = workspace.state().provenance.len();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Update>();
        let interactions_tx = tx.clone();
        let pipeline = CampaignPipeline::new(Arc::clone(&workspace))
            .with_tools(self.tools.clone())
            .on_progress(move |entry| drop(tx.send(Update::Progress(entry.clone()))))
            .on_interaction(move |i| drop(interactions_tx.send(Update::Interaction(Box::new(i.clone())))));
        let call =
            CallContext { user_id: input.user_id, preference: input.preference.clone(), ..CallContext::default() };
        let context = RunContext::new(Arc::clone(&self.router), call, EventSink::default());
        let started = Instant::now();
        let mut spent = 0;
        let run = pipeline.run(&context);
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                result = &mut run => break Some(result),
                Some(update) = rx.recv() => {
                    if let Update::Progress(entry) = &update {
                        ctx.report_progress(entry.percent, Some(&entry.step)).await?;
                    }
                    spent += record_update(&mut record, update);
                    self.save(&record).await?;
                }
                () = ctx.cancellation().cancelled() => break None,
            }
        };
        while let Ok(update) = rx.try_recv() {
            spent += record_update(&mut record, update);
        }
        spent += workspace.state().provenance.iter().skip(assets_before).map(|p| p.cost_micros).sum::<i64>();
        self.settle(hold.as_ref(), spent, &input.campaign_id).await;
        let seconds = started.elapsed().as_secs_f64();
        record.execution_time = Some(record.execution_time.unwrap_or(0.0) + seconds);
        let Some(result) = result else {
            // Cancelled: the record keeps what was done; whoever cancelled sets its status.
            self.save(&record).await?;
            return Err(JobError::Cancelled);
        };
        match result {
            Ok(outcome) => {
                record.status = CampaignStatus::Completed;
                record.completed_at = Some(Utc::now());
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
                    "cost_micros": spent,
                })))
            }
            Err(error) => {
                record.status = CampaignStatus::Failed;
                self.save(&record).await?;
                let message = format!("campaign {}: {error}", input.campaign_id);
                Err(if error.is_retryable() { JobError::retryable(message) } else { JobError::permanent(message) })
            }
        }
    }
}

/// Adds a progress entry or an interaction to the record; returns the micro-credits it cost.
fn record_update(record: &mut Campaign, update: Update) -> i64 {
    match update {
        Update::Progress(entry) => {
            push(record.progress_log.get_or_insert(Value::Null), json!(entry));
            0
        }
        Update::Interaction(interaction) => {
            push(&mut record.agent_interactions, json!(interaction));
            interaction.cost_micros
        }
    }
}
