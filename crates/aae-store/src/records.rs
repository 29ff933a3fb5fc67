//! [`Records`]: the pool, the migrations and one `Arc<dyn …>` per aggregate, built from config.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aae_config::{Config, DatabaseConfig, DatabaseKind};
use aae_types::ServiceHealth;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::cache::{CachedConversations, SharedCache};
use crate::error::{StoreError, StoreErrorKind, StoreResult};
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{
    ApiKeyStore, AuthStore, CampaignStore, ConversationStore, CreditLedger, DocumentStore, FileStore, JobStore,
    PreferenceStore, UsageStore, UserStore,
};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite connection waits for another writer before failing as unavailable.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `database.pre_ping` pings a pooled connection before handing it out only when it sat idle at
/// least this long: one used a moment ago is known to be alive, and a round trip per query
/// would cost the busiest paths (a list request) a third of their database time.
const PRE_PING_IDLE: Duration = Duration::from_millis(50);

/// The SQLite file inside the data directory.
pub const SQLITE_FILE: &str = "aae.db";

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Every record store, on one connection pool.
#[derive(Clone)]
pub struct Records {
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Local credentials and refresh tokens.
    pub auth: Arc<dyn AuthStore>,
    /// API keys.
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// Model preferences.
    pub preferences: Arc<dyn PreferenceStore>,
    /// The credit ledger.
    pub credits: Arc<dyn CreditLedger>,
    /// Jobs and the job queue.
    pub jobs: Arc<dyn JobStore>,
    /// File metadata.
    pub files: Arc<dyn FileStore>,
    /// Campaigns.
    pub campaigns: Arc<dyn CampaignStore>,
    /// Documents and chunks.
    pub documents: Arc<dyn DocumentStore>,
    /// Conversations and messages.
    pub conversations: Arc<dyn ConversationStore>,
    /// The shared cache (Redis when configured; see [`Records::with_cache`]).
    pub cache: SharedCache,
    /// Usage records.
    pub usage: Arc<dyn UsageStore>,
    pub(crate) pool: Pool,
    kind: DatabaseKind,
    description: String,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").field("database", &self.description).finish_non_exhaustive()
    }
}

/// What [`Records::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    /// Engine name.
    pub engine: &'static str,
    /// Migrations applied by this run, as `NNNN_name`.
    pub applied: Vec<String>,
    /// Migrations this version knows.
    pub known: usize,
}

/// Connects ([`connect`]) and applies pending migrations: what start-up does.
pub async fn open(config: &DatabaseConfig, data_dir: &Path) -> StoreResult<Records> {
    let records = connect(config, data_dir).await?;
    records.migrate().await?;
    Ok(records)
}

/// Builds the pool for `config` (SQLite in `{data_dir}/aae.db` when `url` is empty, PostgreSQL
/// for `postgres://…`), opening one connection to prove the database answers. Applies no
/// migration. `Unavailable` when the database cannot be reached; `Invalid` for a bad URL. Errors
/// never contain the URL.
pub async fn connect(config: &DatabaseConfig, data_dir: &Path) -> StoreResult<Records> {
    let kind = config.kind().map_err(|scheme| {
        StoreError::invalid("database", format!("database.url scheme `{scheme}` is not supported"))
    })?;
    match kind {
        DatabaseKind::Sqlite => connect_sqlite(config, data_dir).await,
        DatabaseKind::Postgres => connect_postgres(config).await,
    }
}

impl Records {
    /// [`open`] with the `database` section and `data_dir` of `config`.
    pub async fn from_config(config: &Config) -> StoreResult<Self> {
        open(&config.database, &config.data_dir).await
    }

