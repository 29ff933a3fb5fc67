//! One conformance suite for the storage service, run on memory, local files, moto S3 and
//! s3s-fs (which checks SigV4 signatures for real).

use std::time::Duration;

use aae_storage::{ObjectMetadata, StorageErrorKind, UploadOptions};
use aae_types::BucketPurpose;
use bytes::Bytes;

use crate::support::{Fixture, Kind, bytes, fixture, fixture_with, send};

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() -> anyhow::Result<()> { super::$case(crate::support::Kind::Memory).await } )* }
        mod local { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() -> anyhow::Result<()> { super::$case(crate::support::Kind::Local).await } )* }
        mod moto { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() -> anyhow::Result<()> { super::$case(crate::support::Kind::Moto).await } )* }
        mod s3s_fs { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() -> anyhow::Result<()> { super::$case(crate::support::Kind::S3sFs).await } )* }
    };
}

conformance!(
    round_trip_keeps_bytes_content_type_and_metadata,
    exists_and_delete,
    list_filters_by_prefix_in_key_order_with_limit,
    presigned_download_works_and_tampering_is_refused,
    presigned_upload_requires_signed_content_type,
    expired_presigned_url_is_refused,
    multipart_upload_reports_progress_and_streams_back,
    invalid_keys_are_rejected_before_any_request,
    missing_objects_name_bucket_and_key,
    bucket_prefix_overrides_stay_invisible,
    bad_expiry_is_a_clear_error,
    missing_bucket_is_reported_as_such,
);

fn options(content_type: &str, user: &str) -> UploadOptions {
    let mut metadata = ObjectMetadata {
        user_id: Some(user.into()),
        job_id: Some("job-1".into()),
        file_type: Some("video".into()),
        original_filename: Some("Clip 1 — final.mp4".into()),
        upload_timestamp: None,
        ..Default::default()
    };
    metadata.set("scene_number", "7");
    UploadOptions { content_type: Some(content_type.into()), metadata }
}

