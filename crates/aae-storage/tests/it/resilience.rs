//! Failures: retries of retryable errors only, the circuit breaker, aborted multipart uploads,
//! and dual-write mode.

use std::time::Duration;

use aae_config::StorageBackendKind;
use aae_storage::{BreakerState, StorageErrorKind, UploadOptions};
use aae_testkit::FaultProxy;
use aae_types::BucketPurpose;
use bytes::Bytes;
use object_store::path::Path;

use crate::support::{Kind, bytes, fixture_with};

/// An s3s-fs fixture whose S3 endpoint is a fault proxy in front of the server.
async fn behind_proxy(
    tweak: impl FnOnce(&mut aae_config::Config) + Send + 'static,
) -> anyhow::Result<(crate::support::Fixture, FaultProxy)> {
    let server = aae_testkit::start_s3s_fs().await?;
    let proxy = FaultProxy::start(&server.endpoint()).await?;
    let endpoint = proxy.endpoint();
    let f = fixture_with(Kind::S3sFs, move |c| {
        c.storage.s3.endpoint = Some(endpoint);
        tweak(c);
    })
    .await?;
    // Keep the upstream alive as long as the fixture: leak it into the proxy's lifetime.
    std::mem::forget(server);
    Ok((f, proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_is_retried_with_backoff_until_it_succeeds() -> anyhow::Result<()> {
    let (f, proxy) = behind_proxy(|_| {}).await?;
    let control = proxy.control();
    let before = (control.requests(), control.forwarded());
    control.fail_next(2, 503, "SlowDown");
    f.storage
        .upload_bytes(BucketPurpose::Temp, "retry/me.txt", Bytes::from_static(b"ok"), &UploadOptions::default())
        .await?;
    assert_eq!(control.requests() - before.0, 3, "two refused attempts and one that went through");
    assert_eq!(control.forwarded() - before.1, 1);
    let (_, data) = f.storage.download_bytes(BucketPurpose::Temp, "retry/me.txt").await?;
    assert_eq!(data.as_ref(), b"ok");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_is_not_retried() -> anyhow::Result<()> {
    let (f, proxy) = behind_proxy(|_| {}).await?;
    let control = proxy.control();
    let before = control.requests();
    control.fail_next(5, 403, "AccessDenied");
    let err = f
        .storage
        .upload_bytes(BucketPurpose::Temp, "denied.txt", Bytes::from_static(b"no"), &UploadOptions::default())
        .await
        .expect_err("denied");
    assert_eq!(err.kind, StorageErrorKind::AccessDenied, "{err}");
    assert!(err.to_string().contains("denied.txt"), "{err}");
    assert_eq!(control.requests() - before, 1, "a 403 is final");
    assert_eq!(f.storage.breaker().state(), BreakerState::Closed, "a 403 says nothing about availability");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_fails_fast_and_recovers_after_cooldown() -> anyhow::Result<()> {
    let (f, proxy) = behind_proxy(|c| {
        c.storage.retry.max_retries = 1;
        c.storage.circuit_breaker.failure_threshold = 2;
        c.storage.circuit_breaker.cooldown_secs = 1;
    })
    .await?;
    let control = proxy.control();
    control.fail_next(1000, 503, "ServiceUnavailable");
    for _ in 0..2 {
        let err = f.storage.exists(BucketPurpose::Temp, "x").await.expect_err("503");
        assert_eq!(err.kind, StorageErrorKind::Unavailable, "{err}");
    }
    assert_eq!(f.storage.breaker().state(), BreakerState::Open);
    let seen = control.requests();
    let err = f.storage.exists(BucketPurpose::Temp, "x").await.expect_err("open");
    assert!(err.to_string().contains("circuit breaker"), "{err}");
    assert_eq!(control.requests(), seen, "an open breaker sends nothing");
    control.clear();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(!f.storage.exists(BucketPurpose::Temp, "x").await?, "trial request goes through");
    assert_eq!(f.storage.breaker().state(), BreakerState::Closed);
    Ok(())
}

/// A reader that yields `ok_bytes` and then fails.
struct FailingReader {
    remaining: usize,
}

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.remaining == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("disk went away")));
        }
        let n = self.remaining.min(buf.remaining()).min(64 * 1024);
        buf.put_slice(&vec![7u8; n]);
        self.remaining -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_multipart_upload_is_aborted_and_invisible() -> anyhow::Result<()> {
    let f = fixture_with(Kind::Moto, |c| {
        c.storage.multipart.threshold_mib = 5;
        c.storage.multipart.part_size_mib = 5;
    })
    .await?;
    let key = "users/u1/jobs/j1/videos/scene_009/output.mp4";
    let reader = FailingReader { remaining: 12 * 1024 * 1024 };
    let err = f
        .storage
        .upload_stream(BucketPurpose::Videos, key, reader, None, &UploadOptions::default(), None)
        .await
        .expect_err("source failed");
    assert!(err.to_string().contains("disk went away"), "{err}");
    assert!(!f.storage.exists(BucketPurpose::Videos, key).await?);
    assert!(f.storage.list(BucketPurpose::Videos, "users/", 10).await?.is_empty());
    // No multipart upload is left behind (moto answers ListMultipartUploads without auth).
    let moto = aae_testkit::moto().await?;
    let bucket = &f.storage.location(BucketPurpose::Videos).name;
    let listing = reqwest::get(format!("{}/{bucket}?uploads", moto.endpoint())).await?.text().await?;
    assert!(!listing.contains("<Upload>"), "{listing}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_write_writes_both_and_reads_fall_back_to_the_secondary() -> anyhow::Result<()> {
    let f = fixture_with(Kind::Moto, |c| c.storage.dual_write.secondary = Some(StorageBackendKind::Local)).await?;
    let secondary = f.storage.secondary_backend().ok_or_else(|| anyhow::anyhow!("no secondary"))?;
    let bucket = f.storage.location(BucketPurpose::Code).name.clone();
    let key = "users/u1/jobs/j1/code/scene_001/main.py";
    let mut options = UploadOptions { content_type: Some("text/x-python".into()), ..Default::default() };
    options.metadata.set("user_id", "u1");
    f.storage.upload_bytes(BucketPurpose::Code, key, Bytes::from_static(b"print(1)"), &options).await?;
    let on_secondary = secondary.store(&bucket)?.get(&Path::parse(key)?).await?;
    assert_eq!(
        on_secondary.attributes.get(&object_store::Attribute::ContentType).map(|v| v.as_ref().to_owned()).as_deref(),
        Some("text/x-python")
    );
    assert_eq!(on_secondary.bytes().await?.as_ref(), b"print(1)");
    // Lost on the primary: reads come from the secondary.
    f.storage.backend().store(&bucket)?.delete(&Path::parse(key)?).await?;
    let (info, data) = f.storage.download_bytes(BucketPurpose::Code, key).await?;
    assert_eq!((data.as_ref(), info.metadata.user_id.as_deref()), (b"print(1)".as_slice(), Some("u1")));
    assert!(f.storage.exists(BucketPurpose::Code, key).await?);
    // Large uploads are replicated too.
    let big = bytes(30 * 1024 * 1024, 9);
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("big.bin"), &big)?;
    f.storage
        .upload_file(BucketPurpose::Code, "big.bin", &dir.path().join("big.bin"), &UploadOptions::default(), None)
        .await?;
    let copy = secondary.store(&bucket)?.get(&Path::parse("big.bin")?).await?.bytes().await?;
    assert!(copy.as_ref() == big.as_slice(), "secondary copy differs");
    // Deletes reach both.
    f.storage.delete(BucketPurpose::Code, "big.bin").await?;
    assert!(!f.storage.exists(BucketPurpose::Code, "big.bin").await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versioned_buckets_return_version_ids() -> anyhow::Result<()> {
    let f = fixture_with(Kind::Moto, |_| {}).await?;
    let bucket = f.storage.location(BucketPurpose::Videos).name.clone();
    let options = aae_storage::BackendOptions {
        aws_credentials: Some(aae_storage::backend::StaticAwsCredentials {
            access_key_id: aae_testkit::ACCESS_KEY.into(),
            secret_access_key: aae_testkit::SECRET_KEY.into(),
            session_token: None,
        }),
        aws_region: Some("us-east-1".into()),
        ..aae_storage::BackendOptions::from_config(&f.config, crate::support::SECRET.to_vec())
    };
    let s3 = aae_storage::backend::S3Backend::new(&options).await?;
    s3.enable_versioning(&bucket).await?;
    assert!(aae_storage::Backend::versioning_enabled(&s3, &bucket).await?);
    let first = f
        .storage
        .upload_bytes(BucketPurpose::Videos, "v.mp4", Bytes::from_static(b"one"), &UploadOptions::default())
        .await?;
    let second = f
        .storage
        .upload_bytes(BucketPurpose::Videos, "v.mp4", Bytes::from_static(b"two"), &UploadOptions::default())
        .await?;
    let (v1, v2) = (
        first.version_id.ok_or_else(|| anyhow::anyhow!("no version"))?,
        second.version_id.ok_or_else(|| anyhow::anyhow!("no version"))?,
    );
    assert_ne!(v1, v2);
    assert_eq!(f.storage.head(BucketPurpose::Videos, "v.mp4").await?.version_id.as_deref(), Some(v2.as_str()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_encryption_is_requested_and_signed_into_presigned_puts() -> anyhow::Result<()> {
    let f = fixture_with(Kind::Moto, |c| {
        c.storage.s3.sse = Some(aae_config::SseKind::AwsKms);
        c.storage.s3.kms_key_id = Some("alias/aae-test".into());
    })
    .await?;
    let request = f
        .storage
        .presigned_upload_url(BucketPurpose::Documents, "d/contract.pdf", "application/pdf", Duration::from_secs(60))
        .await?;
    assert_eq!(request.headers.get("x-amz-server-side-encryption").map(String::as_str), Some("aws:kms"));
    assert_eq!(
        request.headers.get("x-amz-server-side-encryption-aws-kms-key-id").map(String::as_str),
        Some("alias/aae-test")
    );
    assert!(request.url.contains("x-amz-server-side-encryption"), "signed headers listed: {}", request.url);
    let (status, body) = crate::support::send(&f.http, &request, Some(b"%PDF".to_vec())).await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // Writes through the service send the same headers (moto accepts them but does not echo
    // them back, so only acceptance is checked here).
    f.storage
        .upload_bytes(BucketPurpose::Documents, "d/notes.txt", Bytes::from_static(b"n"), &UploadOptions::default())
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_ranged_download_leaves_the_target_as_it_was() -> anyhow::Result<()> {
    let (f, proxy) = behind_proxy(|c| {
        c.storage.multipart.threshold_mib = 5;
        c.storage.multipart.part_size_mib = 5;
        c.storage.multipart.concurrency = 2;
    })
    .await?;
    let key = "users/u1/jobs/j1/videos/scene_010/output.mp4";
    let data = bytes(17 * 1024 * 1024 + 5, 9);
    f.storage.upload_bytes(BucketPurpose::Videos, key, Bytes::from(data.clone()), &UploadOptions::default()).await?;
    let dir = tempfile::tempdir()?;
    let target = dir.path().join("out.mp4");
    std::fs::write(&target, b"previous")?;

    // The HEAD and one range go through; the next range is refused (403 is never retried).
    let control = proxy.control();
    control.pass_next(2);
    control.fail_next(1, 403, "AccessDenied");
    let err = f.storage.download_to_file(BucketPurpose::Videos, key, &target, None).await.expect_err("range refused");
    assert_eq!(err.kind, StorageErrorKind::AccessDenied, "{err}");
    assert!(err.to_string().contains(key), "{err}");
    assert_eq!(std::fs::read(&target)?, b"previous");
    let names: Vec<_> = std::fs::read_dir(dir.path())?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    assert_eq!(names, [std::ffi::OsString::from("out.mp4")], "no partial file is left behind");

    // Undisturbed, the same download writes every byte and reports progress up to the total.
    let seen = std::sync::Mutex::new(Vec::new());
    let report = |p: aae_storage::Progress| seen.lock().map(|mut v| v.push(p)).unwrap_or(());
    let before = control.requests();
    f.storage.download_to_file(BucketPurpose::Videos, key, &target, Some(&report)).await?;
    assert_eq!(control.requests() - before, 1 + 4, "one HEAD and four 5 MiB ranges");
    assert!(std::fs::read(&target)? == data, "downloaded bytes differ");
    let seen = seen.into_inner().map_err(|_| anyhow::anyhow!("poisoned"))?;
    assert!(seen.len() >= 4, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].bytes_done < w[1].bytes_done), "{seen:?}");
    let total = data.len() as u64;
    assert_eq!(seen.last().map(|p| (p.bytes_done, p.bytes_total)), Some((total, Some(total))));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranged_download_fails_rather_than_mix_two_versions() -> anyhow::Result<()> {
    let f = fixture_with(Kind::Moto, |c| {
        c.storage.multipart.threshold_mib = 5;
        c.storage.multipart.part_size_mib = 5;
        c.storage.multipart.concurrency = 1;
    })
    .await?;
    let key = "users/u1/jobs/j1/videos/scene_011/output.mp4";
    let first = bytes(16 * 1024 * 1024, 1);
    f.storage.upload_bytes(BucketPurpose::Videos, key, Bytes::from(first.clone()), &UploadOptions::default()).await?;
    let (info, mut stream) = f.storage.download_parallel(BucketPurpose::Videos, key).await?;
    assert_eq!(info.size, first.len() as u64);
    let head = futures::TryStreamExt::try_next(&mut stream).await?.expect("first range");
    assert_eq!(head.as_ref(), &first[..5 * 1024 * 1024]);
    // Overwritten between two ranges: the next range is pinned to the old ETag and refused.
    let second = bytes(16 * 1024 * 1024, 2);
    f.storage.upload_bytes(BucketPurpose::Videos, key, Bytes::from(second), &UploadOptions::default()).await?;
    let mut outcome = Ok(());
    while let Some(next) = futures::StreamExt::next(&mut stream).await {
        if let Err(e) = next {
            outcome = Err(e);
            break;
        }
    }
    let err = outcome.expect_err("the object changed mid-download");
    assert_eq!(err.kind, StorageErrorKind::Conflict, "{err}");
    Ok(())
}
