//! aae-models integration tests: one binary. Providers run against the wire-faithful fakes of
//! `aae-testkit`; router behaviour against them and the scripted provider.

mod gemini;
mod openai;
mod properties;
mod router;
mod support;
