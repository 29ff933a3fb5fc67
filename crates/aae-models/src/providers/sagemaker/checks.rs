//! Property 8 output checks: a generated image must decode as an image of exactly the requested
//! size, and a generated video must be an MP4 (`ftyp` box first, a `moov/mvhd` box whose
//! duration and timescale give the length). Pure functions; the callers turn the `String`
//! errors into `InvalidResponse`.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};

/// A checked image: its MIME type, from the decoded format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckedImage {
    pub(crate) content_type: &'static str,
}

/// Checks that `bytes` are a PNG, JPEG or WebP image of exactly `width`×`height` that decodes
/// completely. The size is read from the header before the pixels are decoded, so a wrong-size
/// (or huge) image is refused without decoding it.
pub(crate) fn check_image(bytes: &[u8], width: u32, height: u32) -> Result<CheckedImage, String> {
    let format = image::guess_format(bytes).map_err(|e| format!("reply is not an image: {e}"))?;
    let content_type = match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::WebP => "image/webp",
        other => return Err(format!("reply is a {other:?} image; expected png, jpeg or webp")),
    };
    let reader = |bytes| ImageReader::with_format(Cursor::new(bytes), format);
    let (got_width, got_height) = reader(bytes).into_dimensions().map_err(|e| format!("reply is not an image: {e}"))?;
    if (got_width, got_height) != (width, height) {
        return Err(format!("expected a {width}x{height} image, got {got_width}x{got_height}"));
    }
    reader(bytes).decode().map_err(|e| format!("reply is not an image: {e}"))?;
    Ok(CheckedImage { content_type })
}

/// One ISO BMFF box: its type and its payload (after the header).
struct Mp4Box<'a> {
    kind: [u8; 4],
    payload: &'a [u8],
}

/// The boxes of `data`, in order; fails on a box whose size runs past the end.
fn boxes(mut data: &[u8]) -> Result<Vec<Mp4Box<'_>>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let header = data.get(..8).ok_or("a box header is cut off")?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        let (header_len, size) = match size32 {
            0 => (8, data.len()),
            1 => {
                let large = data.get(8..16).ok_or("a 64-bit box size is cut off")?;
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(large);
                (16, usize::try_from(u64::from_be_bytes(bytes)).map_err(|_| "a box is too large")?)
            }
            n => (8, n as usize),
        };
        if size < header_len || size > data.len() {
            return Err(format!("box `{}` claims {size} bytes, {} are left", kind_text(&kind), data.len()));
        }
        out.push(Mp4Box { kind, payload: &data[header_len..size] });
        data = &data[size..];
    }
    Ok(out)
}

fn kind_text(kind: &[u8; 4]) -> String {
    kind.iter().map(|b| if b.is_ascii_graphic() { char::from(*b) } else { '?' }).collect()
}

