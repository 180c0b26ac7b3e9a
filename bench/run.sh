#!/usr/bin/env bash
# The performance benchmark: writes V-JEPA-style logs of 1e4 … 1e7 rows outside the repository,
# then times the release binary on each with /usr/bin/time -v (whole process: parse, clean, full
# analysis, PNG, JSON) and prints wall time, peak RSS and the cost ratio between sizes.
#
#   bench/run.sh                 # all sizes, 5 runs each (the median is reported)
#   SIZES="10000 1000000" RUNS=9 bench/run.sh
#
# Logs go to ${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench} and are reused when present
# (the 1e7-row log is 573 MB). Not run by CI: timings are not tests.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 100000 1000000 10000000"}
RUNS=${RUNS:-5}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time at /usr/bin/time (apt install time)" >&2; exit 2; }
mkdir -p "$DIR"

cargo build --release --quiet --bin jepa-doctor --example gen_vjepa_log
BIN=target/release/jepa-doctor
GEN=target/release/examples/gen_vjepa_log

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "binary:  $($BIN --version), $(date -u +%Y-%m-%d)"
printf '%10s %10s %10s %12s %12s %10s\n' rows file_MB wall_s peak_RSS_MB RSS/file ratio
prev_wall=""
for rows in $SIZES; do
    log="$DIR/vjepa_${rows}.csv"
    [ -s "$log" ] || "$GEN" "$rows" "$log"
    size_mb=$(awk -v b="$(stat -c %s "$log")" 'BEGIN { printf "%.1f", b / 1e6 }')
    cat "$log" >/dev/null # page cache warm, as in the targets
    walls=() rsss=()
    for _ in $(seq "$RUNS"); do
        # GNU time reports wall time in centiseconds: the wall clock is read around it instead.
        start=$EPOCHREALTIME
        "$TIME" -v -o "$DIR/time.txt" "$BIN" analyze "$log" --plot "$DIR/plot.png" \
            --json="$DIR/report.json" -q || [ $? -le 1 ] # exit 1 is a verdict, not a failure
        end=$EPOCHREALTIME
        walls+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')")
        rsss+=("$(awk -F': ' '/Maximum resident set size/ { print $2 / 1024 }' "$DIR/time.txt")")
    done
    wall=$(printf '%s\n' "${walls[@]}" | median)
    rss=$(printf '%s\n' "${rsss[@]}" | median)
    ratio="-"
    [ -n "$prev_wall" ] && ratio=$(awk -v a="$wall" -v b="$prev_wall" 'BEGIN { printf "%.1fx", a / b }')
    printf '%10s %10s %10.3f %12.1f %12.2f %10s\n' "$rows" "$size_mb" "$wall" "$rss" \
        "$(awk -v r="$rss" -v f="$size_mb" 'BEGIN { print r / f }')" "$ratio"
    prev_wall=$wall
done
