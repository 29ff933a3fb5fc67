//! [`Faults`]: failure injection for tests of the worker (HOUSE_STYLE rule 13). A worker built
//! without [`crate::Worker::with_faults`] shares an inert instance; production code never sets it.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Failures a test can switch on while a worker runs.
#[derive(Debug, Default)]
pub struct Faults {
    pause_heartbeats: AtomicBool,
    failing_completions: AtomicU32,
}

impl Faults {
    /// Stops (true) or resumes (false) heartbeats, as if the worker were stalled: its leases
    /// expire and other workers may take the jobs.
    pub fn pause_heartbeats(&self, paused: bool) {
        self.pause_heartbeats.store(paused, Ordering::SeqCst);
    }

    /// Makes the next `n` attempts to record a completion fail as if the database were down.
    pub fn fail_completions(&self, n: u32) {
        self.failing_completions.store(n, Ordering::SeqCst);
    }

    pub(crate) fn heartbeats_paused(&self) -> bool {
        self.pause_heartbeats.load(Ordering::SeqCst)
    }

    /// Consumes one injected completion failure, if any is left.
    pub(crate) fn take_completion_failure(&self) -> bool {
        self.failing_completions.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }
}
