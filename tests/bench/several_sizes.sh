#!/usr/bin/env bash
#
# several_sizes.sh - what several sizes from one decode cost against one size.
#
#   tests/bench/several_sizes.sh [-j N] [-r R] [-c CACHE] [-O OUTROOT]
#                        [-S "150 300 1024"] [CORPUS]
#
# Runs $IMGPOOL (default build/imgpool) thumbnail on CORPUS (a name under
# CACHE made by corpus.sh, or a directory; default wallpapers) three ways,
# round-robin R times (-r, default 5), medians shown:
#   one    -s LARGEST                     (one size, one run)
#   many   -s S1 -s S2 ... -s LARGEST     (every size, one run, one decode)
#   apart  one run per size, one after the other (what it took before -s
#          was repeatable: a decode of every file per size)
# The target is many / one at most 1.4.  Every run starts from an empty
# output directory; the output count is checked after the last round (N
# files for one, N x sizes for many and apart).  Needs a build whose -s is
# repeatable: it stops when `thumbnail -s A -s B` makes one output.

set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
jobs=2
rounds=5
outroot=
sizes="150 300 1024"

usage() { bench_usage 5,6; }
die() { bench_die "$@"; }

while getopts "j:r:c:O:S:h" opt; do
    case $opt in
    j) jobs=$OPTARG ;;
    r) rounds=$OPTARG ;;
    c) cache=$OPTARG ;;
    O) outroot=$OPTARG ;;
    S) sizes=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
corpus=${1:-wallpapers}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage
dir=$(bench_corpus "$corpus")
[ -x "$imgpool" ] || die "imgpool not found at $imgpool (set IMGPOOL)"
outroot=${outroot:-$cache/out-sizes}
mkdir -p "$outroot"

read -r -a sz <<<"$sizes"
[ ${#sz[@]} -ge 2 ] || die "-S needs at least two sizes"
largest=${sz[-1]}
many_args=()
for s in "${sz[@]}"; do many_args+=(-s "$s"); done

# Probe: one file, two sizes, two outputs?  (Builds before repeatable -s
# keep the last size silently.)
rm -rf "$outroot/probe" "$outroot/probe-in"
mkdir -p "$outroot/probe-in"
cp "$(find "$dir" -type f ! -name '.*' | sort | head -n 1)" "$outroot/probe-in/"
"$imgpool" thumbnail "$outroot/probe-in" -o "$outroot/probe" -s 150 -s 300 \
    >"$outroot/probe.log" 2>&1 || true
[ "$(find "$outroot/probe" -type f ! -path '*/.imgpool*' 2>/dev/null |
    wc -l)" -ge 2 ] ||
    die "$imgpool made one output for -s 150 -s 300: no several-sizes support in this build (see $outroot/probe.log)"

n=$(find "$dir" -type f ! -name '.*' | wc -l)

# timed OUT ARGS...: run once, print "wall cpu".
timed() {
    local out=$1 tf=$outroot/time.out
    shift
    rm -rf "$out"
    /usr/bin/time -f '%e %U %S' -o "$tf" "$imgpool" thumbnail "$dir" \
        -o "$out" -j "$jobs" "$@" >"$out.log" 2>&1 ||
        echo "several_sizes.sh: warning: $* exited $? (see $out.log)" >&2
    read -r e u s < <(tail -n 1 "$tf")
    echo "$e $(echo "$u + $s" | bc)"
}

declare -A wall=() cpu=()
for ((r = 1; r <= rounds; r++)); do
    read -r w c < <(timed "$outroot/one" -s "$largest")
    wall[one]+="$w "
    cpu[one]+="$c "
    read -r w c < <(timed "$outroot/many" "${many_args[@]}")
    wall[many]+="$w "
    cpu[many]+="$c "
    tw=0
    tc=0
    for s in "${sz[@]}"; do
        read -r w c < <(timed "$outroot/apart-$s" -s "$s")
        tw=$(echo "$tw + $w" | bc)
        tc=$(echo "$tc + $c" | bc)
    done
    wall[apart]+="$tw "
    cpu[apart]+="$tc "
    echo "several_sizes.sh: round $r/$rounds: walls $(echo "${wall[one]}" |
        awk '{print $NF}') (one) $(echo "${wall[many]}" | awk '{print $NF}') (many) $tw (apart)" >&2
done

count() { find "$1" -type f ! -path '*/.imgpool*' ! -name '.*' | wc -l; }
outs_one=$(count "$outroot/one")
outs_many=$(count "$outroot/many")
outs_apart=0
for s in "${sz[@]}"; do outs_apart=$((outs_apart + $(count "$outroot/apart-$s"))); done

w1=$(echo "${wall[one]}" | tr ' ' '\n' | grep . | bench_median)
c1=$(echo "${cpu[one]}" | tr ' ' '\n' | grep . | bench_median)
echo "## several sizes: $(basename "$dir"), $n files, -j $jobs, median of $rounds"
echo
echo "- imgpool: $imgpool, $("$imgpool" --version 2>&1 | head -n 1)"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | wall s | CPU s | wall / one size | CPU / one size | outputs |"
echo "|---|---:|---:|---:|---:|---:|"
for k in one many apart; do
    w=$(echo "${wall[$k]}" | tr ' ' '\n' | grep . | bench_median)
    c=$(echo "${cpu[$k]}" | tr ' ' '\n' | grep . | bench_median)
    case $k in
    one) what="-s $largest"; o=$outs_one; want=$n ;;
    many) what="${many_args[*]} (one run)"; o=$outs_many; want=$((n * ${#sz[@]})) ;;
    apart) what="one run per size (${sz[*]})"; o=$outs_apart; want=$((n * ${#sz[@]})) ;;
    esac
    [ "$o" -eq "$want" ] || o="**$o/$want**"
    printf '| %s | %.2f | %.2f | %.2f | %.2f | %s |\n' "$what" "$w" "$c" \
        "$(echo "$w / $w1" | bc -l)" "$(echo "$c / $c1" | bc -l)" "$o"
done
echo
