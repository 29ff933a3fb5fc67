//! The HTTP API's sections (issue 6): `auth` (local accounts or a Cognito user pool), `cors` and
//! `rate_limits`.
//!
//! ```toml
//! [auth]
//! mode = "local"                     # or "cognito"
//! access_token_ttl_secs = 900
//! refresh_token_ttl_secs = 2592000
//!
//! [auth.cognito]
//! region = "ca-central-1"
//! user_pool_id = "ca-central-1_AbCdEf123"
//! client_ids = ["4l1k…"]
//! admin_group = "admin"
//!
//! [cors]
//! origins = ["https://app.example.com"]
//!
//! [rate_limits]
//! requests_per_minute = 600
//! burst = 120
//! [rate_limits.routes.chat]
//! requests_per_minute = 60
//! burst = 10
//! ```

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::model::redact_opt;
use crate::providers::list_or_csv;
use crate::validate::ConfigError;

/// How callers authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// AAE's own accounts: Argon2id password hashes, HS256 access tokens, revocable refresh
    /// tokens (default).
    #[default]
    Local,
    /// Tokens issued by an Amazon Cognito user pool (RS256, checked against the pool's JWKS).
    Cognito,
}

impl AuthMode {
    /// The configured spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Cognito => "cognito",
        }
    }
}

/// Authentication.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `local` (default) or `cognito`.
    pub mode: AuthMode,
    /// HMAC key of local access tokens (at least 32 characters). Default: a random key generated
    /// once into `{data_dir}/secrets/jwt.key`. Secret.
    #[serde(serialize_with = "redact_opt")]
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of a local access token, in seconds (60 to 86,400; default 900).
    pub access_token_ttl_secs: u64,
    /// Lifetime of a local refresh token, in seconds (default 30 days).
    pub refresh_token_ttl_secs: u64,
    /// The `iss` of local access tokens.
    pub issuer: String,
    /// Whether `POST /api/v1/auth/register` creates accounts (local mode).
    pub allow_registration: bool,
    /// Minimum password length for local accounts (8 to 128).
    pub min_password_length: usize,
    /// The Cognito user pool (`mode = "cognito"`).
    pub cognito: CognitoConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Local,
            jwt_secret: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            issuer: "aae".into(),
            allow_registration: true,
            min_password_length: 8,
            cognito: CognitoConfig::default(),
        }
    }
}

/// An Amazon Cognito user pool whose tokens the API accepts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CognitoConfig {
    /// The pool's region; default `aws.region`, else the region in `user_pool_id`.
    pub region: Option<String>,
    /// The pool id, e.g. `ca-central-1_AbCdEf123`.
    pub user_pool_id: String,
    /// App client ids whose tokens are accepted (the `aud` of ID tokens, the `client_id` of
    /// access tokens), as a list or comma-separated.
    #[serde(deserialize_with = "list_or_csv")]
    pub client_ids: Vec<String>,
    /// The expected `iss`; default `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}`.
    pub issuer: Option<String>,
    /// Where the signing keys are; default `{issuer}/.well-known/jwks.json`. Set apart from the
    /// issuer for a local stand-in whose tokens name the real AWS host.
    pub jwks_url: Option<String>,
    /// Members of this Cognito group (`cognito:groups`) are AAE admins.
    pub admin_group: String,
    /// Fewest seconds between two JWKS downloads triggered by an unknown `kid`.
    pub jwks_min_refresh_secs: u64,
}

impl Default for CognitoConfig {
    fn default() -> Self {
        Self {
            region: None,
            user_pool_id: String::new(),
            client_ids: Vec::new(),
            issuer: None,
            jwks_url: None,
            admin_group: "admin".into(),
            jwks_min_refresh_secs: 30,
        }
    }
}

