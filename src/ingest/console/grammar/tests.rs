use super::*;

fn fields(body: &str) -> Vec<(String, f64, bool)> {
    let mut out = Vec::new();
    let parsed = parse_loss_fields(body.as_bytes(), 0, &mut out);
    assert_eq!(parsed, Ok(()), "{body}");
    out.into_iter()
        .map(|f| {
            let name = f.name.text(body.as_bytes()).into_owned();
            assert!(f.name.is(&name, body.as_bytes()), "{name}");
            (name, f.value, f.running_mean)
        })
        .collect()
}

#[test]
fn vjepa_loss_line() {
    let f = fields(
        " 0.826 | p0.826 r0.883 | input_var: 0.624 0.249 | masks: [56.0, 16.0] [wd: 4.00e-02] [lr: 2.01e-04] [mem: 1.39e+03] [gpu: 1758.5 ms][wall: 6365.6 ms]",
    );
    let names: Vec<&str> = f.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        names,
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
    assert_eq!(f[2].1, 0.883);
    assert_eq!(f[8], ("lr".into(), 2.01e-4, false));
    assert!(f[10].2);
}

#[test]
fn vjepa2_ac_and_ijepa_lines() {
    let ac = fields(
        " 0.512 [0.31, 0.20] [wd: 4.00e-02] [lr: 1.00e-04] [mem: 1.0e+03] [iter: 500.0 ms] [gpu: 400.0 ms] [data: 20.0 ms]",
    );
    assert_eq!(ac[1].0, "jloss");
    assert_eq!(ac[2], ("sloss".into(), 0.20, true));
    assert!(ac.iter().any(|x| x.0 == "dataload-time(ms)"));
    let ij =
        fields(" 0.512 masks: 68.0 44.0 [wd: 4.00e-02] [lr: 2.00e-04] [mem: 1.2e+03] (812.0 ms)");
    let names: Vec<&str> = ij.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        names,
        ["loss", "mask-A", "mask-B", "wd", "lr", "mem", "time (ms)"]
    );
    let v2 = fields(
        " 0.512 masks: [k0: 12.0, k1: 4.0] [wd: 4.00e-02] [lr: 2.00e-04] [grad: 1.50e+00 -> 1.00e+00]",
    );
    let names: Vec<&str> = v2.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "loss",
            "masks[k0]",
            "masks[k1]",
            "wd",
            "lr",
            "grad-norm",
            "grad-norm-clipped"
        ]
    );
    let labelled = fields(" 0.5 masks: [8x0.15: 12.0, 2x0.7: 4.0] [lr: 1.0e-04]");
    assert_eq!(labelled[1], ("masks[8x0.15]".into(), 12.0, true));
    assert_eq!(labelled[2], ("masks[2x0.7]".into(), 4.0, true));
}

#[test]
fn nan_loss_is_a_value() {
    let f = fields(" nan | pnan r0.500 | [lr: 1.0e-03]");
    assert!(f[0].1.is_nan() && f[1].1.is_nan());
}

#[test]
fn prefixes_and_brackets() -> Result<(), Box<dyn std::error::Error>> {
    let (e, i, rest) =
        epoch_itr_prefix(b"[INFO    ][2024-06-06 10:00:00][log_stats   ] [3,    40] loss: 1.0")
            .ok_or("no prefix")?;
    assert_eq!((e, i), (3, 40));
    assert!(rest.starts_with(b"loss:"));
    assert_eq!(rank_prefix(b"[rank1]: INFO:root:[1, 0] loss: 1"), Some(1));
    assert_eq!(
        ipe_statement(b"INFO:app.vjepa.train:iterations per epoch/dataest length: 100/3125"),
        Some(100)
    );
    let mut out = Vec::new();
    strip_ansi(b"\x1b[32mINFO\x1b[0m [1, 0] loss: 1", &mut out);
    assert_eq!(out, b"INFO [1, 0] loss: 1");
    Ok(())
}

#[test]
fn names_taken_from_the_line_are_trimmed_like_str_trim() {
    let f = fields(" 0.5 [\u{a0}wd : 0.04] masks: [ k\u{a0}: 1.0, 2.0] [\u{2003}: 3]");
    let names: Vec<&str> = f.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(names, ["loss", "wd", "masks[k]", "masks[1]"]);
    let invalid = b" 0.5 [w\xffd: 1.0]";
    let mut out = Vec::new();
    assert_eq!(parse_loss_fields(invalid, 0, &mut out), Ok(()));
    assert_eq!(out[1].name.text(invalid), "w\u{fffd}d");
    assert!(out[1].name.is("w\u{fffd}d", invalid));
}

#[test]
fn a_value_that_runs_on_past_its_number_refuses_the_line() {
    // Each malformed value in each position of a V-JEPA loss line: the line is refused naming
    // the text, never read as the number's longest prefix.
    let bad = [
        "1e", "1e+", "1e-", "0x10", "1.2.3", "1e5e5", "12e3.5", "1,5", "0_5",
    ];
    let losses = [
        " {} | p0.5 r0.5 |",
        " 0.5 | p{} r0.5 |",
        " 0.5 | p0.5 r{} |",
    ];
    let side_fields = [
        " 0.5 | p0.5 r0.5 | [wd: {}]",
        " 0.5 | p0.5 r0.5 | [gpu: {} ms]",
    ];
    let cases = bad
        .iter()
        .flat_map(|t| losses.iter().chain(&side_fields).map(move |l| (*t, *l)))
        // Letters after a loss are an error; after a side field's value they are its unit.
        .chain(losses.iter().map(|l| ("0.5abc", *l)));
    for (text, line) in cases {
        let body = line.replace("{}", text);
        let mut out = Vec::new();
        let err = parse_loss_fields(body.as_bytes(), 0, &mut out)
            .expect_err(&format!("{body:?} was read"));
        assert!(err.contains(text), "{body:?}: {err}");
    }
    // Values that end where a value ends are read as before, and a unit glued to a side field's
    // value is its unit.
    let f = fields(
        " 1e5 | p-0.5 r+2 | [0.31,0.20] [lr: 1.00e-04] (812.0 ms) [gpu: 1758.5ms] [mem: 1.39e+03MiB] (9.5ms)",
    );
    let values: Vec<f64> = f.iter().map(|x| x.1).collect();
    assert_eq!(
        values,
        [1e5, -0.5, 2.0, 0.31, 0.20, 1e-4, 812.0, 1758.5, 1390.0, 9.5]
    );
}
