#!/usr/bin/env bash
# Scale figures for docs/BENCHMARKS.md (a benchmark, not a test):
#  1. the master's walk + planning over a generated tree of 1,000,000
#     entries (time, peak RSS), and planning alone of 1,000,000 synthetic
#     tasks (plan_bench);
#  2. a no-change re-run over 100,000 files against the first run;
#  3. pool throughput with 1, 2 and 4 workers on 2,000 small JPEGs.
#   tests/bench/scale.sh [BUILD_DIR] [WORK_DIR]
# BUILD_DIR holds a Release build (default build-bench, made if missing).
# WORK_DIR (default /tmp/imgpool-scale) needs ~1.5 GB and 1.1M inodes.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build-bench}
work=${2:-/tmp/imgpool-scale}
mkdir -p "$work"

if [ ! -x "$build/imgpool" ]; then
    cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
          -DIMGPOOL_TESTS=OFF >/dev/null
    cmake --build "$build" >/dev/null
fi
bin=$build/imgpool
# src/master is split into folders by concept, each on the include path.
master_inc=()
for d in "$here"/src/master/*/; do master_inc+=(-I"$d"); done
cc -O2 -D_GNU_SOURCE -I"$here/src/common" "${master_inc[@]}" \
   -I"$here/src/pool" "$here/tests/bench/scan_bench.c" \
   "$build/libimgpool_master.a" "$build/libimgpool_pool.a" \
   "$build/libimgpool_common.a" $(pkg-config --libs jansson libxxhash \
   sqlite3) -lm -o "$work/scan_bench"
cc -O2 -D_GNU_SOURCE -I"$here/src/common" "${master_inc[@]}" \
   "$here/tests/bench/plan_bench.c" "$build/libimgpool_master.a" \
   "$build/libimgpool_common.a" $(pkg-config --libs libxxhash) -lm \
   -o "$work/plan_bench"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
secs() { /usr/bin/time -f %e -o "$work/t" "$@" >/dev/null 2>&1 || true; cat "$work/t"; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"

# 1. One million entries: 1000 directories of 1000 empty files, 1 in 10
#    not an image by name (so the scanner has to look inside it).
tree=$work/million
if [ ! -f "$tree/.done" ]; then
    echo "making $tree (1,000,000 files)..."
    rm -rf "$tree"
    mkdir -p "$tree"
    for ((d = 0; d < 1000; d++)); do
        dir=$tree/d$d
        mkdir "$dir"
        (cd "$dir" && seq -f "img%04g.jpg" 0 899 | xargs touch &&
         seq -f "note%04g.txt" 0 99 | xargs touch)
    done
    touch "$tree/.done"
fi
sync
echo "== 1. walk + plan of 1,000,000 entries (3 runs, warm cache)"
for i in 1 2 3; do "$work/scan_bench" "$tree" "$work/million-out"; done |
    tee "$work/scan.txt"
echo "median scan s: $(awk '{print $6}' "$work/scan.txt" | median)," \
     "median plan s: $(awk '{print $9}' "$work/scan.txt" | median)," \
     "peak RSS MB: $(awk '{print $12}' "$work/scan.txt" | sort -n | tail -1)"
echo "== 1b. planning alone, 1,000,000 synthetic tasks"
"$work/plan_bench" 1000000

# 2. 100,000 files, first run and a no-change re-run.
small=$work/hundredk
if [ ! -f "$small/.done" ]; then
    echo "making $small (100,000 hard links of ten small JPEGs)..."
    rm -rf "$small"
    mkdir -p "$small"
    # ten sources: one file may have at most 65,000 links on ext4
    for ((i = 0; i < 10; i++)); do
        vips thumbnail "$here/testdata/rgb.jpg" "$work/tiny$i.jpg" $((60 + i))
    done
    for ((d = 0; d < 100; d++)); do
        mkdir "$small/d$d"
        (cd "$small/d$d" && for ((f = 0; f < 1000; f++)); do
             ln "$work/tiny$((d % 10)).jpg" "f$f.jpg"; done)
    done
    touch "$small/.done"
fi
echo "== 2. 100,000 files: first run, then no-change re-runs"
rm -rf "$work/hundredk-out"
first=$(secs "$bin" thumbnail "$small" -o "$work/hundredk-out" -j 2)
again=$(for i in 1 2 3; do
            secs "$bin" thumbnail "$small" -o "$work/hundredk-out" -j 2
        done | median)
echo "first run: $first s; no-change re-run (median of 3): $again s;" \
     "ratio: $(awk -v a="$again" -v f="$first" 'BEGIN { printf "%.1f%%", 100 * a / f }')"

# 3. Pool throughput on 2,000 small JPEGs (the benchmark corpus).
corpus=${SMALL_CORPUS:-/tmp/imgpool-bench/small}
if [ ! -d "$corpus" ]; then
    "$here/tests/bench/corpus.sh" small >/dev/null
fi
n=$(find "$corpus" -type f | wc -l)
echo "== 3. pool throughput, $n files of 640x480 (median of 3)"
for j in 1 2 4; do
    t=$(for i in 1 2 3; do
            rm -rf "$work/pool-out"
            secs "$bin" thumbnail "$corpus" -o "$work/pool-out" -j "$j" \
                --no-incremental
        done | median)
    echo "-j $j: $t s, $(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", n / t }') files/s"
done
