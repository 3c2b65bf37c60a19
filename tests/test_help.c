/*
 * test_help.c - one source for the options: the table in cli_table.c.
 *
 * Every row must be in the --help of each subcommand that takes it and in
 * no other; every row must have an entry in docs/imgpool.1, the man page
 * must document no option the table lacks, and each default --help prints
 * (from cli_defaults()) must be the one the man page states.  An option
 * given to a subcommand that does not take it is named alone.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cli_table.h"
#include "helpers.h"
#include "sniff.h"

#define MAN_PAGE TESTDATA_DIR "/../docs/imgpool.1"

/* ---- reading the man page ---- */

/* One .TP entry of the OPTIONS section: its tag line and its text. */
struct man_entry {
    char *tag;
    char *text;       /* tag and body, plain */
};

struct man {
    struct man_entry *e;
    size_t n;
};

/* Append the plain text of roff @line (a macro line or text) to @out. */
static void
plain_append(char *out, size_t size, const char *line)
{
    size_t o = strlen(out);
    const char *p = line;
    int alternating = 0, quoted = 0;

    if (*p == '.') {
        /* .B .I: words; .BR .BI .IR .RB .RI: arguments run together. */
        while (*p && *p != ' ')
            p++;
        alternating = p - line == 3;
        while (*p == ' ')
            p++;
    }
    if (o > 0 && o + 1 < size && out[o - 1] != ' ')
        out[o++] = ' ';
    for (; *p && o + 1 < size; p++) {
        if (line[0] == '.' && *p == '"') {
            quoted = !quoted;
            continue;
        }
        if (line[0] == '.' && *p == ' ' && !quoted && alternating)
            continue;
        if (p[0] == '\\' && p[1] == '-') {
            out[o++] = '-';
            p++;
        } else if (p[0] == '\\' && p[1] == 'f' && p[2]) {
            p += 2;
        } else if (p[0] == '\\' && p[1] == '&') {
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static void
man_load(struct man *m)
{
    char *text = th_read_file(MAN_PAGE, NULL), *line, *save = NULL;
    int in_options = 0, want_tag = 0;
    struct man_entry *cur = NULL;

    memset(m, 0, sizeof(*m));
    m->e = calloc(256, sizeof(*m->e));
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, ".SH", 3) == 0) {
            in_options = strcmp(line, ".SH OPTIONS") == 0;
            cur = NULL;
            continue;
        }
        if (!in_options)
            continue;
        if (strncmp(line, ".SS", 3) == 0) {
            cur = NULL;
        } else if (strcmp(line, ".TP") == 0) {
            cr_assert_lt(m->n, 256);
            cur = &m->e[m->n++];
            cur->tag = calloc(1, 256);
            cur->text = calloc(1, 8192);
            want_tag = 1;
        } else if (cur && want_tag) {
            plain_append(cur->tag, 256, line);
            plain_append(cur->text, 8192, line);
            want_tag = 0;
        } else if (cur && strcmp(line, ".br") != 0) {
            plain_append(cur->text, 8192, line);
        }
    }
    free(text);
}

static void
man_release(struct man *m)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        free(m->e[i].tag);
        free(m->e[i].text);
    }
    free(m->e);
}

/* @s contains option @opt ("--fit", "-j") as a whole token. */
static int
has_option(const char *s, const char *opt)
{
    size_t n = strlen(opt);
    const char *p;

    for (p = strstr(s, opt); p; p = strstr(p, opt)) {
        int before = p == s || !(isalnum((unsigned char)p[-1]) ||
                                 p[-1] == '-');
        int after = !(isalnum((unsigned char)p[n]) || p[n] == '-');
        if (before && after)
            return 1;
        p += n;
    }
    return 0;
}

/* The entry whose tag names --@name, or NULL. */
static const struct man_entry *
man_find(const struct man *m, const char *name)
{
    char opt[64];
    size_t i;

    snprintf(opt, sizeof(opt), "--%s", name);
    for (i = 0; i < m->n; i++)
        if (has_option(m->e[i].tag, opt))
            return &m->e[i];
    return NULL;
}

/* @text states @value as a default: the value as a word, at most 40
 * characters before or 90 after a "default".  Of a value with a gloss
 * ("none: the original size") the first part is enough. */
