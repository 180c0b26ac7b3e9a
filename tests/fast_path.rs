//! The fast CSV path must read every file exactly as the general parser does — same rows, same
//! values to the bit, same accounting and messages — or give up and leave it to the general one.
//! Small chunk sizes put chunk boundaries everywhere (restart headers, cut rows, blank lines).

mod common;

use std::path::Path;

use jepa_doctor::ingest::csv::{CsvOptions, parse, parse_file_fast};
use jepa_doctor::ingest::progress::Progress;
use jepa_doctor::ingest::table::{ColumnData, ValuePolicy};
use jepa_doctor::ingest::{Parsed, Source, sniff};

fn options(path: &Path) -> Option<CsvOptions> {
    let head = std::fs::read(path).unwrap();
    Some(CsvOptions {
        format: sniff::sniff(&head, Some(path))?,
        delimiter: sniff::delimiter(&head),
        step_col: None,
        values: ValuePolicy::all(),
    })
}

fn same(a: &Parsed, b: &Parsed, what: &str) {
    let (ta, tb) = (&a.table, &b.table);
    assert_eq!(
        ta.keys.iter().collect::<Vec<_>>(),
        tb.keys.iter().collect::<Vec<_>>(),
        "{what}: keys"
    );
    assert_eq!(ta.names, tb.names, "{what}: names");
    for (ca, cb) in ta.columns.iter().zip(&tb.columns) {
        match (ca, cb) {
            (ColumnData::Values(x), ColumnData::Values(y)) => {
                assert_eq!(x.len(), y.len(), "{what}");
                for (u, v) in x.iter().zip(y) {
                    assert_eq!(u.to_bits(), v.to_bits(), "{what}: {u} vs {v}");
                }
            }
            _ => assert_eq!(ca, cb, "{what}"),
        }
    }
    assert_eq!(ta.account, tb.account, "{what}: account");
    assert_eq!(ta.restarts, tb.restarts, "{what}: restarts");
    assert_eq!(ta.skipped, tb.skipped, "{what}: skipped");
    assert_eq!(ta.warnings, tb.warnings, "{what}: warnings");
    assert_eq!(a.key_kind, b.key_kind);
}

