/*
 * torrent-internal: what torrent.c (state, pieces), torrent_check.c (data
 * already on disk: checks, resume records) and torrent_peers.c (address
 * book, connections) share. Loop thread only.
 */
#ifndef BTD_TORRENT_INTERNAL_H
#define BTD_TORRENT_INTERNAL_H

#include "torrent.h"

struct btd_resume;
struct btd_work_result;

/*
 * Changes the state (logged; the resume record is written soon). Paused,
 * for a torrent that met a seeding goal (t->finished), is state finished
 * while it has every wanted piece; one that lacks some again (a verify,
 * more files wanted) forgets the goal and is just paused.
 */
void btd__torrent_set_state(struct btd_torrent *t, enum btd_torrent_state s);
/* Downloading or seeding: announce and dial. */
void btd__torrent_go_active(struct btd_torrent *t);

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
/*
 * Checks the data in the directory (complete data seeds, partial data keeps
 * its valid pieces): state checking; every file is stat()ed on a worker,
 * then the pieces of every file not known to be absent or empty are read
 * back (CHECK jobs). A fresh download has no such file and needs no CHECK
 * job: its peers (a magnet's) are kept. Any restore not yet applied is
 * dropped.
 */
void btd__torrent_start_check(struct btd_torrent *t);
/* A check runs: the stat of the files or CHECK jobs are out. */
bool btd__torrent_checking(const struct btd_torrent *t);
/* A CHECK job's result. */
void btd__torrent_on_checked(struct btd_torrent *t, struct btd_work_result *res);
/*
 * Applies a resume record (copied): the pieces it lists in files whose size
 * and mtime are as it says are had, the pieces touching any other file are
 * checked; then the torrent starts (or stays paused). The files are stat()ed
 * on a worker first (state checking meanwhile unless paused), so all of this
 * happens later, on the loop. 0 or -errno (the torrent cannot be restored).
 */
int btd__torrent_restore(struct btd_torrent *t, const struct btd_resume *rec);
/*
 * A move waits for the pieces being written to land (no job left in the
 * picker): torrent.c calls this as each verdict comes; the move goes on
 * once there is none (torrent_move.c).
 */
void btd__torrent_move_go(struct btd_torrent *t);

/* Frees t->restore, if any (the torrent goes, or a check takes its place). */
void btd__torrent_drop_restore(struct btd_torrent *t);

/*
 * Once a second, before the rates are reckoned (torrent_seed.c): a seed's
 * idle clock moves on or back to 0, and a goal met pauses it (finished).
 */
void btd__torrent_seed_tick(struct btd_torrent *t);
/*
 * btctl resume: the goal that finished t is forgotten, the idle clock is 0,
 * and a complete torrent whose ratio goal is still met gets no ratio limit
 * of its own (it would stop again at once).
 */
void btd__torrent_seed_resumed(struct btd_torrent *t);
/* The seeding goals and the finished state of a resume record (the record read at start). */
void btd__torrent_seed_restore(struct btd_torrent *t, const struct btd_resume *rec);

#endif
