/*
 * tap: the smallest TAP producer that does the job. Header-only, for the
 * unit tests. Each test function is one TAP point named after the
 * behaviour it checks; CHECK() marks the running test failed and prints
 * where, and the test goes on so one run shows every failure.
 *
 *     static void test_rejects_leading_zero(void) { CHECK(parse("i01e") < 0); }
 *     int main(void) { TAP_RUN(test_rejects_leading_zero); return tap_done(); }
 */
#ifndef BT_TAP_H
#define BT_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;
static int tap_failed;
static bool tap_current_failed;

__attribute__((format(printf, 1, 2), unused)) static void tap_diag(const char *fmt, ...)
{
    va_list ap;

    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            tap_current_failed = true;                                                   \
            tap_diag("%s:%d: check failed: %s", __FILE__, __LINE__, #cond);              \
        }                                                                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            tap_current_failed = true;                                                   \
            tap_diag("%s:%d: check failed: %s", __FILE__, __LINE__, #cond);              \
            tap_diag(__VA_ARGS__);                                                       \
        }                                                                                \
    } while (0)

/* Starts a point by hand (data-driven tests: one point per data file). */
__attribute__((unused)) static void tap_begin(void)
{
    tap_current_failed = false;
}

__attribute__((unused)) static void tap_end(const char *name)
{
    tap_count++;
    if (tap_current_failed)
        tap_failed++;
    printf("%s %d - %s\n", tap_current_failed ? "not ok" : "ok", tap_count, name);
    fflush(stdout);
}

#define TAP_RUN(fn)                                                                      \
    do {                                                                                 \
        tap_begin();                                                                     \
        fn();                                                                            \
        tap_end(#fn);                                                                    \
    } while (0)

/* Prints the plan; returns the process exit status. */
__attribute__((unused)) static int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

/* The data corpus root: $BT_TEST_DATA, set by meson for every unit test. */
__attribute__((unused)) static const char *tap_data_dir(void)
{
    const char *d = getenv("BT_TEST_DATA");

    return d ? d : "tests/data";
}

#endif
