/*
 * task.h - the one contract shared by every module.
 *
 * A struct task is one input file after scanning and planning: where it is,
 * where its output goes and what the master already decided about it.  A
 * struct task_result is what became of it.  The pool moves task indices to
 * workers and task_results back; the reporter only ever reads both.
 *
 * task_result is a fixed-size, self-contained record (no pointers) so that it
 * can cross the worker -> master socket as plain bytes.
 */
#ifndef IMGPOOL_TASK_H
#define IMGPOOL_TASK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

enum task_status {
    TASK_OK = 0,
    TASK_SKIPPED,
    TASK_FAILED,
};

/*
 * Why a file was skipped or failed.  The strings from err_class_str() are
 * part of the report format (docs/REPORT.md): never rename one.
 */
enum err_class {
    ERR_NONE = 0,
    ERR_NOT_AN_IMAGE,     /* image extension, but no image inside */
    ERR_NOT_REGULAR,      /* FIFO, device, socket: never opened */
    ERR_UNSUPPORTED,      /* an image format imgpool cannot read */
    ERR_UNTRUSTED,        /* needs a loader blocked as untrusted */
    ERR_DECODE,           /* corrupt or truncated image data */
    ERR_TOO_LARGE,        /* declared pixel count over --max-pixels */
    ERR_READ,             /* cannot open or read the input */
    ERR_WRITE,            /* cannot write the output */
    ERR_NO_SPACE,         /* ENOSPC / EDQUOT while writing */
    ERR_OUTPUT_PATH,      /* output path invalid or would escape --output */
    ERR_OUTPUT_CONFLICT,  /* two inputs map to the same output path */
    ERR_WORKER_CRASHED,   /* the worker died while on this file */
    ERR_TIMEOUT,          /* the worker was killed after --timeout */
    ERR_OUT_OF_MEMORY,    /* the worker hit its memory cap */
    ERR_INTERRUPTED,      /* never started: the run was interrupted */
    ERR_INTERNAL,         /* a bug: protocol violation, assertion */
    /* Reasons for a skip, not failures. */
    ERR_NOT_JPEG,         /* in-place recompression leaves non-JPEG alone */
    ERR_ALREADY_COMPRESSED, /* source quality at or below the target */
    ERR_NO_GAIN,          /* re-encoding would not save --min-saving */
    ERR_UP_TO_DATE,       /* output recorded as made from this input */
    ERR_INPUT_CHANGED,    /* the input changed while being processed */
    ERR_DRY_RUN,          /* --dry-run: would have been written */
    ERR_DUPLICATE,        /* a file already listed, reached via a link */
    /* Failures added later (kept after the skips: the numbers travel in
     * results and state, so existing ones never move). */
    ERR_TRUNCATED,        /* no pixel data, or too little to show the image */
    ERR_CORRUPT_HEADER,   /* a critical header is damaged (bad IHDR CRC) */
    ERR_TOO_COMPLEX,      /* bounded work exceeded: too many scans/warnings */
    ERR_SYMLINK,          /* a symlink below a root, without --follow-symlinks */
    ERR_MULTI_PICTURE,    /* in place: MPF images (gain map) would be lost */
    ERR_HAS_TRAILER,      /* recompress: data after the image would be lost */
    ERR_MOTION_PHOTO,     /* recompress: a motion photo's video would be lost */
    ERR_CORRUPT_DATA,     /* strict recompress: damaged image data */
    ERR_OUTPUT_IS_INPUT,  /* the output path is another input file */
    ERR_BACKUP,           /* in place: below a --backup folder (a skip) */
    ERR_NOT_TRANSCODABLE, /* -f jxl: a JPEG libjxl cannot transcode losslessly */
    ERR_VERIFY_FAILED,    /* -f jxl: the JPEG rebuilt from the output differs */
    ERR__COUNT
};

const char *task_status_str(enum task_status st);
const char *err_class_str(enum err_class c);

/* struct task's open_follow: a worker opens the part of path before rel as
 * named, then walks rel one component at a time, following a symbolic link
 * only where these bits allow (the scan sets them: --follow-symlinks, or
 * a path the user named in full). */
enum task_follow {
    TASK_FOLLOW_DIRS = 1 << 0,  /* directory components of rel */
    TASK_FOLLOW_FILE = 1 << 1,  /* the file itself */
};

