# common.sh - what the benchmark scripts share; sourced, not run:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
#
# Sets the defaults every script starts from: here (tests/bench), repo (the
# checkout), cache ($IMGPOOL_BENCH_CACHE, default /tmp/imgpool-bench, where
# corpus.sh builds the corpora) and imgpool ($IMGPOOL, default
# build/imgpool of the checkout); the script may change them after its
# options.  Its functions report under the name of the script that sourced
# it ($0):
#   bench_usage RANGE    the header lines RANGE (sed, e.g. 5,6) of the script
#                        as its usage, on stderr; exits 2
#   bench_die MESSAGE    MESSAGE on stderr; exits 2
#   bench_corpus NAME    the absolute path of corpus NAME: a directory, else
#                        a corpus of that name under $cache; dies when there
#                        is neither
#   bench_median         the median of the numbers on stdin, one a line

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${IMGPOOL_BENCH_CACHE:-/tmp/imgpool-bench}
imgpool=${IMGPOOL:-$repo/build/imgpool}

bench_usage() {
    sed -n "$1p" "$0" | sed 's/^# *//; 1s/^/usage: /' >&2
    exit 2
}

bench_die() {
    echo "${0##*/}: $*" >&2
    exit 2
}

bench_corpus() {
    if [ -d "$1" ]; then
        (cd "$1" && pwd)
    elif [ -d "$cache/$1" ]; then
        echo "$cache/$1"
    else
        bench_die "no corpus '$1' in $cache (tests/bench/corpus.sh builds them)"
    fi
}

bench_median() {
    sort -g | awk '{v[NR] = $1} END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
