//! Credit blocks for the OpenAI-compatible gateway: credits are held in the ledger a block at a
//! time and requests draw their estimated cost from the block in memory, so a request costs no
//! database write for its credits (the ledger's per-user lock would otherwise serialise every
//! request of a busy key behind two transactions).
//!
//! The ledger stays the truth: a block is one ordinary hold. Each request reserves its estimate
//! from the user's open block before calling the model and, when the call ends, replaces the
//! estimate by its real cost (nothing for a failed call). A block that cannot cover the next
//! estimate is retired and a new one held; a retired block is settled — its spending captured,
//! the rest released in the same step — once its last request ends. Open blocks are settled
//! after `gateway.settle_idle_secs` without a request, and all of them at shutdown
//! ([`CreditReserve::settle_all`]). A user with less than a block left gets a block of what is
//! left; when even the estimate does not fit, the request is refused (402) before any model call.
//!
//! If the process dies, its open blocks stay held in the ledger; their usage rows are recorded
//! per call, so an operator can settle them by hand (`aae credits` shows holds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aae_store::{CreditLedger, MICROS_PER_CREDIT, StoreError, StoreErrorKind};
use uuid::Uuid;

/// Per-user credit blocks; share it behind an `Arc`.
pub struct CreditReserve {
    ledger: Arc<dyn CreditLedger>,
    block: i64,
    idle: Duration,
    accounts: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<Account>>>>,
}

impl std::fmt::Debug for CreditReserve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreditReserve").field("block", &self.block).field("idle", &self.idle).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Account {
    open: Option<Block>,
    retired: Vec<Block>,
}

struct Block {
    hold: Uuid,
    amount: i64,
    /// Estimates of requests in flight.
    reserved: i64,
    /// Real costs of finished requests.
    spent: i64,
    last_used: Instant,
}

impl Block {
    fn free(&self) -> i64 {
        self.amount - self.reserved - self.spent
    }
}

/// A request's reservation; give it back with [`CreditReserve::finish`]. Dropping it unfinished
/// (a client that went away) returns its estimate without charge.
#[derive(Debug)]
pub struct Ticket {
    user: Uuid,
    hold: Uuid,
    estimate: i64,
    reserve: Option<Arc<CreditReserve>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(reserve) = self.reserve.take() {
            let (user, hold, estimate) = (self.user, self.hold, self.estimate);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { reserve.settle_ticket(user, hold, estimate, 0).await });
            }
        }
    }
}

/// Why a reservation failed.
#[derive(Debug)]
pub enum ReserveError {
    /// The user cannot cover the estimate.
    Insufficient {
        /// Micro-credits the request needs.
        needed: i64,
        /// Micro-credits available (not held).
        available: i64,
        /// Micro-credits held by requests still running.
        in_flight: i64,
    },
    /// The ledger failed.
    Store(StoreError),
}

impl CreditReserve {
    /// Blocks of `block_credits` credits, settled after `idle` without a request.
    pub fn new(ledger: Arc<dyn CreditLedger>, block_credits: f64, idle: Duration) -> Arc<Self> {
        let block = ((block_credits * MICROS_PER_CREDIT as f64).round() as i64).max(1);
        Arc::new(Self { ledger, block, idle, accounts: Mutex::new(HashMap::new()) })
    }

