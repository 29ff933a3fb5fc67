//! `aae jobs …`: the job queue for operators and tests (list, show, cancel, retry, enqueue).

use std::process::ExitCode;

use aae_config::Config;
use aae_store::{Job, JobFilter, JobStatus, NewJob, Priority, Records};
use anyhow::Context;
use uuid::Uuid;

use crate::cli::{JobsCommand, ListJobsArgs, NewJobArgs};

/// Runs one `aae jobs` subcommand.
pub async fn run(command: JobsCommand, config: Config) -> anyhow::Result<ExitCode> {
    let records = Records::from_config(&config).await?;
    let result = match command {
        JobsCommand::List(args) => list(&records, args).await,
        JobsCommand::Show { id, json } => show(&records.jobs.get(id).await?, json),
        JobsCommand::Cancel { id } => {
            let job = records.jobs.cancel(id).await?;
            println!("{} {}", job.id, job.status);
            Ok(())
        }
        JobsCommand::Retry { id } => {
            let job = records.jobs.retry(id).await?;
            println!("{} {}", job.id, job.status);
            Ok(())
        }
        JobsCommand::Enqueue(args) => enqueue(&records, &config, args).await,
    };
    records.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

/// A user given as a UUID or as an identity-provider subject.
async fn user_id(records: &Records, user: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = user.parse::<Uuid>() {
        return Ok(id);
    }
    Ok(records.users.get_by_subject(user).await.with_context(|| format!("no user with subject `{user}`"))?.id)
}

async fn list(records: &Records, args: ListJobsArgs) -> anyhow::Result<()> {
    let mut filter = JobFilter { kind: args.kind, limit: args.limit, ..JobFilter::default() };
    if let Some(status) = &args.status {
        filter.status = Some(status.parse::<JobStatus>()?);
    }
    if let Some(user) = &args.user {
        filter.user_id = Some(user_id(records, user).await?);
    }
    let jobs = records.jobs.list(&filter).await?;
    if args.json {
        println!("{}", serde_json::to_string(&jobs)?);
        return Ok(());
    }
    println!("{:<36}  {:<12}  {:<9}  {:<6}  {:>8}  {:>6}  TOPIC", "ID", "KIND", "STATUS", "PRIO", "ATTEMPTS", "DONE%");
    for job in &jobs {
        println!(
            "{:<36}  {:<12}  {:<9}  {:<6}  {:>8}  {:>6.2}  {}",
            job.id,
            job.kind,
            job.status,
            job.priority,
            format!("{}/{}", job.attempts, job.max_attempts),
            job.progress_percentage,
            job.topic
        );
    }
    Ok(())
}

fn show(job: &Job, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(job)?);
        return Ok(());
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
    let text = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    println!("id             {}", job.id);
    println!("kind           {}", job.kind);
    println!("topic          {}", job.topic);
    println!("status         {}", job.status);
    println!("priority       {}", job.priority);
    println!("user           {}", job.user_id.map(|u| u.to_string()).unwrap_or_else(|| "-".into()));
    println!("batch          {}", job.batch_id.map(|u| u.to_string()).unwrap_or_else(|| "-".into()));
    println!("attempts       {}/{}", job.attempts, job.max_attempts);
    println!("progress       {:.2}% {}", job.progress_percentage, job.current_stage.as_deref().unwrap_or(""));
    println!("configuration  {}", job.configuration);
    println!("error_info     {}", text(&job.error_info));
    println!("metrics        {}", text(&job.metrics));
    println!("lease          {} until {}", job.lease_owner.as_deref().unwrap_or("-"), time(job.lease_expires_at));
    println!("run_at         {}", job.run_at.to_rfc3339());
    println!("created_at     {}", job.created_at.to_rfc3339());
    println!("started_at     {}", time(job.started_at));
    println!("completed_at   {}", time(job.completed_at));
    Ok(())
}

async fn enqueue(records: &Records, config: &Config, args: NewJobArgs) -> anyhow::Result<()> {
    let mut job = NewJob::new(args.kind, args.topic);
    job.priority = args.priority.parse::<Priority>()?;
    job.max_attempts =
        i32::try_from(args.max_attempts.unwrap_or(config.jobs.max_attempts)).context("--max-attempts is too large")?;
    if let Some(configuration) = &args.configuration {
        job.configuration = serde_json::from_str(configuration).context("--configuration is not valid JSON")?;
    }
    if let Some(user) = &args.user {
        job.user_id = Some(user_id(records, user).await?);
    }
    if args.count <= 1 {
        let job = records.jobs.enqueue(job).await?;
        println!("{}", if args.json { serde_json::to_string(&job)? } else { job.id.to_string() });
        return Ok(());
    }
    // Many identical jobs in one bulk insert (load tests, the queue benchmark).
    let batch = vec![job; args.count as usize];
    let started = std::time::Instant::now();
    let ids = records.jobs.enqueue_many(batch).await?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::json!({"enqueued": ids.len(), "seconds": seconds}));
    } else {
        println!("enqueued {} jobs in {seconds:.3} s", ids.len());
    }
    Ok(())
}
