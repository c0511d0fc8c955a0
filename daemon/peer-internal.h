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
/*
 * Room for n more bytes at the end of the output, for the caller to fill
 * in place and then btd__peer_send_commit (or not, to send nothing): valid
 * until the next send. NULL when the peer is closing or closed (no memory).
 */
uint8_t *btd__peer_send_room(struct btd_peer *p, size_t n);
void btd__peer_send_commit(struct btd_peer *p, size_t n);
/* Bytes of output not yet taken by the socket: held for this loop turn, or queued in libuv. */
size_t btd__peer_unsent(const struct btd_peer *p);
/* Sends bytes already in wire form (the MSE handshake): flush() does not encrypt them. */
void btd__peer_send_sealed(struct btd_peer *p, const void *a, size_t alen);
void btd__peer_send_simple(struct btd_peer *p, enum bt_wire_type type, uint32_t index,
                           uint32_t begin, uint32_t length);
/* Handles one parsed message; may close the peer. */
void btd__peer_dispatch(struct btd_peer *p, const struct bt_wire_msg *msg);
/* Gives every outstanding request back to the picker and orphans the peer's jobs. */
void btd__peer_release_requests(struct btd_peer *p);
void btd__peer_tick_requests(struct btd_peer *p, uint64_t now);
/* The most requests kept out to p: BTD_PEER_MAX_REQUESTS, or its reqq if that is less. */
uint32_t btd__peer_max_depth(const struct btd_peer *p);
/* Its extension handshake said reqq (0: not said): the pipeline keeps to it from now on. */
void btd__peer_set_reqq(struct btd_peer *p, uint32_t reqq);
/* They have piece i (not known before): availability and interest count. */
void btd__peer_learn_piece(struct btd_peer *p, uint32_t i);
/* Sends interested / not interested when that changed. */
void btd__peer_update_interest(struct btd_peer *p);
/* Two seeds have nothing to give each other: closes p. True if closed. */
bool btd__peer_close_if_both_seeding(struct btd_peer *p);
/* Removes outstanding request i (it will not be answered) and gives it back to the picker. */
void btd__peer_drop_request(struct btd_peer *p, uint32_t i);

#endif
