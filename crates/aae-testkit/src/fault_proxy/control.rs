//! The shared switchboard of a [`super::FaultProxy`]: which faults to inject next, and counters.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// Controls the faults a [`super::FaultProxy`] injects. Cheap to clone; all clones control the same
/// proxy, so a test can hand one to a background task and flip faults while requests run.
///
/// Per request the proxy applies, in order: count it, hold it while [blackholed](Self::blackhole),
/// [reset](Self::reset_next) its connection, wait the [latency](Self::set_latency),
/// [answer it with an injected error](Self::fail_next), else forward it upstream.
#[derive(Debug, Clone)]
pub struct FaultControl {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    requests: AtomicU64,
    forwarded: AtomicU64,
    connections: AtomicU64,
    blackhole: watch::Sender<bool>,
    state: Mutex<State>,
    /// Requests per `X-Amz-Target` header (the operation of JSON-protocol AWS APIs such as DynamoDB).
    targets: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug, Default)]
struct State {
    /// Planned answers, in order: `None` forwards, `Some` fails.
    failures: VecDeque<(Option<Failure>, u64)>,
    resets: u64,
    latency: Duration,
}

/// One injected S3 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) code: String,
}

/// What to do with one request, decided when it arrives (after any blackhole wait).
#[derive(Debug)]
pub(crate) enum Action {
    Reset,
    Fail { latency: Duration, failure: Failure },
    Forward { latency: Duration },
}

impl Default for FaultControl {
    fn default() -> Self {
        Self {
            shared: Arc::new(Shared {
                requests: AtomicU64::new(0),
                forwarded: AtomicU64::new(0),
                connections: AtomicU64::new(0),
                blackhole: watch::Sender::new(false),
                state: Mutex::new(State::default()),
                targets: Mutex::new(BTreeMap::new()),
            }),
        }
    }
}

impl FaultControl {
    /// The next `n` requests are answered `status` with an S3 XML error body
    /// (`<Error><Code>{s3_error_code}</Code>…`) without reaching the upstream. Queues after
    /// failures set earlier. Panics if `status` is not a valid HTTP status.
    pub fn fail_next(&self, n: u64, status: u16, s3_error_code: &str) {
        assert!(http::StatusCode::from_u16(status).is_ok(), "fail_next: {status} is not an HTTP status");
        if n == 0 {
            return;
        }
        self.state().failures.push_back((Some(Failure { status, code: s3_error_code.to_owned() }), n));
    }

    /// The next `n` requests go through untouched; failures queued after this one by
    /// [`fail_next`](Self::fail_next) apply only from the request after them. Lets a test fail
    /// a later request of an operation (say, the ranged GETs after its HEAD).
    pub fn pass_next(&self, n: u64) {
        if n > 0 {
            self.state().failures.push_back((None, n));
        }
    }

    /// The next `n` requests get no answer: their TCP connection is reset (RST) as soon as the
    /// request head is read, whether the connection is new or reused from a client's pool. The
    /// request does not reach the upstream.
    pub fn reset_next(&self, n: u64) {
        self.state().resets += n;
    }

    /// Delay every request by `latency` before it is answered or forwarded (`Duration::ZERO` to stop).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// While on, connections are accepted and requests read but never answered; requests still held
    /// when it is turned off again go on as usual (unless their client has hung up meanwhile).
    pub fn blackhole(&self, on: bool) {
        self.shared.blackhole.send_replace(on);
    }

    /// Clears every pending fault: failures, resets, latency and blackhole. Counters are kept.
    pub fn clear(&self) {
        *self.state() = State::default();
        self.blackhole(false);
    }

    /// HTTP requests seen so far, whatever happened to them (failed, reset, held, forwarded).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests sent on to the upstream so far.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Requests seen so far per `X-Amz-Target` header value, e.g.
    /// `DynamoDB_20120810.Query → 3` (requests without the header are not listed).
    pub fn targets(&self) -> BTreeMap<String, u64> {
        self.shared.targets.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Requests seen so far whose `X-Amz-Target` header is `target`.
    pub fn target_count(&self, target: &str) -> u64 {
        self.targets().get(target).copied().unwrap_or(0)
    }

    pub(crate) fn count_target(&self, target: &str) {
        *self.shared.targets.lock().unwrap_or_else(PoisonError::into_inner).entry(target.to_owned()).or_insert(0) += 1;
    }

    pub(crate) fn count_connection(&self) {
        self.shared.connections.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn count_request(&self) {
        self.shared.requests.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn count_forwarded(&self) {
        self.shared.forwarded.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits while the proxy is blackholed (forever if it stays so).
    pub(crate) async fn wait_unblocked(&self) {
        let mut rx = self.shared.blackhole.subscribe();
        // Err only if the sender is gone, and `self` holds it.
        let _ = rx.wait_for(|on| !*on).await;
    }

    /// Decides, and consumes, the fault for one request.
    pub(crate) fn next_action(&self) -> Action {
        let mut state = self.state();
        if state.resets > 0 {
            state.resets -= 1;
            return Action::Reset;
        }
        let latency = state.latency;
        let Some((planned, remaining)) = state.failures.front_mut() else {
            return Action::Forward { latency };
        };
        *remaining -= 1;
        let planned = planned.clone();
        if *remaining == 0 {
            state.failures.pop_front();
        }
        match planned {
            Some(failure) => Action::Fail { latency, failure },
            None => Action::Forward { latency },
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order() {
        let control = FaultControl::default();
        control.fail_next(2, 503, "SlowDown");
        control.pass_next(1);
        control.fail_next(1, 500, "InternalError");
        control.reset_next(1);
        assert!(matches!(control.next_action(), Action::Reset));
        let codes: Vec<_> = (0..4)
            .map(|_| match control.next_action() {
                Action::Fail { failure, .. } => Some((failure.status, failure.code)),
                Action::Forward { .. } => None,
                other => panic!("expected a failure or a pass, got {other:?}"),
            })
            .collect();
        assert_eq!(
            codes,
            [
                Some((503, "SlowDown".to_owned())),
                Some((503, "SlowDown".to_owned())),
                None,
                Some((500, "InternalError".to_owned()))
            ]
        );
        control.set_latency(Duration::from_millis(5));
        assert!(matches!(control.next_action(), Action::Forward { latency } if latency == Duration::from_millis(5)));
        control.clear();
        assert!(matches!(control.next_action(), Action::Forward { latency } if latency.is_zero()));
    }
}
