//! The worker: retries with backoff, permanent failures, cancellation, lost leases, graceful
//! shutdown, progress, draining a queue, and completions retried through a store outage.

use std::sync::Arc;
use std::time::Duration;

use aae_jobs::{Faults, Handlers, JobOutcome, Worker, WorkerOptions, kinds};
use aae_store::{JobStatus, NewJob, StoreErrorKind};
use chrono::Utc;
use serde_json::json;

use crate::support::{Db, Flaky, Gate, options};

fn worker(db: &Db, id: &str, handlers: Handlers, options: WorkerOptions) -> Worker {
    Worker::with_id(id, Arc::clone(&db.records.jobs), handlers, options, Arc::new(Faults::default()))
}

async fn retries_with_backoff_then_fails(db: Db) {
    let jobs = &db.records.jobs;
    let job = jobs.enqueue(NewJob::new("flaky", "flaky")).await.unwrap();
    let w = worker(&db, "w-retry", Handlers::new().with(Flaky { permanent: false }), options());
    for attempt in 1..=3 {
        let report = w.step().await;
        let expected = if attempt < 3 { JobOutcome::Retrying } else { JobOutcome::Failed };
        assert_eq!(report.outcomes, vec![(job.id, expected)], "attempt {attempt}");
        let now = jobs.get(job.id).await.unwrap();
        assert_eq!(now.attempts, attempt);
        let info = now.error_info.clone().unwrap();
        assert_eq!((info["kind"].clone(), info["attempt"].clone()), (json!("retryable"), json!(attempt)));
        assert_eq!((info["worker"].clone(), info["details"].clone()), (json!("w-retry"), json!({"attempt": attempt})));
        if attempt < 3 {
            // Backoff 200 ms then 400 ms: not runnable yet, runnable once run_at passes.
            assert_eq!(now.status, JobStatus::Queued);
            let wait = (now.run_at - Utc::now()).to_std().unwrap_or_default();
            assert!(
                wait > Duration::from_millis(50) && wait <= Duration::from_millis(200 << (attempt - 1)),
                "{wait:?}"
            );
            assert_eq!(w.step().await.leased, 0, "backing off");
            tokio::time::sleep(wait + Duration::from_millis(50)).await;
        } else {
            assert_eq!(now.status, JobStatus::Failed);
            assert!(now.completed_at.is_some());
        }
    }
    assert_eq!(w.step().await.leased, 0, "failed jobs stay failed");
}

async fn permanent_errors_fail_at_once(db: Db) {
    let jobs = &db.records.jobs;
    let job = jobs.enqueue(NewJob::new("flaky", "bad input")).await.unwrap();
    let w = worker(&db, "w-perm", Handlers::new().with(Flaky { permanent: true }), options());
    assert_eq!(w.step().await.outcomes, vec![(job.id, JobOutcome::Failed)]);
    let failed = jobs.get(job.id).await.unwrap();
    assert_eq!((failed.status, failed.attempts, failed.max_attempts), (JobStatus::Failed, 1, 3));
    assert_eq!(failed.error_info.unwrap()["kind"], "permanent");
}

async fn cancelling_a_running_job_stops_its_handler(db: Db) {
    let jobs = Arc::clone(&db.records.jobs);
    let job = jobs.enqueue(NewJob::new("gate", "cancel me")).await.unwrap();
    let gate = Gate::default();
    let w = Arc::new(worker(&db, "w-cancel", Handlers::new().with(gate.clone()), options()));
    let step = tokio::spawn({
        let w = Arc::clone(&w);
        async move { w.step().await }
    });
    gate.wait_started(1).await;
    jobs.cancel(job.id).await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(10), step).await.unwrap().unwrap();
    assert_eq!(report.outcomes, vec![(job.id, JobOutcome::Cancelled)]);
    assert_eq!(gate.saw_cancel(), 1, "the handler's token fired at the next heartbeat");
    let cancelled = jobs.get(job.id).await.unwrap();
    assert_eq!((cancelled.status, cancelled.metrics), (JobStatus::Cancelled, None));
}

