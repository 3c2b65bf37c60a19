#!/usr/bin/env bash
# tests/robustness/run.sh - run imgpool over hostile inputs and check that
# the batch survives them.
#
# usage: tests/robustness/run.sh IMGPOOL_BINARY
#
# Builds a tree of damaged, absurd and special files (gen.py) in a temporary
# directory, runs the binary over it and checks every record (check.py),
# then runs the fault-injection, memory and shared-corpus passes.  Prints
# one PASS/FAIL line per check and ends with "N passed, N failed"; exits 1
# when any check failed, 2 on a usage error.  Needs bash, coreutils,
# findutils and python3 (standard library only); the libvips tools
# (vips, vipsheader), when present, decode the outputs.
#
# What it checks, in order: (1) the hostile tree: exit 1, one record per
# candidate file with the expected status and class, decodable outputs of
# at most 300 px, absurd headers refused from the header, input untouched,
# no temporary or stray file in the output, no process left behind; the
# same run again skips every ok file as up to date; (2) recompress
# --fail-on error fails every truncated file; (3) --follow-symlinks over a
# symlink loop; (4) IMGPOOL_FAULT crash/abort/exit/hang/leak: exactly the
# matching files fail, as worker-crashed or timeout; (5) the master's peak
# RSS over 2,000 files against 200; (6) ../shared/corpus/odd, when present,
# in thumbnail and strict recompress mode.
#
# Under AddressSanitizer, run it with ASAN_OPTIONS=handle_segv=0 so that
# deliberately crashed workers die of their signal.  The script then turns
# the per-worker memory cap off (ASan cannot start under it) and caps single
# allocations through ASAN_OPTIONS instead.
set -u -o pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ] || [ -d "$1" ]; then
    echo "usage: $0 IMGPOOL_BINARY" >&2
    exit 2
fi
BIN=$(realpath -e -- "$1") || exit 2
HERE=$(cd -- "$(dirname -- "$0")" && pwd)
REPO=$(cd -- "$HERE/../.." && pwd)
CORPUS=$REPO/../shared/corpus/odd
JOBS=2

if ! command -v python3 >/dev/null; then
    echo "$0: python3 is required" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/imgpool-robustness.XXXXXX") || exit 2
RUNNING=""
cleanup() {
    # Interrupted during a run: do not leave it behind.
    [ -n "$RUNNING" ] && kill -KILL "$RUNNING" 2>/dev/null
    # The generated tree has a mode-000 file; give everything back first.
    chmod -R u+rwx -- "$TMP" 2>/dev/null
    rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

npass=0
nfail=0
T0=$EPOCHREALTIME

pass() { npass=$((npass + 1)); echo "PASS: $*"; }
fail() { nfail=$((nfail + 1)); echo "FAIL: $*"; }
check() { # check CONDITION-STATUS DESCRIPTION
    if [ "$1" -eq 0 ]; then pass "$2"; else fail "$2"; fi
}
same() { # same A B DESCRIPTION
    if [ "$1" = "$2" ]; then pass "$3"; else fail "$3"; fi
}
section() { echo; echo "== $*"; }

# Milliseconds since the epoch, from bash's own clock (no fork).
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
}

# Run a python check and count its PASS/FAIL lines.
pycheck() {
    local line
    while IFS= read -r line; do
        case $line in
        "PASS: "*) npass=$((npass + 1)) ;;
        "FAIL: "*) nfail=$((nfail + 1)) ;;
        esac
        printf '%s\n' "$line"
    done < <(python3 "$HERE/check.py" "$@" 2>&1)
}

# run_imgpool LIMIT_S STDERR_FILE ARG...
#
# Runs the binary in the background and watches it every 50 ms: its peak
# RSS (VmHWM from /proc, the master alone, not its workers) and the PIDs of
# its children.  Past LIMIT_S seconds it is killed and HUNG set.  Sets RC,
# ELAPSED_MS, HWM_KB, HUNG, MASTER and WORKERS.
run_imgpool() {
    local limit_ms=$(($1 * 1000)) errf=$2 start line st k v kids
    shift 2
    start=$(now_ms)
    "$BIN" "$@" "${EXTRA[@]}" >"$errf.stdout" 2>"$errf" &
    MASTER=$!
    RUNNING=$MASTER
    HWM_KB=0
    HUNG=0
    WORKERS=" "
    while :; do
        { IFS= read -r line </proc/$MASTER/stat; } 2>/dev/null || break
        st=${line##*) }
        st=${st%% *}
        [ "$st" = Z ] && break
        while read -r k v _; do
            [ "$k" = VmHWM: ] && HWM_KB=$v
        done 2>/dev/null </proc/$MASTER/status
        # The list has no trailing newline: read fails but fills kids.
        kids=""
        { read -r kids </proc/$MASTER/task/$MASTER/children; } 2>/dev/null
        for k in $kids; do
            case $WORKERS in *" $k "*) ;; *) WORKERS+="$k " ;; esac
        done
        if [ $(($(now_ms) - start)) -gt "$limit_ms" ]; then
            HUNG=1
            kill -TERM "$MASTER" 2>/dev/null
            sleep 5
            kill -KILL "$MASTER" 2>/dev/null
            break
        fi
        sleep 0.05
    done
    wait "$MASTER"
    RC=$?
    RUNNING=""
    ELAPSED_MS=$(($(now_ms) - start))
}