    fn account(&self, user: Uuid) -> Arc<tokio::sync::Mutex<Account>> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(accounts.entry(user).or_default())
    }

    /// Reserves `estimate` micro-credits for one request of `user`; `None` when it costs nothing.
    pub async fn reserve(self: &Arc<Self>, user: Uuid, estimate: i64) -> Result<Option<Ticket>, ReserveError> {
        if estimate <= 0 {
            return Ok(None);
        }
        let account = self.account(user);
        let mut account = account.lock().await;
        if let Some(block) = account.open.as_mut()
            && block.free() >= estimate
        {
            block.reserved += estimate;
            block.last_used = Instant::now();
            return Ok(Some(self.ticket(user, block.hold, estimate)));
        }
        // The open block cannot cover it: retire it (settled once its requests end) and hold a
        // new one, of a full block or of what the user has left.
        if let Some(block) = account.open.take() {
            self.retire(&mut account, block);
        }
        let in_flight: i64 = account.retired.iter().map(|b| b.reserved).sum();
        let insufficient = |available| ReserveError::Insufficient { needed: estimate, available, in_flight };
        let hold = |amount| self.ledger.hold(user, amount, "gateway credit block", None);
        let entry = match hold(self.block.max(estimate)).await {
            Ok(entry) => entry,
            Err(error) if error.kind == StoreErrorKind::InsufficientCredits => {
                let balance = self.ledger.balance(user).await.map_err(ReserveError::Store)?;
                if balance.available < estimate {
                    return Err(insufficient(balance.available));
                }
                match hold(balance.available).await {
                    Ok(entry) => entry,
                    Err(error) if error.kind == StoreErrorKind::InsufficientCredits => return Err(insufficient(0)),
                    Err(error) => return Err(ReserveError::Store(error)),
                }
            }
            Err(error) => return Err(ReserveError::Store(error)),
        };
        let block =
            Block { hold: entry.id, amount: entry.amount, reserved: estimate, spent: 0, last_used: Instant::now() };
        let ticket = self.ticket(user, block.hold, estimate);
        account.open = Some(block);
        Ok(Some(ticket))
    }

    fn ticket(self: &Arc<Self>, user: Uuid, hold: Uuid, estimate: i64) -> Ticket {
        Ticket { user, hold, estimate, reserve: Some(Arc::clone(self)) }
    }

    /// Ends a request: its estimate is replaced by `cost` micro-credits (0 for a failed call).
    pub async fn finish(&self, mut ticket: Ticket, cost: i64) {
        ticket.reserve = None;
        self.settle_ticket(ticket.user, ticket.hold, ticket.estimate, cost).await;
    }

    async fn settle_ticket(&self, user: Uuid, hold: Uuid, estimate: i64, cost: i64) {
        let account = self.account(user);
        let mut account = account.lock().await;
        if let Some(block) = account.open.as_mut()
            && block.hold == hold
        {
            block.reserved -= estimate;
            block.spent += cost.max(0);
            block.last_used = Instant::now();
            return;
        }
        if let Some(index) = account.retired.iter().position(|b| b.hold == hold) {
            let block = &mut account.retired[index];
            block.reserved -= estimate;
            block.spent += cost.max(0);
            if block.reserved <= 0 {
                let block = account.retired.swap_remove(index);
                self.capture(block);
            }
        }
    }

    fn retire(&self, account: &mut Account, block: Block) {
        if block.reserved <= 0 {
            self.capture(block);
        } else {
            account.retired.push(block);
        }
    }

    /// Captures a block's spending (at most its amount) and releases the rest, on its own task.
    fn capture(&self, block: Block) {
        let ledger = Arc::clone(&self.ledger);
        let spent = block.spent.min(block.amount);
        if block.spent > block.amount {
            tracing::warn!(
                hold = %block.hold,
                spent_micros = block.spent,
                held_micros = block.amount,
                "gateway requests cost more than their credit block; captured the block"
            );
        }
        tokio::spawn(async move {
            if let Err(error) = ledger.capture(block.hold, spent).await {
                tracing::error!(hold = %block.hold, error = %error, "settling a gateway credit block failed");
            }
        });
    }

    /// Settles the open blocks idle for `gateway.settle_idle_secs`; `aae serve` calls it on a
    /// timer ([`CreditReserve::run_settler`]).
    pub async fn settle_idle(&self) {
        let accounts: Vec<_> = {
            let accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            accounts.values().cloned().collect()
        };
        for account in accounts {
            let mut account = account.lock().await;
            let idle = account.open.as_ref().is_some_and(|b| b.reserved <= 0 && b.last_used.elapsed() >= self.idle);
            if idle && let Some(block) = account.open.take() {
                self.capture(block);
            }
        }
        // Forget users with nothing held, unless a request is using their entry right now.
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        accounts.retain(|_, account| {
            Arc::strong_count(account) > 1
                || account.try_lock().map_or(true, |a| a.open.is_some() || !a.retired.is_empty())
        });
    }

    /// Settles every block: open ones now; retired ones as their last request ends. Called at
    /// shutdown, after in-flight requests have drained. Waits for the ledger writes.
    pub async fn settle_all(&self) {
        let accounts: Vec<_> = {
            let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            accounts.drain().map(|(_, account)| account).collect()
        };
        for account in accounts {
            let mut account = account.lock().await;
            let blocks: Vec<Block> = account.open.take().into_iter().chain(account.retired.drain(..)).collect();
            for block in blocks {
                let spent = block.spent.min(block.amount);
                if let Err(error) = self.ledger.capture(block.hold, spent).await {
                    tracing::error!(hold = %block.hold, error = %error, "settling a gateway credit block failed");
                }
            }
        }
    }

    /// Settles idle blocks every second until `shutdown`, then settles everything.
    pub async fn run_settler(self: Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        let period = self.idle.min(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(period) => self.settle_idle().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aae_store::NewUser;
    use aae_testkit::{Engine, TestDatabase};

    async fn ledger() -> (TestDatabase, aae_store::Records, Uuid) {
        let db = TestDatabase::new(Engine::Sqlite).await.expect("db");
        let records = aae_store::open(&db.config, db.data_dir()).await.expect("records");
        let user = records.users.create(NewUser::new("r", "r@example.com")).await.expect("user");
        (db, records, user.id)
    }

    async fn eventually(records: &aae_store::Records, user: Uuid, check: impl Fn(&aae_store::Balance) -> bool) {
        for _ in 0..100 {
            if check(&records.credits.balance(user).await.expect("balance")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("balance never matched: {:?}", records.credits.balance(user).await);
    }

    #[tokio::test]
    async fn requests_draw_from_one_block_and_the_block_settles_to_the_real_cost() {
        let (_db, records, user) = ledger().await;
        records.credits.grant(user, 10_000_000, "test", None).await.expect("grant");
        let reserve = CreditReserve::new(Arc::clone(&records.credits), 1.0, Duration::from_secs(3600));
        let mut tickets = Vec::new();
        for _ in 0..10 {
            tickets.push(reserve.reserve(user, 50_000).await.expect("reserve").expect("priced"));
        }
        // One hold of one credit for ten requests.
        let holds = records.credits.entries(user, 100).await.expect("entries");
        assert_eq!(holds.iter().filter(|e| e.kind == aae_store::EntryKind::Hold).count(), 1);
        for ticket in tickets {
            reserve.finish(ticket, 1_000).await;
        }
        reserve.settle_all().await;
        let balance = records.credits.balance(user).await.expect("balance");
        assert_eq!((balance.spent, balance.held, balance.available), (10_000, 0, 10_000_000 - 10_000));
    }

    #[tokio::test]
    async fn a_full_block_is_retired_settled_and_replaced() {
        let (_db, records, user) = ledger().await;
        records.credits.grant(user, 10_000_000, "test", None).await.expect("grant");
        let reserve = CreditReserve::new(Arc::clone(&records.credits), 0.1, Duration::from_secs(3600));
        let first = reserve.reserve(user, 60_000).await.expect("reserve").expect("ticket");
        // 40,000 left in the block: the next estimate needs a new block.
        let second = reserve.reserve(user, 60_000).await.expect("reserve").expect("ticket");
        reserve.finish(first, 30_000).await;
        // The retired block settles when its last request ends: 30,000 spent, 70,000 back.
        eventually(&records, user, |b| b.spent == 30_000 && b.held == 100_000).await;
        // A dropped ticket gives its estimate back without charge.
        drop(second);
        tokio::time::sleep(Duration::from_millis(50)).await;
        reserve.settle_all().await;
        eventually(&records, user, |b| b.spent == 30_000 && b.held == 0).await;
    }

    #[tokio::test]
    async fn too_few_credits_are_refused_and_what_is_left_becomes_a_small_block() {
        let (_db, records, user) = ledger().await;
        records.credits.grant(user, 150_000, "test", None).await.expect("grant");
        let reserve = CreditReserve::new(Arc::clone(&records.credits), 1.0, Duration::from_millis(50));
        let ticket = reserve.reserve(user, 100_000).await.expect("reserve").expect("ticket");
        match reserve.reserve(user, 100_000).await {
            Err(ReserveError::Insufficient { needed, available, in_flight }) => {
                assert_eq!((needed, available, in_flight), (100_000, 0, 100_000));
            }
            other => panic!("expected insufficient credits, got {other:?}"),
        }
        reserve.finish(ticket, 120_000).await;
        // Idle blocks settle on the timer.
        reserve.settle_idle().await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        reserve.settle_idle().await;
        eventually(&records, user, |b| b.spent == 120_000 && b.held == 0 && b.available == 30_000).await;
        assert!(reserve.reserve(user, 0).await.expect("free").is_none());
    }
}
