//! AAE's job workers: the process side of the durable job queue kept by `aae-store`
//! ([`aae_store::JobStore`]).
//!
//! A [`Worker`] leases up to `jobs.concurrency` jobs of the kinds it has a [`JobHandler`] for,
//! runs each handler with a [`JobContext`] (configuration, progress reporting, a cancellation
//! token), renews the lease with heartbeats while it runs, and records the outcome: `complete`
//! with the handler's metrics, or `fail` with `error_info` (retried with exponential backoff, or
//! failed at once for a [`JobError::Permanent`]). A lost lease or a cancelled job cancels the
//! handler's token and the worker records nothing for it. Shutdown stops leasing, lets running
//! jobs finish until a deadline and then gives the rest back with [`aae_store::JobStore::release`].
//! [`Worker::step`] runs one lease-and-run round for tests, with [`Faults`] to inject failures.
//!
//! [`campaigns`] creates, resumes and deletes campaigns (record + `campaign` job), for the CLI
//! and the HTTP API alike. One file per job kind lives under [`kinds`]; [`kinds::builtin`] lists the ones the `aae`
//! binary registers. This crate does not define the queue's schema or SQL (`aae-store` does), and
//! does not decide when jobs are enqueued (the server and the CLI do).

mod ahead;
pub mod campaigns;
mod completer;
mod context;
mod error;
mod faults;
pub mod kinds;
mod run;
mod worker;

pub use context::{JobContext, JobHandler};
pub use error::JobError;
pub use faults::Faults;
pub use worker::{Handlers, JobOutcome, StepReport, Worker, WorkerOptions, worker_id};
