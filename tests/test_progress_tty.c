/*
 * test_progress_tty.c - the progress line of a real run on a terminal.
 *
 * imgpool runs on a pseudo-terminal with -v; what it writes is replayed on
 * a minimal screen model ('\r', '\n', "\033[K") and the screen that is left
 * is checked: every message on a line of its own, no progress text mixed
 * into a message and none left behind after the summary.
 */
#include <errno.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

#define ROWS 128
#define COLS 512

/* Run imgpool with @args on a terminal @cols wide; all it wrote. */
static char *
run_on_pty(const char *const *args, unsigned short cols, int *status)
{
    struct winsize ws = {.ws_row = 50, .ws_col = cols};
    size_t size = 1 << 16, len = 0;
    char *buf = malloc(size);
    const char *argv[32];
    ssize_t n;
    pid_t pid;
    int m, st, i;

    argv[0] = IMGPOOL_BIN;
    for (i = 0; args[i] && i < 30; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    pid = forkpty(&m, NULL, NULL, &ws);
    cr_assert(pid >= 0, "forkpty: %s", strerror(errno));
    if (pid == 0) {
        execv(IMGPOOL_BIN, (char *const *)argv);
        _exit(127);
    }
    for (;;) {
        if (len + 1 >= size) {
            size *= 2;
            buf = realloc(buf, size);
        }
        n = read(m, buf + len, size - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;              /* EIO once the child is gone */
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(m);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return buf;
}

/* The screen @s leaves; returns the number of rows used. */
static int
render(const char *s, char screen[ROWS][COLS])
{
    int row = 0, col = 0;

    memset(screen, 0, ROWS * COLS);
    for (; *s && row < ROWS; s++) {
        if (*s == '\r') {
            col = 0;
        } else if (*s == '\n') {
            row++;
        } else if (strncmp(s, "\033[K", 3) == 0) {
            memset(screen[row] + col, 0, (size_t)(COLS - col));
            s += 2;
        } else if (col < COLS - 1) {
            screen[row][col++] = *s;
        }
    }
    return row < ROWS ? row + 1 : ROWS;
}

Test(progress_tty, verbose_messages_stay_off_the_progress_line,
     .timeout = 120)
{
    static char screen[ROWS][COLS];
    char *dir = th_mkdtemp(), *out = th_path(dir, "out");
    char *testdata = th_testdata("");
    const char *args[] = {"thumbnail", "-v", "-j", "2", testdata, "-o", out,
                          NULL};
    char *text;
    int status, rows, i, announced = 0, summary = 0;

    text = run_on_pty(args, 200, &status);
    cr_assert_eq(status, 1, "testdata has broken files: exit %d\n%s",
                 status, text);
    cr_assert(strstr(text, "\r["), "no progress line drawn: %s", text);
    rows = render(text, screen);
    for (i = 0; i < rows; i++) {
        if (strncmp(screen[i], "imgpool: ", 9) == 0 &&
            strstr(screen[i], " files to process with 2 workers"))
            announced++;
        if (strstr(screen[i], " files: ") && strstr(screen[i], " ok"))
            summary++;
        /* A progress line starts with '['; a message with "imgpool: ". */
        cr_assert(screen[i][0] == '\0' ||
                      strncmp(screen[i], "imgpool: ", 9) == 0,
                  "row %d left on screen: '%s'", i, screen[i]);
        cr_assert(strstr(screen[i], "files/s ETA") == NULL &&
                      strstr(screen[i], "MiB/s ETA") == NULL,
                  "progress text in row %d: '%s'", i, screen[i]);
    }
    cr_assert_eq(announced, 1, "the -v message is not on a line of its own");
    cr_assert_eq(summary, 1);
    free(text);
    free(testdata);
    free(out);
    th_rmrf(dir);
    free(dir);
}
