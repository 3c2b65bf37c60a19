#!/bin/sh
#
# quality.sh - the default JPEG (Q90), WebP and AVIF thumbnails against a
# lossless rendition of the same pixels: bytes, SSIM and butteraugli.
#
#   tests/bench/quality.sh [IMGPOOL] [CORPUS]
#
# CORPUS (default ../shared/corpus) must hold exif-orientation/ and odd/;
# seven photographs are taken from them.  All four runs use --no-fast-path,
# so every format encodes the same resized pixels (libvips' path); the PNG
# is the reference.  SSIM: luma, 8x8 windows every 4 pixels (an inline
# python3 script, no numpy); butteraugli: the Debian package's tool.
# Needs dwebp (webp), heif-convert (libheif-examples), butteraugli, python3.
set -eu

bin=${1:-build/imgpool}
corpus=${2:-../shared/corpus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/in"
for f in exif-orientation/Landscape_1.jpg exif-orientation/Portrait_1.jpg \
         odd/exif-72dpi-int.jpg odd/flower2.jpg odd/hopper.jpg \
         odd/icc_profile_big.jpg odd/pil_sample_rgb.jpg; do
    cp "$corpus/$f" "$work/in/"
done
cat > "$work/ssim.py" <<'PY'
import sys
def pgm(p):
    d = open(p, 'rb').read(); parts = []; i = 0
    while len(parts) < 4:
        while d[i:i+1].isspace(): i += 1
        j = i
        while not d[j:j+1].isspace(): j += 1
        parts.append(d[i:j]); i = j
    w, h = int(parts[1]), int(parts[2])
    return w, h, d[i+1:i+1+w*h]
(w, h, x), (_, _, y) = pgm(sys.argv[1]), pgm(sys.argv[2])
c1, c2, tot, n = 6.5025, 58.5225, 0.0, 0
for by in range(0, h - 7, 4):
    for bx in range(0, w - 7, 4):
        sx = sy = sxx = syy = sxy = 0
        for yy in range(by, by + 8):
            o = yy * w + bx
            for k in range(8):
                p, q = x[o+k], y[o+k]
                sx += p; sy += q; sxx += p*p; syy += q*q; sxy += p*q
        mx, my = sx / 64, sy / 64
        vx, vy, cv = sxx/64 - mx*mx, syy/64 - my*my, sxy/64 - mx*my
        tot += (2*mx*my + c1) * (2*cv + c2) / ((mx*mx + my*my + c1) * (vx + vy + c2))
        n += 1
print("%.5f" % (tot / n))
PY
cd "$work"
for f in png jpeg webp avif; do
    "$bin" thumbnail --quiet --no-fast-path -j1 -f $f -o o/$f in
done
printf "%-16s %-5s %7s %8s %s\n" image fmt bytes ssim butteraugli
for f in in/*; do
    s=$(basename "$f" .jpg)
    vips colourspace o/png/$s.png g.v b-w && vips ppmsave g.v ref.pgm
    for v in jpeg webp avif; do
        case $v in
        jpeg) out=o/jpeg/$s.jpg; png=$out ;;
        webp) out=o/webp/$s.webp; dwebp -quiet "$out" -o t.png; png=t.png ;;
        avif) out=o/avif/$s.avif; heif-convert "$out" t.png >/dev/null
              png=t.png ;;
        esac
        vips colourspace $png g.v b-w && vips ppmsave g.v t.pgm
        printf "%-16s %-5s %7s %8s %s\n" "$s" $v "$(stat -c%s "$out")" \
            "$(python3 ssim.py ref.pgm t.pgm)" \
            "$(butteraugli o/png/$s.png $png)"
    done
done
