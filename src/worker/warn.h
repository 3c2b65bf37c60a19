/*
 * warn.h - the one way a worker records a warning in a task result.
 *
 * Decoders (libjpeg, libpng, libvips through its log handler) repeat
 * themselves, once per row or tile: every warning is counted in
 * res->nwarnings, but each distinct text is stored once in res->warning
 * ('\n'-separated), and only whole, so the buffer never ends in half a
 * message.
 */
#ifndef IMGPOOL_WARN_H
#define IMGPOOL_WARN_H

#include "task.h"

/* Record @text, unless warn_benign() says it is no fault of the file. */
void warn_append(struct task_result *res, const char *text);
/* 1 for a decoder's notice that says nothing about the file (libpng's
 * "iCCP: Not recognizing known sRGB profile that has been edited"): not
 * recorded, and no reason to fail under --fail-on warning. */
int warn_benign(const char *text);

#endif
