//! Compressed and binary inputs, recognised by their first bytes whatever their name says.
//!
//! gzip (`1f 8b`, RFC 1952; concatenated members are read as one stream, like `zcat`) and
//! Zstandard (`28 b5 2f fd`, RFC 8878) are decompressed while reading, through `flate2` and
//! `zstd`, so a `.csv.gz`, a `train.log.zst` or compressed bytes under a plain name read like the
//! text inside. Formats we do not read are named with the command that converts them, instead of
//! a parser's confusing "not valid UTF-8": xz, bzip2, Parquet, SQLite (other than an MLflow store,
//! which is read), zip, HDF5, NumPy and pickle files.

use std::io::Read;
use std::path::Path;

use crate::error::IngestError;

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// True when `head` starts compressed data we read (gzip, zstd).
pub fn is_compressed(head: &[u8]) -> bool {
    head.starts_with(GZIP) || head.starts_with(ZSTD)
}

/// A decoder over `reader`, whose stream starts with `head`; `reader` itself when `head` is not
/// compressed data we read.
pub fn decoder(
    head: &[u8],
    reader: impl Read + 'static,
    name: &str,
) -> Result<Box<dyn Read>, IngestError> {
    if head.starts_with(GZIP) {
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)));
    }
    if head.starts_with(ZSTD) {
        let decoder = zstd::stream::read::Decoder::new(reader).map_err(|e| {
            IngestError::unusable(
                name,
                format!("zstd-compressed, but the decoder failed: {e}"),
            )
        })?;
        return Ok(Box::new(decoder));
    }
    Ok(Box::new(reader))
}

/// Whether a file's first bytes start a given format.
type Magic = fn(&[u8]) -> bool;

/// Binary formats we recognise but do not read: how each starts, and what to do instead
/// (`{path}` stands for the path as given, `{stem}` for its name without the extension).
const NOT_READ: &[(Magic, &str)] = &[
    (
        |head| head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]),
        "the file is xz-compressed; decompress it first (xz -dk {path}) or pipe it: xz -dc {path} | jepa-doctor analyze -",
    ),
    (
        |head| head.len() >= 10 && head.starts_with(b"BZh") && &head[4..10] == b"1AY&SY",
        "the file is bzip2-compressed; decompress it first (bunzip2 -k {path}) or pipe it: bzip2 -dc {path} | jepa-doctor analyze -",
    ),
    (
        |head| head.starts_with(b"PAR1"),
        "the file is Parquet; convert it to CSV first: python -c \"import pandas as pd; pd.read_parquet('{path}').to_csv('{stem}.csv', index=False)\"",
    ),
    (
        |head| head.starts_with(b"SQLite format 3\0"),
        "the file is an SQLite database without MLflow's runs and metrics tables; export the metrics table to CSV first: sqlite3 -header -csv {path} 'SELECT * FROM <table>' > {stem}.csv",
    ),
    (
        |head| head.starts_with(b"PK\x03\x04"),
        "the file is a zip archive; extract the log first (unzip {path})",
    ),
    (
        |head| head.starts_with(b"\x89HDF\r\n\x1a\n"),
        "the file is HDF5; export the metrics to CSV first (e.g. pandas.read_hdf('{path}').to_csv('{stem}.csv'))",
    ),
    (
        |head| head.starts_with(b"\x93NUMPY"),
        "the file is a NumPy array; save it as CSV first (numpy.savetxt('{stem}.csv', numpy.load('{path}'), delimiter=','))",
    ),
    (
        |head| head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]),
        "the file is a Python pickle (a checkpoint or a pickled log); jepa-doctor does not unpickle files; write the metrics as CSV or JSON lines ({path})",
    ),
];

/// Why a source whose first bytes are `head` cannot be read, for binary formats we recognise but
/// do not read; `None` for anything else (text, or bytes the parsers judge themselves).
pub fn unreadable_binary(head: &[u8], path: Option<&Path>) -> Option<String> {
    let (_, advice) = NOT_READ.iter().find(|(starts, _)| starts(head))?;
    let shown = path.map_or_else(|| "FILE".to_string(), |p| p.display().to_string());
    let stem = path
        .and_then(|p| p.file_stem())
        .map_or_else(|| "FILE".to_string(), |s| s.to_string_lossy().into_owned());
    Some(fill(advice, &shown, &stem))
}

/// `advice` with `{path}` and `{stem}` replaced in one pass (a path that itself contains
/// `{stem}` stays as it is).
fn fill(advice: &str, path: &str, stem: &str) -> String {
    let mut out = String::with_capacity(advice.len() + 2 * path.len());
    let mut rest = advice;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("{path}") {
            out.push_str(path);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("{stem}") {
            out.push_str(stem);
            rest = after;
        } else {
            out.push('{');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A log file's name without its extension, and without a `.gz` / `.zst` before that
/// (`jepa_r0.csv.gz` → `jepa_r0`): the name the rank rule reads.
pub fn log_stem(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    Some(name.rsplit_once('.').map_or(name, |(stem, _)| stem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_and_zstd_bytes_decode_whatever_the_name() -> Result<(), Box<dyn std::error::Error>> {
        let text = b"step,loss\n0,1.0\n1,0.5\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text)?;
        let gz = gz.finish()?;
        let zst = zstd::stream::encode_all(&text[..], 1)?;
        for bytes in [gz, zst] {
            let head = bytes[..8].to_vec();
            let mut out = Vec::new();
            assert!(is_compressed(&head));
            decoder(&head, std::io::Cursor::new(bytes), "x")?.read_to_end(&mut out)?;
            assert_eq!(out, text);
        }
        assert!(!is_compressed(text));
        Ok(())
    }

    #[test]
    fn binary_formats_are_named_with_their_conversion() {
        let named =
            |head: &[u8]| unreadable_binary(head, Some(Path::new("m.bin"))).unwrap_or_default();
        assert!(named(b"\xfd7zXZ\0\0").contains("xz -dk m.bin"));
        assert!(named(b"BZh91AY&SY\0").contains("bunzip2"));
        assert!(named(b"PAR1\x15\x04").contains("pd.read_parquet('m.bin')"));
        assert!(named(b"SQLite format 3\0").contains("sqlite3"));
        assert!(named(b"\x80\x04\x95").contains("pickle"));
        assert_eq!(unreadable_binary(b"step,loss\n", None), None);
    }

    #[test]
    fn a_path_is_quoted_as_it_is_even_with_braces() {
        let why = unreadable_binary(b"PAR1\x15\x04", Some(Path::new("runs/{stem}/m.parquet")));
        let why = why.unwrap_or_default();
        assert!(
            why.contains("pd.read_parquet('runs/{stem}/m.parquet')"),
            "{why}"
        );
        assert!(why.contains(".to_csv('m.csv'"), "{why}");
        let why = unreadable_binary(b"PK\x03\x04", None).unwrap_or_default();
        assert!(why.ends_with("(unzip FILE)"), "{why}");
    }
}
