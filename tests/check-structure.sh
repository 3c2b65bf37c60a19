#!/bin/sh
# Structure limits of the source tree (docs/ARCHITECTURE.md):
#   - no function longer than 80 lines (its body, '{' to '}' inclusive);
#   - no .c file longer than 700 lines;
#   - no file outside src/worker/ includes an image library's header
#     (vips/*, jpeglib.h, png.h, turbojpeg.h, glib.h, lcms2.h);
#   - every header opens with a comment block (its contract);
#   - a file in one folder of src/master/ includes from another folder
#     only that folder's public header (master/plan/plan.h, ...);
#   - no circle of .c files of any length: when a file uses a function
#     another defines without static, following such uses from file to
#     file never leads back to the first (two files calling each other,
#     or a -> b -> c -> a);
#   - no header of src/worker/ or src/common/ (settings.h aside) declares a
#     function that takes an output's struct settings, except the few that
#     SETTINGS_READERS names: a stage takes parameters of its own
#     (docs/ARCHITECTURE.md), made from the settings by those few;
#   - no .c file in src/master/ uses malloc, calloc, realloc, reallocarray,
#     strdup, strndup, asprintf or vasprintf: the master allocates through
#     the x* helpers of util.h, which end the run on out-of-memory (one
#     policy, docs/ARCHITECTURE.md); ALLOC_EXCEPTIONS names the few uses
#     that must stay, each with its reason.
#
#   tests/check-structure.sh [SRC_DIR]     (default: src next to tests/)
#   tests/check-structure.sh --self-test
#
# Prints each offender as "file:line: what" and exits 1 when there is one,
# 0 when there is none, 2 on a usage error.  --self-test builds small
# offending and clean trees in a temporary directory and checks that each
# offence is caught at the right line and nothing clean is flagged, so the
# check cannot pass by accident.
#
# Functions are found by a small C lexer (awk): comments, string and
# character literals and preprocessor lines are skipped, braces are counted,
# and a '{' at file scope opens a function when the declaration before it
# has a name followed by '(' and ends in ')' with no '=' (so struct, enum
# and initialiser braces are not functions).  This does not depend on the
# house layout (name and braces at column 0), though that is what it meets.
# The same lexer lists the functions each file defines without static and
# the identifiers used in bodies and initialisers, so a call and a function
# pointer taken count alike; a file's own static function hides another
# file's of the same name; a function defined in two files counts for the
# first in sort order.
set -u

MAX_FUNC=80
MAX_FILE=700
IMAGE_HEADERS='vips/[^>"]*|libheif/[^>"]*|jpeglib\.h|png\.h|turbojpeg\.h|glib\.h|lcms2\.h'
PLAIN_ALLOCS='malloc|calloc|realloc|reallocarray|strdup|strndup|asprintf|vasprintf'

# Plain allocations src/master/ keeps, one "FILE FUNCTION CALL" a line
# (FILE below src/).  Add one only with a comment saying why the x* helper
# would be wrong there.
#   scan_run() gives back the slack of the task array once the walk is
#   done; when that shrinking realloc() fails the array simply stays as it
#   is, so ending the run (xrealloc) would lose a finished scan for nothing.
ALLOC_EXCEPTIONS='
master/scan/scan.c scan_run realloc
'

# The functions of src/worker/ and src/common/ that may take an output's
# whole struct settings: the translations into a stage's own parameters,
# the choices of the pipeline (decoder, kept source, look search), the
# commits and the worker's entry point.  A stage is not one of them.
SETTINGS_READERS='
geom_box_of decode_params_of colour_params_of encode_params_init
encode_subsample_420 decode_choose decode_jpeg_eligible decode_png_eligible
keep_prepare lookq_marked lossless_write commit_settings_of img_worker_init
'

