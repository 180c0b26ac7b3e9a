//! PNG encoding of a drawn figure: the one place the `png` crate is used.
//!
//! The figures are mostly flat white with thin lines and text, so the choice that matters is
//! speed: every row is filtered with the fixed `Paeth` filter and deflated with `png`'s fast
//! compressor (`fdeflate`). Measured on the recipe report and the 1e7-row report (1600×1000,
//! `bench/RESULTS.md`): Paeth encodes in 0.26–0.52× the time of the adaptive per-row choice the
//! `image` crate made (it tries all five filters on every row), with files 5% larger; `Up` and
//! `Sub` are as fast on one figure and slower on the other, with files 40–90% larger; no filter
//! is the slowest (ten times the bytes to deflate).

use std::io::{self, Write};

/// The row filter used for every row (see the module comment).
const FILTER: png::FilterType = png::FilterType::Paeth;

/// Writes `pixels` (`w × h` RGB, 8 bits a channel, rows top to bottom, `3·w·h` bytes) as one PNG
/// to `out`. Errors: `out`'s I/O errors, and `InvalidInput` when `pixels` does not hold `3·w·h`
/// bytes or a side is 0.
pub fn encode_rgb8(out: &mut dyn Write, pixels: &[u8], w: u32, h: u32) -> io::Result<()> {
    let mut encoder = png::Encoder::new(out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(FILTER);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = encoder.write_header().map_err(to_io)?;
    writer.write_image_data(pixels).map_err(to_io)?;
    writer.finish().map_err(to_io)
}

/// The encoder's error as an I/O error (its own I/O errors unwrapped).
fn to_io(e: png::EncodingError) -> io::Error {
    match e {
        png::EncodingError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG written by [`encode_rgb8`] back to its RGB bytes.
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(bytes).read_info().expect("a PNG header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("one frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn pixels_round_trip_exactly() {
        let (w, h) = (37u32, 23u32);
        // A white page with a diagonal line and a gradient: rows differ, so the filter matters.
        let mut pixels = vec![255u8; (3 * w * h) as usize];
        for y in 0..h {
            for x in 0..w {
                let at = (3 * (y * w + x)) as usize;
                if x == y {
                    pixels[at..at + 3].copy_from_slice(&[25, 70, 160]);
                } else if x > 30 {
                    pixels[at] = (7 * y) as u8;
                }
            }
        }
        let mut out = Vec::new();
        encode_rgb8(&mut out, &pixels, w, h).expect("encodes");
        assert_eq!(decode(&out), (w, h, pixels));
    }

    #[test]
    fn a_wrong_buffer_size_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        let err = encode_rgb8(&mut out, &[0; 10], 2, 2).expect_err("12 bytes needed");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn write_errors_come_back_as_they_are() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = encode_rgb8(&mut Full, &[0; 12], 2, 2).expect_err("cannot write");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
