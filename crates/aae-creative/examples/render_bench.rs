//! Creative rendering time: every standard size (seven PNGs) for one brief, on the calling
//! thread only (rendering is single-threaded), with a logo. Prints one JSON line: the median,
//! minimum and maximum over `RUNS` (default 30) renders after a warm-up.
//!
//!     cargo run --release -p aae-creative --example render_bench [-- RUNS]
//!
//! `bench/creatives.sh` runs it; the result is in docs/benchmarks.md.

use std::time::Instant;

use aae_creative::{CreativeSize, CreativeSpec, render_ad_creatives};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).map(|r| r.parse()).transpose()?.unwrap_or(30).max(1);
    let mut spec = CreativeSpec::new(
        "Fresh beans, every fortnight",
        "Single-origin coffee roasted to order and shipped within 48 hours. Pause or cancel any time.",
        "Start my subscription",
        vec!["#3b2416".to_owned(), "#e9c46a".to_owned()],
    );
    let logo = image::RgbaImage::from_fn(96, 96, |x, y| {
        let inside = (x as i32 - 48).pow(2) + (y as i32 - 48).pow(2) < 40 * 40;
        if inside { image::Rgba([233, 196, 106, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut logo_png = std::io::Cursor::new(Vec::new());
    logo.write_to(&mut logo_png, image::ImageFormat::Png)?;
    spec.logo = Some(logo_png.into_inner());

    let warm = render_ad_creatives(&spec)?;
    assert_eq!(warm.len(), CreativeSize::ALL.len());
    let bytes: usize = warm.iter().map(|c| c.png.len()).sum();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let creatives = render_ad_creatives(&spec)?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(creatives.len(), CreativeSize::ALL.len());
    }
    times.sort_by(f64::total_cmp);
    let round = |ms: f64| (ms * 100.0).round() / 100.0;
    println!(
        "{{\"sizes\":{},\"runs\":{runs},\"png_bytes\":{bytes},\"median_ms\":{},\"min_ms\":{},\"max_ms\":{}}}",
        warm.len(),
        round(times[times.len() / 2]),
        round(times[0]),
        round(times[times.len() - 1])
    );
    Ok(())
}
