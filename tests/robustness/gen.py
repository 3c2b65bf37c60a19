#!/usr/bin/env python3
"""Build a tree of hostile and good image files for the robustness run.

usage: gen.py TESTDATA DIR EXPECT.jsonl

Writes the tree into DIR (which must not exist yet) and one JSON object per
created file system entry into EXPECT.jsonl, saying what imgpool's report
must show for it:

  {"rel_b64": ..., "expect": KIND, "classes": [...], "group": ..., ...}

KIND is one of
  ok        a record with status ok, and an output that decodes
  failed    a record with status failed and a class from "classes"
  skipped   a record with status skipped and a reason from "classes"
  lenient   a record, ok (output must decode) or failed with a class from
            "classes"; never a crash, a timeout or an internal error
  none      no record at all (ignored, a directory, a link not named like
            an image)

Only the standard library; deterministic (fixed seed), so two runs build
byte-identical trees.
"""
import base64
import json
import os
import random
import shutil
import stat
import struct
import sys
import zlib

SEED = 20240229

# Classes a damaged input may legitimately fail with.
DAMAGED = ["decode-error", "not-an-image", "unsupported-format", "too-large",
           "truncated", "corrupt-header", "too-complex"]

# testdata files that decode fine, with their stored size.
GOOD = [
    "rgb.jpg", "progressive.jpg", "q75.jpg", "gray.jpg", "cmyk.jpg",
    "orient1.jpg", "orient2.jpg", "orient3.jpg", "orient4.jpg",
    "orient5.jpg", "orient6.jpg", "orient7.jpg", "orient8.jpg",
    "srgb_icc.jpg", "p3_icc.jpg", "tree/a/b/deep.jpg",
    "gray.png", "gray_alpha.png", "rgb.png", "rgba.png", "palette.png",
    "rgb16.png", "noext_png",
]

# A 1x1 GIF89a with a two-entry colour table (the classic "spacer" GIF).
GIF_1X1 = bytes.fromhex(
    "474946383961" "01000100" "800000"
    "ffffff" "000000"
    "2c" "00000000" "01000100" "00"
    "02" "02" "4401" "00"
    "3b")


class Tree:
    def __init__(self, root, expect_path):
        self.root = root
        self.out = open(expect_path, "w", encoding="ascii")

    def path(self, rel):
        return os.path.join(os.fsencode(self.root), rel)

    def expect(self, rel, kind, group, classes=(), **extra):
        rec = {"rel_b64": base64.b64encode(rel).decode("ascii"),
               "expect": kind, "group": group, "classes": list(classes)}
        rec.update(extra)
        self.out.write(json.dumps(rec) + "\n")

    def write(self, rel, data, kind, group, classes=(), **extra):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        self.expect(rel, kind, group, classes, **extra)

    def close(self):
        self.out.close()


def read(testdata, name):
    with open(os.path.join(testdata, name), "rb") as f:
        return f.read()


def png_chunk(ctype, body):
    return (struct.pack(">I", len(body)) + ctype + body +
            struct.pack(">I", zlib.crc32(ctype + body) & 0xffffffff))


