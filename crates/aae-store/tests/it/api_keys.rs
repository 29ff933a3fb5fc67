//! ApiKeyStore: creation and validation, lookup by hash, listing, revocation by the owner only,
//! last use, expiry, allowed models, and deletion of the user.

use aae_store::{ApiKey, NewApiKey, StoreErrorKind, User};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::support::{TestDb, user};

/// A stand-in for the sha256 hex the server stores.
fn hash(label: &str) -> String {
    format!("{label:0>64}")
}

/// Now, at the microsecond precision both engines keep.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

fn new_key(owner: &User, name: &str, label: &str) -> NewApiKey {
    NewApiKey {
        user_id: owner.id,
        name: name.to_owned(),
        prefix: format!("aae-sk-{}", &label[..label.len().min(4)]),
        key_hash: hash(label),
        allowed_models: Vec::new(),
        expires_at: None,
    }
}

async fn api_keys_are_created_found_and_listed_newest_first(db: &TestDb) {
    let keys = &db.records.api_keys;
    let alice = user(db, "alice").await;
    let bob = user(db, "bob").await;
    let before = now();
    let mut created = Vec::new();
    for (name, label) in [("laptop", "k1"), ("ci", "k2"), ("script", "k3")] {
        created.push(keys.create(new_key(&alice, name, label)).await.unwrap());
        // Distinct creation times, so newest first is one order.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let first = &created[0];
    assert_eq!((first.user_id, first.name.as_str(), first.prefix.as_str()), (alice.id, "laptop", "aae-sk-k1"));
    assert_eq!((first.expires_at, first.last_used_at, first.revoked_at), (None, None, None));
    assert!(first.allowed_models.is_empty());
    assert!(first.created_at >= before && first.is_active(Utc::now()));

    assert_eq!(&keys.find_by_hash(&hash("k2")).await.unwrap(), &created[1]);
    let missing = keys.find_by_hash(&hash("nope")).await.unwrap_err();
    assert_eq!(missing.kind, StoreErrorKind::NotFound);
    assert!(!missing.to_string().contains(&hash("nope")), "errors never carry the hash: {missing}");

    let listed = keys.list_by_user(alice.id).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["script", "ci", "laptop"]);
    assert_eq!(listed[2], created[0]);
    assert!(keys.list_by_user(bob.id).await.unwrap().is_empty());
    assert!(keys.list_by_user(Uuid::new_v4()).await.unwrap().is_empty());
}

async fn api_key_creation_is_validated(db: &TestDb) {
    let keys = &db.records.api_keys;
    let alice = user(db, "alice").await;
    let bob = user(db, "bob").await;
    let kind = |result: Result<ApiKey, aae_store::StoreError>| result.unwrap_err().kind;

    assert_eq!(kind(keys.create(new_key(&alice, "", "empty")).await), StoreErrorKind::Invalid);
    assert_eq!(kind(keys.create(new_key(&alice, " ", "blank")).await), StoreErrorKind::Invalid);
    assert_eq!(kind(keys.create(new_key(&alice, &"n".repeat(101), "long")).await), StoreErrorKind::Invalid);
    keys.create(new_key(&alice, &"n".repeat(100), "longest")).await.unwrap();
    let mut no_hash = new_key(&alice, "ci", "x");
    no_hash.key_hash = String::new();
    assert_eq!(kind(keys.create(no_hash).await), StoreErrorKind::Invalid);

    keys.create(new_key(&alice, "ci", "taken")).await.unwrap();
    let duplicate = keys.create(new_key(&alice, "again", "taken")).await.unwrap_err();
    assert_eq!(duplicate.kind, StoreErrorKind::Conflict, "{duplicate}");
    assert!(!duplicate.to_string().contains(&hash("taken")), "errors never carry the hash: {duplicate}");
    assert_eq!(kind(keys.create(new_key(&bob, "bob's", "taken")).await), StoreErrorKind::Conflict);

    let ghost = User { id: Uuid::new_v4(), ..alice.clone() };
    let unknown = keys.create(new_key(&ghost, "ghost", "ghost")).await.unwrap_err();
    assert_eq!(unknown.kind, StoreErrorKind::NotFound, "{unknown}");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM api_keys").await, 2, "failed creations store nothing");
}

async fn api_keys_are_revoked_by_their_owner_only(db: &TestDb) {
    let keys = &db.records.api_keys;
    let alice = user(db, "alice").await;
    let bob = user(db, "bob").await;
    let kept = keys.create(new_key(&alice, "kept", "kept")).await.unwrap();
    let key = keys.create(new_key(&alice, "ci", "ci")).await.unwrap();

    let foreign = keys.revoke(bob.id, key.id).await.unwrap_err();
    assert_eq!(foreign.kind, StoreErrorKind::NotFound, "another user's key is not found");
    assert_eq!(keys.revoke(alice.id, Uuid::new_v4()).await.unwrap_err().kind, StoreErrorKind::NotFound);
    assert!(keys.find_by_hash(&hash("ci")).await.unwrap().is_active(Utc::now()), "bob revoked nothing");

    let before = now();
    let revoked = keys.revoke(alice.id, key.id).await.unwrap();
    assert_eq!(revoked.id, key.id);
    assert!(revoked.revoked_at.is_some_and(|at| at >= before), "{revoked:?}");
    assert!(!revoked.is_active(Utc::now()));
    assert_eq!(keys.revoke(alice.id, key.id).await.unwrap_err().kind, StoreErrorKind::NotFound, "already revoked");

    let found = keys.find_by_hash(&hash("ci")).await.unwrap();
    assert_eq!(found, revoked, "a revoked key is still found, with its state");
    assert_eq!(keys.list_by_user(alice.id).await.unwrap(), [kept], "listings leave revoked keys out");
    assert!(keys.find_by_hash(&hash("kept")).await.unwrap().is_active(Utc::now()));
}