async fn round_trip_keeps_bytes_content_type_and_metadata(kind: Kind) -> anyhow::Result<()> {
    let f = fixture(kind).await?;
    let data = Bytes::from(bytes(100_000, 1));
    let key = "users/u1/jobs/j1/videos/scene_001/output.mp4";
    let result = f.storage.upload_bytes(BucketPurpose::Videos, key, data.clone(), &options("video/mp4", "u1")).await?;
    assert_eq!(result.size, 100_000);
    assert_eq!(result.key, key);
    assert!(result.url.contains("scene_001/output.mp4"), "{}", result.url);
    let (info, got) = f.storage.download_bytes(BucketPurpose::Videos, key).await?;
    assert_eq!(got, data);
    assert_eq!(info.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(info.metadata.user_id.as_deref(), Some("u1"));
    assert_eq!(info.metadata.original_filename.as_deref(), Some("Clip 1 — final.mp4"));
    assert_eq!(info.metadata.extra.get("scene_number").map(String::as_str), Some("7"));
    assert!(info.metadata.upload_timestamp.is_some());
    let head = f.storage.head(BucketPurpose::Videos, key).await?;
    assert_eq!((head.size, head.content_type.as_deref()), (100_000, Some("video/mp4")));
    assert_eq!(head.metadata, info.metadata);
    if kind != Kind::Memory && kind != Kind::Local {
        assert!(result.etag.is_some(), "s3 returns an etag");
    }
    // Overwrite replaces content and metadata.
    let empty = f.storage.upload_bytes(BucketPurpose::Videos, key, Bytes::new(), &UploadOptions::default()).await?;
    assert_eq!(empty.size, 0);
    let (info, got) = f.storage.download_bytes(BucketPurpose::Videos, key).await?;
    assert!(got.is_empty());
    assert_eq!(info.content_type.as_deref(), Some("application/octet-stream"));
    assert_eq!(info.metadata.user_id, None);
    Ok(())
}

async fn exists_and_delete(kind: Kind) -> anyhow::Result<()> {
    let f = fixture(kind).await?;
    let key = "campaigns/c1/website/index.html";
    assert!(!f.storage.exists(BucketPurpose::CampaignOutputs, key).await?);
    f.storage
        .upload_bytes(BucketPurpose::CampaignOutputs, key, Bytes::from_static(b"<html>"), &UploadOptions::default())
        .await?;
    assert!(f.storage.exists(BucketPurpose::CampaignOutputs, key).await?);
    f.storage.delete(BucketPurpose::CampaignOutputs, key).await?;
    assert!(!f.storage.exists(BucketPurpose::CampaignOutputs, key).await?);
    f.storage.delete(BucketPurpose::CampaignOutputs, key).await?;
    Ok(())
}

async fn list_filters_by_prefix_in_key_order_with_limit(kind: Kind) -> anyhow::Result<()> {
    let f = fixture(kind).await?;
    let keys = ["a/2.txt", "a/1.txt", "a/10/x.txt", "ab.txt", "b/1.txt", "a/3 space+plus.txt"];
    for (i, key) in keys.iter().enumerate() {
        f.storage
            .upload_bytes(BucketPurpose::Exports, key, Bytes::from(vec![b'x'; i + 1]), &UploadOptions::default())
            .await?;
    }
    let all = f.storage.list(BucketPurpose::Exports, "", 100).await?;
    let names: Vec<&str> = all.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(names, ["a/1.txt", "a/10/x.txt", "a/2.txt", "a/3 space+plus.txt", "ab.txt", "b/1.txt"]);
    let a = f.storage.list(BucketPurpose::Exports, "a/", 100).await?;
    assert_eq!(a.len(), 4);
    let raw_prefix = f.storage.list(BucketPurpose::Exports, "a", 100).await?;
    assert_eq!(raw_prefix.len(), 5, "a raw prefix matches inside a segment like S3");
    let limited = f.storage.list(BucketPurpose::Exports, "a/", 2).await?;
    assert_eq!(limited.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["a/1.txt", "a/10/x.txt"]);
    let one = &all[0];
    assert_eq!(one.size, 2);
    if kind != Kind::S3sFs {
        // s3s-fs 0.14 leaves ETag out of ListObjectsV2; every other backend reports it.
        assert!(one.etag.is_some());
    }
    assert!((chrono::Utc::now() - one.last_modified).num_seconds().abs() < 300);
    Ok(())
}

async fn presigned_download_works_and_tampering_is_refused(kind: Kind) -> anyhow::Result<()> {
    let f = fixture(kind).await?;
    let key = "creatives/banner 300x250 (v2).png";
    let data = bytes(4096, 2);
    f.storage
        .upload_bytes(BucketPurpose::Creatives, key, Bytes::from(data.clone()), &options("image/png", "u2"))
        .await?;
    let request = f.storage.presigned_download_url(BucketPurpose::Creatives, key, Duration::from_secs(600)).await?;
    assert_eq!(request.method, "GET");
    assert!(request.headers.is_empty());
    let (status, body) = send(&f.http, &request, None).await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, data);
    if kind.checks_signatures() {
        let mut tampered = request.clone();
        tampered.url = tamper(&request.url);
        let (status, body) = send(&f.http, &tampered, None).await?;
        assert!(status == 403 || status == 400, "tampered signature answered {status}");
        assert_ne!(body, data);
        // A GET signature does not authorise a PUT.
        let mut wrong_method = request.clone();
        wrong_method.method = "PUT".into();
        let (status, _) = send(&f.http, &wrong_method, Some(b"evil".to_vec())).await?;
        assert!(status == 403 || status == 400, "wrong method answered {status}");
        let (_, still) = f.storage.download_bytes(BucketPurpose::Creatives, key).await?;
        assert_eq!(still.as_ref(), data.as_slice(), "nothing was overwritten");
    }
    Ok(())
}

/// Flips the last hex digit of the signature.
pub fn tamper(url: &str) -> String {
    let (idx, _) = url.match_indices("ignature=").last().map_or((url.len(), ""), |m| m);
    let start = idx + "ignature=".len();
    let end = url[start..].find('&').map_or(url.len(), |e| start + e);
    let mut sig: Vec<char> = url[start..end].chars().collect();
    if let Some(last) = sig.last_mut() {
        *last = if *last == '0' { '1' } else { '0' };
    }
    format!("{}{}{}", &url[..start], sig.into_iter().collect::<String>(), &url[end..])
}

