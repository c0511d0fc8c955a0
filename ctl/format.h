/*
 * format: how btctl shows things to a person. Main thread only.
 *
 * Sizes in binary units (B, KiB, MiB, GiB, TiB), rates, durations and
 * percentages, a progress bar redrawn in place on a terminal, and tables
 * whose columns line up. Every text that came from outside (a torrent, the
 * daemon) goes through btctl_sanitize before it reaches a terminal, so
 * control bytes cannot move the cursor.
 */
#ifndef BTCTL_FORMAT_H
#define BTCTL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define BTCTL_SIZE_LEN 16 /* bytes for any btctl_format_size result */

/* "512 B", "3.00 MiB", "16.0 KiB", "700 GiB": three significant digits. */
void btctl_format_size(char out[BTCTL_SIZE_LEN], uint64_t bytes);

/*
 * A copy of s (caller frees) with control bytes and DEL written as \xNN;
 * bytes >= 0x80 are kept (UTF-8). NULL when out of memory.
 */
char *btctl_sanitize(const char *s);

struct btctl_progress {
    FILE *f;               /* borrowed */
    uint64_t total;        /* bytes */
    struct timespec start; /* CLOCK_MONOTONIC */
    struct timespec last;  /* last redraw */
    bool drawn;
};

void btctl_progress_init(struct btctl_progress *p, FILE *f, uint64_t total);
/* Redraws "[####....]  42%  123 MiB/s" at most ten times a second, and at the end. */
void btctl_progress_update(struct btctl_progress *p, uint64_t done);
/* Erases the bar, leaving the cursor at the start of an empty line. */
void btctl_progress_finish(struct btctl_progress *p);

/*
 * A table of text cells printed with aligned columns. Cells are copied and
 * sanitized on the way in. The last column is not padded.
 */
struct btctl_table {
    size_t ncols;
    uint32_t right; /* bit i set: column i is right-aligned */
    char **cells;   /* owned; nrows * ncols */
    size_t nrows;
    size_t cap; /* rows allocated */
};

void btctl_table_init(struct btctl_table *t, size_t ncols);
void btctl_table_deinit(struct btctl_table *t);
void btctl_table_align_right(struct btctl_table *t, size_t col);
/* Appends a row of ncols strings (NULL prints as empty). 0 or -ENOMEM. */
int btctl_table_add(struct btctl_table *t, const char *const *row);
/* Prints every row, each line starting with indent. */
void btctl_table_print(const struct btctl_table *t, FILE *f, const char *indent);

#define BTCTL_RATE_LEN 20     /* bytes for any btctl_format_rate result */
#define BTCTL_DURATION_LEN 24 /* bytes for any btctl_format_duration result */
#define BTCTL_PERCENT_LEN 16  /* bytes for any btctl_format_percent result */

/* "1.20 MiB/s", "0 B/s": a size per second. */
void btctl_format_rate(char out[BTCTL_RATE_LEN], uint64_t bytes_per_second);
/* "45s", "3m12s", "1h02m", "3d04h"; "-" when seconds is negative (unknown). */
void btctl_format_duration(char out[BTCTL_DURATION_LEN], int64_t seconds);
/* "42.0%", rounded down so that only a whole 1.0 reads "100.0%". */
void btctl_format_percent(char out[BTCTL_PERCENT_LEN], double fraction);
/*
 * Redraws "[####....] TAIL" in place, the bar taking the columns tail
 * leaves. Unlike btctl_progress_update it is not throttled: the caller
 * paces it. btctl_progress_finish erases it.
 */
void btctl_progress_draw(struct btctl_progress *p, double fraction, const char *tail);

#endif
