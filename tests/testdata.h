/*
 * testdata: walks a data corpus so that a new case needs no new C.
 *
 *   tests/data/<module>/valid/NAME<ext>    must be accepted; NAME.expect optional
 *   tests/data/<module>/invalid/NAME<ext>  must be refused; NAME.err holds a
 *                                          substring of the expected message
 *
 * Each file is one TAP point named "<module>/valid/NAME". The callbacks get
 * the file's bytes (NUL-terminated for convenience, len excludes it) and
 * the sibling's text with trailing whitespace removed (NULL if absent).
 * Header-only, for the unit tests; include after tap.h.
 */
#ifndef BT_TESTDATA_H
#define BT_TESTDATA_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*testdata_case_cb)(const char *name, const uint8_t *data, size_t len,
                                 const char *side);

/* Reads a whole file, NUL-terminated; NULL if it cannot be read. */
__attribute__((unused)) static uint8_t *testdata_read(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        size = ftell(f);
        rewind(f);
        data = size >= 0 ? malloc((size_t)size + 1) : NULL;
        if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
            free(data);
            data = NULL;
        }
        if (data) {
            data[size] = '\0';
            *ret_len = (size_t)size;
        }
    }
    fclose(f);
    return data;
}

static int testdata_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void testdata_run_dir(const char *module, const char *kind, const char *ext,
                             testdata_case_cb cb)
{
    char dir[1024], path[2048], label[512];
    size_t n = 0, cap = 0, i, elen = strlen(ext);
    char **names = NULL;
    struct dirent *de;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/%s/%s", tap_data_dir(), module, kind);
    d = opendir(dir);
    if (!d) {
        tap_begin();
        CHECK_MSG(d != NULL, "cannot open %s", dir);
        tap_end(dir);
        return;
    }
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);

        if (len <= elen || strcmp(de->d_name + len - elen, ext) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = realloc(names, cap * sizeof(*names));
        }
        names[n++] = strndup(de->d_name, len - elen);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), testdata_cmp);
    for (i = 0; i < n; i++) {
        size_t len = 0, slen = 0;
        uint8_t *data, *side;

        snprintf(path, sizeof(path), "%s/%s%s", dir, names[i], ext);
        data = testdata_read(path, &len);
        snprintf(path, sizeof(path), "%s/%s.%s", dir, names[i],
                 strcmp(kind, "valid") == 0 ? "expect" : "err");
        side = testdata_read(path, &slen);
        while (side && slen > 0 && strchr(" \t\r\n", side[slen - 1]))
            side[--slen] = '\0';
        snprintf(label, sizeof(label), "%s/%s/%s", module, kind, names[i]);
        tap_begin();
        CHECK_MSG(data != NULL, "cannot read %s", label);
        if (data)
            cb(names[i], data, len, (const char *)side);
        tap_end(label);
        free(data);
        free(side);
        free(names[i]);
    }
    free(names);
}

/* Runs every case of tests/data/<module>/{valid,invalid}/. */
__attribute__((unused)) static void testdata_run(const char *module, const char *ext,
                                                 testdata_case_cb valid, testdata_case_cb invalid)
{
    testdata_run_dir(module, "valid", ext, valid);
    testdata_run_dir(module, "invalid", ext, invalid);
}

#endif
