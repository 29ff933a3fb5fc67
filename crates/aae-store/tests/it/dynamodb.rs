//! Campaigns on DynamoDB: the campaign conformance suite on moto and on dynalite (through
//! `dynamodb_conformance!`, used by `campaigns.rs`), and what only DynamoDB has: listing without
//! a scan, pages cut by DynamoDB's 1 MB limit, parts over 400 KB in object storage, table creation.

use std::sync::Arc;

use aae_config::{Config, StorageBackendKind};
use aae_storage::backend::{BackendOptions, StaticAwsCredentials};
use aae_storage::{StorageService, layout};
use aae_store::dynamodb::{DynamoCampaignStore, DynamoOptions, STATUS_INDEX, USER_INDEX};
use aae_store::{Campaign, CampaignStatus, CampaignStore};
use aae_testkit::{FaultProxy, unique_table};
use aae_types::BucketPurpose;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use crate::support::{Engine, TestDb};

#[derive(Debug, Clone, Copy)]
pub enum Emulator {
    Moto,
    Dynalite,
}

pub async fn endpoint(emulator: Emulator) -> String {
    match emulator {
        Emulator::Moto => aae_testkit::moto().await.expect("moto").endpoint().to_owned(),
        Emulator::Dynalite => aae_testkit::dynalite().await.expect("dynalite").endpoint().to_owned(),
    }
}

/// A store on a fresh table at `endpoint`, created with both indexes.
pub async fn store_at(endpoint: &str, storage: Option<Arc<StorageService>>) -> DynamoCampaignStore {
    let options = DynamoOptions {
        table: unique_table("aae-campaigns-test"),
        region: Some(aae_testkit::REGION.into()),
        endpoint_url: Some(endpoint.to_owned()),
        profile: None,
        static_credentials: Some((aae_testkit::ACCESS_KEY.into(), aae_testkit::SECRET_KEY.into())),
    };
    let store = DynamoCampaignStore::connect(&options, storage).await.expect("connect");
    let report = store.ensure_table().await.expect("ensure table");
    assert!(report.created);
    store
}

/// Object storage on moto's S3 with a fresh campaign-outputs bucket.
pub async fn moto_storage() -> Arc<StorageService> {
    let moto = aae_testkit::moto().await.expect("moto");
    let mut config = Config::default();
    config.storage.backend = StorageBackendKind::S3;
    config.storage.create_buckets = true;
    config.storage.s3.endpoint = Some(moto.endpoint().to_owned());
    config.storage.s3.force_path_style = true;
    config.storage.buckets.campaign_outputs = Some(moto.unique_bucket("campaign-outputs"));
    let mut options = BackendOptions::from_config(&config, b"test-url-signing-secret".to_vec());
    options.aws_region = Some(aae_testkit::REGION.into());
    options.aws_credentials = Some(StaticAwsCredentials {
        access_key_id: aae_testkit::ACCESS_KEY.into(),
        secret_access_key: aae_testkit::SECRET_KEY.into(),
        session_token: None,
    });
    let storage = StorageService::from_config_with(&config, options).await.expect("storage");
    storage.ensure_buckets().await.expect("buckets");
    Arc::new(storage)
}

/// A SQLite test database whose campaigns live in a fresh DynamoDB table on `emulator`.
pub async fn dynamo_db(emulator: Emulator) -> TestDb {
    let mut db = TestDb::new(Engine::Sqlite).await;
    let store = store_at(&endpoint(emulator).await, Some(moto_storage().await)).await;
    db.records = db.records.clone().with_campaigns(Arc::new(store));
    db
}

/// Generates `moto::<name>` and `dynalite::<name>` tests running `super::<name>(&TestDb)` with
/// the campaigns on DynamoDB.
#[macro_export]
macro_rules! dynamodb_conformance {
    ($($name:ident),+ $(,)?) => {
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::dynamodb::dynamo_db($crate::dynamodb::Emulator::Moto).await;
                    super::$name(&db).await;
                }
            )+
        }
        mod dynalite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::dynamodb::dynamo_db($crate::dynamodb::Emulator::Dynalite).await;
                    super::$name(&db).await;
                }
            )+
        }
    };
}

fn campaign(id: usize, user: &str, status: CampaignStatus) -> Campaign {
    let mut c = Campaign::new(format!("campaign_{id:04}"), user, format!("Launch {id}"));
    c.status = status;
    c.created_at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(id as i64);
    c.execution_time = Some(10.0);
    c
}

