//! CreditLedger, including the race: 50 concurrent holds against a balance that covers 10.

use std::sync::Arc;

use aae_store::{Balance, EntryKind, StoreErrorKind};

use crate::support::{TestDb, user};

async fn grant_hold_capture_release(db: &TestDb) {
    let alice = user(db, "alice").await;
    let ledger = &db.records.credits;
    assert_eq!(ledger.balance(alice.id).await.unwrap(), Balance::from_sums(0, 0, 0, 0));
    ledger.grant(alice.id, 1_000, "signup", Some("signup-bonus")).await.unwrap();
    let replay = ledger.grant(alice.id, 1_000, "signup", Some("signup-bonus")).await.unwrap();
    assert_eq!(replay.kind, EntryKind::Grant);
    assert_eq!(ledger.balance(alice.id).await.unwrap().granted, 1_000, "an idempotent replay writes nothing");
    let reused = ledger.grant(alice.id, 5, "other", Some("signup-bonus")).await.unwrap_err();
    assert_eq!(reused.kind, StoreErrorKind::Conflict);

    let hold = ledger.hold(alice.id, 300, "chat", None).await.unwrap();
    assert_eq!(
        ledger.balance(alice.id).await.unwrap(),
        Balance { granted: 1_000, held: 300, spent: 0, available: 700 }
    );
    let settled = ledger.capture(hold.id, 120).await.unwrap();
    assert_eq!(settled.capture.as_ref().map(|e| e.amount), Some(120));
    assert_eq!(settled.release.as_ref().map(|e| (e.amount, e.hold_id)), Some((180, Some(hold.id))));
    assert_eq!(
        ledger.balance(alice.id).await.unwrap(),
        Balance { granted: 1_000, held: 0, spent: 120, available: 880 }
    );
    assert_eq!(ledger.capture(hold.id, 1).await.unwrap_err().kind, StoreErrorKind::Conflict);
    assert_eq!(ledger.release(hold.id).await.unwrap_err().kind, StoreErrorKind::Conflict);

    // A failed generation gives the credits back.
    let failed = ledger.hold(alice.id, 500, "video", Some("job-7")).await.unwrap();
    assert_eq!(ledger.hold(alice.id, 500, "video", Some("job-7")).await.unwrap().id, failed.id);
    assert_eq!(ledger.capture(failed.id, 501).await.unwrap_err().kind, StoreErrorKind::Invalid);
    let released = ledger.release(failed.id).await.unwrap();
    assert_eq!((released.kind, released.amount), (EntryKind::Release, 500));
    assert_eq!(ledger.balance(alice.id).await.unwrap().available, 880);

    let too_much = ledger.hold(alice.id, 881, "big", None).await.unwrap_err();
    assert_eq!(too_much.kind, StoreErrorKind::InsufficientCredits);
    assert!(too_much.to_string().contains("available 880"), "{too_much}");
    assert_eq!(ledger.hold(alice.id, 0, "zero", None).await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!(ledger.release(uuid::Uuid::new_v4()).await.unwrap_err().kind, StoreErrorKind::NotFound);

    let entries = ledger.entries(alice.id, 100).await.unwrap();
    assert_eq!(entries.len(), 6, "grant, hold, capture, release, hold, release: {entries:?}");
    assert_eq!(entries.last().map(|e| e.kind), Some(EntryKind::Grant), "newest first");
}

async fn concurrent_holds_never_overdraw(db: &TestDb) {
    let alice = user(db, "alice").await;
    let ledger = Arc::clone(&db.records.credits);
    ledger.grant(alice.id, 10 * 100, "covers exactly ten holds", None).await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let ledger = Arc::clone(&ledger);
            tokio::spawn(async move { ledger.hold(alice.id, 100, &format!("request {i}"), None).await })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => granted += 1,
            Err(e) => assert_eq!(e.kind, StoreErrorKind::InsufficientCredits, "{e}"),
        }
    }
    assert_eq!(granted, 10);
    assert_eq!(
        ledger.balance(alice.id).await.unwrap(),
        Balance { granted: 1_000, held: 1_000, spent: 0, available: 0 }
    );
}

async fn ledger_is_append_only(db: &TestDb) {
    let alice = user(db, "alice").await;
    db.records.credits.grant(alice.id, 10, "x", None).await.unwrap();
    let error = db.execute("UPDATE credit_entries SET amount = 1000000").await.unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
    assert_eq!(db.records.credits.balance(alice.id).await.unwrap().granted, 10);
}

async fn open_holds_by_key_prefix(db: &TestDb) {
    let alice = user(db, "alice").await;
    let bob = user(db, "bob").await;
    let ledger = &db.records.credits;
    ledger.grant(alice.id, 1_000, "x", None).await.unwrap();
    ledger.grant(bob.id, 1_000, "x", None).await.unwrap();
    let first = ledger.hold(alice.id, 10, "campaign", Some("campaign:c_1:job:j:attempt:1")).await.unwrap();
    let settled = ledger.hold(alice.id, 10, "campaign", Some("campaign:c_1:job:j:attempt:2")).await.unwrap();
    ledger.capture(settled.id, 4).await.unwrap();
    let third = ledger.hold(alice.id, 10, "campaign", Some("campaign:c_1:job:k:attempt:1")).await.unwrap();
    // Neither another campaign, a key where the prefix's `_` would match any character, nor
    // another user's hold is found.
    ledger.hold(alice.id, 10, "campaign", Some("campaign:c_10:job:j:attempt:1")).await.unwrap();
    ledger.hold(alice.id, 10, "campaign", Some("campaign:cx1:job:j:attempt:1")).await.unwrap();
    ledger.hold(alice.id, 10, "no key", None).await.unwrap();
    ledger.hold(bob.id, 10, "campaign", Some("campaign:c_1:job:j:attempt:1")).await.unwrap();
    let open: Vec<_> = ledger.open_holds(alice.id, "campaign:c_1:").await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(open, [first.id, third.id], "oldest first, settled ones left out");
    ledger.release(first.id).await.unwrap();
    let open: Vec<_> = ledger.open_holds(alice.id, "campaign:c_1:").await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(open, [third.id]);
}

crate::conformance!(
    grant_hold_capture_release,
    concurrent_holds_never_overdraw,
    ledger_is_append_only,
    open_holds_by_key_prefix
);
