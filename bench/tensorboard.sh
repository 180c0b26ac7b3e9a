#!/usr/bin/env bash
# TensorBoard reading benchmark (issue 14, issue 17 target 5): one run of SCALARS scalars (default
# 1e6: 250k steps × 4 tags) written as a TensorBoard event file and as the same data in CSV, each
# analysed by the release binary under /usr/bin/time -v (whole process: read, clean, analyse,
# JSON). The inputs alternate run by run, so all see the same machine load. Target: the event file
# within 2× the CSV's time. Prints medians of wall time and of CPU time (user + sys: less
# sensitive to a busy machine than wall time) and the ratios to the CSV path of the same run.
# With BEFORE_BIN set, the event file is also read by that binary (an earlier build) in the same
# interleaved loop, so before and after are measured under the same load. Not run by CI: timings
# are not tests.
#
#   bench/tensorboard.sh              # 1e6 scalars, 5 runs each (the median is reported)
#   SCALARS=4000000 RUNS=7 bench/tensorboard.sh
#   BEFORE_BIN=/tmp/jepa-doctor-main RUNS=9 bench/tensorboard.sh
#   BIN=target/release/jepa-doctor bench/tensorboard.sh   # an existing binary, no build
set -euo pipefail

cd "$(dirname "$0")/.."
SCALARS=${SCALARS:-1000000}
RUNS=${RUNS:-5}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench}/tb_${SCALARS}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time at /usr/bin/time (apt install time)" >&2; exit 2; }
mkdir -p "$DIR"

if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet --bin jepa-doctor --example gen_tb_events
    BIN=target/release/jepa-doctor
fi
if [ ! -s "$DIR/same.csv" ]; then
    [ -x target/release/examples/gen_tb_events ] || cargo build --release --quiet --example gen_tb_events
    target/release/examples/gen_tb_events "$SCALARS" "$DIR"
fi

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# label → binary and input; the CSV read by the binary under test is the reference.
labels=(csv tb)
declare -A bins=([csv]=$BIN [tb]=$BIN) inputs=([csv]=$DIR/same.csv [tb]=$DIR/tb)
if [ -n "${BEFORE_BIN:-}" ]; then
    labels+=(tb_before)
    bins[tb_before]=$BEFORE_BIN inputs[tb_before]=$DIR/tb
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); binary: $BIN${BEFORE_BIN:+, before: $BEFORE_BIN}"
echo "scalars: $SCALARS, runs: $RUNS (interleaved)"
cat "$DIR/same.csv" "$DIR"/tb/* >/dev/null # page cache warm
declare -A walls cpus rsss
for _ in $(seq "$RUNS"); do
    for label in "${labels[@]}"; do
        start=$EPOCHREALTIME
        "$TIME" -v -o "$DIR/time.txt" "${bins[$label]}" analyze "${inputs[$label]}" --json="$DIR/report.json" -q \
            || [ $? -le 1 ] # exit 1 is a verdict, not a failure
        end=$EPOCHREALTIME
        walls[$label]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }') "
        cpus[$label]+="$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.3f", u + s }' "$DIR/time.txt") "
        rsss[$label]+="$(awk -F': ' '/Maximum resident set size/ { print $2 / 1024 }' "$DIR/time.txt") "
    done
done

declare -A wall cpu
printf '%-10s %9s %9s %9s %12s %11s %10s\n' input file_MB wall_s cpu_s peak_RSS_MB wall/csv cpu/csv
for label in "${labels[@]}"; do
    wall[$label]=$(printf '%s\n' ${walls[$label]} | median)
    cpu[$label]=$(printf '%s\n' ${cpus[$label]} | median)
done
for label in "${labels[@]}"; do
    bytes=$(du -sb "${inputs[$label]}" | cut -f1)
    printf '%-10s %9.1f %9.3f %9.3f %12.1f %10.2f× %9.2f×\n' "$label" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" \
        "${wall[$label]}" "${cpu[$label]}" "$(printf '%s\n' ${rsss[$label]} | median)" \
        "$(awk -v a="${wall[$label]}" -v b="${wall[csv]}" 'BEGIN { print a / b }')" \
        "$(awk -v a="${cpu[$label]}" -v b="${cpu[csv]}" 'BEGIN { print a / b }')"
done
echo "target: tb within 2× csv (wall and CPU)"
