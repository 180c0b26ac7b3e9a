//! The console reader's fast path must not change what it reads:
//! - the columns of the last loss line are reused while the next line names the same fields in
//!   the same order; random logs (every line shape of the four families, fields dropped and
//!   renamed so shapes change, restarts, ranks, ANSI colours, grad-stat and other lines) must
//!   read the same as with every name looked up, to the bit;
//! - numbers are converted by Clinger's fast path where it applies (`csv_number::exact_f64`):
//!   on random decimal texts it gives `str::parse`'s bits or declines.

use jepa_doctor::ingest::Source;
use jepa_doctor::ingest::console::{parse, parse_uncached};
use jepa_doctor::ingest::csv_number::exact_f64;
use jepa_doctor::ingest::table::{ColumnData, ValuePolicy};
use proptest::prelude::*;

/// A printed value: mostly `%.3f`, sometimes a non-finite word or an odd spelling.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0u32..2000).prop_map(|x| format!("{:.3}", f64::from(x) / 1000.0)),
        1 => (-500i32..0).prop_map(|x| format!("{:.3}", f64::from(x) / 1000.0)),
        1 => prop::sample::select(vec!["nan", "inf", "-inf", "1e5", ".5", "5.", "+0.25", "1.5E-3", "NaN"])
            .prop_map(String::from),
    ]
}

/// The bracketed tail of a line: some of the usual fields, sometimes an unusual one.
fn any_tail() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        3 => any_value().prop_map(|v| format!("[wd: {v}]")),
        3 => any_value().prop_map(|v| format!("[lr: {v}]")),
        2 => any_value().prop_map(|v| format!("[mem: {v}]")),
        2 => any_value().prop_map(|v| format!("[gpu: {v} ms]")),
        2 => any_value().prop_map(|v| format!("[wall: {v} ms]")),
        1 => any_value().prop_map(|v| format!("[iter: {v} ms] [data: {v} ms]")),
        1 => (any_value(), any_value()).prop_map(|(a, b)| format!("[grad: {a} -> {b}]")),
        1 => prop::sample::select(vec!["[ wd : 0.1]", "[\u{a0}x: 2]", "[foo: bar]", "[: 1]", "[w\u{e9}: 3]"])
            .prop_map(String::from),
    ];
    prop::collection::vec(field, 0..6).prop_map(|f| f.join(" "))
}

/// What follows `loss:` in one of the four families.
fn any_body() -> impl Strategy<Value = String> {
    let v = any_value;
    prop_oneof![
        6 => (v(), v(), v(), v(), v(), any_tail()).prop_map(|(l, p, r, a, b, t)| {
            format!("{l} | p{p} r{r} | input_var: {a} {b} | masks: [104.0, 56.0] {t}")
        }),
        2 => (v(), v(), v(), any_tail()).prop_map(|(l, a, b, t)| format!("{l} masks: [k: {a}, k2: {b}] {t}")),
        2 => (v(), v(), v(), any_tail()).prop_map(|(l, a, b, t)| format!("{l} [{a}, {b}] {t}")),
        2 => (v(), v(), v(), any_tail()).prop_map(|(l, a, b, t)| format!("{l} masks: {a} {b} {t} (812.0 ms)")),
        1 => (v(), v(), v()).prop_map(|(l, a, b)| format!("{l} masks: [{a}, {b}, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]")),
        1 => Just("abc | p0.5".to_string()),
    ]
}