async fn api_key_touch_keeps_the_latest_use(db: &TestDb) {
    let keys = &db.records.api_keys;
    let alice = user(db, "alice").await;
    let key = keys.create(new_key(&alice, "ci", "ci")).await.unwrap();
    let other = keys.create(new_key(&alice, "other", "other")).await.unwrap();
    let t1 = now();
    let last_used = |label: &'static str| async move { keys.find_by_hash(&hash(label)).await.unwrap().last_used_at };

    keys.touch(key.id, t1).await.unwrap();
    assert_eq!(last_used("ci").await, Some(t1));
    keys.touch(key.id, t1 - Duration::seconds(5)).await.unwrap();
    assert_eq!(last_used("ci").await, Some(t1), "an earlier use does not move it back");
    let t2 = t1 + Duration::milliseconds(1500);
    keys.touch(key.id, t2).await.unwrap();
    assert_eq!(last_used("ci").await, Some(t2));
    assert_eq!(last_used("other").await, None, "only {} was touched", key.id);
    keys.touch(Uuid::new_v4(), t2).await.unwrap();

    keys.revoke(alice.id, other.id).await.unwrap();
    keys.touch(other.id, t2).await.unwrap();
}

async fn api_key_expiry_shows_in_is_active(db: &TestDb) {
    let keys = &db.records.api_keys;
    let alice = user(db, "alice").await;
    let expired_at = now() - Duration::seconds(1);
    let expires_at = now() + Duration::days(30);
    let mut expired = new_key(&alice, "old", "old");
    expired.expires_at = Some(expired_at);
    let mut expiring = new_key(&alice, "month", "month");
    expiring.expires_at = Some(expires_at);
    keys.create(expired).await.unwrap();
    keys.create(expiring).await.unwrap();
    keys.create(new_key(&alice, "forever", "forever")).await.unwrap();

    let old = keys.find_by_hash(&hash("old")).await.unwrap();
    assert_eq!(old.expires_at, Some(expired_at));
    assert!(!old.is_active(Utc::now()), "an expired key is found but not active");
    let month = keys.find_by_hash(&hash("month")).await.unwrap();
    assert_eq!(month.expires_at, Some(expires_at));
    assert!(month.is_active(Utc::now()));
    assert!(!month.is_active(expires_at + Duration::seconds(1)));
    let forever = keys.find_by_hash(&hash("forever")).await.unwrap();
    assert!(forever.is_active(Utc::now() + Duration::days(3650)));
    assert_eq!(keys.list_by_user(alice.id).await.unwrap().len(), 3, "expired keys are still listed");
}

async fn api_key_allowed_models_round_trip(db: &TestDb) {
    let keys = &db.records.api_keys;
    let alice = user(db, "alice").await;
    let models = vec!["gpt-4o".to_owned(), "claude-sonnet-4".to_owned(), "gemini-2.5-pro".to_owned()];
    let mut limited = new_key(&alice, "limited", "limited");
    limited.allowed_models = models.clone();
    let created = keys.create(limited).await.unwrap();
    assert_eq!(created.allowed_models, models);
    assert_eq!(keys.find_by_hash(&hash("limited")).await.unwrap().allowed_models, models);
    keys.create(new_key(&alice, "any", "any")).await.unwrap();
    assert!(keys.find_by_hash(&hash("any")).await.unwrap().allowed_models.is_empty(), "empty means every model");
    let listed = keys.list_by_user(alice.id).await.unwrap();
    assert!(listed.iter().any(|k| k.allowed_models == models));
}

async fn api_keys_go_with_their_user(db: &TestDb) {
    let keys = &db.records.api_keys;
    let alice = user(db, "alice").await;
    let bob = user(db, "bob").await;
    keys.create(new_key(&alice, "a1", "a1")).await.unwrap();
    let revoked = keys.create(new_key(&alice, "a2", "a2")).await.unwrap();
    keys.revoke(alice.id, revoked.id).await.unwrap();
    keys.create(new_key(&bob, "b1", "b1")).await.unwrap();

    db.records.users.delete(alice.id).await.unwrap();
    assert_eq!(keys.find_by_hash(&hash("a1")).await.unwrap_err().kind, StoreErrorKind::NotFound);
    assert_eq!(keys.find_by_hash(&hash("a2")).await.unwrap_err().kind, StoreErrorKind::NotFound);
    assert!(keys.list_by_user(alice.id).await.unwrap().is_empty());
    assert_eq!(db.scalar("SELECT COUNT(*) FROM api_keys").await, 1, "bob's key stays");
    assert_eq!(keys.find_by_hash(&hash("b1")).await.unwrap().user_id, bob.id);
}

crate::conformance!(
    api_keys_are_created_found_and_listed_newest_first,
    api_key_creation_is_validated,
    api_keys_are_revoked_by_their_owner_only,
    api_key_touch_keeps_the_latest_use,
    api_key_expiry_shows_in_is_active,
    api_key_allowed_models_round_trip,
    api_keys_go_with_their_user,
);