# After a run: no process of the run is left (alive or zombie), and no
# process anywhere is running this binary.
check_procs() {
    local what=$1 left="" pid line comm st d
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        left=""
        for pid in $MASTER $WORKERS; do
            { IFS= read -r line <"/proc/$pid/stat"; } 2>/dev/null || continue
            comm=${line#*\(}
            comm=${comm%%)*}
            st=${line##*) }
            st=${st%% *}
            [ "$comm" = imgpool ] && left+=" $pid($st)"
        done
        for d in /proc/[0-9]*; do
            # -ef follows /proc/PID/exe to the executable itself.
            if [[ $d/exe -ef $BIN ]]; then
                case $left in *" ${d#/proc/}("*) ;; *) left+=" ${d#/proc/}(run)" ;; esac
            fi
        done
        [ -z "$left" ] && break
        sleep 0.2    # a reparented zombie may take a moment to be reaped
    done
    if [ -z "$left" ]; then
        pass "$what: no imgpool process left (master and $(wc -w <<<"$WORKERS") workers seen gone, no zombie, no orphan)"
    else
        fail "$what: imgpool processes left behind:$left"
        ps -o pid,ppid,stat,args -p "${left//[!0-9 ]/ }" 2>/dev/null | sed 's/^/    /'
    fi
}

# A digest of a tree: names, types, modes, sizes, mtimes, link targets, and
# the contents of regular files under 64 MiB (not the 2 GiB sparse one).
# With --exclude-state, the state directory .imgpool/ at the top is left
# out (it records every run).
tree_digest() {
    local prune=()
    [ "${2:-}" = --exclude-state ] && prune=(-path ./.imgpool -prune -o)
    (
        cd -- "$1" || exit 1
        find . "${prune[@]}" -printf '%y %m %s %T@ %p -> %l\0' |
            sort -z | sha256sum
        find . "${prune[@]}" -type f -size -64M -print0 | sort -z |
            xargs -0 -r sha256sum 2>/dev/null | sha256sum
    )
}

run_ok() { # run_ok WHAT: the run neither hung nor died of a signal
    if [ "$HUNG" -eq 1 ]; then
        fail "$1: killed after the time limit (hang)"
        return 1
    fi
    if [ "$RC" -ge 128 ]; then
        fail "$1: imgpool died of signal $((RC - 128))"
        return 1
    fi
    return 0
}

echo "imgpool robustness run"
echo "binary:  $BIN ($(timeout 10 "$BIN" --version 2>&1 | head -n 1))"
echo "tmp:     $TMP"
ASAN=0
EXTRA=()    # arguments added to every run
if grep -aq __asan_init "$BIN"; then
    ASAN=1
    # The default per-worker memory cap (RLIMIT_DATA) leaves no room for
    # ASan's shadow memory: every worker would die at start.  Cap single
    # allocations in ASan's allocator instead, so that a file declaring a
    # 2 GiB chunk fails fast as it does under the real 2 GiB cap.
    EXTRA=(--max-memory 0)
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_allocation_size_mb=1024:allocator_may_return_null=1"
    echo "build:   AddressSanitizer; every run gets --max-memory 0 and"
    echo "         ASAN_OPTIONS=$ASAN_OPTIONS"
fi
if [ "$(id -u)" -eq 0 ]; then
    echo "user:    root (a mode-000 file is readable: expected ok)"
fi

# ----------------------------------------------------------------------
section "1. hostile tree"

IN=$TMP/in
OUT=$TMP/out
python3 "$HERE/gen.py" "$REPO/testdata" "$IN" "$TMP/expect.jsonl"
check $? "generate the hostile tree ($(wc -l <"$TMP/expect.jsonl") entries) from testdata/"
sparse_kb=$(du -k "$IN/special/big.jpg" | cut -f1)
echo "    big.jpg: $(stat -c %s "$IN/special/big.jpg") bytes, ${sparse_kb} KiB on disk"
digest_before=$(tree_digest "$IN")

run_imgpool 300 "$TMP/err1" thumbnail "$IN" -o "$OUT" \
    --report "$TMP/r1.jsonl" -j $JOBS --timeout 20