fn csv_fixtures() -> Vec<String> {
    let mut out = Vec::new();
    for dir in [
        "csv",
        "broken",
        "ranks",
        "samples/recipe",
        "samples/highlr_reg",
    ] {
        for e in std::fs::read_dir(common::fixture(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "csv" || x == "tsv") {
                out.push(p.display().to_string());
            }
        }
    }
    for e in std::fs::read_dir(common::fixture("synthetic")).unwrap() {
        let p = e.unwrap().path().join("jepa_r0.csv");
        if p.exists() {
            out.push(p.display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn fast_and_general_parsers_agree_on_every_csv_fixture() {
    let mut fast_taken = 0;
    for file in csv_fixtures() {
        let path = Path::new(&file);
        let source = Source::file(path);
        let Some(opts) = options(path) else { continue };
        let general = parse(std::fs::File::open(path).unwrap(), &source, &opts);
        for chunk in [64, 200, 1000, 1 << 20] {
            match (
                parse_file_fast(path, &source, &opts, chunk, &Progress::hidden()),
                &general,
            ) {
                (Ok(Some(fast)), Ok(slow)) => {
                    same(&fast, slow, &format!("{file} (chunks of {chunk} bytes)"));
                    fast_taken += 1;
                }
                (Ok(None), _) => {} // gave up: the general parser reads it
                (Ok(Some(_)), Err(e)) => {
                    panic!("{file}: fast path accepted what the general parser rejects: {e}")
                }
                (Err(fast), Err(slow)) => assert_eq!(fast.to_string(), slow.to_string(), "{file}"),
                (Err(fast), Ok(_)) => panic!("{file}: fast path failed: {fast}"),
            }
        }
    }
    assert!(
        fast_taken > 40,
        "the fast path should handle most fixtures ({fast_taken})"
    );
}

#[test]
fn restarts_and_cut_rows_across_chunk_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jepa_r0.csv");
    let header = "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n";
    let mut text = String::from(header);
    let row = |e: u32, i: u32| {
        format!(
            "{e},{i},0.{:05},0.{:05},0.5,0.00000,0.1,400,401\n",
            90000 - e * 100 - i,
            90000 - e * 100 - i
        )
    };
    for e in 1..=3 {
        for i in 0..40 {
            text.push_str(&row(e, i));
        }
    }
    text.push_str("4,0,0.5\n"); // cut by the kill
    text.push_str(header);
    for i in 0..40 {
        text.push_str(&row(3, i));
    }
    text.push_str("\n\n");
    for i in 0..20 {
        text.push_str(&row(4, i));
    }
    text.push_str("4,20,0.33"); // killed mid-write, no newline
    std::fs::write(&path, &text).unwrap();
    let source = Source::file(&path);
    let opts = options(&path).unwrap();
    let general = parse(std::fs::File::open(&path).unwrap(), &source, &opts).unwrap();
    assert_eq!(general.table.restarts, 1);
    assert_eq!(general.table.account.rows_skipped, 2);
    for chunk in [64, 100, 257, 999, 4096] {
        let fast = parse_file_fast(&path, &source, &opts, chunk, &Progress::hidden())
            .unwrap()
            .expect("fast path");
        same(&fast, &general, &format!("chunks of {chunk}"));
    }
}

/// A cell as loggers write one: mostly `%.5f` (the fast path's own reader), then every other
/// form the general parser reads — Python's `repr`, exponents, integers, long mantissas,
/// non-finite words, empty and null cells, spaces around a number — and now and then a
/// carriage return or text, which only the general parser may judge.
fn any_cell() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        20 => (-20f64..20.0).prop_map(|x| format!("{x:.5}")),
        3 => (-1e3f64..1e3).prop_map(|x| format!("{x}")),
        2 => (-1e30f64..1e30).prop_map(|x| format!("{x:e}")),
        2 => (0u64..100_000).prop_map(|x| x.to_string()),
        1 => (0u64..1 << 40).prop_map(|x| format!("0.{x:012}")),
        2 => prop::sample::select(vec![
            "nan", "NaN", "inf", "-inf", "Infinity", "", "None", "null", "1e39", "-1e39", "1e309",
            "0.00000", "-0.00000", " 1.5", "2.5 ", "16777217", ".5", "5.", "-.5",
        ])
        .prop_map(String::from),
        1 => prop::sample::select(NOT_NUMBERS.to_vec()).prop_map(String::from),
    ]
}

/// Cells that are not numbers to the general parser (or, `\r`, end its record).
const NOT_NUMBERS: [&str; 6] = ["abc", "1.5x", "0.5\r", "--1", "1e", "0x10"];

/// A V-JEPA-style file (with an unnamed column) of random cells, restarts, cut rows, blank
/// lines, CRLF or LF, with or without a last newline; and whether a cell is not a number.
fn any_vjepa_file() -> impl proptest::strategy::Strategy<Value = (String, bool)> {
    use proptest::prelude::*;
    let row = (0u8..40, prop::collection::vec(any_cell(), 7));
    (
        prop::collection::vec(row, 1..120),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(rows, crlf, last_newline)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let header =
                "epoch,itr,loss,loss-jepa,,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)";
            let mut text = format!("{header}{eol}");
            let mut step = 0u64;
            let mut not_numbers = false;
            for (kind, cells) in rows {
                match kind {
                    0 => text.push_str(&format!("{header}{eol}")), // a restart
                    1 => text.push_str(eol),                       // a blank line
                    2 => text.push_str(&format!("{},{},0.5{eol}", step / 300 + 1, step % 300)), // cut
                    _ => {
                        let (epoch, itr) = (step / 300 + 1, step % 300);
                        not_numbers |= cells.iter().any(|c| NOT_NUMBERS.contains(&c.as_str()));
                        let [a, b, c, d, e, f, g] = &cells[..] else {
                            unreachable!()
                        };
                        text.push_str(&format!("{epoch},{itr},{a},{b},{c},{d},{e},{f},{g}{eol}"));
                        step += 1 + u64::from(kind % 3 == 0) * 17;
                    }
                }
            }
            if !last_newline {
                text.truncate(text.len() - eol.len());
            }
            (text, not_numbers)
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(128)
    ))]

    /// On random files the fast path reads exactly what the general parser reads — every value
    /// to the bit, every skipped row and message — or gives up; and it does not give up on
    /// files of the forms it is made for.
    #[test]
    fn fast_and_general_parsers_agree_on_random_files((text, not_numbers) in any_vjepa_file(), chunk in 64usize..2048) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jepa_r0.csv");
        std::fs::write(&path, &text).unwrap();
        let source = Source::file(&path);
        let Some(opts) = options(&path) else { return Ok(()) };
        let general = parse(text.as_bytes(), &source, &opts);
        let fast = parse_file_fast(&path, &source, &opts, chunk, &Progress::hidden());
        match (&fast, &general) {
            (Ok(Some(fast)), Ok(general)) => same(fast, general, &format!("chunks of {chunk}")),
            (Ok(None), Ok(_)) => {
                proptest::prop_assert!(not_numbers, "gave up on a file of numbers:\n{text:?}");
            }
            (Ok(None), Err(_)) => {}
            (Ok(Some(_)), Err(e)) => proptest::prop_assert!(false, "fast path read what the general parser refused: {e}"),
            (Err(f), Err(g)) => proptest::prop_assert_eq!(f.to_string(), g.to_string()),
            (Err(f), Ok(_)) => proptest::prop_assert!(false, "fast path failed: {f}"),
        }
    }
}