#[tokio::test]
async fn listing_and_stats_never_scan() {
    let moto = aae_testkit::moto().await.unwrap();
    let proxy = FaultProxy::start(moto.endpoint()).await.unwrap();
    let store = store_at(&proxy.endpoint(), None).await;
    for i in 0..30 {
        let status = if i % 3 == 0 { CampaignStatus::Running } else { CampaignStatus::Completed };
        store.put(&campaign(i, if i < 25 { "alice" } else { "bob" }, status)).await.unwrap();
    }
    let mut cursor = None;
    let mut seen = 0;
    loop {
        let page = store.list_by_user("alice", 7, cursor.as_deref()).await.unwrap();
        seen += page.items.len();
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, 25);
    assert_eq!(store.list_by_status(CampaignStatus::Running, 50, None).await.unwrap().items.len(), 10);
    assert_eq!(store.stats(None).await.unwrap().total_campaigns, 30);
    assert_eq!(store.stats(Some("bob")).await.unwrap().total_campaigns, 5);
    let targets = proxy.control().targets();
    assert_eq!(proxy.control().target_count("DynamoDB_20120810.Scan"), 0, "{targets:?}");
    // 4 pages of alice, 1 status page, 5 per-status stats queries, 1 user stats query.
    assert!(proxy.control().target_count("DynamoDB_20120810.Query") >= 11, "{targets:?}");
}

async fn pages_cut_at_one_megabyte(emulator: Emulator) {
    let store = store_at(&endpoint(emulator).await, None).await;
    // 14 items of ~300 KB: DynamoDB returns at most ~3 per 1 MB query page.
    let blob = "x".repeat(300 * 1024);
    for i in 0..14 {
        let mut c = campaign(i, "alice", CampaignStatus::Completed);
        c.campaign_brief = json!({ "notes": blob });
        store.put(&c).await.unwrap();
    }
    let first = store.list_by_user("alice", 10, None).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.items[0].campaign_id, "campaign_0013");
    let rest = store.list_by_user("alice", 10, first.next_cursor.as_deref()).await.unwrap();
    assert_eq!(
        rest.items.iter().map(|c| c.campaign_id.as_str()).collect::<Vec<_>>(),
        ["campaign_0003", "campaign_0002", "campaign_0001", "campaign_0000"]
    );
    assert!(rest.next_cursor.is_none());
}

#[tokio::test]
async fn moto_pages_cut_at_one_megabyte() {
    pages_cut_at_one_megabyte(Emulator::Moto).await;
}

#[tokio::test]
async fn dynalite_pages_cut_at_one_megabyte() {
    pages_cut_at_one_megabyte(Emulator::Dynalite).await;
}

async fn raw_item(store: &DynamoCampaignStore, id: &str) -> std::collections::HashMap<String, AttributeValue> {
    let out = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("campaign_id", AttributeValue::S(id.into()))
        .send()
        .await
        .unwrap();
    out.item.unwrap()
}

async fn parts_over_the_item_limit_live_in_object_storage(emulator: Emulator) {
    let storage = moto_storage().await;
    let store = store_at(&endpoint(emulator).await, Some(Arc::clone(&storage))).await;
    let mut big = campaign(1, "alice", CampaignStatus::Completed);
    let steps: Vec<_> = (0..10_000).map(|i| json!({"step": i, "output": "y".repeat(90)})).collect();
    big.final_state = Some(json!({ "steps": steps }));
    big.progress_log = Some(json!({"entries": [{"stage": "research", "pct": 10}]}));
    assert!(big.final_state.as_ref().unwrap().to_string().len() > 1_000_000);
    store.put(&big).await.unwrap();

    let item = raw_item(&store, "campaign_0001").await;
    let key = layout::campaign_record_part("campaign_0001", "final_state").unwrap();
    assert_eq!(item.get("final_state_ref"), Some(&AttributeValue::S(key.clone())));
    assert!(!item.contains_key("final_state"));
    assert!(item.contains_key("progress_log"), "the small part stays inline");
    assert!(storage.exists(BucketPurpose::CampaignOutputs, &key).await.unwrap());

    assert_eq!(store.get("campaign_0001").await.unwrap(), big, "get loads the part back");
    assert_eq!(store.list_by_user("alice", 10, None).await.unwrap().items, vec![big.clone()]);
    assert_eq!(store.list_by_status(CampaignStatus::Completed, 10, None).await.unwrap().items, vec![big.clone()]);

    // A smaller version keeps everything inline and drops the stale object.
    let mut small = big.clone();
    small.final_state = Some(json!({"steps": 1}));
    store.put(&small).await.unwrap();
    assert!(!storage.exists(BucketPurpose::CampaignOutputs, &key).await.unwrap());
    assert_eq!(store.get("campaign_0001").await.unwrap(), small);

    // The same through the bulk path: put_many offloads, then drops the stale object.
    let others: Vec<Campaign> = (2..130).map(|i| campaign(i, "bob", CampaignStatus::Running)).collect();
    store.put_many(&[vec![big.clone()], others.clone()].concat()).await.unwrap();
    assert!(storage.exists(BucketPurpose::CampaignOutputs, &key).await.unwrap());
    assert_eq!(store.get("campaign_0001").await.unwrap(), big);
    store.put_many(&[others, vec![small.clone()]].concat()).await.unwrap();
    assert!(!storage.exists(BucketPurpose::CampaignOutputs, &key).await.unwrap(), "put_many drops stale parts");
    assert_eq!(store.get("campaign_0001").await.unwrap(), small);

    store.put(&big).await.unwrap();
    assert!(storage.exists(BucketPurpose::CampaignOutputs, &key).await.unwrap());
    store.delete("campaign_0001").await.unwrap();
    assert!(!storage.exists(BucketPurpose::CampaignOutputs, &key).await.unwrap(), "delete removes the parts");

    // Without object storage an oversized item is refused, not truncated.
    let bare = store_at(&endpoint(emulator).await, None).await;
    let error = bare.put(&big).await.unwrap_err();
    assert_eq!(error.kind, aae_store::StoreErrorKind::Invalid, "{error}");
}

