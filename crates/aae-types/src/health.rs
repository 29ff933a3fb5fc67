use serde::{Deserialize, Serialize};

/// The health of one configured service (seed 000 `ServiceHealth`, generalised to one line per
/// service so later subsystems add their own lines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceHealth {
    /// Service name, e.g. `storage`, `storage.secondary`, `cdn`, `database`.
    pub service: String,
    /// Whether the probe succeeded.
    pub healthy: bool,
    /// What was probed (backend, endpoint) or why it failed; never contains secrets.
    pub detail: String,
    /// How long the probe took, in milliseconds.
    pub latency_ms: u64,
    /// When the probe ran, RFC 3339.
    pub last_check: String,
}
