"""Thumbnail files with Pillow in a multiprocessing.Pool: the way it is
usually written in Python, as a point of comparison for imgpool.

    /usr/bin/python3 pillow_pool.py [--draft] [-j N] [-s WxH] [-q Q] OUTDIR FILE...

classic (default):  Image.open, convert('RGB'), thumbnail(), save(quality=Q).
    convert() loads the whole image before thumbnail() could ask the JPEG
    decoder for a reduced size, so every pixel is decoded.
--draft:  the same after img.draft('RGB', size), with size the thumbnail
    that fits the box (300x225 for a 640x480 input), so libjpeg's DCT
    scaling does the first reduction, as in the decode floor.  draft() only
    affects JPEG.

Pillow writes no EXIF or ICC data unless asked, and uses 4:2:0 chroma
subsampling by default at every quality.  Each output is OUTDIR/STEM.jpg.
Exits 1 if any file failed, after naming it on stderr.
"""

import argparse
import multiprocessing
import os
import sys

from PIL import Image

BOX = (300, 300)
QUALITY = 90
DRAFT = False
OUTDIR = "."


def fit_inside(w, h):
    if w <= BOX[0] and h <= BOX[1]:
        return w, h
    s = min(BOX[0] / w, BOX[1] / h)
    return max(1, round(w * s)), max(1, round(h * s))


def thumbnail(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    try:
        with Image.open(path) as im:
            if DRAFT:
                im.draft("RGB", fit_inside(*im.size))
            rgb = im.convert("RGB")
        rgb.thumbnail(BOX)
        rgb.save(os.path.join(OUTDIR, stem + ".jpg"), quality=QUALITY)
        return None
    except Exception as e:  # one bad file must not stop the batch
        return f"{path}: {e}"


def init(box, quality, draft, outdir):
    global BOX, QUALITY, DRAFT, OUTDIR
    BOX, QUALITY, DRAFT, OUTDIR = box, quality, draft, outdir


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--draft", action="store_true")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("-s", default="300x300")
    ap.add_argument("-q", type=int, default=90)
    ap.add_argument("outdir")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    box = tuple(int(v) for v in a.s.split("x"))
    # fork (the Linux default) would inherit the globals anyway; passing them
    # through the initializer keeps the script correct under spawn too.
    with multiprocessing.Pool(a.j, init, (box, a.q, a.draft, a.outdir)) as pool:
        errors = [e for e in pool.map(thumbnail, a.files) if e]
    for e in errors:
        print(f"pillow_pool: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
