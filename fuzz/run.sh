#!/usr/bin/env bash
# Fuzzes every input parser and the whole analysis with cargo-fuzz (libFuzzer).
#
#   fuzz/run.sh            # every target for 300 s
#   fuzz/run.sh 60 csv     # 60 s, one target
#   FUZZ_SANITIZER=none fuzz/run.sh 600 tensorboard
#
# FUZZ_SANITIZER (default address) is passed to `cargo fuzz -s`. This crate forbids unsafe code,
# so AddressSanitizer watches only the dependencies' unsafe Rust (the bundled C of SQLite and zstd
# is built without it); `none` builds in minutes instead of most of an hour and still catches
# what we fuzz for: panics, hangs (-timeout) and memory blow-ups (-rss_limit_mb).
#
# Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`). Each target starts from the repository's fixtures as its seed
# corpus (copied to fuzz/corpus/<target>/, not committed). A crash leaves its input in
# fuzz/artifacts/<target>/: fix the bug, then keep the input under fixtures/fuzz-regressions/
# (tests/fuzz_regressions.rs replays every file there).
set -euo pipefail

cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-300}
shift || true
TARGETS=${*:-"csv jsonl json_document console_log params_yaml analyze tensorboard mlflow_metrics wandb_records framework_logs"}

seed() {
    local target=$1 dir=corpus/$1
    mkdir -p "$dir"
    case $target in
        csv | analyze) find ../fixtures -name '*.csv' -size -256k -exec cp {} "$dir" \; ;;
        jsonl) find ../fixtures -name '*.jsonl' -size -256k -exec cp {} "$dir" \; ;;
        json_document) find ../fixtures -name '*.json' -size -256k -exec cp {} "$dir" \; ;;
        console_log) find ../fixtures -name '*.log' -size -256k -exec cp {} "$dir" \; ;;
        params_yaml) find ../fixtures -name '*.yaml' -exec cp {} "$dir" \; ;;
        tensorboard) find ../fixtures -name '*tfevents*' -size -256k -exec cp {} "$dir" \; ;;
        mlflow_metrics) find ../fixtures -path '*mlruns*/metrics/*' -type f -size -256k -exec cp --backup=numbered {} "$dir" \; ;;
        wandb_records) find ../fixtures \( -name '*.wandb' -o -name 'wandb_export*.csv' \) -size -256k -exec cp {} "$dir" \; ;;
        framework_logs) find ../fixtures/formats \( -name '*.log' -o -name '*.txt' -o -name '*.json' -o -name 'metrics.csv' \) \
            -size -256k -exec cp --backup=numbered {} "$dir" \; ;;
    esac
    [ "$target" = analyze ] && find ../fixtures \( -name '*.jsonl' -o -name '*.log' \) -size -256k -exec cp {} "$dir" \;
    return 0
}

for target in $TARGETS; do
    seed "$target"
    echo "== $target: ${SECONDS_PER_TARGET} s"
    start=$(date +%s)
    mkdir -p logs
    status=0
    cargo +nightly fuzz run -s "${FUZZ_SANITIZER:-address}" "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        >"logs/$target.log" 2>&1 || status=$?
    grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' \
        "logs/$target.log" || true
    echo "== $target: exit $status after $(( $(date +%s) - start )) s, corpus $(ls "corpus/$target" | wc -l) inputs"
    [ "$status" -eq 0 ] || { echo "see fuzz/logs/$target.log" >&2; exit "$status"; }
done
