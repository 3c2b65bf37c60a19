#!/usr/bin/env bash
#
# corpus.sh - build the benchmark corpora in a cache directory.
#
#   tests/bench/corpus.sh [-c CACHE] [-f] [wallpapers] [small] [icc]
#
# wallpapers  The JPEG and PNG wallpapers shipped in Debian's
#             gnome-backgrounds and mate-backgrounds packages.  The .debs are
#             fetched with `apt-get download` and unpacked with `dpkg -x`;
#             nothing is installed.  WebP wallpapers go to a separate corpus,
#             wallpapers-webp, because the decode floor reads only JPEG and
#             PNG.  SVG and XML files are not raster images and are skipped.
#             Six ICC-tagged copies are added (icc-PROFILE-NAME: 4 JPEGs and
#             2 PNGs tagged sRGB, Adobe RGB or Display P3), so that 11 of
#             the 36 files carry a profile (5 PNGs ship with sRGB).
# small       2,000 640x480 JPEGs (Q 86..94, 4:2:0) cropped at random offsets
#             from 60 base images: 30 synthetic ones made with vips (blurred
#             colour noise, sine gratings, text) and 30 downsized copies of the
#             wallpapers.  Pillow cuts and encodes the crops: one vips
#             process per file would spend a minute just starting up.  The
#             generator is seeded, so the corpus is the same wherever libvips
#             and Pillow are the same.
# icc         The same 1,000 640x480 JPEGs four times: j640-untagged, and
#             j640-srgb, j640-adobergb, j640-p3 with that ICC profile
#             embedded.  The files are the small corpus's crops of the
#             wallpapers (img<k> with k mod 60 < 30), and the tagged copies
#             differ from the untagged ones only by the APP2 segments
#             (icc_tag.py): same entropy-coded data, same pixels.
#             Profiles, in $CACHE/profiles: sRGB is the HP "sRGB
#             IEC61966-2.1" that the wallpaper PNGs carry (the one Photoshop
#             and Lightroom embed; lcms2's built-in sRGB when it is not
#             there); Adobe RGB (1998) and Display P3 are made by
#             make_icc.c with lcms2 from their published primaries and
#             curves.  Nothing is copied into the repository.
#
# Each corpus is one flat directory of images, $CACHE/NAME, and a finished
# corpus is marked by $CACHE/NAME.done; it is not rebuilt unless -f is given.
# $CACHE/CORPORA.md describes what was built.  Default CACHE:
# /tmp/imgpool-bench (or $IMGPOOL_BENCH_CACHE).

set -euo pipefail

cache=${IMGPOOL_BENCH_CACHE:-/tmp/imgpool-bench}
force=0

usage() {
    echo "usage: corpus.sh [-c CACHE] [-f] [wallpapers] [small] [icc]" >&2
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
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
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
        tag_wallpapers
        return
    fi
    rm -rf "$root" "$out" "$webp" "$cache/wallpapers.done" \
        "$cache/wallpapers-icc.done"
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
    tag_wallpapers
}

# The three profiles in $cache/profiles: srgb.icc, adobergb.icc, p3.icc.
make_profiles() {
    local dir=$cache/profiles
    if [ $force = 0 ] && [ -e "$dir/.done" ]; then
        return
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    cc -O2 -std=gnu11 -Wall -Wextra -o "$dir/make_icc" "$here/make_icc.c" \
        -llcms2 || die "cannot build make_icc.c (apt-get install liblcms2-dev)"
    # Photoshop's and Lightroom's sRGB: the wallpaper PNGs carry it.
    local src=$cache/wallpapers/Float-into-MATE.png
    if [ -e "$src" ] &&
        "$pil_python" "$here/icc_tag.py" --extract "$src" "$dir/srgb.icc"; then
        note "profiles: sRGB taken from $(basename "$src")"
    else
        "$dir/make_icc" srgb "$dir/srgb.icc"
        note "profiles: lcms2's built-in sRGB"
    fi
    "$dir/make_icc" adobergb "$dir/adobergb.icc"
    "$dir/make_icc" p3 "$dir/p3.icc"
    touch "$dir/.done"
}

# Six tagged copies of wallpapers that have no profile: icc-PROFILE-NAME.
tag_wallpapers() {
    local out=$cache/wallpapers
    if [ $force = 0 ] && [ -e "$cache/wallpapers-icc.done" ]; then
        return
    fi
    make_profiles
    rm -f "$out"/icc-*
    local t pair prof name
    t=$(mktemp -d "$cache/tmp.XXXXXX")
    for pair in srgb:Garden.jpg adobergb:LadyBird.jpg p3:Wood.jpg \
        p3:Dune.jpg adobergb:Silk.png p3:Waves.png; do
        prof=${pair%%:*}
        name=${pair#*:}
        [ -e "$out/$name" ] || die "wallpapers: $name missing"
        "$pil_python" "$here/icc_tag.py" "$cache/profiles/$prof.icc" "$t" \
            "$out/$name" || die "cannot tag $name"
        mv "$t/$name" "$out/icc-$prof-$name"
    done
    rm -rf "$t"
    note "wallpapers: 6 tagged copies added"
    touch "$cache/wallpapers-icc.done"
}

# j640-untagged and its tagged copies j640-srgb, j640-adobergb, j640-p3.
build_icc() {
    if [ $force = 0 ] && [ -e "$cache/icc.done" ]; then
        note "icc: already built"
        return
    fi
    [ -e "$cache/small.done" ] || build_small
    make_profiles
    local p k name
    rm -rf "$cache/icc.done"
    for p in untagged srgb adobergb p3; do
        rm -rf "$cache/j640-$p"
        mkdir -p "$cache/j640-$p"
    done
    # The crops of the wallpapers: base image k mod 60, photo bases first.
    local -a files=()
    for ((k = 0; k < 2000 && ${#files[@]} < 1000; k++)); do
        ((k % 60 < 30)) || continue
        printf -v name '%s/small/img%04d.jpg' "$cache" "$k"
        files+=("$name")
    done
    [ ${#files[@]} -eq 1000 ] || die "icc: expected 1000 source files"
    cp "${files[@]}" "$cache/j640-untagged/"
    for p in srgb adobergb p3; do
        "$pil_python" "$here/icc_tag.py" "$cache/profiles/$p.icc" \
            "$cache/j640-$p" "${files[@]}" || die "icc: tagging failed"
    done
    note "icc: 4 x 1000 JPEGs"
    touch "$cache/icc.done"
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
    # The wallpapers as shipped: the ICC-tagged copies added to that corpus
    # are the same pictures again.
    find "$cache/wallpapers" -type f ! -name 'icc-*' -print0 | sort -z |
        tr '\0' '\n' |
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
    icc) build_icc ;;
    *) usage ;;
    esac
done

{
    echo "# Benchmark corpora in $cache"
    echo
    echo "| corpus | files | megapixels | MiB | formats |"
    echo "|---|---|---|---|---|"
    for name in wallpapers wallpapers-webp small j640-untagged j640-srgb \
        j640-adobergb j640-p3; do
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
    if [ -d "$cache/profiles" ]; then
        echo
        echo "ICC profiles embedded (in $cache/profiles):"
        for p in "$cache"/profiles/*.icc; do
            echo "- $(basename "$p"): $(stat -c %s "$p") bytes, $(exiftool -s3 \
                -ProfileDescription "$p" 2>/dev/null || echo '?')"
        done
    fi
} >"$cache/CORPORA.md"
cat "$cache/CORPORA.md"
