#!/usr/bin/env bash
# tests/cluster/slurm-array.sh [IMGPOOL_BINARY]
#
# Prove imgpool's --shard K/N on a real Slurm, on this one machine:
#   - installs Debian's slurm-wlm and munge if they are missing
#   - starts a private munged (own key and socket), slurmctld and slurmd
#     from a private slurm.conf in a temporary directory (SLURM_CONF points
#     at it; nothing in /etc is read or changed), on free ports
#   - builds a test tree and runs imgpool once, unsharded, as the reference
#   - submits 'sbatch --array=0-3 --wait' of a job whose task K runs
#       imgpool thumbnail TREE -o OUT --shard K/4 --report OUT-reports/shard-K.jsonl -j 1
#   - checks: each task's exit status (Slurm's record and the job's own),
#     the shards are disjoint and complete, 'imgpool report merge' and the
#     jq merge recipe equal the single run, the shared output tree equals
#     the single run's
#   - scancels a running shard: it must exit 143 with a complete report
# A trap stops every daemon it started (by pid, after cancelling any job
# still queued) and removes the temporary directory, whatever happens.
# Needs root (Slurm runs as SlurmUser=root here).  Prints
# "slurm-array: P passed, F failed"; exits 1 when a check failed and 2
# when the cluster could not be set up (the reason is printed, with the
# daemons' logs).  KEEP=1 keeps the temporary directory for a look.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CL_NAME="slurm-array"
CL_TESTDATA=$repo/testdata
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

N=4
IMGPOOL=${1:-$repo/build/imgpool}
[ -x "$IMGPOOL" ] || cl_die "no imgpool binary at '$IMGPOOL' (build it, or pass its path)"
IMGPOOL=$(cd "$(dirname "$IMGPOOL")" && pwd)/$(basename "$IMGPOOL")
[ "$(id -u)" -eq 0 ] || cl_die "run as root: the test cluster runs its daemons as root"

t_start=$(date +%s)
elapsed() { echo "$(($(date +%s) - t_start)) s"; }

# --- packages -----------------------------------------------------------
missing=0
for c in slurmctld slurmd sbatch scontrol sinfo munged mungekey jq; do
    command -v "$c" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 1 ]; then
    cl_need_pkgs slurm-wlm munge jq
fi
# 'slurmctld -V' prints "slurm 22.05.8"
cl_say "$(slurmctld -V), munge $(munged --version 2>&1 | awk '{print $1}' | sed 's/^munge-//'), ready after $(elapsed)"

# --- private cluster ----------------------------------------------------
W=$(mktemp -d "${TMPDIR:-/tmp}/imgpool-slurm.XXXXXX") || cl_die "mktemp failed"
CL_WORK=$W
# munged insists that every directory above its socket is searchable by
# all, and that its key directory is private.
chmod 755 "$W"
mkdir "$W/run" "$W/etc" "$W/state" "$W/spool" "$W/log" "$W/status" "$W/munge"
chmod 755 "$W/run"
chmod 700 "$W/munge"
export SLURM_CONF=$W/etc/slurm.conf

pids=()        # "name:pid" of every daemon started here

