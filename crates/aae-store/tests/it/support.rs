//! One fresh database per test: a temporary directory for SQLite, a uniquely named database for
//! PostgreSQL (dropped when the test ends, even when it panics), so tests run in parallel.

use std::path::PathBuf;

use aae_config::DatabaseConfig;
use aae_store::Records;
use secrecy::SecretString;
use sqlx::Connection;

/// The PostgreSQL server and a database tests may connect to in order to create theirs.
pub const DATABASE_URL_ENV: &str = "AAE_TEST_DATABASE_URL";
/// Used when [`DATABASE_URL_ENV`] is unset (trust auth on the loopback, as set up by
/// `scripts/test-servers.sh`).
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub records: Records,
    pub engine: Engine,
    pub config: DatabaseConfig,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
}

pub fn admin_url() -> String {
    std::env::var(DATABASE_URL_ENV).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

fn with_database(url: &str, database: &str) -> String {
    let mut url = url::Url::parse(url).expect("AAE_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

impl TestDb {
    pub async fn new(engine: Engine) -> Self {
        Self::with(engine, |_| {}).await
    }

    /// A fresh database opened (and migrated) with `config` adjusted by `adjust`.
    pub async fn with(engine: Engine, adjust: impl FnOnce(&mut DatabaseConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = DatabaseConfig::default();
        let mut pg_database = None;
        if engine == Engine::Postgres {
            let name = format!("aae_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap_or_else(|e| {
                panic!("PostgreSQL is needed at {} ({DATABASE_URL_ENV}); run scripts/test-servers.sh: {e}", admin_url())
            });
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
            admin.close().await.ok();
            config.url = SecretString::from(with_database(&admin_url(), &name));
            pg_database = Some(name);
        }
        config.max_connections = 10;
        adjust(&mut config);
        let records = aae_store::open(&config, dir.path()).await.expect("open records");
        Self { records, engine, config, data_dir: dir.path().to_path_buf(), _dir: dir, pg_database }
    }

    /// Runs a query returning one integer on a connection of its own (for checks the traits do
    /// not expose, such as the seed's `job_queue` table).
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.engine {
            Engine::Sqlite => {
                let path = self.data_dir.join("aae.db");
                let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
            Engine::Postgres => {
                use secrecy::ExposeSecret;
                let mut conn = sqlx::PgConnection::connect(self.config.url.expose_secret()).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
        }
    }

    /// Executes a statement on a connection of its own; returns the rows affected.
    pub async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => {
                let path = self.data_dir.join("aae.db");
                let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
                Ok(sqlx::query(sql).execute(&mut conn).await?.rows_affected())
            }
            Engine::Postgres => {
                use secrecy::ExposeSecret;
                let mut conn = sqlx::PgConnection::connect(self.config.url.expose_secret()).await?;
                Ok(sqlx::query(sql).execute(&mut conn).await?.rows_affected())
            }
        }
    }

    /// Terminates every server connection to this test's PostgreSQL database; returns how many.
    pub async fn terminate_backends(&self) -> i64 {
        let name = self.pg_database.as_ref().expect("postgres only");
        let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        killed.into_iter().filter(|k| *k).count() as i64
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_database.take() else { return };
        // Drop runs inside the test's runtime; use a thread with its own to run the async drop.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url()).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
                }
            });
        })
        .join();
    }
}

/// Generates `sqlite::<name>` and `postgres::<name>` tests running `super::<name>(&TestDb)`.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::support::TestDb::new($crate::support::Engine::Sqlite).await;
                    super::$name(&db).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::support::TestDb::new($crate::support::Engine::Postgres).await;
                    super::$name(&db).await;
                }
            )+
        }
    };
}

/// A user to own records.
pub async fn user(db: &TestDb, subject: &str) -> aae_store::User {
    db.records
        .users
        .create(aae_store::NewUser::new(subject, format!("{subject}@example.com")))
        .await
        .expect("create user")
}
