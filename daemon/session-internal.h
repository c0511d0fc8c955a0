/*
 * session-internal: what session.c (torrents, sockets, ticks) and
 * session_state.c (the state directory) share. Loop thread only.
 */
#ifndef BTD_SESSION_INTERNAL_H
#define BTD_SESSION_INTERNAL_H

#include "magnet.h"
#include "metainfo.h"
#include "session.h"

struct btd_resume;

/* Adds m (stolen, also on failure) under id; rec, if any, is its resume record. */
int btd__session_add_torrent(struct btd_session *s, struct bt_metainfo *m, uint32_t id,
                             const char *dir, bool paused, const struct btd_resume *rec,
                             struct btd_torrent **ret, struct bt_error *err);
/* Adds a magnet under id; rec (may be NULL) gives its dir, paused flag, limits. */
int btd__session_add_magnet(struct btd_session *s, const struct bt_magnet *mg, const char *uri,
                            uint32_t id, const char *dir, bool paused, const struct btd_resume *rec,
                            struct btd_torrent **ret, struct bt_error *err);

/* Writes the record of one torrent that needs it, on a worker; one at a time. */
void btd__session_save_next(struct btd_session *s);
/* At start: every torrent of the state directory comes back, in id order. */
void btd__session_restore_all(struct btd_session *s);
/* Shutting down: every record written now, on this thread. */
void btd__session_save_all_now(struct btd_session *s);

#endif
