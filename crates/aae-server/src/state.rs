use std::sync::Arc;
use std::time::Duration;

use aae_config::Config;
use aae_models::{Accounting, ModelRouter, UsageBatch};
use aae_storage::StorageService;
use aae_store::Records;
use aae_types::ErrorCode;
use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::auth::keys::ApiKeys;
use crate::error::ApiError;
use crate::limits::RateLimiter;
use crate::metrics::MeteredUsage;
use crate::reserve::CreditReserve;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Object storage.
    pub storage: Arc<StorageService>,
    /// The records and the shared cache (`aae serve` always sets them; storage-only test
    /// servers may not).
    pub records: Option<Records>,
    /// What the API routes need beyond storage ([`AppState::with_api`]).
    pub api: Option<Arc<Api>>,
    /// Cancelled when the server shuts down: event streams end so in-flight requests can finish.
    pub shutdown: CancellationToken,
}

/// The services behind the API routes.
pub struct Api {
    /// The records (users, campaigns, files, credits, …).
    pub records: Records,
    /// Every model call goes through it (usage and credits recorded, counted in the metrics).
    pub router: Arc<ModelRouter>,
    /// Who is calling.
    pub auth: Authenticator,
    /// Per-caller request limits.
    pub limiter: RateLimiter,
    /// API keys of the OpenAI-compatible gateway.
    pub keys: ApiKeys,
    /// The gateway's credit blocks.
    pub reserve: Arc<CreditReserve>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("records", &self.records).field("auth", &self.auth).finish_non_exhaustive()
    }
}

impl AppState {
    /// State over an already built storage service.
    pub fn new(config: Arc<Config>, storage: Arc<StorageService>) -> Self {
        Self { config, storage, records: None, api: None, shutdown: CancellationToken::new() }
    }

    /// The same state with the record store (and its cache).
    pub fn with_records(mut self, records: Records) -> Self {
        self.records = Some(records);
        self
    }

    /// The full API over `records` and `router`: the router gets the records' usage store
    /// (metered) and credit ledger as its accounting; the authenticator `auth.mode` names and
    /// the rate limiter are built. Local mode creates its signing key on first use.
    pub fn with_api(mut self, records: Records, router: ModelRouter) -> Result<Self, ApiError> {
        let mut records = records;
        records.usage = Arc::new(MeteredUsage(Arc::clone(&records.usage)));
        // The gateway's calls defer their usage rows into one write per 100 ms.
        let batch = UsageBatch::new(Arc::clone(&records.usage), Duration::from_millis(100));
        let router = router
            .with_accounting(Accounting { usage: Arc::clone(&records.usage), credits: Arc::clone(&records.credits) })
            .with_usage_batch(batch);
        let auth = Authenticator::from_config(&self.config, &records)?;
        let limiter = RateLimiter::new(self.config.rate_limits.clone(), records.cache.clone());
        let gateway = &self.config.gateway;
        let keys = ApiKeys::new(records.clone(), Duration::from_secs(gateway.key_cache_secs));
        let reserve = CreditReserve::new(
            Arc::clone(&records.credits),
            gateway.credit_block,
            Duration::from_secs(gateway.settle_idle_secs),
        );
        self.records = Some(records.clone());
        self.api = Some(Arc::new(Api { records, router: Arc::new(router), auth, limiter, keys, reserve }));
        Ok(self)
    }

    /// The API services, or 503 on a server started without them.
    pub fn api(&self) -> Result<&Arc<Api>, ApiError> {
        self.api.as_ref().ok_or_else(|| {
            ApiError::new(ErrorCode::Unavailable, "this server was started without the records the API needs")
        })
    }
}