if run_ok "thumbnail over the hostile tree"; then
    check $((RC != 1)) "thumbnail over the hostile tree exits 1 (some failed, batch survived): got $RC"
fi
check $((ELAPSED_MS > 60000)) "hostile run takes under 60 s: ${ELAPSED_MS} ms"
check_procs "hostile run"
pycheck hostile --report "$TMP/r1.jsonl" --root "$IN" --out "$OUT" \
    --stderr "$TMP/err1" --expect "$TMP/expect.jsonl" \
    --checkdir "$TMP/decoded" --decode
digest_after=$(tree_digest "$IN")
same "$digest_before" "$digest_after" \
    "input tree unchanged (names, modes, sizes, mtimes, contents)"

echo "-- the same run again, into the same output tree"
out_before=$(tree_digest "$OUT" --exclude-state)
run_imgpool 300 "$TMP/err1b" thumbnail "$IN" -o "$OUT" \
    --report "$TMP/r1b.jsonl" -j $JOBS --timeout 20
if run_ok "second hostile run"; then
    check $((RC != 1)) "second run exits 1 (the same failures): got $RC"
fi
check_procs "second hostile run"
pycheck rerun --report "$TMP/r1b.jsonl" --first "$TMP/r1.jsonl" \
    --root "$IN" --out "$OUT" --stderr "$TMP/err1b"
same "$out_before" "$(tree_digest "$OUT" --exclude-state)" \
    "second run rewrote no output"
same "$digest_before" "$(tree_digest "$IN")" "input tree still unchanged"

# ----------------------------------------------------------------------
section "2. strict decoding of truncated files (recompress, --fail-on error)"

