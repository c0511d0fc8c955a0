#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bitfield.h"
#include "tap.h"

static void test_new_bitfield_is_all_clear(void)
{
    struct bt_bitfield bf;
    uint32_t i;

    CHECK(bt_bitfield_init(&bf, 20) == 0);
    CHECK(bt_bitfield_count(&bf) == 0 && !bt_bitfield_all(&bf));
    for (i = 0; i < 20; i++)
        CHECK(!bt_bitfield_test(&bf, i));
    bt_bitfield_deinit(&bf);
}

static void test_piece_zero_is_high_bit_of_first_byte(void)
{
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 12) == 0);
    CHECK(bt_bitfield_set(&bf, 0) == 1);
    CHECK(bf.bits[0] == 0x80 && bf.bits[1] == 0);
    CHECK(bt_bitfield_set(&bf, 7) == 1);
    CHECK(bt_bitfield_set(&bf, 8) == 1);
    CHECK(bt_bitfield_set(&bf, 11) == 1);
    CHECK(bf.bits[0] == 0x81 && bf.bits[1] == 0x90);
    CHECK(bt_bitfield_test(&bf, 11) && !bt_bitfield_test(&bf, 10));
    bt_bitfield_deinit(&bf);
}

static void test_set_and_clear_report_change_and_keep_count(void)
{
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 10) == 0);
    CHECK(bt_bitfield_set(&bf, 3) == 1);
    CHECK(bt_bitfield_set(&bf, 3) == 0); /* a repeated have is not counted twice */
    CHECK(bt_bitfield_count(&bf) == 1);
    CHECK(bt_bitfield_set(&bf, 9) == 1);
    CHECK(bt_bitfield_count(&bf) == 2);
    CHECK(bt_bitfield_clear(&bf, 3) == 1);
    CHECK(bt_bitfield_clear(&bf, 3) == 0);
    CHECK(bt_bitfield_count(&bf) == 1 && bt_bitfield_test(&bf, 9) && !bt_bitfield_test(&bf, 3));
    bt_bitfield_deinit(&bf);
}

static void test_rejects_index_out_of_range(void)
{
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 10) == 0);
    CHECK(bt_bitfield_set(&bf, 10) == -ERANGE);
    CHECK(bt_bitfield_set(&bf, UINT32_MAX) == -ERANGE);
    CHECK(bt_bitfield_clear(&bf, 10) == -ERANGE);
    CHECK(!bt_bitfield_test(&bf, 10) && !bt_bitfield_test(&bf, UINT32_MAX));
    CHECK(bt_bitfield_count(&bf) == 0 && bf.bits[1] == 0);
    bt_bitfield_deinit(&bf);
}

static void test_all_set_only_when_every_piece_is(void)
{
    struct bt_bitfield bf;
    uint32_t i;

    CHECK(bt_bitfield_init(&bf, 9) == 0);
    for (i = 0; i < 8; i++)
        bt_bitfield_set(&bf, i);
    CHECK(!bt_bitfield_all(&bf));
    bt_bitfield_set(&bf, 8);
    CHECK(bt_bitfield_all(&bf) && bt_bitfield_count(&bf) == 9);
    bt_bitfield_clear(&bf, 4);
    CHECK(!bt_bitfield_all(&bf));
    bt_bitfield_deinit(&bf);
}

static void test_set_all_leaves_spare_bits_zero(void)
{
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 11) == 0);
    bt_bitfield_set_all(&bf);
    CHECK(bf.bits[0] == 0xff && bf.bits[1] == 0xe0);
    CHECK(bt_bitfield_all(&bf) && bt_bitfield_count(&bf) == 11);
    bt_bitfield_clear_all(&bf);
    CHECK(bf.bits[0] == 0 && bf.bits[1] == 0 && bt_bitfield_count(&bf) == 0);
    bt_bitfield_deinit(&bf);
}

static void test_multiple_of_eight_has_no_spare_bits(void)
{
    static const uint8_t wire[2] = {0xff, 0xff};
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 16) == 0);
    CHECK(bt_bitfield_bytes(16) == 2);
    CHECK(bt_bitfield_from_wire(&bf, wire, 2) == 0);
    CHECK(bt_bitfield_all(&bf) && bt_bitfield_count(&bf) == 16);
    bt_bitfield_set_all(&bf);
    CHECK(bf.bits[1] == 0xff);
    bt_bitfield_deinit(&bf);
}

static void test_from_wire_counts_set_bits(void)
{
    static const uint8_t wire[3] = {0xa5, 0x01, 0xc0};
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 18) == 0);
    CHECK(bt_bitfield_from_wire(&bf, wire, 3) == 0);
    CHECK(bt_bitfield_count(&bf) == 7);
    CHECK(bt_bitfield_test(&bf, 0) && !bt_bitfield_test(&bf, 1) && bt_bitfield_test(&bf, 2));
    CHECK(bt_bitfield_test(&bf, 15) && bt_bitfield_test(&bf, 16) && bt_bitfield_test(&bf, 17));
    bt_bitfield_deinit(&bf);
}

