//! Incremental reading gives what `analyze` reads: each fixture is written to a new file in pieces
//! of random size (cutting lines and headers anywhere), [`FileFeed`] is polled after every piece,
//! and the rows it hands out — a key at or before the last one replacing from there on, as a
//! restart does — must equal the table the whole-file parser builds, key for key and value for
//! value (console logs: the window means recovered across batch boundaries too; TensorBoard event
//! files: records cut anywhere, TFRecord framing and all).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use jepa_doctor::ingest::progress::Progress;
use jepa_doctor::ingest::table::ColumnData;
use jepa_doctor::ingest::{IngestOptions, Source, read_source};
use jepa_doctor::model::is_missing;
use jepa_doctor::watch::feed::{Fed, FileFeed};

type Rows = BTreeMap<u64, BTreeMap<String, u32>>;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }
}

fn whole_file(path: &Path) -> Result<Rows, Box<dyn std::error::Error>> {
    let opts = IngestOptions {
        general_csv_only: true,
        ..IngestOptions::default()
    };
    let parsed = read_source(
        &Source::file(path),
        &opts,
        None,
        &Progress::for_inputs(0, false),
    )?;
    let t = parsed.table;
    let mut rows = Rows::new();
    for (r, key) in t.keys.iter().enumerate() {
        let entry = rows.entry(key).or_default();
        for (name, col) in t.names.iter().zip(&t.columns) {
            if let ColumnData::Values(v) = col
                && !is_missing(v[r])
            {
                entry.insert(name.clone(), v[r].to_bits());
            }
        }
    }
    Ok(rows)
}

fn grown(fixture: &Path, seed: u64) -> Result<(Rows, usize), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(fixture)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(fixture.file_name().ok_or("name")?);
    let mut file = std::fs::File::create(&path)?;
    let mut feed = FileFeed::new(Source::file(&path), &IngestOptions::default());
    let mut rng = Rng(seed);
    let mut rows = Rows::new();
    let (mut at, mut batches) = (0, 0);
    while at < bytes.len() {
        let piece = 1 + rng.below(900) as usize;
        let end = (at + piece).min(bytes.len());
        file.write_all(&bytes[at..end])?;
        file.flush()?;
        at = end;
        loop {
            match feed.poll(1 << 20)? {
                Fed::Rows(batch) => {
                    batches += 1;
                    let last = rows.keys().next_back().copied();
                    let first = batch.keys.first().copied();
                    // The same key again completes the last row; an earlier key is a restart
                    // that replaces from there on (what `watch` does with them).
                    let completes = first.is_some() && first == last && batch.restarts == 0;
                    if let Some(first) = first.filter(|_| !completes) {
                        let _ = rows.split_off(&first);
                    }
                    for (r, key) in batch.keys.iter().enumerate() {
                        let entry = rows.entry(*key).or_default();
                        for (name, col) in batch.names.iter().zip(&batch.columns) {
                            let kept = r == 0 && completes && entry.contains_key(name);
                            if !is_missing(col[r]) && !kept {
                                entry.insert(name.clone(), col[r].to_bits());
                            }
                        }
                    }
                }
                Fed::Nothing => break,
                other => return Err(format!("unexpected {other:?}").into()),
            }
        }
    }
    Ok((rows, batches))
}

#[test]
fn every_format_read_in_pieces_equals_the_whole_file() -> Result<(), Box<dyn std::error::Error>> {
    let fixtures = [
        "fixtures/samples/recipe/jepa_r0.csv",
        "fixtures/csv/vjepa_restart_replay.csv",
        "fixtures/csv/ijepa.csv",
        "fixtures/csv/generic_custom_names.tsv",
        "fixtures/samples/recipe/stdout.log",
        "fixtures/console/ijepa_prefixed.log",
        "fixtures/console/vjepa2_ac.log",
        "fixtures/json/train_eval_mixed.jsonl",
        "fixtures/json/highlr_reg_twin.jsonl",
        // TensorBoard event files (tensorboardX): pieces cut records anywhere, the partial
        // record is held; the tensor-style file names the scalars plugin on a tag's first
        // event only, which must carry over from batch to batch.
        "fixtures/formats/same_run/tensorboard/events.out.tfevents.1796019447.vm.fixture",
        "fixtures/formats/same_run/tensorboard_tensor/events.out.tfevents.1796019448.vm.15716.0.fixture",
        "fixtures/formats/tensorboard/add_scalars/events.out.tfevents.1796019453.vm.fixture",
    ];
    for (i, fixture) in fixtures.iter().enumerate() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture);
        let expected = whole_file(&path)?;
        let seed = 0x16_0000 + i as u64;
        let (got, batches) = grown(&path, seed)?;
        println!(
            "{fixture}: {} rows in {batches} batches (seed {seed:#x})",
            got.len()
        );
        assert!(
            batches > 1 || expected.len() < 5,
            "{fixture} was read in one batch"
        );
        assert_eq!(got.len(), expected.len(), "{fixture}: rows");
        for (key, values) in &expected {
            assert_eq!(got.get(key), Some(values), "{fixture}: key {key}");
        }
    }
    Ok(())
}
