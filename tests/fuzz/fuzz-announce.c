/*
 * fuzz-announce: libFuzzer target for tracker replies: the bencoded HTTP
 * reply parser and the BEP 15 UDP reply decoder. Accepted replies must
 * respect the peer cap; everything allocated is released (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "announce.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bt_announce_result res = {0};
    struct bt_error err = {{0}};
    uint64_t conn = 0;
    int r;

    if (size > BT_ANNOUNCE_MAX_REPLY)
        return 0;
    r = bt_announce_http_parse(data, size, &res, &err);
    if (r == 0)
        FUZZ_ASSERT(res.peer_count <= BT_ANNOUNCE_MAX_PEERS);
    bt_announce_result_deinit(&res);
    if (size >= 8) {
        uint32_t tid =
            (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
        struct bt_announce_result u = {0};

        r = bt_udp_parse_reply(data, size, tid, (data[0] & 1) ? 6 : 4, &conn, &u, &err);
        if (r == 1)
            FUZZ_ASSERT(u.peer_count <= BT_ANNOUNCE_MAX_PEERS);
        bt_announce_result_deinit(&u);
    }
    return 0;
}
