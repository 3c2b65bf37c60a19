#!/usr/bin/env bash
#
# corpus.sh - build the benchmark corpora in a cache directory.
#
#   tests/bench/corpus.sh [-c CACHE] [-f] [wallpapers] [small]
#
# wallpapers  The JPEG and PNG wallpapers shipped in Debian's
#             gnome-backgrounds and mate-backgrounds packages.  The .debs are
#             fetched with `apt-get download` and unpacked with `dpkg -x`;
#             nothing is installed.  WebP wallpapers go to a separate corpus,
#             wallpapers-webp, because the decode floor reads only JPEG and
#             PNG.  SVG and XML files are not raster images and are skipped.
# small       2,000 640x480 JPEGs (Q 86..94, 4:2:0) cropped at random offsets
#             from 60 base images: 30 synthetic ones made with vips (blurred
#             colour noise, sine gratings, text) and 30 downsized copies of the
#             wallpapers.  Pillow cuts and encodes the crops: one vips
#             process per file would spend a minute just starting up.  The
#             generator is seeded, so the corpus is the same wherever libvips
#             and Pillow are the same.
#
# Each corpus is one flat directory of images, $CACHE/NAME, and a finished
# corpus is marked by $CACHE/NAME.done; it is not rebuilt unless -f is given.
# $CACHE/CORPORA.md describes what was built.  Default CACHE:
# /tmp/imgpool-bench (or $IMGPOOL_BENCH_CACHE).

set -euo pipefail

cache=${IMGPOOL_BENCH_CACHE:-/tmp/imgpool-bench}
force=0

usage() {
    echo "usage: corpus.sh [-c CACHE] [-f] [wallpapers] [small]" >&2
    exit 2
}

while getopts "c:fh" opt; do
    case $opt in
    c) cache=$OPTARG ;;
    f) force=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(wallpapers small)

die() {
    echo "corpus.sh: $*" >&2
    exit 2
}
note() { echo "corpus.sh: $*" >&2; }

for tool in vips vipsheader parallel dpkg apt-get bc; do
    command -v "$tool" >/dev/null ||
        die "'$tool' not found (run tests/bench/setup.sh)"
done
# Debian's Pillow; the python3 first in PATH may be another one without it.
pil_python=${PIL_PYTHON:-/usr/bin/python3}
"$pil_python" -c 'import PIL' 2>/dev/null ||
    die "$pil_python cannot import PIL (apt-get install python3-pil)"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
ncpu=$(nproc)
export SHELL=/bin/bash  # parallel runs the exported shell function with it

