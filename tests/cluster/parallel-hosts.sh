#!/usr/bin/env bash
# tests/cluster/parallel-hosts.sh [IMGPOOL_BINARY [N]]
#
# Split one imgpool job into N shards with GNU parallel, the way it would
# run over N hosts ("--sshlogin host1,host2,..."), but with every "host"
# being this machine (--sshlogin ':'), so it needs no ssh.  Then check the
# shards against a single unsharded run of the same tree:
#   1. each shard's exit status (from parallel's --joblog) is 1 when its
#      report holds a failed record, else 0
#   2. the shards are disjoint, cover every file, and split no stem pair
#   3. 'imgpool report merge' of the shard reports equals the single run
#   4. the jq merge recipe of docs/cluster.md gives the same
#   5. the output tree (shared by all shards) equals the single run's
#   6. once imgpool keeps per-shard state (incremental runs), a second run
#      of the same shards skips every ok file as up-to-date and rewrites
#      nothing (skipped, and counted so, with an imgpool without state)
# Default binary: build/imgpool of this checkout; default N: 4.
# Prints "parallel-hosts: P passed, F failed"; exits 1 on any failure,
# 2 when it cannot run.  Installs GNU parallel and jq when missing (root).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CL_NAME="parallel-hosts"
CL_TESTDATA=$repo/testdata
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

IMGPOOL=${1:-$repo/build/imgpool}
N=${2:-4}
[ -x "$IMGPOOL" ] || cl_die "no imgpool binary at '$IMGPOOL' (build it, or pass its path)"
IMGPOOL=$(cd "$(dirname "$IMGPOOL")" && pwd)/$(basename "$IMGPOOL")
[[ "$N" =~ ^[1-9][0-9]*$ ]] || cl_die "N must be a positive number, not '$N'"

cl_need_pkgs parallel jq

W=$(mktemp -d "${TMPDIR:-/tmp}/imgpool-parallel.XXXXXX") || cl_die "mktemp failed"
CL_WORK=$W
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TREE=$W/tree OUT=$W/out REPORTS=$W/out-reports
cl_make_tree "$TREE"
cl_say "test tree: $(find "$TREE" -type f | wc -l) files under $TREE"
cl_reference "$TREE" "$W/ref" "$W/ref.jsonl"

# The command shape for real hosts is the same with
#   --sshlogin host1,host2,host3 (one job per host at a time with --jobs 1)
# and paths that every host sees (a shared file system).  Here ':' is the
# local machine, and --jobs 2 runs two "hosts" at once.
# run_shards REPORTDIR: all N shards into $OUT, exit statuses to
# $W/status/shard-K.rc.
run_shards() {
    local rd=$1 start prc=0
    mkdir -p "$OUT" "$rd" "$W/status"
    rm -f "$W/joblog" "$W"/status/shard-*.rc
    cl_say "running $N shards: parallel --sshlogin : --jobs 2 imgpool ... --shard {}/$N"
    start=$(date +%s)
    seq 0 $((N - 1)) | parallel --will-cite --sshlogin : --jobs 2 \
        --joblog "$W/joblog" \
        "$IMGPOOL" thumbnail "$TREE" -o "$OUT" --shard "{}/$N" \
        --report "$rd/shard-{}.jsonl" -j 1 --quiet \
        2>"$W/parallel.stderr" || prc=$?
    cl_say "parallel exited $prc after $(($(date +%s) - start)) s (its status counts the shards that exited non-zero)"
    # --joblog columns: Seq Host Starttime JobRuntime Send Receive Exitval
    # Signal Command; the shard number is in "--shard K/N" of the command.
    tail -n +2 "$W/joblog" | while IFS=$'\t' read -r _ _ _ _ _ _ ev sig cmd; do
        k=$(sed -n 's|.*--shard \([0-9]*\)/.*|\1|p' <<<"$cmd")
        if [ "$sig" != 0 ]; then ev="signal-$sig"; fi
        echo "$ev" >"$W/status/shard-$k.rc"
    done
    PRC=$prc
}

run_shards "$REPORTS"

cl_check_exit_codes "$N" "$W/status" "$REPORTS" "(parallel exited $PRC)"
cl_check_disjoint "$N" "$REPORTS"
cl_check_merges "$N" "$REPORTS" "$OUT"
cl_check_outputs "$OUT" "$W/merged.jsonl"

# 6. once imgpool keeps state (OUT/.imgpool/state-K-of-N.sqlite), the same
#    shards again: everything up to date, nothing rewritten.
if cl_has_state "$N" "$OUT"; then
    for ((k = 0; k < N; k++)); do
        mv "$W/status/shard-$k.rc" "$W/status/first-$k.rc"
    done
    cl_output_times "$OUT" >"$W/times-before"
    run_shards "$W/rerun-reports"
    cl_check_rerun "$N" "$W/rerun-reports" "$W/status" "$OUT" "$W/times-before"
else
    cl_skip "incremental re-run: this imgpool writes no $OUT/.imgpool/state-K-of-$N.sqlite"
fi

if [ "$CL_FAILED" -ne 0 ]; then
    echo "--- parallel stderr"
    cl_show "$W/parallel.stderr"
    echo "--- joblog"
    cl_show "$W/joblog"
fi
cl_finish
