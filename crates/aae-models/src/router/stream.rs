//! Streaming through the router. Opening the stream (up to the response headers) gets the same
//! breaker, limits, retries and fallback as a plain call; once events flow nothing is retried.
//! The whole stream must end within the per-request timeout (Property 9). When it ends, usage
//! is recorded and the hold captured; when it fails, times out or is dropped early, the hold is
//! released.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use super::{CallContext, ModelRouter};
use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::router::rate_limit::RateLimiter;
use crate::types::{ChatRequest, ChatStream, StreamEvent, Usage};
use crate::usage::{Accounting, CallRecord, CreditHold, Metered, PriceTable, UsageBatch};
use aae_types::ModelEntry;

/// A stream with the model that serves it.
pub struct RoutedStream {
    /// The events.
    pub stream: ChatStream,
    /// The model that answered (a fallback when the chosen one failed to open).
    pub model: ModelEntry,
    /// Failures of models tried before it, in order.
    pub failures: Vec<ModelError>,
}

impl std::fmt::Debug for RoutedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedStream").field("model", &self.model.key()).field("failures", &self.failures).finish()
    }
}

impl ModelRouter {
    /// A streamed chat completion on the caller's model, falling back as configured while
    /// opening. See [`crate::ModelProvider::chat_stream`] for the events.
    pub async fn chat_stream(&self, context: &CallContext, request: &ChatRequest) -> ModelResult<RoutedStream> {
        let started = Instant::now();
        let estimated = request.estimated_tokens();
        let opened =
            match self.resolve(context) {
                Ok(entry) => {
                    self.walk(self.fallbacks.chain(&entry), |entry| async move {
                        self.attempt(&entry, estimated, |provider, id| async move {
                            provider.chat_stream(&id, request).await
                        })
                        .await
                    })
                    .await
                }
                Err(error) => Err(error),
            };
        let (inner, model, failures) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                self.settle_failure(context, None, started).await;
                return Err(error);
            }
        };
        let settle = Settle {
            accounting: self.accounting.clone(),
            batch: self.batch.clone(),
            prices: self.prices.clone(),
            limiter: Arc::clone(&self.limiter),
            user_id: context.user_id,
            hold: context.hold,
            request_id: context.request_id.clone(),
            defer: context.defer_accounting,
            model: model.clone(),
            started,
            estimated,
            usage: Usage::default(),
            settled: false,
        };
        let deadline = tokio::time::Instant::from_std(started) + self.retry.request_timeout;
        let state = State { inner, settle, deadline, done: false };
        let stream = futures::stream::unfold(state, |mut state| async move {
            if state.done {
                return None;
            }
            let next = tokio::time::timeout_at(state.deadline, state.inner.next()).await;
            let item = match next {
                Ok(Some(Ok(event))) => {
                    match &event {
                        StreamEvent::Usage { usage } => state.settle.usage = *usage,
                        // `Stop` is the last event: settle now, so a caller that stops reading
                        // here is charged, not refunded.
                        StreamEvent::Stop { .. } => {
                            state.done = true;
                            state.settle.success().await;
                        }
                        _ => {}
                    }
                    Ok(event)
                }
                Ok(Some(Err(error))) => {
                    Err(error.for_model(state.settle.model.provider.as_str(), &state.settle.model.name))
                }
                Ok(None) => {
                    state.done = true;
                    if !state.settle.settled {
                        state.settle.success().await;
                    }
                    return None;
                }
                Err(_) => Err(ModelError::new(
                    ModelErrorKind::Timeout,
                    state.settle.model.provider.as_str(),
                    &state.settle.model.name,
                    format!("stream did not finish within {} ms", state.settle.started.elapsed().as_millis()),
                )),
            };
            if item.is_err() {
                state.done = true;
                state.settle.failure().await;
            }
            Some((item, state))
        });
        Ok(RoutedStream { stream: Box::pin(stream), model, failures })
    }
}

struct State {
    inner: ChatStream,
    settle: Settle,
    deadline: tokio::time::Instant,
    done: bool,
}

/// What to record when the stream ends; a stream dropped before its end releases the hold.
struct Settle {
    accounting: Option<Accounting>,
    batch: Option<Arc<UsageBatch>>,
    prices: PriceTable,
    limiter: Arc<RateLimiter>,
    user_id: Option<uuid::Uuid>,
    hold: Option<CreditHold>,
    request_id: Option<String>,
    defer: bool,
    model: ModelEntry,
    started: Instant,
    estimated: u64,
    usage: Usage,
    settled: bool,
}

impl Settle {
    fn record(&self) -> CallRecord {
        CallRecord {
            user_id: self.user_id,
            hold: self.hold,
            request_id: self.request_id.clone(),
            provider: self.model.provider.as_str().to_owned(),
            model: self.model.name.clone(),
            latency: self.started.elapsed(),
        }
    }

    /// Runs `settle` now, or on its own task when the caller deferred accounting.
    async fn run(&self, settle: impl Future<Output = ()> + Send + 'static) {
        if self.defer {
            tokio::spawn(settle);
        } else {
            settle.await;
        }
    }

    async fn success(&mut self) {
        self.settled = true;
        let key = self.model.key();
        self.limiter.settle(&key, self.estimated, self.usage.input_tokens + self.usage.output_tokens);
        let metered = Metered { usage: self.usage, ..Metered::default() };
        let cost = self.prices.cost_micros(&key, &metered);
        if let Some(accounting) = self.accounting.clone() {
            let record = self.record();
            if self.defer
                && let Some(batch) = &self.batch
            {
                super::defer_to_batch(batch, &accounting, record, &metered, cost);
                return;
            }
            self.run(async move {
                if let Err(error) = accounting.success(&record, &metered, cost).await {
                    tracing::error!(model = %key, error = %error, "model call accounting failed");
                }
            })
            .await;
        }
    }

    async fn failure(&mut self) {
        self.settled = true;
        if let Some(accounting) = self.accounting.clone() {
            let record = self.record();
            let key = self.model.key();
            self.run(async move {
                if let Err(error) = accounting.failure(&record).await {
                    tracing::error!(model = %key, error = %error, "releasing a credit hold failed");
                }
            })
            .await;
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (Some(accounting), Some(hold)) = (self.accounting.clone(), self.hold) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let model = self.model.key();
        runtime.spawn(async move {
            if let Err(error) = accounting.credits.release(hold.id).await {
                tracing::error!(model, error = %error, "releasing the credit hold of an abandoned stream failed");
            }
        });
    }
}
