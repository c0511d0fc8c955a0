/*
 * torrent-internal: what torrent.c (state, pieces, checks) and
 * torrent_peers.c (address book, connections) share. Loop thread only.
 */
#ifndef BTD_TORRENT_INTERNAL_H
#define BTD_TORRENT_INTERNAL_H

#include "torrent.h"

/* Dials known addresses while under the caps (downloading or fetching metadata). */
void btd__torrent_connect_more(struct btd_torrent *t);

/*
 * The wanted pieces changed (torrent_files.c): peers recount their
 * interest; downloading becomes seeding once every wanted piece is had,
 * seeding downloading again when some are not.
 */
void btd__torrent_selection_changed(struct btd_torrent *t);
/*
 * The metadata arrived: the file lists given with a magnet at torrent.add
 * become the choices. Lists that do not fit the torrent (an index beyond
 * its files) pause it, with an error line, rather than fetch what the user
 * did not want.
 */
void btd__torrent_apply_pending(struct btd_torrent *t);

#endif
