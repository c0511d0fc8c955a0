/*
 * extension: the BEP 10 extension protocol on one peer connection. Loop
 * thread only.
 *
 * Both sides set the extension bit in their handshake; then each sends an
 * extension handshake naming its ids (ours are fixed: extmsg.h). Extended
 * messages arrive under our ids and go to the module that speaks them
 * (ut_metadata: metadata.c); we send under the ids the peer gave.
 */
#ifndef BTD_EXTENSION_H
#define BTD_EXTENSION_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct btd_peer;

/* After the BitTorrent handshake, if the peer set the extension bit. */
void btd_ext_send_handshake(struct btd_peer *p);
/* A BT_WIRE_EXTENDED message from p; may close p. */
void btd_ext_on_message(struct btd_peer *p, const struct bt_wire_msg *m);
/*
 * Sends an extended message under their_id: the payload (a bencoded
 * dictionary) followed by extra bytes (ut_metadata data), as one message.
 */
void btd_ext_send(struct btd_peer *p, uint8_t their_id, const uint8_t *payload, size_t len,
                  const uint8_t *extra, size_t extra_len);

#endif
