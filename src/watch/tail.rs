//! Following one growing file like `tail -F`: remember how far it was read, read only what was
//! appended since, hand out complete lines and hold a partial last line until its newline arrives.
//! A reader that can tell the held line is whole (a JSON record that parses: a prefix of one never
//! does) may take it before its newline ([`Tail::take_partial`]); the newline, when it comes, is
//! then skipped, so the line is read once and the file's line numbers stay right.
//!
//! A file that shrank (truncated, `> file`) or whose identity changed (device and inode on Unix:
//! replaced by a new file, or rotated and recreated) is read again from its start, and the caller
//! is told so ([`Growth::Reset`]). A file that disappeared keeps its state until it comes back.
//! A binary file (TensorBoard's TFRecord stream) is followed in raw mode: every appended byte is
//! handed out and its reader holds a partial last record itself.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What a look at the file found.
#[derive(Debug, PartialEq, Eq)]
pub enum Growth {
    /// Complete lines (each ending in `\n`) appended since the last look; in raw mode, every
    /// byte appended.
    Lines(Vec<u8>),
    /// The file was truncated or replaced: everything read so far is void; read again from 0.
    Reset,
    /// Nothing new (or only part of a line).
    Nothing,
    /// The file is not there (yet, or any more).
    Missing,
}

/// The read position in one followed file.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    offset: u64,
    identity: Option<(u64, u64)>,
    partial: Vec<u8>,
    raw: bool,
    /// The held line was taken before its newline: skip the newline when it arrives.
    newline_owed: bool,
}

impl Tail {
    pub fn new(path: &Path) -> Tail {
        Tail {
            path: path.to_path_buf(),
            offset: 0,
            identity: None,
            partial: Vec::new(),
            raw: false,
            newline_owed: false,
        }
    }

    /// Follows a binary file: [`Growth::Lines`] holds every byte appended, cut anywhere.
    pub fn raw(path: &Path) -> Tail {
        Tail {
            raw: true,
            ..Tail::new(path)
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes consumed so far (complete lines and the held partial line).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Starts over from the beginning of the file.
    pub fn rewind(&mut self) {
        self.offset = 0;
        self.identity = None;
        self.partial.clear();
        self.newline_owed = false;
    }

    /// The last line read so far without its newline (empty when none is held).
    pub fn partial(&self) -> &[u8] {
        &self.partial
    }

    /// Takes the held last line as complete, before its newline: only for a reader that knows it
    /// is whole. The newline (`\n` or `\r\n`) that may follow later is skipped.
    pub fn take_partial(&mut self) -> Vec<u8> {
        let line = std::mem::take(&mut self.partial);
        self.newline_owed = !line.is_empty();
        line
    }

    /// Reads what was appended since the last look, at most `max_bytes` of it (call again to get
    /// the rest).
    pub fn read_new(&mut self, max_bytes: u64) -> io::Result<Growth> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Growth::Missing),
            Err(e) => return Err(e),
        };
        let identity = identity_of(&meta);
        let replaced = self.identity.is_some() && identity.is_some() && self.identity != identity;
        if replaced || meta.len() < self.offset {
            self.rewind();
            self.identity = identity;
            return Ok(Growth::Reset);
        }
        self.identity = identity;
        if meta.len() == self.offset {
            return Ok(Growth::Nothing);
        }
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let want = (meta.len() - self.offset).min(max_bytes.max(1));
        let mut buf = std::mem::take(&mut self.partial);
        let before = buf.len();
        file.take(want).read_to_end(&mut buf)?;
        self.offset += (buf.len() - before) as u64;
        if self.raw {
            return Ok(Growth::Lines(buf));
        }
        if self.newline_owed && !buf.is_empty() {
            // A lone `\r` may be the first half of `\r\n`: decide when more arrives.
            self.newline_owed = buf == b"\r";
            let skip = match buf.as_slice() {
                [b'\n', ..] => 1,
                [b'\r', b'\n', ..] => 2,
                _ => 0,
            };
            buf.drain(..skip);
        }
        match memchr::memrchr(b'\n', &buf) {
            Some(end) => {
                self.partial = buf.split_off(end + 1);
                Ok(Growth::Lines(buf))
            }
            None => {
                self.partial = buf;
                Ok(Growth::Nothing)
            }
        }
    }

    /// Whether bytes remain unread beyond what the last look took.
    pub fn behind(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| m.len() > self.offset)
    }
}

#[cfg(unix)]
pub(crate) fn identity_of(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
pub(crate) fn identity_of(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn holds_partial_lines_and_detects_truncation() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log.csv");
        std::fs::write(&path, b"a,b\n1,")?;
        let mut tail = Tail::new(&path);
        assert_eq!(tail.read_new(1 << 20)?, Growth::Lines(b"a,b\n".to_vec()));
        assert_eq!(tail.read_new(1 << 20)?, Growth::Nothing);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(b"2\n3,4\n")?;
        assert_eq!(
            tail.read_new(1 << 20)?,
            Growth::Lines(b"1,2\n3,4\n".to_vec())
        );
        std::fs::write(&path, b"a,b\n")?;
        assert_eq!(tail.read_new(1 << 20)?, Growth::Reset);
        assert_eq!(tail.read_new(1 << 20)?, Growth::Lines(b"a,b\n".to_vec()));
        Ok(())
    }

    #[test]
    fn a_partial_line_taken_early_is_not_handed_out_again() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log.jsonl");
        std::fs::write(&path, b"{\"a\": 1}\n{\"a\": 2}")?;
        let mut tail = Tail::new(&path);
        assert_eq!(
            tail.read_new(1 << 20)?,
            Growth::Lines(b"{\"a\": 1}\n".to_vec())
        );
        assert_eq!(tail.partial(), b"{\"a\": 2}");
        assert_eq!(tail.take_partial(), b"{\"a\": 2}".to_vec());
        assert_eq!(tail.read_new(1 << 20)?, Growth::Nothing);
        let append = |bytes: &[u8]| -> std::io::Result<()> {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)?
                .write_all(bytes)
        };
        append(b"\r")?;
        assert_eq!(tail.read_new(1 << 20)?, Growth::Nothing);
        append(b"\n{\"a\": 3}\n")?;
        assert_eq!(
            tail.read_new(1 << 20)?,
            Growth::Lines(b"{\"a\": 3}\n".to_vec())
        );
        Ok(())
    }

    #[test]
    fn detects_a_replaced_file_of_the_same_size() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log.csv");
        std::fs::write(&path, b"x\n")?;
        let mut tail = Tail::new(&path);
        assert_eq!(tail.read_new(1 << 20)?, Growth::Lines(b"x\n".to_vec()));
        let other = dir.path().join("new.csv");
        std::fs::write(&other, b"y\nz\n")?;
        std::fs::rename(&other, &path)?;
        assert_eq!(tail.read_new(1 << 20)?, Growth::Reset);
        std::fs::remove_file(&path)?;
        assert_eq!(tail.read_new(1 << 20)?, Growth::Missing);
        Ok(())
    }
}
