/*
 * hasher: the SHA-1 of every piece of a payload, on every core.
 *
 * Called from the main thread, which starts one worker per online CPU
 * (at most BTCTL_HASHER_MAX_THREADS, never more than pieces) and waits for
 * them. Each worker takes a contiguous run of pieces, reads them with its
 * own file descriptors (a piece may span files) in chunks of at most
 * BTCTL_HASHER_CHUNK bytes, and keeps its own SHA-1 context; memory is one
 * chunk per worker. Where the CPU has SHA-1 lanes (sha1_lanes.h) a worker
 * hashes up to 16 whole pieces at once, reading 128 KiB of each at a time
 * (2 MiB per worker). A shared atomic count of finished pieces drives the
 * progress bar, which the main thread redraws while it waits.
 */
#ifndef BTCTL_HASHER_H
#define BTCTL_HASHER_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "payload.h"

#define BTCTL_HASHER_MAX_THREADS 64
#define BTCTL_HASHER_CHUNK ((uint64_t)1 << 20) /* bytes read at once */

/*
 * Fills pieces (ceil(p->total / piece_length) * 20 bytes, caller-owned).
 * With progress, draws a bar on stderr. 0, or -errno with "PATH: reason"
 * in err (a file that shrank while being read is -EIO).
 */
int btctl_hash_pieces(const struct btctl_payload *p, uint64_t piece_length, uint8_t *pieces,
                      bool progress, struct bt_error *err);

#endif
