/*
 * fuzz-wire: libFuzzer target for the peer wire codec.
 *
 * The input is read as a peer's byte stream: a handshake, then messages,
 * with the limits a torrent of 1000 pieces would set. The head parser and
 * the full parser must agree on each message's type and size, and neither
 * may claim more bytes than it was given. A broken promise aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bt_wire_limits lim = {.bitfield_len = 125};
    struct bt_wire_handshake hs;
    struct bt_wire_head head;
    struct bt_wire_msg msg;
    size_t off = 0;
    int r, h;

    r = bt_wire_handshake_parse(data, size, &hs);
    FUZZ_ASSERT(r <= (int)size);
    if (r > 0)
        off = (size_t)r;
    while (off < size) {
        r = bt_wire_parse(data + off, size - off, &lim, &msg);
        h = bt_wire_parse_head(data + off, size - off, &lim, &head);
        FUZZ_ASSERT(r <= (int)(size - off));
        if (r <= 0)
            break; /* more input needed, or refused */
        FUZZ_ASSERT(h > 0 && head.type == msg.type);
        FUZZ_ASSERT(head.head_len + head.rest_len == (size_t)r);
        FUZZ_ASSERT(msg.data_len <= (size_t)r);
        off += (size_t)r;
    }
    return 0;
}
