/*
 * util: messages, usage and whole-file I/O shared by btctl's commands.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

static void (*error_hook)(void *data);
static void *error_hook_data;

void btctl_set_error_hook(void (*fn)(void *data), void *data)
{
    error_hook = fn;
    error_hook_data = data;
}

void btctl_errorf(const char *fmt, ...)
{
    va_list ap;

    if (error_hook)
        error_hook(error_hook_data);
    fputs("btctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int btctl_help(const struct btctl_command *cmd)
{
    printf("usage: btctl %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->help && *cmd->help)
        printf("\n%s", cmd->help);
    return BTCTL_EXIT_OK;
}

int btctl_usage_error(const struct btctl_command *cmd, const char *fmt, ...)
{
    va_list ap;

    if (fmt) {
        fprintf(stderr, "btctl: %s: ", cmd->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    fprintf(stderr, "usage: btctl %s %s\nTry 'btctl %s --help' for more.\n", cmd->name, cmd->usage,
            cmd->name);
    return BTCTL_EXIT_USAGE;
}

static int read_fd(int fd, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t cap = 0;

    for (;;) {
        ssize_t n;

        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 64 * 1024;
            uint8_t *nbuf;

            if (ncap > max + 1)
                ncap = max + 1; /* one byte more than allowed tells "too long" */
            nbuf = realloc(buf, ncap + 1);
            if (!nbuf) {
                free(buf);
                return -ENOMEM;
            }
            buf = nbuf;
            cap = ncap;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;

            free(buf);
            return r;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            free(buf);
            return -EMSGSIZE;
        }
    }
    if (!buf) {
        buf = malloc(1);
        if (!buf)
            return -ENOMEM;
    }
    buf[len] = '\0';
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

int btctl_read_file(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
    int fd;
    int r;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = read_fd(fd, max, ret_buf, ret_len);
    close(fd);
    return r;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Moves tmp to path; without overwrite, fails with -EEXIST if path exists. */
static int move_into_place(const char *tmp, const char *path, bool overwrite)
{
    if (overwrite)
        return rename(tmp, path) < 0 ? -errno : 0;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* A file system without RENAME_NOREPLACE: link() refuses to replace too. */
    if (link(tmp, path) < 0)
        return -errno;
    unlink(tmp);
    return 0;
}

int btctl_write_file_atomic(const char *path, const void *data, size_t len, bool overwrite)
{
    size_t plen = strlen(path);
    char *tmp;
    int fd;
    int r;

    tmp = malloc(plen + sizeof(".tmp"));
    if (!tmp)
        return -ENOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", sizeof(".tmp"));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) {
        r = -errno;
        free(tmp);
        return r;
    }
    r = write_all(fd, data, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0)
        r = move_into_place(tmp, path, overwrite);
    if (r < 0)
        unlink(tmp);
    free(tmp);
    return r;
}

int btctl_parse_size(const char *s, uint64_t *ret)
{
    static const char units[] = "kmgt";
    const char *u;
    unsigned long long v;
    unsigned shift = 0;
    char *end;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -EINVAL;
    if (*end && (u = strchr(units, tolower((unsigned char)*end)))) {
        shift = 10 * (unsigned)(u - units + 1);
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || v > (UINT64_MAX >> shift))
        return -EINVAL;
    *ret = (uint64_t)v << shift;
    return 0;
}

int btctl_parse_duration(const char *s, uint64_t *ret)
{
    static const struct {
        char unit;
        uint64_t seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    unsigned long long v;
    uint64_t mul = 1;
    char *end;
    size_t i;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || v > INT32_MAX)
        return -EINVAL;
    for (i = 0; *end && i < sizeof(units) / sizeof(units[0]); i++) {
        if (tolower((unsigned char)*end) == units[i].unit) {
            mul = units[i].seconds;
            end++;
            break;
        }
    }
    if (*end != '\0' || v * mul > INT32_MAX)
        return -EINVAL;
    *ret = v * mul;
    return 0;
}

/* dir made absolute against the working directory: a new string, or NULL (errno set). */
char *btctl_absolute_dir(const char *dir)
{
    char *cwd;
    char *out;
    size_t n;

    if (dir[0] == '/')
        return strdup(dir);
    cwd = realpath(".", NULL);
    if (!cwd)
        return NULL;
    n = strlen(cwd) + 1 + strlen(dir) + 1;
    out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, dir);
    free(cwd);
    return out;
}
