//! Reading text line by line with a bound on memory: a line longer than the limit is not stored
//! whole; the caller learns it was too long and decides (skip or reject).

use std::io::{self, BufRead};
use std::ops::Range;

use rayon::prelude::*;

/// One line read by [`read_line_capped`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line (without its newline) is in the buffer.
    Complete,
    /// The line exceeded the limit; the buffer holds its first `limit` bytes, the rest was consumed.
    TooLong { bytes: u64 },
    /// The line is longer than [`MAX_LINE_BYTES`] and still going (`/dev/zero`, a binary): the
    /// reading stopped there, the rest is not consumed. Not a text log.
    Endless,
    /// End of input.
    End,
}

/// No text log has a line this long: reading stops past it, whatever the caller keeps.
pub const MAX_LINE_BYTES: u64 = 16 << 20;

/// Reads the next line into `buf` (cleared first), keeping at most `limit` bytes of it and
/// reading at most [`MAX_LINE_BYTES`] of it. `\n` ends a line; a trailing `\r` is removed.
pub fn read_line_capped(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Line> {
    buf.clear();
    let mut total: u64 = 0;
    let mut saw_any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        saw_any = true;
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        total += chunk.len() as u64;
        let room = limit.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(available.len());
        reader.consume(used);
        if done.is_some() {
            break;
        }
        if total > MAX_LINE_BYTES {
            return Ok(Line::Endless);
        }
    }
    if !saw_any {
        return Ok(Line::End);
    }
    if total > limit as u64 {
        return Ok(Line::TooLong { bytes: total });
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Line::Complete)
}

/// Runs `work` across cores on consecutive blocks of `per_block` lines out of `lines`: block `b`
/// gets the line range `b·per_block .. min((b+1)·per_block, lines)` and the `b`-th state of
/// `blocks`, which grows as needed and is never shrunk, so the states' buffers are reused from
/// batch to batch. Returns the number of blocks used (`blocks[..count]`, in line order). The
/// batch readers of JSON lines and console logs classify their lines this way.
pub fn for_each_block<B: Default + Send>(
    blocks: &mut Vec<B>,
    lines: usize,
    per_block: usize,
    work: impl Fn(Range<usize>, &mut B) + Sync,
) -> usize {
    let count = lines.div_ceil(per_block);
    if blocks.len() < count {
        blocks.resize_with(count, B::default);
    }
    blocks[..count]
        .par_iter_mut()
        .enumerate()
        .for_each(|(b, block)| work(b * per_block..((b + 1) * per_block).min(lines), block));
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_and_bounds_long_ones() -> Result<(), Box<dyn std::error::Error>> {
        let text = b"short\r\n0123456789abcdef\nlast";
        let mut reader = io::BufReader::with_capacity(4, &text[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut reader, &mut buf, 8)?, Line::Complete);
        assert_eq!(buf, b"short");
        assert_eq!(
            read_line_capped(&mut reader, &mut buf, 8)?,
            Line::TooLong { bytes: 16 }
        );
        assert_eq!(buf.len(), 8);
        assert_eq!(read_line_capped(&mut reader, &mut buf, 8)?, Line::Complete);
        assert_eq!(buf, b"last");
        assert_eq!(read_line_capped(&mut reader, &mut buf, 8)?, Line::End);
        Ok(())
    }

    #[test]
    fn an_endless_line_stops_the_reading() -> Result<(), Box<dyn std::error::Error>> {
        let mut zeros = io::BufReader::new(io::repeat(0));
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut zeros, &mut buf, 100)?, Line::Endless);
        assert_eq!(buf.len(), 100);
        Ok(())
    }
}
