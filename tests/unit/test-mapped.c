#include "mapped.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "tmpdir.h"

#define SIZE (2 * 1024 * 1024 + 3 * 4096 + 100) /* more than two mapping windows */

/* A file of SIZE patterned bytes in dir; its descriptor, open for reading and writing. */
static int make_file(const char *dir, uint8_t *data)
{
    char path[128];
    size_t i;
    int fd;

    for (i = 0; i < SIZE; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 9));
    snprintf(path, sizeof(path), "%s/f", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, SIZE) != SIZE) {
        perror("make_file");
        exit(1);
    }
    return fd;
}

static bool hash_matches(int fd, uint64_t off, size_t len, const uint8_t *data)
{
    uint8_t got[BT_SHA1_LEN], want[BT_SHA1_LEN];
    struct bt_sha1 sha;
    int r;

    if (bt_sha1_init(&sha) < 0)
        return false;
    size_t fed = 1;

    r = btd_mapped_hash(fd, off, len, &sha, &fed);
    bt_sha1_final(&sha, got);
    bt_sha1(want, data + off, len);
    if (r != 0 || fed != len)
        tap_diag("btd_mapped_hash(%llu, %zu): %d, fed %zu", (unsigned long long)off, len, r, fed);
    return r == 0 && fed == len && memcmp(got, want, BT_SHA1_LEN) == 0;
}

static void test_hashes_spans_at_any_offset(void)
{
    static uint8_t data[SIZE];
    char dir[64];
    int fd;

    tmpdir_make(dir, sizeof(dir), "mapped");
    fd = make_file(dir, data);
    CHECK(hash_matches(fd, 0, SIZE, data));
    CHECK(hash_matches(fd, 4096, 4096, data));
    CHECK(hash_matches(fd, 1, 1, data));            /* unaligned start */
    CHECK(hash_matches(fd, 4000, 5000, data));      /* across pages */
    CHECK(hash_matches(fd, SIZE - 100, 100, data)); /* the tail of the last page */
    close(fd);
    tmpdir_remove(dir);
}

static void test_span_past_the_end_is_enodata(void)
{
    static uint8_t data[SIZE];
    struct bt_sha1 sha;
    size_t fed;
    char dir[64];
    int fd, r;

    tmpdir_make(dir, sizeof(dir), "mapped");
    fd = make_file(dir, data);
    CHECK(bt_sha1_init(&sha) == 0);
    r = btd_mapped_hash(fd, SIZE - 10, 11, &sha, &fed);
    CHECK_MSG(r == -ENODATA, "one byte past the end: %d", r);
    bt_sha1_deinit(&sha);
    close(fd);
    tmpdir_remove(dir);
}

struct touch {
    const volatile uint8_t *p;
    size_t n;
    unsigned sum;
    size_t reached; /* bytes read before the fault */
};

static void touch(void *arg)
{
    struct touch *t = arg;
    size_t i;

    for (i = 0; i < t->n; i += 4096) {
        t->sum += t->p[i];
        t->reached = i + 1;
    }
}

/* A mapping whose file shrank under it: the real SIGBUS, turned into -EFAULT. */
static void test_file_truncated_under_the_mapping_is_enodata(void)
{
    static uint8_t data[SIZE];
    struct touch t = {.n = SIZE};
    char dir[64];
    uint8_t *map;
    int fd, r;

    tmpdir_make(dir, sizeof(dir), "mapped");
    fd = make_file(dir, data);
    map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(map != MAP_FAILED);
    CHECK(ftruncate(fd, 4096) == 0);
    t.p = map;
    r = btd_mapped_guard(map, SIZE, touch, &t);
    CHECK_MSG(r == -EFAULT, "guard: %d", r);
    CHECK_MSG(t.reached == 1, "read %zu bytes before the fault", t.reached);
    /* And again: the handler is still there, and the thread's signal mask let it in. */
    t.reached = 0;
    r = btd_mapped_guard(map, SIZE, touch, &t);
    CHECK_MSG(r == -EFAULT, "second guard: %d", r);
    t.n = 4096;
    r = btd_mapped_guard(map, SIZE, touch, &t);
    CHECK_MSG(r == 0, "within the file: %d", r);
    munmap(map, SIZE);
    close(fd);
    tmpdir_remove(dir);
}

/* Outside a guard, a SIGBUS still ends the process (or the sanitizer's handler reports it). */
static void test_sigbus_outside_a_guard_is_not_swallowed(void)
{
    static uint8_t data[SIZE];
    struct touch t = {.n = 4096};
    char dir[64];
    uint8_t *map;
    pid_t pid;
    int fd, status = 0;

    tmpdir_make(dir, sizeof(dir), "mapped");
    fd = make_file(dir, data);
    map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(map != MAP_FAILED);
    t.p = map;
    CHECK(btd_mapped_guard(map, SIZE, touch, &t) == 0); /* the handler is installed */
    CHECK(ftruncate(fd, 4096) == 0);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        volatile unsigned sink;
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 2); /* the sanitizer's report of the fault would read as this test's failure */
        sink = map[2 * 4096];

        (void)sink;
        _exit(0);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
              "the child read past the end and went on");
    munmap(map, SIZE);
    close(fd);
    tmpdir_remove(dir);
}

static void raise_bus(void *arg)
{
    (void)arg;
    raise(SIGBUS);
}

/* A SIGBUS sent with kill inside a guard is no page fault: it is not turned into -EFAULT. */
static void test_sigbus_sent_inside_a_guard_is_not_swallowed(void)
{
    static uint8_t data[SIZE];
    char dir[64];
    uint8_t *map;
    pid_t pid;
    int fd, status = 0;

    tmpdir_make(dir, sizeof(dir), "mapped");
    fd = make_file(dir, data);
    map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(map != MAP_FAILED);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY), r;

        dup2(null, 2);
        r = btd_mapped_guard(map, SIZE, raise_bus, NULL);
        _exit(r == -EFAULT ? 3 : 0);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(!(WIFEXITED(status) && (WEXITSTATUS(status) == 3 || WEXITSTATUS(status) == 0)),
              "a SIGBUS from raise() was taken for a fault (status %#x)", (unsigned)status);
    munmap(map, SIZE);
    close(fd);
    tmpdir_remove(dir);
}

int main(void)
{
    TAP_RUN(test_hashes_spans_at_any_offset);
    TAP_RUN(test_span_past_the_end_is_enodata);
    TAP_RUN(test_file_truncated_under_the_mapping_is_enodata);
    TAP_RUN(test_sigbus_outside_a_guard_is_not_swallowed);
    TAP_RUN(test_sigbus_sent_inside_a_guard_is_not_swallowed);
    return tap_done();
}
