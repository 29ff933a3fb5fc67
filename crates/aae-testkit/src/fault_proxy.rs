//! A fault-injecting HTTP/1.1 reverse proxy to put between an S3 client and an S3 server.

mod control;
mod reset_io;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub use control::FaultControl;
use control::{Action, Failure};
use reset_io::ResetOnDrop;

type ProxyBody = Either<Incoming, Full<Bytes>>;
type UpstreamClient = Client<HttpConnector, Incoming>;

/// A reverse proxy on `127.0.0.1:<random port>` that forwards HTTP/1.1 requests to one upstream
/// unchanged, streaming bodies both ways, except for the faults set on its [`FaultControl`].
///
/// The `Host` header is forwarded exactly as the client sent it (SigV4 signs it), so point the
/// client at [`FaultProxy::endpoint`] and sign for that endpoint: an upstream that checks signatures
/// (s3s-fs) accepts the requests. Dropping the proxy closes the listener and every connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    control: FaultControl,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream`, given as `http://host:port` or `host:port` (no path; the host
    /// is resolved once, now).
    pub async fn start(upstream: &str) -> anyhow::Result<FaultProxy> {
        let authority = upstream.strip_prefix("http://").unwrap_or(upstream).trim_end_matches('/');
        anyhow::ensure!(
            !authority.is_empty() && !authority.contains('/') && !authority.contains("://"),
            "fault proxy upstream must be http://host:port, got {upstream:?}"
        );
        let upstream_addr = tokio::net::lookup_host(authority)
            .await
            .with_context(|| format!("resolve fault proxy upstream {authority}"))?
            .next()
            .with_context(|| format!("fault proxy upstream {authority} resolves to no address"))?;

        let listener = TcpListener::bind(("127.0.0.1", 0)).await.context("bind fault proxy listener")?;
        let addr = listener.local_addr().context("fault proxy listener address")?;

        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: UpstreamClient = Client::builder(TokioExecutor::new()).build(connector);

        let control = FaultControl::default();
        let task = tokio::spawn(accept_loop(listener, upstream_addr, client, control.clone()));
        Ok(FaultProxy { addr, upstream: upstream_addr, control, task })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address requests are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// The fault switchboard (clone it to keep it past the proxy's borrow).
    pub fn control(&self) -> &FaultControl {
        &self.control
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, client: UpstreamClient, control: FaultControl) {
    // Connections live in this set so that aborting the accept loop also ends them.
    let mut connections = JoinSet::new();
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "fault proxy accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        control.count_connection();
        if let Err(error) = socket.set_nodelay(true) {
            tracing::warn!(%error, "fault proxy set_nodelay failed");
        }
        let io = ResetOnDrop::new(socket);
        let reset = io.flag();
        let (client, control) = (client.clone(), control.clone());
        connections.spawn(async move {
            let service =
                service_fn(move |req| handle(req, upstream, client.clone(), control.clone(), Arc::clone(&reset)));
            let result = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(io), service)
                .await;
            if let Err(error) = result {
                tracing::debug!(%error, "fault proxy connection ended with an error");
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Serves one request; an `Err` makes hyper drop the connection, which `reset` turns into a RST.
async fn handle(
    req: Request<Incoming>,
    upstream: SocketAddr,
    client: UpstreamClient,
    control: FaultControl,
    reset: Arc<AtomicBool>,
) -> Result<Response<ProxyBody>, std::io::Error> {
    control.count_request();
    if let Some(target) = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()) {
        control.count_target(target);
    }
    control.wait_unblocked().await;
    let latency = match control.next_action() {
        Action::Reset => {
            reset.store(true, Ordering::SeqCst);
            return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset injected by fault proxy"));
        }
        Action::Fail { latency, failure } => {
            tokio::time::sleep(latency).await;
            return Ok(failure_response(req, &failure).await.map(Either::Right));
        }
        Action::Forward { latency } => latency,
    };
    tokio::time::sleep(latency).await;
    control.count_forwarded();
    Ok(forward(req, upstream, &client).await)
}

async fn forward(req: Request<Incoming>, upstream: SocketAddr, client: &UpstreamClient) -> Response<ProxyBody> {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    parts.uri = match Uri::try_from(format!("http://{upstream}{path}")) {
        Ok(uri) => uri,
        Err(error) => {
            return plain_response(StatusCode::BAD_REQUEST, &format!("bad request target: {error}"));
        }
    };
    // `Host` is left as the client sent it; the client only adds one if it is missing.
    strip_hop_by_hop(&mut parts.headers);
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Either::Left(body))
        }
        Err(error) => {
            tracing::debug!(%error, %upstream, "fault proxy upstream request failed");
            plain_response(StatusCode::BAD_GATEWAY, &format!("fault proxy: upstream {upstream} failed: {error}"))
        }
    }
}

/// An S3-style XML error answer. The request body is read and dropped first (unless the client
/// waits for `100 Continue`) so the connection can serve the next request.
async fn failure_response(req: Request<Incoming>, failure: &Failure) -> Response<Full<Bytes>> {
    let expects_continue =
        req.headers().get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let resource = xml_escape(req.uri().path());
    if !expects_continue {
        let mut body = req.into_body();
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    }
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the aae-testkit fault proxy</Message><Resource>{resource}</Resource>\
         <RequestId>{request_id}</RequestId></Error>",
        code = xml_escape(&failure.code),
    );
    let mut response = Response::new(Full::new(Bytes::from(xml)));
    *response.status_mut() = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amz-request-id", id);
    }
    response
}

fn plain_response(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(text.to_owned()))));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// Removes the headers that describe one hop rather than the message (RFC 9110 §7.6.1); hyper
/// writes its own framing for the next hop.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9"));
        headers.insert("x-amz-date", HeaderValue::from_static("20250101T000000Z"));
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<_> = headers.keys().map(|k| k.as_str().to_owned()).collect();
        left.sort();
        assert_eq!(left, ["host", "x-amz-date"]);
    }
}
