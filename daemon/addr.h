/*
 * addr: peer addresses between their forms: struct bt_peer_addr (what
 * trackers and PEX give), "host:port" text (logs, btctl --peer, x.pe) and
 * struct sockaddr (uv). Numeric addresses only: no DNS here. Any thread.
 */
#ifndef BTD_ADDR_H
#define BTD_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "announce.h"

#define BTD_ADDR_STRLEN 64 /* "[v6]:port" fits */

/* "1.2.3.4:5" or "[::1]:5" into out (BTD_ADDR_STRLEN bytes). */
void btd_addr_format(const struct bt_peer_addr *a, char *out, size_t size);
/* Parses "1.2.3.4:5", "[::1]:5" or "localhost:5". 0 or -EINVAL. */
int btd_addr_parse(const char *s, struct bt_peer_addr *ret);
void btd_addr_to_sockaddr(const struct bt_peer_addr *a, struct sockaddr_storage *ret);
/* 0 or -EAFNOSUPPORT. */
int btd_addr_from_sockaddr(const struct sockaddr *sa, struct bt_peer_addr *ret);
int btd_addr_equal(const struct bt_peer_addr *a, const struct bt_peer_addr *b);

#endif
