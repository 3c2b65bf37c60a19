#!/usr/bin/env python3
"""Check an imgpool run for the robustness script.

usage: check.py MODE [options]

Every check prints one line, "PASS: what" or "FAIL: what", followed by
indented details for a failure; run.sh counts those lines.  Other lines are
information.  Modes:

  hostile   the generated tree against gen.py's expectations
  strict    the truncated files under --fail-on error
  faults    IMGPOOL_FAULT runs: matching files failed with a class, the
            rest ok
  many      N hard links of one small JPEG: N ok records, N distinct paths
  corpus    a tree of odd files nobody wrote expectations for: one record
            per candidate file, no crash, consistent counts
  follow    the hostile tree with --follow-symlinks: consistent counts
  rerun     a second run into the same output tree: nothing redone

Only the standard library.  Outputs are checked by parsing their JPEG
markers (SOI, SOF dimensions and components, EOI) and, with --decode, by
decoding them completely with the libvips command-line tools.
"""
import argparse
import base64
import collections
import csv
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

# Classes that mean something went wrong inside imgpool or a decoder, as
# opposed to a file that is simply bad.
BAD_CLASSES = {"worker-crashed", "timeout", "internal-error",
               "out-of-memory"}

# The extensions scan.c treats as images (scan_has_image_ext()).
IMAGE_EXTS = {
    "jpg", "jpeg", "jpe", "jfif", "jif", "png", "gif", "webp", "tif",
    "tiff", "heic", "heif", "hif", "avif", "bmp", "dib", "jp2", "j2k",
    "j2c", "jpf", "jpx", "jxl", "psd", "psb", "pbm", "pgm", "ppm", "pnm",
    "pam", "pfm", "exr", "hdr", "qoi", "ico",
}

# A record may take this long at most when the answer is in the header.
QUICK_MS = 2000.0

MAX_DETAILS = 25


def show(b):
    """Printable form of a path given as bytes."""
    if isinstance(b, str):
        b = os.fsencode(b)
    out = []
    for ch in b.decode("utf-8", "backslashreplace"):
        if ch < " " or ch == "\x7f":
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


class Checker:
    def __init__(self):
        self.failures = 0

    def check(self, cond, what, details=()):
        details = list(details)
        print(("PASS: " if cond else "FAIL: ") + what)
        if not cond:
            self.failures += 1
            for d in details[:MAX_DETAILS]:
                print("    " + d)
            if len(details) > MAX_DETAILS:
                print("    ... and %d more" % (len(details) - MAX_DETAILS))
        sys.stdout.flush()
        return cond

    @classmethod
    def quiet(cls):
        """A checker whose checks are not printed (for helpers)."""
        c = cls()
        c.check = lambda cond, what, details=(): cond
        return c

    @staticmethod
    def info(what):
        print("    " + what)
        sys.stdout.flush()


# ------------------------------------------------------------------------
# The report

def load_report(path):
    """(records, summary, problems) from a JSON Lines report."""
    records, summary, problems = [], None, []
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except OSError as e:
        return [], None, ["cannot read report: %s" % e]
    if lines and lines[-1] == b"":
        lines.pop()
    else:
        problems.append("last line does not end with a newline")
    for i, line in enumerate(lines):
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            problems.append("line %d is not JSON in UTF-8: %s" % (i + 1, e))
            continue
        if not isinstance(obj, dict):
            problems.append("line %d is not an object" % (i + 1))
        elif obj.get("summary") is True:
            if i != len(lines) - 1:
                problems.append("summary on line %d is not last" % (i + 1))
            summary = obj
        else:
            records.append(obj)
    if summary is None:
        problems.append("no summary object")
    return records, summary, problems


def rec_bytes(rec, key):
    """The exact bytes of rec[key] ("path" or "output"), or None."""
    b64 = rec.get(key + "_b64")
    if b64 is not None:
        return base64.b64decode(b64)
    val = rec.get(key)
    return None if val is None else val.encode("utf-8")


