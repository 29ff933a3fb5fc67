//! The configuration tree. Every struct denies unknown fields and has defaults for every key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aae_types::{BucketPurpose, Environment};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::api::{AuthConfig, CorsConfig, GatewayConfig, RateLimitsConfig};
use crate::mcp::McpConfig;
use crate::providers::{ModelPrice, ModelsConfig, ProvidersConfig, RouterConfig, default_prices};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `development` (default) | `staging` | `production`; gives resource prefixes `dev-` | `staging-` | `prod-`.
    pub environment: Environment,
    /// Directory holding everything the embedded defaults keep: local objects, the SQLite file,
    /// model weights, generated secrets. Default `./aae-data`.
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// The HTTP server of `aae serve`.
    pub server: ServerConfig,
    /// AWS settings that complement the standard AWS variables.
    pub aws: AwsConfig,
    /// Object storage.
    pub storage: StorageConfig,
    /// The record store (SQLite by default, PostgreSQL when `url` is `postgres://…`).
    pub database: DatabaseConfig,
    /// Where campaign records live (seed 003): the record store, or a DynamoDB table.
    pub campaigns: CampaignsConfig,
    /// Redis as a shared cache (optional; seed 000 "Redis failover").
    pub redis: RedisConfig,
    /// The job queue's workers.
    pub jobs: JobsConfig,
    /// Model providers.
    pub providers: ProvidersConfig,
    /// The embedded local models.
    pub models: ModelsConfig,
    /// The model router: timeouts, retries, limits, breaker, fallbacks.
    pub router: RouterConfig,
    /// Prices per `provider/model`, in credits (see [`ModelPrice`]).
    pub prices: BTreeMap<String, ModelPrice>,
    /// MCP servers whose tools the agents are offered.
    pub mcp: McpConfig,
    /// How API callers authenticate: local accounts or a Cognito user pool.
    pub auth: AuthConfig,
    /// Browser origins allowed to call the API.
    pub cors: CorsConfig,
    /// Per-user, per-route request limits of the API.
    pub rate_limits: RateLimitsConfig,
    /// The OpenAI-compatible gateway's credit blocks and key cache.
    pub gateway: GatewayConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            environment: Environment::Development,
            data_dir: PathBuf::from("./aae-data"),
            log: LogConfig::default(),
            server: ServerConfig::default(),
            aws: AwsConfig::default(),
            storage: StorageConfig::default(),
            database: DatabaseConfig::default(),
            campaigns: CampaignsConfig::default(),
            redis: RedisConfig::default(),
            jobs: JobsConfig::default(),
            providers: ProvidersConfig::default(),
            models: ModelsConfig::default(),
            router: RouterConfig::default(),
            prices: default_prices(),
            mcp: McpConfig::default(),
            auth: AuthConfig::default(),
            cors: CorsConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            gateway: GatewayConfig::default(),
        }
    }
}

/// Log output settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `aae_storage=debug,info`.
    pub level: String,
    /// `text` (default) or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: LogFormat::Text }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind; default `127.0.0.1`.
    pub host: String,
    /// Port to bind; default `8080`.
    pub port: u16,
    /// Base URL clients use to reach this server; the base of local signed file URLs.
    /// Default `http://{host}:{port}`.
    pub public_url: Option<String>,
    /// Secret for HMAC-signed local file URLs. Default: a random key generated once and kept in
    /// `{data_dir}/secrets/url-signing.key`.
    #[serde(serialize_with = "redact_opt")]
    pub url_signing_secret: Option<SecretString>,
    /// Seconds a request may take before it is answered 408 (streams and uploads excepted).
    pub request_timeout_secs: u64,
    /// Largest JSON request body, in KiB.
    pub json_body_limit_kib: usize,
    /// Largest upload through a local signed URL, in MiB.
    pub upload_body_limit_mib: usize,
    /// Whether `aae serve` runs job workers in its own process (`--no-workers` turns them off).
    pub workers: bool,
    /// Seconds `aae serve` waits at shutdown for in-flight requests and running jobs before it
    /// hands the jobs' leases back.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            public_url: None,
            url_signing_secret: None,
            request_timeout_secs: 30,
            json_body_limit_kib: 1024,
            upload_body_limit_mib: 5 * 1024,
            workers: true,
            shutdown_grace_secs: 30,
        }
    }
}

impl ServerConfig {
    /// The public base URL without a trailing slash.
    pub fn public_base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}:{}", self.host, self.port),
        }
    }
}

