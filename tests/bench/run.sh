#!/usr/bin/env bash
#
# run.sh - time imgpool against the usual ways of making thumbnails.
#
#   tests/bench/run.sh [-j N] [-r R] [-c CACHE] [-O OUTROOT] [-t TOOL,...]
#                      [CORPUS...]
#
# Every tool gets the same files, the same number of processes (-j, default
# 2) and the same job: fit inside 300x300, JPEG quality 90, 4:2:0 chroma,
# metadata stripped.  Each tool runs R times (-r, default 3), round-robin so
# that a slow patch of a noisy machine hits every tool alike; the table shows
# medians.  Before the timed rounds the files are read once (page cache) and
# each tool runs once on two files (its libraries into memory), untimed.
#
# CORPUS is a name under CACHE made by corpus.sh (wallpapers, small,
# wallpapers-webp) or a directory of images; default: wallpapers small.
# Outputs go to OUTROOT/CORPUS/TOOL (default CACHE/out), emptied before each
# run; the last run's outputs and logs are kept for inspection.
#
# Tools (-t, default all):
#   imgpool       $IMGPOOL (default build/imgpool) thumbnail DIR -o OUT -j N
#   imgpool-prev  the same with $IMGPOOL_PREV, an earlier build (a release,
#                 or main before a change): "no slowdown" is shown in the
#                 same rounds, on the same files.  Not in the default list.
#                 $IMGPOOL_LABEL and $IMGPOOL_PREV_LABEL name the two rows
#                 in the table (say, "colour branch" and "main").
#   vips-each     vipsthumbnail, one process per file, under parallel -jN
#   vips-batch    vipsthumbnail, N processes with many files each (parallel -X)
#   magick        ImageMagick mogrify with -define jpeg:size=600x600 (parallel
#                 -X).  ImageMagick 6.9.11 honours that hint by *upscaling*
#                 the decode of any JPEG smaller than 600x600 (640x480 is
#                 decoded at 1280x960), which makes it slow on small files:
#   magick-nohint the same without the hint
#   pillow        multiprocessing.Pool(N) + Pillow, the classic way
#   pillow-draft  the same with Image.draft() at the thumbnail size
#   floor         decode_floor.c: decode only, nothing resized or written
#   sharp         sharp_pool.js: Node.js + sharp (its own libvips), N
#                 processes of one thread, files handed out a few at a time.
#                 sharp is loaded from $SHARP_DIR (default CACHE/node, where
#                 `setup.sh --sharp` puts it); without node or sharp the row
#                 is skipped with a message.  Not in the default list.
#
# Every process runs one thread: VIPS_CONCURRENCY=1, MAGICK_THREAD_LIMIT=1,
# sharp.concurrency(1); imgpool sets its own workers' libvips concurrency.
#
# Wall and CPU (user + sys of the whole process tree) come from GNU time.
# Its %M is the peak RSS of the single largest process, not a sum.  If
# imgpool is missing or does not run, its row is skipped and the ratios are
# relative to the fastest tool other than the floor.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${IMGPOOL_BENCH_CACHE:-/tmp/imgpool-bench}
outroot=
jobs=2
rounds=3
tools=imgpool,vips-each,vips-batch,magick,magick-nohint,pillow,pillow-draft,floor
imgpool=${IMGPOOL:-$repo/build/imgpool}
imgpool_prev=${IMGPOOL_PREV:-}
node=${NODE:-node}
pil_python=${PIL_PYTHON:-/usr/bin/python3}
box=300x300

usage() {
    sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# *//; 1s/^/usage: /' >&2
    exit 2
}

while getopts "j:r:c:O:t:h" opt; do
    case $opt in
    j) jobs=$OPTARG ;;
    r) rounds=$OPTARG ;;
    c) cache=$OPTARG ;;
    O) outroot=$OPTARG ;;
    t) tools=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
