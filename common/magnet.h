/*
 * magnet: parse a magnet URI (BEP 9). Pure; any thread.
 *
 * Understands xt=urn:btih: as 40 hex digits or 32 base32 characters, dn,
 * repeated tr (trackers), x.pe (BEP 9 direct peers, host:port) and ws (web
 * seeds). Values are percent-decoded. Anything else that makes the link
 * unusable (no btih, a bad hash, a malformed escape, a second btih that
 * disagrees) is an error with one line in err; unknown keys are ignored.
 *
 * A bare info-hash (40 hex digits or 32 base32 characters, nothing around
 * them) is read as the magnet link naming it alone.
 *
 * Details:
 * - The scheme is matched case-insensitively; keys are case-sensitive. An
 *   index suffix is ignored (tr.1, xt.2 and x.pe.3 are tr, xt and x.pe).
 *   Empty parameters ("&&", a trailing '&') are skipped; an empty key is an error.
 * - Several xt=urn:btih: are fine if they name the same hash. urn:btmh: (v2)
 *   is ignored beside a btih and an error alone; other xt kinds are ignored.
 * - In dn only, a literal '+' decodes to a space (form encoding, as many
 *   generators write it); "%2B" stays '+'. The first non-empty dn wins.
 *   In tr, ws and x.pe '+' stays '+'.
 * - A decoded value (or key) holding a NUL byte is an error. Empty tr, ws
 *   and x.pe values are errors.
 * - x.pe is host:port or [IPv6]:port, port 1..65535; stored as written.
 * - trackers, peers and web_seeds keep first-seen order; exact duplicates are
 *   dropped. Each list holds at most BT_MAGNET_MAX_ITEMS unique entries and
 *   the URI at most BT_MAGNET_MAX_LEN bytes, else -EMSGSIZE.
 * Returns 0, -EINVAL, -EMSGSIZE or -ENOMEM; *ret is written only on success.
 */
#ifndef BT_MAGNET_H
#define BT_MAGNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BT_MAGNET_MAX_LEN 65536 /* bytes of URI accepted */
#define BT_MAGNET_MAX_ITEMS 256 /* tr, x.pe and ws entries, each */

struct bt_magnet {
    uint8_t info_hash[20]; /* xt=urn:btih:, raw SHA-1 bytes */
    char *name;            /* owned or NULL: dn */
    char **trackers;       /* owned: tr, in order, duplicates dropped */
    size_t tracker_count;  /* entries in trackers */
    char **peers;          /* owned: x.pe, "host:port", duplicates dropped */
    size_t peer_count;     /* entries in peers */
    char **web_seeds;      /* owned: ws, duplicates dropped */
    size_t web_seed_count; /* entries in web_seeds */
};

int bt_magnet_parse(struct bt_magnet **ret, const char *uri, struct bt_error *err);
/* A bare info-hash: 40 hex digits or 32 base32 characters, nothing else. */
bool bt_magnet_is_bare_hash(const char *s);
/* The magnet link a bare info-hash names, written into out; any other uri as it is. */
#define BT_MAGNET_LINK_LEN 64
const char *bt_magnet_link(char out[BT_MAGNET_LINK_LEN], const char *uri);
void bt_magnet_free(struct bt_magnet *m);

#endif
