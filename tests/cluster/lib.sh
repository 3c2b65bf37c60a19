# shellcheck shell=bash
# Shared by tests/cluster/*.sh (sourced, not run): the test tree, the
# reference run and the checks that compare a sharded run with it.
#
# The caller sets:
#   CL_NAME     prefix of every line printed ("slurm-array", ...)
#   IMGPOOL     absolute path of the binary under test
#   CL_TESTDATA the repository's testdata/ directory
#   CL_WORK     a scratch directory for the checks' files
# and then calls, in order:
#   cl_make_tree DIR             ~60 inputs, broken ones and a.jpg+a.png pairs
#   cl_reference TREE OUT REPORT single unsharded run (must exit 1); sets
#                                CL_REFOUT and CL_REF for the checks
#   cl_check_* ...               each prints "ok - ..." or "not ok - ..."
#   cl_finish                    prints "CL_NAME: P passed, F failed",
#                                returns 0 only when nothing failed
#
# Every check compares sets, never orders: records come in completion
# order, and shards finish in any order.

CL_PASSED=0
CL_FAILED=0
CL_SKIPPED=0

cl_say() { printf '%s: %s\n' "$CL_NAME" "$*"; }
cl_pass() { CL_PASSED=$((CL_PASSED + 1)); printf 'ok - %s\n' "$*"; }
cl_fail() { CL_FAILED=$((CL_FAILED + 1)); printf 'not ok - %s\n' "$*"; }
cl_die() { printf '%s: error: %s\n' "$CL_NAME" "$*" >&2; exit 2; }

cl_skip() { CL_SKIPPED=$((CL_SKIPPED + 1)); printf 'skip - %s\n' "$*"; }

cl_finish() {
    if [ "$CL_SKIPPED" -gt 0 ]; then
        printf '%s: %d passed, %d failed, %d skipped\n' "$CL_NAME" \
            "$CL_PASSED" "$CL_FAILED" "$CL_SKIPPED"
    else
        printf '%s: %d passed, %d failed\n' "$CL_NAME" "$CL_PASSED" "$CL_FAILED"
    fi
    [ "$CL_FAILED" -eq 0 ]
}

# Show at most 20 lines of a difference, indented, after a failed check.
cl_show() { sed -n '1,20s/^/    /p' "$@"; }

# Install Debian packages that are missing (root only; CI runs as root).
cl_need_pkgs() {
    local missing="" p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    [ "$(id -u)" -eq 0 ] || cl_die "missing packages:$missing (run as root to install them)"
    cl_say "installing$missing"
    apt-get update -qq || cl_die "apt-get update failed"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $missing >/dev/null ||
        cl_die "apt-get install$missing failed"
}

