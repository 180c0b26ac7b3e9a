use super::*;
use crate::model::{ValueKind, is_missing};

fn build(rows: &[(u64, &[f32])], restarts_before: &[usize]) -> Table {
    let mut b = TableBuilder::new("t.csv");
    b.column("a");
    b.column("b");
    for (i, (key, values)) in rows.iter().enumerate() {
        if restarts_before.contains(&i) {
            b.restart();
        }
        b.push_values(*key, values);
    }
    b.finish(restarts_before.len() as u64)
}

fn values(t: &Table, c: usize) -> Vec<f32> {
    assert!(t.columns[c].keeps_values(), "kinds");
    t.columns[c].dense_values(t.keys.len())
}

fn keys(t: &Table) -> Vec<u64> {
    t.keys.iter().collect()
}

#[test]
fn sorted_unique_rows_pass_through() {
    let t = build(&[(0, &[1.0, 2.0]), (1, &[3.0, 4.0])], &[]);
    assert_eq!(keys(&t), vec![0, 1]);
    assert_eq!(t.account.rows_used, 2);
    assert_eq!(t.account.rows_replaced, 0);
}

#[test]
fn a_restart_replaces_the_replayed_rows_and_keeps_the_last_occurrence() {
    // Killed at key 3, resumed at key 2: rows 2 and 3 of the first segment are replaced.
    let rows: &[(u64, &[f32])] = &[
        (0, &[0.0, 0.0]),
        (1, &[1.0, 1.0]),
        (2, &[2.0, 2.0]),
        (3, &[3.0, 3.0]),
        (2, &[20.0, 20.0]),
        (3, &[30.0, 30.0]),
        (4, &[40.0, 40.0]),
    ];
    let t = build(rows, &[4]);
    assert_eq!(keys(&t), vec![0, 1, 2, 3, 4]);
    assert_eq!(values(&t, 0), vec![0.0, 1.0, 20.0, 30.0, 40.0]);
    assert_eq!(t.account.rows_replaced, 2);
    assert!(t.account.balances());
}

#[test]
fn a_restart_drops_a_stale_tail_the_resumed_run_never_relogged() {
    // First run reached key 5; resumed at key 2 and stopped at key 3.
    let rows: &[(u64, &[f32])] = &[
        (0, &[0.0, 0.0]),
        (2, &[2.0, 2.0]),
        (4, &[4.0, 4.0]),
        (5, &[5.0, 5.0]),
        (2, &[20.0, 20.0]),
        (3, &[30.0, 30.0]),
    ];
    let t = build(rows, &[4]);
    assert_eq!(keys(&t), vec![0, 2, 3]);
    assert_eq!(values(&t, 1), vec![0.0, 20.0, 30.0]);
    assert_eq!(t.account.rows_replaced, 3);
}

#[test]
fn equal_keys_merge_cell_by_cell_later_wins() {
    let m = MISSING;
    let rows: &[(u64, &[f32])] = &[
        (10, &[1.0, m]),
        (10, &[m, 7.0]),
        (5, &[0.5, m]),
        (10, &[2.0, m]),
    ];
    let t = build(rows, &[]);
    assert_eq!(keys(&t), vec![5, 10]);
    assert_eq!(values(&t, 0), vec![0.5, 2.0]);
    assert_eq!(values(&t, 1)[1], 7.0);
    assert!(is_missing(values(&t, 1)[0]));
    // (10,[1,-]) lost its only value to the later (10,[2,-]).
    assert_eq!(t.account.rows_replaced, 1);
    assert_eq!(t.account.rows_used, 3);
    assert!(t.account.balances());
}

#[test]
fn new_columns_are_backfilled_as_missing() {
    let mut b = TableBuilder::new("x");
    let a = b.column("a");
    let r = b.push_row(0);
    b.set(r, a, 1.0);
    let c = b.column("c");
    let r = b.push_row(1);
    b.set(r, c, 3.0);
    let t = b.finish(0);
    assert!(is_missing(values(&t, 1)[0]));
    assert_eq!(values(&t, 1)[1], 3.0);
    assert!(is_missing(values(&t, 0)[1]));
}