/// A log of loss lines with advancing (epoch, itr), restarts, and other lines between.
fn any_log() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec![
        "INFO:app.vjepa.train:",
        "INFO:root:",
        "[INFO    ][2024-06-06 10:00:00][log_stats   ] ",
        "[rank0]: INFO:root:",
        "[rank1]: INFO:root:",
        "\u{1b}[32mINFO\u{1b}[0m:root:",
    ]);
    let line = (0u8..20, prefix, any_body(), any_value());
    prop::collection::vec(line, 1..150).prop_map(|lines| {
        let mut text = String::new();
        let (mut epoch, mut itr) = (1u64, 0u64);
        for (kind, prefix, body, norm) in lines {
            match kind {
                0 => text.push_str("iterations per epoch: 40\n"),
                1 => text.push_str("some other output\n"),
                2 => itr = itr.saturating_sub(30), // a restart replays from a checkpoint
                3 => {
                    epoch += 1;
                    itr = 0;
                }
                4 => text.push_str(&format!(
                    "{prefix}[{epoch}, {itr:5}] enc_grad_stats: f/l[1.0e-01 2.0e-01] mn/mx(1.0e-03, 2.0e+00) {norm}\n"
                )),
                _ => {
                    text.push_str(&format!("{prefix}[{epoch}, {itr:5}] loss: {body}\n"));
                    itr += 10;
                }
            }
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    /// Random logs read the same with the columns reused and with every name looked up.
    #[test]
    fn cached_and_looked_up_columns_read_the_same(log in any_log(), keep_all in any::<bool>()) {
        let policy = if keep_all { ValuePolicy::all() } else { ValuePolicy::default() };
        let source = Source::stdin();
        let cached = parse(log.as_bytes(), &source, &policy);
        let looked_up = parse_uncached(log.as_bytes(), &source, &policy);
        match (&cached, &looked_up) {
            (Ok(a), Ok(b)) => {
                let (ta, tb) = (&a.table, &b.table);
                prop_assert!(ta.keys.iter().eq(tb.keys.iter()), "keys:\n{log}");
                prop_assert_eq!(&ta.names, &tb.names);
                for (ca, cb) in ta.columns.iter().zip(&tb.columns) {
                    let bits = |c: &ColumnData| -> Vec<(usize, u32)> {
                        c.present().map(|(r, v)| (r, v.to_bits())).collect()
                    };
                    prop_assert_eq!(std::mem::discriminant(ca), std::mem::discriminant(cb));
                    prop_assert_eq!(bits(ca), bits(cb), "values:\n{}", log);
                }
                prop_assert_eq!(&ta.account, &tb.account);
                prop_assert_eq!(&ta.skipped, &tb.skipped);
                prop_assert_eq!(&ta.warnings, &tb.warnings);
                prop_assert_eq!(ta.restarts, tb.restarts);
                prop_assert_eq!(a.ipe_hint, b.ipe_hint);
                prop_assert_eq!(a.lines_ignored, b.lines_ignored);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            _ => prop_assert!(false, "one reading failed: {cached:?} / {looked_up:?}"),
        }
    }

    /// The exact conversion gives `str::parse`'s bits whenever it answers.
    #[test]
    fn exact_decimal_conversion_matches_std(
        text in "[+-]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][+-]?[0-9]{1,3})?"
    ) {
        if let Some(v) = exact_f64(text.as_bytes()) {
            let expected: f64 = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(v.to_bits(), expected.to_bits(), "{}", text);
        }
    }
}

/// The benchmark's line shape: every line after the first reuses the columns, and the meters
/// come out in the grammar's order.
#[test]
fn the_benchmark_shape_reads_the_same_either_way() {
    let mut log = String::new();
    for k in 0..3000u64 {
        let loss = 0.8 - k as f64 * 1e-4;
        log.push_str(&format!(
            "INFO:app.vjepa.train:[{}, {:5}] loss: {loss:.3} | p{loss:.3} r0.900 | input_var: 0.580 0.314 | masks: [104.0, 56.0] [wd: 4.25e-02] [lr: 6.25e-04] [mem: 1.85e+03] [gpu: 412.3 ms][wall: 420.1 ms]\n",
            k / 300 + 1,
            k % 300
        ));
    }
    let source = Source::stdin();
    let policy = ValuePolicy::default();
    let a = parse(log.as_bytes(), &source, &policy).unwrap();
    let b = parse_uncached(log.as_bytes(), &source, &policy).unwrap();
    assert_eq!(a.table.names, b.table.names);
    assert_eq!(a.table.account, b.table.account);
    assert_eq!(a.table.account.rows_used, 3000);
    assert_eq!(
        a.table.names,
        [
            "loss",
            "loss-jepa",
            "reg-loss",
            "input_var",
            "input_var_min",
            "masks[0]",
            "masks[1]",
            "wd",
            "lr",
            "mem",
            "gpu-time(ms)",
            "wall-time(ms)"
        ]
    );
    for (ca, cb) in a.table.columns.iter().zip(&b.table.columns) {
        let bits = |c: &ColumnData| -> Vec<(usize, u32)> {
            c.present().map(|(r, v)| (r, v.to_bits())).collect()
        };
        assert_eq!(bits(ca), bits(cb));
    }
}
