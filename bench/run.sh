#!/usr/bin/env bash
# The performance benchmark (issues 7 and 17). Writes V-JEPA-style logs outside the repository,
# then times the release binary on them, whole process (parse, clean, full analysis, PNG, JSON),
# under /usr/bin/time. Every target of issue 17 is printed as a ratio to a reference measured in
# the same run, interleaved run by run (`wc -l` of the same bytes), so that a busy shared machine
# slows both sides alike: the ratios are what to compare, not the absolute times.
#
#   bench/run.sh                              # every section, 5 runs each (medians)
#   RUNS=9 SECTIONS="csv ranks" bench/run.sh  # some sections
#
# Sections (SECTIONS, default all):
#   sizes   1e4 … 1e7 rows (SIZES), --plot + --json: wall, peak RSS, cost ratio between sizes
#   csv     issue 17 target 1: 1e7 rows, `--json=- --plot x.png` ≤ 6× `wc -l`, peak RSS ≤ 0.45× file
#   small   issue 17 target 2: 1e4 rows with the figure ≤ 15 ms (also printed as a ratio to wc -l)
#   ranks   issue 17 target 4: 128 rank files × 100k rows (one run directory, ranks merged)
#           ≤ 8× `wc -l` of all the files together
#   others  issue 17 targets 3 and 5: the JSON-lines / console / TensorBoard benchmarks of their
#           owners (bench/jsonl.sh, bench/console.sh, bench/tensorboard.sh), when present
#
# Logs go to ${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench} and are reused when present
# (the 1e7-row log is 573 MB, the rank directory 730 MB). Not run by CI: timings are not tests.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 100000 1000000 10000000"}
RUNS=${RUNS:-5}
SECTIONS=${SECTIONS:-"sizes csv small ranks others"}
RANKS=${RANKS:-128}
RANK_ROWS=${RANK_ROWS:-100000}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/jepa-doctor-bench}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time at /usr/bin/time (apt install time)" >&2; exit 2; }
mkdir -p "$DIR"

# BIN=path/to/jepa-doctor times another binary (an older build, for before/after) unbuilt.
[ -n "${BIN:-}" ] || cargo build --release --quiet --bin jepa-doctor --example gen_vjepa_log
BIN=${BIN:-target/release/jepa-doctor}
GEN=${GEN:-target/release/examples/gen_vjepa_log}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# "yes" when $1 ≤ $2, else how far off ("no, 1.31× off").
verdict() { awk -v m="$1" -v t="$2" 'BEGIN { if (m <= t) print "yes"; else printf "no, %.2fx off\n", m / t }'; }

# Runs a command once under GNU time, its output discarded; prints "WALL_S RSS_MB". Exit 1 of
# jepa-doctor is a verdict, not a failure. GNU time reports wall time in centiseconds: the wall
# clock is read around it instead.
once() {
    local start end
    start=$EPOCHREALTIME
    "$TIME" -f '%M' -o "$DIR/time.txt" "$@" >/dev/null || [ $? -le 1 ]
    end=$EPOCHREALTIME
    awk -v a="$start" -v b="$end" -v kb="$(tail -n 1 "$DIR/time.txt")" \
        'BEGIN { printf "%.4f %.1f\n", b - a, kb / 1024 }'
}

# Runs REFERENCE and MEASURED alternately RUNS times; sets REF_WALL, WALL, RSS (medians).
#   paired "wc -l FILE" jepa-doctor analyze FILE ...
paired() {
    local reference=$1
    shift
    local ref_walls=() walls=() rsss=() r m
    for _ in $(seq "$RUNS"); do
        # shellcheck disable=SC2086 # the reference is a command line with its own words
        r=$(once $reference)
        m=$(once "$@")
        ref_walls+=("${r% *}")
        walls+=("${m% *}")
        rsss+=("${m#* }")
    done
    REF_WALL=$(printf '%s\n' "${ref_walls[@]}" | median)
    WALL=$(printf '%s\n' "${walls[@]}" | median)
    RSS=$(printf '%s\n' "${rsss[@]}" | median)
}

log_of() {
    local log="$DIR/vjepa_$1.csv"
    [ -s "$log" ] || "$GEN" "$1" "$log"
    cat "$log" >/dev/null # page cache warm, as in the targets
    echo "$log"
}
mb() { awk -v b="$(du -scb "$@" | tail -n 1 | cut -f1)" 'BEGIN { printf "%.1f", b / 1e6 }'; }
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "load:    $(uptime | sed 's/.*load average/load average/')"
echo "binary:  $($BIN --version), $(date -u +%Y-%m-%d), $RUNS runs a measurement (medians)"