#[test]
fn columns_the_diagnosis_does_not_read_keep_only_kinds() {
    let policy = ValuePolicy::default();
    let mut b = TableBuilder::with_policy("x", policy);
    b.column("loss-jepa");
    b.column("gpu-time(ms)");
    b.push_values(0, &[0.5, 400.0]);
    b.push_values(1, &[0.4, f32::NAN]);
    let t = b.finish(0);
    assert_eq!(t.column("loss-jepa"), Some(&[0.5f32, 0.4][..]));
    assert_eq!(t.column("gpu-time(ms)"), None);
    assert_eq!(
        t.columns[1],
        ColumnData::Kinds(vec![ValueKind::Finite as u8, ValueKind::Nan as u8])
    );
}

#[test]
fn chunks_append_like_rows() {
    let mut whole = TableBuilder::new("x");
    whole.column("a");
    let mut chunked = TableBuilder::new("x");
    chunked.column("a");
    for k in [0u64, 1, 2, 3, 2, 3, 4] {
        if k == 2 && whole.rows() == 4 {
            whole.restart();
        }
        whole.push_values(k, &[k as f32]);
    }
    chunked.append_chunk(&Chunk {
        keys: Progressions::from_values(&[0, 1, 2]),
        columns: vec![vec![0.0, 1.0, 2.0]],
        segment_starts: vec![],
    });
    chunked.append_chunk(&Chunk {
        keys: Progressions::from_values(&[3, 2, 3, 4]),
        columns: vec![vec![3.0, 2.0, 3.0, 4.0]],
        segment_starts: vec![1],
    });
    let (a, b) = (whole.finish(1), chunked.finish(1));
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(a.columns, b.columns);
    assert_eq!(a.account, b.account);
}

/// The same rows through dense columns (named before the first row) and sparse ones (named
/// after it) resolve to the same table: restarts, equal keys and the row account.
#[test]
fn sparse_columns_resolve_like_dense_ones() {
    let m = MISSING;
    // (restart before?, key, a, b): a replayed tail, equal keys, values coming and going.
    let rows: &[(bool, u64, f32, f32)] = &[
        (false, 0, 1.0, m),
        (false, 1, m, 2.0),
        (false, 2, 3.0, m),
        (false, 3, m, m),
        (true, 2, 30.0, m),
        (false, 2, m, 20.0),
        (false, 4, 4.0, m),
        (false, 4, m, m),
        (false, 1, 10.0, m),
    ];
    let build = |sparse: bool| {
        let mut b = TableBuilder::new("x");
        if !sparse {
            b.column("a");
            b.column("b");
        }
        for &(restart, key, a, v) in rows {
            if restart {
                b.restart();
            }
            let r = b.push_row(key);
            let (ca, cb) = (b.column("a"), b.column("b"));
            b.set(r, ca, a);
            b.set(r, cb, v);
        }
        b.finish(1)
    };
    let (dense, sparse) = (build(false), build(true));
    assert_eq!(keys(&dense), keys(&sparse));
    for c in 0..2 {
        let (x, y) = (values(&dense, c), values(&sparse, c));
        assert_eq!(
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
    assert_eq!(dense.account, sparse.account);
    assert!(sparse.account.balances());
}

#[test]
fn epoch_itr_keys_sort_like_pairs() -> Result<(), Box<dyn std::error::Error>> {
    let a = epoch_itr_key(1, 99).ok_or("1/99 out of range")?;
    let b = epoch_itr_key(2, 0).ok_or("2/0 out of range")?;
    assert!(a < b);
    assert_eq!(split_epoch_itr(b), (2, 0));
    assert!(epoch_itr_key(1 << 40, 0).is_none());
    Ok(())
}
