#!/usr/bin/env bash
# TensorBoard reading benchmark (issue 14): one run of SCALARS scalars (default 1e6: 250k steps ×
# 4 tags) written as a TensorBoard event file and as the same data in CSV, each analysed by the
# release binary under /usr/bin/time -v (whole process: read, clean, analyse, JSON). The two inputs
# alternate run by run, so both see the same machine load. Target: the event file within 2× the
# CSV's time. Prints medians of wall time and of CPU time (user + sys: less sensitive to a busy
# machine than wall time) and the ratios. Not run by CI: timings are not tests.
#
#   bench/tensorboard.sh              # 1e6 scalars, 5 runs each (the median is reported)
#   SCALARS=4000000 RUNS=7 bench/tensorboard.sh
set -euo pipefail

cd "$(dirname "$0")/.."
SCALARS=${SCALARS:-1000000}
RUNS=${RUNS:-5}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench}/tb_${SCALARS}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time at /usr/bin/time (apt install time)" >&2; exit 2; }
mkdir -p "$DIR"

cargo build --release --quiet --bin jepa-doctor --example gen_tb_events
BIN=target/release/jepa-doctor
[ -s "$DIR/same.csv" ] || target/release/examples/gen_tb_events "$SCALARS" "$DIR"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

inputs=("$DIR/same.csv" "$DIR/tb")
cat "$DIR/same.csv" "$DIR"/tb/* >/dev/null # page cache warm
declare -A walls cpus rsss
for _ in $(seq "$RUNS"); do
    for input in "${inputs[@]}"; do
        start=$EPOCHREALTIME
        "$TIME" -v -o "$DIR/time.txt" "$BIN" analyze "$input" --json="$DIR/report.json" -q || [ $? -le 1 ]
        end=$EPOCHREALTIME
        walls[$input]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }') "
        cpus[$input]+="$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.3f", u + s }' "$DIR/time.txt") "
        rsss[$input]+="$(awk -F': ' '/Maximum resident set size/ { print $2 / 1024 }' "$DIR/time.txt") "
    done
done

printf '%-10s %9s %9s %9s %12s\n' input file_MB wall_s cpu_s peak_RSS_MB
for input in "${inputs[@]}"; do
    bytes=$(du -sb "$input" | cut -f1)
    wall=$(printf '%s\n' ${walls[$input]} | median)
    cpu=$(printf '%s\n' ${cpus[$input]} | median)
    printf '%-10s %9.1f %9.3f %9.3f %12.1f\n' "$(basename "$input")" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" \
        "$wall" "$cpu" "$(printf '%s\n' ${rsss[$input]} | median)"
    eval "wall_$(basename "$input" | tr -c 'a-z\n' _)=$wall cpu_$(basename "$input" | tr -c 'a-z\n' _)=$cpu"
done
awk -v tw="$wall_tb" -v cw="$wall_same_csv" -v tc="$cpu_tb" -v cc="$cpu_same_csv" \
    'BEGIN { printf "tensorboard / csv: wall %.2f×, cpu %.2f× (target ≤ 2×)\n", tw / cw, tc / cc }'
