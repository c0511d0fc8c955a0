/*
 * mapped: hashes a span of a file through a read-only shared mapping, so
 * the bytes go from the page cache to SHA-1 without the copy a pread makes
 * (a recheck spends 13-18 % of its CPU in that copy).
 *
 * A mapping can fault: when the file shrinks under us (another program
 * truncates it), touching a page past the new end raises SIGBUS. A handler
 * installed on first use turns that into an error for the thread that was
 * hashing, when the fault is on the bytes it guards; any other SIGBUS
 * (another address, or one sent with kill) goes to the handler that was
 * there before, or takes the default action, as if this module did not
 * exist.
 *
 * Threads: any; the guard is per thread.
 */
#ifndef BTD_MAPPED_H
#define BTD_MAPPED_H

#include <stddef.h>
#include <stdint.h>

#include "sha1.h"

/*
 * Feeds len bytes of fd at byte offset off to sha, and sets *fed to the
 * bytes it has fed, on failure too (so not a ret_ parameter). 0; -ENODATA
 * when the file is shorter than off + len, also when it shrinks while
 * being read; -EIO when a page could not be read from the disk; -ENODEV
 * (or another -errno) when the file cannot be mapped, and the caller reads
 * the bytes past *fed instead.
 */
int btd_mapped_hash(int fd, uint64_t off, size_t len, struct bt_sha1 *sha, size_t *fed);

/*
 * Runs fn(arg) on this thread with a fault on the len bytes at map (a
 * mapping fn reads) turned into a return: 0, or -EFAULT when a page of it
 * could not be had, and fn is left where it was (so it must hold no lock
 * and own no memory it has not handed over). A SIGBUS elsewhere, or sent
 * with kill, goes where it would have gone without this module. -ENODEV
 * if the handler could not be installed.
 */
int btd_mapped_guard(const void *map, size_t len, void (*fn)(void *arg), void *arg);

#endif
