/*
 * peer-internal: declarations shared by peer.c (connection, input, output)
 * and peer_msgs.c (message handlers, the request pipeline). Loop thread.
 */
#ifndef BTD_PEER_INTERNAL_H
#define BTD_PEER_INTERNAL_H

#include "peer.h"
#include "wire.h"

#define BTD_PEER_REQUEST_TIMEOUT_MS 30000
#define BTD_PEER_SNUB_MS 60000

void btd__peer_send2(struct btd_peer *p, const void *a, size_t alen, const void *b, size_t blen);
void btd__peer_send_simple(struct btd_peer *p, enum bt_wire_type type, uint32_t index,
                           uint32_t begin, uint32_t length);
/* Handles one parsed message; may close the peer. */
void btd__peer_dispatch(struct btd_peer *p, const struct bt_wire_msg *msg);
/* Gives every outstanding request back to the picker and orphans the peer's jobs. */
void btd__peer_release_requests(struct btd_peer *p);
void btd__peer_tick_requests(struct btd_peer *p, uint64_t now);

#endif