async fn a_lost_lease_stops_the_handler_without_completing(db: Db) {
    let jobs = Arc::clone(&db.records.jobs);
    let job = jobs.enqueue(NewJob::new("gate", "stalled")).await.unwrap();
    let gate = Gate::default();
    let faults = Arc::new(Faults::default());
    let opts = WorkerOptions { lease: Duration::from_millis(600), ..options() };
    let stalled = Arc::new(Worker::with_id(
        "w-stalled",
        Arc::clone(&jobs),
        Handlers::new().with(gate.clone()),
        opts,
        Arc::clone(&faults),
    ));
    faults.pause_heartbeats(true);
    let step = tokio::spawn({
        let w = Arc::clone(&stalled);
        async move { w.step().await }
    });
    gate.wait_started(1).await;
    // The stalled worker's lease expires; another worker takes the job.
    let mut taken = Vec::new();
    for _ in 0..100 {
        taken = jobs.lease("w-thief", &["gate".into()], Duration::from_secs(30), 1).await.unwrap();
        if !taken.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((taken[0].id, taken[0].attempts), (job.id, 2));
    gate.open(1); // the stalled handler could finish now, but must not record its result
    faults.pause_heartbeats(false);
    let report = tokio::time::timeout(Duration::from_secs(10), step).await.unwrap().unwrap();
    assert_eq!(report.outcomes, vec![(job.id, JobOutcome::LeaseLost)]);
    let now = jobs.get(job.id).await.unwrap();
    assert_eq!((now.status, now.lease_owner.as_deref(), now.metrics), (JobStatus::Running, Some("w-thief"), None));
    jobs.complete(job.id, "w-thief", None).await.unwrap();
}

async fn shutdown_waits_for_running_jobs_then_returns_leases(db: Db) {
    let jobs = Arc::clone(&db.records.jobs);
    let gate = Gate::default();
    // A job that finishes inside the grace period completes.
    let quick = jobs.enqueue(NewJob::new("gate", "finishes")).await.unwrap();
    let w = Arc::new(worker(&db, "w-quick", Handlers::new().with(gate.clone()), options()));
    let run = tokio::spawn({
        let w = Arc::clone(&w);
        async move { w.run().await }
    });
    gate.wait_started(1).await;
    w.shutdown();
    gate.open(1);
    let report = tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    assert_eq!(report.outcomes, vec![(quick.id, JobOutcome::Completed)]);

    // Jobs still running at the deadline are stopped and given back, their attempt returned.
    let ids = jobs.enqueue_many(vec![NewJob::new("gate", "slow 1"), NewJob::new("gate", "slow 2")]).await.unwrap();
    let opts = WorkerOptions { shutdown_grace: Duration::from_millis(300), ..options() };
    let w = Arc::new(worker(&db, "w-slow", Handlers::new().with(gate.clone()), opts));
    let run = tokio::spawn({
        let w = Arc::clone(&w);
        async move { w.run().await }
    });
    gate.wait_started(3).await;
    w.shutdown();
    let report = tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    assert_eq!(report.count(JobOutcome::Released), 2, "{report:?}");
    assert_eq!(gate.saw_cancel(), 2);
    for id in ids {
        let job = jobs.get(id).await.unwrap();
        assert_eq!((job.status, job.attempts, job.lease_owner), (JobStatus::Queued, 0, None));
    }
}

async fn progress_is_reported_while_running(db: Db) {
    let jobs = Arc::clone(&db.records.jobs);
    let job = jobs.enqueue(NewJob::new("gate", "progress")).await.unwrap();
    let gate = Gate::default();
    let w = Arc::new(worker(&db, "w-progress", Handlers::new().with(gate.clone()), options()));
    let step = tokio::spawn({
        let w = Arc::clone(&w);
        async move { w.step().await }
    });
    gate.wait_started(1).await;
    let running = jobs.get(job.id).await.unwrap();
    assert_eq!((running.progress_percentage, running.current_stage.as_deref()), (50.0, Some("halfway")));
    assert_eq!(running.lease_owner.as_deref(), Some("w-progress"));
    // Heartbeats keep the 2 s lease alive past its first expiry.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(jobs.get(job.id).await.unwrap().lease_expires_at.unwrap() > Utc::now());
    gate.open(1);
    let report = tokio::time::timeout(Duration::from_secs(10), step).await.unwrap().unwrap();
    assert_eq!(report.outcomes, vec![(job.id, JobOutcome::Completed)]);
    let done = jobs.get(job.id).await.unwrap();
    assert_eq!((done.status, done.progress_percentage, done.attempts), (JobStatus::Completed, 100.0, 1));
    assert_eq!(done.metrics, Some(json!({"opened": true, "attempt": 1})));
}

async fn run_drains_the_queue_exactly_once(db: Db) {
    let jobs = Arc::clone(&db.records.jobs);
    let mut batch: Vec<NewJob> = (0..60).map(|i| NewJob::new("noop", format!("noop {i}"))).collect();
    batch[0].configuration = json!({"sleep_ms": 300});
    batch[1].configuration = json!({"sleep_ms": "soon"});
    jobs.enqueue_many(batch).await.unwrap();
    let w = Arc::new(worker(&db, "w-drain", kinds::builtin(), WorkerOptions { concurrency: 4, ..options() }));
    let run = tokio::spawn({
        let w = Arc::clone(&w);
        async move { w.run().await }
    });
    for _ in 0..400 {
        if w.count(JobOutcome::Completed) + w.count(JobOutcome::Failed) >= 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    w.shutdown();
    let report = tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    assert_eq!((report.count(JobOutcome::Completed), report.count(JobOutcome::Failed)), (59, 1), "{report:?}");
    assert_eq!(report.leased, 60);
    let failed = jobs.list(&aae_store::JobFilter { status: Some(JobStatus::Failed), ..Default::default() }).await;
    let failed = failed.unwrap();
    assert_eq!(failed[0].error_info.as_ref().unwrap()["kind"], "permanent", "a bad sleep_ms is permanent");
    let done = jobs.list(&aae_store::JobFilter { status: Some(JobStatus::Completed), ..Default::default() }).await;
    let done = done.unwrap();
    assert!(done.iter().all(|j| j.attempts == 1));
    assert!(done.iter().any(|j| j.metrics.as_ref().is_some_and(|m| m["slept_ms"].as_u64() >= Some(300))));
}

/// Short jobs are leased ahead; at shutdown the ones not started go back to the queue with the
/// attempt their lease counted returned, and nothing is left `running`.
async fn jobs_leased_ahead_go_back_at_shutdown(db: Db) {
    let jobs = Arc::clone(&db.records.jobs);
    let batch: Vec<NewJob> = (0..400)
        .map(|i| {
            let mut job = NewJob::new("noop", format!("noop {i}"));
            job.configuration = json!({"sleep_ms": 2});
            job
        })
        .collect();
    jobs.enqueue_many(batch).await.unwrap();
    let w = Arc::new(worker(&db, "w-ahead", kinds::builtin(), options()));
    let run = tokio::spawn({
        let w = Arc::clone(&w);
        async move { w.run().await }
    });
    while w.count(JobOutcome::Completed) < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    w.shutdown();
    let report = tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    let (completed, released) = (report.count(JobOutcome::Completed), report.count(JobOutcome::Released));
    assert!(released > 2, "jobs beyond the 2 slots were leased ahead and given back: {report:?}");
    assert_eq!(report.leased as usize, completed + released);
    let all = jobs.list(&aae_store::JobFilter { limit: 1000, ..Default::default() }).await.unwrap();
    let count = |status| all.iter().filter(|j| j.status == status).count();
    assert_eq!((count(JobStatus::Completed), count(JobStatus::Running)), (completed, 0));
    assert_eq!(count(JobStatus::Queued), 400 - completed);
    assert!(all.iter().filter(|j| j.status == JobStatus::Queued).all(|j| j.attempts == 0 && j.lease_owner.is_none()));
}

/// Jobs leased ahead keep their leases while a long job holds the only slot: another worker's
/// lease (which reaps expired leases) takes none of them, and each runs once.
async fn jobs_leased_ahead_are_heartbeated_while_they_wait(db: Db) {
    let jobs = Arc::clone(&db.records.jobs);
    let mut batch: Vec<NewJob> = Vec::new();
    for i in 0..10 {
        let mut job = NewJob::new("noop", format!("quick {i}"));
        job.priority = aae_store::Priority::High;
        batch.push(job);
    }
    let mut long = NewJob::new("noop", "long");
    long.configuration = json!({"sleep_ms": 2_600});
    batch.push(long);
    for i in 0..6 {
        let mut job = NewJob::new("noop", format!("later {i}"));
        job.priority = aae_store::Priority::Low;
        batch.push(job);
    }
    jobs.enqueue_many(batch).await.unwrap();
    let opts = WorkerOptions { concurrency: 1, ..options() };
    let w = Arc::new(worker(&db, "w-patient", kinds::builtin(), opts));
    let run = tokio::spawn({
        let w = Arc::clone(&w);
        async move { w.run().await }
    });
    while w.count(JobOutcome::Completed) < 10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The long job runs now; the low-priority jobs were leased ahead before it started, with a
    // 2 s lease. Past that, only heartbeats keep them.
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let intruder = jobs.lease("intruder", &["noop".to_owned()], Duration::from_secs(30), 100).await.unwrap();
    assert!(intruder.is_empty(), "took jobs held by the waiting worker: {intruder:?}");
    while w.count(JobOutcome::Completed) < 17 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.shutdown();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    let all = jobs.list(&aae_store::JobFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert!(all.iter().all(|j| j.status == JobStatus::Completed && j.attempts == 1), "{all:?}");
}

async fn completions_are_retried_through_a_store_outage(db: Db) {
    let jobs = Arc::clone(&db.records.jobs);
    let job = jobs.enqueue(NewJob::new("noop", "ping")).await.unwrap();
    let faults = Arc::new(Faults::default());
    let w = Worker::with_id("w-outage", Arc::clone(&jobs), kinds::builtin(), options(), Arc::clone(&faults));
    faults.fail_completions(2);
    assert_eq!(w.step().await.outcomes, vec![(job.id, JobOutcome::Completed)]);
    assert_eq!(jobs.get(job.id).await.unwrap().status, JobStatus::Completed);
    // A zombie's late completion is refused by the store.
    let err = jobs.complete(job.id, "w-outage", None).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::LeaseLost);
}

crate::engines!(
    retries_with_backoff_then_fails,
    permanent_errors_fail_at_once,
    cancelling_a_running_job_stops_its_handler,
    a_lost_lease_stops_the_handler_without_completing,
    shutdown_waits_for_running_jobs_then_returns_leases,
    progress_is_reported_while_running,
    run_drains_the_queue_exactly_once,
    jobs_leased_ahead_go_back_at_shutdown,
    jobs_leased_ahead_are_heartbeated_while_they_wait,
    completions_are_retried_through_a_store_outage,
);
