//! `aae users grant-admin|revoke-admin EMAIL`: roles of API users, for operators.

use std::process::ExitCode;

use aae_config::Config;
use aae_store::{Records, Role, UserUpdate};

use crate::cli::UsersCommand;

/// Runs one `aae users` subcommand.
pub async fn run(command: UsersCommand, config: Config) -> anyhow::Result<ExitCode> {
    let records = Records::from_config(&config).await?;
    let (email, role) = match &command {
        UsersCommand::GrantAdmin { email } => (email.trim(), Role::Admin),
        UsersCommand::RevokeAdmin { email } => (email.trim(), Role::User),
    };
    let users = records.users.find_by_email(email).await?;
    if users.is_empty() {
        records.close().await;
        anyhow::bail!(
            "no user has the email {email}; they must register (POST /api/v1/auth/register) or sign in once first"
        );
    }
    for user in users {
        let updated = records.users.update(user.id, UserUpdate { role: Some(role), ..UserUpdate::default() }).await?;
        println!("{} {} is now {}", updated.id, updated.email, updated.role);
    }
    records.close().await;
    Ok(ExitCode::SUCCESS)
}