# cl_make_tree DIR: the inputs of every cluster test.
#  - every testdata image, unchanged, under 2023/summer/ (25 files, with the
#    broken ones: garbage.jpg is a decode-error, not_image.jpg is
#    not-an-image, notes.txt is ignored, truncated.jpg is ok with warnings)
#  - more broken copies spread over several directories, so most shards
#    hold a failure
#  - stem pairs a.jpg + a.png in one directory: with the default template
#    both want "a.jpg", the first in tree order gets it and the other falls
#    back to "a.png.jpg"; the shards must decide exactly like a single run
#  - names with spaces and non-ASCII characters, deep nesting
#  - "pairs/p1.png.jpg", whose own output name is the fallback name of
#    pairs/p1.png (see docs/cluster.md)
cl_make_tree() {
    local t=$1 d=$CL_TESTDATA i
    mkdir -p "$t/2023/summer" "$t/2024/q1/raw/deep/er" "$t/pairs" \
        "$t/broken/one" "$t/broken/two" "$t/names with spaces" "$t/ünïcödé"
    cp "$d"/*.jpg "$d"/*.png "$d/noext_png" "$d/notes.txt" "$t/2023/summer/"
    for i in rgb progressive q75 cmyk gray srgb_icc p3_icc orient6; do
        cp "$d/$i.jpg" "$t/2024/q1/raw/deep/er/IMG_$i.JPG"
    done
    for i in 1 2 3 4 5 6; do
        cp "$d/rgb.jpg" "$t/pairs/p$i.jpg"
        cp "$d/rgba.png" "$t/pairs/p$i.png"
    done
    cp "$d/q75.jpg" "$t/pairs/solo.jpeg"
    cp "$d/garbage.jpg" "$t/broken/one/bad-a.jpg"
    cp "$d/garbage.jpg" "$t/broken/two/bad-b.jpg"
    cp "$d/not_image.jpg" "$t/broken/one/fake-a.jpg"
    cp "$d/not_image.jpg" "$t/broken/two/fake-b.png"
    cp "$d/truncated.jpg" "$t/broken/two/cut.jpg"
    cp "$d/garbage.jpg" "$t/2024/q1/bad-c.jpg"
    cp "$d/rgb.jpg" "$t/names with spaces/a b.jpg"
    cp "$d/palette.png" "$t/names with spaces/c  d.png"
    cp "$d/rgb.png" "$t/ünïcödé/été.png"
    cp "$d/gray.jpg" "$t/ünïcödé/日本.jpg"
    cp "$d/q75.jpg" "$t/pairs/p1.png.jpg"
}

# cl_reference TREE OUT REPORT: the single unsharded run everything is
# compared with.  The tree holds broken files, so it must exit 1.
cl_reference() {
    local rc=0
    "$IMGPOOL" thumbnail "$1" -o "$2" --report "$3" --quiet 2>"$3.stderr" ||
        rc=$?
    if [ "$rc" -ne 1 ]; then
        cat "$3.stderr" >&2
        cl_die "reference run exited $rc, expected 1"
    fi
    CL_REFOUT=$2
    CL_REF=$3
    cl_say "reference run: exit 1 ($(jq -r 'select(.summary) |
        "\(.ok) ok, \(.failed) failed, \(.ignored) ignored"' "$3"))"
}

# The comparable content of a report: one TSV line per record,
# path <TAB> status <TAB> error class or skip reason <TAB> output relative
# to OUT ($2).  Sorted, so two reports compare with cmp/diff.
cl_records() {
    jq -r --arg o "$2/" 'select(.summary | not) |
        [(.path_b64 // .path), .status, (.error.class // .reason // "-"),
         ((.output // "-") | ltrimstr($o))] | @tsv' "$1" | LC_ALL=C sort
}

# The counts of a summary line that must match between a merged report and
# the single run ("seconds" and "runs" may differ).
cl_counts() {
    jq -S -c 'select(.summary) | {total, ok, skipped, failed, ignored, excluded,
        warnings, bytes_in, bytes_out, by_class}' "$1"
}

# The merge without imgpool, for a machine without it or reports of an
# imgpool without 'report merge': records unchanged, then one summary
# recounted from the records like 'imgpool report merge' does (ignored and
# excluded summed, seconds the longest run, interrupted the first signal).
# It cannot see an empty report, so it has no "runs"/"incomplete": check
# that every shard's last line is its summary first.  The same recipe is
# in docs/cluster.md.
cl_jq_merge() {
    jq -c -n '[inputs] as $all
      | ($all | map(select(.summary | not))) as $r
      | ($all | map(select(.summary))) as $s
      | def count(f): $r | map(select(f)) | length;
      $r[],
      { summary: true,
        total: ($r | length),
        ok: count(.status == "ok"),
        skipped: count(.status == "skipped"),
        failed: count(.status == "failed"),
        ignored: ($s | map(.ignored) | add),
        excluded: ($s | map(.excluded) | add),
        warnings: count(.status == "ok" and .warnings),
        bytes_in: ($r | map(select(.status == "ok") | .in_bytes) | add // 0),
        bytes_out: ($r | map(select(.status == "ok") | .out_bytes) | add // 0),
        seconds: ($s | map(.seconds) | max),
        interrupted: ($s | map(.interrupted | values) | first),
        by_class: ($r | map(.error.class // .reason // empty) | group_by(.)
                      | map({key: .[0], value: length}) | from_entries) }' "$@"
}

# cl_check_exit_codes N STATUSDIR REPORTDIR [EXTRA_DESC]: shard K exited
# with STATUSDIR/shard-K.rc; it must be 1 when its report holds a failed
# record and 0 otherwise (and never 2, 75, 130, 143 ...).
cl_check_exit_codes() {
    local n=$1 sd=$2 rd=$3 k rc want bad="" got=""
    for ((k = 0; k < n; k++)); do
        rc=$(cat "$sd/shard-$k.rc" 2>/dev/null || echo missing)
        if [ -s "$rd/shard-$k.jsonl" ] &&
            jq -e -s 'any(.[]; .status == "failed")' "$rd/shard-$k.jsonl" >/dev/null; then
            want=1
        else
            want=0
        fi
        got="$got $k:$rc"
        [ "$rc" = "$want" ] || bad="$bad shard $k exited $rc, expected $want;"
    done
    if [ -z "$bad" ] && [[ "$got" == *:1* ]]; then
        cl_pass "exit status per shard (shard:status)$got${4:+ $4}"
    elif [ -z "$bad" ]; then
        cl_fail "no shard exited 1 although the tree holds broken files:$got"
    else
        cl_fail "exit status per shard:$bad"
    fi
}

# cl_check_disjoint N REPORTDIR: every shard report is complete, no
# input path is in two shards, together they hold every path of the single
# run, the tasks add up, and no output is claimed by two records.
cl_check_disjoint() {
    local n=$1 rd=$2 k f problems="" sizes="" w=$CL_WORK
    : >"$w/all-paths"
    for ((k = 0; k < n; k++)); do
        f=$rd/shard-$k.jsonl
        if ! tail -n 1 "$f" 2>/dev/null | jq -e '.summary' >/dev/null 2>&1; then
            problems="$problems shard $k has no complete report;"
            continue
        fi
        jq -r 'select(.summary | not) | .path_b64 // .path' "$f" |
            sed "s/^/$k\t/" >>"$w/all-paths"
        sizes="$sizes $(jq -s 'map(select(.summary | not)) | length' "$f")"
    done
    cut -f2 "$w/all-paths" | LC_ALL=C sort | uniq -d >"$w/dup-paths"
    [ -s "$w/dup-paths" ] &&
        problems="$problems $(wc -l <"$w/dup-paths") paths in two shards;"
    cut -f2 "$w/all-paths" | LC_ALL=C sort -u >"$w/shard-paths"
    jq -r 'select(.summary | not) | .path_b64 // .path' "$CL_REF" |
        LC_ALL=C sort >"$w/ref-paths"
    cmp -s "$w/shard-paths" "$w/ref-paths" ||
        problems="$problems the shards' paths differ from the single run's;"
    # Every output name is owned by one shard: no two records (in any
    # shards) name the same output.
    for ((k = 0; k < n; k++)); do
        jq -r 'select(.summary | not) | .output_b64 // .output // empty' \
            "$rd/shard-$k.jsonl" 2>/dev/null
    done | LC_ALL=C sort | uniq -d >"$w/split-stems"
    [ -s "$w/split-stems" ] &&
        problems="$problems $(wc -l <"$w/split-stems") outputs claimed twice;"
    if [ -z "$problems" ]; then
        cl_pass "shards are disjoint and cover the single run (files per shard:$sizes)"
    else
        cl_fail "shard partition:$problems"
        cl_show "$w/dup-paths" "$w/split-stems"
        diff "$w/ref-paths" "$w/shard-paths" | cl_show
    fi
}

# cl_check_merged HOW MERGED OUT: MERGED (a merged report of a run into
# OUT) has the same (path, status, class, output) set and the same counts
# as the single run's.
cl_check_merged() {
    local how=$1 m=$2 out=$3 ref=$CL_REF refout=$CL_REFOUT w=$CL_WORK
    cl_records "$m" "$out" >"$w/m.tsv"
    cl_records "$ref" "$refout" >"$w/r.tsv"
    cl_counts "$m" >"$w/m.counts"
    cl_counts "$ref" >"$w/r.counts"
    if ! cmp -s "$w/m.tsv" "$w/r.tsv"; then
        cl_fail "$how: records differ from the single run (< single, > merged)"
        diff "$w/r.tsv" "$w/m.tsv" | cl_show
    elif [ "$(tail -n 1 "$m" | jq -r '.summary')" != true ] ||
        [ "$(jq -s 'map(select(.summary)) | length' "$m")" != 1 ]; then
        cl_fail "$how: the merged report does not end with its one summary"
    elif ! cmp -s "$w/m.counts" "$w/r.counts"; then
        cl_fail "$how: summary counts differ"
        cl_show "$w/r.counts" "$w/m.counts"
    else
        cl_pass "$how: $(wc -l <"$w/m.tsv") records and summary counts equal the single run's"
    fi
}

# cl_check_merges N REPORTDIR OUT: merge the N shard reports with
# 'imgpool report merge' (skipped, with a note, when this imgpool has no
# such command) and with the jq recipe, and compare both with the single
# run.  Leaves the merged report in $CL_WORK/merged.jsonl.
cl_check_merges() {
    local n=$1 rd=$2 out=$3 w=$CL_WORK k files=() rc=0
    for ((k = 0; k < n; k++)); do files+=("$rd/shard-$k.jsonl"); done
    cl_jq_merge "${files[@]}" >"$w/jq-merged.jsonl"
    if ! "$IMGPOOL" report --help >/dev/null 2>&1; then
        cl_skip "imgpool report merge: this imgpool has no such command"
        cp "$w/jq-merged.jsonl" "$w/merged.jsonl"
    else
        "$IMGPOOL" report merge "${files[@]}" >"$w/merged.jsonl" \
            2>"$w/merge.stderr" || rc=$?
        if [ "$rc" -ne 1 ]; then
            cl_fail "imgpool report merge exited $rc, expected 1 (failed records): $(head -c 300 "$w/merge.stderr")"
        else
            cl_check_merged "imgpool report merge" "$w/merged.jsonl" "$out"
        fi
    fi
    cl_check_merged "jq merge recipe" "$w/jq-merged.jsonl" "$out"
}

# cl_check_outputs OUT MERGED: the output trees hold the same files
# with the same bytes, each written by exactly one ok record, and no
# temporary file is left behind.
cl_check_outputs() {
    local out=$1 m=$2 refout=$CL_REFOUT w=$CL_WORK f diffs=0 problems=""
    (cd "$out" && find . -type f ! -path '*/.imgpool/*' | LC_ALL=C sort) >"$w/out-files"
    (cd "$refout" && find . -type f ! -path '*/.imgpool/*' | LC_ALL=C sort) >"$w/ref-files"
    jq -r --arg o "$out/" 'select(.status == "ok") | .output | ltrimstr($o)' "$m" |
        sed 's|^|./|' | LC_ALL=C sort >"$w/ok-outputs"
    if ! cmp -s "$w/out-files" "$w/ref-files"; then
        problems="$problems the output file sets differ (< single, > sharded);"
    fi
    uniq -d "$w/ok-outputs" >"$w/dup-outputs"
    [ -s "$w/dup-outputs" ] &&
        problems="$problems $(wc -l <"$w/dup-outputs") outputs written by two records;"
    cmp -s "$w/ok-outputs" "$w/out-files" ||
        problems="$problems the ok records do not name exactly the files on disk;"
    while IFS= read -r f; do
        [ -f "$refout/$f" ] && ! cmp -s "$out/$f" "$refout/$f" && diffs=$((diffs + 1))
    done <"$w/out-files"
    [ "$diffs" -eq 0 ] || problems="$problems $diffs outputs differ in content;"
    if [ -z "$problems" ]; then
        cl_pass "$(wc -l <"$w/out-files") output files, each once, identical to the single run's"
    else
        cl_fail "outputs:$problems"
        cl_show "$w/dup-outputs"
        diff "$w/ref-files" "$w/out-files" | cl_show
        diff "$w/ok-outputs" "$w/out-files" | cl_show
    fi
}

# Incremental runs keep their state per shard in OUT/.imgpool/
# state-K-of-N.sqlite.  True when this imgpool wrote such files.
cl_has_state() {
    local n=$1 out=$2 k
    for ((k = 0; k < n; k++)); do
        [ -f "$out/.imgpool/state-$k-of-$n.sqlite" ] || return 1
    done
}

# Modification times of the outputs, to see whether a re-run rewrote any.
cl_output_times() {
    (cd "$1" && find . -type f ! -path '*/.imgpool/*' -printf '%p\t%T@\n' |
        LC_ALL=C sort)
}

# cl_check_rerun N REPORTDIR STATUSDIR OUT TIMES: the second run of the
# same shards over an unchanged tree.  Every input that was ok is skipped
# as up-to-date, every failed one fails again with the same class, each
# shard exits as before, and no output file was rewritten (TIMES is
# cl_output_times from before the re-run).
cl_check_rerun() {
    local n=$1 rd=$2 sd=$3 out=$4 times=$5 w=$CL_WORK k f problems=""
    for ((k = 0; k < n; k++)); do
        [ -f "$rd/shard-$k.jsonl" ] || problems="$problems no report of shard $k;"
    done
    cat "$rd"/shard-*.jsonl 2>/dev/null |
        jq -r 'select(.summary | not) |
            [(.path_b64 // .path), .status, (.error.class // .reason // "-")] | @tsv' |
        LC_ALL=C sort >"$w/rerun.tsv"
    jq -r 'select(.summary | not) | [(.path_b64 // .path)] +
            (if .status == "ok" then ["skipped", "up-to-date"]
             else [.status, (.error.class // .reason // "-")] end) | @tsv' \
        "$CL_REF" | LC_ALL=C sort >"$w/rerun-want.tsv"
    cmp -s "$w/rerun.tsv" "$w/rerun-want.tsv" ||
        problems="$problems records are not 'skipped up-to-date' for every ok file (< expected, > got);"
    for ((k = 0; k < n; k++)); do
        f=$sd/shard-$k.rc
        [ "$(cat "$f" 2>/dev/null)" = "$(cat "$sd/first-$k.rc" 2>/dev/null)" ] ||
            problems="$problems shard $k exited $(cat "$f" 2>/dev/null), first run $(cat "$sd/first-$k.rc" 2>/dev/null);"
    done
    cl_output_times "$out" >"$w/times-after"
    cmp -s "$times" "$w/times-after" ||
        problems="$problems outputs were rewritten or removed;"
    if [ -z "$problems" ]; then
        cl_pass "incremental re-run: $(grep -c 'up-to-date' "$w/rerun.tsv") files up-to-date, failures failed again, no output rewritten"
    else
        cl_fail "incremental re-run:$problems"
        diff "$w/rerun-want.tsv" "$w/rerun.tsv" | cl_show
        diff "$times" "$w/times-after" | cl_show
    fi
}
