//! Opening, migrations, health, and the pool re-establishing connections.

use std::time::Duration;

use aae_config::DatabaseKind;
use aae_store::{NewUser, StoreErrorKind};
use secrecy::SecretString;

use crate::support::{Engine, TestDb};

async fn migrations_are_tracked_and_idempotent(db: &TestDb) {
    let again = db.records.migrate().await.unwrap();
    assert!(again.applied.is_empty(), "a second run applies nothing: {again:?}");
    // PostgreSQL has one more: the insert trigger that wakes idle workers (0002_jobs_notify).
    let known = match db.engine {
        Engine::Sqlite => 4,
        Engine::Postgres => 5,
    };
    assert_eq!(again.known, known);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM _sqlx_migrations").await, known as i64);
    // Reopening (what every start-up does) applies nothing either and sees the same data.
    db.records.users.create(NewUser::new("kept", "kept@example.com")).await.unwrap();
    let reopened = aae_store::open(&db.config, &db.data_dir).await.unwrap();
    assert!(reopened.migrate().await.unwrap().applied.is_empty());
    assert_eq!(reopened.users.get_by_subject("kept").await.unwrap().email, "kept@example.com");
    let expected = match db.engine {
        Engine::Sqlite => DatabaseKind::Sqlite,
        Engine::Postgres => DatabaseKind::Postgres,
    };
    assert_eq!(reopened.kind(), expected);
    reopened.close().await;
}

async fn health_reports_the_database(db: &TestDb) {
    let line = db.records.health().await;
    assert_eq!(line.service, "database");
    assert!(line.healthy, "{line:?}");
    assert!(line.detail.contains("schema up to date"), "{}", line.detail);
    assert!(!line.detail.contains("postgres://"), "no URL, no credentials: {}", line.detail);
    db.records.close().await;
    let line = db.records.health().await;
    assert!(!line.healthy, "{line:?}");
    let err = db.records.users.list(1, 0).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Unavailable);
}

crate::conformance!(migrations_are_tracked_and_idempotent, health_reports_the_database);

#[tokio::test]
async fn sqlite_file_is_in_the_data_dir_with_wal() {
    let db = TestDb::new(Engine::Sqlite).await;
    assert!(db.data_dir.join("aae.db").is_file());
    assert!(db.records.describe().contains("aae.db"));
    let mode = db.execute("PRAGMA journal_mode").await;
    assert!(mode.is_ok());
    assert!(db.data_dir.join("aae.db-wal").exists(), "WAL mode keeps a -wal file next to the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pool_replaces_terminated_connections() {
    let db = TestDb::with(Engine::Postgres, |config| {
        config.max_connections = 3;
        config.min_connections = 2;
    })
    .await;
    let alice = db.records.users.create(NewUser::new("alice", "alice@example.com")).await.unwrap();
    // Make sure the pool holds open connections, then kill every one of them server-side.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed = db.terminate_backends().await;
    assert!(killed >= 1, "expected pooled connections to terminate, got {killed}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // pre_ping finds the dead connections and the pool opens new ones: no error reaches the caller.
    for _ in 0..5 {
        assert_eq!(db.records.users.get(alice.id).await.unwrap().subject, "alice");
    }
    assert!(db.records.health().await.healthy);
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_and_the_url_stays_secret() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = aae_config::DatabaseConfig {
        url: SecretString::from(format!("postgres://aae:s3cret-password@127.0.0.1:{port}/aae")),
        acquire_timeout_secs: 2,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let err = aae_store::open(&config, dir.path()).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}/aae")), "{err}");
    assert!(!err.to_string().contains("s3cret-password") && !format!("{err:?}").contains("s3cret-password"), "{err:?}");
}
