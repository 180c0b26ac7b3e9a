#!/usr/bin/env bash
# JSON lines and console logs against the CSV path (issue 17 item 3): writes the same V-JEPA run
# of ROWS iterations as CSV, as JSON lines and as a V-JEPA console log, then times `analyze` on
# each, interleaved run by run so that a shared machine's load falls on all three alike, and
# prints median wall time, median CPU time (user + system), median peak RSS (/usr/bin/time -v)
# and each path's ratio to the CSV path measured in the same run (wall and CPU). Target: JSON
# lines and console logs within 2x the CSV path. On a shared machine compare the CPU ratios.
#
#   bench/jsonl.sh                        # 1e6 rows, 5 runs, release build
#   ROWS=200000 RUNS=7 bench/jsonl.sh
#   BIN=target/debug/jepa-doctor bench/jsonl.sh   # an existing binary, no build
#   BASE=/tmp/old-jepa-doctor bench/jsonl.sh      # also time an older binary, interleaved with
#                                                 # the new one (before/after in one run)
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
[ -n "${BASE:-}" ] && echo "baseline: $BASE"
echo "rows: $ROWS, runs: $RUNS (interleaved)"
bins=("$BIN")
[ -n "${BASE:-}" ] && bins+=("$BASE")
declare -A walls cpus rsss
for _ in $(seq "$RUNS"); do
    for b in "${!bins[@]}"; do
        for kind in csv jsonl log; do
            file=${!kind}
            cat "$file" >/dev/null # page cache warm
            start=$EPOCHREALTIME
            "$TIME" -v -o "$DIR/time.txt" "${bins[$b]}" analyze "$file" --json="$DIR/report.json" -q \
                || [ $? -le 1 ] # exit 1 is a verdict, not a failure
            end=$EPOCHREALTIME
            walls[$b$kind]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }') "
            cpus[$b$kind]+="$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.3f", s }' "$DIR/time.txt") "
            rsss[$b$kind]+="$(awk -F': ' '/Maximum resident set size/ { print $2 / 1024 }' "$DIR/time.txt") "
        done
    done
done
for b in "${!bins[@]}"; do
    echo "== ${bins[$b]}"
    csv_wall=$(printf '%s\n' ${walls[${b}csv]} | median)
    csv_cpu=$(printf '%s\n' ${cpus[${b}csv]} | median)
    printf '%-8s %8s %8s %8s %12s %12s %12s\n' input file_MB wall_s cpu_s peak_RSS_MB wall_vs_CSV cpu_vs_CSV
    for kind in csv jsonl log; do
        file=${!kind}
        wall=$(printf '%s\n' ${walls[$b$kind]} | median)
        cpu=$(printf '%s\n' ${cpus[$b$kind]} | median)
        rss=$(printf '%s\n' ${rsss[$b$kind]} | median)
        printf '%-8s %8.1f %8.3f %8.3f %12.1f %11.2fx %11.2fx\n' "$kind" \
            "$(awk -v b="$(stat -c %s "$file")" 'BEGIN { print b / 1e6 }')" "$wall" "$cpu" "$rss" \
            "$(awk -v a="$wall" -v b="$csv_wall" 'BEGIN { print a / b }')" \
            "$(awk -v a="$cpu" -v b="$csv_cpu" 'BEGIN { print a / b }')"
    done
done
