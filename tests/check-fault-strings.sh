#!/bin/sh
# check-fault-strings.sh BINARY ON|OFF - BINARY holds the string
# IMGPOOL_FAULT (the test-only fault injection, src/worker/fault.h) when
# the build says fault injection is ON, and not at all when it is OFF.
# check-deb.sh makes the same `strings` check on the packaged Release
# binary; this one shows that the check finds the string where it is.
# Exit 77 means skipped.
set -eu

bin=${1:?usage: check-fault-strings.sh BINARY ON|OFF}
want=${2:?usage: check-fault-strings.sh BINARY ON|OFF}
command -v strings >/dev/null || { echo "SKIP: no strings (binutils)"; exit 77; }
n=$(strings -a "$bin" | grep -c IMGPOOL_FAULT || true)
case $want in
ON)  [ "$n" -gt 0 ] || { echo "FAIL: fault injection is on but $bin has no IMGPOOL_FAULT" >&2; exit 1; } ;;
*)   [ "$n" -eq 0 ] || { echo "FAIL: fault injection is off but $bin has IMGPOOL_FAULT" >&2; exit 1; } ;;
esac
echo "check-fault-strings: $bin: fault injection $want, $n IMGPOOL_FAULT strings"
