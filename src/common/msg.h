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

enum msg_level { MSG_QUIET = 0, MSG_NORMAL, MSG_VERBOSE };

void msg_set_level(enum msg_level lvl);
enum msg_level msg_get_level(void);

void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
