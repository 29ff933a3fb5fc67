//! [`ModelRouter`]: every model call goes through it. It picks the model from the user's
//! preference (or the configuration's default), sends the request to that model's provider with
//! the catalog's model id (Property 5), and around each call applies, in order: the circuit
//! breaker (`breaker.rs`), the token buckets (`rate_limit.rs`), the per-request timeout and the
//! retries (`retry.rs`), and the fallback list (`fallback.rs`). When the call ends it records
//! usage and settles the caller's credit hold (`crate::usage`).

mod breaker;
mod fallback;
mod generate;
mod rate_limit;
mod retry;
mod stream;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aae_config::Config;
use aae_types::{ModelCatalog, ModelEntry, Provider, UserModelPreference};
use uuid::Uuid;

pub use breaker::CircuitBreakers;
pub use fallback::{FallbackTable, all_failed};
pub use rate_limit::RateLimiter;
pub use retry::RetryPolicy;
pub use stream::RoutedStream;

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::provider::ModelProvider;
use crate::types::{ChatRequest, ChatResponse};
use crate::usage::{Accounting, CallRecord, CreditHold, Metered, PriceTable, UsageBatch, usage_row};

/// Who is calling and what to settle afterwards.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The user, for usage records (none: nothing is recorded).
    pub user_id: Option<Uuid>,
    /// The user's choice; `None` uses the configuration's default.
    pub preference: Option<UserModelPreference>,
    /// A credit hold to capture (success) or release (failure).
    pub hold: Option<CreditHold>,
    /// The request id, copied into usage records.
    pub request_id: Option<String>,
    /// Record usage and settle the hold on a spawned task instead of before the call returns, so
    /// the reply does not wait for the database (the OpenAI-compatible gateway). The records
    /// appear a moment after the reply; a failure to write them is logged.
    pub defer_accounting: bool,
}

/// A result with the model that produced it.
#[derive(Debug, Clone)]
pub struct Routed<T> {
    /// The result.
    pub value: T,
    /// The model that answered (a fallback when the chosen one failed).
    pub model: ModelEntry,
    /// Failures of models tried before it, in order.
    pub failures: Vec<ModelError>,
    /// What the call cost, in micro-credits.
    pub cost_micros: i64,
}

/// Routes model calls; cheap to share behind an `Arc`.
pub struct ModelRouter {
    catalog: ModelCatalog,
    providers: HashMap<Provider, Arc<dyn ModelProvider>>,
    retry: RetryPolicy,
    limiter: Arc<RateLimiter>,
    breakers: CircuitBreakers,
    fallbacks: FallbackTable,
    prices: PriceTable,
    accounting: Option<Accounting>,
    batch: Option<Arc<UsageBatch>>,
    default_preference: UserModelPreference,
    video_timeout: Duration,
    video_poll: Duration,
}

impl std::fmt::Debug for ModelRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut providers: Vec<&str> = self.providers.keys().map(|p| p.as_str()).collect();
        providers.sort_unstable();
        f.debug_struct("ModelRouter").field("providers", &providers).finish_non_exhaustive()
    }
}

impl ModelRouter {
    /// A router with the settings of `config` and no providers (add them with
    /// [`with_provider`](Self::with_provider)); see [`crate::providers::from_config`] for the
    /// configured ones.
    pub fn new(config: &Config) -> ModelResult<Self> {
        let catalog = config.model_catalog();
        let router = &config.router;
        let request_timeout = Duration::from_secs(router.request_timeout_secs);
        Ok(Self {
            fallbacks: FallbackTable::new(&catalog, &router.fallbacks)?,
            catalog,
            providers: HashMap::new(),
            retry: RetryPolicy::from_config(&router.retry, request_timeout),
            limiter: Arc::new(RateLimiter::from_config(&router.limits)),
            breakers: CircuitBreakers::from_config(&router.breaker),
            prices: PriceTable::new(config.prices.clone()),
            accounting: None,
            batch: None,
            default_preference: config.default_model_preference(),
            video_timeout: Duration::from_secs(router.video_timeout_secs),
            video_poll: Duration::from_millis(router.video_poll_ms),
        })
    }

