//! Shared helpers: the models directory, fetched once per machine, and the loaded models.

use std::path::PathBuf;
use std::sync::OnceLock;

use aae_local::{ChatSettings, LocalChatModel, LocalEmbedder};

/// The shared models directory, with every pinned file in place (fetched on first use; a
/// concurrent fetch by another test process waits on the directory's lock).
pub fn models_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("AAE_TEST_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
            home.join(".cache/aae-tools/models")
        });
        aae_local::fetch(&dir, &mut |event| eprintln!("fetch: {event:?}")).expect("fetch the pinned weights");
        dir
    })
    .clone()
}

/// The chat model, loaded once per test process, one thread (the default on this machine).
pub fn chat_model() -> LocalChatModel {
    static MODEL: OnceLock<LocalChatModel> = OnceLock::new();
    MODEL
        .get_or_init(|| LocalChatModel::load(&models_dir(), ChatSettings::default()).expect("load the chat model"))
        .clone()
}

/// The embedding model, loaded once per test process.
pub fn embedder() -> LocalEmbedder {
    static MODEL: OnceLock<LocalEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| LocalEmbedder::load(&models_dir(), Default::default()).expect("load the embedder")).clone()
}