static void test_from_wire_rejects_wrong_length(void)
{
    static const uint8_t wire[3] = {0xff, 0xff, 0};
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 10) == 0);
    CHECK(bt_bitfield_from_wire(&bf, wire, 1) == -EBADMSG);
    CHECK(bt_bitfield_from_wire(&bf, wire, 3) == -EBADMSG);
    CHECK(bt_bitfield_from_wire(&bf, wire, 0) == -EBADMSG);
    bt_bitfield_deinit(&bf);
}

static void test_from_wire_rejects_set_spare_bits_and_keeps_old_bits(void)
{
    static const uint8_t bad[2] = {0x00, 0xe0}; /* 10 pieces: 0x20 is a spare bit */
    static const uint8_t last_spare[2] = {0x00, 0xc1};
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 10) == 0);
    bt_bitfield_set(&bf, 1);
    CHECK(bt_bitfield_from_wire(&bf, bad, 2) == -EBADMSG);
    CHECK(bt_bitfield_from_wire(&bf, last_spare, 2) == -EBADMSG);
    CHECK(bt_bitfield_count(&bf) == 1 && bt_bitfield_test(&bf, 1) && bf.bits[1] == 0);
    bt_bitfield_deinit(&bf);
}

static void test_to_wire_round_trips(void)
{
    struct bt_bitfield a, b;
    uint8_t out[4];

    CHECK(bt_bitfield_init(&a, 27) == 0);
    CHECK(bt_bitfield_init(&b, 27) == 0);
    bt_bitfield_set(&a, 0);
    bt_bitfield_set(&a, 13);
    bt_bitfield_set(&a, 26);
    CHECK(bt_bitfield_to_wire(&a, out, 3) == -ENOBUFS);
    CHECK(bt_bitfield_to_wire(&a, out, sizeof(out)) == 4);
    CHECK(out[0] == 0x80 && out[1] == 0x04 && out[2] == 0 && out[3] == 0x20);
    CHECK(bt_bitfield_from_wire(&b, out, 4) == 0);
    CHECK(bt_bitfield_count(&b) == 3 && memcmp(a.bits, b.bits, 4) == 0);
    bt_bitfield_deinit(&a);
    bt_bitfield_deinit(&b);
}

static void test_zero_pieces_is_empty_and_complete(void)
{
    struct bt_bitfield bf;
    uint8_t out[1];

    CHECK(bt_bitfield_init(&bf, 0) == 0);
    CHECK(bf.bits == NULL && bt_bitfield_bytes(0) == 0);
    CHECK(bt_bitfield_all(&bf) && bt_bitfield_count(&bf) == 0);
    CHECK(bt_bitfield_set(&bf, 0) == -ERANGE);
    CHECK(bt_bitfield_from_wire(&bf, out, 0) == 0);
    CHECK(bt_bitfield_to_wire(&bf, out, 0) == 0);
    bt_bitfield_set_all(&bf);
    bt_bitfield_clear_all(&bf);
    bt_bitfield_deinit(&bf);
}

static void test_refuses_too_many_pieces_before_allocating(void)
{
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, BT_BITFIELD_MAX_PIECES + 1) == -EMSGSIZE);
    CHECK(bt_bitfield_init(&bf, UINT32_MAX) == -EMSGSIZE);
    CHECK(bt_bitfield_init(&bf, BT_BITFIELD_MAX_PIECES) == 0);
    bt_bitfield_set_all(&bf);
    CHECK(bt_bitfield_all(&bf) && bt_bitfield_count(&bf) == BT_BITFIELD_MAX_PIECES);
    bt_bitfield_deinit(&bf);
}

static void test_deinit_twice_is_harmless(void)
{
    struct bt_bitfield bf;

    CHECK(bt_bitfield_init(&bf, 5) == 0);
    bt_bitfield_deinit(&bf);
    bt_bitfield_deinit(&bf);
    CHECK(bf.bits == NULL && bf.npieces == 0);
}

int main(void)
{
    TAP_RUN(test_new_bitfield_is_all_clear);
    TAP_RUN(test_piece_zero_is_high_bit_of_first_byte);
    TAP_RUN(test_set_and_clear_report_change_and_keep_count);
    TAP_RUN(test_rejects_index_out_of_range);
    TAP_RUN(test_all_set_only_when_every_piece_is);
    TAP_RUN(test_set_all_leaves_spare_bits_zero);
    TAP_RUN(test_multiple_of_eight_has_no_spare_bits);
    TAP_RUN(test_from_wire_counts_set_bits);
    TAP_RUN(test_from_wire_rejects_wrong_length);
    TAP_RUN(test_from_wire_rejects_set_spare_bits_and_keeps_old_bits);
    TAP_RUN(test_to_wire_round_trips);
    TAP_RUN(test_zero_pieces_is_empty_and_complete);
    TAP_RUN(test_refuses_too_many_pieces_before_allocating);
    TAP_RUN(test_deinit_twice_is_harmless);
    return tap_done();
}