/*
 * One input file.  Strings are owned by the task list that holds the task
 * (struct scan_list frees them).
 *
 * Where a file is, is said relative to a root: the input is rel below INPUT
 * root_index, the output is out_rel below the (normalised) output
 * directory.  Code that needs a directory or a name takes it from rel and
 * out_rel, never by taking path or out_path apart; those two are the same
 * places spelled in full, for opening by name, messages and the report.
 */
struct task {
    char *path;          /* as found: root joined with the relative part */
    const char *rel;     /* points into path: the part below the INPUT root
                            (for a file named directly, its base name) */
    char *out_path;      /* planned output path, NULL when none; in place,
                            a copy of path */
    const char *out_rel; /* points into out_path: the part below the output
                            root ("a/b.jpg"); NULL in place or when none */
    int64_t size;        /* bytes, from the scan's stat */
    int64_t mtime_ns;
    uint64_t dev, ino;
    uint32_t nlink;      /* hard links to the file, from the scan's stat */
    int root_index;      /* which INPUT this came from; the number of
                            INPUTs or more for none (--files-from) */
    unsigned open_follow; /* TASK_FOLLOW_* bits, set by the scan: which
                            symbolic links a worker may follow on its way
                            from the root to the file (input.h) */
    /* Set by scan or plan when the master already knows the outcome. */
    enum task_status pre_status;  /* TASK_OK means "process it" */
    enum err_class pre_class;
    const char *pre_msg;          /* static string, or NULL */
    /* Several sizes (settings.h nsizes > 1): the out_rel of every output
     * after the first, each NUL-terminated, the list ended by an empty
     * string; points into out_path's allocation.  NULL: one output. */
    const char *out_more;
};

/* The out_rel of output @k of @t (0 is t->out_rel), or NULL past the
 * last one. */
static inline const char *
task_out_rel(const struct task *t, int k)
{
    const char *p = t->out_more;

    if (k == 0)
        return t->out_rel;
    if (!p || !t->out_rel)
        return NULL;
    while (--k > 0 && *p)
        p += strlen(p) + 1;
    return *p ? p : NULL;
}

#define RESULT_MSG_MAX 1024

/* Outputs one task may have: SETTINGS_MAX_SIZES (settings.h). */
#define RESULT_MAX_OUTPUTS 8

/* One output written for a task (several sizes): in task_out_rel() order. */
struct task_output {
    int32_t width, height;    /* -1 when not written */
    int64_t bytes;
};

/*
 * What became of one task.  Filled by the worker (or by the pool when the
 * worker died or timed out) and sent to the master as raw bytes.
 */
struct task_result {
    uint32_t id;              /* index into the task list */
    uint32_t status;          /* enum task_status */
    uint32_t err_class;       /* enum err_class */
    uint32_t nwarnings;       /* decoder warnings in lenient mode */
    int64_t in_bytes, out_bytes;
    int32_t in_width, in_height, out_width, out_height;
    int64_t usec;             /* wall time spent on the file */
    int32_t decoded_rows;     /* source rows with decoded pixel data; -1
                                 when not known */
    char colour[48];          /* colour conversion applied, e.g.
                                 "icc:relative"; "" when none */
    char mode[16];            /* how the output was made when not the
                                 usual way: "lossless" (lossless.h); ""
                                 otherwise */
    /* --target-distance (lookq.h): the quality chosen for the first
     * output, 0 when none was searched; the distance at it (butteraugli's
     * 3-norm when look_checked, else the model's estimate); the encodes
     * spent, the output's own included. */
    int32_t look_quality, look_encodes, look_checked;
    float look_distance;
    uint32_t noutputs;        /* entries of outputs[] filled: one per
                                 output written (the first is also in
                                 out_* above); 0 when not known */
    struct task_output outputs[RESULT_MAX_OUTPUTS];
    char message[RESULT_MSG_MAX];  /* error text, NUL-terminated */
    char warning[RESULT_MSG_MAX];  /* first warnings, '\n'-separated */
};

/* Fill @r for a task the master settles without a worker. */
void task_result_set(struct task_result *r, uint32_t id,
                     enum task_status st, enum err_class c,
                     const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Mark @r failed with class @c and a formatted message; other fields
 * (sizes, dimensions) are kept. */
void task_result_fail(struct task_result *r, enum err_class c,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same for a skip: status TASK_SKIPPED, class @c (the reason). */
void task_result_skip(struct task_result *r, enum err_class c,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
