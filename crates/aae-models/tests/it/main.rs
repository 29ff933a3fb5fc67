//! aae-models integration tests: one binary. Providers run against the wire-faithful fakes of
//! `aae-testkit`; router behaviour against them and the scripted provider.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod bedrock;
mod gemini;
mod local;
mod openai;
mod properties;
mod router;
mod sagemaker;
mod support;