static int
states_default(const char *text, const char *value)
{
    const char *d, *v, *colon = strstr(value, ": ");
    size_t n = colon ? (size_t)(colon - value) : strlen(value);

    for (d = strcasestr(text, "default"); d; d = strcasestr(d, "default")) {
        for (v = d - 40 > text ? d - 40 : text; v < d + 90 && *v; v++) {
            if (strncmp(v, value, n) != 0)
                continue;
            if ((v == text || !isalnum((unsigned char)v[-1])) &&
                !isalnum((unsigned char)v[n]))
                return 1;
        }
        d += 7;
    }
    return 0;
}

/* ---- the man page against the table ---- */

Test(help, every_option_has_a_man_page_entry)
{
    struct man m;
    char opt[8];
    size_t i;

    man_load(&m);
    cr_assert_gt(m.n, 20, "OPTIONS section not found in " MAN_PAGE);
    for (i = 0; i < cli_noptions; i++) {
        const struct cli_option *row = &cli_options[i];
        const struct man_entry *e = man_find(&m, row->name);

        cr_expect(e != NULL, "--%s is not in docs/imgpool.1", row->name);
        if (!e || !row->letter)
            continue;
        snprintf(opt, sizeof(opt), "-%c", row->letter);
        cr_expect(has_option(e->tag, opt),
                  "docs/imgpool.1 gives --%s without %s: '%s'", row->name,
                  opt, e->tag);
    }
    man_release(&m);
}

Test(help, man_page_documents_no_unknown_option)
{
    struct man m;
    const char *p, *q;
    char name[64];
    size_t i, n;

    man_load(&m);
    for (i = 0; i < m.n; i++) {
        for (p = strstr(m.e[i].tag, "--"); p; p = strstr(q, "--")) {
            q = p + 2;
            n = strspn(q, "abcdefghijklmnopqrstuvwxyz0123456789-");
            cr_assert_lt(n, sizeof(name));
            memcpy(name, q, n);
            name[n] = '\0';
            q += n;
            cr_expect(cli_option_find(name) != NULL,
                      "docs/imgpool.1 documents --%s, which imgpool does "
                      "not take", name);
        }
    }
    man_release(&m);
}

Test(help, man_page_states_the_defaults_of_the_table)
{
    static const unsigned bases[] = {CLI_SUB_THUMBNAIL, CLI_SUB_RECOMPRESS,
                                     CLI_SUB_IN_PLACE};
    struct man m;
    struct cli_opts d;
    char value[64];
    size_t i, b;

    man_load(&m);
    for (i = 0; i < cli_noptions; i++) {
        const struct cli_option *row = &cli_options[i];
        const struct man_entry *e = man_find(&m, row->name);

        if (!e || row->kind == CLI_KIND_FLAG)
            continue;
        for (b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
            if (!(row->subs & bases[b]))
                continue;
            memset(&d, 0, sizeof(d));
            cli_defaults(&d, bases[b]);
            if (cli_format_default(&d, row, value, sizeof(value)) < 0 ||
                !value[0])
                continue;
            cr_expect(states_default(e->text, value),
                      "--%s: --help says default %s, docs/imgpool.1 does "
                      "not: '%s'", row->name, value, e->text);
        }
    }
    man_release(&m);
}

/* ---- --help against the table ---- */

/* @help has a line that lists --@name ("  -x, --name ..." or
 * "      --name ..."), not just a mention in some text. */
