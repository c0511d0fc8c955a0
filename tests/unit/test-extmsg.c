#include <errno.h>
#include <string.h>

#include "extmsg.h"
#include "tap.h"

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void test_handshake_reads_ids_size_port_and_client(void)
{
    struct bt_ext_handshake hs;

    CHECK(bt_ext_handshake_parse(S("d1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31235e"
                                   "1:pi6881e4:reqqi250e1:v8:lt\x01"
                                   "2.0.8e"),
                                 &hs) == 0);
    CHECK(hs.ut_metadata == 3 && hs.ut_pex == 1);
    CHECK(hs.metadata_size == 31235 && hs.port == 6881 && hs.reqq == 250);
    CHECK(strcmp(hs.client, "lt?2.0.8") == 0);
}

static void test_handshake_ignores_bad_ids_and_unknown_keys(void)
{
    struct bt_ext_handshake hs;

    CHECK(bt_ext_handshake_parse(S("d1:md11:ut_metadatai300e6:ut_pexi-1ee1:xli1eee"), &hs) == 0);
    CHECK(hs.ut_metadata == 0 && hs.ut_pex == 0 && hs.metadata_size == 0 && hs.port == 0);
    CHECK(bt_ext_handshake_parse(S("de"), &hs) == 0);
}

static void test_handshake_refuses_garbage_and_huge_metadata(void)
{
    struct bt_ext_handshake hs;

    CHECK(bt_ext_handshake_parse(S("li1ee"), &hs) == -EBADMSG);
    CHECK(bt_ext_handshake_parse(S("d1:m"), &hs) == -EBADMSG);
    CHECK(bt_ext_handshake_parse(S("d13:metadata_sizei16777217ee"), &hs) == -EMSGSIZE);
    CHECK(bt_ext_handshake_parse(S("d13:metadata_sizei-5ee"), &hs) == -EBADMSG);
    CHECK(bt_ext_handshake_parse(S("d13:metadata_size3:abce"), &hs) == -EBADMSG);
}

static void test_handshake_round_trips(void)
{
    struct bt_ext_handshake ours = {.ut_metadata = 1,
                                    .ut_pex = 2,
                                    .metadata_size = 4000,
                                    .port = 51413,
                                    .reqq = 500},
                            got;
    const uint8_t ip[4] = {127, 0, 0, 1};
    struct bt_buf b;

    strcpy(ours.client, "btd 0.1.0");
    bt_buf_init(&b, 0);
    CHECK(bt_ext_handshake_encode(&b, &ours, ip, 4) == 0);
    CHECK(bt_ext_handshake_parse(b.data, b.len, &got) == 0);
    CHECK(got.ut_metadata == 1 && got.ut_pex == 2 && got.metadata_size == 4000);
    CHECK(got.port == 51413 && got.reqq == 500 && strcmp(got.client, "btd 0.1.0") == 0);
    CHECK(!got.upload_only && memmem(b.data, b.len, "upload_only", 11) == NULL);
    CHECK(bt_ext_handshake_encode(&b, &ours, ip, 5) == -EINVAL);
    bt_buf_deinit(&b);
}

/* BEP 21: upload_only is said only by a partial seed, and read back (only 1 counts). */
static void test_handshake_upload_only(void)
{
    struct bt_ext_handshake ours = {.ut_metadata = 1, .upload_only = true}, got;
    static const char zero[] = "d1:md11:ut_metadatai1ee11:upload_onlyi0ee";
    struct bt_buf b;

    bt_buf_init(&b, 0);
    CHECK(bt_ext_handshake_encode(&b, &ours, NULL, 0) == 0);
    CHECK(memmem(b.data, b.len, "11:upload_onlyi1e", 17) != NULL);
    CHECK(bt_ext_handshake_parse(b.data, b.len, &got) == 0 && got.upload_only);
    CHECK(bt_ext_handshake_parse((const uint8_t *)zero, sizeof(zero) - 1, &got) == 0 &&
          !got.upload_only);
    bt_buf_deinit(&b);
}

