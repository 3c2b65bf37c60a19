#!/usr/bin/env bash
#
# ab.sh - is a refactored build as fast as the one before it?
#
#   tests/bench/ab.sh [-r R] [-j N] OLD_IMGPOOL NEW_IMGPOOL CORPUS...
#
# For each CORPUS (a name under $IMGPOOL_BENCH_CACHE made by corpus.sh, or
# a directory) the two builds run the same jobs in alternation, R rounds
# (-r, default 7) of old, new, old, new ..., so that a slow patch of a
# shared machine costs both alike:
#   thumbnail      thumbnail CORPUS -o OUT -j N
#   recompress     recompress CORPUS -o OUT -j N
#   in-place       recompress --in-place --force on a fresh copy (cp -a)
#   freedesktop    thumbnail --freedesktop with HOME in a fresh directory
# GNU time measures wall and CPU (user + sys of the process tree).  Prints
# one table line per corpus and job: the medians of each build and the
# ratios new/old (below 1: the new build is faster).  Run it on a machine
# as quiet as you can get; CPU time is the steadier of the two figures.

set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rounds=7
jobs=2
while getopts "r:j:h" opt; do
    case $opt in
    r) rounds=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) bench_usage 5 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 3 ] || bench_usage 5
old=$1 new=$2
shift 2
for b in "$old" "$new"; do
    [ -x "$b" ] || bench_die "'$b' is not an executable"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/imgpool-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT

# once JOB BIN DIR: one timed run, "WALL CPU" appended to $work/JOB.BIN.
once() {
    local job=$1 bin=$2 dir=$3 which=$4 out="$work/out" t="$work/time"
    rm -rf "$out" "$work/copy" "$work/home"
    mkdir -p "$work/home"
    case $job in
    thumbnail) set -- thumbnail "$dir" -o "$out" ;;
    recompress) set -- recompress "$dir" -o "$out" ;;
    in-place)
        cp -a "$dir" "$work/copy"
        set -- recompress --in-place --force "$work/copy"
        ;;
    freedesktop) set -- thumbnail --freedesktop "$dir" ;;
    esac
    HOME="$work/home" XDG_CACHE_HOME="$work/home/.cache" \
        /usr/bin/time -o "$t" -f "%e %U %S" "$bin" "$@" -j "$jobs" \
        >/dev/null 2>&1 || true
    awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$t" >>"$work/$job.$which"
}

# column FILE K: the median of column K.
column() {
    awk -v k="$2" '{ print $k }' "$1" | bench_median
}

printf '| corpus | job | old wall s | new wall s | wall new/old | old CPU s | new CPU s | CPU new/old |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|\n'
for name in "$@"; do
    dir=$(bench_corpus "$name")
    for job in thumbnail recompress in-place freedesktop; do
        rm -f "$work/$job.old" "$work/$job.new"
        for _ in $(seq "$rounds"); do
            once "$job" "$old" "$dir" old
            once "$job" "$new" "$dir" new
        done
        ow=$(column "$work/$job.old" 1) nw=$(column "$work/$job.new" 1)
        oc=$(column "$work/$job.old" 2) nc=$(column "$work/$job.new" 2)
        awk -v c="${name##*/}" -v j="$job" -v ow="$ow" -v nw="$nw" \
            -v oc="$oc" -v nc="$nc" 'BEGIN {
            printf "| %s | %s | %.2f | %.2f | %.3f | %.2f | %.2f | %.3f |\n",
                   c, j, ow, nw, nw / ow, oc, nc, nc / oc }'
    done
done
