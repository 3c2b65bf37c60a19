#!/bin/sh
# check-install-deps.sh SRCDIR - scripts/install-deps needs no root when
# nothing is missing, and without root names what is missing and the
# apt-get command instead of failing on the missing sudo.
#
#   1. the real script (a copy anyone can read), run as a user without
#      root (this user, or nobody through runuser/setpriv when run as
#      root): with no option, then `--ci`, it exits 0 when every package
#      is installed (skipped, exit 77, when this machine lacks some);
#   2. the same script with a fake dpkg-query on a PATH without sudo: all
#      installed -> 0 and no apt-get; one missing -> exit 1, the package
#      and the apt-get command named on stderr.
set -eu

src=${1:?usage: check-install-deps.sh SRCDIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
# A copy the other user can read: the checkout may be below a home
# directory that is 0700 (root's /root in a fresh install).
script="$tmp/install-deps"
cp "$src/scripts/install-deps" "$script"
chmod 755 "$script"
fail() { echo "check-install-deps: FAIL: $*" >&2; exit 1; }

# ---- 2: the logic, with a fake dpkg-query ----
bin="$tmp/bin"
mkdir "$bin"
for tool in grep id sh; do
    ln -s "$(command -v "$tool")" "$bin/$tool"
done
cat >"$bin/dpkg-query" <<'EOF'
#!/bin/sh
# Everything is installed except the package named in $FAKE_MISSING.
for last; do :; done
if [ "$last" = "${FAKE_MISSING:-}" ]; then
    echo "dpkg-query: no packages found matching $last" >&2
    exit 1
fi
printf 'install ok installed'
EOF
cat >"$bin/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get was run: $*" >"$APT_LOG"
exit 0
EOF
chmod 755 "$bin/dpkg-query" "$bin/apt-get"
export APT_LOG="$tmp/apt.log"

as_user() {
    if [ "$(id -u)" -ne 0 ]; then
        "$@"
    elif id nobody >/dev/null 2>&1 && command -v runuser >/dev/null; then
        runuser -u nobody -- "$@"
    elif id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
    else
        return 77
    fi
}

rc=0
out=$(as_user env PATH="$bin" APT_LOG="$APT_LOG" /bin/sh "$script" --ci \
      2>&1) || rc=$?
[ "$rc" -ne 77 ] || { echo "SKIP: root, and no user 'nobody' to run as"; exit 77; }
[ "$rc" -eq 0 ] || fail "all installed (fake): exit $rc: $out"
echo "$out" | grep -q "everything is installed" ||
    fail "all installed (fake): no 'everything is installed': $out"
[ ! -e "$APT_LOG" ] || fail "all installed (fake): apt-get was run"

rc=0
out=$(as_user env PATH="$bin" APT_LOG="$APT_LOG" FAKE_MISSING=jq \
      /bin/sh "$script" --ci 2>&1) || rc=$?
if [ "$(id -u)" -eq 0 ] || ! command -v sudo >/dev/null; then
    [ "$rc" -eq 1 ] || fail "jq missing, no root: exit $rc (want 1): $out"
    echo "$out" | grep -q "missing packages: jq" ||
        fail "jq missing: the package is not named: $out"
    echo "$out" | grep -q "apt-get update && apt-get install --no-install-recommends jq" ||
        fail "jq missing: no apt-get command: $out"
    [ ! -e "$APT_LOG" ] || fail "jq missing, no root: apt-get was run"
fi

# ---- 1: the real script on this machine, without root ----
# The README's set (what the build and the tests need), then --ci's: a
# machine set up by the README alone lacks the fuzzer and valgrind, which
# is no failure of the script.
for set in "" --ci; do
    rc=0
    # shellcheck disable=SC2086
    out=$(as_user "$script" $set 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && echo "$out" | grep -q "missing packages"; then
        echo "SKIP: this machine lacks packages of install-deps $set: $out"
        exit 77
    fi
    [ "$rc" -eq 0 ] ||
        fail "install-deps $set as a user without root: exit $rc: $out"
    echo "$out" | grep -q "everything is installed" ||
        fail "install-deps $set: $out"
done
echo "check-install-deps: ok"
