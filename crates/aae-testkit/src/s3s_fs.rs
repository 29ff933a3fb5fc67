//! An in-process s3s-fs S3 server with real SigV4 checking.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::{ACCESS_KEY, SECRET_KEY};

/// A running s3s-fs server on `127.0.0.1:<random port>`, storing objects under a fresh temporary
/// directory (each bucket is a directory under [`S3sFs::root`]).
///
/// Requests must be signed (SigV4, header or presigned query) with [`ACCESS_KEY`] / [`SECRET_KEY`];
/// a wrong secret is answered `403 SignatureDoesNotMatch`. Path-style addressing only.
/// Dropping the handle stops the server (listener and open connections) and deletes the directory.
pub struct S3sFs {
    addr: SocketAddr,
    task: JoinHandle<()>,
    // Declared last: the directory is removed after the server task is aborted.
    root: TempDir,
}

impl std::fmt::Debug for S3sFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3sFs").field("addr", &self.addr).field("root", &self.root.path()).finish()
    }
}

/// Starts an s3s-fs server (see [`S3sFs`]). Must be called inside a tokio runtime; the server
/// runs on that runtime.
pub async fn start_s3s_fs() -> anyhow::Result<S3sFs> {
    let root = tempfile::Builder::new().prefix("aae-s3s-fs-").tempdir().context("create s3s-fs root directory")?;
    let fs = s3s_fs::FileSystem::new(root.path()).map_err(|e| anyhow::anyhow!("create s3s-fs file system: {e:?}"))?;

    let service = {
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        builder.build()
    };

    let listener = TcpListener::bind(("127.0.0.1", 0)).await.context("bind s3s-fs listener")?;
    let addr = listener.local_addr().context("s3s-fs listener address")?;

    let task = tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        // Connections live in this set so that aborting the accept loop also ends them.
        let mut connections = JoinSet::new();
        loop {
            let (socket, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(%error, "s3s-fs accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            // s3s-fs writes small responses in pieces; without TCP_NODELAY, Nagle + delayed ACK
            // add ~40 ms to every small GET.
            if let Err(error) = socket.set_nodelay(true) {
                tracing::warn!(%error, "s3s-fs set_nodelay failed");
            }
            let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
            connections.spawn(async move {
                if let Err(error) = conn.await {
                    tracing::debug!(%error, "s3s-fs connection ended with an error");
                }
            });
            while connections.try_join_next().is_some() {}
        }
    });

    Ok(S3sFs { addr, task, root })
}

impl S3sFs {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The only access key the server accepts ([`ACCESS_KEY`]).
    pub fn access_key(&self) -> &'static str {
        ACCESS_KEY
    }

    /// The secret that goes with [`S3sFs::access_key`] ([`SECRET_KEY`]).
    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    /// The directory that holds the buckets (one sub-directory per bucket).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Creates bucket `name` by creating its directory under [`S3sFs::root`] (what s3s-fs's own
    /// CreateBucket does). Succeeds if the bucket already exists.
    pub fn create_bucket(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..",
            "invalid bucket name {name:?}"
        );
        let dir = self.root.path().join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("create bucket directory {}", dir.display()))
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        self.task.abort();
    }
}
