//! `aae db import-redis` from a private redis-server holding seed-002-era job hashes, on both
//! engines: every usable hash becomes a job with its fields, users are matched by id or subject,
//! bad keys are reported, and a second run changes nothing.

use aae_store::{JobFilter, JobStatus, NewUser, Priority};
use aae_testkit::RedisServer;

use crate::support::TestDb;

async fn import_is_complete_and_idempotent(db: &TestDb) {
    let server = RedisServer::start().unwrap();
    let mut redis = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let alice = db.records.users.create(NewUser::new("user_2abc", "alice@example.com")).await.unwrap();
    let known = "0b7e9a44-35d1-4b8e-8c55-7a9e6f3d2c10";
    let hashes: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            format!("job:{known}"),
            vec![
                ("topic", "Ocean documentary".into()),
                ("user_id", "user_2abc".into()),
                ("status", "completed".into()),
                ("priority", "high".into()),
                ("progress_percentage", "100".into()),
                ("configuration", r#"{"duration":60,"style":"calm"}"#.into()),
                ("metrics", r#"{"render_seconds":12.5}"#.into()),
                ("created_at", "2024-12-01T12:00:00Z".into()),
            ],
        ),
        (
            "job:legacy-2".into(),
            vec![
                ("topic", "Product teaser".into()),
                ("user_id", alice.id.to_string()),
                ("status", "processing".into()),
                ("progress", "40".into()),
                ("current_stage", "rendering".into()),
            ],
        ),
        (
            "job:legacy-3".into(),
            vec![
                ("topic", "Lost user".into()),
                ("user_id", "user_gone".into()),
                ("status", "failed".into()),
                ("error", "codec".into()),
            ],
        ),
        ("job:broken".into(), vec![("status", "queued".into())]),
    ];
    for (key, fields) in &hashes {
        let _: () = redis::cmd("HSET").arg(key).arg(fields.clone()).query_async(&mut redis).await.unwrap();
    }
    let _: () = redis::cmd("SET").arg("job:counter").arg(7).query_async(&mut redis).await.unwrap();
    let _: () =
        redis::cmd("HSET").arg("session:1").arg("topic").arg("not a job").query_async(&mut redis).await.unwrap();

    let report = db.records.import_redis_jobs(&server.url(), "job:*").await.unwrap();
    assert_eq!((report.scanned, report.imported, report.existing), (5, 3, 0), "{report:?}");
    let mut skipped: Vec<_> = report.skipped.iter().map(|s| (s.key.as_str(), s.reason.as_str())).collect();
    skipped.sort();
    assert_eq!(skipped, [("job:broken", "no `topic` field"), ("job:counter", "a string, not a hash")]);

    let first = db.records.jobs.get(known.parse().unwrap()).await.unwrap();
    assert_eq!((first.status, first.priority, first.user_id), (JobStatus::Completed, Priority::High, Some(alice.id)));
    assert_eq!(first.configuration, serde_json::json!({"duration": 60, "style": "calm"}));
    let metrics = first.metrics.clone().unwrap();
    assert_eq!(metrics["render_seconds"], 12.5);
    assert_eq!(metrics["imported_from"]["redis_key"], format!("job:{known}"));
    assert_eq!(first.created_at.to_rfc3339(), "2024-12-01T12:00:00+00:00");

    let all = db.records.jobs.list(&JobFilter { limit: 10, ..JobFilter::default() }).await.unwrap();
    let teaser = all.iter().find(|j| j.topic == "Product teaser").unwrap();
    assert_eq!(
        (teaser.status, teaser.progress_percentage, teaser.current_stage.as_deref()),
        (JobStatus::Queued, 40.0, Some("rendering"))
    );
    let lost = all.iter().find(|j| j.topic == "Lost user").unwrap();
    assert_eq!((lost.status, lost.user_id), (JobStatus::Failed, None));
    assert_eq!(lost.metrics.as_ref().unwrap()["imported_from"]["user_id"], "user_gone");
    assert_eq!(lost.error_info, Some(serde_json::json!({"message": "codec"})));

    let again = db.records.import_redis_jobs(&server.url(), "job:*").await.unwrap();
    assert_eq!((again.imported, again.existing, again.skipped.len()), (0, 3, 2));
    assert_eq!(db.records.jobs.list(&JobFilter { limit: 10, ..JobFilter::default() }).await.unwrap().len(), 3);
}

crate::conformance!(import_is_complete_and_idempotent);