def png_with_size(png, w, h):
    """@png with its IHDR saying w x h, CRC recomputed."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    n = struct.unpack(">I", png[8:12])[0]
    body = struct.pack(">II", w, h) + png[24:16 + n]
    return png[:8] + png_chunk(b"IHDR", body) + png[8 + 12 + n:]


def jpeg_sof_offset(jpg):
    """Offset of the SOFn marker in @jpg."""
    i = 2
    while i + 4 <= len(jpg):
        assert jpg[i] == 0xFF, "unexpected JPEG layout"
        m = jpg[i + 1]
        if m in (0xC0, 0xC1, 0xC2):
            return i
        i += 2 + struct.unpack(">H", jpg[i + 2:i + 4])[0]
    raise ValueError("no SOF")


def jpeg_with_size(jpg, w, h):
    i = jpeg_sof_offset(jpg)
    # FF Cn, length(2), precision(1), height(2), width(2)
    return jpg[:i + 5] + struct.pack(">HH", h, w) + jpg[i + 9:]


def gif_with_screen(gif, w, h):
    return gif[:6] + struct.pack("<HH", w, h) + gif[10:]


def jpeg_many_scans(w, h, scans):
    """A progressive grey JPEG of w x h (multiples of 8): a DC scan, then
    one AC scan (end-of-band runs only) repeated @scans times."""
    def bits_out(fields):
        o, acc, nb = bytearray(), 0, 0
        for v, n in fields + [(0x7f, (8 - sum(n for _, n in fields) % 8) % 8)]:
            for i in range(n - 1, -1, -1):
                acc, nb = acc << 1 | ((v >> i) & 1), nb + 1
                if nb == 8:
                    o.append(acc)
                    if acc == 0xFF:
                        o.append(0)
                    acc, nb = 0, 0
        return bytes(o)
    blocks = (w // 8) * (h // 8)
    out = bytearray(b"\xff\xd8\xff\xdb\x00\x43\x00" + bytes([1] * 64))
    out += b"\xff\xc2\x00\x0b\x08" + struct.pack(">HH", h, w)
    out += b"\x01\x01\x11\x00"
    out += b"\xff\xc4\x00\x14\x00" + bytes([1] + [0] * 15) + b"\x00"
    out += (b"\xff\xc4\x00\x22\x10" + bytes([0, 0, 0, 15] + [0] * 12) +
            bytes(i << 4 for i in range(15)))
    out += b"\xff\xda\x00\x08\x01\x01\x00\x00\x00\x00"
    out += bits_out([(0, 1)] * blocks)
    runs, b = [], blocks
    while b > 0:
        run = min(b, 32767)
        r = run.bit_length() - 1
        runs += [(r, 4), (run - (1 << r), r)]
        b -= run
    ac = bits_out(runs)
    for _ in range(scans):
        out += b"\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x00" + ac
    return bytes(out + b"\xff\xd9")


def flip_bits(data, rng, nbits):
    b = bytearray(data)
    for pos in rng.sample(range(len(b)), nbits):
        b[pos] ^= 1 << rng.randrange(8)
    return bytes(b)


def build(testdata, root, expect_path):
    os.makedirs(root)
    t = Tree(root, expect_path)
    rng = random.Random(SEED)
    rgb_jpg = read(testdata, "rgb.jpg")
    rgb_png = read(testdata, "rgb.png")

    # Good copies: three of each, names unique per stem so that no two
    # inputs compete for one output name.
    for k in (1, 2, 3):
        for name in GOOD:
            data = read(testdata, name)
            base = os.path.basename(name)
            stem, dot, ext = base.rpartition(".")
            if not dot:
                stem, ext = base, ""
            new = "g%d_%s_%s" % (k, stem, ext or "none")
            if ext:
                # Vary the spelling of extensions a little.
                if k == 2 and ext == "jpg":
                    ext = "JPG"
                if k == 3 and ext == "jpg":
                    ext = "jpeg"
                new += "." + ext
            sub = b"good/c%d/" % k
            t.write(sub + new.encode(), data, "ok", "good", src=name)

    # Truncations.
    for src, data, ext in (("rgb.jpg", rgb_jpg, b"jpg"),
                           ("rgb.png", rgb_png, b"png")):
        n = len(data)
        for cut in (0, 1, 2, 100, n // 2, n - 1):
            rel = b"trunc/%s_%d.%s" % (ext, cut, ext)
            # Too short to hold a header: must fail.  Longer ones may
            # decode leniently (thumbnail's default --fail-on none).
            kind = "failed" if cut <= 2 or (ext == b"jpg" and cut == 100) \
                else "lenient"
            t.write(rel, data[:cut], kind, "truncated", DAMAGED, src=src,
                    cut=cut)

    # No pixel data at all, and a damaged critical header: failed, never a
    # grey or noisy "ok" thumbnail.
    sos = rgb_jpg.index(b"\xff\xda")
    sos += 2 + struct.unpack(">H", rgb_jpg[sos + 2:sos + 4])[0]
    t.write(b"nopixels/jpg_after_sos.jpg", rgb_jpg[:sos], "failed", "truncated",
            ["truncated"], src="rgb.jpg")
    idat = rgb_png.index(b"IDAT")
    t.write(b"nopixels/png_at_idat.png", rgb_png[:idat + 4], "failed",
            "truncated", ["truncated"], src="rgb.png")
    flipped = bytearray(rgb_png)
    flipped[8 + 8 + 6] ^= 0x02
    t.write(b"absurd/png_ihdr_crc.png", bytes(flipped), "failed", "absurd",
            ["corrupt-header"], quick=True)
    # One scan repeated 2,000 times over 16000x16000: refused before the
    # decode, not after minutes of it.
    t.write(b"absurd/jpeg_2000_scans.jpg",
            jpeg_many_scans(16000, 16000, 2000), "failed", "absurd",
            ["too-complex"], quick=True)

    # Bit flips at seeded positions.
    for src, data, ext in (("rgb.jpg", rgb_jpg, b"jpg"),
                           ("rgb.png", rgb_png, b"png"),
                           ("progressive.jpg", read(testdata,
                                                    "progressive.jpg"),
                            b"jpg")):
        stem = src.split(".")[0].encode()
        for k in range(16):
            nbits = 1 + k % 8
            rel = b"flip/%s_%02d.%s" % (stem, k, ext)
            t.write(rel, flip_bits(data, rng, nbits), "lenient", "bitflip",
                    DAMAGED, src=src, bits=nbits)

    # Absurd dimensions in otherwise valid headers: refused from the
    # header, before any pixel is decoded.
    t.write(b"absurd/png_100000.png", png_with_size(rgb_png, 100000, 100000),
            "failed", "absurd", ["too-large"], quick=True)
    t.write(b"absurd/png_65500.png", png_with_size(rgb_png, 65500, 65500),
            "failed", "absurd", ["too-large"], quick=True)
    t.write(b"absurd/jpeg_65500.jpg", jpeg_with_size(rgb_jpg, 65500, 65500),
            "failed", "absurd", ["too-large"], quick=True)
    t.write(b"absurd/gif_65535.gif", gif_with_screen(GIF_1X1, 65535, 65535),
            "failed", "absurd", ["too-large"], quick=True)
    # Zero dimensions: nothing to decode.
    t.write(b"absurd/png_0x0.png", png_with_size(rgb_png, 0, 0),
            "failed", "absurd", DAMAGED, quick=True)
    t.write(b"absurd/jpeg_0x0.jpg", jpeg_with_size(rgb_jpg, 0, 0),
            "failed", "absurd", DAMAGED, quick=True)
    t.write(b"absurd/gif_0x0.gif", gif_with_screen(GIF_1X1, 0, 0),
            "lenient", "absurd", DAMAGED, quick=True)
    # A GIF that is fine, so the GIF path is known to work at all.
    t.write(b"good/gif_1x1.gif", GIF_1X1, "ok", "good", src="(generated)")

    # A 2 GiB sparse file of zeros named like a JPEG: the content says it
    # is not an image, and nothing may read it whole.
    big = t.path(b"special/big.jpg")
    os.makedirs(os.path.dirname(big), exist_ok=True)
    with open(big, "wb") as f:
        f.truncate(2 << 30)
    t.expect(b"special/big.jpg", "failed", "special", ["not-an-image"],
             quick=True)

    # Special files.
    os.mkfifo(t.path(b"special/fifo.jpg"))
    t.expect(b"special/fifo.jpg", "skipped", "special",
             ["not-a-regular-file"])
    os.symlink(b"does-not-exist.jpg", t.path(b"special/gone.jpg"))
    t.expect(b"special/gone.jpg", "skipped", "special", ["symlink"])
    os.symlink(b"../good/c1/g1_rgb_jpg.jpg", t.path(b"special/link.jpg"))
    t.expect(b"special/link.jpg", "skipped", "special", ["symlink"])
    os.makedirs(t.path(b"special/a"))
    os.symlink(b"..", t.path(b"special/a/loop"))
    t.expect(b"special/a/loop", "skipped", "special", ["symlink"])
    t.write(b"special/a/inside.jpg", rgb_jpg, "ok", "good", src="rgb.jpg")
    os.makedirs(t.path(b"special/x.jpg"))
    t.expect(b"special/x.jpg", "none", "special")
    t.write(b"special/x.jpg/inner.jpg", rgb_jpg, "ok", "good", src="rgb.jpg")
    t.write(b"special/.jpg", b"this is a text file, not a picture\n",
            "none", "special", ignored=True)
    t.write(b"special/notes.txt", b"plain text\n", "none", "special",
            ignored=True)
    t.write(b"special/empty.png", b"", "failed", "special",
            ["not-an-image", "decode-error"])
    t.write(b"special/text.jpg", b"this is a text file, not a picture\n",
            "failed", "special", ["not-an-image"])
    # libvips would parse "[shrink=8]" as load options if given the name.
    t.write(b"special/name.jpg[shrink=8]", rgb_jpg, "ok", "good",
            src="rgb.jpg")
    t.write(b"special/sniffed_jpeg_noext", rgb_jpg, "ok", "good",
            src="rgb.jpg")

    # Unreadable: root reads it anyway.
    rel = b"special/unreadable.jpg"
    p = t.path(rel)
    with open(p, "wb") as f:
        f.write(rgb_jpg)
    os.chmod(p, 0)
    if os.access(p, os.R_OK):
        t.expect(rel, "ok", "good", src="rgb.jpg", note="readable as root")
    else:
        t.expect(rel, "failed", "special", ["read-error"])

    # Odd names, each a good JPEG.
    names = [b"with space.jpg", b"new\nline.jpg", b"tab\there.jpg",
             b"it's \"quoted\".jpg", b"-leading-dash.jpg",
             b"invalid-\xff-utf8.jpg", b"\xc3\xa9t\xc3\xa9 \xe2\x98\x83.jpg",
             b"back\\slash.jpg", b"esc\x1b[31mred.jpg", b"*glob?[x].jpg",
             b"n" * 246 + b".jpg"]
    for n in names:
        t.write(b"names/" + n, rgb_jpg, "ok", "good", src="rgb.jpg")

    t.close()


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen.py TESTDATA DIR EXPECT.jsonl")
    build(sys.argv[1], sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
