#!/usr/bin/env bash
#
# library.sh - lossless JPEG optimisation: imgpool recompress --lossless
# against jpegtran -copy all -optimize -progressive and jpegoptim
# --all-progressive (both lossless, both keep every marker).
#
#   tests/bench/library.sh [IMGPOOL] [ROUNDS]
#
# The photos: 12 generated 2400x1800 Q92 4:2:0 photo-like JPEGs (blurred
# colour noise with a sine grating, written by libvips without optimised
# tables, as cameras write them) in $IMGPOOL_BENCH_CACHE/library
# (default /tmp/imgpool-bench); with LIBRARY_CORPUS=1, the JPEGs of
# ../shared/corpus/cameras first (small camera samples), topped up to 12.  Each tool runs ROUNDS (default 3) times,
# interleaved, with two processes (imgpool -j2; the others through
# xargs -P2); prints the total bytes of each tool's outputs against the
# originals and the median wall time, and the ratios to jpegtran.  A
# photo jpegoptim leaves alone (no smaller) counts with its own size.
#
# Then JPEG XL, when cjxl and djxl are installed (Debian: libjxl-tools):
# imgpool recompress -f jxl -j2 against cjxl --lossless_jpeg=1
# --num_threads=0 through xargs -P2 (both libjxl 0.7 at its default effort
# 7), the same ROUNDS; every imgpool output is first checked to give back
# its original through djxl (cmp), and the table shows bytes against the
# originals and against cjxl's (the target: within 1%) and the times.
# LOOK=1 adds the --target-distance part (below), LOOK=1 LOOK_ONLY=1 runs
# it alone.
#
# Its photos, as the issue measured on (camera-like photos saved as Q95
# 4:2:0, up to 4000 px): $IMGPOOL_BENCH_CACHE/look-photos, made once
# from the wallpapers corpus (tests/bench/corpus.sh wallpapers, built
# when missing): the 13 photographs in it (LOOK_PHOTOS below: not the
# flat graphics, stripes, blurs and logos, not the icc-* copies, and of
# the three sizes of Elephants the largest, a camera's 5640x3172), each
# decoded, shrunk where its long side is over 4000 px (vips thumbnail
# --size down) and saved with vips jpegsave --Q 95 --subsample-mode on
# (4:2:0; libvips would keep full chroma at Q95 by default).
# LOOK_CORPUS=DIR takes the 12 smallest JPEGs of DIR instead (below).
set -euo pipefail

