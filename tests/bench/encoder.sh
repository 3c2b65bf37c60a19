#!/bin/bash
# encoder.sh - the JPEG encoders side by side, in one run: imgpool --effort best
# (its own encoder), imgpool --effort fast (plain libjpeg-turbo) and sharp
# with mozjpeg: true, at the same quality.
#
#   tests/bench/encoder.sh [-q Q] [-n PHOTOS] [-t THUMBS] [-j JOBS]
#
# Part 1, photos: up to PHOTOS (default 18) JPEGs of 2-24 MP from
# /tmp/imgpool-bench/wallpapers and library-corpus (three of them ICC-
# tagged), each recompressed at full size, 4:2:0 (as sharp writes).  Each
# output is compared with its original decoded (djpeg, so both sides are
# the same pixels and no colour management is involved): butteraugli
# 3-norm and max (`butteraugli_main orig.png out.png --pnorm 3`) and
# ssimulacra (`ssimulacra_main orig.png out.png`), averaged per file.
# Both tools convert a photo with a colour profile to sRGB, so such a
# photo is compared instead with each tool's own lossless rendering of
# it (imgpool recompress -f png; sharp's .png()): against the original's
# raw values both score about 5.8, which would swamp every mean.  Bytes
# are given twice: whole files, and without the metadata segments (APPn,
# COM), since sharp drops EXIF and profiles and imgpool keeps them.
#
# Part 2, thumbnails: THUMBS (default 2000) small JPEGs (made once into
# /tmp/imgpool-bench/small-jpegs from the photos: 480-1024 px crops at
# q 85-95) made into 300 px thumbnails by each with JOBS (default 2)
# workers: bytes, wall and CPU time; look on 40 of them, each against
# the same picture: its source decoded at full size and resized exactly
# to that thumbnail's size by ImageMagick (Lanczos, no shrink-on-load), so
# that the resize counts as well as the encoder.  The two tools round some
# heights differently (300x187 against 300x188): each output is judged
# against the exact resize at its own size.
#
# Every photo is re-encoded (--force: no kept-original, no skip for an
# estimated quality at or below -q); a photo imgpool leaves alone for
# another reason (has-trailer) is dropped before the other two run, so
# the three sums cover the same files.
#
# Needs: built imgpool (build/imgpool), djpeg, vips, ImageMagick (convert),
# butteraugli_main and ssimulacra_main (libjxl-devtools), node with sharp in
# /tmp/imgpool-bench/node (tests/bench/setup.sh --sharp).
set -eu
Q=90; NPHOTOS=18; NTHUMBS=2000; JOBS=2
while getopts q:n:t:j: o; do
    case $o in
    q) Q=$OPTARG ;; n) NPHOTOS=$OPTARG ;; t) NTHUMBS=$OPTARG ;;
    j) JOBS=$OPTARG ;; *) exit 2 ;;
    esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
IMGPOOL=${IMGPOOL:-$HERE/../../build/imgpool}
BENCH=/tmp/imgpool-bench
SHARP_DIR=${SHARP_DIR:-$BENCH/node}
W=$(mktemp -d /tmp/encoder-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

# sharp, one file: node - IN OUT Q FORMAT
sharp_one() {
    SHARP_DIR=$SHARP_DIR node -e '
const { createRequire } = require("module");
const sharp = createRequire(process.env.SHARP_DIR + "/")("sharp");
sharp.concurrency(1);
const [inp, out, q, fmt] = process.argv.slice(1);
let s = sharp(inp);
s = fmt === "png" ? s.png() : s.jpeg({ quality: +q, mozjpeg: true,
                                        chromaSubsampling: "4:2:0" });
s.toFile(out).catch(e => { console.error(e.message); process.exit(1); });
' "$@"
}

# The bytes of the APPn and COM segments of JPEG files @...: metadata
# (icc_tag.py's segment walker).
meta_bytes() {
    python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
from icc_tag import jpeg_segments
print(sum(len(body) + 4
          for p in sys.argv[2:]
          for m, body in jpeg_segments(open(p, "rb").read())[0]
          if 0xE0 <= m <= 0xEF or m == 0xFE))
' "$HERE" "$@"
}

# Look of @out against @ref (PNG or JPEG): "ba3 bamax ssim".
look() {
    djpeg_png "$1" "$W/r.png"
    djpeg_png "$2" "$W/o.png"
    local b
    b=$(butteraugli_main "$W/r.png" "$W/o.png" --pnorm 3 2>/dev/null)
    echo "$(echo "$b" | grep -i norm | awk '{print $NF}')" \
         "$(echo "$b" | head -1)" \
         "$(ssimulacra_main "$W/r.png" "$W/o.png" 2>/dev/null)"
}
djpeg_png() {
    case $1 in
    *.png) cp "$1" "$2" ;;
    *) djpeg "$1" > "$W/t.ppm" && vips copy "$W/t.ppm" "$2" ;;
    esac
}

