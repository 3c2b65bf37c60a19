#!/usr/bin/env bash
# tests/cluster/pidns-hosts.sh [IMGPOOL_BINARY [ROUNDS]]
#
# Two shards on "two hosts" sharing one output tree, where the second host
# is a second PID namespace on this machine (unshare --user
# --map-root-user --pid --fork --mount-proc): pids of one mean nothing in
# the other, as between two machines on one shared file system.  Shard 0/2
# and shard 1/2 run at the same time into one -o, the namespaced one
# alternating between rounds, and each round is checked against a single
# unsharded run like parallel-hosts.sh does:
#   1. each shard's exit status is 1 when its report holds a failed record,
#      else 0 (never a "cannot rename output into place" failure)
#   2. the shards are disjoint and cover every file
#   3. their merged report equals the single run's
#   4. the output tree equals the single run's, byte for byte, with no
#      temporary file left
# tests/test_shards_pidns.c races the two harder (large files, the second
# shard starting while the first writes); this script checks the whole
# job's result.  Default binary: build/imgpool of this checkout; default
# ROUNDS: 3.  Prints "pidns-hosts: P passed, F failed"; exits 1 on any
# failure, 2 when it cannot run, 0 with a "skip" line when namespaces are
# not available here.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CL_NAME="pidns-hosts"
CL_TESTDATA=$repo/testdata
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

IMGPOOL=${1:-$repo/build/imgpool}
ROUNDS=${2:-3}
[ -x "$IMGPOOL" ] || cl_die "no imgpool binary at '$IMGPOOL' (build it, or pass its path)"
IMGPOOL=$(cd "$(dirname "$IMGPOOL")" && pwd)/$(basename "$IMGPOOL")
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || cl_die "ROUNDS must be a positive number, not '$ROUNDS'"

cl_need_pkgs jq

UNSHARE=(unshare --user --map-root-user --pid --fork --mount-proc)
if ! "${UNSHARE[@]}" true >/dev/null 2>&1; then
    cl_skip "user and PID namespaces are not available here ('${UNSHARE[*]} true' failed)"
    cl_finish
    exit 0
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/imgpool-pidns.XXXXXX") || cl_die "mktemp failed"
CL_WORK=$W
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TREE=$W/tree
cl_make_tree "$TREE"
cl_say "test tree: $(find "$TREE" -type f | wc -l) files under $TREE"
cl_reference "$TREE" "$W/ref" "$W/ref.jsonl"

# run_round R: both shards at once into $W/out-R; shard (R mod 2) runs in
# its own namespace.
run_round() {
    local r=$1 out=$W/out-$1 rd=$W/reports-$1 sd=$W/status-$1 k pids=()
    mkdir -p "$out" "$rd" "$sd"
    for k in 0 1; do
        local cmd=("$IMGPOOL" thumbnail "$TREE" -o "$out" --shard "$k/2"
                   --report "$rd/shard-$k.jsonl" -j 2 --quiet)
        if [ $((r % 2)) -eq "$k" ]; then cmd=("${UNSHARE[@]}" "${cmd[@]}"); fi
        ( rc=0; "${cmd[@]}" 2>"$rd/shard-$k.stderr" || rc=$?
          echo "$rc" >"$sd/shard-$k.rc" ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    cl_say "round $r: shard $((r % 2)) in its own PID namespace"
    cl_check_exit_codes 2 "$sd" "$rd" "(round $r)"
    if grep -h "cannot rename" "$rd"/shard-*.stderr >"$W/renames"; then
        cl_fail "round $r: a shard lost a temporary file"
        cl_show "$W/renames"
    fi
    cl_check_disjoint 2 "$rd"
    cl_check_merges 2 "$rd" "$out"
    cl_check_outputs "$out" "$W/merged.jsonl"
}

for ((round = 0; round < ROUNDS; round++)); do
    run_round "$round"
done
cl_finish
