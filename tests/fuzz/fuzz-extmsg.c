/*
 * fuzz-extmsg: libFuzzer target for the extension protocol's parsers.
 *
 * The first byte chooses the parser (extension handshake, ut_metadata,
 * ut_pex); the rest is its payload. Accepted input must keep extmsg.h's
 * promises: sizes within BT_EXT_METADATA_MAX, a DATA block inside the
 * payload and at most one 16 KiB piece, PEX lists within their caps with
 * no port 0. A broken promise aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "extmsg.h"
#include "fuzz.h"

#define CAP 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bt_peer_addr added[CAP], dropped[CAP];
    struct bt_ext_handshake hs;
    struct bt_ext_metadata md;
    size_t na, nd, i;
    int r;

    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        r = bt_ext_handshake_parse(data + 1, size - 1, &hs);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
        if (r == 0) {
            FUZZ_ASSERT(hs.metadata_size <= BT_EXT_METADATA_MAX);
            FUZZ_ASSERT(memchr(hs.client, '\0', sizeof(hs.client)) != NULL);
        }
        break;
    case 1:
        r = bt_ext_metadata_parse(data + 1, size - 1, &md);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
        if (r == 0 && md.type == BT_EXT_MD_DATA) {
            FUZZ_ASSERT(md.total_size <= BT_EXT_METADATA_MAX);
            FUZZ_ASSERT(md.data_len <= BT_EXT_METADATA_PIECE);
            FUZZ_ASSERT(md.data >= data + 1 && md.data + md.data_len == data + size);
        }
        break;
    default:
        r = bt_ext_pex_parse(data + 1, size - 1, added, CAP, &na, dropped, CAP, &nd);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
            FUZZ_ASSERT(na <= CAP && nd <= CAP);
            for (i = 0; i < na; i++)
                FUZZ_ASSERT(added[i].port != 0 && (added[i].family == 4 || added[i].family == 6));
        }
        break;
    }
    return 0;
}
