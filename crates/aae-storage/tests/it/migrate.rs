//! `aae storage migrate` end to end against moto: the migration test (AAE local layout
//! to S3, resume, repair, dry run), server-side copies between two buckets of one endpoint,
//! migration back to local files, and set-up errors.

use std::path::Path as FsPath;
use std::sync::Mutex;
use std::time::Instant;

use aae_config::Config;
use aae_storage::backend::{LocalBackend, S3Backend, StaticAwsCredentials};
use aae_storage::migrate::{MigrateOptions, MigrateProgress, MigrateSummary, migrate};
use aae_storage::{Backend, BackendOptions, StorageErrorKind};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{Attribute, AttributeValue, Attributes, ObjectStore, PutPayload};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MIB: usize = 1 << 20;
const SMALL_OBJECTS: usize = 1_000;
const BIG_KEY: &str = "videos/big.mp4";
const BIG_SIZE: usize = 64 * MIB;

/// Backend options for tests: data under `data_dir`, the test credentials, no endpoint (each
/// migration names moto with `--from-endpoint` / `--to-endpoint`, as the CLI does).
fn base_options(data_dir: &FsPath) -> BackendOptions {
    let mut options = BackendOptions::from_config(&Config::default(), vec![7u8; 32]);
    options.data_dir = data_dir.to_path_buf();
    options.aws_region = Some(aae_testkit::REGION.to_owned());
    options.aws_credentials = Some(StaticAwsCredentials {
        access_key_id: aae_testkit::ACCESS_KEY.to_owned(),
        secret_access_key: aae_testkit::SECRET_KEY.to_owned(),
        session_token: None,
    });
    options.retry.initial_backoff_ms = 10;
    options.retry.max_backoff_ms = 200;
    options
}

async fn moto_backend(base: &BackendOptions, endpoint: &str) -> Result<S3Backend, Box<dyn std::error::Error>> {
    let mut options = base.clone();
    options.s3.endpoint = Some(endpoint.to_owned());
    Ok(S3Backend::new(&options).await?)
}

/// One source object, as written.
struct Written {
    key: String,
    data: Bytes,
    attributes: Attributes,
}

/// Writes the data set into the AAE local layout (`<dir>/storage/objects/<bucket>`,
/// attributes in `<dir>/storage/meta/<bucket>`): 1,000 objects of 1 B to 8 KiB, every third with
/// a content type and metadata, and one 64 MiB object.
async fn write_source(base: &BackendOptions, bucket: &str) -> Result<Vec<Written>, Box<dyn std::error::Error>> {
    let store = LocalBackend::new(base)?.store(bucket)?;
    let mut rng = StdRng::seed_from_u64(20_240_301);
    let mut written = Vec::with_capacity(SMALL_OBJECTS + 1);
    let extensions = ["png", "json", "html", "bin"];
    for i in 0..SMALL_OBJECTS {
        let size = rng.gen_range(1..=8 * 1024);
        let mut data = vec![0u8; size];
        rng.fill_bytes(&mut data);
        let key = format!("objects/{:02}/{i:04}.{}", i % 17, extensions[i % extensions.len()]);
        let mut attributes = Attributes::new();
        if i % 3 == 0 {
            let content_type = ["image/png", "application/json", "text/html", "application/octet-stream"][i % 4];
            attributes.insert(Attribute::ContentType, AttributeValue::from(content_type));
            attributes.insert(Attribute::Metadata("user_id".into()), AttributeValue::from(format!("user-{i}")));
            attributes.insert(Attribute::Metadata("job_id".into()), AttributeValue::from("job-7"));
        }
        written.push(Written { key, data: Bytes::from(data), attributes });
    }
    let mut big = vec![0u8; BIG_SIZE];
    rng.fill_bytes(&mut big);
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, AttributeValue::from("video/mp4"));
    attributes.insert(Attribute::Metadata("file_type".into()), AttributeValue::from("video"));
    written.push(Written { key: BIG_KEY.to_owned(), data: Bytes::from(big), attributes });
    futures::stream::iter(&written)
        .map(Ok::<_, object_store::Error>)
        .try_for_each_concurrent(16, |w| {
            let store = &store;
            async move {
                let payload = PutPayload::from_bytes(w.data.clone());
                store.put_opts(&Path::from(w.key.as_str()), payload, w.attributes.clone().into()).await.map(|_| ())
            }
        })
        .await?;
    Ok(written)
}

