#!/usr/bin/env bash
# The cost of `watch`: a 1e7-row V-JEPA log that grows by 1,000 rows a second. Measures how long
# the first read of the backlog takes, then the CPU share of the watching process (user + system
# time from /proc over wall time) while the log grows, and its peak RSS.
#
#   bench/watch.sh                       # release build, 60 s of growth, 10 s interval
#   PROFILE=dev SECONDS_GROWING=30 bench/watch.sh
#
# Target (issue 16): < 5% of one core while following. Logs go to
# ${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench} (the 1e7-row log, 573 MB, is shared with
# bench/run.sh; the growing copy is removed at the end). Not run by CI: timings are not tests.
set -euo pipefail

cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
RATE=${RATE:-1000}
GROW=${SECONDS_GROWING:-60}
INTERVAL=${INTERVAL:-10}
PROFILE=${PROFILE:-release}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench}
mkdir -p "$DIR"

if [ "$PROFILE" = release ]; then
    cargo build --release --quiet --bin jepa-doctor --example gen_vjepa_log
    TARGET=target/release
else
    cargo build --quiet --bin jepa-doctor --example gen_vjepa_log
    TARGET=target/debug
fi
BIN=$TARGET/jepa-doctor
GEN=$TARGET/examples/gen_vjepa_log

log="$DIR/vjepa_${ROWS}.csv"
[ -s "$log" ] || "$GEN" "$ROWS" "$log"
growing="$DIR/watch_growing_r0.csv"
cp "$log" "$growing"
trap 'kill "${WATCH_PID:-}" "${APPEND_PID:-}" 2>/dev/null || true; rm -f "$growing"' EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "binary:  $($BIN --version) ($PROFILE profile), $(date -u +%Y-%m-%d)"
echo "log:     $ROWS rows, $(awk -v b="$(stat -c %s "$growing")" 'BEGIN { printf "%.0f MB", b / 1e6 }'), growing $RATE rows/s for $GROW s, --interval $INTERVAL"

out="$DIR/watch_events.jsonl"
rm -f "$out"
start=$EPOCHREALTIME
"$BIN" watch "$growing" --json --interval "$INTERVAL" --fail-on never >"$out" &
WATCH_PID=$!
# The first evaluation is printed once the backlog is read.
until [ -s "$out" ]; do sleep 0.05; done
ready=$EPOCHREALTIME
echo "first read of the backlog: $(awk -v a="$start" -v b="$ready" 'BEGIN { printf "%.1f s", b - a }')," \
     "cpu $(awk -v t="$(cpu_ticks $WATCH_PID)" -v hz="$HZ" 'BEGIN { printf "%.1f s", t / hz }')"

# Append RATE rows a second in 10 batches, continuing the last (epoch, itr).
python3 - "$growing" "$RATE" "$GROW" <<'PY' &
import sys, time, random
path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
last = open(path, 'rb').read()[-300:].splitlines()[-1].decode().split(',')
epoch, itr, ipe = int(last[0]), int(last[1]), 300
random.seed(16)
t0, n = time.time(), 0
with open(path, 'a') as f:
    while time.time() - t0 < seconds:
        for _ in range(rate // 10):
            itr += 1
            if itr == ipe:
                epoch, itr = epoch + 1, 0
            l = 0.5 + 0.01 * random.random()
            f.write(f"{epoch},{itr},{l:.5f},{l:.5f},{0.2 + 0.01 * random.random():.5f},1.00000,1.00000,100,120\n")
        f.flush()
        n += rate // 10
        time.sleep(max(0.0, t0 + n / rate - time.time()))
PY
APPEND_PID=$!
t0=$EPOCHREALTIME
c0=$(cpu_ticks $WATCH_PID)
wait $APPEND_PID
sleep "$INTERVAL" # let the last rows be evaluated
t1=$EPOCHREALTIME
c1=$(cpu_ticks $WATCH_PID)
rss=$(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$WATCH_PID/status")
kill -INT $WATCH_PID
wait $WATCH_PID || true
echo "following: $(awk -v c0="$c0" -v c1="$c1" -v hz="$HZ" -v a="$t0" -v b="$t1" \
    'BEGIN { printf "%.2f%% of one core (%.2f s cpu over %.1f s)", 100 * (c1 - c0) / hz / (b - a), (c1 - c0) / hz, b - a }')," \
     "peak RSS $rss, $(grep -c . "$out") evaluations, last: $(tail -1 "$out" | cut -c1-120)"
