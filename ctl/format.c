/*
 * format: sizes, the progress bar and aligned tables (see format.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "format.h"

void btctl_format_size(char out[BTCTL_SIZE_LEN], uint64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    size_t u = 0;

    if (bytes < 1024) {
        snprintf(out, BTCTL_SIZE_LEN, "%u B", (unsigned)bytes);
        return;
    }
    v /= 1024.0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    if (v < 9.995)
        snprintf(out, BTCTL_SIZE_LEN, "%.2f %s", v, units[u]);
    else if (v < 99.95)
        snprintf(out, BTCTL_SIZE_LEN, "%.1f %s", v, units[u]);
    else
        snprintf(out, BTCTL_SIZE_LEN, "%.0f %s", v, units[u]);
}

char *btctl_sanitize(const char *s)
{
    size_t n = 0;
    char *out;
    char *w;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p < 0x20 || *p == 0x7f) ? 4 : 1;
    out = malloc(n + 1);
    if (!out)
        return NULL;
    w = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(w, 5, "\\x%02x", *p);
            w += 4;
        } else {
            *w++ = (char)*p;
        }
    }
    *w = '\0';
    return out;
}

/* Columns a string takes, counting each UTF-8 sequence as one. */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xc0) != 0x80)
            w++;
    }
    return w;
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static int terminal_columns(FILE *f)
{
    struct winsize ws;

    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

void btctl_progress_init(struct btctl_progress *p, FILE *f, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->f = f;
    p->total = total;
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    p->last = p->start;
}

void btctl_progress_update(struct btctl_progress *p, uint64_t done)
{
    struct timespec now;
    char rate[BTCTL_SIZE_LEN];
    char bar[256];
    double elapsed;
    double frac;
    int width;
    int fill;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (p->drawn && done < p->total && seconds_between(&p->last, &now) < 0.1)
        return;
    p->last = now;
    p->drawn = true;
    if (done > p->total)
        done = p->total;
    frac = p->total ? (double)done / (double)p->total : 1.0;
    elapsed = seconds_between(&p->start, &now);
    btctl_format_size(rate, elapsed > 0.0 ? (uint64_t)((double)done / elapsed) : 0);
    /* "[bar] 100%  1023 MiB/s": the bar takes what the numbers leave. */
    width = terminal_columns(p->f) - 26;
    if (width > (int)sizeof(bar) - 1)
        width = (int)sizeof(bar) - 1;
    fill = (int)(frac * width);
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(p->f, "\r[%s] %3d%%  %s/s\033[K", bar, (int)(frac * 100.0), rate);
    fflush(p->f);
}

void btctl_progress_finish(struct btctl_progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", p->f);
        fflush(p->f);
    }
    p->drawn = false;
}

void btctl_table_init(struct btctl_table *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
}

void btctl_table_deinit(struct btctl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

void btctl_table_align_right(struct btctl_table *t, size_t col)
{
    if (col < 32)
        t->right |= (uint32_t)1 << col;
}

int btctl_table_add(struct btctl_table *t, const char *const *row)
{
    char **cells;

    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;

        cells = realloc(t->cells, ncap * t->ncols * sizeof(*cells));
        if (!cells)
            return -ENOMEM;
        t->cells = cells;
        t->cap = ncap;
    }
    cells = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        cells[c] = btctl_sanitize(row[c] ? row[c] : "");
        if (!cells[c]) {
            while (c > 0)
                free(cells[--c]);
            return -ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

static size_t column_width(const struct btctl_table *t, size_t col)
{
    size_t w = 0;

    for (size_t r = 0; r < t->nrows; r++) {
        size_t n = text_width(t->cells[r * t->ncols + col]);

        if (n > w)
            w = n;
    }
    return w;
}

void btctl_table_print(const struct btctl_table *t, FILE *f, const char *indent)
{
    size_t widths[32] = {0};
    size_t ncols = t->ncols < 32 ? t->ncols : 32;

    for (size_t c = 0; c < ncols; c++)
        widths[c] = column_width(t, c);
    for (size_t r = 0; r < t->nrows; r++) {
        fputs(indent, f);
        for (size_t c = 0; c < ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t pad = widths[c] - text_width(cell);
            bool last = c + 1 == ncols;

            if (t->right & ((uint32_t)1 << c))
                fprintf(f, "%*s%s", (int)pad, "", cell);
            else
                fprintf(f, "%s%*s", cell, last ? 0 : (int)pad, "");
            if (!last)
                fputs("  ", f);
        }
        fputc('\n', f);
    }
}

void btctl_format_rate(char out[BTCTL_RATE_LEN], uint64_t bytes_per_second)
{
    char size[BTCTL_SIZE_LEN];

    btctl_format_size(size, bytes_per_second);
    snprintf(out, BTCTL_RATE_LEN, "%s/s", size);
}

void btctl_format_duration(char out[BTCTL_DURATION_LEN], int64_t seconds)
{
    long long s = (long long)seconds;

    if (s < 0)
        snprintf(out, BTCTL_DURATION_LEN, "-");
    else if (s < 60)
        snprintf(out, BTCTL_DURATION_LEN, "%llds", s);
    else if (s < 3600)
        snprintf(out, BTCTL_DURATION_LEN, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, BTCTL_DURATION_LEN, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, BTCTL_DURATION_LEN, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

void btctl_format_percent(char out[BTCTL_PERCENT_LEN], double fraction)
{
    int permille = 0;

    if (fraction >= 1.0)
        permille = 1000;
    else if (fraction > 0.0)
        permille = (int)(fraction * 1000.0);
    snprintf(out, BTCTL_PERCENT_LEN, "%d.%d%%", permille / 10, permille % 10);
}

void btctl_progress_draw(struct btctl_progress *p, double fraction, const char *tail)
{
    char bar[256];
    int width;
    int fill;

    /* "[" bar "] " tail, and one column spare so the line never wraps. */
    width = terminal_columns(p->f) - 4 - (int)text_width(tail);
    if (width > (int)sizeof(bar) - 1)
        width = (int)sizeof(bar) - 1;
    if (width < 0)
        width = 0;
    if (fraction > 1.0)
        fraction = 1.0;
    fill = fraction > 0.0 ? (int)(fraction * width) : 0;
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(p->f, "\r[%s] %s\033[K", bar, tail);
    fflush(p->f);
    clock_gettime(CLOCK_MONOTONIC, &p->last);
    p->drawn = true;
}
