//! Campaign list benchmark (issue 3): `list_by_user`, first page of 50, with 100,000 campaigns
//! in the store, on SQLite, PostgreSQL and DynamoDB (any endpoint; `bench/campaigns.sh` uses a
//! private moto), one after the other in one run. Seeds with multi-row INSERTs (SQL) and
//! `BatchWriteItem` (DynamoDB), then times `queries` calls for random users through the
//! `CampaignStore` trait and prints one JSON object per engine on stdout.
//!
//! ```text
//! cargo run --release -p aae-store --example campaign_list_bench -- \
//!   --records 100000 --users 100 --queries 1000 --dynamo-queries 200 \
//!   --postgres postgres://postgres@127.0.0.1:5432/test --dynamodb http://127.0.0.1:5000
//! ```
//! `--postgres` / `--dynamodb` may be `none` to skip an engine. PostgreSQL gets a fresh
//! database (`aae_bench_<random>`), dropped at the end; DynamoDB a fresh table, deleted at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aae_config::DatabaseConfig;
use aae_store::dynamodb::{DynamoCampaignStore, DynamoOptions};
use aae_store::{Campaign, CampaignStatus, CampaignStore};
use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use serde_json::json;
use sqlx::{Connection, QueryBuilder};

struct Args {
    records: usize,
    users: usize,
    page: u32,
    queries: usize,
    dynamo_queries: usize,
    postgres: Option<String>,
    dynamodb: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        records: 100_000,
        users: 100,
        page: 50,
        queries: 1000,
        dynamo_queries: 200,
        postgres: Some("postgres://postgres@127.0.0.1:5432/test".into()),
        dynamodb: Some("http://127.0.0.1:5000".into()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let opt = |v: String| (v != "none").then_some(v);
        match flag.as_str() {
            "--records" => args.records = value.parse()?,
            "--users" => args.users = value.parse()?,
            "--page" => args.page = value.parse()?,
            "--queries" => args.queries = value.parse()?,
            "--dynamo-queries" => args.dynamo_queries = value.parse()?,
            "--postgres" => args.postgres = opt(value),
            "--dynamodb" => args.dynamodb = opt(value),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// Campaign `i`: user `i % users`, one second apart, ~1 KB of JSON like a finished run's.
fn campaign(i: usize, users: usize) -> Campaign {
    let mut c = Campaign::new(format!("campaign_{i:07}"), format!("user_{:04}", i % users), format!("Launch {i}"));
    c.status = if i.is_multiple_of(10) { CampaignStatus::Running } else { CampaignStatus::Completed };
    c.created_at =
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap_or_default() + Duration::from_secs(i as u64);
    c.execution_time = Some(100.0 + (i % 200) as f64);
    c.website_url = Some(format!("https://cdn.example.com/campaigns/campaign_{i:07}/website/index.html"));
    c.campaign_brief = json!({"product": "AAE", "audience": ["founders", "marketers"], "budget": 1200.5,
        "goals": "launch awareness in three markets with a landing page and ads in every standard size"});
    c.final_state = Some(json!({"steps": 7, "ok": true, "summary": "x".repeat(400)}));
    c.agent_interactions =
        json!([{"agent": "market_insights", "tokens": 1234}, {"agent": "ad_creative", "tokens": 2345}]);
    c
}

/// Multi-row INSERTs of 500 rows on `$conn` (a `$db` connection; `$pg`: bind native types).
macro_rules! seed_sql {
    ($db:ty, $conn:expr, $args:expr, $pg:expr) => {{
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        for start in (0..$args.records).step_by(500) {
            let mut insert = QueryBuilder::<$db>::new(
                "INSERT INTO campaigns (campaign_id, user_id, campaign_name, status, created_at, execution_time, \
                 website_url, campaign_brief, final_state, agent_interactions, updated_at) ",
            );
            let rows: Vec<Campaign> =
                (start..(start + 500).min($args.records)).map(|i| campaign(i, $args.users)).collect();
            insert.push_values(rows, |mut b, c| {
                b.push_bind(c.campaign_id)
                    .push_bind(c.user_id)
                    .push_bind(c.campaign_name)
                    .push_bind(c.status.to_string());
                if $pg {
                    b.push_bind(c.created_at);
                } else {
                    b.push_bind(time(c.created_at));
                }
                b.push_bind(c.execution_time.unwrap_or_default()).push_bind(c.website_url.unwrap_or_default());
                if $pg {
                    b.push_bind(c.campaign_brief)
                        .push_bind(c.final_state.unwrap_or_default())
                        .push_bind(c.agent_interactions)
                        .push_bind(c.created_at);
                } else {
                    b.push_bind(c.campaign_brief.to_string())
                        .push_bind(c.final_state.unwrap_or_default().to_string())
                        .push_bind(c.agent_interactions.to_string())
                        .push_bind(time(c.created_at));
                }
            });
            insert.build().execute(&mut *$conn).await?;
        }
    }};
}

/// Times `queries` first pages for users picked by a fixed pseudo-random sequence.
async fn measure(
    name: &str,
    store: &dyn CampaignStore,
    args: &Args,
    queries: usize,
    seed_secs: f64,
) -> anyhow::Result<()> {
    // Warm-up: one page per user (caches, connections, prepared statements).
    for u in 0..args.users.min(if name == "dynamodb" { 3 } else { 20 }) {
        store.list_by_user(&format!("user_{u:04}"), args.page, None).await?;
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut micros = Vec::with_capacity(queries);
    let mut second_page = Vec::with_capacity(queries / 10);
    for q in 0..queries {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let user = format!("user_{:04}", (state >> 33) as usize % args.users);
        let started = Instant::now();
        let page = store.list_by_user(&user, args.page, None).await?;
        micros.push(started.elapsed().as_secs_f64() * 1e6);
        anyhow::ensure!(page.items.len() == args.page as usize, "{name}: short page for {user}");
        if q.is_multiple_of(10) {
            let started = Instant::now();
            let next = store.list_by_user(&user, args.page, page.next_cursor.as_deref()).await?;
            second_page.push(started.elapsed().as_secs_f64() * 1e6);
            anyhow::ensure!(next.items.len() == args.page as usize, "{name}: short second page");
        }
    }
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
        json!({"n": v.len(), "p50_us": at(0.50).round(), "p99_us": at(0.99).round(), "max_us": at(1.0).round(),
               "mean_us": (v.iter().sum::<f64>() / v.len() as f64).round()})
    };
    let line = json!({"engine": name, "records": args.records, "users": args.users, "page": args.page,
        "seed_seconds": (seed_secs * 10.0).round() / 10.0, "first_page": stats(micros), "second_page": stats(second_page)});
    println!("{line}");
    eprintln!("{name}: {line}");
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;

    let dir = tempfile::tempdir()?;
    let records = aae_store::open(&DatabaseConfig::default(), dir.path()).await?;
    let started = Instant::now();
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.path().join("aae.db").display())).await?;
    sqlx::query("BEGIN").execute(&mut conn).await?;
    seed_sql!(sqlx::Sqlite, &mut conn, args, false);
    sqlx::query("COMMIT").execute(&mut conn).await?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    measure("sqlite", records.campaigns.as_ref(), &args, args.queries, started.elapsed().as_secs_f64()).await?;

    if let Some(admin) = &args.postgres {
        let name = format!("aae_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin_conn = sqlx::PgConnection::connect(admin).await.context("connect to --postgres")?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin_conn).await?;
        let mut url = url::Url::parse(admin)?;
        url.set_path(&format!("/{name}"));
        let result = async {
            let config = DatabaseConfig { url: SecretString::from(url.to_string()), ..DatabaseConfig::default() };
            let records = aae_store::open(&config, dir.path()).await?;
            let started = Instant::now();
            let mut conn = sqlx::PgConnection::connect(url.as_str()).await?;
            sqlx::query("BEGIN").execute(&mut conn).await?;
            seed_sql!(sqlx::Postgres, &mut conn, args, true);
            sqlx::query("COMMIT").execute(&mut conn).await?;
            sqlx::query("ANALYZE campaigns").execute(&mut conn).await?;
            measure("postgres", records.campaigns.as_ref(), &args, args.queries, started.elapsed().as_secs_f64())
                .await?;
            records.close().await;
            anyhow::Ok(())
        }
        .await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin_conn).await?;
        result?;
    }

    if let Some(endpoint) = &args.dynamodb {
        let options = DynamoOptions {
            table: format!("aae-bench-campaigns-{}", uuid::Uuid::new_v4().simple()),
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint.clone()),
            profile: None,
            static_credentials: Some(("AKIDAAEBENCH".into(), "aae-bench-secret".into())),
        };
        let store = Arc::new(DynamoCampaignStore::connect(&options, None).await?);
        store.ensure_table().await?;
        let started = Instant::now();
        for start in (0..args.records).step_by(1000) {
            let chunk: Vec<Campaign> =
                (start..(start + 1000).min(args.records)).map(|i| campaign(i, args.users)).collect();
            store.put_many(&chunk).await?;
        }
        let seeded = started.elapsed().as_secs_f64();
        let result = measure("dynamodb", store.as_ref(), &args, args.dynamo_queries, seeded).await;
        store.client().delete_table().table_name(store.table()).send().await.ok();
        result?;
    }
    Ok(())
}