def rec_class(rec):
    if rec.get("status") == "failed":
        return (rec.get("error") or {}).get("class")
    if rec.get("status") == "skipped":
        return rec.get("reason")
    return None


def check_report_basics(c, recs, summ, problems, stderr_path=None):
    """Checks every report must pass; returns False when it is unusable."""
    c.check(not problems, "report: every line is a JSON object, summary last",
            problems)
    if summ is None:
        return False
    by_status = collections.Counter(r.get("status") for r in recs)
    bad_status = [k for k in by_status if k not in ("ok", "skipped",
                                                    "failed")]
    c.check(not bad_status, "report: every status is ok, skipped or failed",
            ["status %r" % s for s in bad_status])
    c.check(summ.get("total") == len(recs),
            "summary total (%s) equals the number of records (%d)"
            % (summ.get("total"), len(recs)))
    c.check(all(summ.get(k) == by_status[k] for k in ("ok", "skipped",
                                                      "failed")),
            "summary ok/skipped/failed (%s/%s/%s) match the records"
            % (summ.get("ok"), summ.get("skipped"), summ.get("failed")),
            ["records: %s" % dict(by_status)])
    classes = collections.Counter(rec_class(r) for r in recs
                                  if rec_class(r) is not None)
    c.check(summ.get("by_class") == dict(classes),
            "summary by_class matches the records",
            ["summary %s" % summ.get("by_class"),
             "records %s" % dict(classes)])
    c.check(summ.get("interrupted") is None, "summary: not interrupted")
    # Records of failures carry an error object, and only they do.
    shape = []
    for r in recs:
        st = r.get("status")
        err = r.get("error")
        if st == "failed" and not (isinstance(err, dict) and
                                   isinstance(err.get("class"), str)):
            shape.append("failed without error.class: %s" %
                         show(rec_bytes(r, "path") or b"?"))
        if st != "failed" and "error" in r:
            shape.append("%s with an error: %s" %
                         (st, show(rec_bytes(r, "path") or b"?")))
        p = rec_bytes(r, "path")
        if p is None:
            shape.append("record without path")
            continue
        try:
            p.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        if valid == ("path_b64" in r):
            shape.append("path_b64 %s for %s" %
                         ("present" if valid else "missing", show(p)))
    c.check(not shape, "records: error object and path_b64 where the "
            "schema says", shape)
    if stderr_path:
        check_stderr(c, stderr_path, len(recs))
    return True


def check_stderr(c, path, nrecords):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    lines = text.splitlines()
    # Under ASan with allocator_may_return_null, a refused allocation is
    # a warning, not an error: the caller sees NULL as it would with the
    # memory cap.
    refused = [l for l in lines
               if re.match(r"==\d+==WARNING: AddressSanitizer failed to "
                           r"allocate", l)]
    lines = [l for l in lines if l not in refused]
    if refused:
        Checker.info("%d allocations refused by ASan's max_allocation_size_mb"
                     % len(refused))
    m = None
    for line in lines:
        m = re.match(r"imgpool: (\d+) files?: ", line)
        if m:
            break
    c.check(m is not None and int(m.group(1)) == nrecords,
            "stderr summary line counts %s files, the report has %d records"
            % (m.group(1) if m else "no", nrecords))
    sanitizer = [l for l in lines
                 if "AddressSanitizer" in l or "runtime error:" in l or
                 "LeakSanitizer" in l]
    c.check(not sanitizer, "stderr: no sanitizer report", sanitizer)
    # Workers never print; every line comes from the master's message
    # channel (the summary lists failures as indented continuation lines
    # only when a message itself contains newlines, which it escapes).
    foreign = [l for l in lines if l and not l.startswith("imgpool: ")]
    c.check(not foreign, "stderr: every line comes from imgpool's message "
            "channel (workers and libraries print nothing)",
            [show(l) for l in foreign])