impl CognitoConfig {
    /// The pool's region: `region`, else the part of `user_pool_id` before `_`.
    pub fn pool_region(&self, fallback: Option<&str>) -> String {
        self.region
            .clone()
            .or_else(|| fallback.map(str::to_owned))
            .or_else(|| self.user_pool_id.split_once('_').map(|(region, _)| region.to_owned()))
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// The expected `iss` of the pool's tokens.
    pub fn expected_issuer(&self, fallback_region: Option<&str>) -> String {
        match &self.issuer {
            Some(issuer) => issuer.trim_end_matches('/').to_owned(),
            None => {
                format!("https://cognito-idp.{}.amazonaws.com/{}", self.pool_region(fallback_region), self.user_pool_id)
            }
        }
    }

    /// Where the pool's JWKS is.
    pub fn jwks(&self, fallback_region: Option<&str>) -> String {
        match &self.jwks_url {
            Some(url) => url.clone(),
            None => format!("{}/.well-known/jwks.json", self.expected_issuer(fallback_region)),
        }
    }
}

/// Cross-origin requests from browsers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins allowed to call the API from a browser, as a list or comma-separated
    /// (`https://app.example.com`); `*` allows any. Empty (default): no cross-origin access.
    #[serde(deserialize_with = "list_or_csv")]
    pub origins: Vec<String>,
    /// How long browsers may cache a preflight answer, in seconds.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self { origins: Vec::new(), max_age_secs: 600 }
    }
}

/// The route groups that have their own rate limit.
pub const RATE_LIMIT_GROUPS: &[&str] = &["auth", "chat", "campaigns", "files", "admin", "gateway"];

/// Per-user (per-address before sign-in) token buckets, shared through Redis when `redis.url`
/// is set.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Whether requests are limited at all.
    pub enabled: bool,
    /// Sustained rate of every route without a limit of its own, per user.
    pub requests_per_minute: u32,
    /// Requests allowed at once above the sustained rate (the bucket's size).
    pub burst: u32,
    /// Limits of route groups (`auth`, `chat`, `campaigns`, `files`, `admin`, `gateway` for the
    /// OpenAI-compatible `/v1/*` routes), each counted apart.
    pub routes: BTreeMap<String, RouteLimit>,
}

/// One route group's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteLimit {
    /// Sustained rate.
    pub requests_per_minute: u32,
    /// Bucket size.
    pub burst: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        let routes = [
            // Sign-in and registration, per client address: slows password guessing.
            ("auth", RouteLimit { requests_per_minute: 30, burst: 10 }),
            ("chat", RouteLimit { requests_per_minute: 120, burst: 20 }),
            ("campaigns", RouteLimit { requests_per_minute: 60, burst: 20 }),
            ("gateway", RouteLimit { requests_per_minute: 600, burst: 100 }),
        ];
        Self {
            enabled: true,
            requests_per_minute: 1200,
            burst: 240,
            routes: routes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

impl RateLimitsConfig {
    /// The limit of `group`: its own, else the default.
    pub fn limit(&self, group: &str) -> RouteLimit {
        self.routes
            .get(group)
            .copied()
            .unwrap_or(RouteLimit { requests_per_minute: self.requests_per_minute, burst: self.burst })
    }
}

/// The OpenAI-compatible gateway (`/v1/chat/completions`, `/v1/models`, `/v1/embeddings`).
///
/// Credits are reserved in blocks: the first request of a user holds `credit_block` credits (or
/// what the user has left, when less) in the ledger, and later requests draw their estimated cost
/// from that block in memory, so a request costs no database write for its credits. A block is
/// settled (its spending captured, the rest released) when it runs out, after
/// `settle_idle_secs` without a request, and at shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Credits held per block (at least 0.000001).
    pub credit_block: f64,
    /// Seconds a block may stay idle before it is settled (1 to 3600).
    pub settle_idle_secs: u64,
    /// Output tokens assumed for the credit estimate of a request that sets no `max_tokens`.
    pub default_max_tokens: u32,
    /// Seconds an API key's check is remembered in process (0 to 300). Revoking a key through
    /// the API forgets it at once here, and in Redis for other instances.
    pub key_cache_secs: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self { credit_block: 1.0, settle_idle_secs: 5, default_max_tokens: 1024, key_cache_secs: 30 }
    }
}

