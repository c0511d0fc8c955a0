#include <errno.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "tap.h"

static void test_append_grows_and_keeps_bytes(void)
{
    struct bt_buf b;
    char chunk[100];
    int i;

    memset(chunk, 'x', sizeof(chunk));
    bt_buf_init(&b, 0);
    for (i = 0; i < 100; i++)
        CHECK(bt_buf_append(&b, chunk, sizeof(chunk)) == 0);
    CHECK(b.len == 10000 && b.cap >= b.len);
    CHECK(b.data[0] == 'x' && b.data[9999] == 'x');
    bt_buf_deinit(&b);
    CHECK(b.data == NULL && b.len == 0);
}

static void test_cap_refuses_and_leaves_buffer_unchanged(void)
{
    struct bt_buf b;

    bt_buf_init(&b, 10);
    CHECK(bt_buf_append(&b, "0123456789", 10) == 0);
    CHECK(bt_buf_append(&b, "a", 1) == -EMSGSIZE);
    CHECK(b.len == 10 && memcmp(b.data, "0123456789", 10) == 0);
    CHECK(bt_buf_reserve(&b, SIZE_MAX) == -EMSGSIZE);
    bt_buf_deinit(&b);
}

static void test_printf_and_steal(void)
{
    struct bt_buf b;
    uint8_t *p;
    size_t len = 0;

    bt_buf_init(&b, 0);
    CHECK(bt_buf_printf(&b, "%s=%d", "port", 6881) == 0);
    CHECK(bt_buf_printf(&b, ";") == 0);
    p = bt_buf_steal(&b, &len);
    CHECK(len == 10 && memcmp(p, "port=6881;", 10) == 0);
    CHECK(b.data == NULL && b.len == 0);
    free(p);
}

static void test_error_set_returns_code_and_prefix_adds_field(void)
{
    struct bt_error err = {{0}};

    CHECK(bt_error_set(&err, -EBADMSG, "component \"%s\" is not allowed", "..") == -EBADMSG);
    bt_error_prefix(&err, "info.files[3].path");
    CHECK(strcmp(err.msg, "info.files[3].path: component \"..\" is not allowed") == 0);
    CHECK(bt_error_set(NULL, -EINVAL, "ignored") == -EINVAL);
}

int main(void)
{
    TAP_RUN(test_append_grows_and_keeps_bytes);
    TAP_RUN(test_cap_refuses_and_leaves_buffer_unchanged);
    TAP_RUN(test_printf_and_steal);
    TAP_RUN(test_error_set_returns_code_and_prefix_adds_field);
    return tap_done();
}