STRICT=$TMP/strict
mkdir -p "$STRICT"
cp -p "$IN"/trunc/* "$IN"/good/c1/g1_rgb_jpg.jpg "$IN"/good/c1/g1_rgb_png.png "$STRICT"/
run_imgpool 120 "$TMP/err2" recompress "$STRICT" -o "$TMP/out2" \
    --report "$TMP/r2.jsonl" -j $JOBS --timeout 20 --fail-on error
if run_ok "recompress --fail-on error"; then
    check $((RC != 1)) "recompress --fail-on error over truncated files exits 1: got $RC"
fi
check_procs "strict run"
pycheck strict --report "$TMP/r2.jsonl" --root "$STRICT" --out "$TMP/out2" \
    --stderr "$TMP/err2" --jpg-size "$(stat -c %s "$REPO/testdata/rgb.jpg")" \
    --png-size "$(stat -c %s "$REPO/testdata/rgb.png")"

# ----------------------------------------------------------------------
section "3. --follow-symlinks over the hostile tree (a/loop -> ..)"

run_imgpool 120 "$TMP/err3" thumbnail "$IN" -o "$TMP/out3" \
    --report "$TMP/r3.jsonl" -j $JOBS --timeout 20 --follow-symlinks
if run_ok "--follow-symlinks"; then
    check $((RC != 1)) "--follow-symlinks run exits 1: got $RC"
fi
grep -q "cycle" "$TMP/err3"
check $? "the symlink loop is reported as a directory cycle on stderr"
check_procs "follow-symlinks run"
pycheck follow --report "$TMP/r3.jsonl" --root "$IN" --out "$TMP/out3"

# ----------------------------------------------------------------------
section "4. fault injection (IMGPOOL_FAULT) on good files"

FAULTS=$TMP/faults
cp -a "$IN/good" "$FAULTS"
# fault_run KIND GLOB HITS CLASSES MESSAGE TIMEOUT LIMIT_S [EXTRA...]
fault_run() {
    local kind=$1 glob=$2 hits=$3 cls=$4 msg=$5 timeout=$6 limit=$7
    shift 7
    local out=$TMP/fout-$kind rep=$TMP/fr-$kind.jsonl max_ms=""
    echo "-- IMGPOOL_FAULT=$kind:$glob --timeout $timeout $*"
    IMGPOOL_FAULT="$kind:$glob" run_imgpool 120 "$TMP/ferr-$kind" \
        thumbnail "$FAULTS" -o "$out" --report "$rep" -j $JOBS \
        --timeout "$timeout" "$@"
    if run_ok "fault $kind"; then
        check $((RC != 1)) "fault $kind: exits 1: got $RC"
    fi
    check $((ELAPSED_MS > limit * 1000)) "fault $kind: run takes under $limit s: ${ELAPSED_MS} ms"
    check_procs "fault $kind"
    [ "$kind" = hang ] && max_ms=$(( (timeout + 3) * 1000 ))
    pycheck faults --report "$rep" --root "$FAULTS" --out "$out" \
        --stderr "$TMP/ferr-$kind" --glob "$glob" --cls "$cls" \
        --message "$msg" --expect-hits "$hits" ${max_ms:+--max-ms $max_ms}
}
if ! strings -a "$BIN" | grep -q IMGPOOL_FAULT; then
    # a Release build: fault injection is compiled into test builds only
    echo "skip: $BIN has no fault injection (IMGPOOL_FAULT_INJECTION off)"
else
    fault_run crash '*_rgb_jpg.*' 3 worker-crashed "signal 11" 20 60
    fault_run abort 'g2_orient[1-4]_*' 4 worker-crashed "signal 6" 20 60
    fault_run exit '*gray*' 9 worker-crashed "status 3" 20 60
    # Two hung files, two workers, 2 s timeout: about 2 s, not 20.
    fault_run hang 'g1_rgb_*' 2 timeout "after 2 s" 2 30
    if [ "$ASAN" -eq 1 ]; then
        echo "skip: fault leak (needs the memory cap, which ASan's shadow memory does not fit in)"
    else
        fault_run leak 'g3_p3_*' 1 worker-crashed,out-of-memory "" 20 60 \
            --max-memory 1024
    fi
fi

# ----------------------------------------------------------------------
section "5. master memory: 200 vs 2,000 files"

MANY=$TMP/many
python3 - "$REPO/testdata/tree/a/b/deep.jpg" "$MANY" <<'EOF'
import os, shutil, sys
src, root = sys.argv[1], sys.argv[2]
for n in (200, 2000):
    d = os.path.join(root, "n%d" % n)
    os.makedirs(d)
    first = os.path.join(d, "f00000.jpg")
    shutil.copy(src, first)
    for i in range(1, n):
        os.link(first, os.path.join(d, "f%05d.jpg" % i))
EOF
check $? "make 200 and 2,000 hard links to a 32x24 JPEG"
# ASan keeps freed blocks in a quarantine (256 MB by default), so the
# master's RSS would grow with every allocation made, leaked or not.
asan_mem=${ASAN_OPTIONS:-}
[ "$ASAN" -eq 1 ] && asan_mem="${asan_mem:+$asan_mem:}quarantine_size_mb=0"
declare -A HWM
for n in 200 2000; do
    ASAN_OPTIONS=$asan_mem run_imgpool 240 "$TMP/merr-$n" \
        thumbnail "$MANY/n$n" -o "$TMP/mout-$n" \
        --report "$TMP/mr-$n.jsonl" -j $JOBS --timeout 20
    HWM[$n]=$HWM_KB
    if run_ok "$n files"; then
        check $((RC != 0)) "$n files: exits 0: got $RC (${ELAPSED_MS} ms, master VmHWM ${HWM_KB} kB)"
    fi
    check_procs "$n files"
    pycheck many --report "$TMP/mr-$n.jsonl" --root "$MANY/n$n" --n "$n"
done
limit=$((HWM[200] * 3 / 2 + 4096))
check $((HWM[200] == 0 || HWM[2000] == 0 || HWM[2000] > limit)) \
    "master peak RSS flat: ${HWM[2000]} kB for 2,000 files <= 1.5 x ${HWM[200]} kB + 4 MiB = $limit kB"

# ----------------------------------------------------------------------
section "6. shared corpus of odd files"

if [ ! -d "$CORPUS" ]; then
    echo "skipping shared corpus: ../shared/corpus/odd not found"
else
    CORP=$TMP/corpus
    cp -a "$CORPUS" "$CORP"
    echo "    $(find "$CORP" -type f | wc -l) files copied from $(realpath "$CORPUS")"
    corpus_run() { # corpus_run NAME MAX_SIDE ARGS...
        local name=$1 side=$2
        shift 2
        echo "-- imgpool $*"
        run_imgpool 300 "$TMP/cerr-$name" "$@" "$CORP" -o "$TMP/cout-$name" \
            --report "$TMP/cr-$name.jsonl" -j $JOBS --timeout 20
        if run_ok "corpus $name"; then
            check $((RC != 0 && RC != 1)) "corpus $name: exits 0 or 1: got $RC (${ELAPSED_MS} ms)"
        fi
        check $((ELAPSED_MS > 300000)) "corpus $name: under 5 minutes: ${ELAPSED_MS} ms"
        check_procs "corpus $name"
        pycheck corpus --report "$TMP/cr-$name.jsonl" --root "$CORP" \
            --out "$TMP/cout-$name" --stderr "$TMP/cerr-$name" \
            --manifest "$CORP/MANIFEST.tsv" ${side:+--max-side $side} \
            ${SHOW_MANIFEST:+--show-manifest}
    }
    corpus_run thumbnail 300 thumbnail
    corpus_run recompress "" recompress --fail-on error
fi

# ----------------------------------------------------------------------
echo
echo "time: $(( ($(now_ms) - ${T0/[.,]/} / 1000) / 1000 )) s"
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
