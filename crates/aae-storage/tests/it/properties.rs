//! Seed 000's storage properties as property tests:
//! 1. round trip of arbitrary bytes (0 to 10 MiB) with metadata;
//! 2. presigned URLs work before expiry, are refused after it and when tampered with;
//! 3. CDN URL format for arbitrary keys;
//! 4. the same behaviour across all backends.

use std::collections::BTreeMap;
use std::time::Duration;

use aae_storage::{ObjectMetadata, UploadOptions};
use aae_types::BucketPurpose;
use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use crate::conformance::tamper;
use crate::support::{Fixture, Kind, bytes, fixture, fixture_with, send};

const ALL: [Kind; 4] = [Kind::Memory, Kind::Local, Kind::Moto, Kind::S3sFs];

/// Keys as users write them: segments of letters, digits, spaces, punctuation and non-ASCII.
fn key_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-zA-Z0-9 _.,=+!'()&$@;-]{1,12}|[éü日本 ]{1,4}", 1..5)
        .prop_map(|segments| segments.join("/"))
        .prop_filter("valid key", |k| aae_storage::validate_key(k).is_ok() && !k.ends_with(' ') && !k.contains(" /"))
}

fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..1024, 1024usize..(1 << 20), (1usize << 20)..=(10 << 20)]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() })
}

