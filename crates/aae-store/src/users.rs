//! Users: one row per person, keyed by AAE's UUID and by the identity provider's subject (seed 002
//! `users`, whose `clerk_user_id` column holds the subject).

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::row::SqlRow;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A regular user (default).
    User,
    /// An administrator.
    Admin,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            other => Err(StoreError::invalid("user", format!("role `{other}` is not one of user, admin"))),
        }
    }
}

/// A user record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// AAE's id.
    pub id: Uuid,
    /// The identity provider's subject (seed 002 `clerk_user_id`; a Cognito `sub`, a local
    /// account id, …). Unique.
    pub subject: String,
    /// Email address.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Display name.
    pub name: Option<String>,
    /// Free-form metadata (`null` when unset).
    pub metadata: Value,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

/// The fields of a new user.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    /// The identity provider's subject; must not be empty.
    pub subject: String,
    /// Email address; must not be empty.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Display name.
    pub name: Option<String>,
    /// Free-form metadata.
    pub metadata: Value,
}

impl NewUser {
    /// A regular user with no name or metadata.
    pub fn new(subject: impl Into<String>, email: impl Into<String>) -> Self {
        Self { subject: subject.into(), email: email.into(), role: Role::User, name: None, metadata: Value::Null }
    }

    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.subject.trim().is_empty() {
            return Err(StoreError::invalid("user", "subject must not be empty"));
        }
        if self.email.trim().is_empty() {
            return Err(StoreError::invalid("user", "email must not be empty"));
        }
        Ok(())
    }
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    /// New email.
    pub email: Option<String>,
    /// New display name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// New role.
    pub role: Option<Role>,
    /// New metadata (replaces the old value).
    pub metadata: Option<Value>,
}

/// User records.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user with a new id. `Conflict` when the subject is taken; `Invalid` when the
    /// subject or email is empty.
    async fn create(&self, user: NewUser) -> StoreResult<User>;

    /// Returns the user with `user.subject`, creating it when missing (first sign-in). An existing
    /// user keeps its id and role; its email and name are refreshed from `user`.
    async fn upsert_by_subject(&self, user: NewUser) -> StoreResult<User>;

    /// The user with `id`; `NotFound` otherwise.
    async fn get(&self, id: Uuid) -> StoreResult<User>;

    /// The user with the identity provider subject `subject`; `NotFound` otherwise.
    async fn get_by_subject(&self, subject: &str) -> StoreResult<User>;

    /// The users whose email matches `email` ignoring case (ASCII letters on both engines;
    /// PostgreSQL's `lower` folds other letters too), oldest first. Emails are not unique (users
    /// of different identity providers may share one), so this may return several; empty when
    /// none.
    async fn find_by_email(&self, email: &str) -> StoreResult<Vec<User>>;

    /// Applies `update` and returns the new record; `NotFound` when the user does not exist.
    async fn update(&self, id: Uuid, update: UserUpdate) -> StoreResult<User>;

    /// Users ordered by creation time, oldest first, skipping `offset` and returning at most
    /// `limit`.
    async fn list(&self, limit: u32, offset: u64) -> StoreResult<Vec<User>>;

    /// Deletes the user and what only it owns (local credentials, refresh tokens, preferences,
    /// credits, conversations, documents, usage). `NotFound` when missing; `Conflict` while jobs or files still reference it.
    async fn delete(&self, id: Uuid) -> StoreResult<()>;
}

pub(crate) const USER_COLUMNS: &str = "id, clerk_user_id, email, role, name, metadata, created_at, updated_at";

pub(crate) fn user_from_row(row: &impl SqlRow) -> StoreResult<User> {
    Ok(User {
        id: row.uuid("id")?,
        subject: row.text("clerk_user_id")?,
        email: row.text("email")?,
        role: row.text("role")?.parse().map_err(|e: StoreError| StoreError::corrupt("user", e.message))?,
        name: row.opt_text("name")?,
        metadata: row.json("metadata")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_unknown_values() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn new_users_need_a_subject_and_an_email() {
        assert!(NewUser::new("sub-1", "a@example.com").check().is_ok());
        assert!(NewUser::new(" ", "a@example.com").check().is_err());
        assert!(NewUser::new("sub-1", "").check().is_err());
    }
}
