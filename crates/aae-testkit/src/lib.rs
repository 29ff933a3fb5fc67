//! Test kit for AAE (dev-only): the local servers and fault injection that integration tests use.
//!
//! Owns:
//! - [`start_s3s_fs`]: an in-process s3s-fs S3 server with real SigV4 checking, one per test;
//! - [`moto()`]: a handle to the shared moto server (S3, DynamoDB, Cognito, ...), which it starts
//!   through `scripts/test-servers.sh` when nothing answers;
//! - [`dynalite()`]: a handle to the shared dynalite server (DynamoDB on Node), started the same way;
//! - [`CognitoPool`]: a Cognito user pool on moto with users, groups and real RS256 tokens;
//! - [`RedisServer`]: a private `redis-server` a test may kill and start again;
//! - [`TestDatabase`]: a fresh SQLite or PostgreSQL record database per test, dropped after it;
//! - [`FaultProxy`]: an HTTP/1.1 reverse proxy that injects S3 errors, resets, latency and
//!   blackholes between a client and any of those servers;
//! - [`FakeModelServer`]: wire-faithful fakes of the OpenAI chat-completions and Gemini REST
//!   APIs, scripted, with latency and fault injection, recording the requests they receive.
//!
//! It does not own product code, nor the servers themselves:
//! moto, dynalite, PostgreSQL and Redis are installed and started by `scripts/test-servers.sh`.
//!
//! All test credentials are [`ACCESS_KEY`] / [`SECRET_KEY`] in [`REGION`].

mod cognito;
mod database;
mod dynalite;
mod fake_models;
mod fault_proxy;
mod moto;
mod redis_server;
mod s3s_fs;

pub use cognito::{CognitoPool, CognitoTokens};
pub use database::{DATABASE_URL_ENV, DEFAULT_DATABASE_URL, Engine, TestDatabase, admin_database_url};
pub use dynalite::{DEFAULT_DYNALITE_ENDPOINT, DYNALITE_ENDPOINT_ENV, Dynalite, dynalite, unique_table};
pub use fake_models::{FakeModelServer, FakeReply, FakeToolCall, RecordedRequest};
pub use fault_proxy::{FaultControl, FaultProxy};
pub use moto::{DEFAULT_MOTO_ENDPOINT, MOTO_ENDPOINT_ENV, Moto, moto, script_path, unique_bucket};
pub use redis_server::RedisServer;
pub use s3s_fs::{S3sFs, start_s3s_fs};

/// Access key of every test server (s3s-fs accepts only this one; moto accepts any).
pub const ACCESS_KEY: &str = "AKIDAAETEST";
/// Secret key that goes with [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "aae-test-secret";
/// Region the tests sign for.
pub const REGION: &str = "us-east-1";
