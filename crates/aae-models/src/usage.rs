//! Cost and accounting: the price table turns a call's usage into micro-credits; [`Accounting`]
//! records one usage row per successful call through `aae-store`'s [`UsageStore`] and settles the
//! caller's credit hold through its [`CreditLedger`]: captured (the cost, at most the hold) when
//! the call succeeds, released in full when it fails.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aae_config::ModelPrice;
use aae_store::{CreditLedger, NewUsage, UsageStore};
use uuid::Uuid;

use crate::error::{ModelError, ModelErrorKind};
use crate::types::Usage;

/// What one call produced, for pricing and usage records.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metered {
    /// Tokens in and out.
    pub usage: Usage,
    /// Images generated.
    pub images: u32,
    /// Seconds of video generated.
    pub video_seconds: f64,
}

/// Prices per `provider/model` (`prices` in the configuration, in credits).
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    /// The table from the configuration.
    pub fn new(prices: BTreeMap<String, ModelPrice>) -> Self {
        Self { prices }
    }

    /// The price of `key`, if listed (unlisted models cost nothing).
    pub fn get(&self, key: &str) -> Option<&ModelPrice> {
        self.prices.get(key)
    }

    /// The cost of `metered` on `key` in micro-credits, rounded up. A price per million tokens
    /// in credits is exactly micro-credits per token.
    pub fn cost_micros(&self, key: &str, metered: &Metered) -> i64 {
        let Some(price) = self.prices.get(key) else { return 0 };
        let micros = price.input_per_million * metered.usage.input_tokens as f64
            + price.output_per_million * metered.usage.output_tokens as f64
            + price.per_image * 1e6 * f64::from(metered.images)
            + price.per_video_second * 1e6 * metered.video_seconds;
        micros.ceil().clamp(0.0, i64::MAX as f64) as i64
    }
}

/// A credit hold the caller took before the call, to settle when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditHold {
    /// The hold's ledger entry id.
    pub id: Uuid,
    /// The micro-credits it holds (the most a capture may take).
    pub amount: i64,
}

/// Where usage and credits go.
#[derive(Clone)]
pub struct Accounting {
    /// Usage records.
    pub usage: Arc<dyn UsageStore>,
    /// The credit ledger.
    pub credits: Arc<dyn CreditLedger>,
}

impl std::fmt::Debug for Accounting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Accounting")
    }
}

/// The facts of one finished call.
#[derive(Debug, Clone)]
pub(crate) struct CallRecord {
    pub user_id: Option<Uuid>,
    pub hold: Option<CreditHold>,
    pub request_id: Option<String>,
    pub provider: String,
    pub model: String,
    pub latency: Duration,
}

/// The usage row of a successful call (none without a user).
pub(crate) fn usage_row(call: &CallRecord, metered: &Metered, cost: i64) -> Option<NewUsage> {
    Some(NewUsage {
        user_id: call.user_id?,
        provider: call.provider.clone(),
        model: call.model.clone(),
        input_tokens: clamp(metered.usage.input_tokens),
        output_tokens: clamp(metered.usage.output_tokens),
        cost_micros: cost,
        images: i64::from(metered.images),
        video_seconds: metered.video_seconds.ceil().max(0.0) as i64,
        latency_ms: clamp(call.latency.as_millis() as u64),
        request_id: call.request_id.clone(),
    })
}

/// Usage rows gathered in memory and written together, `interval` apart (or sooner past
/// [`UsageBatch::MAX_ROWS`]), with one `record_many` each: what deferred accounting uses, so a
/// busy gateway writes one statement per interval instead of one per call. A failed batch is
/// written again row by row, so one bad row (a user deleted meanwhile) loses only itself.
pub struct UsageBatch {
    store: Arc<dyn UsageStore>,
    interval: Duration,
    pending: std::sync::Mutex<Vec<NewUsage>>,
    wake: tokio::sync::Notify,
    started: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for UsageBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageBatch").field("interval", &self.interval).finish_non_exhaustive()
    }
}