bin=${1:-build/imgpool}
rounds=${2:-3}
cache=${IMGPOOL_BENCH_CACHE:-/tmp/imgpool-bench}
corpus=$(dirname "$0")/../../../shared/corpus/cameras
src=$cache/library${LIBRARY_CORPUS:+-corpus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for t in jpegtran jpegoptim vips; do
    command -v "$t" >/dev/null || { echo "library.sh: no $t" >&2; exit 77; }
done
if [ ! -f "$src.done" ]; then
    rm -rf "$src"
    mkdir -p "$src"
    n=0
    if [ -n "${LIBRARY_CORPUS:-}" ] && [ -d "$corpus" ]; then
        for f in "$corpus"/*.jpg; do
            cp "$f" "$src/"
            n=$((n + 1))
        done
    fi
    i=0
    while [ "$n" -lt 12 ]; do
        vips gaussnoise "$work/n.v" 300 225 --sigma 60 --mean 128
        vips bandjoin "$work/n.v $work/n.v $work/n.v" "$work/c.v"
        vips resize "$work/c.v" "$work/big.v" 8 --kernel cubic
        vips sines "$work/s.v" 2400 1800 --hfreq $((i % 5 + 1)) --vfreq 3
        vips linear "$work/s.v" "$work/s2.v" 40 0
        vips add "$work/big.v" "$work/s2.v" "$work/sum.v"
        vips cast "$work/sum.v" "$work/u.v" uchar
        vips copy "$work/u.v" "$work/rgb.v" --interpretation srgb
        vips jpegsave "$work/rgb.v" "$src/gen$i.jpg" --Q 92 \
            --subsample-mode on
        rm -f "$work"/*.v
        i=$((i + 1))
        n=$((n + 1))
    done
    touch "$src.done"
fi

orig=$(cat "$src"/*.jpg | wc -c)
nfiles=$(ls "$src"/*.jpg | wc -l)

# imgpool_into NAME DIR ARGS...: imgpool recompress ARGS of the photos in
# DIR into $work/NAME, -j2, from scratch.
imgpool_into() {
    local name=$1 dir=$2
    shift 2
    rm -rf "$work/$name"
    "$bin" recompress "$@" -j 2 --no-incremental -o "$work/$name" \
        "$dir" >/dev/null 2>&1
}
run_imgpool() { imgpool_into imgpool "$src" --lossless; }
run_jpegtran() {
    rm -rf "$work/jpegtran"
    mkdir -p "$work/jpegtran"
    ls "$src"/*.jpg | xargs -P2 -I{} sh -c \
        'jpegtran -copy all -optimize -progressive -outfile "$1/$(basename "$2")" "$2"' \
        _ "$work/jpegtran" {}
}
run_jpegoptim() {
    rm -rf "$work/jpegoptim"
    mkdir -p "$work/jpegoptim"
    ls "$src"/*.jpg | xargs -P2 -n1 jpegoptim -q --all-progressive \
        -d "$work/jpegoptim" >/dev/null
}

# time_rounds TOOL...: ROUNDS rounds of run_TOOL for each TOOL, interleaved;
# each wall time in seconds is added to times[TOOL].
declare -A times
time_rounds() {
    local r tool t0 t1
    for r in $(seq 1 "$rounds"); do
        for tool in "$@"; do
            t0=$(date +%s.%N)
            "run_$tool"
            t1=$(date +%s.%N)
            times[$tool]+="$(echo "$t1 - $t0" | bc) "
        done
    done
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# LOOK_ONLY=1 (with LOOK=1): the look-target part alone.
if [ -z "${LOOK_ONLY:-}" ]; then
time_rounds imgpool jpegtran jpegoptim


echo "photos: $nfiles, $orig bytes; $rounds rounds, median wall time"
printf '%-10s %12s %9s %9s %12s\n' tool bytes "vs orig" seconds "vs jpegtran"
jt_t=$(echo "${times[jpegtran]}" | median)
# Bytes of @1's outputs, a photo without one counted with its own size.
bytes_of() {
    local f n=0
    for f in "$src"/*.jpg; do
        if [ -f "$work/$1/$(basename "$f")" ]; then
            n=$((n + $(stat -c %s "$work/$1/$(basename "$f")")))
        else
            n=$((n + $(stat -c %s "$f")))
        fi
    done
    echo $n
}
jt_b=$(bytes_of jpegtran)
for tool in imgpool jpegtran jpegoptim; do
    b=$(bytes_of "$tool")
    t=$(echo "${times[$tool]}" | median)
    printf '%-10s %12d %8.1f%% %9.2f %6.3fx %.3fx\n' "$tool" "$b" \
        "$(echo "100 * $b / $orig" | bc -l)" "$t" \
        "$(echo "$b / $jt_b" | bc -l)" "$(echo "$t / $jt_t" | bc -l)"
done
fi

# ---- --target-distance 1.0 (LOOK=1) ----
# The photos of look-photos (above), or with LOOK_CORPUS=DIR the 12
# smallest JPEGs of DIR that recompress does not skip (a trailer:
# has-trailer) and that carry no ICC profile of their own making (the
# icc-* copies: butteraugli_main compares the stored values and ignores
# the profile, so a correctly converted output of an Adobe RGB photo
# reads 3.0): recompress --target-distance 1.0 against -q Q for each Q
# of LOOK_QS (default 70 75 80 85 90), bytes and the mean
# butteraugli_main 3-norm of each, and the wall and CPU (user + sys)
# time of the look run against plain recompress -q 90 (both -j2, median
# of ROUNDS).  Then the best one -q of LOOK_QS a photo can do within
# 1.0 (each photo at the lowest whose output butteraugli_main puts within
# 1.0) and the single -q of its mean; last, one line a photo: the look
# run's quality, its record's distance (measured on the sample) and
# butteraugli_main's on the whole output.
LOOK_PHOTOS="Aqua Blinds Dune Elephants_5640x3172 FreshFlower Garden
    GreenMeadow LadyBird RainDrops Storm TwoWings Wood YellowFlower"
look_photos() {
    local dir=$cache/look-photos f
    [ -f "$dir.done" ] && return
    [ -f "$cache/wallpapers.done" ] ||
        "$(dirname "$0")/corpus.sh" -c "$cache" wallpapers >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    for f in $LOOK_PHOTOS; do
        vips thumbnail "$cache/wallpapers/$f.jpg" "$work/p.v" 4000 \
            --size down
        vips jpegsave "$work/p.v" "$dir/$f.jpg" --Q 95 --subsample-mode on
        rm -f "$work/p.v"
    done
    touch "$dir.done"
}
if [ -n "${LOOK:-}" ]; then
    command -v butteraugli_main >/dev/null || {
        echo "library.sh: no butteraugli_main" >&2; exit 77; }
    if [ -z "${LOOK_CORPUS:-}" ]; then
        look_photos
        lsrc=$cache/look-photos
    else
        lsrc=$work/look-src
        mkdir -p "$lsrc" "$work/look-all"
        for f in "$LOOK_CORPUS"/*.jpg; do
            case $(basename "$f") in
            icc-*) ;;
            *) cp "$f" "$work/look-all/" ;;
            esac
        done
        "$bin" recompress -q 90 --no-incremental -j 2 -o "$work/look-probe" \
            "$work/look-all" >/dev/null 2>&1 || true
        n=0
        for f in $(ls -S -r "$work/look-all"/*.jpg); do
            if [ "$n" -lt 12 ] &&
                [ -f "$work/look-probe/$(basename "$f")" ]; then
                cp "$f" "$lsrc/"
                n=$((n + 1))
            fi
        done
    fi
    lorig=$(cat "$lsrc"/*.jpg | wc -c)
    # mean_ba DIR [Q]: the mean 3-norm of DIR's outputs and how many are
    # over 1; with Q, each photo's "Q name bytes 3-norm" kept in perphoto.
    : >"$work/perphoto"
    mean_ba() {
        local f n v
        for f in "$lsrc"/*.jpg; do
            n=$(basename "$f")
            v=$(butteraugli_main "$f" "$1/$n" | sed -n 's/3-norm: //p')
            [ -z "${2:-}" ] ||
                echo "$2 $n $(stat -c %s "$1/$n") $v" >>"$work/perphoto"
            echo "$v"
        done | awk '{s += $1; if ($1 > 1) o++} END {printf "%.3f %d", s / NR, o}'
    }
    look_run() {
        imgpool_into "$1" "$lsrc" "${@:2}" --report "$work/$1.jsonl"
    }
    declare -A lt lc
    TIMEFORMAT='%R %U %S'
    for r in $(seq 1 "$rounds"); do
        for v in look q90; do
            if [ $v = look ]; then
                { time look_run look --target-distance 1.0; } 2>"$work/t"
            else
                { time look_run q90 -q 90; } 2>"$work/t"
            fi
            read -r tw tu ts <"$work/t"
            lt[$v]+="$tw "
            lc[$v]+="$(echo "$tu + $ts" | bc) "
        done
    done
    lmp=$(for f in "$lsrc"/*.jpg; do vipsheader -f width "$f"
        vipsheader -f height "$f"; done | paste - - |
        awk '{s += $1 * $2} END {printf "%.1f", s / 1e6}')
    echo "look: $(ls "$lsrc"/*.jpg | wc -l) photos, $lmp MP, $lorig bytes"
    printf '%-22s %12s %9s %9s %8s\n' run bytes "vs orig" "mean ba" "over 1"
    b=$(cat "$work"/look/*.jpg | wc -c)
    b_look=$b
    lba=$(mean_ba "$work/look")
    lmean=${lba%% *}
    printf '%-22s %12d %8.1f%% %9s %8s\n' "--target-distance 1.0" "$b" \
        "$(echo "100 * $b / $lorig" | bc -l)" $lba
    : >"$work/qcurve"
    for q in ${LOOK_QS:-70 75 80 85 90}; do
        look_run "q$q" -q "$q"
        b=$(cat "$work/q$q"/*.jpg | wc -c)
        m=$(mean_ba "$work/q$q" "$q")
        printf '%-22s %12d %8.1f%% %9s %8s\n' "-q $q" "$b" \
            "$(echo "100 * $b / $lorig" | bc -l)" $m
        echo "$q $b $m" >>"$work/qcurve"
    done
    # eq_mean M BYTES WHAT: the single -q of mean distance M, its bytes
    # interpolated between the two -q runs whose means bracket M, against
    # BYTES.
    eq_mean() {
        awk -v m="$1" -v lb="$2" -v what="$3" '
        { q[NR] = $1; b[NR] = $2; d[NR] = $3 }
        END {
            for (i = 1; i < NR; i++)
                if ((d[i] - m) * (d[i + 1] - m) <= 0 && d[i] != d[i + 1]) {
                    t = (m - d[i]) / (d[i + 1] - d[i])
                    e = b[i] + t * (b[i + 1] - b[i])
                    printf "equal mean (%.3f): -q %.1f, %d bytes; %s %+.1f%%\n",
                        m, q[i] + t * (q[i + 1] - q[i]), e, what,
                        100 * (lb / e - 1)
                    exit
                }
            print "equal mean: no two -q runs bracket " m
        }' "$work/qcurve"
    }
    eq_mean "$lmean" "$b_look" "the look run"
    # The best any choice of one -q of LOOK_QS per photo within 1.0 can
    # do: each photo at the lowest within (by butteraugli_main on the
    # whole output), one never within at the highest.
    read -r hb hm ho < <(sort -k1,1n "$work/perphoto" | awk '
        !ok[$2] { b[$2] = $3; d[$2] = $4; ok[$2] = $4 <= 1 }
        END {
            for (n in b) { tb += b[n]; td += d[n]; np++; if (!ok[n]) o++ }
            printf "%d %.3f %d\n", tb, td / np, o
        }')
    printf '%-22s %12d %8.1f%% %9s %8s\n' "lowest -q within 1.0" "$hb" \
        "$(echo "100 * $hb / $lorig" | bc -l)" "$hm" "$ho"
    eq_mean "$hm" "$hb" "per photo lowest -q within 1.0"
    tl=$(echo "${lt[look]}" | median)
    tq=$(echo "${lt[q90]}" | median)
    printf 'wall time: look %.2f s, -q 90 %.2f s, ratio %.2fx\n' "$tl" "$tq" \
        "$(echo "$tl / $tq" | bc -l)"
    cl=$(echo "${lc[look]}" | median)
    cq=$(echo "${lc[q90]}" | median)
    printf 'CPU time: look %.2f s, -q 90 %.2f s, ratio %.2fx\n' "$cl" "$cq" \
        "$(echo "$cl / $cq" | bc -l)"
    printf '%-24s %8s %8s %8s %8s %8s\n' photo bytes quality record whole \
        ratio
    for f in "$lsrc"/*.jpg; do
        n=$(basename "$f")
        jq -r --arg p "$f" 'select(.path == $p) |
            "\(.out_bytes) \(.look.quality) \(.look.distance)"' \
            "$work/look.jsonl" | {
            read -r ob lq ld
            w=$(butteraugli_main "$f" "$work/look/$n" | sed -n 's/3-norm: //p')
            printf '%-24s %8d %8d %8.3f %8.3f %8.3f\n' "$n" "$ob" "$lq" \
                "$ld" "$w" "$(echo "$w / $ld" | bc -l)"
        }
    done
fi
[ -z "${LOOK_ONLY:-}" ] || exit 0
command -v cjxl >/dev/null && command -v djxl >/dev/null || {
    echo "library.sh: no cjxl/djxl: JPEG XL part skipped" >&2
    exit 0
}
run_imgpool_jxl() { imgpool_into imgpool_jxl "$src" -f jxl; }
run_cjxl() {
    rm -rf "$work/cjxl"
    mkdir -p "$work/cjxl"
    ls "$src"/*.jpg | xargs -P2 -I{} sh -c \
        'cjxl --lossless_jpeg=1 --num_threads=0 "$2" "$1/$(basename "$2" .jpg).jxl" >/dev/null 2>&1' \
        _ "$work/cjxl" {}
}
time_rounds imgpool_jxl cjxl
for f in "$src"/*.jpg; do
    j="$work/imgpool_jxl/$(basename "$f" .jpg).jxl"
    djxl "$j" "$work/back.jpg" >/dev/null 2>&1
    cmp -s "$work/back.jpg" "$f" || {
        echo "library.sh: $j does not give back $f" >&2; exit 1; }
done
jxl_bytes() {
    local f n=0
    for f in "$src"/*.jpg; do
        n=$((n + $(stat -c %s "$work/$1/$(basename "$f" .jpg).jxl")))
    done
    echo $n
}
echo
echo "JPEG XL (lossless transcode, every imgpool output rebuilt by djxl: identical)"
printf '%-12s %12s %9s %9s %9s %9s\n' tool bytes "vs orig" "vs cjxl" seconds \
    "vs cjxl"
cj_b=$(jxl_bytes cjxl)
cj_t=$(echo "${times[cjxl]}" | median)
for tool in imgpool_jxl cjxl; do
    b=$(jxl_bytes "$tool")
    t=$(echo "${times[$tool]}" | median)
    printf '%-12s %12d %8.1f%% %8.2f%% %9.2f %8.3fx\n' "$tool" "$b" \
        "$(echo "100 * $b / $orig" | bc -l)" \
        "$(echo "100 * $b / $cj_b" | bc -l)" "$t" "$(echo "$t / $cj_t" | bc -l)"
done
