//! Single-threaded SigV4 presign throughput, the counterpart of `bench/presign_boto3.py`.
//!
//! `cargo run --release -p aae-storage --example presign_bench [N]` presigns N GET and N PUT
//! URLs (default 1,000,000 each) against a path-style `http://127.0.0.1:5000` endpoint and prints
//! `{"get_per_sec":…,"put_per_sec":…}`.

use std::hint::black_box;
use std::time::Instant;

use aae_storage::presign::{PresignInput, SigV4Credentials, SigV4Presigner};
use chrono::Utc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.replace('_', "").parse()?,
        None => 1_000_000,
    };
    let credentials = SigV4Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
    };
    let presigner = SigV4Presigner::new("http://127.0.0.1:5000", "us-east-1", "s3", true, credentials)?;
    // A ring of distinct, realistic keys so neither side benefits from a single hot key.
    let keys: Vec<String> = (0..1024).map(|i| format!("uploads/user-{i}/2024/03/photo {i}.png")).collect();
    let content_type = [("content-type", "image/png")];

    let mut rates = Vec::with_capacity(2);
    for (method, signed_headers) in [("GET", &[][..]), ("PUT", &content_type[..])] {
        let started = Instant::now();
        let mut bytes = 0usize;
        for i in 0..n {
            let req = PresignInput {
                signed_headers,
                ..PresignInput::new(method, "bench-bucket", &keys[i % keys.len()], 3600)
            };
            bytes += black_box(presigner.presign(&req, Utc::now())?).len();
        }
        black_box(bytes);
        rates.push(n as f64 / started.elapsed().as_secs_f64());
    }
    println!("{{\"get_per_sec\":{:.0},\"put_per_sec\":{:.0}}}", rates[0], rates[1]);
    Ok(())
}
