//! The fast path of JSON lines (flat records of numbers, read in place, their shapes cached) must
//! read every file exactly as the general path (`serde_json` per line) does: same rows, same
//! values to the bit, same accounting, skip reasons and warnings. Random files mix the shapes it
//! takes with every shape it must give up on (strings, nesting, escapes, repeated keys, bad
//! numbers and steps, a change of key kind), so both paths and the hand-over between them are
//! exercised line by line.

use jepa_doctor::ingest::json::{JsonOptions, parse_lines, parse_lines_general};
use jepa_doctor::ingest::table::{ColumnData, ValuePolicy};
use jepa_doctor::ingest::{Parsed, Source};

/// Asserts two parses are the same, values compared by their bits (NaN included).
fn same(a: &Parsed, b: &Parsed) -> Result<(), String> {
    let (ta, tb) = (&a.table, &b.table);
    let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    check(ta.keys.iter().eq(tb.keys.iter()), "keys")?;
    check(ta.names == tb.names, "names")?;
    for (ca, cb) in ta.columns.iter().zip(&tb.columns) {
        check(
            std::mem::discriminant(ca) == std::mem::discriminant(cb),
            "column storage",
        )?;
        let bits = |c: &ColumnData| -> Vec<(usize, u32)> {
            c.present().map(|(r, v)| (r, v.to_bits())).collect()
        };
        check(bits(ca) == bits(cb), "column values")?;
        check(ca.len() == cb.len(), "column length")?;
    }
    check(ta.account == tb.account, "account")?;
    check(ta.skipped == tb.skipped, "skipped rows")?;
    check(ta.warnings == tb.warnings, "warnings")?;
    check(a.key_kind == b.key_kind, "key kind")
}

/// A value as a logger (or a broken one) writes it.
fn any_value() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        6 => (0u32..1_000_000).prop_map(|x| format!("{}.{:05}", x / 100_000, x % 100_000)),
        3 => any::<f64>().prop_map(|x| format!("{x}")),
        2 => (-1e6f64..1e6).prop_map(|x| format!("{x:e}")),
        2 => (0u64..100_000).prop_map(|x| x.to_string()),
        1 => any::<u64>().prop_map(|x| x.to_string()),
        3 => prop::sample::select(vec![
            "NaN", "Infinity", "-Infinity", "-0", "-0.0", "0", "1200.0", "1.2e3", "-5",
            "0.79123456789012345", "123456789012345678901234", "-123456789012345678901",
            "1e400", "1e-400", "4.9e-324", "3.5e38", "-3.5e38", "1e39", "01", "1.", ".5", "+1",
            "\"0.5\"", "\"text\"", "null", "true", "[1, 2]", "{\"inner\": 1}", "NaNx", "1e",
            "\"NaN\"", "2.5E+07", "9007199254740993",
        ])
        .prop_map(String::from),
    ]
}

/// A key: mostly the names logs use (so shapes repeat), sometimes one the fast path refuses.
fn any_key() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        8 => prop::sample::select(vec![
            "loss", "loss-jepa", "reg-loss", "lr", "gpu-time(ms)", "step", "epoch", "itr",
            "global_step", "train/loss", "val_acc", "iter",
        ])
        .prop_map(String::from),
        1 => prop::sample::select(vec!["a\\\"b", "tab\\tname", "é", "k\u{1}", ""])
            .prop_map(String::from),
    ]
}

/// A line: a record of a few shapes (most lines share one), or something else.
fn any_line() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let record = (
        prop::collection::vec((any_key(), any_value()), 1..7),
        0u8..4,
    )
        .prop_map(|(fields, spacing)| {
            let sep = [", ", ",", " , ", ",\t"][spacing as usize];
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("\"{k}\":{}{v}", if spacing % 2 == 0 { " " } else { "" }))
                .collect();
            format!("{{{}}}", body.join(sep))
        });
    prop_oneof![
        12 => (0u64..3000, any_value(), any_value()).prop_map(|(step, a, b)| {
            format!("{{\"epoch\": {}, \"itr\": {}, \"loss\": {a}, \"lr\": {b}}}", step / 300 + 1, step % 300)
        }),
        6 => (0u64..3000, any_value()).prop_map(|(step, a)| format!("{{\"step\": {step}, \"val_acc\": {a}}}")),
        6 => record,
        1 => prop::sample::select(vec!["", "   ", "not json", "[1, 2]", "{}", "{\"a\": 1", "\u{feff}{\"step\": 1, \"x\": 2}"])
            .prop_map(String::from),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    /// Random files read the same by both paths, with or without `--step-col`.
    #[test]
    fn fast_and_general_paths_agree_on_random_files(
        lines in proptest::collection::vec(any_line(), 1..200),
        step_col in proptest::option::of(proptest::sample::select(vec!["step", "itr", "loss"])),
        crlf in proptest::bool::ANY,
    ) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        let source = Source::stdin();
        let opts = JsonOptions {
            step_col: step_col.map(String::from),
            values: ValuePolicy::all(),
        };
        let fast = parse_lines(text.as_bytes(), &source, &opts);
        let general = parse_lines_general(text.as_bytes(), &source, &opts);
        match (&fast, &general) {
            (Ok(f), Ok(g)) => {
                if let Err(what) = same(f, g) {
                    proptest::prop_assert!(false, "{what} differ on:\n{text}");
                }
            }
            (Err(f), Err(g)) => proptest::prop_assert_eq!(f.to_string(), g.to_string()),
            _ => proptest::prop_assert!(false, "one path failed: {fast:?} / {general:?}"),
        }
    }
}

/// The value policy and the bench's record shape: both paths agree, and the file is read.
#[test]
fn the_benchmark_shape_is_read_the_same_with_kinds_only_columns() {
    let mut text = String::new();
    for k in 0..2000u64 {
        text.push_str(&format!(
            "{{\"epoch\": {}, \"itr\": {}, \"loss\": {:.5}, \"loss-jepa\": {:.5}, \"reg-loss\": 0.9, \"lr\": 6.250e-04, \"gpu-time(ms)\": {:.1}}}\n",
            k / 300 + 1,
            k % 300,
            0.8 - k as f64 * 1e-4,
            0.8 - k as f64 * 1e-4,
            400.0 + (k % 7) as f64
        ));
    }
    let opts = JsonOptions {
        step_col: None,
        values: ValuePolicy::default(),
    };
    let source = Source::stdin();
    let fast = parse_lines(text.as_bytes(), &source, &opts).unwrap();
    let general = parse_lines_general(text.as_bytes(), &source, &opts).unwrap();
    assert_eq!(same(&fast, &general), Ok(()));
    assert_eq!(fast.table.account.rows_used, 2000);
    assert_eq!(
        fast.table.names,
        ["loss", "loss-jepa", "reg-loss", "lr", "gpu-time(ms)"]
    );
}