def check_summary_exact(c, summ, what, expected):
    c.check(summ.get(what) == expected,
            "summary %s is %s (expected %s)" % (what, summ.get(what),
                                                expected))


# ------------------------------------------------------------------------
# Outputs

SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_header(data):
    """((width, height, components), None) or (None, problem)."""
    if data[:2] != b"\xff\xd8":
        return None, "no SOI"
    if data[-2:] != b"\xff\xd9":
        return None, "does not end with EOI"
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None, "no marker at offset %d" % i
        m = data[i + 1]
        if m == 0xFF:
            i += 1
            continue
        if m == 0x01 or 0xD0 <= m <= 0xD7:
            i += 2
            continue
        seglen = int.from_bytes(data[i + 2:i + 4], "big")
        if m in SOF_MARKERS:
            if i + 10 > len(data):
                return None, "SOF cut short"
            h = int.from_bytes(data[i + 5:i + 7], "big")
            w = int.from_bytes(data[i + 7:i + 9], "big")
            return (w, h, data[i + 9]), None
        if m == 0xDA:
            break
        i += 2 + seglen
    return None, "no SOF before the scan"


class OutputVerifier:
    """Collects ok outputs, then checks them all at once."""

    def __init__(self, checkdir, decode):
        self.items = []
        self.checkdir = checkdir
        self.decode = decode and shutil.which("vips") is not None
        self.wanted_bytes = True

    def add(self, rec, label, longest=None, max_side=None):
        self.items.append((rec, label, longest, max_side))

    def run(self):
        """List of problems."""
        problems, copies = [], []
        if self.checkdir:
            os.makedirs(self.checkdir, exist_ok=True)
        for n, (rec, label, longest, max_side) in enumerate(self.items):
            out = rec_bytes(rec, "output")
            if out is None:
                problems.append("%s: ok without an output" % label)
                continue
            try:
                with open(out, "rb") as f:
                    data = f.read()
            except OSError as e:
                problems.append("%s: cannot read output %s: %s"
                                % (label, show(out), e.strerror))
                continue
            if self.wanted_bytes and rec.get("out_bytes") != len(data):
                problems.append("%s: out_bytes %s, file has %d"
                                % (label, rec.get("out_bytes"), len(data)))
            hdr, why = jpeg_header(data)
            if hdr is None:
                problems.append("%s: output is not a complete JPEG: %s"
                                % (label, why))
                continue
            w, h, nc = hdr
            if (w, h) != (rec.get("out_width"), rec.get("out_height")):
                problems.append("%s: output is %dx%d, record says %sx%s"
                                % (label, w, h, rec.get("out_width"),
                                   rec.get("out_height")))
            if nc != 3:
                problems.append("%s: output has %d components, not 3"
                                % (label, nc))
            if max_side is not None and max(w, h) > max_side:
                problems.append("%s: output %dx%d exceeds %d"
                                % (label, w, h, max_side))
            if longest is not None and max(w, h) != longest:
                problems.append("%s: output %dx%d, longest side should be %d"
                                % (label, w, h, longest))
            if self.decode:
                # A plain name: libvips reads options from "[...]" in a
                # file name, and some outputs are named like that.
                copy = os.path.join(self.checkdir, "%d.jpg" % n)
                with open(copy, "wb") as f:
                    f.write(data)
                copies.append((label, copy))
        if copies:
            problems.extend(self._decode(copies))
        return problems

    @staticmethod
    def _decode_one(item):
        label, path = item
        r = subprocess.run(["vips", "avg", path + "[fail_on=warning]"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            msg = r.stderr.decode("utf-8", "replace").strip()
            return "%s: libvips cannot decode the output: %s" % (
                label, show(msg.splitlines()[-1] if msg else "?"))
        return None

    def _decode(self, copies):
        problems = []
        r = subprocess.run(["vipsheader"] + [p for _, p in copies],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        heads = r.stdout.decode("utf-8", "replace").splitlines()
        by_path = {}
        for line in heads:
            path, _, rest = line.partition(": ")
            by_path[path] = rest
        for label, path in copies:
            rest = by_path.get(path, "")
            if "uchar, 3 bands, srgb" not in rest:
                problems.append("%s: vipsheader says %r, not 8-bit 3-band "
                                "sRGB" % (label, rest))
        with ThreadPoolExecutor(max_workers=2) as ex:
            problems.extend(p for p in ex.map(self._decode_one, copies) if p)
        return problems


def walk_files(root, skip_top=()):
    """Every non-directory entry below @root, as bytes paths, leaving out
    the top-level directories named in @skip_top."""
    out = []
    for d, dirs, files in os.walk(os.fsencode(root)):
        if d == os.fsencode(root):
            dirs[:] = [x for x in dirs if x not in skip_top]
        for name in files:
            out.append(os.path.join(d, name))
        for name in dirs:
            p = os.path.join(d, name)
            if os.path.islink(p):
                out.append(p)
    return out


def check_out_dir(c, out_dir, recs):
    """No temporary files, nothing but the outputs of ok records (and the
    state directory .imgpool/ at the top)."""
    files = walk_files(out_dir, skip_top=(b".imgpool",)) \
        if os.path.isdir(out_dir) else []
    tmp = [f for f in files if os.path.basename(f).startswith(b".imgpool-tmp-")]
    c.check(not tmp, "no .imgpool-tmp-* file left in the output directory",
            [show(f) for f in tmp])
    wanted = {os.path.normpath(rec_bytes(r, "output")) for r in recs
              if r.get("status") == "ok" and rec_bytes(r, "output")}
    stray = [f for f in files if os.path.normpath(f) not in wanted and
             f not in tmp]
    c.check(not stray, "every file in the output directory is the output "
            "of an ok record", [show(f) for f in stray])


# ------------------------------------------------------------------------
# Modes

def has_image_ext(name):
    """scan_has_image_ext() on a base name given as bytes."""
    dot = name.rfind(b".")
    if dot <= 0:
        return False
    return name[dot + 1:].decode("latin-1").lower() in IMAGE_EXTS


def rel_of(path, root):
    prefix = os.fsencode(root).rstrip(b"/") + b"/"
    return path[len(prefix):] if path.startswith(prefix) else None


def index_records(c, recs, root):
    by_rel = collections.defaultdict(list)
    outside = []
    for r in recs:
        p = rec_bytes(r, "path")
        rel = rel_of(p, root) if p is not None else None
        if rel is None:
            outside.append(show(p or b"(none)"))
            continue
        by_rel[rel].append(r)
    c.check(not outside, "every record names a file below the input root",
            outside)
    dups = ["%s: %d records" % (show(k), len(v)) for k, v in by_rel.items()
            if len(v) > 1]
    c.check(not dups, "no file has more than one record", dups)
    return by_rel


def verify_expectation(e, r, verifier):
    """Problems with record @r against expectation @e."""
    label = show(e["rel"])
    st = r.get("status")
    cls = rec_class(r)
    kind = e["expect"]
    probs = []
    if cls in BAD_CLASSES:
        probs.append("%s: %s (%s)" % (label, cls, (r.get("error") or {})
                                      .get("message", "")))
        return probs
    if kind == "ok" or (kind == "lenient" and st == "ok"):
        if st != "ok":
            probs.append("%s: %s %s, expected ok: %s"
                         % (label, st, cls, (r.get("error") or {})
                            .get("message", "")))
        else:
            longest = None
            if kind == "ok" and r.get("in_width") and r.get("in_height"):
                longest = min(300, max(r["in_width"], r["in_height"]))
            verifier.add(r, label, longest=longest, max_side=300)
    elif kind in ("failed", "lenient"):
        if st != "failed" or cls not in e["classes"]:
            probs.append("%s: %s %s, expected failed with %s"
                         % (label, st, cls, "|".join(e["classes"])))
    elif kind == "skipped":
        if st != "skipped" or cls not in e["classes"]:
            probs.append("%s: %s %s, expected skipped with %s"
                         % (label, st, cls, "|".join(e["classes"])))
    if st != "ok":
        out = rec_bytes(r, "output")
        if out is not None and os.path.lexists(out):
            probs.append("%s: %s, yet its output %s exists"
                         % (label, st, show(out)))
    if e.get("quick") and (r.get("ms") is None or r["ms"] > QUICK_MS):
        probs.append("%s: took %s ms, should be refused from its header"
                     % (label, r.get("ms")))
    return probs


GROUP_TITLES = [
    ("good", "good copies (testdata images, odd names, [shrink=8] name, "
             "sniffed): ok, output decodes, longest side = min(300, input)"),
    ("truncated", "truncations at 0, 1, 2, 100, half, all-but-1 bytes: "
                  "failed as damaged, or ok with an output that decodes; "
                  "no pixel data (JPEG cut after SOS, PNG at IDAT): "
                  "truncated"),
    ("bitflip", "seeded bit flips: failed as damaged, or ok with an output "
                "that decodes"),
    ("absurd", "absurd headers (PNG 100000^2 and 65500^2, JPEG 65500^2, "
               "GIF 65535^2, zero sizes, PNG IHDR CRC, JPEG 2000 scans): "
               "refused quickly"),
    ("special", "special files (2 GiB sparse, FIFO, dangling and plain "
                "symlinks, empty, text, unreadable): expected record"),
]


def cmd_hostile(a):
    c = Checker()
    exp = []
    with open(a.expect) as f:
        for line in f:
            e = json.loads(line)
            e["rel"] = base64.b64decode(e["rel_b64"])
            exp.append(e)
    recs, summ, problems = load_report(a.report)
    if not check_report_basics(c, recs, summ, problems, a.stderr):
        return c
    by_rel = index_records(c, recs, a.root)
    expmap = {e["rel"]: e for e in exp}

    unexpected = [show(rel) for rel in by_rel
                  if rel not in expmap or expmap[rel]["expect"] == "none"]
    c.check(not unexpected, "no record for entries that are not image "
            "candidates (directory x.jpg, text '.jpg', loop link, .txt)",
            unexpected)
    cand = [e for e in exp if e["expect"] != "none"]
    missing = [show(e["rel"]) for e in cand if e["rel"] not in by_rel]
    c.check(not missing, "each of the %d candidate files has a record"
            % len(cand), missing)
    check_summary_exact(c, summ, "total", len(cand))
    check_summary_exact(c, summ, "ignored",
                        sum(1 for e in exp if e.get("ignored")))

    verifier = OutputVerifier(a.checkdir, a.decode)
    probs = collections.defaultdict(list)
    counts = collections.Counter()
    for e in cand:
        rs = by_rel.get(e["rel"])
        if not rs:
            continue
        counts[e["group"]] += 1
        probs[e["group"]].extend(verify_expectation(e, rs[0], verifier))
    for group, title in GROUP_TITLES:
        c.check(not probs[group], "%s [%d files]" % (title, counts[group]),
                probs[group])
    outprobs = verifier.run()
    c.check(not outprobs, "%d ok outputs: complete 3-component JPEGs of the "
            "recorded size%s" % (len(verifier.items),
                                 ", decoded by libvips without warnings"
                                 if verifier.decode else ""), outprobs)
    if a.decode and not verifier.decode:
        c.info("vips not found: outputs checked by their markers only")
    check_out_dir(c, a.out, recs)
    return c


def cmd_strict(a):
    """Truncated inputs under a strict --fail-on: never ok."""
    c = Checker()
    recs, summ, problems = load_report(a.report)
    if not check_report_basics(c, recs, summ, problems, a.stderr):
        return c
    by_rel = index_records(c, recs, a.root)
    wrong, okcount = [], 0
    verifier = OutputVerifier(None, False)
    for rel, rs in sorted(by_rel.items()):
        r = rs[0]
        name = os.path.basename(rel)
        m = re.match(rb"(jpg|png)_(\d+)\.", name)
        if m is None:
            if r.get("status") != "ok":
                wrong.append("%s: %s, expected ok" % (show(rel),
                                                       rec_class(r)))
            else:
                okcount += 1
                verifier.add(r, show(rel))
            continue
        cut = int(m.group(2))
        full = {b"jpg": a.jpg_size, b"png": a.png_size}[m.group(1)]
        if cut == full - 1 and r.get("status") == "ok":
            continue    # only the end marker is damaged: either is fine
        if r.get("status") != "failed" or rec_class(r) not in (
                "decode-error", "not-an-image", "truncated"):
            wrong.append("%s: %s %s, expected failed (decode-error, "
                         "not-an-image or truncated)" % (
                             show(rel), r.get("status"), rec_class(r)))
    c.check(not wrong, "--fail-on error: every file cut short of its "
            "pixel data failed, the %d intact ones ok" % okcount, wrong)
    outprobs = verifier.run()
    c.check(not outprobs, "ok outputs are complete JPEGs", outprobs)
    check_out_dir(c, a.out, recs)
    return c


def cmd_faults(a):
    c = Checker()
    recs, summ, problems = load_report(a.report)
    if not check_report_basics(c, recs, summ, problems, a.stderr):
        return c
    by_rel = index_records(c, recs, a.root)
    files = [rel_of(p, a.root) for p in walk_files(a.root)]
    missing = [show(f) for f in files if f not in by_rel]
    c.check(not missing and len(by_rel) == len(files),
            "one record for each of the %d files" % len(files), missing)
    classes = a.cls.split(",")
    hit, wrong = 0, []
    verifier = OutputVerifier(None, False)
    for rel, rs in sorted(by_rel.items()):
        r = rs[0]
        name = os.fsdecode(os.path.basename(rel))
        if fnmatch.fnmatchcase(name, a.glob):
            hit += 1
            msg = (r.get("error") or {}).get("message", "")
            if r.get("status") != "failed" or rec_class(r) not in classes:
                wrong.append("%s: %s %s, expected failed %s"
                             % (show(rel), r.get("status"), rec_class(r),
                                a.cls))
            elif a.message and a.message not in msg:
                wrong.append("%s: message %r lacks %r"
                             % (show(rel), msg, a.message))
            if r.get("ms") is not None and a.max_ms and r["ms"] > a.max_ms:
                wrong.append("%s: %s ms, more than %s"
                             % (show(rel), r["ms"], a.max_ms))
        elif r.get("status") != "ok":
            wrong.append("%s: %s %s (%s), expected ok: it does not match "
                         "the fault glob" % (show(rel), r.get("status"),
                                             rec_class(r),
                                             (r.get("error") or {})
                                             .get("message", "")))
        else:
            verifier.add(r, show(rel), max_side=300)
    c.check(hit == a.expect_hits, "the fault glob %r matched %d files "
            "(expected %d)" % (a.glob, hit, a.expect_hits))
    c.check(not wrong, "files matching %r failed with %s%s, every other "
            "file ok" % (a.glob, a.cls,
                         " ('%s')" % a.message if a.message else ""), wrong)
    outprobs = verifier.run()
    c.check(not outprobs, "ok outputs are complete JPEGs within 300x300",
            outprobs)
    check_out_dir(c, a.out, recs)
    return c


def cmd_many(a):
    c = Checker()
    recs, summ, problems = load_report(a.report)
    if not check_report_basics(c, recs, summ, problems, None):
        return c
    by_rel = index_records(c, recs, a.root)
    notok = [show(rel) for rel, rs in by_rel.items()
             if rs[0].get("status") != "ok"]
    c.check(len(by_rel) == a.n and not notok,
            "%d hard-linked files: %d distinct paths reported, all ok"
            % (a.n, len(by_rel)), notok)
    return c


def cmd_follow(a):
    c = Checker()
    recs, summ, problems = load_report(a.report)
    if not check_report_basics(c, recs, summ, problems, None):
        return c
    index_records(c, recs, a.root)
    bad = ["%s: %s" % (show(rec_bytes(r, "path")), rec_class(r))
           for r in recs if rec_class(r) in BAD_CLASSES]
    c.check(not bad, "no crash, timeout or internal error", bad)
    check_out_dir(c, a.out, recs)
    return c


def cmd_rerun(a):
    """A second run into the same output tree: ok files are up to date,
    failures fail again the same way, the outputs are untouched."""
    c = Checker()
    first, _, _ = load_report(a.first)
    recs, summ, problems = load_report(a.report)
    if not check_report_basics(c, recs, summ, problems, a.stderr):
        return c
    by_rel = index_records(c, recs, a.root)
    before = index_records(Checker.quiet(), first, a.root)
    wrong = []
    for rel, rs in sorted(before.items()):
        old, new = rs[0], by_rel.get(rel, [None])[0]
        if new is None:
            wrong.append("%s: no record in the second run" % show(rel))
            continue
        if old.get("status") == "ok":
            want = ("skipped", "up-to-date")
        else:
            want = (old.get("status"), rec_class(old))
        got = (new.get("status"), rec_class(new))
        if got != want:
            wrong.append("%s: %s %s, expected %s %s" % ((show(rel),) + got +
                                                         want))
    extra = [show(rel) for rel in by_rel if rel not in before]
    c.check(not wrong and not extra and before,
            "second run: the %d ok files skipped as up-to-date, every "
            "failure and skip the same as before"
            % sum(1 for rs in before.values()
                  if rs[0].get("status") == "ok"), wrong + extra)
    verifier = OutputVerifier(None, False)
    verifier.wanted_bytes = False
    for rel, rs in sorted(before.items()):
        if rs[0].get("status") == "ok":
            verifier.add(rs[0], show(rel), max_side=300)
    outprobs = verifier.run()
    c.check(not outprobs, "first run's outputs still there and complete",
            outprobs)
    check_out_dir(c, a.out, first)
    return c


def load_manifest(path):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return {row["file"]: row for row in csv.DictReader(
                f, delimiter="\t")}
    except (OSError, KeyError):
        return {}


def cmd_corpus(a):
    c = Checker()
    recs, summ, problems = load_report(a.report)
    if not check_report_basics(c, recs, summ, problems, a.stderr):
        return c
    by_rel = index_records(c, recs, a.root)
    entries = walk_files(a.root)
    rels = {rel_of(p, a.root): p for p in entries}
    ghost = [show(r) for r in by_rel if r not in rels]
    c.check(not ghost, "every record names a file of the corpus", ghost)
    named = [rel for rel, p in rels.items()
             if os.path.isfile(p) and not os.path.islink(p) and
             has_image_ext(os.path.basename(rel))]
    missing = [show(r) for r in named if r not in by_rel]
    c.check(not missing, "each of the %d files named like an image has a "
            "record" % len(named), missing)
    c.check(len(recs) + summ.get("ignored", -1) == len(entries),
            "records (%d) + ignored (%s) = the %d files in the corpus"
            % (len(recs), summ.get("ignored"), len(entries)))
    bad = ["%s: %s: %s" % (show(rel), rec_class(rs[0]),
                           (rs[0].get("error") or {}).get("message", ""))
           for rel, rs in sorted(by_rel.items())
           if rec_class(rs[0]) in BAD_CLASSES]
    c.check(not bad, "no worker crash, timeout or internal error", bad)
    slow = ["%s: %.0f ms" % (show(rel), rs[0]["ms"])
            for rel, rs in sorted(by_rel.items())
            if (rs[0].get("ms") or 0) > 20000]
    c.check(not slow, "no file took longer than the 20 s timeout", slow)

    verifier = OutputVerifier(None, False)
    for rel, rs in sorted(by_rel.items()):
        if rs[0].get("status") == "ok":
            verifier.add(rs[0], show(rel), max_side=a.max_side)
    outprobs = verifier.run()
    c.check(not outprobs, "%d ok outputs are complete 3-component JPEGs of "
            "the recorded size%s" % (len(verifier.items),
                                     " within %d" % a.max_side
                                     if a.max_side else ""), outprobs)
    check_out_dir(c, a.out, recs)

    # Information for people: classes seen, and where the result differs
    # from the corpus manifest's expectation for a JPEG thumbnailer.
    table = collections.Counter(
        (r.get("status"), rec_class(r) or "-") for r in recs)
    print("    %-8s %-22s %s" % ("status", "class", "files"))
    for (st, cls), n in sorted(table.items()):
        print("    %-8s %-22s %d" % (st, cls, n))
    slowest = sorted(recs, key=lambda r: -(r.get("ms") or 0))[:3]
    print("    slowest: " + ", ".join(
        "%s %.0f ms" % (show(os.path.basename(rec_bytes(r, "path"))),
                        r.get("ms") or 0) for r in slowest))
    man = load_manifest(a.manifest) if a.manifest else {}
    if man and a.show_manifest:
        notes = []
        for rel, rs in sorted(by_rel.items()):
            row = man.get(os.fsdecode(rel))
            if row is None:
                continue
            want = row.get("expected_for_jpeg_thumbnailer", "")
            got = rs[0].get("status")
            if want.startswith("ok") and got != "ok":
                notes.append("%s: expected %s, got %s: %s"
                             % (show(rel), want, rec_class(rs[0]),
                                (rs[0].get("error") or {})
                                .get("message", "")[:90]))
        if notes:
            print("    %d files the manifest expects ok (or ok-or-error) "
                  "failed:" % len(notes))
            for n in notes:
                print("      " + show(n))
    return c


def main():
    try:
        sys.stdout.reconfigure(errors="backslashreplace")
    except AttributeError:
        pass
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)

    def common(p, stderr=True):
        p.add_argument("--report", required=True)
        p.add_argument("--root", required=True)
        p.add_argument("--out")
        if stderr:
            p.add_argument("--stderr")
        return p

    p = common(sub.add_parser("hostile"))
    p.add_argument("--expect", required=True)
    p.add_argument("--checkdir", required=True)
    p.add_argument("--decode", action="store_true")
    p = common(sub.add_parser("strict"))
    p.add_argument("--jpg-size", type=int, required=True)
    p.add_argument("--png-size", type=int, required=True)
    p = common(sub.add_parser("faults"))
    p.add_argument("--glob", required=True)
    p.add_argument("--cls", required=True)
    p.add_argument("--message")
    p.add_argument("--expect-hits", type=int, required=True)
    p.add_argument("--max-ms", type=float)
    p = common(sub.add_parser("many"), stderr=False)
    p.add_argument("--n", type=int, required=True)
    common(sub.add_parser("follow"), stderr=False)
    p = common(sub.add_parser("rerun"))
    p.add_argument("--first", required=True)
    p = common(sub.add_parser("corpus"))
    p.add_argument("--manifest")
    p.add_argument("--max-side", type=int)
    p.add_argument("--show-manifest", action="store_true")
    a = ap.parse_args()

    c = {"hostile": cmd_hostile, "strict": cmd_strict, "faults": cmd_faults,
         "many": cmd_many, "follow": cmd_follow, "rerun": cmd_rerun,
         "corpus": cmd_corpus}[a.mode](a)
    sys.exit(1 if c.failures else 0)


if __name__ == "__main__":
    main()
