/*
 * tmpdir: fresh temporary directories for the unit tests. Header-only.
 *
 *     char dir[64];
 *     tmpdir_make(dir, sizeof(dir), "storage");   // /tmp/btd-test-storage-XXXXXX
 *     ...
 *     tmpdir_remove(dir);                         // the whole tree, symlinks not followed
 */
#ifndef BT_TMPDIR_H
#define BT_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Creates the directory or exits: a test cannot go on without it. */
__attribute__((unused)) static void tmpdir_make(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/btd-test-%s-XXXXXX", tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
}

static int tmpdir_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

__attribute__((unused)) static void tmpdir_remove(const char *path)
{
    nftw(path, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
