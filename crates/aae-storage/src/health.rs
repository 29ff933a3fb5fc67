//! Health probes for `aae config check` and `GET /api/v1/health` (seed 000 `ServiceHealth`).

use std::sync::Arc;
use std::time::Instant;

use aae_types::ServiceHealth;

use crate::backend::Backend;
use crate::service::StorageService;

impl StorageService {
    /// One line per configured storage service: the primary backend, the dual-write secondary,
    /// and the CDN when configured. A backend is healthy when it answers and every logical
    /// bucket exists (or bucket creation is enabled and creation succeeds).
    pub async fn health(&self) -> Vec<ServiceHealth> {
        let mut lines = vec![self.probe_backend("storage", &self.primary.backend).await];
        if let Some(secondary) = &self.secondary {
            lines.push(self.probe_backend("storage.secondary", &secondary.backend).await);
        }
        if let Some(line) = self.cdn_health() {
            lines.push(line);
        }
        lines
    }

    async fn probe_backend(&self, service: &str, backend: &Arc<dyn Backend>) -> ServiceHealth {
        let started = Instant::now();
        if let Err(error) = self.ensure_buckets().await {
            return line(service, false, format!("{}: {error}", backend.describe()), started);
        }
        let mut missing = Vec::new();
        for location in self.locations() {
            match backend.bucket_exists(&location.name).await {
                Ok(true) => {}
                Ok(false) => missing.push(location.name.clone()),
                Err(error) => return line(service, false, format!("{}: {error}", backend.describe()), started),
            }
        }
        if missing.is_empty() {
            line(
                service,
                true,
                format!("{}: {} buckets reachable", backend.describe(), self.locations().count()),
                started,
            )
        } else {
            line(
                service,
                false,
                format!(
                    "{}: missing buckets {}; create them or set AAE__STORAGE__CREATE_BUCKETS=true",
                    backend.describe(),
                    missing.join(", ")
                ),
                started,
            )
        }
    }
}

pub(crate) fn line(service: &str, healthy: bool, detail: String, started: Instant) -> ServiceHealth {
    ServiceHealth {
        service: service.to_owned(),
        healthy,
        detail,
        latency_ms: started.elapsed().as_millis() as u64,
        last_check: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}
