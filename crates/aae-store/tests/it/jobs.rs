//! JobStore: priorities, exactly-once leasing under concurrency, lease expiry, retries with
//! backoff, cancel and retry, and the seed's job_queue table kept in step.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aae_store::{Backoff, JobFilter, JobStatus, NewJob, Priority, StoreErrorKind};
use serde_json::json;
use uuid::Uuid;

use crate::support::{TestDb, user};

const LEASE: Duration = Duration::from_secs(30);

fn job(kind: &str, priority: Priority) -> NewJob {
    let mut job = NewJob::new(kind, format!("{kind} {priority}"));
    job.priority = priority;
    job
}

async fn enqueue_lease_progress_complete(db: &TestDb) {
    let jobs = &db.records.jobs;
    let alice = user(db, "alice").await;
    let batch = Uuid::new_v4();
    let mut new = job("video", Priority::Normal);
    new.user_id = Some(alice.id);
    new.batch_id = Some(batch);
    new.configuration = json!({"scenes": 3});
    let queued = jobs.enqueue(new).await.unwrap();
    assert_eq!((queued.status, queued.attempts, queued.progress_percentage), (JobStatus::Queued, 0, 0.0));
    assert_eq!(jobs.get(queued.id).await.unwrap(), queued);
    let low = jobs.enqueue(job("video", Priority::Low)).await.unwrap();
    let high = jobs.enqueue(job("video", Priority::High)).await.unwrap();
    let other_kind = jobs.enqueue(job("thumbnail", Priority::High)).await.unwrap();
    assert_eq!(jobs.enqueue(NewJob::new("", "x")).await.unwrap_err().kind, StoreErrorKind::Invalid);

    let leased = jobs.lease("w1", &["video".into()], LEASE, 2).await.unwrap();
    assert_eq!(leased.iter().map(|j| j.id).collect::<Vec<_>>(), vec![high.id, queued.id], "priority, then age");
    assert!(leased.iter().all(|j| j.status == JobStatus::Running && j.attempts == 1));
    assert_eq!(leased[0].lease_owner.as_deref(), Some("w1"));

    jobs.report_progress(queued.id, "w1", 42.5, Some("rendering")).await.unwrap();
    let running = jobs.get(queued.id).await.unwrap();
    assert_eq!((running.progress_percentage, running.current_stage.as_deref()), (42.5, Some("rendering")));
    assert_eq!(jobs.report_progress(queued.id, "w1", 101.0, None).await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!(jobs.report_progress(queued.id, "w2", 50.0, None).await.unwrap_err().kind, StoreErrorKind::LeaseLost);
    assert_eq!(jobs.complete(queued.id, "w2", None).await.unwrap_err().kind, StoreErrorKind::LeaseLost);
    let before = running.lease_expires_at.unwrap();
    let renewed = jobs.heartbeat(queued.id, "w1", Duration::from_secs(120)).await.unwrap();
    assert!(renewed > before);

    let done = jobs.complete(queued.id, "w1", Some(json!({"frames": 90}))).await.unwrap();
    assert_eq!((done.status, done.progress_percentage), (JobStatus::Completed, 100.0));
    assert_eq!(done.metrics, Some(json!({"frames": 90})));
    assert!(done.completed_at.is_some() && done.lease_owner.is_none());
    assert_eq!(jobs.heartbeat(queued.id, "w1", LEASE).await.unwrap_err().kind, StoreErrorKind::LeaseLost);
    assert_eq!(jobs.heartbeat(Uuid::new_v4(), "w1", LEASE).await.unwrap_err().kind, StoreErrorKind::NotFound);

    let all_kinds = jobs.lease("w3", &[], LEASE, 10).await.unwrap();
    assert_eq!(all_kinds.iter().map(|j| j.id).collect::<Vec<_>>(), vec![other_kind.id, low.id]);

    let by_batch = jobs.list(&JobFilter { batch_id: Some(batch), ..Default::default() }).await.unwrap();
    assert_eq!(by_batch.iter().map(|j| j.id).collect::<Vec<_>>(), vec![queued.id]);
    let by_user = JobFilter { user_id: Some(alice.id), status: Some(JobStatus::Completed), ..Default::default() };
    assert_eq!(jobs.list(&by_user).await.unwrap().len(), 1);
    let newest = jobs.list(&JobFilter { limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(newest.iter().map(|j| j.id).collect::<Vec<_>>(), vec![other_kind.id, high.id]);

    // The seed's job_queue table follows the jobs.
    let sql = format!(
        "SELECT COUNT(*) FROM job_queue WHERE job_id = '{}' AND status = 'completed' AND processing_started_at IS NOT NULL AND completed_at IS NOT NULL",
        done.id
    );
    assert_eq!(db.scalar(&sql).await, 1);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM job_queue").await, 4);
}

async fn concurrent_leases_take_each_job_once(db: &TestDb) {
    let jobs = Arc::clone(&db.records.jobs);
    for i in 0..200 {
        jobs.enqueue(NewJob::new("noop", format!("job {i}"))).await.unwrap();
    }
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let jobs = Arc::clone(&jobs);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = jobs.lease(&format!("worker-{w}"), &["noop".into()], LEASE, 5).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    for job in batch {
                        jobs.complete(job.id, &format!("worker-{w}"), None).await.unwrap();
                        mine.push(job.id);
                    }
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for worker in workers {
        for id in worker.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "job {id} leased twice");
        }
    }
    assert_eq!((total, seen.len()), (200, 200));
    let completed = JobFilter { status: Some(JobStatus::Completed), limit: 1000, ..Default::default() };
    assert_eq!(jobs.list(&completed).await.unwrap().len(), 200);
    assert!(jobs.list(&JobFilter { limit: 1000, ..Default::default() }).await.unwrap().iter().all(|j| j.attempts == 1));
}

async fn expired_leases_are_leased_again(db: &TestDb) {
    let jobs = &db.records.jobs;
    let mut new = NewJob::new("render", "crashes");
    new.max_attempts = 2;
    let queued = jobs.enqueue(new).await.unwrap();
    let first = jobs.lease("dead-worker", &[], Duration::from_millis(200), 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(jobs.lease("w2", &[], LEASE, 1).await.unwrap().is_empty(), "a live lease is not taken");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = jobs.lease("w2", &[], LEASE, 1).await.unwrap();
    assert_eq!(second.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(queued.id, 2)]);
    assert_eq!(jobs.heartbeat(queued.id, "dead-worker", LEASE).await.unwrap_err().kind, StoreErrorKind::LeaseLost);
    assert_eq!(jobs.complete(queued.id, "dead-worker", None).await.unwrap_err().kind, StoreErrorKind::LeaseLost);

    // Out of attempts: an expired lease fails the job instead of re-queuing it.
    jobs.heartbeat(queued.id, "w2", Duration::from_millis(100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(jobs.lease("w3", &[], LEASE, 1).await.unwrap().is_empty());
    let failed = jobs.get(queued.id).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_info.as_ref().and_then(|e| e["error"].as_str()), Some("lease expired"));
}

async fn heartbeats_in_bulk(db: &TestDb) {
    let jobs = &db.records.jobs;
    let ids = jobs.enqueue_many((0..3).map(|i| NewJob::new("ahead", format!("ahead {i}"))).collect()).await.unwrap();
    let short = Duration::from_millis(300);
    let mine: Vec<Uuid> = jobs.lease("w1", &[], short, 2).await.unwrap().iter().map(|j| j.id).collect();
    let theirs = jobs.lease("w2", &[], LEASE, 1).await.unwrap()[0].id;
    assert_eq!(mine.len() + 1, ids.len());
    let asked = [mine[0], mine[1], theirs, Uuid::new_v4()];
    let held = jobs.heartbeat_many(&asked, "w1", LEASE).await.unwrap();
    assert_eq!(held.iter().copied().collect::<HashSet<_>>(), mine.iter().copied().collect::<HashSet<_>>());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(jobs.lease("w3", &[], LEASE, 3).await.unwrap().is_empty(), "renewed leases are not taken");
    jobs.cancel(mine[0]).await.unwrap();
    assert_eq!(jobs.heartbeat_many(&mine, "w1", LEASE).await.unwrap(), vec![mine[1]]);
    assert!(jobs.heartbeat_many(&[], "w1", LEASE).await.unwrap().is_empty());
}

async fn failures_back_off_then_fail(db: &TestDb) {
    let jobs = &db.records.jobs;
    let slow = jobs.enqueue(NewJob::new("flaky", "backs off")).await.unwrap();
    jobs.lease("w1", &[], LEASE, 1).await.unwrap();
    let minute = Backoff { base: Duration::from_secs(60), max: Duration::from_secs(600) };
    let retried = jobs.fail(slow.id, "w1", json!({"error": "timeout"}), minute).await.unwrap();
    assert_eq!(retried.status, JobStatus::Queued);
    let wait = retried.run_at - chrono::Utc::now();
    assert!(wait > chrono::Duration::seconds(50) && wait <= chrono::Duration::seconds(61), "{wait}");
    assert!(jobs.lease("w1", &[], LEASE, 1).await.unwrap().is_empty(), "not before run_at");
    assert_eq!(jobs.fail(slow.id, "w1", json!({}), minute).await.unwrap_err().kind, StoreErrorKind::LeaseLost);

    let mut new = NewJob::new("flaky", "gives up");
    new.max_attempts = 3;
    let doomed = jobs.enqueue(new).await.unwrap();
    let now = Backoff { base: Duration::ZERO, max: Duration::ZERO };
    for attempt in 1..=3 {
        let leased = jobs.lease("w1", &["flaky".into()], LEASE, 1).await.unwrap();
        assert_eq!(leased.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(doomed.id, attempt)]);
        let after = jobs.fail(doomed.id, "w1", json!({"error": "boom", "attempt": attempt}), now).await.unwrap();
        let expected = if attempt < 3 { JobStatus::Queued } else { JobStatus::Failed };
        assert_eq!(after.status, expected);
    }
    let failed = jobs.get(doomed.id).await.unwrap();
    assert_eq!(failed.error_info, Some(json!({"error": "boom", "attempt": 3})));
    assert!(failed.completed_at.is_some());
    assert!(jobs.lease("w1", &["flaky".into()], LEASE, 1).await.unwrap().is_empty());

    let again = jobs.retry(doomed.id).await.unwrap();
    assert_eq!((again.status, again.attempts), (JobStatus::Queued, 0));
    assert_eq!(jobs.retry(doomed.id).await.unwrap_err().kind, StoreErrorKind::Conflict);
    let cancelled = jobs.cancel(doomed.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(jobs.cancel(doomed.id).await.unwrap_err().kind, StoreErrorKind::Conflict);
    assert_eq!(jobs.cancel(Uuid::new_v4()).await.unwrap_err().kind, StoreErrorKind::NotFound);
    assert!(jobs.lease("w1", &["flaky".into()], LEASE, 1).await.unwrap().is_empty(), "cancelled jobs stay put");
    assert_eq!(jobs.retry(doomed.id).await.unwrap().status, JobStatus::Queued);
}

async fn cancelling_a_running_job_revokes_its_lease(db: &TestDb) {
    let jobs = &db.records.jobs;
    let queued = jobs.enqueue(NewJob::new("campaign", "stopped")).await.unwrap();
    jobs.lease("w1", &[], LEASE, 1).await.unwrap();
    jobs.cancel(queued.id).await.unwrap();
    assert_eq!(jobs.heartbeat(queued.id, "w1", LEASE).await.unwrap_err().kind, StoreErrorKind::LeaseLost);
    let sql = format!("SELECT COUNT(*) FROM job_queue WHERE job_id = '{}' AND status = 'cancelled'", queued.id);
    assert_eq!(db.scalar(&sql).await, 1);
}

async fn bulk_enqueue_then_release(db: &TestDb) {
    let jobs = &db.records.jobs;
    let mut batch: Vec<NewJob> = (0..7).map(|i| NewJob::new("bulk", format!("bulk {i}"))).collect();
    batch[3].priority = Priority::High;
    batch[5].configuration = json!({"n": 5});
    let ids = jobs.enqueue_many(batch).await.unwrap();
    assert_eq!(ids.len(), 7);
    let fifth = jobs.get(ids[5]).await.unwrap();
    assert_eq!(
        (fifth.status, fifth.topic.as_str(), fifth.configuration.clone()),
        (JobStatus::Queued, "bulk 5", json!({"n": 5}))
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM job_queue").await, 7, "the seed's job_queue follows bulk inserts");
    let invalid = vec![NewJob::new("bulk", "ok"), NewJob::new("bulk", " ")];
    assert_eq!(jobs.enqueue_many(invalid).await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM jobs").await, 7, "all or nothing");
    assert!(jobs.enqueue_many(Vec::new()).await.unwrap().is_empty());

    let leased = jobs.lease("w1", &[], LEASE, 1).await.unwrap();
    assert_eq!(leased[0].id, ids[3], "high priority first");
    assert_eq!(jobs.release(ids[3], "w2").await.unwrap_err().kind, StoreErrorKind::LeaseLost);
    let released = jobs.release(ids[3], "w1").await.unwrap();
    assert_eq!((released.status, released.attempts, released.lease_owner.clone()), (JobStatus::Queued, 0, None));
    assert_eq!(jobs.release(ids[3], "w1").await.unwrap_err().kind, StoreErrorKind::LeaseLost);
    assert_eq!(jobs.release(Uuid::new_v4(), "w1").await.unwrap_err().kind, StoreErrorKind::NotFound);
    let again = jobs.lease("w2", &[], LEASE, 1).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (ids[3], 1), "a released lease costs no attempt");

    let rest = jobs.lease("w3", &[], LEASE, 3).await.unwrap();
    let mut batch: Vec<_> = rest.iter().map(|j| (j.id, Some(json!({"i": 1})))).collect();
    batch.push((ids[3], None)); // held by w2, not w3
    batch.push((Uuid::new_v4(), None));
    batch.push((rest[1].id, None)); // a repeated id is completed once
    let done = jobs.complete_many("w3", batch).await.unwrap();
    assert_eq!(done.len(), rest.len(), "{done:?}");
    assert_eq!(done.iter().copied().collect::<HashSet<_>>(), rest.iter().map(|j| j.id).collect::<HashSet<_>>());
    let first = jobs.get(rest[0].id).await.unwrap();
    assert_eq!(
        (first.status, first.metrics, first.progress_percentage),
        (JobStatus::Completed, Some(json!({"i": 1})), 100.0)
    );
    assert!(jobs.complete_many("w3", Vec::new()).await.unwrap().is_empty());

    let info = json!({"error": "bad input"});
    assert_eq!(jobs.fail_permanently(ids[3], "w1", info.clone()).await.unwrap_err().kind, StoreErrorKind::LeaseLost);
    let failed = jobs.fail_permanently(ids[3], "w2", info.clone()).await.unwrap();
    assert_eq!((failed.status, failed.attempts, failed.error_info), (JobStatus::Failed, 1, Some(info)));
    assert!(failed.completed_at.is_some() && failed.max_attempts == 3, "failed with attempts left");
}

async fn waiting_workers_wake_on_enqueue(db: &TestDb) {
    let jobs = Arc::clone(&db.records.jobs);
    // Start the listener (PostgreSQL) with a first short wait, then wait long while enqueuing.
    jobs.wait_for_jobs(Duration::from_millis(50)).await;
    let waiter = {
        let jobs = Arc::clone(&jobs);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            jobs.wait_for_jobs(Duration::from_secs(30)).await;
            started.elapsed()
        })
    };
    // Enqueue repeatedly until the waiter wakes (the first may land before it is waiting).
    for i in 0..100 {
        if waiter.is_finished() {
            break;
        }
        jobs.enqueue(NewJob::new("wake", format!("wake {i}"))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = tokio::time::timeout(Duration::from_secs(20), waiter).await.unwrap().unwrap();
    assert!(waited < Duration::from_secs(30), "woken by an enqueue, not by the timeout: {waited:?}");
}

crate::conformance!(
    bulk_enqueue_then_release,
    waiting_workers_wake_on_enqueue,
    enqueue_lease_progress_complete,
    concurrent_leases_take_each_job_once,
    expired_leases_are_leased_again,
    heartbeats_in_bulk,
    failures_back_off_then_fail,
    cancelling_a_running_job_revokes_its_lease,
);
