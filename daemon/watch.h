/*
 * watch: the watch directory (the `watch_dir` key). A NAME.torrent file
 * dropped into it is added as `torrent.add` would (the default download
 * directory, started) and renamed NAME.torrent.added; a NAME.magnet file
 * holding a magnet link (or a bare info-hash) likewise. A file that cannot
 * be a torrent is renamed NAME.torrent.invalid with one warning, once it
 * has not changed for BTD_WATCH_SETTLE_MS (a file still being copied in
 * does not parse yet). A torrent already present is only renamed. One that
 * cannot be added for now (its download directory cannot be made, say) is
 * left where it is, with one warning, and tried again at each pass. A file
 * that cannot be renamed is not read again until it changes (its ctime).
 *
 * The directory is read when the watcher opens, BTD_WATCH_DEBOUNCE_MS after
 * a change inotify reports (a pass already due sooner is not put off), and
 * every BTD_WATCH_RESCAN_MS (for file systems without inotify, such as
 * NFS). Listing the directory and reading the files runs on libuv's thread
 * pool, on copies; adding and renaming on the loop thread. Only regular
 * files (or links to them) are read, at most BTD_WATCH_BATCH files and 64
 * MiB a pass (the next pass comes at once); dot files, directories, FIFOs
 * and anything else are passed over without a word.
 *
 * Loop thread. The watcher owns its uv handles and frees itself once they
 * have closed and its last pass has come back.
 */
#ifndef BTD_WATCH_H
#define BTD_WATCH_H

#include <uv.h>

#define BTD_WATCH_DEBOUNCE_MS 300
#define BTD_WATCH_RESCAN_MS 10000
#define BTD_WATCH_SETTLE_MS 5000
#define BTD_WATCH_BATCH 64

struct btd_session;
struct btd_watch;

/*
 * Starts watching dir (which must exist and be a directory) for session s
 * (borrowed). 0, or -errno with a warning logged.
 */
int btd_watch_open(struct btd_watch **ret, struct btd_session *s, const char *dir);
/* Stops; a pass in flight is dropped when it comes back. NULL is a no-op. */
void btd_watch_close(struct btd_watch *w);
/* The directory watched. */
const char *btd_watch_dir(const struct btd_watch *w);

#endif
