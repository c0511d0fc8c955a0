/*
 * fds: living within the descriptor limit (RLIMIT_NOFILE). Loop thread
 * only; the state is process-wide, as the limit is.
 *
 * Headroom: btd_fds_room() is false once the lowest free descriptor comes
 * within the headroom of the limit (an eighth of it, at least
 * BTD_FDS_HEADROOM_MIN, at most BTD_FDS_HEADROOM_MAX). The peer port then
 * turns new connections away, so a crowd of peers cannot take the
 * descriptors the control socket, the download files, the trackers and the
 * resume records need.
 *
 * Reserve: one descriptor on /dev/null, opened by btd_fds_init. A listener
 * whose accept() fails with EMFILE or ENFILE calls btd_fds_shed: the
 * reserve is closed, the waiting connections are accepted and closed at
 * once (the client sees a clean close, and the listener does not spin),
 * and the reserve is opened again; when none was waiting it stays closed
 * (the listener's next accept gets that descriptor) until btd_fds_room
 * finds twice the headroom free.
 *
 * Both events are logged through btd_fds_warn, one line a minute at most.
 */
#ifndef BTD_FDS_H
#define BTD_FDS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define BTD_FDS_HEADROOM_MIN 16  /* descriptors kept from peers, at least */
#define BTD_FDS_HEADROOM_MAX 256 /* ... and at most */
#define BTD_FDS_SHED_MAX 64      /* connections shed per call */
#define BTD_FDS_WARN_MS 60000    /* one log line per this many ms */

/* Reads the limit and opens the reserve; counted: each init has its deinit. 0 or -errno. */
int btd_fds_init(void);
void btd_fds_deinit(void);
/*
 * Descriptors left before the limit, judged by the lowest free one (at
 * most that many: the ones above it may be taken); UINT64_MAX without a
 * limit.
 */
uint64_t btd_fds_left(void);
/* True while peers may take one more descriptor: more than the headroom is left. */
bool btd_fds_room(void);
/*
 * Accepts and closes up to BTD_FDS_SHED_MAX connections waiting on server,
 * through the reserve. Returns how many, or -errno.
 */
int btd_fds_shed(uv_stream_t *server);
/* Logs "out of file descriptors (limit N): what", at most once a minute. */
void btd_fds_warn(const char *what);

#endif