impl UsageBatch {
    /// Rows that trigger a write before the interval ends.
    pub const MAX_ROWS: usize = 1000;

    /// A batch writing to `store` every `interval`.
    pub fn new(store: Arc<dyn UsageStore>, interval: Duration) -> Arc<Self> {
        Arc::new(Self {
            store,
            interval,
            pending: std::sync::Mutex::new(Vec::new()),
            wake: tokio::sync::Notify::new(),
            started: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Queues one row; the writer task starts with the first.
    pub fn push(self: &Arc<Self>, row: NewUsage) {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.push(row);
            pending.len() >= Self::MAX_ROWS
        };
        if !self.started.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let batch = Arc::clone(self);
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(batch.interval) => {}
                        () = batch.wake.notified() => {}
                    }
                    batch.flush().await;
                }
            });
        }
        if full {
            self.wake.notify_one();
        }
    }

    /// Writes every queued row now (at shutdown, or before reading usage back).
    pub async fn flush(&self) {
        let rows = std::mem::take(&mut *self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if rows.is_empty() {
            return;
        }
        if let Err(error) = self.store.record_many(&rows).await {
            tracing::warn!(rows = rows.len(), error = %error, "writing a batch of usage rows failed; writing them one by one");
            for row in rows {
                if let Err(error) = self.store.record(row).await {
                    tracing::error!(error = %error, "recording usage failed");
                }
            }
        }
    }
}

impl Accounting {
    /// Records a successful call and captures `cost` (micro-credits) from the hold.
    pub(crate) async fn success(&self, call: &CallRecord, metered: &Metered, cost: i64) -> Result<(), ModelError> {
        if let Some(usage) = usage_row(call, metered, cost) {
            self.usage.record(usage).await.map_err(|e| accounting(call, format!("cannot record usage: {e}")))?;
        }
        self.capture(call, cost).await
    }

    /// Captures `cost` (micro-credits) from the call's hold, if it has one.
    pub(crate) async fn capture(&self, call: &CallRecord, cost: i64) -> Result<(), ModelError> {
        if let Some(hold) = call.hold {
            let captured = cost.min(hold.amount);
            if cost > hold.amount {
                tracing::warn!(
                    provider = %call.provider,
                    model = %call.model,
                    cost_micros = cost,
                    held_micros = hold.amount,
                    "model call cost more than its credit hold; captured the hold"
                );
            }
            self.credits
                .capture(hold.id, captured)
                .await
                .map_err(|e| accounting(call, format!("cannot capture credit hold {}: {e}", hold.id)))?;
        }
        Ok(())
    }

    /// Releases the hold of a failed call.
    pub(crate) async fn failure(&self, call: &CallRecord) -> Result<(), ModelError> {
        if let Some(hold) = call.hold {
            self.credits
                .release(hold.id)
                .await
                .map_err(|e| accounting(call, format!("cannot release credit hold {}: {e}", hold.id)))?;
        }
        Ok(())
    }
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn accounting(call: &CallRecord, message: String) -> ModelError {
    ModelError::new(ModelErrorKind::Accounting, &call.provider, &call.model, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_micro_credits_rounded_up() {
        let prices = PriceTable::new(aae_config::default_prices());
        let metered = Metered { usage: Usage { input_tokens: 1_000, output_tokens: 100 }, ..Default::default() };
        // claude: 3 credits per million in, 15 out → 3 000 + 1 500 micro-credits.
        assert_eq!(prices.cost_micros("bedrock/claude-4.5-sonnet", &metered), 4_500);
        let image = Metered { images: 2, ..Default::default() };
        assert_eq!(prices.cost_micros("sagemaker/qwen-image", &image), 80_000);
        assert_eq!(prices.cost_micros("local/smollm2-135m-instruct", &metered), 0);
        let tiny = Metered { usage: Usage { input_tokens: 1, output_tokens: 0 }, ..Default::default() };
        assert_eq!(prices.cost_micros("bedrock/qwen3", &tiny), 1, "0.22 rounds up");
    }
}