/// Runs a migration, checking that progress ends complete and never goes backwards.
async fn run(options: &MigrateOptions, base: &BackendOptions) -> Result<MigrateSummary, Box<dyn std::error::Error>> {
    let seen: Mutex<Vec<MigrateProgress>> = Mutex::new(Vec::new());
    let record = |p: MigrateProgress| seen.lock().unwrap_or_else(|e| e.into_inner()).push(p);
    let summary = migrate(options, base, &record).await?;
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    let last = seen.last().ok_or("no progress reported")?;
    assert!(last.listed, "the last report comes after the listing ended: {last:?}");
    assert_eq!(last.objects_done, last.objects_total, "{last:?}");
    assert_eq!(last.bytes_done, last.bytes_total, "{last:?}");
    assert_eq!((last.copied, last.skipped, last.failed), (summary.copied, summary.skipped, summary.failed));
    assert!(seen.windows(2).all(|w| w[0].objects_done <= w[1].objects_done), "objects done went backwards");
    assert!(summary.failures.is_empty() == (summary.failed == 0), "{:?}", summary.failures);
    Ok(summary)
}

/// Empties and deletes a moto bucket (moto keeps everything in memory).
async fn remove_bucket(store: &dyn ObjectStore, endpoint: &str, bucket: &str) -> TestResult {
    let locations = store.list(None).map_ok(|meta| meta.location).boxed();
    store.delete_stream(locations).try_collect::<Vec<_>>().await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    http.delete(format!("{endpoint}/{bucket}")).send().await?.error_for_status()?;
    Ok(())
}

fn counts(summary: &MigrateSummary) -> (u64, u64, u64) {
    (summary.copied, summary.skipped, summary.failed)
}

