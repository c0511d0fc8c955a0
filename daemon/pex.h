/*
 * pex: peer exchange (BEP 11, ut_pex) for torrents that are not private.
 * Loop thread only.
 *
 * Every BTD_PEX_INTERVAL_MS (the first time BTD_PEX_FIRST_MS after the
 * extension handshake) each peer that speaks ut_pex is told which of our
 * connected peers are new since the last message and which are gone, at
 * most BT_EXT_PEX_MAX of each. What peers tell us goes into the address
 * book: at most BT_EXT_PEX_MAX addresses from one message and
 * BTD_PEX_MAX_FROM_PEER from one peer over its connection.
 */
#ifndef BTD_PEX_H
#define BTD_PEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BTD_PEX_INTERVAL_MS 60000
#define BTD_PEX_FIRST_MS 3000
#define BTD_PEX_MAX_FROM_PEER 200

struct btd_peer;
struct btd_torrent;

/* Whether t may use peer exchange (not private, or metadata not known yet). */
bool btd_pex_allowed(const struct btd_torrent *t);
void btd_pex_on_message(struct btd_peer *p, const uint8_t *payload, size_t len);
/* Once a second: messages that are due. */
void btd_pex_tick(struct btd_torrent *t);

#endif
