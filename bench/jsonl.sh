#!/usr/bin/env bash
# JSON lines and console logs against the CSV path (issue 17 item 3): writes the same V-JEPA run
# of ROWS iterations as CSV, as JSON lines and as a V-JEPA console log, then times `analyze` on
# each, interleaved run by run so that a shared machine's load falls on all three alike, and
# prints median wall time, median peak RSS (/usr/bin/time -v) and each path's ratio to the CSV
# path measured in the same run. Target: JSON lines and console logs within 2x the CSV path.
#
#   bench/jsonl.sh                        # 1e6 rows, 5 runs, release build
#   ROWS=200000 RUNS=7 bench/jsonl.sh
#   BIN=target/debug/jepa-doctor bench/jsonl.sh   # an existing binary, no build
#
# Files go to ${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench} and are reused when present.
# Not run by CI: timings are not tests.
set -euo pipefail

cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-5}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time at /usr/bin/time (apt install time)" >&2; exit 2; }
mkdir -p "$DIR"
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet --bin jepa-doctor
    BIN=target/release/jepa-doctor
fi

# One run, three spellings: 300 iterations per epoch, loss falling with noise, reg-loss, lr.
csv="$DIR/same_${ROWS}.csv" jsonl="$DIR/same_${ROWS}.jsonl" log="$DIR/same_${ROWS}.log"
if [ ! -s "$csv" ] || [ ! -s "$jsonl" ] || [ ! -s "$log" ]; then
    awk -v n="$ROWS" -v csv="$csv" -v jsonl="$jsonl" -v clog="$log" 'BEGIN {
        srand(17); ipe = 300
        print "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)" > csv
        for (k = 0; k < n; k++) {
            e = int(k / ipe) + 1; i = k % ipe
            loss = 0.2 + 0.6 * exp(-k / (n / 5)) + 0.01 * (rand() - 0.5)
            reg = 0.9 - 0.2 * k / n; lr = 0.000625
            printf "%d,%d,%.5f,%.5f,%.5f,%.5f,%.5f,%.1f,%.1f\n", e, i, loss, loss, reg, 0.1, 0.3, 400 + rand() * 50, 405 + rand() * 50 > csv
            printf "{\"epoch\": %d, \"itr\": %d, \"loss\": %.5f, \"loss-jepa\": %.5f, \"reg-loss\": %.5f, \"lr\": %.3e, \"gpu-time(ms)\": %.1f}\n", e, i, loss, loss, reg, lr, 400 + rand() * 50 > jsonl
            printf "INFO:app.vjepa.train:[%d, %5d] loss: %.3f | p%.3f r%.3f | input_var: 0.580 0.314 | masks: [104.0, 56.0] [wd: 4.25e-02] [lr: %.2e] [mem: 1.85e+03] [gpu: %.1f ms][wall: %.1f ms]\n", e, i, loss, loss, reg, lr, 400 + rand() * 50, 405 + rand() * 50 > clog
        }
    }'
fi

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); binary: $BIN ($($BIN --version))"
echo "rows: $ROWS, runs: $RUNS (interleaved)"
declare -A walls rsss
for _ in $(seq "$RUNS"); do
    for kind in csv jsonl log; do
        file=${!kind}
        cat "$file" >/dev/null # page cache warm
        start=$EPOCHREALTIME
        "$TIME" -v -o "$DIR/time.txt" "$BIN" analyze "$file" --json="$DIR/report.json" -q \
            || [ $? -le 1 ] # exit 1 is a verdict, not a failure
        end=$EPOCHREALTIME
        walls[$kind]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }') "
        rsss[$kind]+="$(awk -F': ' '/Maximum resident set size/ { print $2 / 1024 }' "$DIR/time.txt") "
    done
done
csv_wall=$(printf '%s\n' ${walls[csv]} | median)
printf '%-12s %10s %10s %12s %12s\n' input file_MB wall_s peak_RSS_MB vs_CSV
for kind in csv jsonl log; do
    file=${!kind}
    wall=$(printf '%s\n' ${walls[$kind]} | median)
    rss=$(printf '%s\n' ${rsss[$kind]} | median)
    printf '%-12s %10.1f %10.3f %12.1f %11.2fx\n' "$kind" \
        "$(awk -v b="$(stat -c %s "$file")" 'BEGIN { print b / 1e6 }')" "$wall" "$rss" \
        "$(awk -v a="$wall" -v b="$csv_wall" 'BEGIN { print a / b }')"
done
