/*
 * mapped: hashes a span of a file through a read-only shared mapping, so
 * the bytes go from the page cache to SHA-1 without the copy a pread makes
 * (a recheck spends 13-18 % of its CPU in that copy).
 *
 * A mapping can fault: when the file shrinks under us (another program
 * truncates it), touching a page past the new end raises SIGBUS. A handler
 * installed on first use turns that into an error for the thread that was
 * hashing; a SIGBUS anywhere else goes to the handler that was there before
 * (or the default action), as if this module did not exist.
 *
 * Threads: any; the guard is per thread.
 */
#ifndef BTD_MAPPED_H
#define BTD_MAPPED_H

#include <stddef.h>
#include <stdint.h>

#include "sha1.h"

/*
 * Feeds len bytes of fd at byte offset off to sha, and sets *ret_fed to the
 * bytes it has fed. 0; -ENODATA when the file is shorter than off + len,
 * also when it shrinks while being read; -EIO when a page could not be
 * read from the disk; -ENODEV (or another -errno) when the file cannot be
 * mapped, and the caller reads the bytes past *ret_fed instead.
 */
int btd_mapped_hash(int fd, uint64_t off, size_t len, struct bt_sha1 *sha, size_t *ret_fed);

/*
 * Runs fn(arg) on this thread with SIGBUS turned into a return: 0, or
 * -EFAULT when a mapped file's page could not be had under fn, which is left
 * where it was (so fn must hold no lock and own no memory it has not
 * handed over). -ENODEV if the handler could not be installed.
 */
int btd_mapped_guard(void (*fn)(void *arg), void *arg);

#endif
