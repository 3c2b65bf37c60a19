#!/bin/bash
# check-completion.sh COMPLETION IMGPOOL - the generated bash completion
# offers what each subcommand's --help lists, and completes commands,
# option values and the options of the right subcommand only.
set -eu

comp=${1:?usage: check-completion.sh COMPLETION IMGPOOL}
bin=${2:?usage: check-completion.sh COMPLETION IMGPOOL}
fail() { echo "check-completion: FAIL: $*" >&2; exit 1; }

bash -n "$comp" || fail "$comp is not valid bash"
# shellcheck source=/dev/null
. "$comp"
complete -p imgpool | grep -q -- "-F _imgpool" ||
    fail "no 'complete -F _imgpool imgpool'"

# complete WORD... : what the completion offers for the last word.
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(( $# - 1 ))
    COMPREPLY=()
    _imgpool
    printf '%s\n' "${COMPREPLY[@]}" | sort
}

# The options --help lists for a command, one per line (long and short).
help_options() {
    "$bin" "$@" --help |
        sed -n -e 's/^  \(-[a-zA-Z0-9]\), \(--[a-z0-9-]*\).*/\1\n\2/p' \
               -e 's/^      \(--[a-z0-9-]*\).*/\1/p' | sort -u
}

for cmd in thumbnail recompress; do
    want=$(help_options "$cmd")
    got=$(complete_words imgpool "$cmd" -)
    [ -n "$want" ] || fail "no options parsed from '$cmd --help'"
    [ "$want" = "$got" ] ||
        fail "$cmd: completion and --help differ:
$(diff <(echo "$want") <(echo "$got"))"
done
want=$(help_options report merge)
got=$(complete_words imgpool report merge -)
[ "$want" = "$got" ] || fail "report merge: got '$got', want '$want'"

got=$(complete_words imgpool "")
[ "$got" = "$(printf '%s\n' --help --version recompress report thumbnail | sort)" ] ||
    fail "commands: '$got'"
[ "$(complete_words imgpool report "")" = merge ] || fail "report: no merge"
[ "$(complete_words imgpool thumbnail -o out --format "")" = "$(printf 'avif\njpeg\njxl\npng\nwebp')" ] ||
    fail "--format values: '$(complete_words imgpool thumbnail --format "")'"
[ "$(complete_words imgpool thumbnail --fi)" = "$(printf '%s\n' --files-from --fit | sort)" ] ||
    fail "--fi: '$(complete_words imgpool thumbnail --fi)'"
# In-place options only for recompress.
complete_words imgpool thumbnail --in | grep -q -- --in-place &&
    fail "thumbnail offers --in-place"
complete_words imgpool recompress --in | grep -q -- --in-place ||
    fail "recompress does not offer --in-place"

# A DIR option completes directories only.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/outdir"
: >"$tmp/outfile"
got=$(complete_words imgpool thumbnail x -o "$tmp/out")
[ "$got" = "$tmp/outdir" ] || fail "-o: '$got'"
got=$(complete_words imgpool thumbnail x --report "$tmp/out")
[ "$got" = "$(printf '%s\n' "$tmp/outdir" "$tmp/outfile" | sort)" ] ||
    fail "--report: '$got'"
echo "check-completion: ok"