    /// A router with every provider the configuration sets up.
    pub async fn from_config(config: &Config) -> ModelResult<Self> {
        let mut router = Self::new(config)?;
        for (provider, implementation) in crate::providers::from_config(config).await {
            router = router.with_provider(provider, implementation);
        }
        Ok(router)
    }

    /// Serves `provider`'s models with `implementation` (replacing any before it).
    pub fn with_provider(mut self, provider: Provider, implementation: Arc<dyn ModelProvider>) -> Self {
        self.providers.insert(provider, implementation);
        self
    }

    /// Records usage and settles credit holds in these stores.
    pub fn with_accounting(mut self, accounting: Accounting) -> Self {
        self.accounting = Some(accounting);
        self
    }

    /// Deferred accounting (`CallContext::defer_accounting`) queues usage rows in `batch`,
    /// written together, instead of one write per call.
    pub fn with_usage_batch(mut self, batch: Arc<UsageBatch>) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Writes the queued usage rows now (at shutdown).
    pub async fn flush_usage(&self) {
        if let Some(batch) = &self.batch {
            batch.flush().await;
        }
    }

    /// Replaces the circuit breakers (tests use millisecond cooldowns).
    pub fn with_breakers(mut self, breakers: CircuitBreakers) -> Self {
        self.breakers = breakers;
        self
    }

    /// The catalog it routes over.
    pub fn catalog(&self) -> &ModelCatalog {
        &self.catalog
    }

    /// Whether `provider` has an implementation.
    pub fn has_provider(&self, provider: Provider) -> bool {
        self.providers.contains_key(&provider)
    }

    /// The prices it charges.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// The model a call with `context` goes to first: the preference, validated against the
    /// catalog (Property 7), or the configuration's default.
    pub fn resolve(&self, context: &CallContext) -> ModelResult<ModelEntry> {
        let preference = context.preference.as_ref().unwrap_or(&self.default_preference);
        Ok(preference.validate(&self.catalog)?.clone())
    }

    /// One chat completion on the caller's model, falling back as configured.
    pub async fn chat(&self, context: &CallContext, request: &ChatRequest) -> ModelResult<Routed<ChatResponse>> {
        let started = Instant::now();
        let estimated = request.estimated_tokens();
        let result = match self.resolve(context) {
            Ok(entry) => {
                self.walk(self.fallbacks.chain(&entry), |entry| async move {
                    self.attempt(&entry, estimated, |provider, id| async move { provider.chat(&id, request).await })
                        .await
                })
                .await
            }
            Err(error) => Err(error),
        };
        let (value, model, failures) = match result {
            Ok(done) => done,
            Err(error) => {
                self.settle_failure(context, None, started).await;
                return Err(error);
            }
        };
        self.limiter.settle(&model.key(), estimated, value.usage.input_tokens + value.usage.output_tokens);
        let metered = Metered { usage: value.usage, ..Metered::default() };
        let cost_micros = self.settle_success(context, &model, started, &metered).await;
        Ok(Routed { value, model, failures, cost_micros })
    }

    /// One attempt on `entry` (after its retries): breaker, token buckets, then `call` with the
    /// provider and the catalog's model id under the retry policy. Errors are renamed to the
    /// catalog's name of the model.
    async fn attempt<T, F, Fut>(&self, entry: &ModelEntry, estimated_tokens: u64, call: F) -> ModelResult<T>
    where
        F: Fn(Arc<dyn ModelProvider>, String) -> Fut,
        Fut: Future<Output = ModelResult<T>>,
    {
        let provider_name = entry.provider.as_str();
        let Some(provider) = self.providers.get(&entry.provider).cloned() else {
            return Err(ModelError::new(
                ModelErrorKind::NotConfigured,
                provider_name,
                &entry.name,
                format!("provider {provider_name} is not configured; see the providers section of aae.example.toml"),
            ));
        };
        let key = entry.key();
        self.breakers.check(&key)?;
        self.limiter.acquire(&key, estimated_tokens).await?;
        let result = self
            .retry
            .run(provider_name, &entry.name, |_| call(provider.clone(), entry.model_id.clone()))
            .await
            .map_err(|e| e.for_model(provider_name, &entry.name));
        self.breakers.record(&key, result.as_ref().map(|_| ()));
        result
    }