#[tokio::test]
async fn moto_parts_over_the_item_limit_live_in_object_storage() {
    parts_over_the_item_limit_live_in_object_storage(Emulator::Moto).await;
}

#[tokio::test]
async fn dynalite_parts_over_the_item_limit_live_in_object_storage() {
    parts_over_the_item_limit_live_in_object_storage(Emulator::Dynalite).await;
}

async fn ensure_table_is_idempotent_and_adds_missing_indexes(emulator: Emulator) {
    let store = store_at(&endpoint(emulator).await, None).await;
    let again = store.ensure_table().await.unwrap();
    assert!(!again.created && again.indexes_added.is_empty(), "{again:?}");
    assert!(store.health().await.healthy);

    // A table created by hand with the key only gains both indexes.
    let bare = DynamoCampaignStore::new(store.client().clone(), unique_table("aae-campaigns-bare"), None, "test");
    assert!(!bare.health().await.healthy, "missing table is unhealthy");
    bare.client()
        .create_table()
        .table_name(bare.table())
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("campaign_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("campaign_id").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    assert!(!bare.health().await.healthy, "missing indexes are unhealthy");
    match emulator {
        Emulator::Moto => {
            let report = bare.ensure_table().await.unwrap();
            assert_eq!(
                (report.created, report.indexes_added.clone()),
                (false, vec![USER_INDEX.to_owned(), STATUS_INDEX.to_owned()])
            );
            assert!(bare.ensure_table().await.unwrap().indexes_added.is_empty());
            bare.put(&campaign(1, "alice", CampaignStatus::Running)).await.unwrap();
            assert_eq!(bare.list_by_user("alice", 5, None).await.unwrap().items.len(), 1);
            assert!(bare.health().await.healthy);
        }
        // dynalite 4.0 cannot add an index to an existing table (it asks capacity of on-demand
        // tables, and on provisioned ones accepts the index without ever adding it): the store
        // must report a failure, not success.
        Emulator::Dynalite => {
            let error = bare.ensure_table().await.unwrap_err();
            assert!(!bare.health().await.healthy, "{error}");
        }
    }
}

#[tokio::test]
async fn moto_ensure_table_is_idempotent_and_adds_missing_indexes() {
    ensure_table_is_idempotent_and_adds_missing_indexes(Emulator::Moto).await;
}

#[tokio::test]
async fn dynalite_ensure_table_is_idempotent_and_adds_missing_indexes() {
    ensure_table_is_idempotent_and_adds_missing_indexes(Emulator::Dynalite).await;
}

#[tokio::test]
async fn unreachable_dynamodb_is_unavailable() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let options = DynamoOptions {
        table: unique_table("aae-campaigns-gone"),
        region: Some(aae_testkit::REGION.into()),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        profile: None,
        static_credentials: Some((aae_testkit::ACCESS_KEY.into(), aae_testkit::SECRET_KEY.into())),
    };
    let store = DynamoCampaignStore::connect(&options, None).await.unwrap();
    let error = store.get("campaign_0001").await.unwrap_err();
    assert_eq!(error.kind, aae_store::StoreErrorKind::Unavailable, "{error}");
    assert!(!error.to_string().contains(aae_testkit::SECRET_KEY));
    assert!(!store.health().await.healthy);
}

async fn put_many_writes_in_batches(emulator: Emulator) {
    let store = store_at(&endpoint(emulator).await, None).await;
    let campaigns: Vec<Campaign> = (0..60).map(|i| campaign(i, "alice", CampaignStatus::Completed)).collect();
    store.put_many(&campaigns).await.unwrap();
    let page = store.list_by_user("alice", 100, None).await.unwrap();
    assert_eq!(page.items.len(), 60);
    assert_eq!(page.items[0], campaigns[59]);
    assert_eq!(store.stats(None).await.unwrap().completed_campaigns, 60);
}

#[tokio::test]
async fn moto_put_many_writes_in_batches() {
    put_many_writes_in_batches(Emulator::Moto).await;
}

#[tokio::test]
async fn dynalite_put_many_writes_in_batches() {
    put_many_writes_in_batches(Emulator::Dynalite).await;
}