static int
help_lists(const char *help, const char *name)
{
    const char *line = help;
    size_t n = strlen(name);

    while (line && *line) {
        if (strncmp(line, "  ", 2) == 0 &&
            (strncmp(line + 2, "    --", 6) == 0 ||
             (line[2] == '-' && strncmp(line + 4, ", --", 4) == 0)) &&
            strncmp(line + 8, name, n) == 0 &&
            (line[8 + n] == ' ' || line[8 + n] == '\n'))
            return 1;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

static char *
help_text(unsigned sub)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert(f);
    cli_help(f, sub);
    fclose(f);
    return buf;
}

Test(help, each_help_lists_exactly_its_options)
{
    static const struct {
        unsigned sub, mask;
    } subs[] = {
        {CLI_SUB_THUMBNAIL, CLI_SUB_THUMBNAIL},
        {CLI_SUB_RECOMPRESS, CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE},
        {CLI_SUB_MERGE, CLI_SUB_MERGE},
    };
    size_t s, i, listed;

    for (s = 0; s < sizeof(subs) / sizeof(subs[0]); s++) {
        char *help = help_text(subs[s].sub);

        listed = 0;
        for (i = 0; i < cli_noptions; i++) {
            const char *name = cli_options[i].name;

            if (cli_options[i].subs & subs[s].mask) {
                cr_expect(help_lists(help, name), "help %u lacks --%s",
                          subs[s].sub, name);
                listed++;
            } else {
                cr_expect(!help_lists(help, name), "help %u lists --%s",
                          subs[s].sub, name);
            }
        }
        cr_assert_gt(listed, 1);
        free(help);
    }
}

Test(help, thumbnail_help_has_no_in_place_option)
{
    char *help = help_text(CLI_SUB_THUMBNAIL);

    size_t i;

    cr_assert(strstr(help, "in place (") == NULL, "%s", help);
    for (i = 0; i < cli_noptions; i++)
        if (!(cli_options[i].subs & CLI_SUB_THUMBNAIL))
            cr_assert(!help_lists(help, cli_options[i].name),
                      "thumbnail --help lists --%s", cli_options[i].name);
    cr_assert(help_lists(help, "size") && help_lists(help, "output"), "%s",
              help);
    free(help);
}

/* An in-place option given elsewhere: the error names it and no other. */
Test(help, in_place_option_error_names_only_the_option_given)
{
    static const char *const cmds[][2] = {{"thumbnail", NULL},
                                          {"recompress", NULL}};
    struct th_run r;
    char given[64], other[64];
    size_t i, j, c, tried = 0;

    for (i = 0; i < cli_noptions; i++) {
        const struct cli_option *row = &cli_options[i];

        if (row->subs != CLI_SUB_IN_PLACE)
            continue;
        snprintf(given, sizeof(given), "--%s", row->name);
        for (c = 0; c < 2; c++) {
            const char *args[] = {cmds[c][0], "in", "-o", "out", given,
                                  row->metavar ? "1" : NULL, NULL};
            th_run(&r, args);
            cr_assert_eq(r.status, 2, "%s %s: exit %d", cmds[c][0], given,
                         r.status);
            cr_assert(strstr(r.err, given), "%s %s: '%s'", cmds[c][0], given,
                      r.err);
            for (j = 0; j < cli_noptions; j++) {
                if (j == i || cli_options[j].subs != CLI_SUB_IN_PLACE)
                    continue;
                snprintf(other, sizeof(other), "--%s", cli_options[j].name);
                cr_assert(!has_option(r.err, other),
                          "%s %s names %s too: '%s'", cmds[c][0], given,
                          other, r.err);
            }
            th_run_release(&r);
            tried++;
        }
    }
    cr_assert_gt(tried, 4, "no in-place-only rows found");
}

/* ---- the formats in the prose against sniff.c's table ---- */

/* @text as one line of plain words: roff macro names and "\-" escapes
 * dropped, backquotes gone, runs of white space one space.  Caller
 * frees. */
static char *
plain_words(const char *text)
{
    char *out = calloc(1, strlen(text) + 2), *o = out;
    const char *p = text;
    int bol = 1;

    cr_assert(out);
    for (; *p; p++) {
        if (bol && *p == '.') {         /* ".BR " and the like */
            while (*p && *p != ' ' && *p != '\n')
                p++;
            if (!*p)
                break;
        }
        bol = *p == '\n';
        if (p[0] == '\\' && p[1] == '-')
            continue;
        if (*p == '`' || *p == '"')
            continue;
        if (*p == '\n' || *p == ' ' || *p == '\t') {
            if (o > out && o[-1] != ' ')
                *o++ = ' ';
            continue;
        }
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

/* The inputs paragraph of @doc (from "nputs" to the first
 * "untrusted-format" after it) names every format of the table, and each
 * untrusted one near "--allow-untrusted". */
static void
assert_inputs_prose(const char *doc, const char *what)
{
    char *words = plain_words(doc), *from, *to, *allow;
    enum img_format f;

    from = strstr(words, "nputs are");
    if (!from)
        from = strstr(words, "inputs:");
    cr_assert(from, "%s: no inputs paragraph", what);
    to = strstr(from, "untrusted-format");
    cr_assert(to, "%s: the inputs paragraph does not say untrusted-format",
              what);
    to[0] = '\0';
    allow = strstr(from, "--allow-untrusted");
    cr_assert(allow, "%s: the inputs paragraph lacks --allow-untrusted: %s",
              what, from);
    for (f = IMGF_UNKNOWN + 1; f < IMGF__COUNT; f++) {
        const char *name = img_format_name(f), *at;

        if (!name)
            continue;
        at = strstr(from, name);
        cr_assert(at, "%s: %s is not among the inputs: %s", what, name, from);
        if (img_format_untrusted(f)) {
            while (at && (at - allow > 80 || allow - at > 80))
                at = strstr(at + 1, name);
            cr_assert(at, "%s: %s is not named by --allow-untrusted: %s",
                      what, name, from);
        }
    }
    free(words);
}

/* Exactly the untrusted formats in @text (the option's own help). */
static void
assert_untrusted_list(const char *text, const char *what)
{
    char *words = plain_words(text);
    enum img_format f;

    for (f = IMGF_UNKNOWN + 1; f < IMGF__COUNT; f++) {
        const char *name = img_format_name(f);

        if (!name || f == IMGF_JPEG)    /* "JPEG" is in "JPEG 2000" */
            continue;
        if (img_format_untrusted(f))
            cr_assert(strstr(words, name), "%s lacks %s: %s", what, name,
                      words);
        else
            cr_assert(!strstr(words, name), "%s names %s, which is read "
                      "without it: %s", what, name, words);
    }
    free(words);
}

Test(help, formats_in_the_prose_match_the_format_table)
{
    char *top = help_text(0), *readme = th_read_file(TESTDATA_DIR
                                                     "/../README.md", NULL);
    char *man = th_read_file(MAN_PAGE, NULL);
    const struct cli_option *allow = cli_option_find("allow-untrusted");
    struct man m;
    const struct man_entry *e;
    static const unsigned subs[] = {0, CLI_SUB_THUMBNAIL, CLI_SUB_RECOMPRESS};

    man_load(&m);
    e = man_find(&m, "allow-untrusted");
    cr_assert(readme && man && allow && e);
    assert_inputs_prose(top, "imgpool --help");
    assert_inputs_prose(readme, "README.md");
    assert_inputs_prose(man, "imgpool.1");
    assert_untrusted_list(allow->help, "--allow-untrusted's help");
    assert_untrusted_list(e->text, "the man page's --allow-untrusted");
    /* Every output format in each paragraph that says what comes out. */
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        char *help = help_text(subs[i]), *words, *end;

        words = plain_words(help);
        end = strstr(words, "commands:");
        if (!end)
            end = strstr(words, "output:");
        cr_assert(end, "help of %u: no options", subs[i]);
        *end = '\0';
        cr_assert(strstr(words, "JPEG") && strstr(words, "PNG") &&
                  strstr(words, "WebP") && strstr(words, "AVIF") &&
                  strstr(words, "JPEG XL"),
                  "help of %u leaves out an output format: %s", subs[i],
                  words);
        free(words);
        free(help);
    }
    man_release(&m);
    free(top);
    free(readme);
    free(man);
}

/* Issue 20 point 3: -o is required only where it is not refused (the
 * option's help and the man page name --freedesktop and --in-place), and
 * recompress --help says that in place a JPEG keeps its colour space. */
Test(help, output_is_required_except_where_refused)
{
    const struct cli_option *o = cli_option_find("output");
    char *rc = help_text(CLI_SUB_RECOMPRESS), *words;
    const struct man_entry *e;
    struct man m;
    const char *texts[2];

    man_load(&m);
    e = man_find(&m, "output");
    cr_assert(o && e);
    texts[0] = o->help;
    texts[1] = e->text;
    for (int i = 0; i < 2; i++) {
        words = plain_words(texts[i]);
        cr_expect(!strstr(words, "required") ||
                      (strstr(words, "except") &&
                       strstr(words, "--freedesktop") &&
                       strstr(words, "--in-place")),
                  "%s says -o is required without the exceptions: %s",
                  i ? "the man page" : "--help", words);
        free(words);
    }
    words = plain_words(rc);
    cr_expect(strstr(words, "own colour space") && strstr(words, "CMYK") &&
                  strstr(words, "--to-srgb"),
              "recompress --help: %s", words);
    free(words);
    free(rc);
    man_release(&m);
}
