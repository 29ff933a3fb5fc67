use std::sync::Arc;

use aae_config::Config;
use aae_storage::StorageService;
use aae_store::Records;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Object storage.
    pub storage: Arc<StorageService>,
    /// The records and the shared cache (`aae serve` always sets them; storage-only test
    /// servers may not).
    pub records: Option<Records>,
}

impl AppState {
    /// State over an already built storage service.
    pub fn new(config: Arc<Config>, storage: Arc<StorageService>) -> Self {
        Self { config, storage, records: None }
    }

    /// The same state with the record store (and its cache).
    pub fn with_records(mut self, records: Records) -> Self {
        self.records = Some(records);
        self
    }
}
