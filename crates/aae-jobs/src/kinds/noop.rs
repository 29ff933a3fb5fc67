//! `noop`: does no work and completes. Operators enqueue it to check that workers are alive and
//! leasing (`aae jobs enqueue noop --topic ping`); the queue benchmark drains 20,000 of them.
//!
//! Configuration (all optional): `{"sleep_ms": N}` holds the job for N milliseconds, reporting
//! progress and honouring cancellation, which exercises heartbeats, leases and shutdown.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{JobContext, JobError, JobHandler};

/// The longest `sleep_ms` accepted (one hour).
const MAX_SLEEP_MS: u64 = 3_600_000;

/// The `noop` kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

#[async_trait]
impl JobHandler for Noop {
    fn kind(&self) -> &str {
        "noop"
    }

    async fn run(&self, ctx: &JobContext) -> Result<Option<Value>, JobError> {
        let sleep_ms = match ctx.configuration().get("sleep_ms") {
            None | Some(Value::Null) => 0,
            Some(value) => value
                .as_u64()
                .filter(|ms| *ms <= MAX_SLEEP_MS)
                .ok_or_else(|| JobError::permanent(format!("sleep_ms must be an integer from 0 to {MAX_SLEEP_MS}")))?,
        };
        if sleep_ms == 0 {
            return Ok(None);
        }
        let started = Instant::now();
        ctx.report_progress(0.0, Some("sleeping")).await?;
        let sleep = tokio::time::sleep(Duration::from_millis(sleep_ms));
        tokio::select! {
            _ = sleep => {}
            _ = ctx.cancellation().cancelled() => return Err(JobError::Cancelled),
        }
        Ok(Some(json!({"slept_ms": started.elapsed().as_millis() as u64})))
    }
}