    /// Tries each model of `chain` in order until one succeeds or a failure rules out the rest.
    async fn walk<T, F, Fut>(
        &self,
        chain: Vec<ModelEntry>,
        mut call: F,
    ) -> ModelResult<(T, ModelEntry, Vec<ModelError>)>
    where
        F: FnMut(ModelEntry) -> Fut,
        Fut: Future<Output = ModelResult<T>>,
    {
        let mut failures = Vec::new();
        let count = chain.len();
        for (index, entry) in chain.into_iter().enumerate() {
            match call(entry.clone()).await {
                Ok(value) => return Ok((value, entry, failures)),
                Err(error) => {
                    let go_on = error.allows_fallback() && index + 1 < count;
                    if go_on {
                        tracing::warn!(model = %entry.key(), error = %error, "model failed, trying the next fallback");
                    }
                    failures.push(error);
                    if !go_on {
                        break;
                    }
                }
            }
        }
        Err(all_failed(failures))
    }

    fn call_record(context: &CallContext, entry: Option<&ModelEntry>, started: Instant) -> CallRecord {
        CallRecord {
            user_id: context.user_id,
            hold: context.hold,
            request_id: context.request_id.clone(),
            provider: entry.map(|e| e.provider.as_str()).unwrap_or("").to_owned(),
            model: entry.map(|e| e.name.clone()).unwrap_or_default(),
            latency: started.elapsed(),
        }
    }

    /// Records a success and captures its cost; accounting failures are logged, not returned,
    /// because the model's answer is already paid for by the provider.
    async fn settle_success(
        &self,
        context: &CallContext,
        entry: &ModelEntry,
        started: Instant,
        metered: &Metered,
    ) -> i64 {
        let cost = self.prices.cost_micros(&entry.key(), metered);
        if let Some(accounting) = &self.accounting {
            let record = Self::call_record(context, Some(entry), started);
            if context.defer_accounting
                && let Some(batch) = &self.batch
            {
                defer_to_batch(batch, accounting, record, metered, cost);
                return cost;
            }
            let accounting = accounting.clone();
            let metered = *metered;
            let settle = async move {
                if let Err(error) = accounting.success(&record, &metered, cost).await {
                    tracing::error!(model = %record.model, error = %error, "model call accounting failed");
                }
            };
            if context.defer_accounting {
                tokio::spawn(settle);
            } else {
                settle.await;
            }
        }
        cost
    }

    async fn settle_failure(&self, context: &CallContext, entry: Option<&ModelEntry>, started: Instant) {
        if let Some(accounting) = &self.accounting {
            let record = Self::call_record(context, entry, started);
            let accounting = accounting.clone();
            let settle = async move {
                if let Err(error) = accounting.failure(&record).await {
                    tracing::error!(error = %error, "releasing the credit hold of a failed model call failed");
                }
            };
            if context.defer_accounting {
                tokio::spawn(settle);
            } else {
                settle.await;
            }
        }
    }
}

/// Deferred accounting with a batch: the usage row joins the batch; a hold, if any, is captured
/// on its own task.
pub(crate) fn defer_to_batch(
    batch: &Arc<UsageBatch>,
    accounting: &Accounting,
    record: CallRecord,
    metered: &Metered,
    cost: i64,
) {
    if let Some(row) = usage_row(&record, metered, cost) {
        batch.push(row);
    }
    if record.hold.is_some() {
        let accounting = accounting.clone();
        tokio::spawn(async move {
            if let Err(error) = accounting.capture(&record, cost).await {
                tracing::error!(model = %record.model, error = %error, "capturing a credit hold failed");
            }
        });
    }
}