/// Runs an async property on a fixture, case by case.
fn check<S: Strategy>(
    f: &Fixture,
    cases: u32,
    strategy: S,
    body: impl Fn(&Fixture, S::Value) -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    S::Value: std::fmt::Debug,
{
    runner(cases)
        .run(&strategy, |value| body(f, value).map_err(|e| TestCaseError::fail(format!("{e:#}"))))
        .map_err(|e| anyhow::anyhow!("{:?}: {e}", f.kind))
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_1_round_trip_of_arbitrary_bytes_with_metadata() -> anyhow::Result<()> {
    for kind in ALL {
        let f = fixture(kind).await?;
        let case = std::sync::atomic::AtomicU64::new(0);
        let strategy = (
            size_strategy(),
            any::<u64>(),
            key_strategy(),
            "\\PC{0,40}",
            prop::sample::select(vec!["image/png", "image/jpeg", "text/plain", "video/mp4"]),
        );
        check(&f, 10, strategy, |f, (size, seed, key, filename, content_type)| {
            let key = format!("case-{}/{key}", case.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            block_on(async {
                let data = Bytes::from(bytes(size, seed));
                let metadata = ObjectMetadata {
                    user_id: Some(format!("user-{seed}")),
                    original_filename: Some(filename.clone()),
                    ..Default::default()
                };
                let options = UploadOptions { content_type: Some(content_type.to_owned()), metadata };
                f.storage.upload_bytes(BucketPurpose::Uploads, &key, data.clone(), &options).await?;
                let (info, got) = f.storage.download_bytes(BucketPurpose::Uploads, &key).await?;
                anyhow::ensure!(got == data, "bytes differ for {size} bytes");
                anyhow::ensure!(info.size == size as u64);
                anyhow::ensure!(info.content_type.as_deref() == Some(content_type));
                anyhow::ensure!(
                    info.metadata.original_filename.as_deref() == Some(filename.as_str()),
                    "{:?}",
                    info.metadata
                );
                anyhow::ensure!(info.metadata.user_id == Some(format!("user-{seed}")));
                Ok(())
            })
        })?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_2_presigned_urls_work_until_expiry_and_refuse_tampering() -> anyhow::Result<()> {
    for kind in [Kind::Local, Kind::Memory, Kind::S3sFs, Kind::Moto] {
        let f = fixture(kind).await?;
        let case = std::sync::atomic::AtomicU64::new(0);
        check(&f, 12, (key_strategy(), 1usize..5000), |f, (key, size)| {
            // A fresh folder per case: on local files a key cannot also be a folder of another.
            let key = format!("case-{}/{key}", case.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            block_on(async {
                let data = bytes(size, size as u64);
                let put = f
                    .storage
                    .presigned_upload_url(BucketPurpose::Creatives, &key, "image/png", Duration::from_secs(300))
                    .await?;
                let (status, body) = send(&f.http, &put, Some(data.clone())).await?;
                anyhow::ensure!(
                    status == 200,
                    "presigned PUT of {key:?} answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
                let get =
                    f.storage.presigned_download_url(BucketPurpose::Creatives, &key, Duration::from_secs(300)).await?;
                let (status, body) = send(&f.http, &get, None).await?;
                anyhow::ensure!(status == 200 && body == data, "presigned GET of {key:?} answered {status}");
                if f.kind.checks_signatures() {
                    let mut tampered = get.clone();
                    tampered.url = tamper(&get.url);
                    let (status, body) = send(&f.http, &tampered, None).await?;
                    anyhow::ensure!((status == 403 || status == 400) && body != data, "tampered GET answered {status}");
                }
                Ok(())
            })
        })?;
        if kind.checks_signatures() {
            // Expiry: a handful of keys, all checked after one wait.
            let mut requests = Vec::new();
            for i in 0..3 {
                let key = format!("expiring/{i} é.bin");
                f.storage
                    .upload_bytes(BucketPurpose::Creatives, &key, Bytes::from_static(b"x"), &UploadOptions::default())
                    .await?;
                requests.push(
                    f.storage.presigned_download_url(BucketPurpose::Creatives, &key, Duration::from_secs(1)).await?,
                );
            }
            for request in &requests {
                let (status, _) = send(&f.http, request, None).await?;
                anyhow::ensure!(status == 200, "{kind:?}: fresh url answered {status}");
            }
            tokio::time::sleep(Duration::from_millis(2100)).await;
            for request in &requests {
                let (status, _) = send(&f.http, request, None).await?;
                anyhow::ensure!(status == 403, "{kind:?}: expired url answered {status}");
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_3_cdn_urls_follow_the_cloudfront_format() -> anyhow::Result<()> {
    let f = fixture_with(Kind::Memory, |c| c.storage.cdn.domain = Some("d111111abcdef8.cloudfront.net".into())).await?;
    check(&f, 256, key_strategy(), |f, key| {
        let url = f.storage.cdn_url(BucketPurpose::LandingPages, &key)?;
        let path =
            url.strip_prefix("https://d111111abcdef8.cloudfront.net/").ok_or_else(|| anyhow::anyhow!("{url}"))?;
        anyhow::ensure!(
            path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~/%".contains(&b)),
            "unencoded characters in {url}"
        );
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8()?;
        anyhow::ensure!(decoded == key, "{url} decodes to {decoded}, not {key}");
        let parsed = url::Url::parse(&url)?;
        anyhow::ensure!(parsed.host_str() == Some("d111111abcdef8.cloudfront.net") && parsed.query().is_none());
        Ok(())
    })
}

#[derive(Debug, Clone)]
enum Op {
    Put(u8, usize),
    Delete(u8),
    Exists(u8),
    Get(u8),
    List(u8),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 0usize..3000).prop_map(|(k, n)| Op::Put(k, n)),
        (0u8..6).prop_map(Op::Delete),
        (0u8..6).prop_map(Op::Exists),
        (0u8..6).prop_map(Op::Get),
        (0u8..3).prop_map(Op::List),
    ]
}

fn op_key(k: u8) -> String {
    ["a/one.txt", "a/two words.txt", "a/b/three.bin", "b/four+five.json", "c/ünï.txt", "c/c/c.txt"][k as usize]
        .to_owned()
}

/// What a client can observe from one operation.
async fn observe(f: &Fixture, op: &Op) -> String {
    let purpose = BucketPurpose::Exports;
    match op {
        Op::Put(k, n) => {
            let options =
                UploadOptions { content_type: Some("text/plain".into()), metadata: ObjectMetadata::default() };
            match f.storage.upload_bytes(purpose, &op_key(*k), Bytes::from(bytes(*n, *k as u64)), &options).await {
                Ok(r) => format!("put size={}", r.size),
                Err(e) => format!("put error {:?}", e.kind),
            }
        }
        Op::Delete(k) => format!("delete {:?}", f.storage.delete(purpose, &op_key(*k)).await.map_err(|e| e.kind)),
        Op::Exists(k) => format!("exists {:?}", f.storage.exists(purpose, &op_key(*k)).await.map_err(|e| e.kind)),
        Op::Get(k) => match f.storage.download_bytes(purpose, &op_key(*k)).await {
            Ok((info, data)) => format!("get {} bytes {} {:?}", data.len(), info.size, info.content_type),
            Err(e) => format!("get error {:?}", e.kind),
        },
        Op::List(p) => {
            let prefix = ["", "a/", "c"][*p as usize];
            match f.storage.list(purpose, prefix, 4).await {
                Ok(objects) => {
                    format!("list {:?}", objects.iter().map(|o| (o.key.clone(), o.size)).collect::<BTreeMap<_, _>>())
                }
                Err(e) => format!("list error {:?}", e.kind),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_4_every_backend_behaves_the_same() -> anyhow::Result<()> {
    let mut cases = runner(12);
    let strategy = proptest::collection::vec(op_strategy(), 1..25);
    cases
        .run(&strategy, |ops| {
            block_on(async {
                let mut transcripts = Vec::new();
                for kind in ALL {
                    let f = fixture(kind).await.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let mut transcript = Vec::new();
                    for op in &ops {
                        transcript.push(observe(&f, op).await);
                    }
                    transcripts.push((kind, transcript));
                }
                let (first_kind, first) = &transcripts[0];
                for (kind, transcript) in &transcripts[1..] {
                    for (i, (a, b)) in first.iter().zip(transcript).enumerate() {
                        prop_assert_eq!(a, b, "op {} {:?}: {:?} and {:?} differ", i, ops[i], first_kind, kind);
                    }
                }
                Ok(())
            })
        })
        .map_err(|e| anyhow::anyhow!("{e}"))
}