async fn presigned_upload_requires_signed_content_type(kind: Kind) -> anyhow::Result<()> {
    let f = fixture(kind).await?;
    let key = "u9/report.pdf";
    let request = f
        .storage
        .presigned_upload_url(BucketPurpose::Uploads, key, "application/pdf", Duration::from_secs(600))
        .await?;
    assert_eq!(request.method, "PUT");
    assert_eq!(request.headers.get("content-type").map(String::as_str), Some("application/pdf"));
    let data = bytes(10_000, 3);
    let (status, body) = send(&f.http, &request, Some(data.clone())).await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (info, got) = f.storage.download_bytes(BucketPurpose::Uploads, key).await?;
    assert_eq!(got.as_ref(), data.as_slice());
    assert_eq!(info.content_type.as_deref(), Some("application/pdf"));
    if kind.checks_signatures() {
        let mut wrong = request.clone();
        wrong.headers.insert("content-type".into(), "text/html".into());
        let (status, _) = send(&f.http, &wrong, Some(b"<script>".to_vec())).await?;
        assert!(status == 403 || status == 400, "other content type answered {status}");
        let (_, still) = f.storage.download_bytes(BucketPurpose::Uploads, key).await?;
        assert_eq!(still.as_ref(), data.as_slice());
    }
    Ok(())
}

async fn expired_presigned_url_is_refused(kind: Kind) -> anyhow::Result<()> {
    if !kind.checks_signatures() {
        return Ok(());
    }
    let f = fixture(kind).await?;
    let key = "t/expiring.bin";
    f.storage.upload_bytes(BucketPurpose::Temp, key, Bytes::from_static(b"secret"), &UploadOptions::default()).await?;
    let request = f.storage.presigned_download_url(BucketPurpose::Temp, key, Duration::from_secs(1)).await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = send(&f.http, &request, None).await?;
    assert_eq!(status, 403, "expired url answered {status}");
    assert_ne!(body, b"secret");
    Ok(())
}

