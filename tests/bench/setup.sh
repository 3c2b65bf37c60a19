#!/usr/bin/env bash
#
# setup.sh - install what tests/bench/run.sh and corpus.sh use (Debian 12).
# Pillow comes from Debian's python3-pil and runs under /usr/bin/python3.
set -euo pipefail
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    time parallel imagemagick python3-pil libvips-tools bc \
    gcc libc6-dev libturbojpeg0-dev libpng-dev
