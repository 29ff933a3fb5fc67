//! Integration tests of the test kit against real servers: s3s-fs in-process, moto, and a small
//! HTTP upstream for the fault proxy.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aae_testkit::{ACCESS_KEY, FaultProxy, REGION, SECRET_KEY};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("build reqwest client")
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A SigV4 (header) signed S3 request; `path` must need no percent-encoding.
fn signed(
    client: &reqwest::Client,
    method: reqwest::Method,
    endpoint: &str,
    path: &str,
    body: Vec<u8>,
    secret: &str,
) -> reqwest::RequestBuilder {
    let host = endpoint.strip_prefix("http://").expect("http endpoint");
    let now = chrono::Utc::now();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let payload_hash = hex::encode(Sha256::digest(&body));
    let signed_headers = "host;x-amz-content-sha256;x-amz-date";
    let canonical_request = format!(
        "{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n\n\
         {signed_headers}\n{payload_hash}"
    );
    let scope = format!("{date}/{REGION}/s3/aws4_request");
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), &date);
    for part in [REGION, "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex::encode(hmac(&key, &string_to_sign));
    client
        .request(method, format!("{endpoint}{path}"))
        .header("x-amz-date", amz_date)
        .header("x-amz-content-sha256", payload_hash)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={signed_headers}, \
                 Signature={signature}"
            ),
        )
        .body(body)
}

#[tokio::test]
async fn s3s_fs_accepts_the_right_secret_and_rejects_a_wrong_one() -> anyhow::Result<()> {
    let s3 = aae_testkit::start_s3s_fs().await?;
    assert_eq!((s3.access_key(), s3.secret_key()), (ACCESS_KEY, SECRET_KEY));
    s3.create_bucket("photos")?;
    let client = http();
    let endpoint = s3.endpoint();
    let put = signed(&client, reqwest::Method::PUT, &endpoint, "/photos/a.txt", b"hello".to_vec(), SECRET_KEY);
    let response = put.send().await?;
    assert_eq!(response.status(), 200, "{}", response.text().await?);
    assert_eq!(std::fs::read(s3.root().join("photos/a.txt"))?, b"hello");

    let get = signed(&client, reqwest::Method::GET, &endpoint, "/photos/a.txt", vec![], SECRET_KEY);
    let response = get.send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await?, "hello");

    let wrong = signed(&client, reqwest::Method::GET, &endpoint, "/photos/a.txt", vec![], "not-the-secret");
    let response = wrong.send().await?;
    assert_eq!(response.status(), 403);
    let body = response.text().await?;
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");

    let unsigned = client.get(format!("{endpoint}/photos/a.txt")).send().await?;
    assert_eq!(unsigned.status(), 403);

    let addr = s3.addr();
    drop(s3);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "s3s-fs still listens after drop");
    Ok(())
}

/// Answers every request with `host=<Host header> <METHOD> <path> len=<body bytes>` and counts them.
async fn start_echo_upstream() -> anyhow::Result<(SocketAddr, Arc<AtomicU64>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let hits = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let counter = Arc::clone(&counter);
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("-").to_owned();
                        let head = format!("host={host} {} {}", req.method(), req.uri());
                        let len = req.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!("{head} len={len}")))))
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
            });
        }
    });
    Ok((addr, hits))
}

