//! The `aae` binary: parses arguments, loads the configuration, sets up logging and hands over
//! to the command modules, which call the library crates.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: per-thread free lists instead of glibc's arenas; under API load glibc's malloc and
/// free took a fifth of the server's CPU (docs/benchmarks.md, HTTP API).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match aae_config::Config::load(&cli.global.sources(&cli.command)) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    commands::init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, config)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
