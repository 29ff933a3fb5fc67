//! The record store's conformance suite: every test runs on SQLite (a temporary file) and on
//! PostgreSQL (a fresh database on 127.0.0.1:5432, or `AAE_TEST_DATABASE_URL`); the campaign
//! suites also run on DynamoDB via moto and via dynalite (`dynamodb.rs`).

// The suite bodies are plain async fns that the `conformance!` macro calls from its tests, so
// clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used)]

mod support;

mod api_keys;
mod auth;
mod cache;
mod campaigns;
mod credits;
mod dynamodb;
mod import_redis;
mod jobs;
mod lifecycle;
mod records;
mod users;
