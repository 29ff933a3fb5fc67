//! [`LeaseAhead`]: the jobs a worker leases before it has a free slot for them, so a slot that
//! frees up starts its next job at once instead of after a round trip to the queue.
//!
//! How many to hold adapts to the jobs: the worker keeps enough to feed its slots for
//! [`WINDOW`] at the rate they have been finishing (a moving average of handler run times), up to
//! `lease_ahead`. Short jobs (a no-op takes microseconds) fill the buffer to its limit and one
//! lease serves many jobs; jobs that run for seconds or minutes get no buffer at all, so a worker
//! never sits on work another worker could start. Buffered jobs are leased (their attempt is
//! counted) and are heartbeated together while they wait.

use std::collections::VecDeque;
use std::time::Duration;

use aae_store::Job;

/// How far ahead, in expected run time, a worker leases.
pub(crate) const WINDOW: Duration = Duration::from_millis(100);

/// Weight of the newest run time in the moving average.
const ALPHA: f64 = 0.2;

#[derive(Debug)]
pub(crate) struct LeaseAhead {
    buffer: VecDeque<Job>,
    /// `lease_ahead`: the most jobs held.
    limit: u32,
    concurrency: u32,
    /// Moving average of handler run times, in seconds; `None` until a job finished.
    average_run: Option<f64>,
}

impl LeaseAhead {
    pub(crate) fn new(concurrency: u32, limit: u32) -> Self {
        Self { buffer: VecDeque::new(), limit, concurrency, average_run: None }
    }

    /// Records how long a handler ran.
    pub(crate) fn observe(&mut self, ran: Duration) {
        let ran = ran.as_secs_f64();
        self.average_run = Some(match self.average_run {
            None => ran,
            Some(average) => average + ALPHA * (ran - average),
        });
    }

    /// How many jobs to hold: enough for [`WINDOW`] at the observed rate, at most the limit.
    pub(crate) fn target(&self) -> u32 {
        let Some(average) = self.average_run else { return 0 };
        let per_window = f64::from(self.concurrency) * WINDOW.as_secs_f64() / average.max(1e-6);
        (per_window.floor().min(f64::from(self.limit))) as u32
    }

    /// How many jobs to lease now, given `free` slots left after starting buffered jobs: the free
    /// slots plus a refill of the buffer once it has fallen to half its target; 0 when no lease
    /// is needed.
    pub(crate) fn want(&self, free: u32) -> u32 {
        let held = self.buffer.len() as u32;
        let target = self.target();
        if free == 0 && held > target / 2 {
            return 0;
        }
        (free + target).saturating_sub(held)
    }

    pub(crate) fn push(&mut self, jobs: Vec<Job>) {
        self.buffer.extend(jobs);
    }

    pub(crate) fn pop(&mut self) -> Option<Job> {
        self.buffer.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    pub(crate) fn ids(&self) -> Vec<uuid::Uuid> {
        self.buffer.iter().map(|j| j.id).collect()
    }

    /// Keeps only the jobs whose lease is still held.
    pub(crate) fn retain_held(&mut self, held: &[uuid::Uuid]) {
        self.buffer.retain(|j| held.contains(&j.id));
    }

    /// Empties the buffer (shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<Job> {
        self.buffer.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_buffer_until_jobs_have_run_and_none_for_long_jobs() {
        let mut ahead = LeaseAhead::new(8, 32);
        assert_eq!(ahead.target(), 0);
        assert_eq!(ahead.want(8), 8, "the first lease asks for the free slots only");
        ahead.observe(Duration::from_secs(30));
        assert_eq!(ahead.target(), 0, "30 s jobs are never leased ahead");
        assert_eq!(ahead.want(0), 0);
        assert_eq!(ahead.want(3), 3);
    }

    #[test]
    fn short_jobs_fill_the_buffer_up_to_the_limit() {
        let mut ahead = LeaseAhead::new(8, 32);
        for _ in 0..20 {
            ahead.observe(Duration::from_micros(50));
        }
        assert_eq!(ahead.target(), 32);
        assert_eq!(ahead.want(8), 40);
        assert_eq!(ahead.want(0), 32);
        let mut medium = LeaseAhead::new(8, 32);
        medium.observe(Duration::from_millis(40));
        assert_eq!(medium.target(), 20, "8 slots × 100 ms / 40 ms");
    }

    #[test]
    fn refills_only_below_half_the_target() {
        let mut ahead = LeaseAhead::new(2, 8);
        ahead.observe(Duration::from_micros(10));
        let job = |_| {
            let job: Job = serde_json::from_value(serde_json::json!({
                "id": uuid::Uuid::new_v4(), "user_id": null, "kind": "noop", "status": "running",
                "priority": "normal", "topic": "t", "description": null, "configuration": null,
                "progress_percentage": 0.0, "current_stage": null, "error_info": null, "metrics": null,
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                "estimated_completion": null, "batch_id": null, "attempts": 1, "max_attempts": 3,
                "run_at": "2026-01-01T00:00:00Z", "lease_owner": "w", "lease_expires_at": null,
                "started_at": null, "completed_at": null
            }))
            .expect("job");
            job
        };
        ahead.push((0..5).map(job).collect());
        assert_eq!(ahead.want(0), 0, "5 held of 8: above half");
        ahead.pop();
        ahead.pop();
        assert_eq!(ahead.want(0), 5, "3 held of 8: refill to 8");
        let keep = vec![ahead.ids()[0]];
        ahead.retain_held(&keep);
        assert_eq!(ahead.ids(), keep);
        assert_eq!(ahead.take_all().len(), 1);
        assert!(ahead.is_empty());
    }
}
