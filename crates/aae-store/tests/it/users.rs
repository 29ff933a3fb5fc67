//! UserStore and PreferenceStore.

use aae_store::{NewUser, Role, StoreErrorKind, UserUpdate};
use serde_json::json;

use crate::support::{TestDb, user};

async fn users_round_trip(db: &TestDb) {
    let users = &db.records.users;
    let mut new = NewUser::new("idp|alice", "alice@example.com");
    new.name = Some("Alice".into());
    new.metadata = json!({"plan": "pro"});
    let alice = users.create(new.clone()).await.unwrap();
    assert_eq!((alice.subject.as_str(), alice.role), ("idp|alice", Role::User));
    assert_eq!(users.get(alice.id).await.unwrap(), alice);
    assert_eq!(users.get_by_subject("idp|alice").await.unwrap(), alice);
    assert_eq!(users.create(new.clone()).await.unwrap_err().kind, StoreErrorKind::Conflict);
    assert_eq!(users.create(NewUser::new("", "x@example.com")).await.unwrap_err().kind, StoreErrorKind::Invalid);

    let mut again = new.clone();
    again.email = "alice@new.example.com".into();
    again.role = Role::Admin;
    let upserted = users.upsert_by_subject(again).await.unwrap();
    assert_eq!(upserted.id, alice.id, "an existing subject keeps its id");
    assert_eq!(upserted.role, Role::User, "upsert never changes the role");
    assert_eq!(upserted.email, "alice@new.example.com");
    let bob = users.upsert_by_subject(NewUser::new("idp|bob", "bob@example.com")).await.unwrap();
    assert_ne!(bob.id, alice.id);

    let update = UserUpdate { role: Some(Role::Admin), name: Some(None), ..Default::default() };
    let updated = users.update(alice.id, update).await.unwrap();
    assert_eq!((updated.role, updated.name.as_deref()), (Role::Admin, None));
    assert_eq!(updated.metadata, json!({"plan": "pro"}), "untouched fields stay");
    assert!(updated.updated_at >= alice.updated_at);

    let listed = users.list(10, 0).await.unwrap();
    assert_eq!(listed.iter().map(|u| u.id).collect::<Vec<_>>(), vec![alice.id, bob.id]);
    assert_eq!(users.list(10, 1).await.unwrap().len(), 1);

    users.delete(bob.id).await.unwrap();
    assert_eq!(users.get(bob.id).await.unwrap_err().kind, StoreErrorKind::NotFound);
    assert_eq!(users.delete(bob.id).await.unwrap_err().kind, StoreErrorKind::NotFound);
    assert_eq!(users.get_by_subject("idp|nobody").await.unwrap_err().kind, StoreErrorKind::NotFound);
}

async fn preferences_are_set_replaced_and_cleared(db: &TestDb) {
    let alice = user(db, "alice").await;
    let prefs = &db.records.preferences;
    assert_eq!(prefs.get(alice.id).await.unwrap(), None);
    let set = prefs.set(alice.id, "gemini", "gemini-2.5-flash").await.unwrap();
    assert_eq!(
        (set.conversational_provider.as_str(), set.conversational_model.as_str()),
        ("gemini", "gemini-2.5-flash")
    );
    let replaced = prefs.set(alice.id, "bedrock", "claude-4.5-sonnet").await.unwrap();
    assert_eq!(prefs.get(alice.id).await.unwrap(), Some(replaced));
    assert_eq!(prefs.set(alice.id, "", "x").await.unwrap_err().kind, StoreErrorKind::Invalid);
    let missing = uuid::Uuid::new_v4();
    assert_eq!(prefs.set(missing, "gemini", "gemini-2.5-pro").await.unwrap_err().kind, StoreErrorKind::Conflict);
    assert!(prefs.clear(alice.id).await.unwrap());
    assert!(!prefs.clear(alice.id).await.unwrap());
    // Deleting a user removes what only it owns.
    prefs.set(alice.id, "gemini", "gemini-2.5-pro").await.unwrap();
    db.records.users.delete(alice.id).await.unwrap();
    assert_eq!(prefs.get(alice.id).await.unwrap(), None);
}

async fn users_are_found_by_email_ignoring_case(db: &TestDb) {
    let users = &db.records.users;
    let first = users.create(NewUser::new("local|1", "Alice@Example.com")).await.unwrap();
    let second = users.create(NewUser::new("cognito|2", "alice@example.COM")).await.unwrap();
    users.create(NewUser::new("local|3", "bob@example.com")).await.unwrap();
    let found = users.find_by_email("ALICE@example.com").await.unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), vec![first.id, second.id], "oldest first");
    assert_eq!(found[0].email, "Alice@Example.com", "stored as given");
    assert_eq!(users.find_by_email("bob@example.com").await.unwrap().len(), 1);
    assert!(users.find_by_email("carol@example.com").await.unwrap().is_empty());
    assert!(users.find_by_email("alice@example").await.unwrap().is_empty(), "whole addresses only");
}

crate::conformance!(users_round_trip, preferences_are_set_replaced_and_cleared, users_are_found_by_email_ignoring_case);
