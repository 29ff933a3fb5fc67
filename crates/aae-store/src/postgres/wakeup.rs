//! Wake-ups for idle workers on PostgreSQL: one `LISTEN aae_jobs` connection per store, started
//! by the first [`JobStore::wait_for_jobs`](crate::JobStore::wait_for_jobs) call. A statement
//! trigger on `jobs` (migration `0002_jobs_notify`) sends `NOTIFY aae_jobs` after every insert,
//! from whichever process enqueued, so a waiting worker leases at once instead of at its next
//! poll. Notifications only shorten waits: a lost one costs one poll interval, nothing more.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, OnceCell};

/// The channel the insert trigger notifies.
pub(crate) const CHANNEL: &str = "aae_jobs";

/// How long the listener waits before reconnecting after an error.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// The waiters and the listener task that wakes them.
#[derive(Debug, Default)]
pub(crate) struct Wakeups {
    notify: Arc<Notify>,
    started: OnceCell<()>,
}

impl Wakeups {
    /// Waits for a notification or `timeout`; starts the listener on first use.
    pub(crate) async fn wait(&self, pool: &PgPool, timeout: Duration) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Register before the listener can fire so a notification racing this call is not lost.
        notified.as_mut().enable();
        self.started
            .get_or_init(|| async {
                tokio::spawn(listen(pool.clone(), Arc::downgrade(&self.notify)));
            })
            .await;
        let _ = tokio::time::timeout(timeout, notified).await;
    }
}

/// Forwards notifications to the waiters until the pool closes or the store is dropped.
async fn listen(pool: PgPool, notify: Weak<Notify>) {
    loop {
        if pool.is_closed() || notify.strong_count() == 0 {
            return;
        }
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::debug!(%error, "job notification listener cannot connect");
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::debug!(%error, "job notification listener cannot listen");
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        }
        loop {
            // Re-check the store now and then, so a dropped store does not keep a connection.
            let received = tokio::time::timeout(Duration::from_secs(30), listener.try_recv()).await;
            let Some(waiters) = notify.upgrade() else { return };
            match received {
                // A notification, or a reconnect (notifications may have been missed): wake all.
                Ok(Ok(_)) => waiters.notify_waiters(),
                Err(_elapsed) => {}
                Ok(Err(error)) => {
                    tracing::debug!(%error, "job notification listener lost its connection");
                    waiters.notify_waiters();
                    break;
                }
            }
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}
