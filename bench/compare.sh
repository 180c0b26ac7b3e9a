#!/usr/bin/env bash
# The reduce-step benchmark of docs/sweeps.md: `compare` over 1,000 saved `analyze --json` reports.
#
#   bench/compare.sh                  # 1000 reports, 5 timed runs (the median is reported)
#   REPORTS=5000 RUNS=3 bench/compare.sh
#
# Map step first (not timed): a 40-run synthetic LR sweep (examples/gen_sweep.rs, seed 15) is
# analysed with `xargs -P` into one report per run, exactly as docs/sweeps.md shows; the reports are
# then copied to REPORTS files (run_0001.json …) so the reduce step reads REPORTS distinct files.
# Everything goes to ${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench-compare}. Not run by CI.
set -euo pipefail

cd "$(dirname "$0")/.."
REPORTS=${REPORTS:-1000}
RUNS=${RUNS:-5}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench-compare}
rm -rf "$DIR" && mkdir -p "$DIR/runs" "$DIR/reports"

cargo build --release --quiet --bin jepa-doctor --example gen_sweep
BIN=$PWD/target/release/jepa-doctor
target/release/examples/gen_sweep "$DIR/runs" 40 15 >/dev/null 2>&1

# Map: one report per run, as many at a time as there are cores.
start=$EPOCHREALTIME
ls -d "$DIR"/runs/*/ | sed 's:/$::' |
    xargs -P "$(nproc)" -I{} "$BIN" analyze {} --json={}.json --fail-on=never -q
map_s=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
mapfile -t made < <(ls "$DIR"/runs/*.json)
for i in $(seq "$REPORTS"); do
    cp "${made[$(( (i - 1) % ${#made[@]} ))]}" "$DIR/reports/run_$(printf '%05d' "$i").json"
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "binary:  $($BIN --version), $(date -u +%Y-%m-%d)"
echo "map:     ${#made[@]} runs analysed with xargs -P $(nproc) in ${map_s} s"
cat "$DIR"/reports/*.json >/dev/null # page cache warm
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time at /usr/bin/time (apt install time)" >&2; exit 2; }
walls=() cpus=()
for _ in $(seq "$RUNS"); do
    code=0
    "$TIME" -f "%e %U %S %M" -o "$DIR/time.txt" \
        "$BIN" compare "$DIR"/reports/*.json --json="$DIR/compare.json" -q || code=$?
    [ "$code" -le 1 ] || { echo "bench: compare failed ($code)" >&2; exit 2; }
    read -r wall user sys rss < <(tail -n 1 "$DIR/time.txt")
    walls+=("$wall")
    cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')")
done
echo "reduce:  compare over $REPORTS saved reports ($(du -sh "$DIR/reports" | cut -f1)):" \
     "median wall $(printf '%s\n' "${walls[@]}" | median) s, median CPU (user+sys)" \
     "$(printf '%s\n' "${cpus[@]}" | median) s, peak RSS $((rss / 1024)) MB" \
     "(wall: ${walls[*]}; load average $(cut -d' ' -f1 /proc/loadavg))"
