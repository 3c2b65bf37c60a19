#!/usr/bin/env bash
# Leak check of the master process over 10,000 files (valgrind memcheck).
# Workers run under valgrind too but stay silent (--child-silent-after-fork):
# what is checked is the master, which lives for the whole run and must
# not grow or leak per file.
#   tests/leakcheck.sh IMGPOOL_BINARY [NFILES]
set -euo pipefail
bin=$1
n=${2:-10000}
command -v valgrind >/dev/null || { echo "leakcheck: valgrind not installed" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
here=$(cd "$(dirname "$0")/.." && pwd)

# One tiny JPEG, hard-linked 10,000 times over 100 directories: each link
# is a separate input path, so each is its own task and record.
mkdir -p "$work/in"
vips thumbnail "$here/testdata/rgb.jpg" "$work/tiny.jpg" 16
for ((i = 0; i < n; i++)); do
    d=$work/in/d$((i % 100))
    [ -d "$d" ] || mkdir "$d"
    ln "$work/tiny.jpg" "$d/f$i.jpg"
done

# Some CPUs make valgrind itself unusable here: Debian's libhwy (linked
# through libjxl) runs RDTSCP in its start-up code, and valgrind 3.19
# stops there with SIGILL on machines where it does not decode it, before
# imgpool's main().  That is the machine, not a leak: say so and skip.
if ! VIPSHOME=$work/no-vips-modules valgrind -q --log-file="$work/probe.log" \
        "$bin" --version >/dev/null 2>&1; then
    if grep -q "SIGILL" "$work/probe.log" && grep -q "hwy" "$work/probe.log"; then
        echo "leakcheck: SKIPPED (environment): valgrind cannot run libhwy's" \
             "start-up on this CPU (SIGILL at RDTSCP before main)"
        exit 0
    fi
fi

echo "leakcheck: $n files under valgrind (this takes a minute or two)"
status=0
# libvips loads its optional modules (JPEG XL, HEIF, ImageMagick...) at
# start-up; on CPUs with RDTSCP, Debian's libhwy (through the JPEG XL module)
# runs an instruction valgrind cannot decode and the workers die with
# SIGILL.  A VIPSHOME without modules keeps them out: this run reads only
# JPEG, which is built in.
VIPSHOME=$work/no-vips-modules \
valgrind --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
    --child-silent-after-fork=yes --log-file="$work/vg.log" \
    "$bin" thumbnail "$work/in" -o "$work/out" --report "$work/r.jsonl" \
    -j 2 || status=$?
grep -E "definitely lost|indirectly lost|ERROR SUMMARY" "$work/vg.log" || true
records=$(grep -c '"status":"ok"' "$work/r.jsonl" || true)
pass=0
fail=0
if [ "$status" -eq 0 ]; then
    pass=$((pass + 1)); echo "ok - valgrind: no errors, no leaks in the master"
else
    fail=$((fail + 1)); echo "not ok - valgrind exit $status"; tail -40 "$work/vg.log"
fi
if [ "$records" -eq "$n" ]; then
    pass=$((pass + 1)); echo "ok - $records ok records"
else
    fail=$((fail + 1)); echo "not ok - $records ok records, expected $n"
fi
echo "leakcheck: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
