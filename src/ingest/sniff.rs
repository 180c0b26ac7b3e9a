//! Recognising a log's format from its first bytes (the file name is only a tie-breaker), so a
//! renamed file or a pipe still goes to the right parser. `--format` skips all of this.

use std::path::Path;

use super::console::epoch_itr_prefix;
use crate::model::Format;

/// The format of a source whose first bytes are `head`, when it is one we read.
pub fn sniff(head: &[u8], path: Option<&Path>) -> Option<Format> {
    if let Some(format) = sniff_binary_or_framework(head, path) {
        return Some(format);
    }
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let body = &head[start..];
    if body.starts_with(b"[") && !looks_like_console_log(body) {
        return Some(Format::Json);
    }
    if body.starts_with(b"{") {
        let first_line = body
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or(body)
            .trim_ascii_end();
        let has_more_lines = body[first_line.len()..]
            .split(|b| *b == b'\n')
            .any(|l| l.trim_ascii().starts_with(b"{"));
        return Some(
            // A first record longer than the head (no newline seen) is JSON lines by its name.
            if (first_line.ends_with(b"}") && has_more_lines)
                || ((first_line.ends_with(b"}") || !body.contains(&b'\n')) && is_jsonl_name(path))
            {
                Format::Jsonl
            } else {
                Format::Json
            },
        );
    }
    if looks_like_console_log(body) {
        return Some(Format::ConsoleLog);
    }
    let first_line = body.split(|b| *b == b'\n').next().unwrap_or(body);
    if [b',', b'\t', b';'].iter().any(|d| first_line.contains(d)) {
        return Some(csv_variant(first_line));
    }
    None
}

/// Formats recognised before the generic text shapes: TensorBoard event files and W&B transaction
/// logs (binary), fairseq console logs (which start with `[`, like a JSON array), and W&B CSV
/// exports (a CSV with `<run> - <metric>` columns).
fn sniff_binary_or_framework(head: &[u8], path: Option<&Path>) -> Option<Format> {
    if super::tensorboard::looks_like_tfrecord(head)
        || (head.is_empty() && path.is_some_and(super::tensorboard::is_event_file))
    {
        return Some(Format::Tensorboard);
    }
    if head.starts_with(b":W&B") {
        return Some(Format::Wandb);
    }
    if super::framework::looks_like_fairseq(head) {
        return Some(Format::FairseqLog);
    }
    if super::wandb::is_export_head(head) {
        return Some(Format::WandbCsv);
    }
    None
}

fn is_jsonl_name(path: Option<&Path>) -> bool {
    path.and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
}

/// Which CSV dialect of the JEPA family a header line belongs to.
pub fn csv_variant(header_line: &[u8]) -> Format {
    let header = String::from_utf8_lossy(header_line);
    let fields: Vec<&str> = header
        .trim()
        .split([',', '\t', ';'])
        .map(str::trim)
        .collect();
    let has = |name: &str| fields.contains(&name);
    let epoch_itr_loss = fields.len() >= 3 && fields[..3] == ["epoch", "itr", "loss"];
    if has("epoch") && has("itr") && has("loss-jepa") && has("reg-loss") {
        Format::VjepaCsv
    } else if epoch_itr_loss && has("iter-time(ms)") {
        Format::Vjepa2Csv
    } else if epoch_itr_loss && has("mask-A") && has("mask-B") {
        Format::IjepaCsv
    } else {
        Format::Csv
    }
}

/// The field delimiter of a delimited text, from its first line: the most frequent of `,`, tab, `;`.
pub fn delimiter(head: &[u8]) -> u8 {
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let count = |d: u8| first_line.iter().filter(|b| **b == d).count();
    [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|d| (count(*d), *d == b','))
        .unwrap_or(b',')
}

/// True when some line holds `[<epoch>, <itr>] loss:`, the JEPA training log line.
pub fn looks_like_console_log(head: &[u8]) -> bool {
    head.split(|b| *b == b'\n').any(is_loss_line)
}

/// True when `line` holds `[<epoch>, <itr>] loss:`.
pub fn is_loss_line(line: &[u8]) -> bool {
    epoch_itr_prefix(line).is_some_and(|(_, _, rest)| rest.starts_with(b"loss:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_jepa_csv_dialects() {
        let v = b"epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n1,0,0.8";
        assert_eq!(sniff(v, None), Some(Format::VjepaCsv));
        let v2 = b"epoch,itr,loss,iter-time(ms),gpu-time(ms),dataload-time(ms)\n";
        assert_eq!(sniff(v2, None), Some(Format::Vjepa2Csv));
        let ij = b"epoch,itr,loss,mask-A,mask-B,time (ms)\n";
        assert_eq!(sniff(ij, None), Some(Format::IjepaCsv));
        assert_eq!(sniff(b"step\tloss\n0\t1.0\n", None), Some(Format::Csv));
        assert_eq!(sniff(b"\xef\xbb\xbfstep,loss\n", None), Some(Format::Csv));
    }

    #[test]
    fn recognises_json_shapes() {
        assert_eq!(sniff(b"[{\"step\": 1}]", None), Some(Format::Json));
        assert_eq!(
            sniff(b"{\"a\": 1}\n{\"a\": 2}\n", None),
            Some(Format::Jsonl)
        );
        assert_eq!(
            sniff(b"{\n  \"log_history\": []\n}", None),
            Some(Format::Json)
        );
        assert_eq!(sniff(b"{\"log_history\": []}", None), Some(Format::Json));
        assert_eq!(
            sniff(b"{\"a\": 1}", Some(Path::new("m.jsonl"))),
            Some(Format::Jsonl)
        );
    }

    #[test]
    fn recognises_console_logs_behind_any_prefix() {
        let log =
            b"INFO:root:Using AdamW\nINFO:app.vjepa.train:[1,     0] loss: 0.826 | p0.826 r0.883\n";
        assert_eq!(sniff(log, None), Some(Format::ConsoleLog));
        let ijepa = b"[INFO    ][2024-06-06 10:00:00][log_stats   ] [1,    10] loss: 0.512 masks: 68.0 44.0\n";
        assert_eq!(sniff(ijepa, None), Some(Format::ConsoleLog));
        assert!(is_loss_line(b"[rank0]: [3, 40] loss: 1.0"));
        assert!(!is_loss_line(b"[3, 40] first moment: 1.0"));
    }

    #[test]
    fn unknown_text_is_not_sniffed() {
        assert_eq!(sniff(b"hello world\n", None), None);
        assert_eq!(sniff(b"   \n", None), None);
    }

    #[test]
    fn picks_the_most_frequent_delimiter() {
        assert_eq!(delimiter(b"a,b,c\n"), b',');
        assert_eq!(delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(delimiter(b"a;b;c\n"), b';');
        assert_eq!(delimiter(b"time (ms)\tloss,x\tz\n"), b'\t');
    }
}
