//! TFRecord framing, the container of TensorBoard event files: each record is
//! `u64 length (little-endian) | u32 masked CRC-32C of the length bytes | payload | u32 masked
//! CRC-32C of the payload`, where `masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8`
//! (tensorflow/core/lib/io/record_reader.cc, tensorflow/tsl/lib/hash/crc32c.h).
//!
//! Reading is streaming: the stream is read in 1 MiB chunks into one reused buffer, records are
//! slices of it. Both checksums are verified. A payload
//! whose checksum fails is reported with its byte offset and the reader moves on (the length was
//! sound); a length whose checksum fails loses the framing, so the reader scans forward byte by
//! byte for the next sound header and reports how many bytes it passed over. A record cut short at
//! the end of the file (a run still writing) is reported as truncated.

use std::io::{self, Read};
use std::ops::Range;

/// A payload longer than this is taken for a damaged length (no event is that large).
pub const MAX_RECORD_BYTES: u64 = 256 << 20;

const HEADER_BYTES: usize = 12;
const MASK_DELTA: u32 = 0xa282_ead8;

/// TFRecord's masked CRC-32C of `bytes`.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// What the next read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A sound record; its payload is in the reader's buffer ([`RecordReader::payload`]).
    Record { offset: u64 },
    /// A record whose payload checksum failed (skipped).
    BadPayloadCrc { offset: u64 },
    /// Bytes from `offset` on were not a sound record header; `bytes` of them were passed over
    /// before the next sound header (or the end of the file).
    Resynced { offset: u64, bytes: u64 },
    /// The file ends inside a record that starts at `offset` (`bytes` of it present).
    Truncated { offset: u64, bytes: u64 },
    /// The end of the file, cleanly between records.
    End,
}

impl Frame {
    /// The same frame with its offset moved by `base` (a stream read from the middle of a file).
    pub fn shifted(self, base: u64) -> Frame {
        match self {
            Frame::Record { offset } => Frame::Record {
                offset: offset + base,
            },
            Frame::BadPayloadCrc { offset } => Frame::BadPayloadCrc {
                offset: offset + base,
            },
            Frame::Resynced { offset, bytes } => Frame::Resynced {
                offset: offset + base,
                bytes,
            },
            Frame::Truncated { offset, bytes } => Frame::Truncated {
                offset: offset + base,
                bytes,
            },
            Frame::End => Frame::End,
        }
    }
}

/// Bytes read from the stream at a time (a record longer than this is read whole).
const CHUNK_BYTES: usize = 1 << 20;

/// Reads TFRecord frames from a byte stream.
///
/// The stream is read in chunks of `CHUNK_BYTES` (1 MiB) into one buffer that is reused for the
/// whole stream (the unconsumed tail moves to its front before the next read): a record's payload
/// is a slice of it ([`RecordReader::payload`]), borrowed until the next frame is read, so
/// decoders read records in place without a copy, an allocation or a reference count per record.
pub struct RecordReader<R> {
    inner: R,
    /// The buffer; `buf[pos..end]` was read but not consumed yet, and `buf[pos]` is at stream
    /// offset `offset`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    offset: u64,
    eof: bool,
    /// Where the payload of the last [`Frame::Record`] is in `buf`.
    payload: Range<usize>,
    /// A sound header found while resynchronising, to start the next frame with.
    pending: Option<[u8; HEADER_BYTES]>,
}

impl<R: Read> RecordReader<R> {
    pub fn new(reader: R) -> RecordReader<R> {
        RecordReader {
            inner: reader,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            offset: 0,
            eof: false,
            payload: 0..0,
            pending: None,
        }
    }

    /// The payload of the last [`Frame::Record`] (empty after any other frame).
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.payload.clone()]
    }

    /// Bytes read and not consumed yet.
    fn available(&self) -> usize {
        self.end - self.pos
    }

    /// Makes the buffer hold at least `want` unconsumed bytes, unless the stream ends first.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.available() >= want || self.eof {
            return Ok(());
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        self.payload = 0..0;
        let size = want.max(CHUNK_BYTES);
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
        while self.end < want {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Consumes `n` bytes (at most what the buffer holds) and returns where they are.
    fn consume(&mut self, n: usize) -> Range<usize> {
        let n = n.min(self.available());
        let taken = self.pos..self.pos + n;
        self.pos += n;
        self.offset += n as u64;
        taken
    }

    /// Reads the next frame. I/O errors other than a short read are returned.
    pub fn next_frame(&mut self) -> io::Result<Frame> {
        self.payload = 0..0;
        let (start, header) = match self.pending.take() {
            Some(header) => (self.offset - HEADER_BYTES as u64, header),
            None => {
                let start = self.offset;
                self.fill(HEADER_BYTES)?;
                if self.available() < HEADER_BYTES {
                    let got = self.consume(HEADER_BYTES).len() as u64;
                    return Ok(if got == 0 {
                        Frame::End
                    } else {
                        Frame::Truncated {
                            offset: start,
                            bytes: got,
                        }
                    });
                }
                let mut header = [0u8; HEADER_BYTES];
                let at = self.consume(HEADER_BYTES);
                header.copy_from_slice(&self.buf[at]);
                (start, header)
            }
        };
        if !sound_header(&header) {
            return self.resync(start, header);
        }
        let len = u64::from_le_bytes(header[..8].try_into().unwrap_or([0; 8]));
        // The length was checked against its CRC and capped, so it fits in memory.
        let want = len as usize + 4;
        self.fill(want)?;
        if self.available() < want {
            let read = self.consume(want).len();
            return Ok(Frame::Truncated {
                offset: start,
                bytes: (HEADER_BYTES + read) as u64,
            });
        }
        let record = self.consume(want);
        let payload = record.start..record.end - 4;
        let footer = u32::from_le_bytes(
            self.buf[payload.end..record.end]
                .try_into()
                .unwrap_or([0; 4]),
        );
        if masked_crc(&self.buf[payload.clone()]) != footer {
            return Ok(Frame::BadPayloadCrc { offset: start });
        }
        self.payload = payload;
        Ok(Frame::Record { offset: start })
    }

    /// Slides a 12-byte window forward until it holds a sound header, which is then consumed as
    /// the start of the next record on the following call.
    fn resync(&mut self, start: u64, mut window: [u8; HEADER_BYTES]) -> io::Result<Frame> {
        let mut passed = 0u64;
        loop {
            self.fill(1)?;
            if self.available() == 0 {
                // No sound header before the end: everything left was passed over.
                return Ok(Frame::Resynced {
                    offset: start,
                    bytes: passed + HEADER_BYTES as u64,
                });
            }
            let at = self.consume(1).start;
            let byte = self.buf[at];
            window.copy_within(1.., 0);
            passed += 1;
            window[HEADER_BYTES - 1] = byte;
            if sound_header(&window) {
                self.pending = Some(window);
                return Ok(Frame::Resynced {
                    offset: start,
                    bytes: passed,
                });
            }
        }
    }
}

