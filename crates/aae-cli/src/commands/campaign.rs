//! `aae campaign …`: AAE's main job from the command line. `create` reads a brief, creates the
//! campaign record (seed 003), enqueues a `campaign` job and, unless `--detach`, runs it in this
//! process to the end, printing each step; `list`, `show`, `delete` and `resume` work on the
//! records and artifacts the job leaves.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aae_agents::mcp::McpClients;
use aae_agents::tools::load_brief;
use aae_config::Config;
use aae_jobs::campaigns::{CampaignOwner, create_campaign, delete_campaign, resume_campaign};
use aae_jobs::kinds::CampaignJob;
use aae_jobs::{Handlers, Worker, WorkerOptions};
use aae_models::{Accounting, ModelRouter};
use aae_storage::StorageService;
use aae_store::{Campaign, CampaignStatus, JobStatus, MICROS_PER_CREDIT, Records};
use aae_types::CampaignBrief;
use anyhow::Context;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cli::{CampaignCommand, CreateCampaignArgs};

/// Runs one `aae campaign` subcommand.
pub async fn run(command: CampaignCommand, config: Config) -> anyhow::Result<ExitCode> {
    let storage = Arc::new(StorageService::from_config(&config).await?);
    let records = Records::open_config(&config, Some(Arc::clone(&storage))).await?;
    let result = match command {
        CampaignCommand::Create(args) => create(&config, &records, &storage, args).await,
        CampaignCommand::List { user, status, limit, json } => {
            list(&records, &user, status.as_deref(), limit, json).await.map(|()| ExitCode::SUCCESS)
        }
        CampaignCommand::Show { id, json } => {
            let campaign = records.campaigns.get(&id).await?;
            print_campaign(&campaign, json)?;
            Ok(ExitCode::SUCCESS)
        }
        CampaignCommand::Delete { id } => delete(&records, &storage, &id).await.map(|()| ExitCode::SUCCESS),
        CampaignCommand::Resume { id, detach, json } => resume(&config, &records, &storage, &id, detach, json).await,
    };
    records.close().await;
    result
}

/// Makes the brief's relative logo and document paths absolute (against the brief's folder),
/// so the job finds them whatever its working directory.
fn absolute_paths(mut brief: CampaignBrief, brief_path: &Path) -> anyhow::Result<CampaignBrief> {
    let dir = brief_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    if let Some(logo) = &brief.logo {
        let path = dir.join(logo);
        anyhow::ensure!(path.is_file(), "the brief's logo {} is not a file", path.display());
        brief.logo = Some(path);
    }
    brief.documents = brief.documents.iter().map(|d| dir.join(d)).collect();
    Ok(brief)
}

async fn create(
    config: &Config,
    records: &Records,
    storage: &Arc<StorageService>,
    args: CreateCampaignArgs,
) -> anyhow::Result<ExitCode> {
    let brief = load_brief(&args.brief)?;
    let brief = absolute_paths(brief, &args.brief)?;
    let owner = CampaignOwner { label: args.user.clone(), ..CampaignOwner::default() };
    let (campaign, job) = create_campaign(records, brief, &owner).await?;
    let campaign_id = campaign.campaign_id;
    if !args.json {
        eprintln!("campaign {campaign_id} created (job {job})");
    }
    if args.detach {
        if args.json {
            println!("{}", json!({"campaign_id": campaign_id, "job_id": job, "status": "pending"}));
        }
        return Ok(ExitCode::SUCCESS);
    }
    run_to_end(config, records, storage, &campaign_id, job, args.json).await
}

/// The `campaign` job kind as `aae campaign` and `aae worker` run it: the model router with usage
/// records and credits, the credit hold of `campaigns.credit_hold`, and the tools of the
/// configured MCP servers (whose clients are returned: the tools work while they live).
pub(crate) async fn campaign_job(
    config: &Config,
    records: &Records,
    storage: Arc<StorageService>,
) -> anyhow::Result<(CampaignJob, McpClients)> {
    let router = ModelRouter::from_config(config)
        .await?
        .with_accounting(Accounting { usage: Arc::clone(&records.usage), credits: Arc::clone(&records.credits) });
    let mcp = McpClients::connect(&config.mcp).await?;
    let hold_micros = (config.campaigns.credit_hold * MICROS_PER_CREDIT as f64).round() as i64;
    let job = CampaignJob::new(Arc::clone(&records.campaigns), storage, Arc::new(router))
        .with_tools(mcp.tools())
        .with_credits(Arc::clone(&records.credits), hold_micros);
    Ok((job, mcp))
}

