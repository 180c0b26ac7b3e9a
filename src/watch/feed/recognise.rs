//! Recognising what a followed file is before its rows are read: compressed bytes and binary
//! logs (read whole), the format of the first lines (sniffed as `analyze` sniffs them), and a
//! JSON document or record written on one line without a final newline, recognised once it
//! parses whole (its only line never gets the newline the lines wait for).

use super::FileFeed;
use super::whole::WholeKind;
use crate::error::IngestError;
use crate::ingest::{SNIFF_BYTES, compressed, json, sniff};
use crate::model::Format;

impl FileFeed {
    /// Whether the file starts with compressed bytes or a binary log read whole (`None` for
    /// text, and for a file still empty); binary formats `analyze` refuses are refused here too.
    pub(super) fn peek_binary(&self) -> Result<Option<WholeKind>, IngestError> {
        use std::io::Read;
        let Some(path) = self.source.path.as_deref() else {
            return Ok(None);
        };
        let mut head = Vec::with_capacity(64);
        match std::fs::File::open(path) {
            Ok(f) => f
                .take(64)
                .read_to_end(&mut head)
                .map_err(|e| IngestError::io(&self.source.name, e))?,
            Err(_) => return Ok(None),
        };
        if compressed::is_compressed(&head) || head.starts_with(b":W&B") {
            return Ok(Some(WholeKind::File));
        }
        if self.forced.is_none()
            && head.len() >= 16
            && let Some(why) = compressed::unreadable_binary(&head, Some(path))
        {
            return Err(IngestError::unusable(&self.source.name, why));
        }
        Ok(None)
    }

    /// The format of the head read so far: `None` while undecided (waiting for more lines).
    pub(super) fn recognise(&self) -> Result<Option<Format>, IngestError> {
        if let Some(f) = self.forced {
            return Ok(Some(f));
        }
        let head = &self.head[..self.head.len().min(SNIFF_BYTES)];
        if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
            return Err(IngestError::unusable(
                &self.source.name,
                "the file is UTF-16 text; jepa-doctor reads UTF-8 (convert it: iconv -f UTF-16 -t UTF-8)",
            ));
        }
        match sniff::sniff(head, self.source.path.as_deref()) {
            Some(f) => Ok(Some(f)),
            None if self.head.len() >= SNIFF_BYTES => Err(IngestError::unusable(
                &self.source.name,
                "not a log format jepa-doctor recognises (CSV/TSV with a header, JSON lines, a JSON document, or JEPA console output); force one with --format",
            )),
            None => Ok(None),
        }
    }

    /// The format of a file whose lines so far are blank and whose unterminated last line is a
    /// whole JSON object or array: a JSON document (read whole) or, by its name or
    /// `--format`, one JSON-lines record.
    pub(super) fn recognise_unterminated(&self) -> Option<Format> {
        let line = self.tail.partial();
        if !self.head.trim_ascii().is_empty() || !json::is_whole_container(line) {
            return None;
        }
        match self.forced {
            Some(f @ (Format::Json | Format::Jsonl)) => Some(f),
            Some(_) => None,
            None => sniff::sniff(line, self.source.path.as_deref())
                .filter(|f| matches!(f, Format::Json | Format::Jsonl)),
        }
    }
}