    /// What start-up does with the whole configuration: [`from_config`](Self::from_config), then
    /// the campaign backend `campaigns.backend` names. With `dynamodb`, `campaigns` is a
    /// [`DynamoCampaignStore`](crate::DynamoCampaignStore) on `campaigns.table` whose parts over
    /// DynamoDB's item limit go to `storage`'s campaign-outputs bucket; the table and its indexes
    /// are created first when `campaigns.create_table` is on.
    pub async fn open_config(config: &Config, storage: Option<Arc<aae_storage::StorageService>>) -> StoreResult<Self> {
        let records = Self::from_config(config).await?;
        match config.campaigns.backend {
            aae_config::CampaignBackendKind::Sql => Ok(records),
            #[cfg(feature = "dynamodb")]
            aae_config::CampaignBackendKind::Dynamodb => {
                let store = crate::DynamoCampaignStore::from_config(config, storage).await?;
                if config.campaigns.create_table {
                    store.ensure_table().await?;
                }
                Ok(records.with_campaigns(Arc::new(store)))
            }
            #[cfg(not(feature = "dynamodb"))]
            aae_config::CampaignBackendKind::Dynamodb => {
                let _ = storage;
                Err(StoreError::invalid(
                    "campaign",
                    "campaigns.backend = dynamodb needs aae-store's `dynamodb` feature",
                ))
            }
        }
    }

    /// The same records with `campaigns` replaced (e.g. by a DynamoDB table).
    pub fn with_campaigns(mut self, campaigns: Arc<dyn CampaignStore>) -> Self {
        self.campaigns = campaigns;
        self
    }

    /// The engine in use.
    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// Where the records are, without credentials, e.g. `postgres 10.0.0.5:5432/aae`.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Applies the migrations not applied yet, in order, each in its own transaction; a second
    /// run applies nothing. Concurrent runs on PostgreSQL wait on an advisory lock.
    pub async fn migrate(&self) -> StoreResult<MigrationReport> {
        let migrator = self.migrator();
        let before = self.applied_versions().await;
        let result = match &self.pool {
            Pool::Sqlite(pool) => migrator.run(pool).await,
            Pool::Postgres(pool) => migrator.run(pool).await,
        };
        result.map_err(|e| {
            StoreError::new(StoreErrorKind::Internal, "migration", format!("{e}")).with_id(self.kind.as_str())
        })?;
        let applied = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !before.contains(&m.version))
            .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
            .collect::<Vec<_>>();
        if !applied.is_empty() {
            tracing::info!(engine = self.kind.as_str(), applied = ?applied, "database migrations applied");
        }
        Ok(MigrationReport { engine: self.kind.as_str(), applied, known: migrator.iter().count() })
    }

    /// The `database` health line: a round trip through the pool and the migration state.
    pub async fn health(&self) -> ServiceHealth {
        let started = Instant::now();
        let probe = match &self.pool {
            Pool::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Pool::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        };
        let (healthy, detail) = match probe {
            Ok(()) => {
                let applied = self.applied_versions().await.len();
                let known = self.migrator().iter().count();
                let schema = if applied >= known {
                    format!("schema up to date ({applied} migrations)")
                } else {
                    format!("{} migrations pending; applied at start-up or by `aae db migrate`", known - applied)
                };
                (true, format!("{}: {schema}", self.description))
            }
            Err(error) => (false, format!("{}: {}", self.description, StoreError::from_sqlx("database", error))),
        };
        ServiceHealth {
            service: "database".into(),
            healthy,
            detail,
            latency_ms: started.elapsed().as_millis() as u64,
            last_check: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// Closes every connection; later calls fail as unavailable.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATOR,
            Pool::Postgres(_) => &POSTGRES_MIGRATOR,
        }
    }

    async fn applied_versions(&self) -> Vec<i64> {
        const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let versions = match &self.pool {
            Pool::Sqlite(pool) => sqlx::query_scalar::<_, i64>(SQL).fetch_all(pool).await,
            Pool::Postgres(pool) => sqlx::query_scalar::<_, i64>(SQL).fetch_all(pool).await,
        };
        versions.unwrap_or_default()
    }

    fn assemble<S>(store: Arc<S>, pool: Pool, kind: DatabaseKind, description: String) -> Self
    where
        S: UserStore
            + AuthStore
            + ApiKeyStore
            + PreferenceStore
            + CreditLedger
            + JobStore
            + FileStore
            + CampaignStore
            + DocumentStore
            + ConversationStore
            + UsageStore
            + 'static,
    {
        Self {
            users: store.clone(),
            auth: store.clone(),
            api_keys: store.clone(),
            preferences: store.clone(),
            credits: store.clone(),
            jobs: store.clone(),
            files: store.clone(),
            campaigns: store.clone(),
            documents: store.clone(),
            conversations: store.clone(),
            cache: SharedCache::disabled(),
            usage: store,
            pool,
            kind,
            description,
        }
    }
}

