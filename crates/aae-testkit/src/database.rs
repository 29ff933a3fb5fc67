//! [`TestDatabase`]: a fresh record database per test, on SQLite (a temporary data directory) or
//! on PostgreSQL (a uniquely named database on the shared server, dropped when the value drops,
//! even after a panic), so tests run in parallel. The server is `AAE_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test` (trust auth, as `scripts/test-servers.sh` sets up).

use std::path::{Path, PathBuf};

use aae_config::DatabaseConfig;
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Connection;

/// Names the PostgreSQL server (and a database on it to connect to) for tests.
pub const DATABASE_URL_ENV: &str = "AAE_TEST_DATABASE_URL";
/// Used when [`DATABASE_URL_ENV`] is unset.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which engine a [`TestDatabase`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `{data_dir}/aae.db`.
    Sqlite,
    /// A fresh database on the test server.
    Postgres,
}

/// A fresh, empty database (no migrations applied) and a data directory.
#[derive(Debug)]
pub struct TestDatabase {
    /// The engine.
    pub engine: Engine,
    /// The `database` config section that reaches it (empty URL for SQLite).
    pub config: DatabaseConfig,
    dir: tempfile::TempDir,
    pg_database: Option<String>,
}

/// The admin URL of the test PostgreSQL server.
pub fn admin_database_url() -> String {
    std::env::var(DATABASE_URL_ENV).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

impl TestDatabase {
    /// Creates the database (PostgreSQL) or the temporary data directory (both).
    pub async fn new(engine: Engine) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = DatabaseConfig { max_connections: 10, ..DatabaseConfig::default() };
        let mut pg_database = None;
        if engine == Engine::Postgres {
            let name = format!("aae_test_{}", uuid::Uuid::new_v4().simple());
            let admin = admin_database_url();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .with_context(|| format!("PostgreSQL is needed ({DATABASE_URL_ENV}); run scripts/test-servers.sh"))?;
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
            conn.close().await.ok();
            let mut url = url::Url::parse(&admin).context("AAE_TEST_DATABASE_URL is not a URL")?;
            url.set_path(&format!("/{name}"));
            config.url = SecretString::from(url.to_string());
            pg_database = Some(name);
        }
        Ok(Self { engine, config, dir, pg_database })
    }

    /// The data directory (holds `aae.db` on SQLite).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PostgreSQL URL, for `AAE__DATABASE__URL` of a child process; `None` on SQLite.
    pub fn url(&self) -> Option<String> {
        self.pg_database.as_ref().map(|_| self.config.url.expose_secret().to_owned())
    }

    /// The environment a child `aae` process needs to reach this database.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("AAE__DATA_DIR".to_owned(), self.data_dir().display().to_string())];
        if let Some(url) = self.url() {
            env.push(("AAE__DATABASE__URL".to_owned(), url));
        }
        env
    }

    /// The SQLite file, when the engine is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        (self.engine == Engine::Sqlite).then(|| self.dir.path().join("aae.db"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.pg_database.take() else { return };
        // Drop may run inside a runtime; use a thread with its own to run the async drop.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_database_url()).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
                }
            });
        })
        .join();
    }
}
