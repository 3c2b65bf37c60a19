#!/usr/bin/env bash
#
# setup.sh - install what tests/bench/run.sh and corpus.sh use (Debian 12).
# Pillow comes from Debian's python3-pil and runs under /usr/bin/python3.
#
#   tests/bench/setup.sh            the Debian packages
#   tests/bench/setup.sh --sharp    also sharp (npm) into CACHE/node
#
# sharp comes from npm with its own prebuilt libvips; it is installed under
# the corpus cache (/tmp/imgpool-bench/node, or $IMGPOOL_BENCH_CACHE/node),
# not in the repository, and works offline from then on.  Node.js and npm
# come from Debian (nodejs, npm) when they are missing.
set -euo pipefail
sharp=0
for arg in "$@"; do
    case $arg in
    --sharp) sharp=1 ;;
    *) echo "usage: setup.sh [--sharp]" >&2; exit 2 ;;
    esac
done
pkgs="time parallel imagemagick python3-pil libvips-tools bc jpegoptim
      gcc libc6-dev libturbojpeg0-dev libpng-dev liblcms2-dev
      libimage-exiftool-perl"
if [ $sharp = 1 ]; then
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
fi
apt-get update
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
if [ $sharp = 1 ]; then
    dir=${IMGPOOL_BENCH_CACHE:-/tmp/imgpool-bench}/node
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund sharp)
    node -e '
const { createRequire } = require("module");
const s = createRequire(process.argv[1] + "/package.json")("sharp");
console.log(`setup.sh: sharp ${s.versions.sharp} (libvips ${s.versions.vips}) in ${process.argv[1]}`);' "$dir"
fi
