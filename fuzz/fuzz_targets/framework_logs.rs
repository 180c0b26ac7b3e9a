//! The framework-log readers on arbitrary bytes: the fairseq / fairseq-hydra `train_inner`
//! reader directly, then the bytes under each file name a framework writes (DINO `log.txt`,
//! MMEngine `scalars.json`, DINOv2 `training_metrics.json`, HF `trainer_state.json`, Lightning
//! `metrics.csv`, a hydra `train.log`), recognised and read as `analyze` would. The first byte
//! picks the name.
#![no_main]

use jepa_doctor::ingest::json::JsonOptions;
use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::{IngestOptions, Source, framework, load};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = [
    "log.txt",
    "scalars.json",
    "training_metrics.json",
    "trainer_state.json",
    "metrics.csv",
    "hydra_train.log",
];

fuzz_target!(|data: &[u8]| {
    let source = Source::file(std::path::Path::new("hydra_train.log"));
    let opts = JsonOptions {
        step_col: None,
        values: ValuePolicy::default(),
    };
    if let Ok(parsed) = framework::parse_fairseq(std::io::Cursor::new(data.to_vec()), &source, &opts)
    {
        let a = &parsed.table.account;
        assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
    }
    let Some((pick, rest)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(NAMES[usize::from(*pick) % NAMES.len()]);
    std::fs::write(&path, rest).expect("write");
    if let Ok(loaded) = load(&[path.display().to_string()], &IngestOptions::default()) {
        for (_, parsed) in &loaded.parsed {
            let a = &parsed.table.account;
            assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
        }
    }
});
