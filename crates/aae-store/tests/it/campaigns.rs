//! CampaignStore: every field of seed 003's item, newest-first pagination and stats.

use std::collections::HashSet;

use aae_store::{Campaign, CampaignStatus, StoreErrorKind};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use crate::support::TestDb;

fn campaign(id: usize, user: &str, status: CampaignStatus, execution_time: Option<f64>) -> Campaign {
    let mut c = Campaign::new(format!("campaign_{id:04}"), user, format!("Launch {id}"));
    c.status = status;
    c.created_at = Utc.with_ymd_and_hms(2024, 12, 1, 12, 0, 0).unwrap() + Duration::seconds((id / 2) as i64);
    c.execution_time = execution_time;
    c
}

async fn campaigns_keep_every_field(db: &TestDb) {
    let store = &db.records.campaigns;
    let mut c = campaign(1, "alice", CampaignStatus::Completed, Some(200.5));
    c.completed_at = Some(c.created_at + Duration::seconds(200));
    c.website_url = Some("https://cdn.example.com/campaigns/campaign_0001/website/index.html".into());
    c.pdf_url = Some("https://cdn.example.com/campaigns/campaign_0001/pdf/campaign_report.pdf".into());
    c.workflow_state_url = Some("s3://outputs/campaigns/campaign_0001/artifacts/workflow_state.json".into());
    c.metadata_url = Some("s3://outputs/campaigns/campaign_0001/metadata/campaign_metadata.json".into());
    c.campaign_brief = json!({"product": "AAE", "audience": ["founders"], "budget": 1200.5});
    c.final_state = Some(json!({"steps": 7, "ok": true}));
    c.progress_log = Some(json!({"entries": [{"stage": "research", "pct": 10}]}));
    c.agent_interactions = json!([{"agent": "market_insights", "tokens": 1234}]);
    store.put(&c).await.unwrap();
    assert_eq!(store.get("campaign_0001").await.unwrap(), c);

    c.campaign_name = "Renamed".into();
    store.put(&c).await.unwrap();
    assert_eq!(store.get("campaign_0001").await.unwrap().campaign_name, "Renamed", "put replaces");

    let running = campaign(2, "alice", CampaignStatus::Running, None);
    store.put(&running).await.unwrap();
    let finished = running.created_at + Duration::seconds(90);
    store.set_status("campaign_0002", CampaignStatus::Failed, Some(finished), Some(90.0)).await.unwrap();
    let failed = store.get("campaign_0002").await.unwrap();
    assert_eq!(
        (failed.status, failed.completed_at, failed.execution_time),
        (CampaignStatus::Failed, Some(finished), Some(90.0))
    );
    let missing = store.set_status("nope", CampaignStatus::Failed, None, None).await.unwrap_err();
    assert_eq!(missing.kind, StoreErrorKind::NotFound);
    assert_eq!(store.put(&Campaign::new("", "alice", "x")).await.unwrap_err().kind, StoreErrorKind::Invalid);

    store.delete("campaign_0002").await.unwrap();
    assert_eq!(store.get("campaign_0002").await.unwrap_err().kind, StoreErrorKind::NotFound);
    assert_eq!(store.delete("campaign_0002").await.unwrap_err().kind, StoreErrorKind::NotFound);
}

