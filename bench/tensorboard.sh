#!/usr/bin/env bash
# TensorBoard reading benchmark (issue 14): one run of SCALARS scalars (default 1e6: 250k steps ×
# 4 tags) written as a TensorBoard event file and as the same data in CSV, each analysed by the
# release binary under /usr/bin/time -v (whole process: read, clean, analyse, JSON). Target: the
# event file within 2× the CSV's wall time. Not run by CI: timings are not tests.
#
#   bench/tensorboard.sh              # 1e6 scalars, 3 runs each (the median is reported)
#   SCALARS=4000000 RUNS=5 bench/tensorboard.sh
set -euo pipefail

cd "$(dirname "$0")/.."
SCALARS=${SCALARS:-1000000}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench}/tb_${SCALARS}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time at /usr/bin/time (apt install time)" >&2; exit 2; }
mkdir -p "$DIR"

cargo build --release --quiet --bin jepa-doctor --example gen_tb_events
BIN=target/release/jepa-doctor
[ -s "$DIR/same.csv" ] || target/release/examples/gen_tb_events "$SCALARS" "$DIR"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-12s %10s %10s %12s\n' input file_MB wall_s peak_RSS_MB
for input in "$DIR/same.csv" "$DIR/tb"; do
    bytes=$(du -sb "$input" | cut -f1)
    cat "$input" "$input"/* >/dev/null 2>&1 || true # page cache warm
    walls=() rsss=()
    for _ in $(seq "$RUNS"); do
        start=$EPOCHREALTIME
        "$TIME" -v -o "$DIR/time.txt" "$BIN" analyze "$input" --json "$DIR/report.json" -q || [ $? -le 1 ]
        end=$EPOCHREALTIME
        walls+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')")
        rsss+=("$(awk -F': ' '/Maximum resident set size/ { print $2 / 1024 }' "$DIR/time.txt")")
    done
    printf '%-12s %10.1f %10.3f %12.1f\n' "$(basename "$input")" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" \
        "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${rsss[@]}" | median)"
done