/// AWS settings. Credentials are never configured here: they come from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_PROFILE`, web identity, SSO or instance
/// metadata through the AWS credential chain.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Region; default from `AWS_REGION` / the profile, else `us-east-1`.
    pub region: Option<String>,
    /// Endpoint for every AWS service; default from `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Named profile; default from `AWS_PROFILE`.
    pub profile: Option<String>,
}

/// Which object store holds the buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackendKind {
    /// Files under `{data_dir}/storage` (default).
    Local,
    /// Amazon S3 or any S3-compatible endpoint.
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Process memory; lost on exit. For tests and demos.
    Memory,
}

impl StorageBackendKind {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::S3 => "s3",
            Self::Gcs => "gcs",
            Self::Memory => "memory",
        }
    }
}

/// Object storage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `local` (default) | `s3` | `gcs` | `memory`.
    pub backend: StorageBackendKind,
    /// Create missing buckets at start-up and before writes (seed 003 "Create S3 Bucket (Optional)").
    pub create_buckets: bool,
    /// Per-purpose overrides `name[/prefix]`; default `{env-prefix}aae-{purpose}`.
    pub buckets: BucketOverrides,
    /// S3 settings.
    pub s3: S3Config,
    /// GCS settings.
    pub gcs: GcsConfig,
    /// CloudFront / CDN settings.
    pub cdn: CdnConfig,
    /// Retry policy for retryable failures.
    pub retry: RetryConfig,
    /// Circuit breaker per backend.
    pub circuit_breaker: CircuitBreakerConfig,
    /// Multipart upload tuning.
    pub multipart: MultipartConfig,
    /// Dual-write mode (seed 002 "Phase 2").
    pub dual_write: DualWriteConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackendKind::Local,
            create_buckets: false,
            buckets: BucketOverrides::default(),
            s3: S3Config::default(),
            gcs: GcsConfig::default(),
            cdn: CdnConfig::default(),
            retry: RetryConfig::default(),
            circuit_breaker: CircuitBreakerConfig::default(),
            multipart: MultipartConfig::default(),
            dual_write: DualWriteConfig::default(),
        }
    }
}

/// `AAE__STORAGE__BUCKETS__<PURPOSE>=name[/prefix]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct BucketOverrides {
    pub creatives: Option<String>,
    pub landing_pages: Option<String>,
    pub exports: Option<String>,
    pub uploads: Option<String>,
    pub videos: Option<String>,
    pub code: Option<String>,
    pub thumbnails: Option<String>,
    pub temp: Option<String>,
    pub campaign_outputs: Option<String>,
    pub documents: Option<String>,
}

impl BucketOverrides {
    /// The override for `purpose`, if any.
    pub fn get(&self, purpose: BucketPurpose) -> Option<&str> {
        match purpose {
            BucketPurpose::Creatives => self.creatives.as_deref(),
            BucketPurpose::LandingPages => self.landing_pages.as_deref(),
            BucketPurpose::Exports => self.exports.as_deref(),
            BucketPurpose::Uploads => self.uploads.as_deref(),
            BucketPurpose::Videos => self.videos.as_deref(),
            BucketPurpose::Code => self.code.as_deref(),
            BucketPurpose::Thumbnails => self.thumbnails.as_deref(),
            BucketPurpose::Temp => self.temp.as_deref(),
            BucketPurpose::CampaignOutputs => self.campaign_outputs.as_deref(),
            BucketPurpose::Documents => self.documents.as_deref(),
        }
    }
}

/// A logical bucket resolved to its physical name and optional key prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct BucketLocation {
    /// The logical purpose.
    pub purpose: BucketPurpose,
    /// The physical bucket name.
    pub name: String,
    /// A key prefix inside the bucket (no leading or trailing slash), possibly empty.
    pub prefix: String,
}

/// Server-side encryption for S3 objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SseKind {
    /// SSE-S3.
    #[serde(rename = "AES256")]
    Aes256,
    /// SSE-KMS with `kms_key_id`.
    #[serde(rename = "aws:kms")]
    AwsKms,
}

/// S3 settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Endpoint of an S3-compatible server; default `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, or AWS.
    pub endpoint: Option<String>,
    /// Region; default the `aws.region` / AWS chain region.
    pub region: Option<String>,
    /// Address buckets as `{endpoint}/{bucket}` rather than `{bucket}.{endpoint}`.
    pub force_path_style: bool,
    /// `AES256` | `aws:kms`.
    pub sse: Option<SseKind>,
    /// KMS key for `sse = "aws:kms"`.
    pub kms_key_id: Option<String>,
}

