#!/usr/bin/env bash
#
# eta_trace.sh - record what each file of a real run cost, for test_eta.
#
#   tests/bench/eta_trace.sh [-j N] [-c CACHE] OUT.trace ROOT... [-- ARGS]
#
# Runs $IMGPOOL (default build/imgpool) thumbnail -j N (default 2) over the
# ROOTs (names under CACHE made by corpus.sh, or directories) into a fresh
# temporary output directory, with ARGS added (e.g. -- -f avif), and writes
# one line per file processed by a worker, in the order of the report
# (completion order):
#     EXT BYTES WIDTH HEIGHT MS
# EXT is the input's extension in lower case, BYTES its size, WIDTH and
# HEIGHT its pixels (0 when the report has none), MS the worker's wall
# time.  Lines starting with '#' say how the trace was made.  test_eta
# replays these traces on a simulated clock.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${IMGPOOL_BENCH_CACHE:-/tmp/imgpool-bench}
imgpool=${IMGPOOL:-$repo/build/imgpool}
jobs=2

usage() {
    sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^# *//; 1s/^/usage: /' >&2
    exit 2
}
die() {
    echo "eta_trace.sh: $*" >&2
    exit 2
}

while getopts "j:c:h" opt; do
    case $opt in
    j) jobs=$OPTARG ;;
    c) cache=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
out=$1
shift
roots=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    if [ -d "$1" ]; then
        roots+=("$1")
    elif [ -d "$cache/$1" ]; then
        roots+=("$cache/$1")
    else
        die "no corpus '$1' (tests/bench/corpus.sh builds them)"
    fi
    shift
done
[ $# -gt 0 ] && shift
command -v jq >/dev/null || die "needs jq"
[ -x "$imgpool" ] || die "no '$imgpool' (build first)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
"$imgpool" thumbnail -j "$jobs" --report "$tmp/report.jsonl" "$@" \
    "${roots[@]}" -o "$tmp/out" 2>"$tmp/stderr" || rc=$?
[ "$rc" -le 1 ] || { cat "$tmp/stderr" >&2; die "imgpool exited $rc"; }
{
    printf '# imgpool thumbnail -j %s%s over %s\n' "$jobs" "${*:+ $*}" \
        "$(for r in "${roots[@]}"; do basename "$r"; done | paste -sd' ')"
    printf '# %s, %s cores, load %s\n' "$(uname -m)" "$(nproc)" \
        "$(cut -d' ' -f1 /proc/loadavg)"
    printf '# ext bytes width height ms\n'
    jq -r 'select(.summary != true and .ms != null and .in_bytes != null) |
        [(.path | ascii_downcase | capture("\\.(?<e>[a-z0-9]+)$").e // "none"),
         .in_bytes, (.in_width // 0), (.in_height // 0), .ms] | @tsv' \
        "$tmp/report.jsonl" | tr '\t' ' '
} >"$out"
echo "eta_trace.sh: $(grep -vc '^#' "$out") files -> $out" >&2