if want sizes; then
    echo
    echo "## sizes: analyze LOG --plot plot.png --json=report.json -q"
    printf '%10s %10s %10s %12s %10s %10s\n' rows file_MB wall_s peak_RSS_MB RSS/file ratio
    prev_wall=""
    for rows in $SIZES; do
        log=$(log_of "$rows")
        walls=() rsss=()
        for _ in $(seq "$RUNS"); do
            m=$(once "$BIN" analyze "$log" --plot "$DIR/plot.png" --json="$DIR/report.json" -q)
            walls+=("${m% *}")
            rsss+=("${m#* }")
        done
        wall=$(printf '%s\n' "${walls[@]}" | median)
        rss=$(printf '%s\n' "${rsss[@]}" | median)
        size=$(mb "$log")
        step="-"
        [ -n "$prev_wall" ] && step="$(ratio "$wall" "$prev_wall")x"
        printf '%10s %10s %10.3f %12.1f %10.2f %10s\n' "$rows" "$size" "$wall" "$rss" \
            "$(ratio "$rss" "$size")" "$step"
        prev_wall=$wall
    done
fi

if want csv; then
    echo
    echo "## target 1: 1e7 rows, analyze LOG --json=- --plot x.png -q, against wc -l LOG"
    log=$(log_of 10000000)
    paired "wc -l $log" "$BIN" analyze "$log" --json=- --plot "$DIR/plot.png" -q
    size=$(mb "$log")
    r=$(ratio "$WALL" "$REF_WALL")
    rr=$(ratio "$RSS" "$size")
    printf 'wc -l %.3f s, jepa-doctor %.3f s: %s× wc -l (target ≤ 6: %s)\n' \
        "$REF_WALL" "$WALL" "$r" "$(verdict "$r" 6)"
    printf 'peak RSS %.1f MB of a %s MB file: %s× (target ≤ 0.45: %s)\n' \
        "$RSS" "$size" "$rr" "$(verdict "$rr" 0.45)"
fi

if want small; then
    echo
    echo "## target 2: 1e4 rows, analyze LOG --json=- --plot x.png -q"
    log=$(log_of 10000)
    paired "wc -l $log" "$BIN" analyze "$log" --json=- --plot "$DIR/plot.png" -q
    ms=$(awk -v w="$WALL" 'BEGIN { printf "%.1f", w * 1000 }')
    printf 'jepa-doctor %s ms (target ≤ 15 ms: %s); wc -l %.1f ms, ratio %s\n' \
        "$ms" "$(verdict "$ms" 15)" "$(awk -v w="$REF_WALL" 'BEGIN { print w * 1000 }')" \
        "$(ratio "$WALL" "$REF_WALL")"
fi

if want ranks; then
    echo
    echo "## target 4: $RANKS rank files × $RANK_ROWS rows, analyze DIR --json=- -q, against wc -l DIR/*.csv"
    rdir="$DIR/ranks_${RANKS}x${RANK_ROWS}"
    if [ ! -s "$rdir/jepa_r$((RANKS - 1)).csv" ]; then
        mkdir -p "$rdir"
        for r in $(seq 0 $((RANKS - 1))); do
            "$GEN" "$RANK_ROWS" "$rdir/jepa_r$r.csv" "$((r + 1))"
        done
    fi
    cat "$rdir"/*.csv >/dev/null
    paired "wc -l $(echo "$rdir"/*.csv)" "$BIN" analyze "$rdir" --json=- -q
    r=$(ratio "$WALL" "$REF_WALL")
    printf 'wc -l %.3f s, jepa-doctor %.3f s (%s MB, peak RSS %.1f MB): %s× wc -l (target ≤ 8: %s)\n' \
        "$REF_WALL" "$WALL" "$(mb "$rdir"/*.csv)" "$RSS" "$r" "$(verdict "$r" 8)"
fi

if want others; then
    for other in jsonl console tensorboard; do
        if [ -x "bench/$other.sh" ]; then
            echo
            echo "## bench/$other.sh (its owner's benchmark)"
            RUNS=$RUNS "bench/$other.sh"
        fi
    done
fi