/// Runs a worker for `campaign` jobs in this process until job `job` ends, printing the
/// campaign's progress log as it grows.
async fn run_to_end(
    config: &Config,
    records: &Records,
    storage: &Arc<StorageService>,
    campaign_id: &str,
    job: Uuid,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (handler, _mcp) = campaign_job(config, records, Arc::clone(storage)).await?;
    let handlers = Handlers::new().with(handler);
    // Only `campaign` jobs: other queued work is left to `aae worker`/`aae serve`.
    let options = WorkerOptions::from_config(&config.jobs);
    let worker = Arc::new(Worker::new(Arc::clone(&records.jobs), handlers, options));
    let running = tokio::spawn({
        let worker = Arc::clone(&worker);
        async move { worker.run().await }
    });
    let mut printed = 0;
    let mut reported_attempts = 0;
    let status = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Ok(campaign) = records.campaigns.get(campaign_id).await {
            let entries = campaign.progress_log.as_ref().and_then(Value::as_array).cloned().unwrap_or_default();
            if !json {
                for entry in entries.iter().skip(printed) {
                    eprintln!("{}", progress_line(entry));
                }
            }
            printed = entries.len();
        }
        let job = records.jobs.get(job).await?;
        if matches!(job.status, JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled) {
            break job;
        }
        let retrying = job.status == JobStatus::Queued && job.attempts > reported_attempts;
        if let Some(error) = job.error_info.as_ref().filter(|_| retrying && !json) {
            eprintln!("attempt {} failed; retrying after a backoff: {error}", job.attempts);
            reported_attempts = job.attempts;
        }
    };
    worker.shutdown();
    running.await?;
    let campaign = records.campaigns.get(campaign_id).await?;
    let summary = summary(&campaign);
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_campaign(&campaign, false)?;
        println!("  creatives       {}", summary["creatives"].as_array().map_or(0, Vec::len));
        println!("  cost            {:.6} credits", summary["cost"].as_f64().unwrap_or(0.0));
    }
    if status.status == JobStatus::Completed {
        Ok(ExitCode::SUCCESS)
    } else {
        if !json {
            eprintln!("campaign {campaign_id} {}; `aae campaign resume {campaign_id}` continues it", campaign.status);
        }
        Ok(ExitCode::FAILURE)
    }
}

/// What `create` and `resume` print: the campaign id, status, the four URLs, the creatives' keys
/// and the total cost in credits (model calls of every agent interaction plus generated assets).
fn summary(campaign: &Campaign) -> Value {
    let state = campaign.final_state.as_ref();
    let creatives: Vec<Value> = state
        .and_then(|s| s.get("creatives"))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|c| c.get("key").cloned()).collect())
        .unwrap_or_default();
    let micros = |items: Option<&Value>| -> i64 {
        items
            .and_then(Value::as_array)
            .map_or(0, |items| items.iter().filter_map(|i| i.get("cost_micros").and_then(Value::as_i64)).sum())
    };
    let total = micros(Some(&campaign.agent_interactions)) + micros(state.and_then(|s| s.get("provenance")));
    json!({
        "campaign_id": campaign.campaign_id,
        "status": campaign.status.as_str(),
        "urls": {
            "website": campaign.website_url,
            "pdf": campaign.pdf_url,
            "artifacts": campaign.workflow_state_url,
            "metadata": campaign.metadata_url,
        },
        "creatives": creatives,
        "cost": total as f64 / 1_000_000.0,
        "execution_time": campaign.execution_time,
    })
}

fn progress_line(entry: &Value) -> String {
    let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let percent = entry.get("percent").and_then(Value::as_f64).unwrap_or(0.0);
    let message = text("message");
    let mut line = format!("[{percent:>5.1}%] {:<16} {}", text("step"), text("status"));
    if !message.is_empty() {
        line.push_str(": ");
        line.push_str(&message);
    }
    line
}

fn print_campaign(campaign: &Campaign, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(campaign)?);
        return Ok(());
    }
    println!("{}  {}  {}", campaign.campaign_id, campaign.status, campaign.campaign_name);
    if let Some(seconds) = campaign.execution_time {
        println!("  execution time  {seconds:.1} s");
    }
    for (label, url) in [
        ("website", &campaign.website_url),
        ("pdf", &campaign.pdf_url),
        ("workflow state", &campaign.workflow_state_url),
        ("metadata", &campaign.metadata_url),
    ] {
        if let Some(url) = url {
            println!("  {label:<15} {url}");
        }
    }
    let interactions = campaign.agent_interactions.as_array().map_or(0, Vec::len);
    println!("  agent interactions  {interactions}");
    Ok(())
}

async fn list(records: &Records, user: &str, status: Option<&str>, limit: u32, json: bool) -> anyhow::Result<()> {
    let page = match status {
        Some(status) => {
            let status: CampaignStatus = status.parse()?;
            records.campaigns.list_by_status(status, limit, None).await?
        }
        None => records.campaigns.list_by_user(user, limit, None).await?,
    };
    if json {
        println!("{}", serde_json::to_string(&page.items)?);
        return Ok(());
    }
    println!("{:<34}  {:<9}  {:>9}  NAME", "CAMPAIGN", "STATUS", "SECONDS");
    for c in &page.items {
        let seconds = c.execution_time.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}"));
        println!("{:<34}  {:<9}  {:>9}  {}", c.campaign_id, c.status.as_str(), seconds, c.campaign_name);
    }
    Ok(())
}

async fn delete(records: &Records, storage: &StorageService, id: &str) -> anyhow::Result<()> {
    let deleted = delete_campaign(records, storage, id).await?;
    println!("deleted campaign {id} and {} stored objects", deleted.objects);
    Ok(())
}

async fn resume(
    config: &Config,
    records: &Records,
    storage: &Arc<StorageService>,
    id: &str,
    detach: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let campaign = records.campaigns.get(id).await?;
    let owner = CampaignOwner { label: campaign.user_id.clone(), ..CampaignOwner::default() };
    let (job, cancelled) = resume_campaign(records, &campaign, &owner).await?;
    if !json {
        eprintln!("campaign {id} resumed (job {job}; {cancelled} unfinished earlier job(s) cancelled)");
    }
    if detach {
        return Ok(ExitCode::SUCCESS);
    }
    run_to_end(config, records, storage, id, job, json).await
}
