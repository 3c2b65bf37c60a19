#!/bin/sh
# check-deb.sh [--release SOURCE_DIR] BUILD_DIR - the .deb that
# `cpack -G DEB` makes from a Release build: its contents (the binary, the
# man page, the bash completion and nothing else), its Depends field (the
# Debian 12 runtime libraries), and a binary without the test-only fault
# injection (no "IMGPOOL_FAULT" in `strings`).  With --release, BUILD_DIR
# is first configured from SOURCE_DIR as the README says
# (-DCMAKE_BUILD_TYPE=Release, without the tests) and built; CTest does
# that in a directory of its build tree.  As root it also installs the
# package with apt-get, runs `imgpool --version` and removes it again
# (skipped when not root, or when an imgpool is already installed there).
# Exit 77 means skipped.
set -eu

usage="usage: check-deb.sh [--release SOURCE_DIR] BUILD_DIR"
fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }
src=
if [ "${1:-}" = --release ]; then
    src=${2:?$usage}
    shift 2
fi
build=${1:?$usage}
command -v cpack >/dev/null || { echo "SKIP: no cpack"; exit 77; }
command -v dpkg-deb >/dev/null || { echo "SKIP: no dpkg-deb"; exit 77; }
command -v strings >/dev/null || { echo "SKIP: no strings (binutils)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
if [ -n "$src" ]; then
    { cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
          -DIMGPOOL_TESTS=OFF && cmake --build "$build"; } \
        >"$tmp/build.log" 2>&1 ||
        fail "Release build: $(tail -20 "$tmp/build.log")"
fi
(cd "$build" && cpack -G DEB -B "$tmp" >"$tmp/cpack.log" 2>&1) ||
    fail "cpack -G DEB: $(cat "$tmp/cpack.log")"
set -- "$tmp"/imgpool_*.deb
[ $# -eq 1 ] && [ -f "$1" ] || fail "no imgpool_*.deb in $(ls "$tmp")"
deb=$1

# Contents: exactly these files (directories aside).
files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sort)
want=$(printf '%s\n' ./usr/bin/imgpool \
    ./usr/share/bash-completion/completions/imgpool \
    ./usr/share/man/man1/imgpool.1 | sort)
[ "$files" = "$want" ] || fail "contents:
$files
want:
$want"

# The packaged binary has no fault injection: nothing in it reads
# IMGPOOL_FAULT (src/worker/fault.h).
dpkg-deb -x "$deb" "$tmp/root"
[ -x "$tmp/root/usr/bin/imgpool" ] || fail "no usr/bin/imgpool to inspect"
if strings -a "$tmp/root/usr/bin/imgpool" | grep -q IMGPOOL_FAULT; then
    fail "the packaged binary contains IMGPOOL_FAULT (fault injection): \
make the .deb from a -DCMAKE_BUILD_TYPE=Release build"
fi
rm -rf "$tmp/root"

# Dependencies: every library the binary links, by its Debian 12 package.
depends=$(dpkg-deb -f "$deb" Depends)
for pkg in libc6 libvips42 libjansson4 libsqlite3-0 libxxhash0 \
           libjpeg62-turbo libpng16-16 libjxl0.7; do
    echo "$depends" | grep -Eq "(^|, )$pkg( |,|$)" ||
        fail "Depends lacks $pkg: $depends"
done
[ "$(dpkg-deb -f "$deb" Package)" = imgpool ] || fail "package name"
version=$(dpkg-deb -f "$deb" Version)
echo "check-deb: $(basename "$deb"): Depends: $depends"

# ---- installing it (root only) ----
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: installing the .deb needs root"
    exit 77
fi
command -v apt-get >/dev/null || { echo "SKIP: no apt-get"; exit 77; }
exec 9>/tmp/imgpool-check-deb.lock
flock 9
if dpkg-query -W -f='${Status}' imgpool 2>/dev/null | grep -q "ok installed" ||
   [ -e /usr/bin/imgpool ]; then
    echo "SKIP: an imgpool is already installed here; not touching it"
    exit 77
fi
cp "$deb" "$tmp/pkg.deb"
chmod 644 "$tmp/pkg.deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o DPkg::Lock::Timeout=300 "$tmp/pkg.deb" >"$tmp/apt.log" 2>&1 ||
    fail "apt-get install: $(tail -20 "$tmp/apt.log")"
rc=0
out=$(/usr/bin/imgpool --version 2>&1) || rc=$?
man_ok=0
[ -f /usr/share/man/man1/imgpool.1 ] && man_ok=1
comp_ok=0
[ -f /usr/share/bash-completion/completions/imgpool ] && comp_ok=1
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q \
    -o DPkg::Lock::Timeout=300 imgpool >"$tmp/apt.log" 2>&1 ||
    fail "apt-get remove: $(tail -20 "$tmp/apt.log")"
[ ! -e /usr/bin/imgpool ] || fail "/usr/bin/imgpool left after removal"
[ "$rc" -eq 0 ] || fail "imgpool --version: exit $rc: $out"
echo "$out" | grep -q "$version" || fail "imgpool --version: '$out'"
[ "$man_ok" -eq 1 ] || fail "man page not installed"
[ "$comp_ok" -eq 1 ] || fail "bash completion not installed"
echo "check-deb: installed, '$out', removed"
