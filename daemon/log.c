#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int btd__log_level = BTD_LOG_INFO;

static const char *const level_names[] = {
    [BTD_LOG_ERR] = "error", [BTD_LOG_WARNING] = "warning", [BTD_LOG_NOTICE] = "notice",
    [BTD_LOG_INFO] = "info", [BTD_LOG_DEBUG] = "debug",
};

void btd_log_set_level(enum btd_log_level level)
{
    btd__log_level = (int)level;
}

int btd_log_parse_level(const char *name, enum btd_log_level *ret)
{
    int i;

    for (i = BTD_LOG_ERR; i <= BTD_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *ret = (enum btd_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void btd_log_write(enum btd_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;
    ssize_t w;

    n = snprintf(line, sizeof(line), "<%d>", (int)level);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
