//! The storage crate's integration tests: one binary, one module per area.

mod cdn;
mod conformance;
mod migrate;
mod properties;
mod resilience;
mod support;
