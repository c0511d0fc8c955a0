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

/* Changes the state (logged; the resume record is written soon). */
void btd__torrent_set_state(struct btd_torrent *t, enum btd_torrent_state s);
/* Downloading or seeding: announce and dial. */
void btd__torrent_go_active(struct btd_torrent *t);

/* Dials known addresses while under the caps (downloading or fetching metadata). */
void btd__torrent_connect_more(struct btd_torrent *t);

/*
 * Reads pieces back from disk on the worker pool (data already in the
 * directory: complete data seeds, partial data keeps its valid pieces):
 * those in only, or without it the pieces of every file not known to be
 * absent or empty (a fresh download has none, and needs no job at all).
 */
void btd__torrent_start_check(struct btd_torrent *t, const bool *only);
/* A CHECK job's result. */
void btd__torrent_on_checked(struct btd_torrent *t, struct btd_work_result *res);
/*
 * Applies a resume record: the pieces it lists in files whose size and
 * mtime are as it says are had; the pieces touching any other file are
 * checked. Then the torrent starts (or stays paused). 0 or -ENOMEM.
 */
int btd__torrent_restore(struct btd_torrent *t, const struct btd_resume *rec);

#endif