corpora=("$@")
[ ${#corpora[@]} -gt 0 ] || corpora=(wallpapers small)
[[ $jobs =~ ^[1-9][0-9]*$ ]] || usage
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage
outroot=${outroot:-$cache/out}
export SHARP_DIR=${SHARP_DIR:-$cache/node}
IFS=, read -r -a tools <<<"$tools"

warn() { echo "run.sh: warning: $*" >&2; }
note() { echo "run.sh: $*" >&2; }
die() {
    echo "run.sh: $*" >&2
    exit 2
}

# --- tools ----------------------------------------------------------------

# need COMMAND PACKAGE: fail with the package to install when COMMAND is
# missing.  setup.sh installs all of them.
missing=()
need() {
    command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install $2)")
}
has_tool() {
    local t
    for t in "${tools[@]}"; do [ "$t" = "$1" ] && return 0; done
    return 1
}

need /usr/bin/time time
need cc gcc
if has_tool vips-each || has_tool vips-batch || has_tool magick ||
    has_tool magick-nohint; then
    need parallel parallel
fi
if has_tool vips-each || has_tool vips-batch; then
    need vipsthumbnail libvips-tools
fi
if has_tool magick || has_tool magick-nohint; then
    need mogrify imagemagick
fi
if has_tool pillow || has_tool pillow-draft; then
    "$pil_python" -c 'import PIL' 2>/dev/null ||
        missing+=("Pillow for $pil_python (apt-get install python3-pil)")
fi
# The checks of the outputs read them with Pillow too.
"$pil_python" -c 'import PIL' 2>/dev/null ||
    missing+=("Pillow for $pil_python (apt-get install python3-pil)")
if has_tool floor; then
    [ -e /usr/include/turbojpeg.h ] ||
        missing+=("turbojpeg.h (apt-get install libturbojpeg0-dev)")
    [ -e /usr/include/png.h ] || missing+=("png.h (apt-get install libpng-dev)")
fi
if [ ${#missing[@]} -gt 0 ]; then
    printf 'run.sh: missing: %s\n' "${missing[@]}" >&2
    die "install the packages above, or run tests/bench/setup.sh"
fi

mkdir -p "$outroot"
outroot=$(cd "$outroot" && pwd)
work=$outroot/.work
mkdir -p "$work"

if has_tool floor; then
    cc -O2 -std=gnu11 -Wall -Wextra -o "$work/decode_floor" \
        "$here/decode_floor.c" -lturbojpeg -lpng ||
        die "cannot build decode_floor.c"
fi

# imgpool counts as usable when it runs on the repository's testdata and
# exits 0 (all files done) or 1 (some files failed).
imgpool_note=
if has_tool imgpool; then
    if [ ! -x "$imgpool" ]; then
        imgpool_note="imgpool not found at $imgpool"
    else
        rm -rf "$work/probe"
        set +e
        timeout 120 "$imgpool" thumbnail "$repo/testdata" -o "$work/probe" \
            >"$work/probe.log" 2>&1
        rc=$?
        set -e
        [ $rc -le 1 ] ||
            imgpool_note="imgpool on testdata exited $rc (see $work/probe.log)"
    fi
    if [ -n "$imgpool_note" ]; then
        warn "$imgpool_note: skipping the imgpool row"
        t2=()
        for t in "${tools[@]}"; do [ "$t" = imgpool ] || t2+=("$t"); done
        tools=("${t2[@]}")
    fi
fi
# sharp counts as usable when node loads it from $SHARP_DIR.
sharp_note=
if has_tool sharp; then
    if ! command -v "$node" >/dev/null 2>&1; then
        sharp_note="node not found (apt-get install nodejs npm)"
    elif ! sharp_ver=$("$node" -e '
const { createRequire } = require("module");
const s = createRequire(process.env.SHARP_DIR + "/package.json")("sharp");
console.log(`sharp ${s.versions.sharp} (libvips ${s.versions.vips})`);' 2>/dev/null); then
        sharp_note="sharp not installed in $SHARP_DIR (tests/bench/setup.sh --sharp)"
    fi
    if [ -n "$sharp_note" ]; then
        warn "$sharp_note: skipping the sharp row"
        t2=()
        for t in "${tools[@]}"; do [ "$t" = sharp ] || t2+=("$t"); done
        tools=("${t2[@]}")
    fi
fi
[ ${#tools[@]} -gt 0 ] || die "no tool to run"

# tool_cmd TOOL OUT LIST DIR: set the array cmd to the command line that
# runs TOOL on the files in LIST (DIR for imgpool) with outputs in OUT.
cmd=()
tool_cmd() {
    local t=$1 out=$2 list=$3 dir=$4
    local -a files
    case $t in
    imgpool)
        cmd=("$imgpool" thumbnail "$dir" -o "$out" -j "$jobs")
        ;;
    imgpool-prev)
        [ -x "$imgpool_prev" ] || die "imgpool-prev needs IMGPOOL_PREV=BINARY"
        cmd=("$imgpool_prev" thumbnail "$dir" -o "$out" -j "$jobs")
        ;;
    vips-each)
        cmd=(env VIPS_CONCURRENCY=1 parallel -j"$jobs" -q vipsthumbnail
            --size "$box" -o "$out/%s.jpg[Q=90,strip,subsample-mode=on]"
            {} :::: "$list")
        ;;
    vips-batch)
        cmd=(env VIPS_CONCURRENCY=1 parallel -X -j"$jobs" -q vipsthumbnail
            --size "$box" -o "$out/%s.jpg[Q=90,strip,subsample-mode=on]"
            {} :::: "$list")
        ;;
    magick | magick-nohint)
        cmd=(env MAGICK_THREAD_LIMIT=1 parallel -X -j"$jobs" -q mogrify)
        [ "$t" = magick-nohint ] || cmd+=(-define jpeg:size=600x600)
        cmd+=(-thumbnail "$box" -quality 90 -sampling-factor 2x2 -strip
            -format jpg -path "$out" {} :::: "$list")
        ;;
    pillow | pillow-draft)
        mapfile -t files <"$list"
        cmd=("$pil_python" "$here/pillow_pool.py" -j "$jobs" -s "$box")
        [ "$t" = pillow ] || cmd+=(--draft)
        cmd+=("$out" "${files[@]}")
        ;;
    floor)
        mapfile -t files <"$list"
        cmd=("$work/decode_floor" -j "$jobs" -s "$box" "${files[@]}")
        ;;
    sharp)
        mapfile -t files <"$list"
        cmd=("$node" "$here/sharp_pool.js" -j "$jobs" -s "$box" -q 90
            "$out" "${files[@]}")
        ;;
    *) die "unknown tool '$t'" ;;
    esac
}