#[tokio::test]
async fn fault_proxy_forwards_and_injects_faults() -> anyhow::Result<()> {
    let (upstream, hits) = start_echo_upstream().await?;
    let proxy = FaultProxy::start(&format!("http://{upstream}")).await?;
    let control = proxy.control().clone();
    let endpoint = proxy.endpoint();
    let client = http();

    // Plain forwarding: Host kept as sent to the proxy, path and query kept, body streamed.
    let body = vec![7u8; 1 << 20];
    let text = client.put(format!("{endpoint}/b/k?x=1")).body(body).send().await?.text().await?;
    assert_eq!(text, format!("host={} PUT /b/k?x=1 len={}", proxy.addr(), 1 << 20));
    assert_eq!((control.requests(), control.forwarded(), hits.load(Ordering::SeqCst)), (1, 1, 1));

    // Injected S3 errors do not reach the upstream, and count as requests.
    control.fail_next(2, 503, "SlowDown");
    for _ in 0..2 {
        let response = client.put(format!("{endpoint}/b/k")).body("abc").send().await?;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["content-type"], "application/xml");
        let xml = response.text().await?;
        assert!(xml.contains("<Error><Code>SlowDown</Code><Message>"), "{xml}");
        assert!(xml.contains("<Resource>/b/k</Resource>"), "{xml}");
    }
    assert_eq!((control.requests(), control.forwarded(), hits.load(Ordering::SeqCst)), (3, 1, 1));
    let response = client.get(format!("{endpoint}/b/k")).send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Reset: the request fails at the transport level, the next one (same client) succeeds.
    control.reset_next(1);
    let error = client.get(format!("{endpoint}/r")).send().await.expect_err("reset request must fail");
    assert!(!error.is_status(), "{error:?}");
    assert_eq!(client.get(format!("{endpoint}/r")).send().await?.status(), 200);
    assert_eq!((control.requests(), hits.load(Ordering::SeqCst)), (6, 3));

    // Latency.
    control.set_latency(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(client.get(format!("{endpoint}/slow")).send().await?.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    control.set_latency(Duration::ZERO);

    // Blackhole: no answer until it is lifted; the held request then goes through.
    control.blackhole(true);
    let held = client.get(format!("{endpoint}/held")).timeout(Duration::from_millis(300)).send().await;
    assert!(held.as_ref().is_err_and(reqwest::Error::is_timeout), "{held:?}");
    let later = tokio::spawn({
        let client = client.clone();
        let url = format!("{endpoint}/later");
        async move { client.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!later.is_finished());
    control.blackhole(false);
    assert_eq!(later.await??.status(), 200);
    assert_eq!(control.requests(), 9);
    // The timed-out held request is forwarded on release only if hyper did not notice its client left.
    assert!((5..=6).contains(&hits.load(Ordering::SeqCst)), "{hits:?}");
    assert!(control.connections() >= 2);

    drop(proxy);
    Ok(())
}

#[tokio::test]
async fn fault_proxy_reset_is_a_tcp_rst() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (upstream, hits) = start_echo_upstream().await?;
    let proxy = FaultProxy::start(&upstream.to_string()).await?;
    proxy.control().reset_next(1);
    let mut socket = tokio::net::TcpStream::connect(proxy.addr()).await?;
    socket.write_all(b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n").await?;
    let mut buf = [0u8; 64];
    let read = socket.read(&mut buf).await;
    assert_eq!(read.map_err(|e| e.kind()), Err(std::io::ErrorKind::ConnectionReset));
    assert_eq!((proxy.control().requests(), hits.load(Ordering::SeqCst)), (1, 0));
    Ok(())
}

#[tokio::test]
async fn fault_proxy_keeps_sigv4_valid_in_front_of_s3s_fs() -> anyhow::Result<()> {
    let s3 = aae_testkit::start_s3s_fs().await?;
    s3.create_bucket("docs")?;
    let proxy = FaultProxy::start(&s3.endpoint()).await?;
    let endpoint = proxy.endpoint();
    let client = http();

    let put = signed(&client, reqwest::Method::PUT, &endpoint, "/docs/x.bin", vec![1; 4096], SECRET_KEY);
    let response = put.send().await?;
    assert_eq!(response.status(), 200, "{}", response.text().await?);
    let head = signed(&client, reqwest::Method::HEAD, &endpoint, "/docs/x.bin", vec![], SECRET_KEY);
    let response = head.send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "4096");

    proxy.control().fail_next(1, 503, "SlowDown");
    let get = signed(&client, reqwest::Method::GET, &endpoint, "/docs/x.bin", vec![], SECRET_KEY);
    assert_eq!(get.send().await?.status(), 503);
    let get = signed(&client, reqwest::Method::GET, &endpoint, "/docs/x.bin", vec![], SECRET_KEY);
    assert_eq!(get.send().await?.bytes().await?.len(), 4096);
    assert_eq!(proxy.control().requests(), 4);
    Ok(())
}

#[tokio::test]
async fn moto_is_started_on_demand_and_buckets_are_unique() -> anyhow::Result<()> {
    let moto = aae_testkit::moto().await?;
    assert!(moto.endpoint().starts_with("http://"));
    let bucket = moto.unique_bucket("Testkit_Moto");
    assert!(bucket.starts_with("testkit-moto-") && bucket.len() <= 63, "{bucket}");
    assert_ne!(bucket, moto.unique_bucket("Testkit_Moto"));
    moto.create_bucket(&bucket).await?;

    // Through the proxy: moto sees the request, listing the new empty bucket works.
    let proxy = FaultProxy::start(moto.endpoint()).await?;
    let response = http().get(format!("{}/{bucket}?list-type=2", proxy.endpoint())).send().await?;
    assert_eq!(response.status(), 200);
    let xml = response.text().await?;
    assert!(xml.contains(&format!("<Name>{bucket}</Name>")), "{xml}");
    Ok(())
}
