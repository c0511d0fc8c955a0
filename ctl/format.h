/*
 * format: how btctl shows things to a person. Main thread only.
 *
 * Sizes in binary units (B, KiB, MiB, GiB, TiB), a progress bar redrawn in
 * place on a terminal, and tables whose columns line up. Every text that
 * came from outside (a torrent, the daemon) goes through btctl_sanitize
 * before it reaches a terminal, so control bytes cannot move the cursor.
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

#endif