/// Asserts that `store` holds `w` with the same bytes, content type and metadata.
async fn assert_same(store: &dyn ObjectStore, w: &Written) -> TestResult {
    let got = store.get(&Path::from(w.key.as_str())).await?;
    let mut attributes = got.attributes.clone();
    let data = got.bytes().await?;
    assert!(data == w.data, "bytes of {} differ", w.key);
    if w.attributes.get(&Attribute::ContentType).is_none() {
        // S3 gives objects stored without a content type its default one.
        attributes.remove(&Attribute::ContentType);
    }
    assert_eq!(attributes, w.attributes, "attributes of {}", w.key);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_to_s3_copies_everything_verified_then_resumes_and_repairs() -> TestResult {
    let moto = aae_testkit::moto().await?;
    let dir = tempfile::tempdir()?;
    let base = base_options(dir.path());
    let written = write_source(&base, "creatives").await?;
    let total_bytes: u64 = written.iter().map(|w| w.data.len() as u64).sum();
    let bucket = moto.unique_bucket("migrate-dest");
    let s3 = moto_backend(&base, moto.endpoint()).await?;
    let source_dir = dir.path().join("storage/objects/creatives");
    let mut options = MigrateOptions::new(format!("file://{}", source_dir.display()), format!("s3://{bucket}"));
    options.to_endpoint = Some(moto.endpoint().to_owned());
    options.create_bucket = true;

    // A dry run into a bucket that does not exist yet: everything would be copied, nothing is.
    let dry = run(&MigrateOptions { dry_run: true, ..options.clone() }, &base).await?;
    assert_eq!(counts(&dry), (1_001, 0, 0));
    assert_eq!(dry.bytes, total_bytes);
    assert!(!s3.bucket_exists(&bucket).await?, "a dry run must not create the bucket");

    // First run: creates the bucket and copies everything.
    let started = Instant::now();
    let first = run(&options, &base).await?;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(counts(&first), (1_001, 0, 0), "{:?}", first.failures);
    assert_eq!(first.bytes, total_bytes);
    eprintln!(
        "first run: {} objects, {:.1} MiB in {elapsed:.2} s = {:.0} objects/s, {:.1} MB/s",
        first.copied,
        total_bytes as f64 / MIB as f64,
        first.copied as f64 / elapsed,
        total_bytes as f64 / 1e6 / elapsed
    );

    let store = s3.store(&bucket)?;
    let listed: Vec<_> = store.list(None).try_collect().await?;
    assert_eq!(listed.len(), 1_001);
    for w in &written {
        let meta = listed.iter().find(|m| m.location.as_ref() == w.key).ok_or_else(|| format!("{} missing", w.key))?;
        assert_eq!(meta.size, w.data.len() as u64, "size of {}", w.key);
    }
    let big = written.last().ok_or("no big object")?;
    assert_same(store.as_ref(), big).await?;
    let big_etag = listed.iter().find(|m| m.location.as_ref() == BIG_KEY).and_then(|m| m.e_tag.clone());
    assert!(
        big_etag.as_deref().is_some_and(|e| e.trim_matches('"').ends_with("-8")),
        "64 MiB went up in 8 parts: {big_etag:?}"
    );
    for w in written.iter().step_by(37) {
        assert_same(store.as_ref(), w).await?;
    }

    // Second run: everything is identical, nothing is copied.
    let second = run(&options, &base).await?;
    assert_eq!(counts(&second), (0, 1_001, 0));
    assert_eq!(second.bytes, 0);

    // Corrupt one object in place (same size, other bytes) and delete another.
    let (corrupted, deleted) = (&written[3], &written[10]);
    let mut garbage = corrupted.data.to_vec();
    for byte in &mut garbage {
        *byte ^= 0x5a;
    }
    store.put(&Path::from(corrupted.key.as_str()), PutPayload::from(garbage.clone())).await?;
    store.delete(&Path::from(deleted.key.as_str())).await?;

    // A dry run sees both and changes nothing.
    let dry = run(&MigrateOptions { dry_run: true, ..options.clone() }, &base).await?;
    assert_eq!(counts(&dry), (2, 999, 0));
    assert_eq!(dry.bytes, (corrupted.data.len() + deleted.data.len()) as u64);
    assert_eq!(store.get(&Path::from(corrupted.key.as_str())).await?.bytes().await?.as_ref(), garbage.as_slice());
    assert!(store.head(&Path::from(deleted.key.as_str())).await.is_err(), "a dry run must not write");

    // Third run: repairs exactly those two, content type and metadata included.
    let third = run(&options, &base).await?;
    assert_eq!(counts(&third), (2, 999, 0));
    assert_same(store.as_ref(), corrupted).await?;
    assert_same(store.as_ref(), deleted).await?;
    assert!(!corrupted.attributes.is_empty(), "the corrupted object is one with metadata");

    let json: serde_json::Value = serde_json::from_str(&third.to_json())?;
    let keys: Vec<&str> = json.as_object().ok_or("not an object")?.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5);
    for key in ["copied", "skipped", "failed", "bytes", "seconds"] {
        assert!(keys.contains(&key), "{key} missing from {json}");
    }
    remove_bucket(store.as_ref(), moto.endpoint(), &bucket).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_to_s3_on_one_endpoint_copies_server_side_and_back_to_local() -> TestResult {
    let moto = aae_testkit::moto().await?;
    let dir = tempfile::tempdir()?;
    let base = base_options(dir.path());
    let s3 = moto_backend(&base, moto.endpoint()).await?;
    let (first, second) = (moto.unique_bucket("migrate-a"), moto.unique_bucket("migrate-b"));
    moto.create_bucket(&first).await?;
    moto.create_bucket(&second).await?;

    // Seed the first bucket under a prefix: small objects with metadata and a multipart one.
    let store = s3.store(&first)?;
    let mut rng = StdRng::seed_from_u64(7);
    let mut written = Vec::new();
    for (i, size) in [1usize, 100, 4096, 20_000, 12 * MIB + 3].into_iter().enumerate() {
        let mut data = vec![0u8; size];
        rng.fill_bytes(&mut data);
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, AttributeValue::from("application/x-test"));
        attributes.insert(Attribute::Metadata("user_id".into()), AttributeValue::from(format!("u{i}")));
        written.push(Written { key: format!("in/k{i}.dat"), data: Bytes::from(data), attributes });
    }
    for w in &written[..4] {
        store.put_opts(&Path::from(w.key.as_str()), w.data.clone().into(), w.attributes.clone().into()).await?;
    }
    let big = &written[4];
    let mut upload = store.put_multipart_opts(&Path::from(big.key.as_str()), big.attributes.clone().into()).await?;
    for part in big.data.chunks(5 * MIB) {
        upload.put_part(Bytes::copy_from_slice(part).into()).await?;
    }
    upload.complete().await?;

    // Bucket to bucket on one endpoint: server-side, prefix to prefix.
    let mut options = MigrateOptions::new(format!("s3://{first}/in"), format!("s3://{second}/out/"));
    options.from_endpoint = Some(moto.endpoint().to_owned());
    options.to_endpoint = Some(format!("{}/", moto.endpoint()));
    let summary = run(&options, &base).await?;
    assert_eq!(counts(&summary), (5, 0, 0), "{:?}", summary.failures);
    let copies = s3.store(&second)?;
    for w in &written {
        let moved =
            Written { key: w.key.replacen("in/", "out/", 1), data: w.data.clone(), attributes: w.attributes.clone() };
        assert_same(copies.as_ref(), &moved).await?;
    }
    // moto's CopyObject turns a multipart object into one part: proof it was copied server-side.
    let head = copies.head(&Path::from("out/k4.dat")).await?;
    assert!(head.e_tag.as_deref().is_some_and(|e| !e.contains('-')), "{:?}", head.e_tag);
    let again = run(&options, &base).await?;
    assert_eq!(counts(&again), (0, 5, 0));

    // Back to local files in the AAE layout: attributes land in the sidecars.
    let target = dir.path().join("restore/storage/objects/uploads");
    let mut back = MigrateOptions::new(format!("s3://{second}/out"), format!("file://{}", target.display()));
    back.from_endpoint = Some(moto.endpoint().to_owned());
    back.multipart_threshold = 8 * MIB;
    back.part_size = 5 * MIB;
    let missing = migrate(&back, &base, &|_| {}).await.err().ok_or("a missing directory needs bucket creation")?;
    assert_eq!(missing.kind, StorageErrorKind::NoSuchBucket);
    back.create_bucket = true;
    let summary = run(&back, &base).await?;
    assert_eq!(counts(&summary), (5, 0, 0), "{:?}", summary.failures);
    let local = LocalBackend::new(&BackendOptions { data_dir: dir.path().join("restore"), ..base.clone() })?
        .store("uploads")?;
    for w in &written {
        let moved =
            Written { key: w.key.replacen("in/", "", 1), data: w.data.clone(), attributes: w.attributes.clone() };
        assert_same(local.as_ref(), &moved).await?;
    }
    // Local ETags are not content hashes: the re-run hashes both sides and still skips.
    let again = run(&back, &base).await?;
    assert_eq!(counts(&again), (0, 5, 0));
    remove_bucket(store.as_ref(), moto.endpoint(), &first).await?;
    remove_bucket(copies.as_ref(), moto.endpoint(), &second).await
}

