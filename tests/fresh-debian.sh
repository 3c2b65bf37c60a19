#!/bin/sh
# fresh-debian.sh [SRCDIR] - README.md's commands on a fresh minimal Debian 12.
#
# Builds a minimal root with mmdebstrap (--variant=minbase; /proc, /sys,
# /dev, /dev/pts and a 1777 tmpfs on /dev/shm mounted), copies a clean
# export of SRCDIR's HEAD in (git archive: what a clone gets, nothing
# uncommitted) and runs, as the README says:
#
#   1. as root, in /root/imgpool (mode 0700): the set-up+run command
#      (exit 1: testdata/ holds broken files on purpose), then the test
#      command (exit 0);
#   2. as root, the .deb steps (cpack, apt-get update, apt-get install of
#      the package, imgpool --version, the bash completion is there,
#      apt-get remove);
#   3. as a normal user, in a fresh copy in its home: the set-up+run command
#      (exit 1) and the test command (exit 0), with the packages root
#      installed.
#
# The commands are taken from README.md itself (the indented lines that
# start with `scripts/install-deps && cmake` and the .deb lines), so the
# check follows the README.  Each step's time is printed at the end.
#
# Needs root (mounts, chroot), mmdebstrap and network access to the Debian
# mirror; exit 77 (skipped) without them, 0 when every step gave the
# README's exit status, 1 otherwise.  It takes 20-40 minutes on 2 cores,
# so .ci/run runs it only when asked (IMGPOOL_FRESH_DEBIAN=1); run it by
# hand after changing install-deps, the README's commands or tests that
# depend on the machine.
#   FRESH_DEBIAN_DIR=DIR   where the root is built (default: mktemp -d)
#   FRESH_DEBIAN_KEEP=1    keep the root afterwards (for a look inside)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "${1:-$here/..}" && pwd)

if [ -z "${FRESH_DEBIAN_NS:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "SKIP: fresh-debian needs root"; exit 77; }
    command -v mmdebstrap >/dev/null ||
        { echo "SKIP: no mmdebstrap (apt-get install mmdebstrap)"; exit 77; }
    command -v git >/dev/null || { echo "SKIP: no git"; exit 77; }
    # A private mount namespace: every mount below vanishes with it, and
    # none of them can propagate to the host's /dev.
    FRESH_DEBIAN_NS=1 exec unshare --mount --propagation private \
        /bin/sh "$0" "$src"
fi

work=${FRESH_DEBIAN_DIR:-$(mktemp -d /var/tmp/fresh-debian.XXXXXX)}
mkdir -p "$work"
root="$work/root"
log="$work/log"
times="$work/times"
: >"$times"
fail=0

cleanup() {
    for m in dev/shm dev/pts dev sys proc; do
        umount -l "$root/$m" 2>/dev/null || true
    done
    if [ -z "${FRESH_DEBIAN_KEEP:-}" ]; then
        rm -rf --one-file-system "$root"
    else
        echo "fresh-debian: root kept in $root"
    fi
    echo "fresh-debian: log and times in $work"
}
trap cleanup EXIT

# step NAME WANT CMD...: run CMD, record its time and whether its exit
# status is WANT.
step() {
    name=$1 want=$2
    shift 2
    echo "== $name (want exit $want)"
    t0=$(date +%s)
    rc=0
    "$@" >>"$log" 2>&1 || rc=$?
    t=$(( $(date +%s) - t0 ))
    if [ "$rc" -eq "$want" ]; then
        verdict=ok
    else
        verdict="FAIL (exit $rc)"
        fail=1
        echo "---- last lines of the log:"
        tail -n 40 "$log"
    fi
    printf '%-44s %4d s  %s\n' "$name" "$t" "$verdict" | tee -a "$times"
}

# The README's commands, exactly as written there.
readme="$src/README.md"
setup_cmd=$(grep -E '^    scripts/install-deps && cmake .*thumbnail testdata' "$readme")
test_cmd=$(grep -E '^    scripts/install-deps && cmake .*ctest ' "$readme")
deb_build=$(grep -E '^    cmake .*cpack -G DEB' "$readme")
deb_install=$(grep -E '^    apt-get update && apt-get install \./build/' "$readme")
for c in setup_cmd test_cmd deb_build deb_install; do
    eval "v=\$$c"
    [ -n "$v" ] || { echo "fresh-debian: FAIL: no $c in README.md"; exit 1; }
done

sources=http://deb.debian.org/debian
[ -f /etc/apt/sources.list.d/debian.sources ] &&
    sources=/etc/apt/sources.list.d/debian.sources
step "mmdebstrap --variant=minbase bookworm" 0 \
    mmdebstrap --variant=minbase bookworm "$root" "$sources"
[ "$fail" -eq 0 ] || exit 1
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"

# A clean copy of the committed tree, for root (/root is 0700) and a user.
git -C "$src" archive --prefix=imgpool/ HEAD | tar -x -C "$root/root"
chroot "$root" useradd -m -s /bin/bash user
git -C "$src" archive --prefix=imgpool/ HEAD | tar -x -C "$root/home/user"
chroot "$root" chown -R user:user /home/user/imgpool
chmod 700 "$root/root"

as_root() {
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        TERM=dumb /bin/sh -c "cd /root/imgpool && $1"
}
as_user() {
    chroot "$root" /usr/sbin/runuser -u user -- /usr/bin/env -i \
        HOME=/home/user PATH=/usr/bin:/bin TERM=dumb \
        /bin/sh -c "cd /home/user/imgpool && $1"
}

step "root: README set-up+run command" 1 as_root "$setup_cmd"
step "root: README test command" 0 as_root "$test_cmd"
step "root: .deb build" 0 as_root "$deb_build"
step "root: .deb apt-get update+install" 0 \
    as_root "yes | DEBIAN_FRONTEND=noninteractive $deb_install"
step "root: completion installed" 0 as_root \
    "test -f /usr/share/bash-completion/completions/imgpool &&
     test -f /usr/share/bash-completion/bash_completion &&
     bash -c '. /usr/share/bash-completion/bash_completion &&
              . /usr/share/bash-completion/completions/imgpool &&
              complete -p imgpool'"
step "root: apt-get remove imgpool" 0 \
    as_root "apt-get remove -y imgpool && ! test -e /usr/bin/imgpool"
step "user: README set-up+run command" 1 as_user "$setup_cmd"
step "user: README test command" 0 as_user "$test_cmd"

echo "== fresh-debian: times (log: $log)"
cat "$times"
[ "$fail" -eq 0 ] || { echo "fresh-debian: FAIL"; exit 1; }
echo "fresh-debian: ok"
