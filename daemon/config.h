/*
 * config: btd's settings. Built-in defaults, then the JSON file (if any),
 * then command-line flags. Loop thread (at start-up and on reload).
 *
 * Every key is described once, in a table in config.c: its JSON type, range
 * and where it lands in struct btd_config. A ratio key (seed_ratio_limit)
 * is a JSON number with at most two decimals, held in hundredths. An unknown key or a wrong type is
 * an error naming the key and the file. The struct owns its strings.
 */
#ifndef BTD_CONFIG_H
#define BTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct btd_config {
    char *download_dir;             /* owned: where torrents land by default */
    char *state_dir;                /* owned: metainfo copies and resume records */
    char *socket_path;              /* owned: the control socket */
    char *listen_address;           /* owned: address for the peer port, "0.0.0.0" */
    int64_t port;                   /* peer port; 0 picks a free one */
    char *log_level;                /* owned: error, warning, notice, info, debug */
    int64_t max_peers_torrent;      /* connections per torrent */
    int64_t max_peers_global;       /* connections in all */
    int64_t max_half_open;          /* outgoing connects in progress, all torrents */
    int64_t download_limit;         /* bytes/s, 0 = unlimited */
    int64_t upload_limit;           /* bytes/s, 0 = unlimited */
    int64_t torrent_download_limit; /* bytes/s per torrent, 0 = unlimited (new torrents) */
    int64_t torrent_upload_limit;   /* bytes/s per torrent, 0 = unlimited (new torrents) */
    int64_t max_peers_per_ip;       /* connections from one IP address, per torrent */
    int64_t pieces_in_flight;       /* pieces assembled at once, per torrent */
    int64_t piece_memory;           /* bytes of piece buffers per torrent, at most */
    char *encryption;               /* owned: prefer_plaintext, prefer_encrypted, require */
    char *watch_dir;                /* owned: .torrent/.magnet files to add (watch.h); "" = none */
    int64_t seed_ratio_limit;       /* hundredths (ratio.h): a seed stops at it; 0 = none */
    int64_t seed_idle_limit;        /* seconds a seed uploads nothing before it stops; 0 = none */
    int64_t direct_writes;          /* 1: verified pieces are written past the page cache */
};

/* Message Stream Encryption (peer_mse.h), from the `encryption` key. */
enum btd_encryption {
    BTD_ENCRYPTION_PREFER_PLAINTEXT, /* dial plaintext; MSE only if that is refused */
    BTD_ENCRYPTION_PREFER_ENCRYPTED, /* dial MSE offering RC4 only; plaintext if that fails */
    BTD_ENCRYPTION_REQUIRE,          /* MSE with RC4 only, both ways; no plaintext peer */
};

enum btd_encryption btd_config_encryption(const struct btd_config *c);
/* Fills c with the built-in defaults (XDG-aware paths). 0 or -ENOMEM. */
int btd_config_init(struct btd_config *c);
void btd_config_deinit(struct btd_config *c);
/*
 * Reads a JSON object from path over the values in c. On error c is
 * unchanged and err says "PATH: key: must be an integer" (one line).
 */
int btd_config_load(struct btd_config *c, const char *path, struct bt_error *err);
/*
 * Applies a JSON object of keys over c, all or nothing (on error c is
 * unchanged). live_only: refuses keys that cannot change while btd runs
 * (-EPERM). -ENOENT for an unknown key, -EINVAL for a bad value, with err
 * naming the key.
 */
int btd_config_update(struct btd_config *c, json_t *obj, bool live_only, struct bt_error *err);
/*
 * Sets one key from a string (a flag or `btctl set`), typed by the table.
 * 0, -ENOENT (no such key) or -EINVAL (bad value), with err.
 */
int btd_config_set(struct btd_config *c, const char *key, const char *value, struct bt_error *err);
/*
 * A reload: copies the keys that may change while btd runs from src over
 * dst, all or nothing (0 or -ENOMEM). The other keys whose values differ
 * wait for a restart: their names go to ret_fixed, comma-separated ("" if
 * none, truncated to fit size).
 */
int btd_config_copy_live(struct btd_config *dst, const struct btd_config *src, char *ret_fixed,
                         size_t size);

#endif
