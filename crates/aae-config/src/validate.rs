//! Cross-field validation and the configuration error type.

use aae_types::BucketPurpose;
use secrecy::ExposeSecret;

use crate::model::{BucketLocation, Config, DatabaseConfig, RedisConfig, SseKind, StorageBackendKind};

/// A configuration error. Every variant names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// One or more values could not be parsed (unknown key, wrong type, unknown variant).
    #[error("invalid configuration:\n{}", .0.join("\n"))]
    Parse(Vec<String>),
    /// A value parsed but breaks a rule.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// Dotted key, e.g. `storage.s3.kms_key_id`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn from_figment(error: figment::Error) -> Self {
        let lines = error
            .into_iter()
            .map(|e| {
                let key = e.path.join(".");
                let source = e
                    .metadata
                    .as_ref()
                    .map(|m| match &m.source {
                        Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
                        _ if m.name.contains("environment") => {
                            let env = format!("AAE__{}", e.path.join("__").to_ascii_uppercase());
                            format!(" (from environment variable {env})")
                        }
                        _ => format!(" (from {})", m.name),
                    })
                    .unwrap_or_default();
                let kind = describe_kind(&e.kind);
                if key.is_empty() { format!("  {kind}{source}") } else { format!("  {key}: {kind}{source}") }
            })
            .collect();
        ConfigError::Parse(lines)
    }

    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid { key: key.into(), message: message.into() }
    }
}

fn describe_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::UnknownField(field, expected) => {
            format!("unknown key `{field}`; allowed keys: {}", expected.join(", "))
        }
        Kind::UnknownVariant(found, expected) => {
            format!("invalid value `{found}`; allowed values: {}", expected.join(", "))
        }
        other => other.to_string(),
    }
}

