/*
 * log: btd's only logger. Loop thread (and workers, which only format into
 * a local buffer and write one line with one write(2)). Lines go to stderr
 * with a syslog priority prefix ("<3>", "<6>") so journald keeps levels.
 * Callers add context: "ih=1a2b3c4d peer=127.0.0.2:6881 ...".
 */
#ifndef BTD_LOG_H
#define BTD_LOG_H

#include <stdbool.h>

enum btd_log_level {
    BTD_LOG_ERR = 3,
    BTD_LOG_WARNING = 4,
    BTD_LOG_NOTICE = 5,
    BTD_LOG_INFO = 6,
    BTD_LOG_DEBUG = 7,
};

extern int btd__log_level; /* set once at start-up, read everywhere */

void btd_log_set_level(enum btd_log_level level);
/* Parses "error", "warning", "notice", "info", "debug". 0 or -EINVAL. */
int btd_log_parse_level(const char *name, enum btd_log_level *ret);
void btd_log_write(enum btd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The level is checked before any argument is formatted. */
#define btd_log(level, ...)                                                                        \
    do {                                                                                           \
        if ((int)(level) <= btd__log_level)                                                        \
            btd_log_write((level), __VA_ARGS__);                                                   \
    } while (0)
#define btd_err(...) btd_log(BTD_LOG_ERR, __VA_ARGS__)
#define btd_warn(...) btd_log(BTD_LOG_WARNING, __VA_ARGS__)
#define btd_notice(...) btd_log(BTD_LOG_NOTICE, __VA_ARGS__)
#define btd_info(...) btd_log(BTD_LOG_INFO, __VA_ARGS__)
#define btd_debug(...) btd_log(BTD_LOG_DEBUG, __VA_ARGS__)

#endif
