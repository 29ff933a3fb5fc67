//! AuthStore: local passwords and refresh tokens, including rotation with reuse detection, expiry,
//! concurrent rotation of one token, and deletion of the user.

use std::sync::Arc;

use aae_store::{StoreErrorKind, User};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::support::{TestDb, user};

/// A stand-in for the sha256 hex the server stores.
fn hash(label: &str) -> String {
    format!("{label:0>64}")
}

fn in_days(days: i64) -> DateTime<Utc> {
    Utc::now() + Duration::days(days)
}

async fn active_tokens(db: &TestDb, user: &User) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = '{}' AND revoked_at IS NULL", user.id);
    db.scalar(&sql).await
}

async fn passwords_are_set_and_replaced(db: &TestDb) {
    let auth = &db.records.auth;
    let alice = user(db, "alice").await;
    assert_eq!(auth.password_hash(alice.id).await.unwrap(), None);
    auth.set_password(alice.id, "$argon2id$v=19$first").await.unwrap();
    assert_eq!(auth.password_hash(alice.id).await.unwrap().as_deref(), Some("$argon2id$v=19$first"));
    auth.set_password(alice.id, "$argon2id$v=19$second").await.unwrap();
    assert_eq!(auth.password_hash(alice.id).await.unwrap().as_deref(), Some("$argon2id$v=19$second"));
    assert_eq!(auth.set_password(Uuid::new_v4(), "$argon2id$x").await.unwrap_err().kind, StoreErrorKind::Conflict);
    assert_eq!(auth.set_password(alice.id, "").await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!(auth.password_hash(Uuid::new_v4()).await.unwrap(), None);
}

async fn refresh_tokens_rotate_and_a_replay_revokes_the_family(db: &TestDb) {
    let auth = &db.records.auth;
    let alice = user(db, "alice").await;
    let expires = in_days(30);
    let first = auth.issue_refresh(alice.id, &hash("a1"), expires).await.unwrap();
    assert_eq!((first.user_id, first.revoked_at), (alice.id, None));
    assert_eq!(first.expires_at.timestamp_micros(), expires.timestamp_micros());
    assert_eq!(auth.issue_refresh(alice.id, &hash("a1"), expires).await.unwrap_err().kind, StoreErrorKind::Conflict);
    let missing = auth.issue_refresh(Uuid::new_v4(), &hash("x"), expires).await.unwrap_err();
    assert_eq!(missing.kind, StoreErrorKind::Conflict);
    let too_long = "f".repeat(65);
    assert_eq!(auth.issue_refresh(alice.id, &too_long, expires).await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!(auth.rotate_refresh(&hash("a1"), "", expires).await.unwrap_err().kind, StoreErrorKind::Invalid);

    let second = auth.rotate_refresh(&hash("a1"), &hash("a2"), in_days(31)).await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!((second.user_id, second.revoked_at), (alice.id, None));
    let third = auth.rotate_refresh(&hash("a2"), &hash("a3"), in_days(31)).await.unwrap();
    assert_eq!(active_tokens(db, &alice).await, 1, "rotation revokes the token it replaces");
    let unknown = auth.rotate_refresh(&hash("nope"), &hash("n2"), expires).await.unwrap_err();
    assert_eq!(unknown.kind, StoreErrorKind::NotFound);
    assert!(!unknown.to_string().contains(&hash("nope")), "errors never carry the hash: {unknown}");
    assert_eq!(active_tokens(db, &alice).await, 1, "an unknown token revokes nothing");

    // Another session of the same user, and one of someone else.
    auth.issue_refresh(alice.id, &hash("phone"), expires).await.unwrap();
    let bob = user(db, "bob").await;
    auth.issue_refresh(bob.id, &hash("bob"), expires).await.unwrap();

    // `a1` was rotated: presenting it again is a replay, which ends every session of alice's.
    let replay = auth.rotate_refresh(&hash("a1"), &hash("thief"), in_days(30)).await.unwrap_err();
    assert_eq!(replay.kind, StoreErrorKind::NotFound);
    assert_eq!(active_tokens(db, &alice).await, 0);
    let current = auth.rotate_refresh(&hash("a3"), &hash("a4"), in_days(30)).await.unwrap_err();
    assert_eq!(current.kind, StoreErrorKind::NotFound, "the token rotated to ({}) is revoked too", third.id);
    assert_eq!(
        auth.rotate_refresh(&hash("phone"), &hash("p2"), expires).await.unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(active_tokens(db, &bob).await, 1, "other users keep their sessions");
    auth.rotate_refresh(&hash("bob"), &hash("bob2"), expires).await.unwrap();
}

async fn expired_refresh_tokens_are_not_found(db: &TestDb) {
    let auth = &db.records.auth;
    let alice = user(db, "alice").await;
    auth.issue_refresh(alice.id, &hash("old"), Utc::now() - Duration::seconds(1)).await.unwrap();
    auth.issue_refresh(alice.id, &hash("live"), in_days(1)).await.unwrap();
    let expired = auth.rotate_refresh(&hash("old"), &hash("new"), in_days(1)).await.unwrap_err();
    assert_eq!(expired.kind, StoreErrorKind::NotFound);
    assert_eq!(active_tokens(db, &alice).await, 2, "an expired token is no replay: nothing revoked");
    assert!(!auth.revoke_refresh(&hash("old")).await.unwrap(), "an expired token is not active");
    auth.rotate_refresh(&hash("live"), &hash("live2"), in_days(1)).await.unwrap();
}

async fn refresh_tokens_are_revoked_one_by_one_or_all(db: &TestDb) {
    let auth = &db.records.auth;
    let alice = user(db, "alice").await;
    let bob = user(db, "bob").await;
    for label in ["laptop", "phone", "tablet"] {
        auth.issue_refresh(alice.id, &hash(label), in_days(7)).await.unwrap();
    }
    auth.issue_refresh(alice.id, &hash("expired"), Utc::now() - Duration::seconds(1)).await.unwrap();
    auth.issue_refresh(bob.id, &hash("bob"), in_days(7)).await.unwrap();

    assert!(auth.revoke_refresh(&hash("laptop")).await.unwrap());
    assert!(!auth.revoke_refresh(&hash("laptop")).await.unwrap(), "already revoked");
    assert!(!auth.revoke_refresh(&hash("unknown")).await.unwrap());
    let signed_out = auth.rotate_refresh(&hash("laptop"), &hash("laptop2"), in_days(7)).await.unwrap_err();
    assert_eq!(signed_out.kind, StoreErrorKind::NotFound);

    let phone = auth.issue_refresh(alice.id, &hash("phone-2"), in_days(7)).await.unwrap();
    assert_eq!(auth.revoke_all(alice.id).await.unwrap(), 1, "the replay above revoked the others");
    assert_eq!(auth.revoke_all(alice.id).await.unwrap(), 0);
    assert_eq!(auth.revoke_all(Uuid::new_v4()).await.unwrap(), 0);
    let rotated = auth.rotate_refresh(&hash("phone-2"), &hash("phone-3"), in_days(7)).await.unwrap_err();
    assert_eq!(rotated.kind, StoreErrorKind::NotFound, "{} was revoked", phone.id);
    assert_eq!(active_tokens(db, &bob).await, 1);
    assert_eq!(auth.revoke_all(bob.id).await.unwrap(), 1);
}

async fn concurrent_rotations_of_one_token_have_one_winner(db: &TestDb) {
    let auth = Arc::clone(&db.records.auth);
    let alice = user(db, "alice").await;
    auth.issue_refresh(alice.id, &hash("shared"), in_days(1)).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let auth = Arc::clone(&auth);
            tokio::spawn(
                async move { auth.rotate_refresh(&hash("shared"), &hash(&format!("next{i}")), in_days(1)).await },
            )
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(token) => winners.push(token),
            Err(error) => assert_eq!(error.kind, StoreErrorKind::NotFound, "{error}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins: {winners:?}");
    assert_eq!(winners[0].user_id, alice.id);
    // The seven others presented a token that was revoked by then: replays, which revoke the
    // winner's new token as well.
    assert_eq!(active_tokens(db, &alice).await, 0);
    let total = db.scalar("SELECT COUNT(*) FROM refresh_tokens").await;
    assert_eq!(total, 2, "one old and one new token, nothing else inserted");
}

async fn deleting_a_user_removes_credentials_and_tokens(db: &TestDb) {
    let auth = &db.records.auth;
    let alice = user(db, "alice").await;
    auth.set_password(alice.id, "$argon2id$v=19$x").await.unwrap();
    auth.issue_refresh(alice.id, &hash("a"), in_days(1)).await.unwrap();
    auth.rotate_refresh(&hash("a"), &hash("b"), in_days(1)).await.unwrap();
    db.records.users.delete(alice.id).await.unwrap();
    assert_eq!(auth.password_hash(alice.id).await.unwrap(), None);
    assert_eq!(
        auth.rotate_refresh(&hash("b"), &hash("c"), in_days(1)).await.unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM refresh_tokens").await, 0);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM local_credentials").await, 0);
}

crate::conformance!(
    passwords_are_set_and_replaced,
    refresh_tokens_rotate_and_a_replay_revokes_the_family,
    expired_refresh_tokens_are_not_found,
    refresh_tokens_are_revoked_one_by_one_or_all,
    concurrent_rotations_of_one_token_have_one_winner,
    deleting_a_user_removes_credentials_and_tokens,
);
