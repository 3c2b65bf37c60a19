#!/usr/bin/env bash
#
# same_outputs.sh - do two builds make the same files and the same records?
#
#   tests/bench/same_outputs.sh OLD_IMGPOOL NEW_IMGPOOL WORK INPUT...
#
# For a change that must not change behaviour (a refactoring): both
# binaries run the same commands over the same INPUTs (directories), each
# into WORK/old and WORK/new:
#   thumbnail; thumbnail -s 100 -s 200; thumbnail -f png;
#   recompress -o; recompress -q 70 -o;
#   recompress --in-place on a copy of the INPUTs (cp -a, times kept):
#     as it comes, -q 60 with --backup, --force --min-saving 0,
#     --lossless, --dry-run -q 50;
#   thumbnail --freedesktop (HOME in WORK) twice (the second finds every
#     thumbnail current), then --flavor all, then --dry-run on an empty
#     cache.
# Then it compares: every file (diff -r, without .imgpool/), the in-place
# copies' mtimes, modes and owners, the cache files' modes, each command's
# exit code, and each --report with times taken out and lines sorted (the
# order of records follows the workers).  Prints one line per comparison
# and "same" or "DIFFERENT" at the end; exits 1 when anything differs.

set -euo pipefail

[ $# -ge 4 ] || { sed -n '5p' "$0" | sed 's/^# *//; s/^/usage: /' >&2; exit 2; }
old=$1 new=$2 work=$3
shift 3
inputs=("$@")

# run BIN OUT: every command above into OUT.
run() {
    local bin=$1 out=$2 v o d
    rm -rf "$out"
    mkdir -p "$out/home"
    one() { # NAME ARGS...
        local name=$1
        shift
        local rc=0
        "$bin" "$@" --report "$out/$name.json" >/dev/null 2>&1 || rc=$?
        echo "$name rc=$rc" >>"$out/rcs"
    }
    one thumb thumbnail -j 2 "${inputs[@]}" -o "$out/thumb"
    one sizes thumbnail -j 2 -s 100 -s 200 "${inputs[@]}" -o "$out/sizes"
    one thumbpng thumbnail -j 2 -f png "${inputs[@]}" -o "$out/thumbpng"
    one recomp recompress -j 2 "${inputs[@]}" -o "$out/recomp"
    one recomp70 recompress -j 2 -q 70 "${inputs[@]}" -o "$out/recomp70"
    for v in default q60 force lossless dry; do
        mkdir -p "$out/inplace_$v"
        for d in "${inputs[@]}"; do cp -a "$d" "$out/inplace_$v/"; done
        case $v in
        default) o=() ;;
        q60) o=(-q 60 --backup "$out/backup_q60") ;;
        force) o=(--force --min-saving 0) ;;
        lossless) o=(--lossless) ;;
        dry) o=(--dry-run -q 50) ;;
        esac
        one "inplace_$v" recompress -j 2 --in-place "${o[@]}" "$out/inplace_$v"
    done
    HOME=$out/home XDG_CACHE_HOME='' one fd thumbnail -j 2 --freedesktop "${inputs[@]}"
    HOME=$out/home XDG_CACHE_HOME='' one fd2 thumbnail -j 2 --freedesktop "${inputs[@]}"
    HOME=$out/home XDG_CACHE_HOME='' one fdall thumbnail -j 2 --freedesktop \
        --flavor all "${inputs[@]}"
    HOME=$out/home2 XDG_CACHE_HOME='' one fddry thumbnail -j 2 --freedesktop \
        --dry-run "${inputs[@]}"
}

# The reports of OUT, times out, OUT's name as OUT, sorted.
reports() {
    local f
    for f in "$1"/*.json; do
        echo "== ${f##*/}"
        sed -e "s#$1#OUT#g" -e 's/"ms":[0-9.]*/"ms":X/; s/"seconds":[0-9.]*/"seconds":X/' \
            "$f" | sort
    done
}

# What the in-place runs left: name, mtime, mode, owner of every file.
attrs() {
    (cd "$1" && find . -path '*/.imgpool' -prune -o -type f \
        -printf '%P %T@ %m %U\n' | sort)
}

run "$old" "$work/old"
run "$new" "$work/new"

bad=0
check() { # NAME CMD...
    if "${@:2}" >/dev/null; then echo "same: $1"; else echo "DIFFERENT: $1"; bad=1; fi
}
check "files (diff -r -x .imgpool -x '*.json')" \
    diff -r -q -x .imgpool -x '*.json' "$work/old" "$work/new"
check "exit codes" cmp "$work/old/rcs" "$work/new/rcs"
check "reports without times" cmp <(reports "$work/old") <(reports "$work/new")
for v in default q60 force lossless dry; do
    check "in place $v: mtimes, modes, owners" \
        cmp <(attrs "$work/old/inplace_$v") <(attrs "$work/new/inplace_$v")
done
check "freedesktop cache modes" cmp <(attrs "$work/old/home" | cut -d' ' -f1,3) \
    <(attrs "$work/new/home" | cut -d' ' -f1,3)
echo "$(find "$work/old" -path '*/.imgpool' -prune -o -type f -print | wc -l) files compared"
if [ "$bad" = 0 ]; then echo same; else echo DIFFERENT; exit 1; fi