# CPU seconds of children and wall seconds of "$@".
# The subshell's own pid is taken first: inside $(...) $BASHPID would be
# that substitution's.
timed() {
    local t0 t1 c0 c1 me=$BASHPID
    c0=$(awk '{print $14+$15+$16+$17}' /proc/$me/stat)
    t0=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    t1=$(date +%s.%N)
    c1=$(awk '{print $14+$15+$16+$17}' /proc/$me/stat)
    echo "$(echo "$t1 - $t0" | bc) $(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "imgpool $($IMGPOOL --version | head -1), sharp $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$SHARP_DIR/node_modules/sharp/package.json")"

# ---- part 1: photos ----
mkdir -p "$W/in" "$W/best" "$W/fast" "$W/sharp"
n=0
for f in $BENCH/wallpapers/*.jpg $BENCH/library-corpus/*.jpg; do
    [ "$n" -lt "$NPHOTOS" ] || break
    px=$(vipsheader -f width "$f" 2>/dev/null || echo 0)
    py=$(vipsheader -f height "$f" 2>/dev/null || echo 0)
    mp=$((px * py))
    if [ "$mp" -ge 2000000 ] && [ "$mp" -le 24000000 ]; then
        cp "$f" "$W/in/$(basename "$f")"
        n=$((n + 1))
    fi
done
echo "photos: $n, $(du -cb "$W"/in/* | tail -1 | cut -f1) bytes"
read -r bw bc <<<"$(timed "$IMGPOOL" recompress -q "$Q" -j "$JOBS" --force --subsample 420 --effort best "$W/in" -o "$W/best")"
for f in "$W"/in/*; do
    if [ ! -f "$W/best/$(basename "$f")" ]; then
        echo "dropped (imgpool left it alone): $(basename "$f")"
        rm -f "$f"
    fi
done
echo "photos compared: $(ls "$W/in" | wc -l)"
read -r fw fc <<<"$(timed "$IMGPOOL" recompress -q "$Q" -j "$JOBS" --force --subsample 420 --effort fast "$W/in" -o "$W/fast")"
sharp_all() { for f in "$W"/in/*; do sharp_one "$f" "$W/sharp/$(basename "$f")" "$Q" jpg; done; }
read -r sw sc <<<"$(timed sharp_all)"

# The references of the photos with a colour profile: each tool's own
# lossless rendering (see the top).
mkdir -p "$W/tagged" "$W/ref-imgpool" "$W/ref-sharp"
for f in "$W"/in/*; do
    if vipsheader -f icc-profile-data "$f" > /dev/null 2>&1; then
        b=$(basename "$f" .jpg)
        echo "ICC-tagged (compared with each tool's own rendering): $b"
        cp "$f" "$W/tagged/$b.jpg"
        sharp_one "$f" "$W/ref-sharp/$b.png" "$Q" png
    fi
done
"$IMGPOOL" recompress -f png --force -j "$JOBS" "$W/tagged" \
    -o "$W/ref-imgpool" > /dev/null 2>&1 || true
for f in "$W"/tagged/*.jpg; do
    [ -e "$f" ] || continue
    b=$(basename "$f" .jpg)
    for r in "$W/ref-imgpool/$b.png" "$W/ref-sharp/$b.png"; do
        [ -s "$r" ] || { echo "encoder.sh: no reference $r" >&2; exit 1; }
    done
done

summary() {    # summary NAME DIR REFDIR WALL CPU
    local bytes=0 meta a=0 m=0 s=0 k=0 o b r
    for o in "$2"/*; do
        bytes=$((bytes + $(stat -c %s "$o")))
        b=$(basename "$o" .jpg)
        r=$W/in/$b.jpg
        [ ! -e "$W/tagged/$b.jpg" ] || r=$3/$b.png
        read -r x y z <<<"$(look "$r" "$o")"
        a=$(echo "$a + $x" | bc -l); m=$(echo "$m + $y" | bc -l)
        s=$(echo "$s + $z" | bc -l); k=$((k + 1))
    done
    meta=$(meta_bytes "$2"/*)
    printf "| %s | %d | %d | %.3f | %.3f | %.5f | %.1f | %.1f |\n" "$1" \
        "$bytes" "$((bytes - meta))" \
        "$(echo "$a / $k" | bc -l)" "$(echo "$m / $k" | bc -l)" \
        "$(echo "$s / $k" | bc -l)" "$4" "$5"
    echo "$bytes" > "$W/$1.bytes"
    echo "$((bytes - meta))" > "$W/$1.image"
}
ratio() { echo "$(cat "$W/$1") / $(cat "$W/$2")" | bc -l | cut -c1-5; }
echo
echo "| photos -q $Q | bytes | without metadata | butteraugli 3-norm | butteraugli max | ssimulacra | wall s | CPU s |"
echo "|---|---|---|---|---|---|---|---|"
summary imgpool "$W/best" "$W/ref-imgpool" "$bw" "$bc"
summary fast "$W/fast" "$W/ref-imgpool" "$fw" "$fc"
summary sharp-mozjpeg "$W/sharp" "$W/ref-sharp" "$sw" "$sc"
echo "bytes imgpool/sharp: $(ratio imgpool.bytes sharp-mozjpeg.bytes)" \
     "(without metadata $(ratio imgpool.image sharp-mozjpeg.image))," \
     "imgpool/fast: $(ratio imgpool.bytes fast.bytes)"

# ---- part 2: thumbnails ----
[ "$NTHUMBS" -gt 0 ] || exit 0
SMALL=$BENCH/small-jpegs
if [ ! -f "$SMALL/.done-$NTHUMBS-$NPHOTOS" ]; then
    rm -rf "$SMALL"; mkdir -p "$SMALL"
    set -- "$W"/in/*
    for i in $(seq 1 "$NTHUMBS"); do
        src=$(eval echo "\${$(( (i % $#) + 1 ))}")
        s=$((480 + (i * 37) % 545))
        vips thumbnail "$src" "$SMALL/s$i.jpg[Q=$((85 + i % 11))]" "$s" \
            > /dev/null 2>&1 || true
    done
    touch "$SMALL/.done-$NTHUMBS-$NPHOTOS"
fi
rm -rf "$W"/t* "$W/xref"; mkdir -p "$W/tbest" "$W/tfast" "$W/tsharp" "$W/xref"
read -r bw bc <<<"$(timed "$IMGPOOL" thumbnail -q "$Q" -j "$JOBS" --effort best "$SMALL" -o "$W/tbest")"
read -r fw fc <<<"$(timed "$IMGPOOL" thumbnail -q "$Q" -j "$JOBS" --effort fast "$SMALL" -o "$W/tfast")"
export SHARP_MOZJPEG=1 SHARP_DIR
read -r sw sc <<<"$(timed node "$HERE/sharp_pool.js" -j "$JOBS" -q "$Q" "$W/tsharp" "$SMALL"/*.jpg)"
# The exact resize of small JPEG @1 to @2 x @3: its path (made once).
exact_ref() {
    local r="$W/xref/$1-$2x$3.png"
    [ -s "$r" ] || convert "$SMALL/$1.jpg" -filter Lanczos -resize "$2x$3!" \
        "$r"
    echo "$r"
}
tsum() {    # tsum NAME DIR WALL CPU
    local bytes a=0 m=0 s=0 k=0 o r
    bytes=$(find "$2" -name '*.jpg' -printf '%s\n' | awk '{t+=$1} END {print t}')
    for o in $(find "$2" -name '*.jpg' | sort | head -40); do
        b=$(basename "$o" .jpg)
        r=$(exact_ref "$b" "$(vipsheader -f width "$o")" \
            "$(vipsheader -f height "$o")")
        read -r x y z <<<"$(look "$r" "$o")"
        a=$(echo "$a + $x" | bc -l); m=$(echo "$m + $y" | bc -l)
        s=$(echo "$s + $z" | bc -l); k=$((k + 1))
    done
    printf "| %s | %d | %.3f | %.3f | %.5f | %.1f | %.1f | %.0f |\n" "$1" \
        "$bytes" "$(echo "$a / $k" | bc -l)" "$(echo "$m / $k" | bc -l)" \
        "$(echo "$s / $k" | bc -l)" "$3" "$4" "$(echo "$NTHUMBS / $3" | bc -l)"
}
echo
echo "| $NTHUMBS thumbnails 300 px | bytes | butteraugli 3-norm | butteraugli max | ssimulacra | wall s | CPU s | files/s |"
echo "|---|---|---|---|---|---|---|---|"
tsum imgpool "$W/tbest" "$bw" "$bc"
tsum fast "$W/tfast" "$fw" "$fc"
tsum sharp-mozjpeg "$W/tsharp" "$sw" "$sc"
