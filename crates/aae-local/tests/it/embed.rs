//! Local embeddings against sentence-transformers' own output (a committed fixture).

use aae_local::{EMBEDDING_DIMENSIONS, EmbedSettings, LocalEmbedder, cosine};
use serde::Deserialize;

use crate::support::{embedder, models_dir};

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<String>,
    embeddings: Vec<Vec<f32>>,
    tokens_untruncated: Vec<usize>,
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/minilm_reference.json");
    serde_json::from_slice(&std::fs::read(path).expect("read the fixture")).expect("parse the fixture")
}

#[tokio::test]
async fn embeddings_match_sentence_transformers() {
    let reference = reference();
    // The fixture covers texts longer than the tokenizer.json's 128 and the model's 256 tokens.
    assert!(reference.tokens_untruncated.iter().any(|&n| n > 128 && n <= 256));
    assert!(reference.tokens_untruncated.iter().any(|&n| n > 256));
    let vectors = embedder().embed(reference.sentences.clone()).await.expect("embed");
    assert_eq!(vectors.len(), reference.sentences.len());
    for ((sentence, ours), theirs) in reference.sentences.iter().zip(&vectors).zip(&reference.embeddings) {
        assert_eq!(ours.len(), EMBEDDING_DIMENSIONS);
        let norm: f32 = ours.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        let similarity = cosine(ours, theirs);
        assert!(similarity > 0.999, "cosine {similarity} for {sentence:?}");
    }
}

#[test]
fn batching_and_padding_do_not_change_the_vectors() {
    let reference = reference();
    let one_by_one = LocalEmbedder::load(&models_dir(), EmbedSettings { batch_size: 1 }).expect("load");
    let single = one_by_one.embed_blocking(&reference.sentences).expect("embed");
    let batched = embedder().embed_blocking(&reference.sentences).expect("embed");
    for (a, b) in single.iter().zip(&batched) {
        assert!(cosine(a, b) > 0.99999, "{}", cosine(a, b));
    }
    assert!(embedder().embed_blocking::<&str>(&[]).expect("nothing to embed").is_empty());
}