/// GCS settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcsConfig {
    /// Service-account JSON key; default `GOOGLE_APPLICATION_CREDENTIALS`. Needed for signed URLs.
    /// An emulator endpoint goes in the key file's `gcs_base_url` field.
    pub service_account_path: Option<PathBuf>,
}

/// CDN settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CdnConfig {
    /// CloudFront (or other CDN) domain: CDN URLs are `https://{domain}/{key}`.
    pub domain: Option<String>,
    /// CloudFront key-pair / public-key id for signed URLs.
    pub key_pair_id: Option<String>,
    /// PEM RSA private key of that key pair.
    pub private_key_path: Option<PathBuf>,
}

/// Retry policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff, doubled each retry, with full jitter.
    pub initial_backoff_ms: u64,
    /// Cap on one backoff.
    pub max_backoff_ms: u64,
    /// Cap on the total time spent retrying one operation.
    pub retry_timeout_secs: u64,
    /// Timeout of one request.
    pub request_timeout_secs: u64,
    /// Timeout to connect.
    pub connect_timeout_secs: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff_ms: 100,
            max_backoff_ms: 5_000,
            retry_timeout_secs: 60,
            request_timeout_secs: 300,
            connect_timeout_secs: 5,
        }
    }
}

/// Circuit breaker.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures (after retries) that open the breaker; 0 disables it.
    pub failure_threshold: u32,
    /// Seconds the breaker stays open before letting one trial request through.
    pub cooldown_secs: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self { failure_threshold: 5, cooldown_secs: 30 }
    }
}

/// Multipart upload tuning.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultipartConfig {
    /// Files at or above this many MiB are uploaded in parts (seed 002 uses 25 MiB).
    pub threshold_mib: u64,
    /// Part size in MiB (S3 needs at least 5).
    pub part_size_mib: u64,
    /// Parts in flight at once.
    pub concurrency: usize,
}

impl Default for MultipartConfig {
    fn default() -> Self {
        Self { threshold_mib: 25, part_size_mib: 8, concurrency: 8 }
    }
}

/// Dual-write mode.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DualWriteConfig {
    /// When set, every write also goes to this backend, and reads missing on the primary fall back
    /// to it. It uses the same per-backend settings as the primary.
    pub secondary: Option<StorageBackendKind>,
}

/// The record store and its connection pool (seed 002 "RDS Connection Management": pool size,
/// pre-ping, recycle).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Empty (default): SQLite in `{data_dir}/aae.db`. `postgres://user:password@host:5432/db`
    /// (or `postgresql://`): PostgreSQL. Secret, because it may carry a password.
    #[serde(serialize_with = "redact")]
    pub url: SecretString,
    /// Most connections the pool keeps open.
    pub max_connections: u32,
    /// Connections the pool keeps open even when idle.
    pub min_connections: u32,
    /// Seconds to wait for a free connection before failing as unavailable.
    pub acquire_timeout_secs: u64,
    /// Seconds after which a connection is closed and replaced (recycle); 0 keeps it forever.
    pub max_lifetime_secs: u64,
    /// Seconds an idle connection above `min_connections` is kept; 0 keeps it forever.
    pub idle_timeout_secs: u64,
    /// Check a connection that sat idle (50 ms or more) with a round trip before handing it out,
    /// so a connection the server dropped is replaced instead of failing the caller.
    pub pre_ping: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from(""),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout_secs: 30,
            max_lifetime_secs: 3600,
            idle_timeout_secs: 600,
            pre_ping: true,
        }
    }
}

/// The engine a [`DatabaseConfig`] selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// SQLite in `{data_dir}/aae.db` (empty `url`).
    Sqlite,
    /// PostgreSQL (`postgres://` or `postgresql://`).
    Postgres,
}

impl DatabaseKind {
    /// The name shown in health lines and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl DatabaseConfig {
    /// The URL schemes `url` accepts (an empty `url` selects SQLite).
    pub const SCHEMES: [&'static str; 2] = ["postgres", "postgresql"];

    /// The engine `url` selects, or `Err(scheme)` naming the unsupported scheme (never the whole
    /// URL, which may hold a password).
    pub fn kind(&self) -> Result<DatabaseKind, String> {
        let url = self.url.expose_secret().trim();
        if url.is_empty() {
            return Ok(DatabaseKind::Sqlite);
        }
        let scheme = url.split_once("://").map(|(scheme, _)| scheme).unwrap_or("");
        if Self::SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
            Ok(DatabaseKind::Postgres)
        } else {
            Err(scheme.chars().take(32).collect())
        }
    }
}

