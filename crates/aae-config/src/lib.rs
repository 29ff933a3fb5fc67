//! AAE's configuration: one typed tree, layered as defaults < `aae.toml` (path from `--config` or
//! `AAE_CONFIG`) < environment variables `AAE__SECTION__KEY` < command-line flags.
//!
//! Unknown keys and invalid values are errors that name the key, where it came from and the allowed
//! values. After parsing, [`Config::validate`] checks the cross-field rules. AWS credentials are not
//! part of this tree: they come from the standard AWS variables and profiles through the AWS
//! credential chain, applied by the crates that talk to AWS.
//!
//! This crate does no network IO; probing services is the job of each subsystem.

mod api;
mod load;
mod mcp;
mod model;
mod providers;
mod validate;

pub use api::{
    AuthConfig, AuthMode, CognitoConfig, CorsConfig, GatewayConfig, RATE_LIMIT_GROUPS, RateLimitsConfig, RouteLimit,
};
pub use load::{ConfigSources, DEFAULT_CONFIG_FILE};
pub use mcp::{McpConfig, McpServerConfig, McpTransportKind};
pub use model::*;
pub use providers::*;
pub use validate::ConfigError;
