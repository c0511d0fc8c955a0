/*
 * peer_mse: Message Stream Encryption on a peer connection (common/mse.h
 * is the protocol; this is the glue). Loop thread only.
 *
 * Policy, by the `encryption` key (config.h):
 * - prefer_plaintext: incoming MSE and plaintext both accepted; an MSE
 *   peer offering plaintext gets plaintext (no RC4 for the payload).
 *   Dialling: plaintext first; an address whose plaintext handshake was
 *   closed is dialled with MSE (offering both) next, and back after an
 *   MSE handshake fails.
 * - prefer_encrypted: as above, but MSE first offering RC4 only, and as
 *   receiver RC4 whenever offered.
 * - require: MSE with RC4 both ways; plaintext handshakes are refused.
 *
 * Once the MSE handshake is done, every byte received is decrypted in
 * place as it lands in rbuf, before parsing, and the corked output is
 * encrypted as a whole in flush() (out_sealed bytes of MSE handshake at
 * its start are already in wire form). A hostile handshake closes the peer
 * with one debug line naming what was wrong; the handshake time-out bounds
 * a slow one.
 */
#ifndef BTD_PEER_MSE_H
#define BTD_PEER_MSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btd_peer;

/* Whether a dialled connection starts with MSE: the key, and the address's history. */
bool btd_peer_mse_dial(const struct btd_peer *p);
/* Dialled, connected: sends Ya and PadA; hs (our handshake) will be the IA. 0 or -errno. */
int btd_peer_mse_start(struct btd_peer *p, const uint8_t *hs, size_t hs_len);
/*
 * Runs the handshake over rbuf while one is due (an incoming connection
 * that does not open with a plaintext handshake, or one we started). 1 once
 * rbuf holds the decrypted stream from the BitTorrent handshake on, 0 for
 * more input, < 0 when the peer was closed.
 */
int btd_peer_mse_input(struct btd_peer *p);
/* Bytes just read, after the handshake: decrypted in place. */
void btd_peer_mse_received(struct btd_peer *p, uint8_t *buf, size_t n);
/* Output about to be written, after the handshake: encrypted in place. */
void btd_peer_mse_sending(struct btd_peer *p, uint8_t *buf, size_t n);
/* An MSE connection agreed on info_hash (true for a plaintext one). */
bool btd_peer_mse_matches(const struct btd_peer *p, const uint8_t info_hash[20]);
/* The payload is RC4 both ways. */
bool btd_peer_mse_encrypted(const struct btd_peer *p);
/* A dialled connection closes: a failed handshake flips how the address is dialled next. */
void btd_peer_mse_closing(struct btd_peer *p);

#endif