fn be_u32(data: &[u8], at: usize) -> Result<u64, String> {
    let b = data.get(at..at + 4).ok_or("mvhd is cut off")?;
    Ok(u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
}

fn be_u64(data: &[u8], at: usize) -> Result<u64, String> {
    let b = data.get(at..at + 8).ok_or("mvhd is cut off")?;
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(b);
    Ok(u64::from_be_bytes(bytes))
}

/// Checks that `bytes` are an MP4 and returns its duration in seconds (from `moov/mvhd`).
pub(crate) fn check_mp4(bytes: &[u8]) -> Result<f64, String> {
    let top = boxes(bytes).map_err(|e| format!("output is not an mp4: {e}"))?;
    match top.first() {
        Some(first) if &first.kind == b"ftyp" => {}
        _ => return Err("output is not an mp4: it does not start with an ftyp box".to_owned()),
    }
    let moov =
        top.iter().find(|b| &b.kind == b"moov").ok_or_else(|| "output is not an mp4: it has no moov box".to_owned())?;
    let inner = boxes(moov.payload).map_err(|e| format!("output is not an mp4: {e}"))?;
    let mvhd = inner
        .iter()
        .find(|b| &b.kind == b"mvhd")
        .ok_or_else(|| "output is not an mp4: moov has no mvhd box".to_owned())?
        .payload;
    // version (1) + flags (3), then creation and modification times (4 or 8 bytes each),
    // timescale (4) and duration (4 or 8).
    let (timescale, duration) = match mvhd.first() {
        Some(0) => (be_u32(mvhd, 12), be_u32(mvhd, 16)),
        Some(1) => (be_u32(mvhd, 20), be_u64(mvhd, 24)),
        Some(v) => return Err(format!("output is not an mp4: unknown mvhd version {v}")),
        None => return Err("output is not an mp4: mvhd is empty".to_owned()),
    };
    let (timescale, duration) = (
        timescale.map_err(|e| format!("output is not an mp4: {e}"))?,
        duration.map_err(|e| format!("output is not an mp4: {e}"))?,
    );
    if timescale == 0 {
        return Err("output is not an mp4: mvhd timescale is 0".to_owned());
    }
    if duration == 0 || duration == u64::from(u32::MAX) || duration == u64::MAX {
        return Err("output is not an mp4: mvhd has no duration".to_owned());
    }
    Ok(duration as f64 / timescale as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }

    fn mvhd_v0(timescale: u32, duration: u32) -> Vec<u8> {
        let mut payload = vec![0u8; 100];
        payload[12..16].copy_from_slice(&timescale.to_be_bytes());
        payload[16..20].copy_from_slice(&duration.to_be_bytes());
        mp4_box(b"mvhd", &payload)
    }

    fn mp4(mvhd: &[u8]) -> Vec<u8> {
        let mut out = mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
        out.extend(mp4_box(b"moov", mvhd));
        out.extend(mp4_box(b"mdat", b"frames"));
        out
    }

    #[test]
    fn mp4_duration_comes_from_mvhd_in_both_versions() {
        assert_eq!(check_mp4(&mp4(&mvhd_v0(1000, 5000))), Ok(5.0));
        let mut v1 = vec![0u8; 112];
        v1[0] = 1;
        v1[20..24].copy_from_slice(&90_000u32.to_be_bytes());
        v1[24..32].copy_from_slice(&(90_000u64 * 3 / 2).to_be_bytes());
        assert_eq!(check_mp4(&mp4(&mp4_box(b"mvhd", &v1))), Ok(1.5));
        // A 64-bit size and a last box running to the end are both accepted.
        let mut large = mp4_box(b"ftyp", b"isom");
        large.extend_from_slice(&1u32.to_be_bytes());
        large.extend_from_slice(b"moov");
        let mvhd = mvhd_v0(10, 20);
        large.extend_from_slice(&((mvhd.len() + 16) as u64).to_be_bytes());
        large.extend(mvhd);
        large.extend_from_slice(&0u32.to_be_bytes());
        large.extend_from_slice(b"mdat0123");
        assert_eq!(check_mp4(&large), Ok(2.0));
    }

    #[test]
    fn anything_else_is_not_an_mp4() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"garbage that is not a video".to_vec(), "claims"),
            (Vec::new(), "ftyp"),
            (mp4_box(b"moov", &mvhd_v0(1000, 5000)), "ftyp"),
            (mp4_box(b"ftyp", b"isom"), "no moov"),
            (mp4(&mp4_box(b"trak", b"")), "no mvhd"),
            (mp4(&mvhd_v0(0, 5000)), "timescale is 0"),
            (mp4(&mvhd_v0(1000, 0)), "no duration"),
            (mp4(&mp4_box(b"mvhd", &[0u8; 10])), "cut off"),
            (mp4(&mvhd_v0(1000, 5000))[..30].to_vec(), "cut off"),
        ];
        for (bytes, want) in cases {
            let error = check_mp4(&bytes).expect_err(want);
            assert!(error.starts_with("output is not an mp4") && error.contains(want), "{want}: {error}");
        }
    }

    fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    #[test]
    fn images_must_decode_at_the_requested_size() {
        assert_eq!(check_image(&encoded(32, 16, ImageFormat::Png), 32, 16).map(|c| c.content_type), Ok("image/png"));
        assert_eq!(check_image(&encoded(8, 8, ImageFormat::Jpeg), 8, 8).map(|c| c.content_type), Ok("image/jpeg"));
        let wrong = check_image(&encoded(32, 16, ImageFormat::Png), 16, 32).expect_err("wrong size");
        assert_eq!(wrong, "expected a 16x32 image, got 32x16");
        let garbage = check_image(b"<html>oops</html>", 8, 8).expect_err("garbage");
        assert!(garbage.starts_with("reply is not an image"), "{garbage}");
        let mut truncated = encoded(32, 16, ImageFormat::Png);
        truncated.truncate(truncated.len() - 20);
        let cut = check_image(&truncated, 32, 16).expect_err("truncated");
        assert!(cut.starts_with("reply is not an image"), "{cut}");
    }
}
