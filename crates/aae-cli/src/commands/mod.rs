//! Command implementations.

mod campaign;
mod chat;
mod config_check;
mod db;
mod generate;
mod jobs;
mod mcp;
mod migrate;
mod models;
mod serve;
mod storage;
mod users;
mod worker;

use std::process::ExitCode;

use aae_config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

use crate::cli::{Command, ConfigCommand, DbCommand, ModelsCommand};

pub use generate::parse_size;

/// Logs go to stderr so stdout carries only command output.
pub fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs one command.
pub async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(_) => serve::run(config).await,
        Command::Config(ConfigCommand::Check { json }) => config_check::run(config, json).await,
        Command::Storage(command) => storage::run(command, config).await,
        Command::Jobs(command) => jobs::run(command, config).await,
        Command::Worker(args) => worker::run(config, args).await,
        Command::Models(ModelsCommand::List { json }) => models::list(&config, json),
        Command::Models(ModelsCommand::Fetch { json }) => models::fetch(&config, json).await,
        Command::Chat(args) => chat::run(&config, args).await,
        Command::Generate(command) => generate::run(&config, command).await,
        Command::Campaign(command) => campaign::run(command, config).await,
        Command::Mcp(command) => mcp::run(command, config).await,
        Command::Users(command) => users::run(command, config).await,
        Command::Keys(command) => users::keys(command, config).await,
        Command::Credits(command) => users::credits_command(command, config).await,
        Command::Db(DbCommand::Migrate { json }) => db::migrate(config, json).await,
        Command::Db(DbCommand::ImportRedis { url, pattern, json }) => {
            db::import_redis(config, url, &pattern, json).await
        }
    }
}