# Stop the test cluster; safe to call twice.
stop_cluster() {
    local entry name pid i j f
    [ "${#pids[@]}" -gt 0 ] || return 0
    cl_say "stopping the test cluster"
    # Cancel whatever is still queued or running (a failed or timed-out
    # run), so that no job step outlives its slurmd.
    if [ -S "$W/run/munge.sock" ] && [ -f "$SLURM_CONF" ]; then
        timeout 10 scancel --quiet --user=root >/dev/null 2>&1
        for ((i = 0; i < 20; i++)); do
            [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    # Batch steps record their slurmstepd's pid (the job script's parent).
    for f in "$W"/status/stepd-*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmstepd ] && kill -KILL "$pid"
    done
    # Daemons in reverse start order: slurmd, slurmctld, munged.  The name
    # check guards against a pid that was reused after the daemon died.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        entry=${pids[$i]} name=${entry%%:*} pid=${entry#*:}
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || continue
        kill -TERM "$pid"
        for ((j = 0; j < 50; j++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        wait "$pid" 2>/dev/null
    done
    pids=()
}

waiter=""     # pid of 'timeout sbatch --wait' while it runs
cleanup() {
    local rc=$?
    set +e
    if [ -n "$waiter" ]; then
        kill -TERM "$waiter" 2>/dev/null
        wait "$waiter" 2>/dev/null
    fi
    stop_cluster
    if [ "${KEEP:-0}" = 1 ]; then
        cl_say "kept $W"
    else
        rm -rf "$W"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Print the daemons' logs and give up: the cluster itself did not work.
setup_failed() {
    local f
    for f in "$W"/munge/munged.log "$W"/log/*.log; do
        [ -s "$f" ] || continue
        echo "--- $f (last 25 lines)"
        tail -n 25 "$f"
    done
    cl_die "$*"
}

# start NAME CMD...: run a daemon in the foreground, in the background of
# this script, so its pid is known at once and is what the trap stops.
start() {
    local name=$1
    shift
    "$@" >>"$W/log/$name.stderr" 2>&1 &
    pids+=("$name:$!")
}

# munge: a key of our own, a socket of our own.
if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile="$W/munge/munge.key" ||
        setup_failed "mungekey failed"
else
    dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$W/munge/munge.key"
start munged munged --foreground --socket="$W/run/munge.sock" \
    --key-file="$W/munge/munge.key" --pid-file="$W/run/munged.pid" \
    --log-file="$W/munge/munged.log" --seed-file="$W/munge/munged.seed"
for ((i = 0; i < 50; i++)); do
    [ -S "$W/run/munge.sock" ] && break
    sleep 0.1
done
munge --socket="$W/run/munge.sock" -n 2>/dev/null |
    unmunge --socket="$W/run/munge.sock" >/dev/null 2>&1 ||
    setup_failed "munged does not answer on $W/run/munge.sock"
cl_say "munged up (private key and socket in $W)"

# Two free TCP ports next to each other, for slurmctld and slurmd, so a
# system Slurm or a leftover of an earlier run never gets in the way.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=16817
while port_busy "$port" || port_busy $((port + 1)); do
    port=$((port + 2))
    [ "$port" -lt 16900 ] || setup_failed "no free port pair in 16817-16900"
done

# The node as slurmd sees it: "NodeName=vm CPUs=2 Boards=1 ... RealMemory=N".
node_line=$(slurmd -C 2>/dev/null | grep '^NodeName=') ||
    setup_failed "slurmd -C printed no NodeName line"
node=${node_line%% *}
node=${node#NodeName=}
cat >"$SLURM_CONF" <<EOF
# Single-node test cluster of imgpool's tests/cluster/slurm-array.sh.
ClusterName=imgpooltest
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$W/run/munge.sock
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/run/slurmctld.pid
SlurmdPidFile=$W/run/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
PlugStackConfig=$W/etc/plugstack.conf
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
: >"$W/etc/plugstack.conf"

start slurmctld slurmctld -D -i
start slurmd slurmd -D -N "$node"
state=""
for ((i = 0; i < 60; i++)); do
    state=$(timeout 5 sinfo -h -n "$node" -o %T 2>/dev/null)
    [ "$state" = idle ] && break
    for entry in "${pids[@]}"; do
        kill -0 "${entry#*:}" 2>/dev/null || setup_failed "${entry%%:*} exited during start-up"
    done
    sleep 1
done
[ "$state" = idle ] || setup_failed "node $node is '${state:-unknown}', not idle, after 60 s"
cl_say "slurmctld and slurmd up on ports $port/$((port + 1)), node $node idle after $(elapsed)"
cl_say "$(sinfo -h -o 'partition %P: %D node(s), %c CPUs, %m MB, %T')"

# --- the job ------------------------------------------------------------
TREE=$W/tree OUT=$W/out REPORTS=$W/out-reports
cl_make_tree "$TREE"
cl_say "test tree: $(find "$TREE" -type f | wc -l) files under $TREE"
cl_reference "$TREE" "$W/ref" "$W/ref.jsonl"
mkdir -p "$OUT" "$REPORTS"

cat >"$W/shard.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=imgpool-shards
#SBATCH --cpus-per-task=1
#SBATCH --output=$W/log/job-%A_%a.out
# One array task = one shard.  \$SLURM_ARRAY_TASK_ID is K; N is the
# array's size, written out here because --array=0-$((N - 1)) says so.
echo "\$PPID" >"$W/status/stepd-\$SLURM_ARRAY_TASK_ID.pid"
echo "task \$SLURM_ARRAY_TASK_ID of job \$SLURM_ARRAY_JOB_ID on \$(hostname -s)"
"$IMGPOOL" thumbnail "$TREE" -o "$OUT" --shard "\$SLURM_ARRAY_TASK_ID/$N" \\
    --report "$REPORTS/shard-\$SLURM_ARRAY_TASK_ID.jsonl" -j 1
rc=\$?
echo "\$rc" >"$W/status/job-\$SLURM_ARRAY_TASK_ID.rc"
exit "\$rc"
EOF

cl_say "sbatch --array=0-$((N - 1)) --wait $W/shard.sbatch"
sub_start=$(date +%s)
src=0
# In the background, so that a signal to this script is handled at once
# (bash runs traps only between foreground commands).
timeout 180 sbatch --parsable --array=0-$((N - 1)) --wait "$W/shard.sbatch" \
    >"$W/sbatch.out" 2>"$W/sbatch.err" &
waiter=$!
wait "$waiter" || src=$?
waiter=""
jobid=$(head -n 1 "$W/sbatch.out" | cut -d';' -f1)
[ -n "$jobid" ] || setup_failed "sbatch did not submit: $(cat "$W/sbatch.err")"
[ "$src" -eq 124 ] && cl_fail "sbatch --wait timed out after 180 s (job $jobid)"
cl_say "job $jobid finished in $(($(date +%s) - sub_start)) s; sbatch --wait exited $src (the highest exit status of its tasks)"

# Exit status of each task as the controller recorded it (ExitCode=S:SIG
# in 'scontrol show job'; accounting, and so sacct, is not configured on
# this test cluster) and as the job script wrote it; they must agree.
timeout 10 scontrol -o show job "$jobid" >"$W/scontrol.out" 2>&1
for ((k = 0; k < N; k++)); do
    ctl=$(grep -E "ArrayJobId=$jobid ArrayTaskId=$k " "$W/scontrol.out" |
        sed -n 's/.* ExitCode=\([0-9]*\):\([0-9]*\).*/\1:\2/p')
    own=$(cat "$W/status/job-$k.rc" 2>/dev/null || echo none)
    if [ "$ctl" = "$own:0" ]; then
        echo "$own" >"$W/status/shard-$k.rc"
    else
        echo "slurm-${ctl:-none}/script-$own" >"$W/status/shard-$k.rc"
    fi
done

cl_check_exit_codes "$N" "$W/status" "$REPORTS" "(scontrol ExitCode and job script agree; sbatch --wait $src)"
cl_check_disjoint "$N" "$REPORTS"
cl_check_merges "$N" "$REPORTS" "$OUT"
cl_check_outputs "$OUT" "$W/merged.jsonl"

# --- scancel of a running shard -----------------------------------------
# Slurm's way of stopping a job (scancel, or the time limit) is SIGTERM to
# every process of the step, then SIGKILL after KillWait (30 s).  imgpool,
# exec'ed by the job script, must finish what is in flight (here: workers
# that hang on every file, cut short by --timeout 4), record the rest as
# skipped, write its summary and exit 143 well before the SIGKILL.
cat >"$W/cancel.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=imgpool-cancel
#SBATCH --cpus-per-task=1
#SBATCH --output=$W/log/cancel-%j.out
echo "\$PPID" >"$W/status/stepd-cancel.pid"
export IMGPOOL_FAULT='hang:*'
exec "$IMGPOOL" thumbnail "$TREE" -o "$W/out-cancel" --shard 0/$N \\
    --report "$W/cancel.jsonl" -j 1 --timeout 4 --quiet
EOF
cjob=$(sbatch --parsable "$W/cancel.sbatch" 2>>"$W/sbatch.err" | cut -d';' -f1)
cstate=""
if [ -z "$cjob" ]; then
    cl_fail "scancel: sbatch did not submit the job: $(tail -n 1 "$W/sbatch.err")"
else
    # The report is opened after the signal handlers are installed and
    # before any work starts.
    for ((i = 0; i < 100; i++)); do
        [ -e "$W/cancel.jsonl" ] && break
        sleep 0.2
    done
    sleep 1
    t_cancel=$(date +%s)
    scancel "$cjob"
    for ((i = 0; i < 120; i++)); do
        cstate=$(timeout 5 squeue -h -j "$cjob" -o %T 2>/dev/null)
        [ -z "$cstate" ] && break
        sleep 0.5
    done
    took=$(($(date +%s) - t_cancel))
    cexit=$(timeout 10 scontrol -o show job "$cjob" 2>/dev/null |
        sed -n 's/.*JobState=\([A-Z_]*\) .* ExitCode=\([0-9:]*\).*/\1 \2/p')
    summary=$(tail -n 1 "$W/cancel.jsonl" 2>/dev/null | jq -c 'select(.summary) |
        {total, ok, skipped, failed, interrupted, by_class}' 2>/dev/null)
    recs=$(jq -s 'map(select(.summary | not)) | length' "$W/cancel.jsonl" 2>/dev/null)
    want_total=$(jq -s 'map(select(.summary | not)) | length' "$REPORTS/shard-0.jsonl")
    if [ -n "$cstate" ]; then
        cl_fail "scancel: job $cjob still '$cstate' after 60 s"
    elif [ "${cexit#* }" != "143:0" ]; then
        cl_fail "scancel: job $cjob ended '$cexit', expected exit 143 (143:0)"
    elif [ -z "$summary" ] ||
        [ "$(jq '.interrupted' <<<"$summary")" != 15 ] ||
        [ "$(jq '.total' <<<"$summary")" != "$want_total" ] ||
        [ "$recs" != "$want_total" ] ||
        [ "$(jq '.ok + .skipped + .failed' <<<"$summary")" != "$want_total" ]; then
        cl_fail "scancel: report of the cancelled run: ${summary:-no summary}, $recs records, expected $want_total and interrupted 15"
    else
        cl_pass "scancel: stopped in $took s with exit 143 ($cexit), complete report $summary"
    fi
fi

if [ "$CL_FAILED" -ne 0 ]; then
    for f in "$W"/log/job-*.out "$W"/log/cancel-*.out "$W/scontrol.out" "$W/sbatch.err"; do
        [ -s "$f" ] || continue
        echo "--- $f"
        cl_show "$f"
    done
fi
stop_cluster
cl_say "done in $(elapsed)"
cl_finish
