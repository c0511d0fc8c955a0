#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "btd-version.h"

struct body {
    uint8_t *buf;
    size_t len, cap, max;
    bool too_big;
};

bool btctl_is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t len = size * n, cap;
    uint8_t *grown;

    if (len > b->max - b->len) {
        b->too_big = true;
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    }
    if (b->len + len > b->cap) {
        cap = b->cap ? b->cap : 16384;
        while (cap < b->len + len)
            cap *= 2;
        grown = realloc(b->buf, cap);
        if (!grown)
            return 0;
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, len);
    b->len += len;
    return len;
}

int btctl_fetch(const char *url, size_t max, uint8_t **ret_buf, size_t *ret_len, char *err,
                size_t errlen)
{
    char curl_err[CURL_ERROR_SIZE] = "";
    struct body b = {.max = max};
    long status = 0;
    CURLcode rc;
    CURL *h;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h = curl_easy_init())) {
        snprintf(err, errlen, "cannot start libcurl");
        return -EIO;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max); /* by Content-Length */
    curl_easy_setopt(h, CURLOPT_USERAGENT, "btctl/" BTD_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        free(b.buf);
        return -EMSGSIZE;
    }
    if (rc == CURLE_OK && status >= 400) /* FAILONERROR would hide the status in a message */
        snprintf(err, errlen, "HTTP %ld", status);
    else if (rc != CURLE_OK)
        snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    if (rc != CURLE_OK || status >= 400) {
        free(b.buf);
        return -EIO;
    }
    *ret_buf = b.buf ? b.buf : calloc(1, 1);
    *ret_len = b.len;
    return *ret_buf ? 0 : -ENOMEM;
}