async fn campaigns_page_newest_first(db: &TestDb) {
    let store = &db.records.campaigns;
    // 25 for alice (pairs share a created_at, so the id breaks ties), 5 for bob.
    for i in 0..25 {
        store.put(&campaign(i, "alice", CampaignStatus::Completed, Some(10.0))).await.unwrap();
    }
    for i in 100..105 {
        store.put(&campaign(i, "bob", CampaignStatus::Running, None)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = store.list_by_user("alice", 10, cursor.as_deref()).await.unwrap();
        pages.push(page.items.len());
        seen.extend(page.items.iter().map(|c| c.campaign_id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, vec![10, 10, 5]);
    let expected: Vec<String> = (0..25).rev().map(|i| format!("campaign_{i:04}")).collect();
    assert_eq!(seen, expected, "newest first, ties by id, no gaps or repeats");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);

    let exact = store.list_by_user("bob", 5, None).await.unwrap();
    assert_eq!((exact.items.len(), exact.next_cursor), (5, None));
    let running = store.list_by_status(CampaignStatus::Running, 3, None).await.unwrap();
    assert_eq!(
        running.items.iter().map(|c| c.campaign_id.as_str()).collect::<Vec<_>>(),
        ["campaign_0104", "campaign_0103", "campaign_0102"]
    );
    let rest = store.list_by_status(CampaignStatus::Running, 3, running.next_cursor.as_deref()).await.unwrap();
    assert_eq!(rest.items.len(), 2);
    assert!(store.list_by_user("carol", 10, None).await.unwrap().items.is_empty());
    assert_eq!(store.list_by_user("alice", 10, Some("garbage")).await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!(store.list_by_user("alice", 0, None).await.unwrap_err().kind, StoreErrorKind::Invalid);
}

async fn campaign_stats_in_one_query(db: &TestDb) {
    let store = &db.records.campaigns;
    let empty = store.stats(None).await.unwrap();
    assert_eq!((empty.total_campaigns, empty.average_execution_time), (0, 0.0));
    let rows = [
        (1, "alice", CampaignStatus::Completed, Some(100.0)),
        (2, "alice", CampaignStatus::Completed, Some(300.0)),
        (3, "alice", CampaignStatus::Completed, None),
        (4, "alice", CampaignStatus::Running, None),
        (5, "bob", CampaignStatus::Completed, Some(50.0)),
        (6, "bob", CampaignStatus::Failed, Some(20.0)),
    ];
    for (id, user, status, time) in rows {
        store.put(&campaign(id, user, status, time)).await.unwrap();
    }
    let all = store.stats(None).await.unwrap();
    assert_eq!(all.total_campaigns, 6);
    assert_eq!(all.completed_campaigns, 4);
    assert_eq!(all.status_counts.get("completed"), Some(&4));
    assert_eq!(all.status_counts.get("running"), Some(&1));
    assert_eq!(all.status_counts.get("failed"), Some(&1));
    assert_eq!(all.total_execution_time, 450.0, "completed campaigns only");
    assert_eq!(all.average_execution_time, 150.0, "over completed campaigns with a time");
    let alice = store.stats(Some("alice")).await.unwrap();
    assert_eq!((alice.total_campaigns, alice.completed_campaigns, alice.average_execution_time), (4, 3, 200.0));
}

async fn campaign_summaries_are_the_records_pages(db: &TestDb) {
    let store = &db.records.campaigns;
    for id in 0..7 {
        let status = [CampaignStatus::Running, CampaignStatus::Completed, CampaignStatus::Pending][id % 3];
        let mut c = campaign(id, "alice", status, (status == CampaignStatus::Completed).then_some(12.5));
        c.progress_log = match id % 3 {
            0 => Some(json!([{"step": "insights", "percent": 10.0}, {"step": "creatives", "percent": 37.5}])),
            2 => None,
            _ => Some(json!([{"step": "save", "percent": 90.0}])),
        };
        c.website_url = (id % 2 == 0).then(|| format!("https://cdn.example.com/{id}/index.html"));
        c.campaign_brief = json!({"name": format!("c{id}"), "big": "x".repeat(2000)});
        store.put(&c).await.unwrap();
    }
    store.put(&campaign(99, "bob", CampaignStatus::Running, None)).await.unwrap();
    let mut cursor = None;
    let mut seen = 0;
    loop {
        let full = store.list_by_user("alice", 3, cursor.as_deref()).await.unwrap();
        let summaries = store.list_summaries_by_user("alice", 3, cursor.as_deref()).await.unwrap();
        let expected: Vec<aae_store::CampaignSummary> = full.items.iter().map(Into::into).collect();
        assert_eq!(summaries.items, expected);
        assert_eq!(summaries.next_cursor, full.next_cursor);
        seen += summaries.items.len();
        match summaries.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, 7);
    let running = store.list_summaries_by_user("alice", 10, None).await.unwrap();
    let first = running.items.iter().find(|c| c.campaign_id == "campaign_0000").unwrap();
    assert_eq!(first.progress, 37.5);
    let completed = running.items.iter().find(|c| c.campaign_id == "campaign_0001").unwrap();
    assert_eq!(completed.progress, 100.0);
    let pending = running.items.iter().find(|c| c.campaign_id == "campaign_0002").unwrap();
    assert_eq!(pending.progress, 0.0);
}

crate::conformance!(
    campaigns_keep_every_field,
    campaigns_page_newest_first,
    campaign_stats_in_one_query,
    campaign_summaries_are_the_records_pages
);
crate::dynamodb_conformance!(
    campaigns_keep_every_field,
    campaigns_page_newest_first,
    campaign_stats_in_one_query,
    campaign_summaries_are_the_records_pages
);