pub(crate) fn validate_gateway(gateway: &GatewayConfig) -> Result<(), ConfigError> {
    if !(gateway.credit_block.is_finite() && gateway.credit_block >= 0.000_001) {
        return Err(ConfigError::invalid("gateway.credit_block", "must be a number of credits, at least 0.000001"));
    }
    if !(1..=3600).contains(&gateway.settle_idle_secs) {
        return Err(ConfigError::invalid("gateway.settle_idle_secs", "must be between 1 and 3600 seconds"));
    }
    if gateway.default_max_tokens == 0 {
        return Err(ConfigError::invalid("gateway.default_max_tokens", "must be at least 1"));
    }
    if gateway.key_cache_secs > 300 {
        return Err(ConfigError::invalid("gateway.key_cache_secs", "must be between 0 and 300 seconds"));
    }
    Ok(())
}

pub(crate) fn validate_api(auth: &AuthConfig, cors: &CorsConfig, limits: &RateLimitsConfig) -> Result<(), ConfigError> {
    if !(60..=86_400).contains(&auth.access_token_ttl_secs) {
        return Err(ConfigError::invalid("auth.access_token_ttl_secs", "must be between 60 and 86400 seconds"));
    }
    if auth.refresh_token_ttl_secs < auth.access_token_ttl_secs {
        return Err(ConfigError::invalid("auth.refresh_token_ttl_secs", "must be at least auth.access_token_ttl_secs"));
    }
    if !(8..=128).contains(&auth.min_password_length) {
        return Err(ConfigError::invalid("auth.min_password_length", "must be between 8 and 128"));
    }
    if let Some(secret) = &auth.jwt_secret
        && secret.expose_secret().len() < 32
    {
        return Err(ConfigError::invalid(
            "auth.jwt_secret",
            "must be at least 32 characters; leave it unset to have a random key generated into the data directory",
        ));
    }
    if auth.mode == AuthMode::Cognito {
        let cognito = &auth.cognito;
        if cognito.user_pool_id.trim().is_empty() {
            return Err(ConfigError::invalid(
                "auth.cognito.user_pool_id",
                "is required with auth.mode = \"cognito\" (e.g. ca-central-1_AbCdEf123)",
            ));
        }
        if cognito.client_ids.is_empty() {
            return Err(ConfigError::invalid(
                "auth.cognito.client_ids",
                "list at least one app client id whose tokens are accepted",
            ));
        }
        for (key, value) in [("auth.cognito.issuer", &cognito.issuer), ("auth.cognito.jwks_url", &cognito.jwks_url)] {
            if let Some(value) = value {
                let parsed = url::Url::parse(value)
                    .map_err(|e| ConfigError::invalid(key, format!("`{value}` is not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(ConfigError::invalid(key, "must be an http:// or https:// URL"));
                }
            }
        }
    }
    for origin in &cors.origins {
        if origin == "*" {
            continue;
        }
        let parsed = url::Url::parse(origin).map_err(|e| {
            ConfigError::invalid(
                "cors.origins",
                format!("`{origin}` is not an origin ({e}); example: https://app.example.com"),
            )
        })?;
        if parsed.path() != "/" || origin.ends_with('/') || parsed.query().is_some() {
            return Err(ConfigError::invalid(
                "cors.origins",
                format!("`{origin}` must be scheme://host[:port] with no path or trailing slash"),
            ));
        }
    }
    for (group, limit) in &limits.routes {
        if !RATE_LIMIT_GROUPS.contains(&group.as_str()) {
            return Err(ConfigError::invalid(
                &format!("rate_limits.routes.{group}"),
                format!("unknown route group; allowed: {}", RATE_LIMIT_GROUPS.join(", ")),
            ));
        }
        if limit.requests_per_minute == 0 || limit.burst == 0 {
            return Err(ConfigError::invalid(
                &format!("rate_limits.routes.{group}"),
                "requests_per_minute and burst must be at least 1",
            ));
        }
    }
    if limits.requests_per_minute == 0 || limits.burst == 0 {
        return Err(ConfigError::invalid(
            "rate_limits.requests_per_minute",
            "requests_per_minute and burst must be at least 1 (set rate_limits.enabled = false to turn limits off)",
        ));
    }
    Ok(())
}