# The C lexer over the files given after MODE: "lengths" prints each
# function over the limit; "symbols" prints "D file line name" for each
# function defined without static and "R file line name" for each
# identifier inside a body or an initialiser (calls, function pointers);
# "allocs" prints "file line name function" for each of $PLAIN_ALLOCS so
# used ("-" for the function at file scope).
c_scan() {
    scan_mode=$1
    shift
    awk -v max="$MAX_FUNC" -v mode="$scan_mode" -v allocs="^($PLAIN_ALLOCS)\$" '
    function reset_decl() {
        name = ""; name_line = 0; ident = ""; ident_line = 0
        saw_eq = 0; paren = 0; last = ";"; is_static = 0
    }
    FNR == 1 {
        depth = 0; in_comment = 0; in_func = 0; macro = 0; prevtok = ""
        reset_decl()
    }
    {
        line = $0
        n = length(line)
        if (!in_comment && (macro || line ~ /^[ \t]*#/)) {
            macro = (line ~ /\\$/)
            next
        }
        i = 1
        while (i <= n) {
            c = substr(line, i, 1)
            if (in_comment) {
                if (c == "*" && substr(line, i + 1, 1) == "/") {
                    in_comment = 0
                    i += 2
                } else {
                    i++
                }
                continue
            }
            if (c == "/" && substr(line, i + 1, 1) == "*") {
                in_comment = 1
                i += 2
                continue
            }
            if (c == "/" && substr(line, i + 1, 1) == "/")
                break
            if (c == " " || c == "\t" || c == "\r" || c == "\f") {
                i++
                continue
            }
            if (c == "\"" || c == "\047") {
                i++
                while (i <= n) {
                    d = substr(line, i, 1)
                    if (d == "\\") {
                        i += 2
                        continue
                    }
                    if (d == c)
                        break
                    i++
                }
                i++
                last = "x"
                continue
            }
            if (c ~ /[A-Za-z_0-9]/) {
                match(substr(line, i), /^[A-Za-z_0-9]+/)
                tok = substr(line, i, RLENGTH)
                if (depth == 0 && paren == 0 && c !~ /[0-9]/) {
                    ident = tok
                    ident_line = FNR
                    if (tok == "static")
                        is_static = 1
                }
                # a struct, union or enum tag is a type, not a use of a
                # function of the same name (struct encode_rows)
                if (mode == "symbols" && (depth > 0 || saw_eq) &&
                    c !~ /[0-9]/ && prevtok !~ /^(struct|union|enum)$/)
                    print "R", FILENAME, FNR, tok
                if (mode == "allocs" && (depth > 0 || saw_eq) &&
                    tok ~ allocs)
                    print FILENAME, FNR, tok, in_func ? func_name : "-"
                prevtok = tok
                i += RLENGTH
                last = "x"
                continue
            }
            if (c == "(") {
                if (depth == 0 && paren == 0 && name == "" && ident != "") {
                    name = ident
                    name_line = ident_line
                }
                paren++
            } else if (c == ")") {
                if (paren > 0)
                    paren--
            } else if (c == "=" && depth == 0 && paren == 0) {
                saw_eq = 1
            } else if (c == ";" && depth == 0 && paren == 0) {
                reset_decl()
                i++
                continue
            } else if (c == "{") {
                if (depth == 0 && last == ")" && !saw_eq && name != "") {
                    in_func = 1
                    func_start = FNR
                    func_name = name
                    func_line = name_line
                    if (mode == "symbols")
                        print is_static ? "S" : "D", FILENAME, name_line, name
                }
                depth++
            } else if (c == "}") {
                if (depth > 0)
                    depth--
                if (depth == 0) {
                    if (mode == "lengths" && in_func &&
                        FNR - func_start + 1 > max)
                        printf "%s:%d: function %s is %d lines (limit %d)\n",
                            FILENAME, func_line, func_name,
                            FNR - func_start + 1, max
                    in_func = 0
                    reset_decl()
                    i++
                    continue
                }
            }
            last = c
            i++
        }
    }' "$@"
}

# Function lengths of the C files given as arguments.
func_lengths() {
    c_scan lengths "$@"
}

# Circles of .c files below directory $1: files f1 -> f2 -> ... -> f1 where
# each uses a function the next defines without static.  Each circle is
# reported once, at the file of it that sorts first and at that file's
# first use of the next (the shortest circle through it, found breadth
# first over the files that sort after it), with the whole chain.
file_circles() {
    cdir=$1
    set --
    while IFS= read -r f; do
        [ -n "$f" ] && set -- "$@" "$f"
    done <<EOF
$(find "$cdir" -type f -name '*.c' | sort)
EOF
    [ "$#" -gt 0 ] || return 0
    c_scan symbols "$@" | awk '
    $1 == "D" && !($4 in def) { def[$4] = $2 }
    $1 == "S" { own[$2 SUBSEP $4] = 1 }
    $1 == "R" { n++; rf[n] = $2; rl[n] = $3; rn[n] = $4 }
    END {
        for (k = 1; k <= n; k++) {
            if (!(rn[k] in def) || def[rn[k]] == rf[k] ||
                ((rf[k] SUBSEP rn[k]) in own))
                continue
            e = rf[k] SUBSEP def[rn[k]]
            if (!(e in line)) {
                line[e] = rl[k]
                what[e] = rn[k]
                nout[rf[k]]++
                out[rf[k], nout[rf[k]]] = def[rn[k]]
                node[rf[k]] = 1
            }
        }
        for (s in node) {
            # breadth first from s over the files sorting after it
            split("", prev)
            head = 1
            tail = 1
            q[1] = s
            found = ""
            while (head <= tail && found == "") {
                u = q[head++]
                for (i = 1; i <= nout[u] && found == ""; i++) {
                    v = out[u, i]
                    if (v == s)
                        found = u
                    else if (v > s && !(v in prev)) {
                        prev[v] = u
                        q[++tail] = v
                    }
                }
            }
            if (found == "")
                continue
            # the chain s -> chain[m] -> ... -> chain[1] (= found) -> s
            m = 0
            for (x = found; x != s; x = prev[x])
                chain[++m] = x
            nxt = chain[m]
            if (m == 1) {
                printf "%s:%d: file circle: calls %s() of %s, which calls %s() of this file\n",
                    s, line[s SUBSEP nxt], what[s SUBSEP nxt], nxt,
                    what[nxt SUBSEP s]
                continue
            }
            path = ""
            for (i = m - 1; i >= 1; i--)
                path = path " -> " chain[i]
            printf "%s:%d: file circle: calls %s() of %s, and on%s -> back to this file\n",
                s, line[s SUBSEP nxt], what[s SUBSEP nxt], nxt, path
        }
    }' | sort
}

# Plain allocations in the .c files of $1/master, less ALLOC_EXCEPTIONS.
master_allocs() {
    [ -d "$1/master" ] || return 0
    find "$1/master" -type f -name '*.c' | sort |
    while IFS= read -r f; do
        c_scan allocs "$f"
    done | awk -v src="$1/" -v except="$ALLOC_EXCEPTIONS" '
    BEGIN {
        n = split(except, e, "\n")
        for (i = 1; i <= n; i++)
            if (e[i] != "")
                ok[e[i]] = 1
    }
    {
        rel = substr($1, length(src) + 1)
        if ((rel " " $4 " " $3) in ok)
            next
        printf "%s:%d: plain %s() in %s: the master allocates with the " \
            "x* helpers of util.h\n", $1, $2, $3, $4
    }'
}

# Includes across the folders of $1/master: a file in master/A/ may include
# a header that lives in master/B/ (B not A) only when it is B.h, the one
# public header of that folder.
folder_includes() {
    top=$1/master
    [ -d "$top" ] || return 0
    find "$top" -mindepth 2 -type f \( -name '*.c' -o -name '*.h' \) | sort |
    while IFS= read -r f; do
        own=${f#"$top"/}
        own=${own%%/*}
        grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"/]+"' "$f" |
        while IFS=: read -r ln text; do
            h=${text#*\"}
            h=${h%%\"*}
            for d in "$top"/*/; do
                d=${d%/}
                b=${d##*/}
                if [ "$b" != "$own" ] && [ -f "$d/$h" ] && [ "$h" != "$b.h" ]; then
                    echo "$f:$ln: includes $h, private to master/$b/ (its public header is $b.h)"
                fi
            done
        done
    done
}

# Declarations in the headers of $1/worker and $1/common (settings.h
# aside) that take a struct settings, by a function SETTINGS_READERS does
# not name: "file:line: ..." at the declaration's first line.  Comments
# and preprocessor lines are skipped; a declaration runs to its ';' or
# '{', so a prototype over several lines counts once.
settings_readers() {
    for d in "$1/worker" "$1/common"; do
        [ -d "$d" ] && find "$d" -type f -name '*.h'
    done | sort | grep -v '/common/settings\.h$' |
    while IFS= read -r f; do
        awk -v ok=" $(echo $SETTINGS_READERS) " '
        FNR == 1 { in_comment = 0; decl = ""; at = 0 }
        !in_comment && /^[ \t]*#/ { next }
        {
            line = $0
            out = ""
            while (line != "") {
                if (in_comment) {
                    k = index(line, "*/")
                    if (k == 0) { line = ""; break }
                    line = substr(line, k + 2)
                    in_comment = 0
                    continue
                }
                k = index(line, "/*")
                if (k == 0) { out = out line; break }
                out = out substr(line, 1, k - 1) " "
                line = substr(line, k + 2)
                in_comment = 1
            }
            sub(/\/\/.*/, "", out)
            while (out != "") {
                if (decl == "" && out ~ /^[ \t]*$/)
                    break
                if (decl == "")
                    at = FNR
                k = match(out, /[;{}]/)
                if (k == 0) { decl = decl " " out; break }
                decl = decl " " substr(out, 1, k - 1)
                out = substr(out, k + 1)
                if (decl ~ /struct[ \t]+settings[ \t]*\*/ && decl ~ /\(/) {
                    name = "?"
                    if (match(decl, /\([ \t]*\*[ \t]*[A-Za-z_0-9]+[ \t]*\)[ \t]*\(/)) {
                        name = substr(decl, RSTART, RLENGTH)
                        gsub(/[^A-Za-z_0-9]/, "", name)
                    } else if (match(decl, /[A-Za-z_0-9]+[ \t]*\(/)) {
                        name = substr(decl, RSTART, RLENGTH)
                        sub(/[ \t]*\($/, "", name)
                    }
                    if (index(ok, " " name " ") == 0)
                        printf "%s:%d: %s() takes struct settings: a stage " \
                            "takes parameters of its own (or add it to " \
                            "SETTINGS_READERS, with its reason)\n", \
                            FILENAME, at, name
                }
                decl = ""
            }
        }' "$f"
    done
}

# Every offence below directory $1, one line each, on stdout.
check_tree() {
    src=$1
    find "$src" -type f -name '*.c' | sort | while IFS= read -r f; do
        lines=$(wc -l < "$f")
        if [ "$lines" -gt "$MAX_FILE" ]; then
            echo "$f:$((MAX_FILE + 1)): file is $lines lines (limit $MAX_FILE)"
        fi
        func_lengths "$f"
    done
    find "$src" -type f \( -name '*.c' -o -name '*.h' \) | sort |
    while IFS= read -r f; do
        case "${f#"$src"/}" in
        worker/*) continue ;;
        esac
        grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($IMAGE_HEADERS)[>\"]" "$f" |
        while IFS=: read -r ln text; do
            echo "$f:$ln: image library header outside src/worker: $text"
        done
    done
    find "$src" -type f -name '*.h' | sort | while IFS= read -r f; do
        first=$(grep -nvE '^[[:space:]]*$' "$f" | head -n 1)
        case "${first#*:}" in
        /\**|//*) ;;
        *) echo "$f:${first%%:*}: header does not open with a comment block" ;;
        esac
    done
    folder_includes "$src"
    file_circles "$src"
    master_allocs "$src"
    settings_readers "$src"
}

run_check() {
    src=$1
    out=$(check_tree "$src")
    if [ -n "$out" ]; then
        printf '%s\n' "$out"
        echo "check-structure: $(printf '%s\n' "$out" | wc -l) offence(s) in $src" >&2
        return 1
    fi
    return 0
}

# ---- self-test ----------------------------------------------------------

# A function named $1 in the house layout whose body is $2 lines.
gen_func() {
    printf 'static int\n%s(int a, const char *s)\n{\n' "$1"
    k=2
    while [ "$k" -lt "$2" ]; do
        printf '    a += %d;\n' "$k"
        k=$((k + 1))
    done
    printf '}\n'
}

# $1 lines of plain statements at file scope (padding).
gen_lines() {
    k=0
    while [ "$k" -lt "$1" ]; do
        printf 'int pad_%d;\n' "$k"
        k=$((k + 1))
    done
}

fails=0
self_fail() {
    echo "self-test FAILED: $*" >&2
    fails=$((fails + 1))
}

# expect DIR OFFENCE...: the check of DIR fails and prints each OFFENCE
# (a "file:line" relative to DIR) and nothing else.
expect() {
    dir=$1
    shift
    out=$(check_tree "$dir/src")
    for want in "$@"; do
        if ! printf '%s\n' "$out" | grep -q "^$dir/src/$want: "; then
            self_fail "$dir: missing '$want' in: $out"
        fi
    done
    got=$(printf '%s' "$out" | grep -c . || true)
    if [ "$got" -ne "$#" ]; then
        self_fail "$dir: $got offences, wanted $#: $out"
    fi
    if [ "$#" -gt 0 ] && run_check "$dir/src" >/dev/null 2>&1; then
        self_fail "$dir: exit status 0 with offences"
    fi
    if [ "$#" -eq 0 ] && ! run_check "$dir/src" >/dev/null 2>&1; then
        self_fail "$dir: clean tree failed"
    fi
}

self_test() {
    t=$(mktemp -d "${TMPDIR:-/tmp}/check-structure.XXXXXX") || exit 2
    trap 'rm -rf "$t"' EXIT
    for d in clean long_func kr_func long_file include header circle circle3 folders allocs readers; do
        mkdir -p "$t/$d/src/master" "$t/$d/src/worker" "$t/$d/src/common"
    done

    # Clean: functions of exactly the limit, a file of exactly the limit,
    # a long initialiser, a long compound literal and a long struct (not
    # functions), braces inside strings and comments, image headers in the
    # worker, headers with their comment.
    c=$t/clean/src
    { echo '/* ok.c */'; gen_func at_limit "$MAX_FUNC"; } > "$c/master/ok.c"
    { gen_func fits 10; gen_lines $((MAX_FILE - 12)); } > "$c/master/full.c"
    {
        echo '/* a table, not a function */'
        echo 'static const int table[] ='
        echo '{'
        gen_lines $((MAX_FUNC + 80)) | sed 's/int pad_\([0-9]*\);/    \1,/'
        echo '};'
        echo 'struct big {'
        gen_lines $((MAX_FUNC + 80)) | sed 's/^/    /'
        echo '};'
        echo 'static struct big make(void);'
        echo 'static const struct big *bigp = &(struct big)'
        echo '{'
        gen_lines $((MAX_FUNC + 80)) | sed 's/int pad_\([0-9]*\);/    \1,/'
        echo '};'
        echo 'int'
        echo 'braces(void)'
        echo '{'
        printf '%s\n' '    const char *s = "}}}\n}";   /* } */'
        echo '    char c = '"'}'"';'
        echo '    /*'
        echo '}'
        echo '     */'
        echo '#define CLOSE }'
        gen_lines $((MAX_FUNC - 10)) | sed 's/^/    /'
        echo '    return s[0] + c;'
        echo '}'
    } > "$c/master/tables.c"
    printf '/*\n * w.c\n */\n#include <vips/vips.h>\n#include <png.h>\n' \
        > "$c/worker/w.c"
    printf '\n/* x.h - contract */\n#ifndef X_H\n#define X_H\n#endif\n' \
        > "$c/common/x.h"
    printf '// y.h - contract\nint y(void);\n' > "$c/common/y.h"
    expect "$t/clean"

    # One line over in the house layout: reported at the name's line.
    c=$t/long_func/src
    { echo '/* f.c */'; gen_func fine 5; echo; gen_func too_long $((MAX_FUNC + 1)); } \
        > "$c/master/f.c"
    # Closing braces in comments and a macro early in the body must not
    # end the function there.
    {
        echo '/* g.c */'
        echo 'void'
        echo 'hidden(void)'
        echo '{'
        echo '    /*'
        echo '}'
        echo '     */'
        echo '#define CLOSE }'
        echo '    // }'
        gen_lines $((MAX_FUNC - 6)) | sed 's/^/    /'
        echo '}'
    } > "$c/master/g.c"
    expect "$t/long_func" "master/f.c:$((1 + 2 + 5 + 1 + 2))" "master/g.c:3"

    # Another layout: braces on the signature's line, signature over two
    # lines, a '}' inside a string that must not end the function early.
    c=$t/kr_func
    {
        echo '/* k.c */'
        echo 'static int kr(int a,'
        echo '              int b) {'
        echo '    const char *s = "}";'
        gen_lines $((MAX_FUNC - 2)) | sed 's/^/    /'
        echo '}'
    } > "$c/src/common/k.c"
    expect "$c" "common/k.c:2"

    # A .c file one line over.
    c=$t/long_file/src
    { echo '/* big.c */'; gen_lines "$MAX_FILE"; } > "$c/master/big.c"
    expect "$t/long_file" "master/big.c:$((MAX_FILE + 1))"

    # Image headers outside the worker, in any spelling of the directive.
    c=$t/include/src
    printf '/* a.c */\n#include <stdio.h>\n#include <vips/vips.h>\n' \
        > "$c/master/a.c"
    printf '/* b.h */\n#ifndef B_H\n#  include "jpeglib.h"\n#endif\n' \
        > "$c/common/b.h"
    mkdir -p "$c/pool"
    printf '/* p.c */\n#include <glib.h>\n#include <lcms2.h>\n#include <turbojpeg.h>\n#include<png.h>\n' \
        > "$c/pool/p.c"
    expect "$t/include" "master/a.c:3" "common/b.h:3" "pool/p.c:2" \
        "pool/p.c:3" "pool/p.c:4" "pool/p.c:5"

    # Headers without their opening comment.
    c=$t/header/src
    printf '#ifndef H_H\n#define H_H\n/* late */\n#endif\n' > "$c/master/h.h"
    printf '\n\nint z(void); /* trailing */\n' > "$c/worker/z.h"
    expect "$t/header" "master/h.h:1" "worker/z.h:3"

    # Two files that call each other, in a call and through a function
    # pointer in an initialiser, reported once at the first use in the
    # file that sorts first; a one-way call, a static function of the same
    # name and a name in a prototype or a comment are no circle.
    c=$t/circle/src
    printf '/* a.c */\nint b_one(void);\nint\na_one(void)\n{\n    return 0;\n}\nint\na_two(void)\n{\n    return b_one() + d_one();\n}\n' \
        > "$c/master/a.c"
    printf '/* b.c */\nint a_one(void);\nint\nb_one(void)\n{\n    return 1;\n}\nstatic int (*const fns[])(void) = { a_one };\n' \
        > "$c/master/b.c"
    printf '/* c.c */\nint\nc_one(void)\n{\n    return a_one() + b_one();\n}\n' \
        > "$c/common/c.c"
    printf '/* d.c: c_one() */\nint c_one(void);\nstatic int\na_two(void)\n{\n    return 2;\n}\nint\nd_one(void)\n{\n    return a_two();\n}\n' \
        > "$c/worker/d.c"
    expect "$t/circle" "master/a.c:11"

    # A circle of three files, no two of which call each other both ways,
    # reported once at the file that sorts first; a fourth file calling
    # into it one way is no part of it.
    c=$t/circle3/src
    printf '/* x.c */\nint y_one(void);\nint\nx_one(void)\n{\n    return y_one();\n}\n' \
        > "$c/master/x.c"
    printf '/* y.c */\nint z_one(void);\nint\ny_one(void)\n{\n    return z_one();\n}\n' \
        > "$c/worker/y.c"
    printf '/* z.c */\nint x_one(void);\nint\nz_one(void)\n{\n    return 0;\n}\nint\nz_two(void)\n{\n    return x_one();\n}\n' \
        > "$c/common/z.c"
    printf '/* w.c */\nint x_one(void);\nint\nw_one(void)\n{\n    return x_one();\n}\n' \
        > "$c/common/w.c"
    expect "$t/circle3" "common/z.c:11"

    # Folders of master: another folder's public header and any header of
    # one's own folder are fine; another folder's private header is not.
    c=$t/folders/src/master
    mkdir -p "$c/a" "$c/b"
    printf '/* a.h - contract */\nint a_one(void);\n' > "$c/a/a.h"
    printf '/* a_int.h - private */\nint a_two(void);\n' > "$c/a/a_int.h"
    printf '/* b_int.h - private */\nint b_two(void);\n' > "$c/b/b_int.h"
    printf '/* a.c */\n#include "a.h"\n#include "a_int.h"\n' > "$c/a/a.c"
    printf '/* b.c */\n#include "a.h"\n#include "b_int.h"\n#  include "a_int.h"\n#include <stdio.h>\n' \
        > "$c/b/b.c"
    printf '/* b.h - contract */\n#include "a_int.h"\n' > "$c/b/b.h"
    expect "$t/folders" "master/b/b.c:4" "master/b/b.h:2"

    # Plain allocations in master: calls, a function pointer taken in an
    # initialiser and each call of the list are caught; the x* helpers,
    # names in comments, strings, prototypes and preprocessor lines are
    # not, nor anything outside master; an exception covers its one call
    # in its one function (not a malloc() beside it, not the same call in
    # another function of that file).
    c=$t/allocs/src
    mkdir -p "$c/master/scan"
    {
        echo '/* m.c: malloc() is not used here */'
        echo '#define DUP strdup'
        echo 'void *malloc(unsigned long n);'
        echo 'static void *(*const get)(unsigned long) = malloc;'
        echo 'char *'
        echo 'm_one(const char *s)'
        echo '{'
        echo '    const char *doc = "calloc(1, 2)";'
        echo '    char *p = xstrdup(s), *q = strdup(s), *r;'
        echo '    asprintf(&r, "%s", doc); free(p);'
        echo '    p = strndup(s, 2); p = realloc(p, 9);'
        echo '    return vasprintf(&r, s, 0) + calloc(1, 1) + reallocarray(p, 1, 2) ? q : xmalloc(1);'
        echo '}'
    } > "$c/master/m.c"
    printf '/* w.c */
void *
w_one(void)
{
    return malloc(1);
}
' \
        > "$c/worker/w.c"
    {
        echo '/* scan.c */'
        echo 'int'
        echo 'scan_run(int n)'
        echo '{'
        echo '    void *p = realloc(0, n);'
        echo '    return p != malloc(1);'
        echo '}'
        echo 'int'
        echo 'scan_other(int n)'
        echo '{'
        echo '    return realloc(0, n) != 0;'
        echo '}'
    } > "$c/master/scan/scan.c"
    expect "$t/allocs" "master/m.c:4" "master/m.c:9" "master/m.c:10" \
        "master/m.c:11" "master/m.c:11" "master/m.c:12" "master/m.c:12" \
        "master/m.c:12" "master/scan/scan.c:6" "master/scan/scan.c:11"

    # Stages and struct settings: a prototype over two lines and a
    # function pointer member are caught at their first line; a reader of
    # SETTINGS_READERS, a comment, a member that is no function, master's
    # headers and settings.h itself are not.
    c=$t/readers/src
    {
        echo '/* st.h - a const struct settings *s in a comment (s); */'
        echo 'struct geom_box geom_box_of(const struct settings *s);'
        echo 'void decode_params_of(const struct settings *s,'
        echo '                      struct decode_params *p);'
        echo 'struct stage_ops {'
        echo '    const struct settings *s;'
        echo '    int (*run)(const struct settings *s, int k);'
        echo '};'
        echo '#define STAGE(s) stage_run(s)'
        echo 'int stage_run(int a,'
        echo '              const struct settings *s);'
        echo 'int stage_ok(const struct geom_box *b); // struct settings *s ('
    } > "$c/worker/st.h"
    printf '/* c.h */
int c_one(struct settings *s);
' > "$c/common/c.h"
    printf '/* settings.h */
void settings_init(struct settings *s);
' \
        > "$c/common/settings.h"
    printf '/* m.h */
int m_one(const struct settings *s);
' > "$c/master/m.h"
    expect "$t/readers" "worker/st.h:7" "worker/st.h:10" "common/c.h:2"

    if [ "$fails" -gt 0 ]; then
        echo "check-structure: self-test: $fails failure(s)" >&2
        exit 1
    fi
    echo "check-structure: self-test passed"
    exit 0
}

case "${1:-}" in
--self-test)
    self_test
    ;;
-h | --help)
    sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
-*)
    echo "usage: $0 [SRC_DIR] | --self-test" >&2
    exit 2
    ;;
esac

src=${1:-$(cd "$(dirname "$0")/.." && pwd)/src}
src=${src%/}
if [ ! -d "$src" ]; then
    echo "check-structure: '$src' is not a directory" >&2
    exit 2
fi
run_check "$src"
