"""Did a tool convert tagged inputs to sRGB?  Compare its outputs for the
untagged corpus with its outputs for a tagged copy of the same pixels.

    /usr/bin/python3 cm_check.py UNTAGGED_OUT TAGGED_OUT [PROFILE.icc]

Prints the mean absolute difference (0..255 levels, over all channels and
pixels of the outputs present in both directories) between the two sets of
outputs.  A tool that ignores the profile writes (nearly) the same pixels
for both, so the difference is about 0; one that converts Adobe RGB or
Display P3 to sRGB moves saturated colours by several levels.  With
PROFILE, the untagged outputs are also converted from PROFILE to sRGB by
Pillow's ImageCms (lcms2, relative colorimetric) and compared with the
tagged outputs: that difference is the tool's error against an independent
transform, resampling and JPEG noise included.
"""

import os
import sys

from PIL import Image, ImageChops, ImageCms, ImageStat


# Pillow 9.1 moved the intents into an enum and deprecated the constants.
RELATIVE = getattr(getattr(ImageCms, "Intent", None), "RELATIVE_COLORIMETRIC",
                   None)
if RELATIVE is None:
    RELATIVE = ImageCms.INTENT_RELATIVE_COLORIMETRIC


def mean_abs(a, b):
    d = ImageChops.difference(a, b)
    return sum(ImageStat.Stat(d).mean) / 3


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    plain, tagged = argv[0], argv[1]
    xform = None
    if len(argv) == 3:
        xform = ImageCms.buildTransform(
            ImageCms.getOpenProfile(argv[2]), ImageCms.createProfile("sRGB"),
            "RGB", "RGB", RELATIVE)
    names = sorted(set(os.listdir(plain)) & set(os.listdir(tagged)))
    names = [n for n in names if not n.startswith(".")]
    if not names:
        print("cm_check: no outputs in common", file=sys.stderr)
        return 1
    same = ref = 0.0
    for n in names:
        with Image.open(os.path.join(plain, n)) as a, \
                Image.open(os.path.join(tagged, n)) as b:
            a, b = a.convert("RGB"), b.convert("RGB")
            if a.size != b.size:
                b = b.resize(a.size)
            same += mean_abs(a, b)
            if xform is not None:
                ref += mean_abs(ImageCms.applyTransform(a, xform), b)
    line = f"{len(names)} outputs: tagged vs untagged {same / len(names):.2f}"
    if xform is not None:
        line += f", tagged vs ImageCms({os.path.basename(argv[2])}) {ref / len(names):.2f}"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
