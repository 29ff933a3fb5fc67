use std::sync::Arc;

use aae_config::Config;
use aae_storage::StorageService;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Object storage.
    pub storage: Arc<StorageService>,
}

impl AppState {
    /// State over an already built storage service.
    pub fn new(config: Arc<Config>, storage: Arc<StorageService>) -> Self {
        Self { config, storage }
    }
}
