//! The `campaign` kind through a worker, with the orchestrator driven by the fake
//! OpenAI-compatible server: credits held before the run and settled after it, every agent
//! interaction written to the record (a failed attempt's too), and a campaign its user cannot pay
//! for refused before any model runs.

use std::sync::Arc;
use std::time::Duration;

use aae_config::{Config, ConfigSources, ModelPrice};
use aae_jobs::kinds::{CAMPAIGN_KIND, CampaignJob, CampaignJobInput};
use aae_jobs::{Faults, Handlers, JobOutcome, Worker};
use aae_models::{Accounting, ModelRouter};
use aae_storage::StorageService;
use aae_store::{Campaign, CampaignStatus, EntryKind, NewJob, NewUser, User};
use aae_testkit::{FakeModelServer, FakeReply, FakeToolCall};
use aae_types::{CampaignBrief, UserModelPreference};
use serde_json::{Value, json};

use crate::support::{Db, options};

/// One credit, the default `campaigns.credit_hold`.
const HOLD: i64 = 1_000_000;

struct Setup {
    db: Db,
    fake: FakeModelServer,
    job: CampaignJob,
    user: User,
    _dir: tempfile::TempDir,
}

async fn setup(db: Db) -> Setup {
    let fake = FakeModelServer::openai().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sources = ConfigSources { ignore_env: true, ..Default::default() }
        .set("storage.backend", "memory")
        .set("data_dir", dir.path().to_str().unwrap())
        .set("providers.openai_compatible.base_url", fake.base_url())
        .set("providers.openai_compatible.models", "m")
        .set("router.retry.max_retries", "0");
    let mut config = Config::load(&sources).unwrap();
    config.prices.insert(
        "openai_compatible/m".into(),
        ModelPrice { input_per_million: 10.0, output_per_million: 20.0, ..Default::default() },
    );
    let storage = Arc::new(StorageService::from_config(&config).await.unwrap());
    let records = &db.records;
    let router = ModelRouter::from_config(&config)
        .await
        .unwrap()
        .with_accounting(Accounting { usage: records.usage.clone(), credits: records.credits.clone() });
    let job = CampaignJob::new(records.campaigns.clone(), storage, Arc::new(router))
        .with_credits(records.credits.clone(), HOLD);
    let user = records.users.create(NewUser::new("alice", "alice@example.com")).await.unwrap();
    Setup { db, fake, job, user, _dir: dir }
}

impl Setup {
    /// Creates campaign `id` and enqueues its job for the user, on the fake's model.
    async fn enqueue(&self, id: &str) -> uuid::Uuid {
        let brief =
            CampaignBrief::from_toml(include_str!("../../../../examples/briefs/coffee_subscription.toml")).unwrap();
        self.db.records.campaigns.put(&Campaign::new(id, self.user.id.to_string(), &brief.name)).await.unwrap();
        let input = CampaignJobInput {
            campaign_id: id.to_owned(),
            brief,
            user_id: Some(self.user.id),
            preference: Some(UserModelPreference::new("openai_compatible", "m")),
        };
        let job = NewJob { configuration: serde_json::to_value(&input).unwrap(), ..NewJob::new(CAMPAIGN_KIND, id) };
        self.db.records.jobs.enqueue(job).await.unwrap().id
    }

    fn worker(&self) -> Worker {
        let handlers = Handlers::new().with(self.job.clone());
        let options = aae_jobs::WorkerOptions { lease: Duration::from_secs(30), ..options() };
        Worker::with_id("w-campaign", self.db.records.jobs.clone(), handlers, options, Arc::new(Faults::default()))
    }

    async fn record(&self, id: &str) -> Campaign {
        self.db.records.campaigns.get(id).await.unwrap()
    }
}

fn ask(id: &str, agent: &str) -> FakeReply {
    FakeReply::tools(vec![FakeToolCall::new(id, agent, json!({"query": format!("Please do your part, {agent}.")}))])
}

/// The orchestrator asks each specialist in turn; the specialists only talk, and the pipeline's
/// constrained-JSON fallbacks get replies that are not JSON, so their content comes from the
/// brief: nine model calls in all.
fn orchestrated_run() -> Vec<FakeReply> {
    vec![
        ask("o1", "market_insights_agent"),
        FakeReply::text("Home brewers aged 28-45.\n\nSpeciality subscriptions are growing."),
        ask("o2", "ad_creative_agent"),
        FakeReply::text("I would write something punchy."),
        FakeReply::text("not json"),
        ask("o3", "campaign_automation_agent"),
        FakeReply::text("Everything is published."),
        FakeReply::text("not json"),
        FakeReply::text("The campaign is ready."),
    ]
}

fn interactions(record: &Campaign) -> Vec<Value> {
    record.agent_interactions.as_array().cloned().unwrap_or_default()
}

