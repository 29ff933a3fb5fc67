//! Operator commands over the records: `aae users create|grant-admin|revoke-admin`, `aae keys
//! create|list|revoke` (the gateway's API keys) and `aae credits grant|show`. Users are found by
//! email; when several accounts share one (local and Cognito), the oldest is used and a note is
//! printed on stderr.

use std::process::ExitCode;

use aae_config::Config;
use aae_server::auth::keys::{ApiKeys, KeyOptions, check_allowed_models, create_key};
use aae_server::auth::local::local_subject;
use aae_store::{MICROS_PER_CREDIT, NewUser, Records, Role, StoreErrorKind, User, UserUpdate};
use anyhow::Context;

use crate::cli::{CreditsCommand, KeysCommand, UsersCommand};

/// Runs one `aae users` subcommand.
pub async fn run(command: UsersCommand, config: Config) -> anyhow::Result<ExitCode> {
    let records = Records::from_config(&config).await?;
    let result = users(&records, command).await;
    records.close().await;
    result
}

async fn users(records: &Records, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let (email, role) = match &command {
        UsersCommand::Create { email, admin } => {
            let email = aae_server::auth::local::check_email(email).map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let user = NewUser {
                role: if *admin { Role::Admin } else { Role::User },
                ..NewUser::new(local_subject(&email), email.clone())
            };
            return match records.users.create(user).await {
                Ok(user) => {
                    println!("{}", user.id);
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) if error.kind == StoreErrorKind::Conflict => {
                    anyhow::bail!("a user with the email {email} already exists")
                }
                Err(error) => Err(error.into()),
            };
        }
        UsersCommand::GrantAdmin { email } => (email.trim(), Role::Admin),
        UsersCommand::RevokeAdmin { email } => (email.trim(), Role::User),
    };
    let users = records.users.find_by_email(email).await?;
    if users.is_empty() {
        anyhow::bail!(
            "no user has the email {email}; they must register (POST /api/v1/auth/register) or sign in once first, \
             or create them with `aae users create {email}`"
        );
    }
    for user in users {
        let updated = records.users.update(user.id, UserUpdate { role: Some(role), ..UserUpdate::default() }).await?;
        println!("{} {} is now {}", updated.id, updated.email, updated.role);
    }
    Ok(ExitCode::SUCCESS)
}

/// The user with `email` (the oldest when several share it).
async fn user_by_email(records: &Records, email: &str) -> anyhow::Result<User> {
    let email = email.trim();
    let mut users = records.users.find_by_email(email).await?;
    if users.is_empty() {
        anyhow::bail!("no user has the email {email}; create one with `aae users create {email}`");
    }
    if users.len() > 1 {
        eprintln!("note: {} accounts have the email {email}; using the oldest, {}", users.len(), users[0].id);
    }
    Ok(users.remove(0))
}

/// Runs one `aae keys` subcommand.
pub async fn keys(command: KeysCommand, config: Config) -> anyhow::Result<ExitCode> {
    let records = Records::from_config(&config).await?;
    let result = keys_on(&records, &config, command).await;
    records.close().await;
    result
}

async fn keys_on(records: &Records, config: &Config, command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create { email, name, expires_in_days, models } => {
            let user = user_by_email(records, &email).await?;
            let expires_at = match expires_in_days {
                None => None,
                Some(days @ 1..=3650) => Some(chrono::Utc::now() + chrono::Duration::days(i64::from(days))),
                Some(days) => anyhow::bail!("--expires-in-days must be 1 to 3650, not {days}"),
            };
            let models = check_allowed_models(&config.model_catalog(), &models)
                .map_err(|e| anyhow::anyhow!("--models: {} (see `aae models list`)", e.message))?;
            let created = create_key(records, user.id, KeyOptions { name, expires_at, allowed_models: models })
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("{}", created.secret);
        }
        KeysCommand::List { email, json } => {
            let user = user_by_email(records, &email).await?;
            let keys = records.api_keys.list_by_user(user.id).await?;
            if json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "id": k.id, "name": k.name, "prefix": k.prefix, "allowed_models": k.allowed_models,
                            "expires_at": k.expires_at, "created_at": k.created_at, "last_used_at": k.last_used_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for k in keys {
                    let expires = k.expires_at.map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
                    let models =
                        if k.allowed_models.is_empty() { "all".to_owned() } else { k.allowed_models.join(",") };
                    println!("{}  {}…  {}  expires {expires}  models {models}", k.id, k.prefix, k.name);
                }
            }
        }
        KeysCommand::Revoke { email, id } => {
            let user = user_by_email(records, &email).await?;
            // The same revocation as DELETE /api/v1/keys/{id}, Redis marker included.
            let keys = ApiKeys::new(records.clone(), std::time::Duration::from_secs(config.gateway.key_cache_secs));
            match keys.revoke(user.id, id).await {
                Ok(key) => println!("revoked {} ({})", key.id, key.name),
                Err(error) if error.code == aae_types::ErrorCode::NotFound => {
                    anyhow::bail!("{email} has no active key {id} (see `aae keys list {email}`)")
                }
                Err(error) => anyhow::bail!("{}", error.message),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn credits(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_CREDIT as f64
}

/// Runs one `aae credits` subcommand.
pub async fn credits_command(command: CreditsCommand, config: Config) -> anyhow::Result<ExitCode> {
    let records = Records::from_config(&config).await?;
    let result = credits_on(&records, command).await;
    records.close().await;
    result
}

async fn credits_on(records: &Records, command: CreditsCommand) -> anyhow::Result<ExitCode> {
    let (email, json) = match &command {
        CreditsCommand::Grant { email, amount, reason } => {
            if !amount.is_finite() || *amount <= 0.0 || *amount > 1e9 {
                anyhow::bail!("AMOUNT must be a number of credits above 0 and at most 1000000000, not {amount}");
            }
            let micros = (amount * MICROS_PER_CREDIT as f64).round() as i64;
            if micros == 0 {
                anyhow::bail!("AMOUNT must be at least 0.000001 credits");
            }
            let user = user_by_email(records, email).await?;
            records.credits.grant(user.id, micros, reason, None).await.context("granting credits")?;
            (email.clone(), false)
        }
        CreditsCommand::Show { email, json } => (email.clone(), *json),
    };
    let user = user_by_email(records, &email).await?;
    let balance = records.credits.balance(user.id).await?;
    if json {
        let body = serde_json::json!({
            "user_id": user.id, "email": user.email, "granted": credits(balance.granted), "held": credits(balance.held),
            "spent": credits(balance.spent), "available": credits(balance.available),
        });
        println!("{body}");
    } else {
        println!(
            "{} {}: available {} credits (granted {}, held {}, spent {})",
            user.id,
            user.email,
            credits(balance.available),
            credits(balance.granted),
            credits(balance.held),
            credits(balance.spent)
        );
    }
    Ok(ExitCode::SUCCESS)
}
