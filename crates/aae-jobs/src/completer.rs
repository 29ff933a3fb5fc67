//! [`Completer`]: records the completions of one worker's jobs in batches (group commit).
//!
//! Each finished job hands its completion to a task that takes every completion waiting at that
//! moment and records them with one [`JobStore::complete_many`] call (one statement on
//! PostgreSQL, one transaction on SQLite), then answers each job. Nothing waits on purpose: a
//! lone completion goes out at once, and completions arriving while a batch is in flight make up
//! the next batch. Under load this turns one round trip per job into one per batch.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use aae_store::{JobStore, StoreError, StoreErrorKind, StoreResult};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most completions recorded by one `complete_many` call.
const MAX_BATCH: usize = 512;

struct Request {
    id: Uuid,
    metrics: Option<Value>,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// Batches the completions of one worker.
pub(crate) struct Completer {
    store: Arc<dyn JobStore>,
    worker_id: Arc<str>,
    /// The batching task's inbox, started on first use (inside the runtime that runs the jobs).
    inbox: OnceLock<mpsc::UnboundedSender<Request>>,
}

impl Completer {
    pub(crate) fn new(store: Arc<dyn JobStore>, worker_id: Arc<str>) -> Self {
        Self { store, worker_id, inbox: OnceLock::new() }
    }

    /// Marks job `id` completed with `metrics`. `Ok(true)` when recorded, `Ok(false)` when this
    /// worker no longer holds the lease (or the job is gone), `Err` when the store failed.
    pub(crate) async fn complete(&self, id: Uuid, metrics: Option<Value>) -> StoreResult<bool> {
        let inbox = self.inbox.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(batches(Arc::clone(&self.store), Arc::clone(&self.worker_id), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(request)) = inbox.send(Request { id, metrics, reply }) {
            // The batching task is gone (its runtime shut down): record this one directly.
            return self.complete_one(request.id, request.metrics).await;
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(StoreError::new(StoreErrorKind::Unavailable, "job", "completion batch was dropped")),
        }
    }

    async fn complete_one(&self, id: Uuid, metrics: Option<Value>) -> StoreResult<bool> {
        match self.store.complete(id, &self.worker_id, metrics).await {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.kind, StoreErrorKind::LeaseLost | StoreErrorKind::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The batching task: runs until every [`Completer`] handle is dropped.
async fn batches(store: Arc<dyn JobStore>, worker_id: Arc<str>, mut inbox: mpsc::UnboundedReceiver<Request>) {
    let mut batch: Vec<Request> = Vec::new();
    while let Some(first) = inbox.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let jobs = batch.iter_mut().map(|r| (r.id, r.metrics.take())).collect();
        match store.complete_many(&worker_id, jobs).await {
            Ok(done) => {
                let done: HashSet<Uuid> = done.into_iter().collect();
                for request in batch.drain(..) {
                    let _ = request.reply.send(Ok(done.contains(&request.id)));
                }
            }
            Err(error) => {
                tracing::debug!(worker = %worker_id, jobs = batch.len(), %error, "completion batch failed");
                for request in batch.drain(..) {
                    let copy = StoreError::new(error.kind, error.entity, error.message.clone()).with_id(request.id);
                    let _ = request.reply.send(Err(copy));
                }
            }
        }
    }
}