# Megapixels and bytes of the images in directory $1, printed as "N MP BYTES".
corpus_stats() {
    local dir=$1
    local n bytes mp
    n=$(find "$dir" -type f | wc -l)
    bytes=$(find "$dir" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    # vipsheader takes many files at once: one process for the whole corpus.
    mp=$(find "$dir" -type f -print0 | sort -z |
        xargs -0 vipsheader -f width | paste - <(find "$dir" -type f -print0 |
        sort -z | xargs -0 vipsheader -f height) |
        awk '{s += $1 * $2} END {printf "%.1f", s / 1e6}')
    echo "$n $mp $bytes"
}

build_wallpapers() {
    local debs=$cache/debs root=$cache/wallpapers-src
    local out=$cache/wallpapers webp=$cache/wallpapers-webp
    if [ $force = 0 ] && [ -e "$cache/wallpapers.done" ]; then
        note "wallpapers: already built"
        return
    fi
    rm -rf "$root" "$out" "$webp" "$cache/wallpapers.done"
    mkdir -p "$debs" "$root" "$out" "$webp"
    note "wallpapers: apt-get download gnome-backgrounds mate-backgrounds"
    # apt-get download writes to the current directory.  It runs the fetch
    # as root when _apt cannot write there; the warning about that is noise.
    (cd "$debs" && rm -f ./*.deb &&
        apt-get download gnome-backgrounds mate-backgrounds 2>&1 |
        grep -v 'Download is performed unsandboxed' >&2 || true)
    local deb
    for deb in "$debs"/*.deb; do
        [ -e "$deb" ] || die "apt-get download fetched nothing (apt-get update?)"
        dpkg -x "$deb" "$root"
    done

    # Flatten into one directory.  Names are unique in these packages; if a
    # stem ever collides, the parent directory is prefixed.
    local f base stem dest
    declare -A seen=()
    local others=()
    while IFS= read -r -d '' f; do
        base=${f##*/}
        stem=${base%.*}
        case ${base,,} in
        *.jpg | *.jpeg | *.png) dest=$out ;;
        *.webp) dest=$webp ;;
        *.svg | *.svgz | *.xml | *.gz | *.md) continue ;;
        *)
            others+=("$base")
            continue
            ;;
        esac
        if [ -n "${seen[$stem]:-}" ]; then
            base="$(basename "$(dirname "$f")")-$base"
        fi
        seen[$stem]=1
        cp "$f" "$dest/$base"
    done < <(find "$root/usr/share" -type f -print0 | sort -z)
    [ ${#others[@]} -eq 0 ] || note "wallpapers: not collected: ${others[*]}"
    touch "$cache/wallpapers.done"
}

# One synthetic 1280x960 sRGB base image, $2, from seed $1.
synth_base() {
    set -e
    local i=$1 out=$2 t
    t=$(mktemp -d "$cache/tmp.XXXXXX")
    local blurs=(1.5 3 6 12 24) freqs=(0.5 1 2 4 8 16)
    local c sigma
    for c in 0 1 2; do
        sigma=${blurs[$(((i + c) % 5))]}
        vips gaussnoise "$t/n$c.v" 1280 960 --mean 128 --sigma 90 \
            --seed $((i * 3 + c + 1))
        vips gaussblur "$t/n$c.v" "$t/b$c.v" "$sigma" --precision float
    done
    vips bandjoin "$t/b0.v $t/b1.v $t/b2.v" "$t/grey.v"
    # The three noise bands all average 128, which looks grey: tint them.
    vips linear "$t/grey.v" "$t/rgb.v" \
        "0.$((5 + i % 5)) 0.$((5 + i * 7 % 5)) 0.$((5 + i * 3 % 5))" \
        "$((i * 37 % 90)) $((i * 53 % 90)) $((i * 71 % 90))"
    # A sine grating over all three bands gives edges and flat runs that
    # noise alone lacks.
    vips sines "$t/s.v" 1280 960 --hfreq "${freqs[$((i % 6))]}" \
        --vfreq "${freqs[$(((i / 6) % 6))]}"
    vips linear "$t/s.v" "$t/sl.v" $((20 + (i % 4) * 15)) 0
    vips add "$t/rgb.v" "$t/sl.v" "$t/mix.v"
    # Dark text on top: sharp edges are what JPEG finds hardest.
    vips text "$t/t.v" "imgpool $i bench corpus" --dpi $((150 + (i % 5) * 60))
    vips embed "$t/t.v" "$t/te.v" $((40 + i * 17 % 400)) $((60 + i * 29 % 700)) \
        1280 960
    vips linear "$t/te.v" "$t/tl.v" 0.8 0
    vips subtract "$t/mix.v" "$t/tl.v" "$t/all.v"
    vips cast "$t/all.v" "$t/u.v" uchar
    vips copy "$t/u.v" "$out" --interpretation srgb
    rm -rf "$t"
}

build_small() {
    local out=$cache/small bases=$cache/small-bases
    if [ $force = 0 ] && [ -e "$cache/small.done" ]; then
        note "small: already built"
        return
    fi
    [ -e "$cache/wallpapers.done" ] || build_wallpapers
    rm -rf "$out" "$bases" "$cache/small.done"
    mkdir -p "$out" "$bases"

    note "small: 30 synthetic base images"
    export -f synth_base
    export cache
    seq 0 29 | parallel -j"$ncpu" --halt now,fail=1 \
        synth_base {} "$bases/synth{}.ppm"

    note "small: 30 base images from the wallpapers"
    find "$cache/wallpapers" -type f -print0 | sort -z | tr '\0' '\n' |
        awk '{printf "%s\t%02d\n", $0, NR - 1}' |
        parallel -j"$ncpu" --colsep '\t' --halt now,fail=1 \
            vips thumbnail {1} "$bases/photo{2}.ppm" 1280 --height 960 \
            --crop centre

    note "small: 2000 JPEGs"
    local -a b
    mapfile -t b < <(find "$bases" -name '*.ppm' | sort)
    [ ${#b[@]} -eq 60 ] || die "expected 60 base images, found ${#b[@]}"
    # One vips process per output would spend most of its time starting up,
    # so the crops are cut and encoded (libjpeg-turbo, like vips) by Pillow,
    # in one process per core.  Python's RNG is seeded: same files each time.
    local w
    for ((w = 0; w < ncpu; w++)); do
        "$pil_python" - "$out" "$w" "$ncpu" "${b[@]}" <<'PY' &
import random
import sys
from PIL import Image

out, part, parts, bases = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
rng = random.Random(20251122)
jobs = [(k, bases[k % len(bases)], 86 + rng.randrange(9), rng.randrange(641),
         rng.randrange(481)) for k in range(2000)]
opened = {}
for k, base, q, x, y in jobs[part::parts]:
    if base not in opened:
        opened[base] = Image.open(base).convert("RGB")
    tile = opened[base].crop((x, y, x + 640, y + 480))
    tile.save(f"{out}/img{k:04d}.jpg", quality=q, subsampling=2)
PY
    done
    wait || die "making the small corpus failed"
    local n
    n=$(find "$out" -name '*.jpg' | wc -l)
    [ "$n" -eq 2000 ] || die "small: expected 2000 files, made $n"
    touch "$cache/small.done"
}

describe() {
    local name=$1 dir=$cache/$1 n mp bytes fmts
    [ -d "$dir" ] || return 0
    read -r n mp bytes < <(corpus_stats "$dir")
    fmts=$(find "$dir" -type f | sed 's/.*\.//' | tr 'A-Z' 'a-z' | sort |
        uniq -c | awk '{printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2}')
    printf '| %s | %d | %s | %.1f | %s |\n' "$name" "$n" "$mp" \
        "$(echo "$bytes / 1048576" | bc -l)" "$fmts"
}

for w in "${want[@]}"; do
    case $w in
    wallpapers) build_wallpapers ;;
    small) build_small ;;
    *) usage ;;
    esac
done

{
    echo "# Benchmark corpora in $cache"
    echo
    echo "| corpus | files | megapixels | MiB | formats |"
    echo "|---|---|---|---|---|"
    for name in wallpapers wallpapers-webp small; do
        describe "$name"
    done
    echo
    if compgen -G "$cache/debs/*.deb" >/dev/null; then
        echo "Packages unpacked:"
        for deb in "$cache"/debs/*.deb; do
            echo "- $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
        done
        echo
        echo "Not images, not counted: $(find "$cache/wallpapers-src" -type f \
            \( -name '*.svg' -o -name '*.xml' \) | wc -l) SVG/XML files."
    fi
} >"$cache/CORPORA.md"
cat "$cache/CORPORA.md"
