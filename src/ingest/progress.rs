//! A progress bar for large inputs. Reading a multi-gigabyte log takes seconds; a researcher at a
//! terminal should see that the tool is working and how far it is. The bar counts bytes read, is
//! drawn on stderr only when stderr is a terminal (never in CI logs or pipes), only when the
//! inputs are large enough to take noticeable time, and is cleared when reading ends so that the
//! report is not interleaved with it.

use std::io::{IsTerminal, Read};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this read in well under a second: no bar.
pub const MIN_BYTES_FOR_BAR: u64 = 64 << 20;

/// A byte-count progress bar, or nothing.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// No bar.
    pub fn hidden() -> Progress {
        Progress::default()
    }

    /// A bar over `total_bytes` when `wanted`, the inputs are large and stderr is a terminal.
    pub fn for_inputs(total_bytes: u64, wanted: bool) -> Progress {
        if !wanted || total_bytes < MIN_BYTES_FOR_BAR || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "jepa-doctor: reading {bar:30} {binary_bytes}/{binary_total_bytes} ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress { bar: Some(bar) }
    }

    /// Whether a bar is shown.
    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Counts `bytes` more as read.
    pub fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Bytes counted so far.
    pub fn position(&self) -> u64 {
        self.bar.as_ref().map_or(0, ProgressBar::position)
    }

    /// Goes back to `bytes` (a file is read again after the fast path gave up).
    pub fn rewind_to(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
    }

    /// Wraps a reader so that what it yields is counted.
    pub fn counting<R: Read>(&self, reader: R) -> CountingReader<R> {
        CountingReader {
            inner: reader,
            progress: self.clone(),
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A reader that advances a [`Progress`] by what it reads.
pub struct CountingReader<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_or_unwanted_inputs_get_no_bar() {
        assert!(!Progress::for_inputs(1 << 40, false).is_shown());
        assert!(!Progress::for_inputs(MIN_BYTES_FOR_BAR - 1, true).is_shown());
    }

    #[test]
    fn the_counting_reader_passes_every_byte_through() -> Result<(), Box<dyn std::error::Error>> {
        let data = vec![7u8; 100_000];
        let mut out = Vec::new();
        Progress::hidden()
            .counting(data.as_slice())
            .read_to_end(&mut out)?;
        assert_eq!(out, data);
        Ok(())
    }
}
