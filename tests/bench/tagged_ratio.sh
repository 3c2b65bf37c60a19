#!/usr/bin/env bash
#
# tagged_ratio.sh - imgpool on the untagged and tagged 640 px corpora in
# the same interleaved rounds, so that "tagged within 1.15x of untagged"
# is not blurred by a load that changes between corpora.
#
#   tests/bench/tagged_ratio.sh [-j N] [-r R] [-c CACHE] [-O OUTROOT]
#
# Runs $IMGPOOL (default build/imgpool) thumbnail -j N on j640-untagged,
# j640-srgb, j640-adobergb and j640-p3 (corpus.sh icc), one after the other,
# R times (default 7); prints the median wall and CPU (user + sys) of each
# and their ratios to the untagged corpus.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
jobs=2
rounds=7
outroot=
while getopts "j:r:c:O:h" opt; do
    case $opt in
    j) jobs=$OPTARG ;;
    r) rounds=$OPTARG ;;
    c) cache=$OPTARG ;;
    O) outroot=$OPTARG ;;
    *) bench_usage 7 ;;
    esac
done
outroot=${outroot:-$cache/out-tagged}
[ -x "$imgpool" ] || bench_die "no imgpool at $imgpool"
corpora=(j640-untagged j640-srgb j640-adobergb j640-p3)
for c in "${corpora[@]}"; do
    [ -d "$cache/$c" ] || bench_die "run tests/bench/corpus.sh icc"
done
mkdir -p "$outroot"
declare -A wall=() cpu=()
for c in "${corpora[@]}"; do  # warm: page cache and the binary
    cat "$cache/$c"/* >/dev/null
done
for ((r = 1; r <= rounds; r++)); do
    for c in "${corpora[@]}"; do
        rm -rf "${outroot:?}/$c"
        /usr/bin/time -f '%e %U %S' -o "$outroot/time.out" "$imgpool" \
            thumbnail "$cache/$c" -o "$outroot/$c" -j "$jobs" \
            >"$outroot/$c.log" 2>&1 ||
            echo "tagged_ratio.sh: warning: $c exited $? (see $outroot/$c.log)" >&2
        read -r e u s < <(tail -n 1 "$outroot/time.out")
        wall[$c]+="$e "
        cpu[$c]+="$(echo "$u + $s" | bc) "
    done
    echo "tagged_ratio.sh: round $r/$rounds done" >&2
done
w0=$(echo "${wall[j640-untagged]}" | tr ' ' '\n' | grep . | bench_median)
c0=$(echo "${cpu[j640-untagged]}" | tr ' ' '\n' | grep . | bench_median)
echo "## tagged / untagged: $imgpool, -j $jobs, median of $rounds (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
echo
echo "| corpus | wall s | CPU s | wall / untagged | CPU / untagged |"
echo "|---|---:|---:|---:|---:|"
for c in "${corpora[@]}"; do
    w=$(echo "${wall[$c]}" | tr ' ' '\n' | grep . | bench_median)
    u=$(echo "${cpu[$c]}" | tr ' ' '\n' | grep . | bench_median)
    printf '| %s | %.2f | %.2f | %.2f | %.2f |\n' "$c" "$w" "$u" \
        "$(echo "$w / $w0" | bc -l)" "$(echo "$u / $c0" | bc -l)"
done
