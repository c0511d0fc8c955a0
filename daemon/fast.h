/*
 * fast: the Fast extension (BEP 6) on one peer connection. Loop thread only.
 *
 * btd sets the bit in every handshake; when the peer sets it too:
 * - our piece list goes as `have all` (complete), `have none` (nothing) or a
 *   bitfield, and theirs may come either way;
 * - a request we will not serve is answered with `reject request`, and so
 *   is every queued request when we choke them and every cancelled one;
 *   their rejects give the block back to the picker;
 * - each side names an allowed-fast set (BEP 6's canonical set, IPv4): our
 *   BTD_FAST_ALLOWED pieces they may ask for while choked, and up to
 *   BTD_FAST_ALLOWED_IN of theirs that we ask for while they choke us;
 * - `suggest piece` is read and ignored (it is advice; btd suggests nothing).
 */
#ifndef BTD_FAST_H
#define BTD_FAST_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

#define BTD_FAST_ALLOWED 10    /* pieces in the allowed-fast set we give */
#define BTD_FAST_ALLOWED_IN 16 /* allowed-fast pieces we keep from a peer */

struct btd_peer;

/* Both sides set the bit. */
bool btd_fast_on(const struct btd_peer *p);

/* After the handshake: our piece list (have all/none or a bitfield) and our allowed-fast set. */
void btd_fast_send_have_state(struct btd_peer *p);
/* Whether they may have piece while we choke them. */
bool btd_fast_allowed_out(const struct btd_peer *p, uint32_t piece);
/* Whether we may ask them for piece while they choke us. */
bool btd_fast_allowed_in(const struct btd_peer *p, uint32_t piece);
/* Answers a request we drop with `reject request`, if the extension is on. */
void btd_fast_reject(struct btd_peer *p, uint32_t piece, uint32_t begin, uint32_t len);

/* Message handlers (peer_msgs.c's table). */
void btd_fast_on_have_all(struct btd_peer *p, const struct bt_wire_msg *m);
void btd_fast_on_have_none(struct btd_peer *p, const struct bt_wire_msg *m);
void btd_fast_on_reject(struct btd_peer *p, const struct bt_wire_msg *m);
void btd_fast_on_allowed_fast(struct btd_peer *p, const struct bt_wire_msg *m);
void btd_fast_on_suggest(struct btd_peer *p, const struct bt_wire_msg *m);

#endif
