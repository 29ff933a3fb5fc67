//! aae-jobs integration tests: the worker against real stores, every test on SQLite and on
//! PostgreSQL (a fresh database per test on 127.0.0.1:5432, or `AAE_TEST_DATABASE_URL`).

// The test bodies are plain async fns called by the `engines!` macro's tests, so clippy's
// allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used)]

mod campaign;
mod support;

mod worker;