pub(crate) fn redact<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    if secret.expose_secret().is_empty() { s.serialize_str("") } else { s.serialize_str("[redacted]") }
}

pub(crate) fn redact_opt<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(value) if !value.expose_secret().is_empty() => s.serialize_str("[redacted]"),
        _ => s.serialize_none(),
    }
}

/// The backend of campaign records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignBackendKind {
    /// The record store (SQLite or PostgreSQL, as `database.url` says). Default.
    #[default]
    Sql,
    /// A DynamoDB table with `user_campaigns_index` and `status_created_index` (seed 003).
    Dynamodb,
}

impl CampaignBackendKind {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sql => "sql",
            Self::Dynamodb => "dynamodb",
        }
    }
}

/// Campaign records (seed 003 "DynamoDB Table Design") and campaign runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignsConfig {
    /// `sql` (default) or `dynamodb`.
    pub backend: CampaignBackendKind,
    /// DynamoDB table name; empty means `{env-prefix}aae-campaigns` (see [`Config::campaigns_table`]).
    /// The endpoint comes from the AWS chain (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`).
    pub table: String,
    /// Create the table and both GSIs when missing, at start-up and by `aae db migrate`.
    pub create_table: bool,
    /// Credits held from the paying user's balance before each campaign run (1.0 by default),
    /// so a campaign never starts that the user cannot pay for; when the run ends its actual
    /// cost (model calls and generated assets, at most the hold) is captured and the rest
    /// released. 0 holds nothing. Campaigns without a paying user (the CLI's) hold nothing.
    pub credit_hold: f64,
}

impl Default for CampaignsConfig {
    fn default() -> Self {
        Self { backend: CampaignBackendKind::default(), table: String::new(), create_table: false, credit_hold: 1.0 }
    }
}

/// Redis, used as a shared cache for conversation state and rate-limit counters across server
/// instances. Optional: with no URL, or while Redis is down, everything works from the database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Empty (default): no Redis. `redis://[:password@]host:6379[/db]` or `rediss://…` (TLS).
    /// Secret, because it may carry a password.
    #[serde(serialize_with = "redact")]
    pub url: SecretString,
    /// Prefix of every key AAE writes.
    pub key_prefix: String,
    /// Milliseconds to wait for a connection or a reply before treating Redis as down.
    pub timeout_ms: u64,
    /// Seconds between reconnection attempts while Redis is down.
    pub retry_secs: u64,
    /// Seconds cached conversation state lives without being touched.
    pub ttl_secs: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from(""),
            key_prefix: "aae:".to_owned(),
            timeout_ms: 500,
            retry_secs: 5,
            ttl_secs: 86_400,
        }
    }
}

impl RedisConfig {
    /// The URL schemes `url` accepts (an empty `url` disables Redis).
    pub const SCHEMES: [&'static str; 2] = ["redis", "rediss"];

    /// Whether a URL is set.
    pub fn enabled(&self) -> bool {
        !self.url.expose_secret().trim().is_empty()
    }
}

/// The job queue's workers (seed 002 job service).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Jobs one process runs at once (0: run no worker in `aae serve`).
    pub concurrency: u32,
    /// Seconds a lease lasts; a job whose worker stops heartbeating is leased again after this.
    pub lease_secs: u64,
    /// Seconds between heartbeats; must be less than `lease_secs`.
    pub heartbeat_secs: u64,
    /// Milliseconds an idle worker waits before polling the queue again.
    pub poll_interval_ms: u64,
    /// Attempts before a job is `failed` (new jobs; a job may set its own).
    pub max_attempts: u32,
    /// Seconds before the first retry; doubles per attempt.
    pub backoff_initial_secs: u64,
    /// Longest wait between retries, in seconds.
    pub backoff_max_secs: u64,
    /// At most this many jobs a worker leases ahead of its free slots, so a slot that frees up
    /// starts its next job without a round trip. Only short jobs are leased ahead (enough to feed
    /// the slots for 100 ms at the observed rate); 0 turns it off.
    pub lease_ahead: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease_secs: 60,
            heartbeat_secs: 15,
            poll_interval_ms: 500,
            max_attempts: 3,
            backoff_initial_secs: 5,
            backoff_max_secs: 600,
            lease_ahead: 256,
        }
    }
}
