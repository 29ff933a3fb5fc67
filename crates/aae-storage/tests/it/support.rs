//! Fixtures: a `StorageService` on each backend, with the HTTP server that local signed URLs
//! need, and the local S3 servers.

use std::sync::Arc;

use aae_config::{Config, StorageBackendKind};
use aae_server::AppState;
use aae_storage::backend::StaticAwsCredentials;
use aae_storage::{BackendOptions, StorageService};
use aae_testkit::S3sFs;
use aae_types::BucketPurpose;

/// The backends every conformance test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Memory,
    Local,
    Moto,
    S3sFs,
}

impl Kind {
    /// Whether the server behind this backend refuses expired or tampered presigned URLs
    /// (moto does not check signatures).
    pub fn checks_signatures(self) -> bool {
        self != Kind::Moto
    }
}

pub struct Fixture {
    pub storage: Arc<StorageService>,
    pub kind: Kind,
    pub http: reqwest::Client,
    pub config: Config,
    _server: Option<tokio::task::JoinHandle<()>>,
    _s3s: Option<S3sFs>,
    _dir: tempfile::TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(server) = &self._server {
            server.abort();
        }
    }
}

pub const SECRET: [u8; 32] = [42; 32];

/// A fixture on `kind`, after `tweak` adjusted the configuration.
pub async fn fixture_with(kind: Kind, tweak: impl FnOnce(&mut Config)) -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    config.storage.retry.max_retries = 2;
    config.storage.retry.initial_backoff_ms = 10;
    config.storage.retry.max_backoff_ms = 100;
    let mut listener = None;
    let mut s3s = None;
    let mut credentials = None;
    match kind {
        Kind::Memory | Kind::Local => {
            config.storage.backend =
                if kind == Kind::Memory { StorageBackendKind::Memory } else { StorageBackendKind::Local };
            let bound = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            config.server.public_url = Some(format!("http://{}", bound.local_addr()?));
            listener = Some(bound);
        }
        Kind::Moto | Kind::S3sFs => {
            config.storage.backend = StorageBackendKind::S3;
            config.storage.create_buckets = true;
            let endpoint = if kind == Kind::Moto {
                aae_testkit::moto().await?.endpoint().to_owned()
            } else {
                let server = aae_testkit::start_s3s_fs().await?;
                let endpoint = server.endpoint();
                s3s = Some(server);
                endpoint
            };
            config.storage.s3.endpoint = Some(endpoint);
            config.storage.s3.force_path_style = true;
            credentials = Some(StaticAwsCredentials {
                access_key_id: aae_testkit::ACCESS_KEY.to_owned(),
                secret_access_key: aae_testkit::SECRET_KEY.to_owned(),
                session_token: None,
            });
            let b = &mut config.storage.buckets;
            for (slot, purpose) in [
                (&mut b.creatives, BucketPurpose::Creatives),
                (&mut b.landing_pages, BucketPurpose::LandingPages),
                (&mut b.exports, BucketPurpose::Exports),
                (&mut b.uploads, BucketPurpose::Uploads),
                (&mut b.videos, BucketPurpose::Videos),
                (&mut b.code, BucketPurpose::Code),
                (&mut b.thumbnails, BucketPurpose::Thumbnails),
                (&mut b.temp, BucketPurpose::Temp),
                (&mut b.campaign_outputs, BucketPurpose::CampaignOutputs),
                (&mut b.documents, BucketPurpose::Documents),
            ] {
                if slot.is_none() {
                    *slot = Some(aae_testkit::unique_bucket(&purpose.as_str().replace('_', "-")));
                }
            }
        }
    }
    tweak(&mut config);
    config.validate()?;
    let mut options = BackendOptions::from_config(&config, SECRET.to_vec());
    options.aws_credentials = credentials;
    options.aws_region = Some("us-east-1".into());
    let storage = Arc::new(StorageService::from_config_with(&config, options).await?);
    // As `aae serve` does at start-up.
    storage.ensure_buckets().await?;
    let server = listener.map(|listener| {
        let state = AppState::new(Arc::new(config.clone()), Arc::clone(&storage));
        tokio::spawn(async move {
            let _ = axum_serve(listener, state).await;
        })
    });
    let http = reqwest::Client::builder().no_proxy().build()?;
    Ok(Fixture { storage, kind, http, config, _server: server, _s3s: s3s, _dir: dir })
}

async fn axum_serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    aae_server::serve_until(state, listener, std::future::pending()).await
}

pub async fn fixture(kind: Kind) -> anyhow::Result<Fixture> {
    fixture_with(kind, |_| {}).await
}

/// Sends a presigned request with its required headers.
pub async fn send(
    http: &reqwest::Client,
    request: &aae_storage::PresignedRequest,
    body: Option<Vec<u8>>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
    let mut builder = http.request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = body {
        builder = builder.body(body);
    }
    let response = builder.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.bytes().await?.to_vec()))
}

/// Deterministic pseudo-random bytes.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

/// A service for `config` against the same servers (S3 backends use the test credentials).
pub async fn service_for(config: &Config) -> anyhow::Result<StorageService> {
    let mut options = BackendOptions::from_config(config, SECRET.to_vec());
    options.aws_region = Some("us-east-1".into());
    if config.storage.backend == StorageBackendKind::S3 {
        options.aws_credentials = Some(StaticAwsCredentials {
            access_key_id: aae_testkit::ACCESS_KEY.to_owned(),
            secret_access_key: aae_testkit::SECRET_KEY.to_owned(),
            session_token: None,
        });
    }
    Ok(StorageService::from_config_with(config, options).await?)
}
