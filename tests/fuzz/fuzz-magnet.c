/*
 * fuzz-magnet: libFuzzer target for the magnet URI parser.
 *
 * The input, cut at its first NUL, is parsed as a URI. When it is accepted
 * the promises of magnet.h are checked (item caps, no NULL strings); when
 * it is refused, the error is one line. A broken promise aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "magnet.h"

static void check_list(char **items, size_t count)
{
    FUZZ_ASSERT(count <= BT_MAGNET_MAX_ITEMS);
    FUZZ_ASSERT(count == 0 || items != NULL);
    for (size_t i = 0; i < count; i++)
        FUZZ_ASSERT(items[i] != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bt_magnet *m = NULL;
    struct bt_error err = {{0}};
    char *uri;
    int r;

    /* An exact-size heap copy, so ASan sees any read past the NUL. */
    uri = malloc(size + 1);
    if (!uri)
        return 0;
    memcpy(uri, data, size);
    uri[size] = '\0';

    r = bt_magnet_parse(&m, uri, &err);
    if (r == 0) {
        FUZZ_ASSERT(m != NULL);
        check_list(m->trackers, m->tracker_count);
        check_list(m->peers, m->peer_count);
        check_list(m->web_seeds, m->web_seed_count);
        bt_magnet_free(m);
    } else {
        FUZZ_ASSERT(r < 0 && m == NULL);
        FUZZ_ASSERT(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        FUZZ_ASSERT(r == -ENOMEM || err.msg[0] != '\0');
        FUZZ_ASSERT(strchr(err.msg, '\n') == NULL);
    }
    free(uri);
    return 0;
}
