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

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
jobs=2

while getopts "j:c:h" opt; do
    case $opt in
    j) jobs=$OPTARG ;;
    c) cache=$OPTARG ;;
    *) bench_usage 5 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || bench_usage 5
out=$1
shift
roots=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    root=$(bench_corpus "$1")
    roots+=("$root")
    shift
done
[ $# -gt 0 ] && shift
command -v jq >/dev/null || bench_die "needs jq"
[ -x "$imgpool" ] || bench_die "no '$imgpool' (build first)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
"$imgpool" thumbnail -j "$jobs" --report "$tmp/report.jsonl" "$@" \
    "${roots[@]}" -o "$tmp/out" 2>"$tmp/stderr" || rc=$?
[ "$rc" -le 1 ] || { cat "$tmp/stderr" >&2; bench_die "imgpool exited $rc"; }
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