async fn multipart_upload_reports_progress_and_streams_back(kind: Kind) -> anyhow::Result<()> {
    let f = fixture_with(kind, |c| {
        c.storage.multipart.threshold_mib = 6;
        c.storage.multipart.part_size_mib = 5;
        c.storage.multipart.concurrency = 3;
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("scene.mp4");
    let data = bytes(17 * 1024 * 1024 + 123, 4);
    std::fs::write(&source, &data)?;
    let seen = std::sync::Mutex::new(Vec::new());
    let report = |p: aae_storage::Progress| seen.lock().map(|mut v| v.push(p)).unwrap_or(());
    let key = "users/u1/jobs/j1/videos/scene_002/output.mp4";
    let result =
        f.storage.upload_file(BucketPurpose::Videos, key, &source, &options("video/mp4", "u1"), Some(&report)).await?;
    assert_eq!(result.size, data.len() as u64);
    let seen = seen.into_inner().map_err(|_| anyhow::anyhow!("poisoned"))?;
    assert_eq!(seen.len(), 4, "one report per part: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].bytes_done < w[1].bytes_done));
    assert_eq!(seen.last().map(|p| (p.bytes_done, p.bytes_total)), Some((data.len() as u64, Some(data.len() as u64))));
    let target = dir.path().join("back.mp4");
    let info = f.storage.download_to_file(BucketPurpose::Videos, key, &target, None).await?;
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(info.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(info.metadata.user_id.as_deref(), Some("u1"));
    assert!(std::fs::read(&target)? == data, "downloaded bytes differ");
    Ok(())
}

async fn invalid_keys_are_rejected_before_any_request(kind: Kind) -> anyhow::Result<()> {
    let f = fixture(kind).await?;
    for key in ["", "/abs", "a/../b", "a\nb", &"k".repeat(1025)] {
        let err = f
            .storage
            .upload_bytes(BucketPurpose::Temp, key, Bytes::new(), &UploadOptions::default())
            .await
            .expect_err("invalid key");
        assert_eq!(err.kind, StorageErrorKind::InvalidKey, "{key:?}: {err}");
        let err = f
            .storage
            .presigned_download_url(BucketPurpose::Temp, key, Duration::from_secs(60))
            .await
            .expect_err("invalid key");
        assert_eq!(err.kind, StorageErrorKind::InvalidKey);
    }
    Ok(())
}

async fn missing_objects_name_bucket_and_key(kind: Kind) -> anyhow::Result<()> {
    let f = fixture(kind).await?;
    let err = f.storage.download_bytes(BucketPurpose::Documents, "nope/missing.txt").await.expect_err("missing");
    assert_eq!(err.kind, StorageErrorKind::NotFound, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&f.storage.location(BucketPurpose::Documents).name) && text.contains("nope/missing.txt"),
        "{text}"
    );
    assert!(f.storage.head(BucketPurpose::Documents, "nope/missing.txt").await.is_err());
    Ok(())
}

async fn bucket_prefix_overrides_stay_invisible(kind: Kind) -> anyhow::Result<()> {
    let f = fixture_with(kind, |c| {
        let name = c.storage.buckets.landing_pages.clone().unwrap_or_else(|| "dev-aae-landing-pages".into());
        let name = name.split('/').next().unwrap_or_default().to_owned();
        c.storage.buckets.landing_pages = Some(format!("{name}/tenant-a/pages"));
    })
    .await?;
    let location = f.storage.location(BucketPurpose::LandingPages);
    assert_eq!(location.prefix, "tenant-a/pages");
    f.storage
        .upload_bytes(
            BucketPurpose::LandingPages,
            "launch/index.html",
            Bytes::from_static(b"<h1>"),
            &UploadOptions::default(),
        )
        .await?;
    let listed = f.storage.list(BucketPurpose::LandingPages, "", 10).await?;
    assert_eq!(listed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["launch/index.html"]);
    assert!(
        f.storage
            .cdn_url(BucketPurpose::LandingPages, "launch/index.html")?
            .contains("tenant-a/pages/launch/index.html")
    );
    let request = f
        .storage
        .presigned_download_url(BucketPurpose::LandingPages, "launch/index.html", Duration::from_secs(60))
        .await?;
    let (status, body) = send(&f.http, &request, None).await?;
    assert_eq!((status, body.as_slice()), (200, b"<h1>".as_slice()));
    Ok(())
}

async fn bad_expiry_is_a_clear_error(kind: Kind) -> anyhow::Result<()> {
    let f: Fixture = fixture(kind).await?;
    for expires in [Duration::ZERO, Duration::from_secs(604_801), Duration::from_millis(1500)] {
        let err = f.storage.presigned_download_url(BucketPurpose::Temp, "k", expires).await.expect_err("bad expiry");
        assert_eq!(err.kind, StorageErrorKind::InvalidInput);
        assert!(err.to_string().contains("604800"), "{err}");
    }
    assert!(f.storage.presigned_download_url(BucketPurpose::Temp, "k", Duration::from_secs(604_800)).await.is_ok());
    Ok(())
}

async fn missing_bucket_is_reported_as_such(kind: Kind) -> anyhow::Result<()> {
    if kind != Kind::Moto {
        // Local and memory create bucket folders on first use; s3s-fs creates the bucket
        // directory on PutObject.
        return Ok(());
    }
    let f = fixture_with(kind, |c| {
        c.storage.buckets.exports = Some(aae_testkit::unique_bucket("never-created"));
    })
    .await?;
    let f_no_create = {
        let mut config = f.config.clone();
        config.storage.create_buckets = false;
        crate::support::service_for(&config).await?
    };
    let missing = aae_testkit::unique_bucket("missing");
    let mut config = f.config.clone();
    config.storage.create_buckets = false;
    config.storage.buckets.exports = Some(missing.clone());
    let storage = crate::support::service_for(&config).await?;
    let err = storage
        .upload_bytes(BucketPurpose::Exports, "a.txt", Bytes::from_static(b"x"), &UploadOptions::default())
        .await
        .expect_err("no bucket");
    assert_eq!(err.kind, StorageErrorKind::NoSuchBucket, "{err}");
    assert!(err.to_string().contains(&missing) && err.to_string().contains("AAE__STORAGE__CREATE_BUCKETS"), "{err}");
    let health = storage.health().await;
    assert!(!health[0].healthy && health[0].detail.contains(&missing), "{health:?}");
    let health = f_no_create.health().await;
    assert!(health[0].healthy, "{health:?}");
    Ok(())
}
