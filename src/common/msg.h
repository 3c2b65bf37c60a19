/*
 * msg.h - the one channel for diagnostics on stderr.
 *
 * Every message is prefixed "imgpool: ", lowercase, without trailing period,
 * says what failed first and quotes its subject:
 *     imgpool: cannot open 'a.jpg': Permission denied
 * errorf() always prints; warnf() and notef() are silenced by --quiet;
 * notef() is for information a user asked for with --verbose.
 * Only the master prints; workers put their text into task_result.
 */
#ifndef IMGPOOL_MSG_H
#define IMGPOOL_MSG_H

#include <stddef.h>

enum msg_level { MSG_QUIET = 0, MSG_NORMAL, MSG_VERBOSE };

void msg_set_level(enum msg_level lvl);
enum msg_level msg_get_level(void);

void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Length of the well-formed UTF-8 sequence at @s (@n > 0 bytes there), or
 * 0 when the byte at @s does not start one (RFC 3629: no overlong forms,
 * surrogates or code points above U+10FFFF).
 */
size_t msg_utf8_len(const unsigned char *s, size_t n);

/*
 * The one spelling of a name in every listing (messages, the summary,
 * --dry-run lines, -v lines): control characters (C0, DEL, the UTF-8
 * encoded C1 range) and bytes that are not UTF-8 become "\n", "\r", "\t"
 * or "\xNN" (lowercase hex), and a backslash becomes "\\", so that two
 * different names never print the same.  A malloc'ed copy the caller
 * frees; NULL when memory runs out.
 */
char *msg_escape(const char *s);

/*
 * msg_escape() for a message argument: the result lives in one of
 * MSG_NAME_SLOTS static buffers used in turn (so up to that many names in
 * one message), cut with "..." past MSG_NAME_MAX - 1 bytes.  Master only
 * (not thread safe); never NULL.
 */
#define MSG_NAME_SLOTS 4
#define MSG_NAME_MAX 4096
const char *msg_name(const char *s);

#endif