impl Config {
    /// Checks the rules that span several keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty; default is ./aae-data"));
        }
        if self.server.port == 0 {
            return Err(ConfigError::invalid("server.port", "must be between 1 and 65535"));
        }
        if let Some(url) = &self.server.public_url {
            let parsed = url::Url::parse(url).map_err(|e| {
                ConfigError::invalid(
                    "server.public_url",
                    format!("`{url}` is not a URL ({e}); example: https://aae.example.com"),
                )
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::invalid("server.public_url", "must start with http:// or https://"));
            }
        }
        let storage = &self.storage;
        for purpose in BucketPurpose::ALL {
            self.bucket(purpose)?;
        }
        let s3 = &storage.s3;
        if s3.sse == Some(SseKind::AwsKms) && s3.kms_key_id.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::invalid(
                "storage.s3.kms_key_id",
                "is required when storage.s3.sse = \"aws:kms\"; set AAE__STORAGE__S3__KMS_KEY_ID",
            ));
        }
        if s3.kms_key_id.is_some() && s3.sse != Some(SseKind::AwsKms) {
            return Err(ConfigError::invalid(
                "storage.s3.kms_key_id",
                "is only used with storage.s3.sse = \"aws:kms\"; set AAE__STORAGE__S3__SSE=aws:kms or remove it",
            ));
        }
        for (key, value) in [("storage.s3.endpoint", &s3.endpoint), ("aws.endpoint_url", &self.aws.endpoint_url)] {
            if let Some(value) = value {
                url::Url::parse(value).map_err(|e| {
                    ConfigError::invalid(key, format!("`{value}` is not a URL ({e}); example: http://127.0.0.1:9000"))
                })?;
            }
        }
        let cdn = &storage.cdn;
        if let Some(domain) = &cdn.domain
            && (domain.is_empty() || domain.contains("://") || domain.contains('/'))
        {
            return Err(ConfigError::invalid(
                "storage.cdn.domain",
                format!("`{domain}` must be a bare host name such as d111111abcdef8.cloudfront.net"),
            ));
        }
        match (&cdn.key_pair_id, &cdn.private_key_path) {
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "storage.cdn.private_key_path",
                    "is required with storage.cdn.key_pair_id",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "storage.cdn.key_pair_id",
                    "is required with storage.cdn.private_key_path",
                ));
            }
            (Some(_), Some(_)) if cdn.domain.is_none() => {
                return Err(ConfigError::invalid("storage.cdn.domain", "is required for CloudFront signed URLs"));
            }
            _ => {}
        }
        let multipart = &storage.multipart;
        if multipart.part_size_mib < 5 || multipart.part_size_mib > 5 * 1024 {
            return Err(ConfigError::invalid(
                "storage.multipart.part_size_mib",
                "must be between 5 and 5120 (S3 part limits)",
            ));
        }
        if multipart.concurrency == 0 || multipart.concurrency > 256 {
            return Err(ConfigError::invalid("storage.multipart.concurrency", "must be between 1 and 256"));
        }
        if storage.retry.max_backoff_ms < storage.retry.initial_backoff_ms {
            return Err(ConfigError::invalid(
                "storage.retry.max_backoff_ms",
                "must be at least storage.retry.initial_backoff_ms",
            ));
        }
        if storage.retry.request_timeout_secs == 0 || storage.retry.connect_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "storage.retry.request_timeout_secs",
                "timeouts must be at least 1 second",
            ));
        }
        self.validate_database()?;
        self.validate_records()?;
        self.mcp.validate()?;
        self.validate_models()?;
        crate::api::validate_api(&self.auth, &self.cors, &self.rate_limits)?;
        crate::api::validate_gateway(&self.gateway)?;
        if self.server.request_timeout_secs == 0 || self.server.json_body_limit_kib == 0 {
            return Err(ConfigError::invalid(
                "server.request_timeout_secs",
                "server.request_timeout_secs and server.json_body_limit_kib must be at least 1",
            ));
        }
        if storage.dual_write.secondary == Some(storage.backend) && storage.backend != StorageBackendKind::Memory {
            return Err(ConfigError::invalid(
                "storage.dual_write.secondary",
                format!("must differ from storage.backend (`{}`)", storage.backend.as_str()),
            ));
        }
        Ok(())
    }

    fn validate_database(&self) -> Result<(), ConfigError> {
        let database = &self.database;
        if let Err(scheme) = database.kind() {
            let shown = if scheme.is_empty() { "no scheme".to_owned() } else { format!("scheme `{scheme}`") };
            return Err(ConfigError::invalid(
                "database.url",
                format!(
                    "{shown} is not supported; allowed schemes: {} (e.g. postgres://user:password@host:5432/aae), \
                     or leave it empty for SQLite in {{data_dir}}/aae.db",
                    DatabaseConfig::SCHEMES.map(|s| format!("{s}://")).join(", ")
                ),
            ));
        }
        if database.max_connections == 0 || database.max_connections > 10_000 {
            return Err(ConfigError::invalid("database.max_connections", "must be between 1 and 10000"));
        }
        if database.min_connections > database.max_connections {
            return Err(ConfigError::invalid(
                "database.min_connections",
                format!("must not exceed database.max_connections ({})", database.max_connections),
            ));
        }
        if database.acquire_timeout_secs == 0 {
            return Err(ConfigError::invalid("database.acquire_timeout_secs", "must be at least 1 second"));
        }
        Ok(())
    }

    fn validate_records(&self) -> Result<(), ConfigError> {
        if let Err(why) = check_table_name(&self.campaigns_table()) {
            return Err(ConfigError::invalid("campaigns.table", format!("`{}` {why}", self.campaigns_table())));
        }
        let hold = self.campaigns.credit_hold;
        if !(0.0..=1_000_000.0).contains(&hold) {
            return Err(ConfigError::invalid(
                "campaigns.credit_hold",
                format!("{hold} is not a credit amount; use a number of credits from 0 (no hold) to 1000000"),
            ));
        }
        let redis = &self.redis;
        if redis.enabled() {
            let url = redis.url.expose_secret().trim();
            let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
            if !RedisConfig::SCHEMES.contains(&scheme) {
                let shown = if scheme.is_empty() { "no scheme".to_owned() } else { format!("scheme `{scheme}`") };
                return Err(ConfigError::invalid(
                    "redis.url",
                    format!("{shown} is not supported; use redis://host:6379 or rediss://host:6379, or leave it empty"),
                ));
            }
        }
        if redis.timeout_ms == 0 || redis.retry_secs == 0 {
            return Err(ConfigError::invalid(
                "redis.timeout_ms",
                "redis.timeout_ms and redis.retry_secs must be at least 1",
            ));
        }
        let jobs = &self.jobs;
        if jobs.lease_secs == 0 {
            return Err(ConfigError::invalid("jobs.lease_secs", "must be at least 1 second"));
        }
        if jobs.heartbeat_secs == 0 || jobs.heartbeat_secs >= jobs.lease_secs {
            return Err(ConfigError::invalid(
                "jobs.heartbeat_secs",
                format!("must be at least 1 and less than jobs.lease_secs ({})", jobs.lease_secs),
            ));
        }
        if jobs.max_attempts == 0 {
            return Err(ConfigError::invalid("jobs.max_attempts", "must be at least 1"));
        }
        if jobs.poll_interval_ms == 0 {
            return Err(ConfigError::invalid("jobs.poll_interval_ms", "must be at least 1"));
        }
        if jobs.backoff_max_secs < jobs.backoff_initial_secs {
            return Err(ConfigError::invalid("jobs.backoff_max_secs", "must be at least jobs.backoff_initial_secs"));
        }
        Ok(())
    }

    /// The DynamoDB table of campaign records: `campaigns.table`, or `{env-prefix}aae-campaigns`.
    pub fn campaigns_table(&self) -> String {
        match self.campaigns.table.trim() {
            "" => format!("{}aae-campaigns", self.environment.prefix()),
            table => table.to_owned(),
        }
    }

    /// Resolves a logical bucket to its physical name and prefix.
    pub fn bucket(&self, purpose: BucketPurpose) -> Result<BucketLocation, ConfigError> {
        let key = format!("storage.buckets.{}", purpose.as_str());
        let (name, prefix) = match self.storage.buckets.get(purpose) {
            Some(spec) => {
                let (name, prefix) = spec.split_once('/').unwrap_or((spec, ""));
                (name.to_owned(), prefix.trim_matches('/').to_owned())
            }
            None => (purpose.default_bucket_name(self.environment), String::new()),
        };
        if let Err(why) = check_bucket_name(&name) {
            return Err(ConfigError::invalid(&key, format!("bucket name `{name}` {why}; format is name[/prefix]")));
        }
        if prefix.split('/').any(|s| s == "..") || prefix.chars().any(char::is_control) {
            return Err(ConfigError::invalid(
                &key,
                format!("prefix `{prefix}` may not contain `..` or control characters"),
            ));
        }
        Ok(BucketLocation { purpose, name, prefix })
    }
}

/// S3's bucket naming rules (also valid for GCS and as directory names).
pub(crate) fn check_bucket_name(name: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3 to 63 characters long");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
        return Err("may contain only lowercase letters, digits, `-` and `.`");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return Err("may not contain two adjacent dots");
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// DynamoDB's table name rule: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn check_table_name(name: &str) -> Result<(), &'static str> {
    if !(3..=255).contains(&name.len()) {
        return Err("must be 3 to 255 characters long");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err("may contain only letters, digits, `_`, `-` and `.`");
    }
    Ok(())
}