static void test_metadata_messages(void)
{
    struct bt_ext_metadata md;
    struct bt_buf b;

    CHECK(bt_ext_metadata_parse(S("d8:msg_typei0e5:piecei2ee"), &md) == 0);
    CHECK(md.type == BT_EXT_MD_REQUEST && md.piece == 2 && md.data_len == 0);
    CHECK(bt_ext_metadata_parse(S("d8:msg_typei1e5:piecei0e10:total_sizei5eeHELLO"), &md) == 0);
    CHECK(md.type == BT_EXT_MD_DATA && md.total_size == 5 && md.data_len == 5);
    CHECK(memcmp(md.data, "HELLO", 5) == 0);
    CHECK(bt_ext_metadata_parse(S("d8:msg_typei1e5:piecei0ee"), &md) == -EBADMSG);
    CHECK(bt_ext_metadata_parse(S("d8:msg_typei1e5:piecei0e10:total_sizei99999999eex"), &md) ==
          -EMSGSIZE);
    CHECK(bt_ext_metadata_parse(S("d8:msg_typei0e5:piecei-1ee"), &md) == -EBADMSG);
    CHECK(bt_ext_metadata_parse(S("d8:msg_typei0ee"), &md) == -EBADMSG);
    CHECK(bt_ext_metadata_parse(S("i5e"), &md) == -EBADMSG);
    bt_buf_init(&b, 0);
    CHECK(bt_ext_metadata_encode(&b, BT_EXT_MD_DATA, 3, 70000) == 0);
    CHECK(b.len == strlen("d8:msg_typei1e5:piecei3e10:total_sizei70000ee"));
    CHECK(memcmp(b.data, "d8:msg_typei1e5:piecei3e10:total_sizei70000ee", b.len) == 0);
    bt_buf_deinit(&b);
}

static void test_metadata_data_over_a_piece_is_refused(void)
{
    static uint8_t msg[64 + BT_EXT_METADATA_PIECE + 1];
    struct bt_ext_metadata md;
    const char *head = "d8:msg_typei1e5:piecei0e10:total_sizei99999ee";
    size_t n = strlen(head);

    memcpy(msg, head, n);
    CHECK(bt_ext_metadata_parse(msg, n + BT_EXT_METADATA_PIECE, &md) == 0);
    CHECK(bt_ext_metadata_parse(msg, n + BT_EXT_METADATA_PIECE + 1, &md) == -EBADMSG);
}

static void test_pex_round_trip_and_caps(void)
{
    struct bt_peer_addr in[3] = {{.family = 4, .ip = {127, 0, 0, 2}, .port = 6881},
                                 {.family = 6, .ip = {[15] = 1}, .port = 51413},
                                 {.family = 4, .ip = {10, 0, 0, 1}, .port = 1}},
                        added[4], dropped[4];
    size_t na, nd;
    struct bt_buf b;

    bt_buf_init(&b, 0);
    CHECK(bt_ext_pex_encode(&b, in, 2, &in[2], 1) == 0);
    CHECK(bt_ext_pex_parse(b.data, b.len, added, 4, &na, dropped, 4, &nd) == 0);
    CHECK(na == 2 && nd == 1);
    CHECK(added[0].family == 4 && added[0].port == 6881 && added[0].ip[3] == 2);
    CHECK(added[1].family == 6 && added[1].port == 51413 && added[1].ip[15] == 1);
    CHECK(dropped[0].ip[0] == 10 && dropped[0].port == 1);
    CHECK(bt_ext_pex_parse(b.data, b.len, added, 1, &na, dropped, 0, &nd) == 0);
    CHECK(na == 1 && nd == 0); /* the caps hold */
    bt_buf_deinit(&b);
    CHECK(bt_ext_pex_parse(S("d5:added5:abcdee"), added, 4, &na, dropped, 4, &nd) == -EBADMSG);
    CHECK(bt_ext_pex_parse(S("d5:added6:\x7f\0\0\x01\0\0e"), added, 4, &na, dropped, 4, &nd) == 0);
    CHECK(na == 0); /* port 0 is skipped */
    CHECK(bt_ext_pex_parse(S("le"), added, 4, &na, dropped, 4, &nd) == -EBADMSG);
}

int main(void)
{
    TAP_RUN(test_handshake_reads_ids_size_port_and_client);
    TAP_RUN(test_handshake_ignores_bad_ids_and_unknown_keys);
    TAP_RUN(test_handshake_refuses_garbage_and_huge_metadata);
    TAP_RUN(test_handshake_upload_only);
    TAP_RUN(test_handshake_round_trips);
    TAP_RUN(test_metadata_messages);
    TAP_RUN(test_metadata_data_over_a_piece_is_refused);
    TAP_RUN(test_pex_round_trip_and_caps);
    return tap_done();
}
