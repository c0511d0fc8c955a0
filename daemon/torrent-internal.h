/*
 * torrent-internal: what torrent.c (state, pieces, checks) and
 * torrent_peers.c (address book, connections) share. Loop thread only.
 */
#ifndef BTD_TORRENT_INTERNAL_H
#define BTD_TORRENT_INTERNAL_H

#include "torrent.h"

/* Dials known addresses while under the caps (downloading or fetching metadata). */
void btd__torrent_connect_more(struct btd_torrent *t);

#endif
