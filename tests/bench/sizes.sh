#!/usr/bin/env bash
#
# sizes.sh - several sizes from one decode against one size per run.
#
#   tests/bench/sizes.sh [IMGPOOL] [N] [ROUNDS]
#
# Makes N (default 200) 1600x1200 JPEGs (20 synthetic pictures: blurred
# colour noise with a sine grating, Q 86..94, each copied N/20 times) in
# $IMGPOOL_BENCH_CACHE/sizes-1600 (default /tmp/imgpool-bench), then times,
# with -j2 and --no-incremental, the median of ROUNDS (default 3)
# interleaved runs of:
#   one size:    -s 150, -s 300, -s 1024 (three runs, one decode each)
#   three sizes: -s 150 -s 300 -s 1024 (one run)
# and prints the ratios of the three-size run to the one-size -s 1024 run
# (same decode size) and to the three one-size runs together.
set -euo pipefail

bin=${1:-build/imgpool}
n=${2:-200}
rounds=${3:-3}
cache=${IMGPOOL_BENCH_CACHE:-/tmp/imgpool-bench}
dir=$cache/sizes-1600
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if [ ! -f "$dir.done" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    for i in $(seq 0 19); do
        vips gaussnoise "$out/n.v" 200 150 --sigma 60 --mean 128
        vips bandjoin "$out/n.v $out/n.v $out/n.v" "$out/c.v"
        vips resize "$out/c.v" "$out/big.v" 8 --kernel cubic
        vips sines "$out/s.v" 1600 1200 --hfreq $((i % 5 + 1)) --vfreq 2
        vips linear "$out/s.v" "$out/s2.v" 40 0
        vips add "$out/big.v" "$out/s2.v" "$out/sum.v"
        vips cast "$out/sum.v" "$out/u.v" uchar
        vips copy "$out/u.v" "$out/rgb.v" --interpretation srgb
        vips jpegsave "$out/rgb.v" "$dir/base$i.jpg" --Q $((86 + i % 9))
        for k in $(seq 1 $((n / 20 - 1))); do
            cp "$dir/base$i.jpg" "$dir/copy$i-$k.jpg"
        done
    done
    rm -f "$out"/*.v
    touch "$dir.done"
fi

# Wall time in seconds of one run of imgpool with "$@".
once() {
    local s e
    rm -rf "$out/o"
    s=$(date +%s.%N)
    "$bin" thumbnail --quiet -j2 --no-incremental "$@" -o "$out/o" "$dir"
    e=$(date +%s.%N)
    echo "$e - $s" | bc
}

# Rounds interleave the four runs, so that a change in the machine's load
# touches all of them alike; each result is the median of its rounds.
t150=() t300=() t1024=() tthree=()
for r in $(seq 1 "$rounds"); do
    t150+=("$(once -s 150)")
    t300+=("$(once -s 300)")
    t1024+=("$(once -s 1024)")
    tthree+=("$(once -s 150 -s 300 -s 1024)")
done
median() {
    printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"
}
one150=$(median "${t150[@]}")
one300=$(median "${t300[@]}")
one1024=$(median "${t1024[@]}")
three=$(median "${tthree[@]}")
echo "files: $(ls "$dir" | wc -l) x 1600x1200 JPEG, -j2, median of $rounds"
echo "one size  -s 150:  ${one150} s"
echo "one size  -s 300:  ${one300} s"
echo "one size  -s 1024: ${one1024} s"
echo "three sizes in one run: ${three} s"
echo "ratio three / one (-s 1024):      $(echo "scale=2; $three / $one1024" | bc)"
echo "ratio three / one (-s 300):       $(echo "scale=2; $three / $one300" | bc)"
echo "ratio three / three one-size runs: $(echo "scale=2; $three / ($one150 + $one300 + $one1024)" | bc)"
