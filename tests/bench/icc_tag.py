"""Copy JPEG and PNG files with an ICC profile embedded, pixels untouched.

    python3 icc_tag.py PROFILE.icc OUTDIR FILE...
    python3 icc_tag.py --extract FILE OUT.icc

The compressed image data is copied byte for byte: only the profile's
segment or chunk is added, so a tagged copy decodes to exactly the pixels
of its source and a corpus of tagged copies costs the same decode work as
the untagged one.
- JPEG: any ICC APP2 segments are dropped and the profile is written as
  APP2 "ICC_PROFILE" segments (at most 65,519 profile bytes each) after the
  leading APP0/APP1 segments (JFIF, Exif), as encoders place it.
- PNG: any iCCP, sRGB, gAMA and cHRM chunks are dropped (an iCCP chunk
  overrides them, and a file should not carry both) and a zlib-compressed
  iCCP chunk is written right after IHDR.
--extract writes the profile embedded in FILE (JPEG or PNG) to OUT.icc.
Each output is OUTDIR/<same name>.  Exits 1 on the first file it cannot
parse, naming it.
"""

import os
import struct
import sys
import zlib

SOI = b"\xff\xd8"
ICC_SIG = b"ICC_PROFILE\x00"
PNG_SIG = b"\x89PNG\r\n\x1a\n"
CHUNK = 65519  # 65535 - 2 (length) - 12 (signature) - 2 (sequence, count)


def jpeg_segments(data):
    """Split a JPEG into (marker, payload) pairs up to SOS, then the rest."""
    if not data.startswith(SOI):
        raise ValueError("not a JPEG")
    pos, segs = 2, []
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise ValueError(f"bad marker at {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker == 0xDA:  # SOS: the rest is entropy-coded data
            return segs, data[pos:]
        segs.append((marker, data[pos + 4:pos + 2 + length]))
        pos += 2 + length


def tag_jpeg(data, profile):
    segs, rest = jpeg_segments(data)
    segs = [s for s in segs if not (s[0] == 0xE2 and s[1].startswith(ICC_SIG))]
    pieces = [profile[i:i + CHUNK] for i in range(0, len(profile), CHUNK)]
    icc = [(0xE2, ICC_SIG + bytes([n + 1, len(pieces)]) + p)
           for n, p in enumerate(pieces)]
    at = 0
    while at < len(segs) and segs[at][0] in (0xE0, 0xE1):
        at += 1
    segs[at:at] = icc
    out = [SOI]
    for marker, payload in segs:
        out.append(bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2))
        out.append(payload)
    out.append(rest)
    return b"".join(out)


def png_chunks(data):
    if not data.startswith(PNG_SIG):
        raise ValueError("not a PNG")
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def png_chunk(kind, body):
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def tag_png(data, profile):
    drop = (b"iCCP", b"sRGB", b"gAMA", b"cHRM")
    chunks = [c for c in png_chunks(data) if c[0] not in drop]
    if not chunks or chunks[0][0] != b"IHDR":
        raise ValueError("PNG without IHDR first")
    iccp = (b"iCCP", b"ICC profile\x00\x00" + zlib.compress(profile, 9))
    chunks.insert(1, iccp)
    return PNG_SIG + b"".join(png_chunk(k, b) for k, b in chunks)


def extract(data):
    if data.startswith(SOI):
        segs, _ = jpeg_segments(data)
        parts = sorted((p[12], p[14:]) for m, p in segs
                       if m == 0xE2 and p.startswith(ICC_SIG))
        return b"".join(p for _, p in parts) or None
    for kind, body in png_chunks(data):
        if kind == b"iCCP":
            name_end = body.index(b"\x00")
            return zlib.decompress(body[name_end + 2:])
    return None


def main(argv):
    if len(argv) == 3 and argv[0] == "--extract":
        with open(argv[1], "rb") as f:
            profile = extract(f.read())
        if profile is None:
            print(f"icc_tag: {argv[1]}: no ICC profile", file=sys.stderr)
            return 1
        with open(argv[2], "wb") as f:
            f.write(profile)
        return 0
    if len(argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    with open(argv[0], "rb") as f:
        profile = f.read()
    outdir = argv[1]
    for path in argv[2:]:
        with open(path, "rb") as f:
            data = f.read()
        try:
            tagged = (tag_png if data.startswith(PNG_SIG) else tag_jpeg)(
                data, profile)
        except (ValueError, struct.error) as e:
            print(f"icc_tag: {path}: {e}", file=sys.stderr)
            return 1
        with open(os.path.join(outdir, os.path.basename(path)), "wb") as f:
            f.write(tagged)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