async fn a_campaign_holds_credits_then_captures_its_cost(db: Db) {
    let s = setup(db).await;
    let ledger = &s.db.records.credits;
    ledger.grant(s.user.id, 5 * HOLD, "test", None).await.unwrap();
    // A hold left open by an attempt whose worker died.
    let stale = ledger.hold(s.user.id, HOLD, "campaign", Some("campaign:c_1:job:dead:attempt:1")).await.unwrap();
    s.fake.push(orchestrated_run());
    let job = s.enqueue("c_1").await;
    assert_eq!(s.worker().step().await.outcomes, vec![(job, JobOutcome::Completed)]);
    assert_eq!(s.fake.request_count(), 9);

    let record = s.record("c_1").await;
    assert_eq!(record.status, CampaignStatus::Completed);
    let all = interactions(&record);
    let agents: Vec<&str> = all.iter().filter_map(|i| i["agent"].as_str()).collect();
    assert_eq!(
        agents,
        ["market_insights_agent", "ad_creative_agent", "campaign_automation_agent", "campaign_orchestrator"],
        "in the order they ended"
    );
    let orchestrator = &all[3];
    let asked: Vec<&str> =
        orchestrator["tool_calls"].as_array().unwrap().iter().filter_map(|c| c["tool"].as_str()).collect();
    assert_eq!(asked, ["market_insights_agent", "ad_creative_agent", "campaign_automation_agent"]);
    assert_eq!(orchestrator["turns"], 4);
    let cost: i64 = all.iter().filter_map(|i| i["cost_micros"].as_i64()).sum();
    assert!(cost > 0);

    // What was captured is what the usage records say the nine calls cost; the rest of the hold
    // went back, and so did the dead attempt's hold.
    let usage = s.db.records.usage.list(s.user.id, None, None, 100).await.unwrap();
    assert_eq!(usage.len(), 9);
    assert_eq!(usage.iter().map(|u| u.cost_micros).sum::<i64>(), cost, "interactions count every model call");
    let balance = ledger.balance(s.user.id).await.unwrap();
    assert_eq!((balance.spent, balance.held, balance.available), (cost, 0, 5 * HOLD - cost));
    let entries = ledger.entries(s.user.id, 100).await.unwrap();
    assert!(entries.iter().any(|e| e.kind == EntryKind::Release && e.hold_id == Some(stale.id) && e.amount == HOLD));
    let hold = entries.iter().find(|e| e.kind == EntryKind::Hold && e.id != stale.id).unwrap();
    assert_eq!(hold.idempotency_key.as_deref(), Some(format!("campaign:c_1:job:{job}:attempt:1").as_str()));
    assert!(ledger.open_holds(s.user.id, "campaign:").await.unwrap().is_empty());
}

async fn a_failed_attempt_keeps_its_interactions_and_pays_only_for_them(db: Db) {
    let s = setup(db).await;
    let ledger = &s.db.records.credits;
    ledger.grant(s.user.id, 5 * HOLD, "test", None).await.unwrap();
    // The insights step runs; then the model answers 400 for the creative specialist (not
    // retryable), which fails the step and the attempt.
    s.fake.push([
        ask("o1", "market_insights_agent"),
        FakeReply::text("Home brewers.\n\nA growing market."),
        ask("o2", "ad_creative_agent"),
        FakeReply::status(400),
    ]);
    let job = s.enqueue("c_2").await;
    assert_eq!(s.worker().step().await.outcomes, vec![(job, JobOutcome::Failed)]);
    let record = s.record("c_2").await;
    assert_eq!(record.status, CampaignStatus::Failed);
    let all = interactions(&record);
    let steps: Vec<(&str, bool)> =
        all.iter().map(|i| (i["step"].as_str().unwrap_or(""), i.get("error").is_some())).collect();
    assert_eq!(steps, [("market_insights", false), ("ad_creatives", true), ("orchestrate", false)], "{all:#?}");
    let log = record.progress_log.clone().unwrap();
    let failed = log.as_array().unwrap().iter().find(|e| e["status"] == "failed").unwrap();
    assert_eq!(failed["step"], "ad_creatives");
    let cost: i64 = all.iter().filter_map(|i| i["cost_micros"].as_i64()).sum();
    let balance = ledger.balance(s.user.id).await.unwrap();
    assert_eq!((balance.spent, balance.held), (cost, 0), "the attempt paid for what it used, nothing more");
}

async fn a_campaign_its_user_cannot_pay_for_fails_before_any_model_runs(db: Db) {
    let s = setup(db).await;
    s.db.records.credits.grant(s.user.id, HOLD / 2, "test", None).await.unwrap();
    let job = s.enqueue("c_3").await;
    assert_eq!(s.worker().step().await.outcomes, vec![(job, JobOutcome::Failed)]);
    assert_eq!(s.fake.request_count(), 0);
    let failed = s.db.records.jobs.get(job).await.unwrap();
    let message = failed.error_info.unwrap()["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains("needs 1.000000 credits") && message.contains("0.500000 available"),
        "the error says what is missing: {message}"
    );
    assert_eq!(failed.attempts, 1, "not retried: waiting does not add credits");
    let record = s.record("c_3").await;
    assert_eq!(record.status, CampaignStatus::Failed);
    let log = record.progress_log.unwrap();
    assert_eq!(log[0]["step"], "credit_hold");
    assert!(log[0]["message"].as_str().unwrap_or_default().contains("available"));
    assert_eq!(s.db.records.credits.balance(s.user.id).await.unwrap().available, HOLD / 2);
}

crate::engines!(
    a_campaign_holds_credits_then_captures_its_cost,
    a_failed_attempt_keeps_its_interactions_and_pays_only_for_them,
    a_campaign_its_user_cannot_pay_for_fails_before_any_model_runs
);