impl Records {
    /// Puts `cache` in front of the conversations (their messages are then cached in Redis,
    /// with the records as the source of truth) and keeps it for other users of the cache, such
    /// as rate limits.
    pub fn with_cache(mut self, cache: SharedCache) -> Self {
        if cache.status().enabled {
            self.conversations = Arc::new(CachedConversations::new(Arc::clone(&self.conversations), cache.clone()));
        }
        self.cache = cache;
        self
    }
}

fn optional_secs(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

fn unavailable(description: &str, error: sqlx::Error) -> StoreError {
    let error = StoreError::from_sqlx("database", error);
    StoreError::new(
        StoreErrorKind::Unavailable,
        "database",
        format!("cannot connect to {description}: {}", error.message),
    )
}

async fn connect_sqlite(config: &DatabaseConfig, data_dir: &Path) -> StoreResult<Records> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        StoreError::new(
            StoreErrorKind::Unavailable,
            "database",
            format!("cannot create data directory {}: {e}", data_dir.display()),
        )
    })?;
    let path: PathBuf = data_dir.join(SQLITE_FILE);
    let description = format!("sqlite {} (wal)", path.display());
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .max_lifetime(optional_secs(config.max_lifetime_secs))
        .idle_timeout(optional_secs(config.idle_timeout_secs))
        .test_before_acquire(false)
        .before_acquire(pre_ping_hook(config.pre_ping))
        .connect_with(options)
        .await
        .map_err(|e| unavailable(&description, e))?;
    let store = Arc::new(SqliteStore::new(pool.clone()));
    Ok(Records::assemble(store, Pool::Sqlite(pool), DatabaseKind::Sqlite, description))
}

/// What a pool's `before_acquire` hook returns.
type AcquireCheck<'c> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sqlx::Error>> + Send + 'c>>;

/// The pool's check before handing a connection out: with `pre_ping`, a connection idle for
/// [`PRE_PING_IDLE`] or more is pinged; a failed ping closes it and the pool tries another.
fn pre_ping_hook<C: sqlx::Connection>(
    pre_ping: bool,
) -> impl for<'c> Fn(&'c mut C, sqlx::pool::PoolConnectionMetadata) -> AcquireCheck<'c> + Send + Sync + 'static {
    move |connection, meta| {
        Box::pin(async move {
            if pre_ping && meta.idle_for >= PRE_PING_IDLE {
                connection.ping().await?;
            }
            Ok(true)
        })
    }
}

async fn connect_postgres(config: &DatabaseConfig) -> StoreResult<Records> {
    let options: PgConnectOptions = config.url.expose_secret().trim().parse().map_err(|e: sqlx::Error| {
        let reason = match e {
            sqlx::Error::Configuration(inner) => inner.to_string(),
            _ => "cannot be parsed".to_owned(),
        };
        StoreError::invalid("database", format!("database.url is not a valid PostgreSQL URL: {reason}"))
    })?;
    let options = options.application_name("aae");
    let description = format!(
        "postgres {}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    );
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .max_lifetime(optional_secs(config.max_lifetime_secs))
        .idle_timeout(optional_secs(config.idle_timeout_secs))
        .test_before_acquire(false)
        .before_acquire(pre_ping_hook(config.pre_ping))
        .connect_with(options)
        .await
        .map_err(|e| unavailable(&description, e))?;
    let store = Arc::new(PgStore::new(pool.clone()));
    Ok(Records::assemble(store, Pool::Postgres(pool), DatabaseKind::Postgres, description))
}