/// s3s-fs lists no ETags: each server-side copy costs one HEAD of the source and one pinned
/// CopyObject, and is verified by comparing their MD5 ETags, reading no object body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_copies_without_listed_etags_are_verified_by_head_not_by_reading() -> TestResult {
    let server = aae_testkit::start_s3s_fs().await?;
    let proxy = aae_testkit::FaultProxy::start(&server.endpoint()).await?;
    let dir = tempfile::tempdir()?;
    let base = base_options(dir.path());
    server.create_bucket("copy-from")?;
    server.create_bucket("copy-to")?;
    let s3 = moto_backend(&base, &server.endpoint()).await?;
    let store = s3.store("copy-from")?;
    const OBJECTS: usize = 40;
    let mut written = Vec::new();
    for i in 0..OBJECTS {
        let data = Bytes::from(format!("object {i} ").repeat(100 + i));
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, AttributeValue::from("text/plain"));
        store.put_opts(&Path::from(format!("d/{i:02}.txt")), data.clone().into(), attributes.clone().into()).await?;
        written.push(Written { key: format!("d/{i:02}.txt"), data, attributes });
    }
    let listed: Vec<_> = store.list(None).try_collect().await?;
    assert!(listed.iter().all(|m| m.e_tag.is_none()), "s3s-fs started listing ETags: the test no longer tests this");

    let mut options = MigrateOptions::new("s3://copy-from", "s3://copy-to");
    options.from_endpoint = Some(proxy.endpoint());
    options.to_endpoint = Some(proxy.endpoint());
    let before = proxy.control().requests();
    let summary = run(&options, &base).await?;
    assert_eq!(counts(&summary), (OBJECTS as u64, 0, 0), "{:?}", summary.failures);
    let requests = proxy.control().requests() - before;
    // Two bucket checks, a listing per directory (source root and `d/`, destination root), then
    // a HEAD and a CopyObject per object.
    assert!(requests <= 2 * OBJECTS as u64 + 5, "{requests} requests for {OBJECTS} objects");
    let copies = s3.store("copy-to")?;
    for w in &written {
        assert_same(copies.as_ref(), w).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_directory_source_gets_content_types_from_extensions() -> TestResult {
    let moto = aae_testkit::moto().await?;
    let dir = tempfile::tempdir()?;
    let base = base_options(dir.path());
    let plain = dir.path().join("site");
    std::fs::create_dir_all(plain.join("img"))?;
    std::fs::write(plain.join("index.html"), "<h1>hi</h1>")?;
    std::fs::write(plain.join("img/logo.PNG"), [0x89, b'P', b'N', b'G'])?;
    std::fs::write(plain.join("LICENSE"), "Apache-2.0")?;
    let bucket = moto.unique_bucket("migrate-plain");
    moto.create_bucket(&bucket).await?;
    let mut options = MigrateOptions::new(format!("file://{}", plain.display()), format!("s3://{bucket}/site"));
    options.to_endpoint = Some(moto.endpoint().to_owned());
    let summary = run(&options, &base).await?;
    assert_eq!(counts(&summary), (3, 0, 0), "{:?}", summary.failures);
    let store = moto_backend(&base, moto.endpoint()).await?.store(&bucket)?;
    for (key, expected) in [("site/index.html", "text/html"), ("site/img/logo.PNG", "image/png")] {
        let got = store.get(&Path::from(key)).await?;
        assert_eq!(got.attributes.get(&Attribute::ContentType).map(|v| v.as_ref()), Some(expected), "{key}");
    }
    assert_eq!(store.get(&Path::from("site/LICENSE")).await?.bytes().await?.as_ref(), b"Apache-2.0");
    remove_bucket(store.as_ref(), moto.endpoint(), &bucket).await
}

#[tokio::test]
async fn set_up_failures_are_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    let base = base_options(dir.path());
    let existing = format!("file://{}", dir.path().display());
    let cases = [
        (MigrateOptions::new("bucket/key", existing.clone()), StorageErrorKind::InvalidInput),
        (MigrateOptions::new(existing.clone(), "ftp://x"), StorageErrorKind::InvalidInput),
        (MigrateOptions::new(existing.clone(), existing.clone()), StorageErrorKind::InvalidInput),
        (MigrateOptions::new(format!("{existing}/absent"), format!("{existing}/b")), StorageErrorKind::NoSuchBucket),
        (
            MigrateOptions {
                from_endpoint: Some("http://x".into()),
                ..MigrateOptions::new(existing.clone(), "file:///tmp")
            },
            StorageErrorKind::InvalidInput,
        ),
        (
            MigrateOptions { concurrency: 0, ..MigrateOptions::new(existing.clone(), "file:///tmp") },
            StorageErrorKind::InvalidInput,
        ),
    ];
    for (options, kind) in cases {
        let error = migrate(&options, &base, &|_| {}).await.err().ok_or_else(|| format!("{options:?} should fail"))?;
        assert_eq!(error.kind, kind, "{options:?}: {error}");
    }
    Ok(())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Throughput on the peer benchmark's data set (10,000 x 4 KiB + 4 x 64 MiB by default) against an
/// in-process s3s-fs, and with `AAE_MIGRATE_BENCH_RCLONE=1` rclone on the same server, data and
/// concurrency (`--transfers N --checkers 2N`). Not a pass/fail test: run it with
/// `cargo test --release -p aae-storage --test it migrate::throughput -- --ignored --nocapture`
/// (sizes: `AAE_MIGRATE_BENCH_SMALL`, `AAE_MIGRATE_BENCH_BIG`, `AAE_MIGRATE_BENCH_CONCURRENCY`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly"]
async fn throughput() -> TestResult {
    let (small, big, concurrency) = (
        env_or("AAE_MIGRATE_BENCH_SMALL", 10_000),
        env_or("AAE_MIGRATE_BENCH_BIG", 4),
        env_or("AAE_MIGRATE_BENCH_CONCURRENCY", 16),
    );
    let dir = tempfile::tempdir()?;
    let base = base_options(dir.path());
    let store = LocalBackend::new(&base)?.store("bench")?;
    let mut rng = StdRng::seed_from_u64(1);
    let mut objects = Vec::new();
    for i in 0..small + big {
        let size = if i < small { 4096 } else { 64 * MIB };
        let mut data = vec![0u8; size];
        rng.fill_bytes(&mut data);
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, AttributeValue::from("application/octet-stream"));
        objects.push((Path::from(format!("data/{i:05}.bin")), Bytes::from(data), attributes));
    }
    futures::stream::iter(&objects)
        .map(Ok::<_, object_store::Error>)
        .try_for_each_concurrent(16, |(path, data, attributes)| {
            let store = &store;
            async move { store.put_opts(path, data.clone().into(), attributes.clone().into()).await.map(|_| ()) }
        })
        .await?;
    drop(objects);
    let server = aae_testkit::start_s3s_fs().await?;
    let endpoint = server.endpoint();
    let source_dir = dir.path().join("storage/objects/bench");
    let source = format!("file://{}", source_dir.display());
    let out = dir.path().join("out");
    let megabytes = ((small * 4096 + big * 64 * MIB) as f64) / 1e6;
    let objects = (small + big) as f64;
    let report = |name: &str, seconds: f64| {
        eprintln!(
            "{name:>32}: {seconds:6.2} s = {:5.0} objects/s, {:6.1} MB/s",
            objects / seconds,
            megabytes / seconds
        );
    };
    let phases = [
        ("aae local -> s3", source.clone(), "s3://bench-a".to_owned()),
        ("aae local -> s3, re-run", source, "s3://bench-a".to_owned()),
        ("aae s3 -> s3 (server-side)", "s3://bench-a".to_owned(), "s3://bench-b".to_owned()),
        ("aae s3 -> local", "s3://bench-a".to_owned(), format!("file://{}", out.display())),
    ];
    let mut ours = Vec::new();
    for (name, from, to) in phases {
        let mut options = MigrateOptions::new(from, to);
        options.concurrency = concurrency;
        options.create_bucket = true;
        options.from_endpoint = options.from.starts_with("s3").then(|| endpoint.clone());
        options.to_endpoint = options.to.starts_with("s3").then(|| endpoint.clone());
        let summary = migrate(&options, &base, &|_| {}).await?;
        assert_eq!(summary.failed, 0, "{name}: {:?}", summary.failures);
        report(name, summary.seconds);
        ours.push(summary.seconds);
    }
    if std::env::var("AAE_MIGRATE_BENCH_RCLONE").is_ok_and(|v| v == "1") {
        for bucket in ["rclone-a", "rclone-b"] {
            server.create_bucket(bucket)?;
        }
        let remote = |path: &str| format!("bench:{path}");
        let phases = [
            ("rclone local -> s3", source_dir.display().to_string(), remote("rclone-a")),
            ("rclone local -> s3, re-run", source_dir.display().to_string(), remote("rclone-a")),
            ("rclone s3 -> s3 (server-side)", remote("rclone-a"), remote("rclone-b")),
            ("rclone s3 -> local", remote("rclone-a"), dir.path().join("rclone-out").display().to_string()),
        ];
        for ((name, from, to), aae) in phases.into_iter().zip(ours) {
            let started = Instant::now();
            let status = tokio::process::Command::new("rclone")
                .args(["copy", &from, &to, "--disable", "ListR", "--transfers"])
                .arg(concurrency.to_string())
                .arg("--checkers")
                .arg((2 * concurrency).to_string())
                .env_remove("AWS_CA_BUNDLE")
                .env("RCLONE_CONFIG_BENCH_TYPE", "s3")
                .env("RCLONE_CONFIG_BENCH_PROVIDER", "Other")
                .env("RCLONE_CONFIG_BENCH_ACCESS_KEY_ID", aae_testkit::ACCESS_KEY)
                .env("RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY", aae_testkit::SECRET_KEY)
                .env("RCLONE_CONFIG_BENCH_REGION", aae_testkit::REGION)
                .env("RCLONE_CONFIG_BENCH_ENDPOINT", &endpoint)
                .env("RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE", "true")
                .status()
                .await?;
            assert!(status.success(), "{name}: {status}");
            let seconds = started.elapsed().as_secs_f64();
            report(name, seconds);
            eprintln!("{:>32}  aae is {:.2}x rclone's speed", "", seconds / aae);
        }
    }
    Ok(())
}