# Labels for the table.
declare -A label=(
    [imgpool]="${IMGPOOL_LABEL:-imgpool} thumbnail -j$jobs"
    [imgpool-prev]="${IMGPOOL_PREV_LABEL:-earlier imgpool (\$IMGPOOL_PREV)} thumbnail -j$jobs"
    [vips-each]="vipsthumbnail, 1 process per file (parallel -j$jobs)"
    [vips-batch]="vipsthumbnail batched (parallel -X -j$jobs)"
    [magick]="ImageMagick mogrify, jpeg:size=600x600 (parallel -X -j$jobs)"
    [magick-nohint]="ImageMagick mogrify, no size hint (parallel -X -j$jobs)"
    [pillow]="Pool($jobs) + Pillow, classic (convert, thumbnail)"
    [pillow-draft]="Pool($jobs) + Pillow with draft()"
    [floor]="decode-only floor ($jobs processes)"
    [sharp]="sharp, $jobs processes x 1 thread"
)

# median of the numbers on stdin
median() {
    sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- machine --------------------------------------------------------------

pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
echo "## Machine"
echo
echo "- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "- kernel: $(uname -r); Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
echo "- libvips42 $(pkgver libvips42), libjpeg62-turbo $(pkgver libjpeg62-turbo), libturbojpeg0 $(pkgver libturbojpeg0), libpng16-16 $(pkgver libpng16-16)"
echo "- python3-pil $(pkgver python3-pil) ($("$pil_python" --version 2>&1)), imagemagick $(pkgver imagemagick), parallel $(pkgver parallel)"
if [ -n "$imgpool_note" ]; then
    echo "- imgpool: $imgpool_note"
elif has_tool imgpool; then
    if [ "$imgpool" -ef "$repo/build/imgpool" ]; then
        echo "- imgpool: $imgpool, $("$imgpool" --version 2>&1 | head -n 1); repository HEAD $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
    else
        echo "- imgpool: $imgpool, $("$imgpool" --version 2>&1 | head -n 1) (built outside this tree: its commit is not known here)"
    fi
fi
if has_tool imgpool-prev; then
    echo "- imgpool-prev: $imgpool_prev, $("$imgpool_prev" --version 2>&1 | head -n 1)"
fi
if [ -n "$sharp_note" ]; then
    echo "- sharp: $sharp_note"
elif has_tool sharp; then
    echo "- $sharp_ver on Node.js $("$node" --version)"
fi
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- workers: $jobs, rounds: $rounds (median shown), outputs on $(df -T "$outroot" | awk 'NR == 2 {print $2}')"
echo

# --- one corpus -----------------------------------------------------------

bench_corpus() {
    local name=$1 dir
    if [ -d "$1" ]; then
        dir=$(cd "$1" && pwd)
        name=$(basename "$dir")
    else
        dir=$cache/$1
        [ -d "$dir" ] ||
            die "no corpus '$1' in $cache (run tests/bench/corpus.sh $1)"
    fi
    local list=$work/$name.files
    find "$dir" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o \
        -iname '*.png' -o -iname '*.webp' -o -iname '*.tif' -o \
        -iname '*.tiff' -o -iname '*.gif' \) ! -name '.*' | sort >"$list"
    local n
    n=$(wc -l <"$list")
    [ "$n" -gt 0 ] || die "no images in $dir"
    local others
    others=$(find "$dir" -type f | wc -l)
    [ "$others" -eq "$n" ] ||
        warn "$dir holds $((others - n)) files that are not images; imgpool sees them, the others do not"
    local mp
    mp=$(tr '\n' '\0' <"$list" | xargs -0 "$pil_python" -c '
import sys
from PIL import Image
s = 0
for f in sys.argv[1:]:
    with Image.open(f) as im:
        s += im.size[0] * im.size[1]
print(f"{s / 1e6:.1f}")')
    note "corpus $name: $n files, $mp MP"

    # Warm-up: the files into the page cache, each tool's code into memory.
    tr '\n' '\0' <"$list" | xargs -0 cat >/dev/null
    head -n 2 "$list" >"$work/warm.files"
    local t out
    for t in "${tools[@]}"; do
        out=$work/warm-$t
        rm -rf "$out" "$work/warm-dir"
        mkdir -p "$out" "$work/warm-dir"
        while read -r f; do cp "$f" "$work/warm-dir/"; done <"$work/warm.files"
        tool_cmd "$t" "$out" "$work/warm.files" "$work/warm-dir"
        "${cmd[@]}" >/dev/null 2>&1 || true
    done

    local r rc tf logdir=$outroot/$name/logs
    mkdir -p "$logdir"
    declare -A walls=() cpus=() rsss=() fails=()
    for ((r = 1; r <= rounds; r++)); do
        for t in "${tools[@]}"; do
            out=$outroot/$name/$t
            rm -rf "$out"
            mkdir -p "$out"
            tool_cmd "$t" "$out" "$list" "$dir"
            tf=$work/time.out
            set +e
            /usr/bin/time -f '%e %U %S %M' -o "$tf" "${cmd[@]}" \
                >"$logdir/$t.log" 2>&1
            rc=$?
            set -e
            # GNU time puts "Command exited with non-zero status" first.
            read -r e u s m < <(tail -n 1 "$tf")
            walls[$t]+="$e "
            cpus[$t]+="$(echo "$u + $s" | bc) "
            rsss[$t]+="$m "
            if [ $rc -ne 0 ]; then
                fails[$t]=$rc
                warn "$name/$t: round $r exited $rc (see $logdir/$t.log)"
            fi
            note "$name round $r/$rounds: $t ${e}s wall"
        done
    done

    # Check the last round's outputs: count, size, chroma subsampling.
    local -A checks=()
    for t in "${tools[@]}"; do
        [ "$t" = floor ] && continue
        checks[$t]=$("$pil_python" - "$outroot/$name/$t" "$box" <<'PY'
import os
import sys
from PIL import Image, JpegImagePlugin

root, box = sys.argv[1], [int(v) for v in sys.argv[2].split("x")]
n = bad = big = size = 0
chroma = set()
names = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
for dirpath, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if not d.startswith(".")]  # imgpool's state
    for f in files:
        if f.startswith("."):
            continue
        p = os.path.join(dirpath, f)
        n += 1
        size += os.path.getsize(p)
        try:
            with Image.open(p) as im:
                if im.format != "JPEG":
                    bad += 1
                    continue
                if im.size[0] > box[0] or im.size[1] > box[1]:
                    big += 1
                chroma.add(names.get(JpegImagePlugin.get_sampling(im), "?")
                           if im.mode != "L" else "grey")
        except Exception:
            bad += 1
print(n, bad, big, f"{size / max(n, 1) / 1024:.1f}", "/".join(sorted(chroma)) or "-")
PY
)
    done

    # Reference for the ratios.
    local ref=imgpool ref_note
    if [ -z "${walls[imgpool]:-}" ]; then
        ref=
        local best=
        for t in "${tools[@]}"; do
            [ "$t" = floor ] && continue
            local w
            w=$(echo "${walls[$t]}" | tr ' ' '\n' | grep . | median)
            if [ -z "$best" ] || (($(echo "$w < $best" | bc))); then
                best=$w
                ref=$t
            fi
        done
        ref_note="imgpool not measured (${imgpool_note:-not selected}): ratios are relative to the fastest other tool, ${ref:-none}."
    else
        ref_note="Ratios are relative to imgpool (below 1 is faster than imgpool)."
    fi
    local ref_wall=1 ref_cpu=1
    if [ -n "$ref" ]; then
        ref_wall=$(echo "${walls[$ref]}" | tr ' ' '\n' | grep . | median)
        ref_cpu=$(echo "${cpus[$ref]}" | tr ' ' '\n' | grep . | median)
    fi

    echo "## $name: $n files, $mp MP, -j $jobs, median of $rounds"
    echo
    echo "| tool | wall s | wall range s | CPU s (user+sys) | peak RSS of largest process, MiB | wall / ${ref:-ref} | CPU / ${ref:-ref} | outputs | avg KiB | chroma |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    local wmed cmed mmed range outs kib chroma
    for t in "${tools[@]}"; do
        wmed=$(echo "${walls[$t]}" | tr ' ' '\n' | grep . | median)
        cmed=$(echo "${cpus[$t]}" | tr ' ' '\n' | grep . | median)
        mmed=$(echo "${rsss[$t]}" | tr ' ' '\n' | grep . | median)
        range=$(echo "${walls[$t]}" | tr ' ' '\n' | grep . | sort -g |
            sed -n '1p;$p' | paste -sd- -)
        if [ "$t" = floor ]; then
            outs="(none)"
            kib="-"
            chroma="-"
        else
            read -r cnt bad big kib chroma <<<"${checks[$t]}"
            outs="$cnt/$n"
            if [ "$cnt" -ne "$n" ]; then
                warn "$name/$t: $cnt outputs for $n inputs"
                outs="**$cnt/$n**"
            fi
            [ "$bad" -eq 0 ] || warn "$name/$t: $bad outputs are not readable JPEGs"
            [ "$big" -eq 0 ] || warn "$name/$t: $big outputs are larger than $box"
        fi
        [ -z "${fails[$t]:-}" ] || outs="$outs, exit ${fails[$t]}"
        printf '| %s | %.2f | %s | %.2f | %.0f | %.2f | %.2f | %s | %s | %s |\n' \
            "${label[$t]}" "$wmed" "$range" "$cmed" "$(echo "$mmed / 1024" | bc -l)" \
            "$(echo "$wmed / $ref_wall" | bc -l)" "$(echo "$cmed / $ref_cpu" | bc -l)" \
            "$outs" "$kib" "$chroma"
    done
    echo
    echo "$ref_note"
    echo
}

for c in "${corpora[@]}"; do
    bench_corpus "$c"
done