/// The eight length bytes of a header, on an 8-byte boundary: crc32c's hardware path reads them
/// as one word instead of byte by byte (its unaligned head).
#[repr(align(8))]
struct LengthBytes([u8; 8]);

fn sound_header(header: &[u8; HEADER_BYTES]) -> bool {
    let length = LengthBytes(header[..8].try_into().unwrap_or([0; 8]));
    let len = u64::from_le_bytes(length.0);
    let crc = u32::from_le_bytes(header[8..].try_into().unwrap_or([0; 4]));
    len <= MAX_RECORD_BYTES && masked_crc(&length.0) == crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u64).to_le_bytes();
        let mut out = len.to_vec();
        out.extend_from_slice(&masked_crc(&len).to_le_bytes());
        out.extend_from_slice(payload);
        out.extend_from_slice(&masked_crc(payload).to_le_bytes());
        out
    }

    fn frames(bytes: &[u8]) -> Vec<(Frame, Vec<u8>)> {
        let mut reader = RecordReader::new(bytes);
        let mut out = Vec::new();
        loop {
            let f = reader.next_frame().unwrap_or(Frame::End);
            if f == Frame::End {
                return out;
            }
            let payload = reader.payload().to_vec();
            out.push((f, payload));
        }
    }

    #[test]
    fn the_masked_crc_matches_what_tensorboardx_wrote() {
        // The first record header of fixtures/formats/same_run/tensorboard (tensorboardX 2.6.5):
        // length 24 (the file_version event) and its masked CRC-32C.
        let header = [0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22];
        assert_eq!(masked_crc(&header[..8]).to_le_bytes(), header[8..]);
        // An empty record (length 0) is well formed.
        let empty = frame(b"");
        assert_eq!(frames(&empty)[0].0, Frame::Record { offset: 0 });
    }

    #[test]
    fn sound_records_then_a_bad_payload_then_a_truncated_tail() {
        let mut bytes = frame(b"one");
        let second = bytes.len() as u64;
        let mut bad = frame(b"two");
        bad[13] ^= 0x01; // a payload byte
        bytes.extend_from_slice(&bad);
        let third = bytes.len() as u64;
        bytes.extend_from_slice(&frame(b"three"));
        let fourth = bytes.len() as u64;
        let cut = frame(b"four");
        bytes.extend_from_slice(&cut[..cut.len() - 2]);
        let got = frames(&bytes);
        assert_eq!(got[0], (Frame::Record { offset: 0 }, b"one".to_vec()));
        assert_eq!(got[1].0, Frame::BadPayloadCrc { offset: second });
        assert_eq!(got[2], (Frame::Record { offset: third }, b"three".to_vec()));
        assert_eq!(
            got[3].0,
            Frame::Truncated {
                offset: fourth,
                bytes: cut.len() as u64 - 2
            }
        );
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn a_damaged_header_is_passed_over_to_the_next_sound_record() {
        let mut bytes = frame(b"first");
        let damaged_at = bytes.len();
        let mut damaged = frame(b"lost record");
        damaged[2] ^= 0xff; // the length: its checksum no longer matches
        bytes.extend_from_slice(&damaged);
        let next_at = bytes.len() as u64;
        bytes.extend_from_slice(&frame(b"found again"));
        let got = frames(&bytes);
        assert_eq!(got[0].1, b"first");
        assert_eq!(
            got[1].0,
            Frame::Resynced {
                offset: damaged_at as u64,
                bytes: next_at - damaged_at as u64
            }
        );
        assert_eq!(
            got[2],
            (Frame::Record { offset: next_at }, b"found again".to_vec())
        );
        assert_eq!(got.len(), 3);
    }
}
