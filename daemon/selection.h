/*
 * selection: the file lists of torrent.add (skip, only, priority_*) and
 * torrent.set (files_wanted, files_skipped, priority_*) applied to a
 * torrent's file choices (picker.h). Pure; loop thread. Indices are as
 * torrent.files numbers the files: from 0, padding files left out. A list
 * is an array of indices or the string "all"; `only` skips every file it
 * does not name. A file named by two lists that disagree, an index out of
 * range or a list of another shape is refused with one line.
 */
#ifndef BTD_SELECTION_H
#define BTD_SELECTION_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "metainfo.h"
#include "picker.h"

enum btd_selection_keys {
    BTD_SELECTION_ADD, /* torrent.add: skip, only, priority_high, priority_normal, priority_low */
    BTD_SELECTION_SET, /* torrent.set: files_wanted, files_skipped, priority_* */
};

/* True if params (borrowed) names one of the lists of keys. */
bool btd_selection_named(json_t *params, enum btd_selection_keys keys);
/* True if key is one of the lists of keys. */
bool btd_selection_key(const char *key, enum btd_selection_keys keys);
/*
 * Applies the lists params (borrowed) names among keys to c, the choices
 * for m's files (m_file_count entries). Without m (a magnet's files are not
 * known yet) the lists are only checked, against BT_METAINFO_MAX_FILES
 * files, and c is not touched (may be NULL). *ret_any: params named a
 * list. 0, or a JSON-RPC error code with err ("params.skip[2]: no file 9
 * (the torrent's files are 0 to 4)"); c may then be half changed.
 */
int btd_selection_apply(json_t *params, enum btd_selection_keys keys, const struct bt_metainfo *m,
                        struct btd_file_choice *c, bool *ret_any, struct bt_error *err);
/* The lists params names among keys as JSON text (new), NULL if none or on ENOMEM. */
char *btd_selection_text(json_t *params, enum btd_selection_keys keys);
/* btd_selection_apply on lists kept as JSON text (btd_selection_text). */
int btd_selection_apply_text(const char *text, enum btd_selection_keys keys,
                             const struct bt_metainfo *m, struct btd_file_choice *c,
                             struct bt_error *err);

#endif
