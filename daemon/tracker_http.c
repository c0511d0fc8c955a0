#include "tracker_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btd-version.h"
#include "buf.h"
#include "log.h"

#define USER_AGENT "btd/" BTD_VERSION
#define MAX_CONNECTIONS 32              /* transfers at once; more wait in curl's queue */
#define MESSAGE_MAX (BT_ERROR_MAX + 64) /* bytes of an error line we build */

struct http_call {
    struct btd_announce_call base; /* first: the public head */
    struct btd_tracker_http *h;    /* borrowed: the client */
    CURL *easy;                    /* owned */
    struct bt_buf body;            /* owned; capped at BT_ANNOUNCE_MAX_REPLY bytes */
    int write_error;               /* -EMSGSIZE or -ENOMEM from the write callback, else 0 */
    btd_announce_cb cb;            /* NULL: detached, nobody waits */
    void *data;                    /* borrowed, handed to cb */
    char errbuf[CURL_ERROR_SIZE];  /* curl's detail for a failed transfer */
    struct http_call *prev, *next; /* the client's calls in flight */
};

/* One socket curl asked us to watch. */
struct http_socket {
    uv_poll_t poll;             /* first: the handle's memory is the socket's */
    struct btd_tracker_http *h; /* borrowed */
    curl_socket_t fd;           /* curl's; curl closes it */
    bool closing;
    struct http_socket *prev, *next; /* the client's sockets */
};

struct btd_tracker_http {
    uv_loop_t *loop;             /* borrowed */
    CURLM *multi;                /* owned; NULL once stopped */
    uv_timer_t timer;            /* curl's time-out */
    uv_timer_t grace;            /* bounds the wait for detached calls at close */
    struct http_call *calls;     /* owned: the calls in flight */
    struct http_socket *sockets; /* owned: the sockets curl has us watch */
    uint32_t connect_ms;         /* milliseconds */
    uint32_t total_ms;           /* milliseconds */
    unsigned open_handles;       /* uv handles not closed yet; the memory goes at 0 */
    bool closing;                /* close was asked */
    bool stopped;                /* curl is gone, the handles are closing */
};

static void finish_close(struct btd_tracker_http *h);

static void call_link(struct btd_tracker_http *h, struct http_call *c)
{
    c->prev = NULL;
    c->next = h->calls;
    if (h->calls)
        h->calls->prev = c;
    h->calls = c;
}

static void call_unlink(struct btd_tracker_http *h, struct http_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        h->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Detaches c from the client and curl and frees it; its callback does not run. */
static void call_destroy(struct http_call *c)
{
    struct btd_tracker_http *h = c->h;

    call_unlink(h, c);
    if (c->easy) {
        curl_multi_remove_handle(h->multi, c->easy);
        curl_easy_cleanup(c->easy);
    }
    bt_buf_deinit(&c->body);
    free(c);
}

static void on_cancel(struct btd_announce_call *base)
{
    struct http_call *c = (struct http_call *)base;
    struct btd_tracker_http *h = c->h;

    call_destroy(c);
    if (h->closing && !h->calls)
        finish_close(h);
}

static void free_client(struct btd_tracker_http *h)
{
    free(h);
    curl_global_cleanup();
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct btd_tracker_http *h = handle->data;

    if (--h->open_handles == 0)
        free_client(h);
}

static void on_socket_closed(uv_handle_t *handle)
{
    struct http_socket *s = (struct http_socket *)handle;
    struct btd_tracker_http *h = s->h;

    free(s);
    if (--h->open_handles == 0)
        free_client(h);
}

static void socket_close(struct http_socket *s)
{
    struct btd_tracker_http *h = s->h;

    if (s->closing)
        return;
    s->closing = true;
    if (s->prev)
        s->prev->next = s->next;
    else
        h->sockets = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_close((uv_handle_t *)&s->poll, on_socket_closed);
}

/* The errno for a failed transfer. */
static int curl_errno(CURLcode code)
{
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EPROTONOSUPPORT;
    case CURLE_TOO_MANY_REDIRECTS:
        return -ELOOP;
    case CURLE_FILESIZE_EXCEEDED:
        return -EMSGSIZE;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return -EPROTO;
    default:
        return -EIO;
    }
}

/* Turns a finished transfer into (status, res, msg) as btd_announce_cb wants them. */
static int call_outcome(struct http_call *c, CURLcode code, struct bt_announce_result *res,
                        char *msg, size_t size)
{
    struct bt_error err = {""};
    long http_status = 0;
    int r;

    if (c->write_error == -EMSGSIZE || code == CURLE_FILESIZE_EXCEEDED) {
        snprintf(msg, size, "reply larger than %zu bytes", BT_ANNOUNCE_MAX_REPLY);
        return -EMSGSIZE;
    }
    if (c->write_error < 0) {
        snprintf(msg, size, "out of memory reading the reply");
        return c->write_error;
    }
    if (code != CURLE_OK) {
        snprintf(msg, size, "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(code));
        return curl_errno(code);
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &http_status);
    r = bt_announce_http_parse(c->body.data, c->body.len, res, &err);
    if (r == 0 && res->failure) {
        snprintf(msg, size, "tracker refused: %s", res->failure);
        return -EREMOTEIO;
    }
    if (http_status < 200 || http_status > 299) {
        bt_announce_result_deinit(res);
        snprintf(msg, size, "HTTP status %ld", http_status);
        return -EIO;
    }
    if (r < 0) {
        snprintf(msg, size, "malformed reply: %s", err.msg);
        return r;
    }
    return 0;
}

static void call_complete(struct http_call *c, CURLcode code)
{
    struct bt_announce_result res = {.seeders = -1, .leechers = -1};
    char msg[MESSAGE_MAX] = "";
    btd_announce_cb cb = c->cb;
    void *data = c->data;
    int status;

    status = call_outcome(c, code, &res, msg, sizeof(msg));
    call_destroy(c);
    if (!cb && status < 0)
        btd_debug("tracker_http: a detached announce failed: %s", msg);
    if (cb)
        cb(data, status, status == 0 || status == -EREMOTEIO ? &res : NULL,
           status == 0 ? NULL : msg);
    bt_announce_result_deinit(&res);
}

/* Hands every finished transfer to its caller. A callback may close the client. */
static void drain(struct btd_tracker_http *h)
{
    char *priv;
    CURLMsg *msg;
    CURLcode code;
    int left;

    for (;;) {
        if (h->stopped)
            return;
        msg = curl_multi_info_read(h->multi, &left);
        if (!msg)
            break;
        if (msg->msg != CURLMSG_DONE)
            continue;
        code = msg->data.result;
        priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv)
            call_complete((struct http_call *)priv, code);
    }
    if (h->closing && !h->calls)
        finish_close(h);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct http_socket *s = (struct http_socket *)poll;
    struct btd_tracker_http *h = s->h;
    int flags = 0, running;

    if (status < 0)
        flags |= CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    drain(h); /* s may be gone: curl can drop the socket in the call above */
}

static void on_timer(uv_timer_t *timer)
{
    struct btd_tracker_http *h = timer->data;
    int running;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(h);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching fd. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct btd_tracker_http *h = userp;
    struct http_socket *s = socketp;
    int events = 0;

    if (h->stopped)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            socket_close(s);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return -1;
        if (uv_poll_init_socket(h->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        s->h = h;
        s->fd = fd;
        s->next = h->sockets;
        if (h->sockets)
            h->sockets->prev = s;
        h->sockets = s;
        h->open_handles++;
        curl_multi_assign(h->multi, fd, s);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) < 0 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means "as soon as possible". */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct btd_tracker_http *h = userp;

    if (h->stopped)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* CURLOPT_WRITEFUNCTION: collects the body; a short count aborts the transfer. */
static size_t on_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_call *c = userdata;
    size_t n = size * nmemb;
    int r = bt_buf_append(&c->body, ptr, n);

    if (r < 0) {
        c->write_error = r;
        return 0;
    }
    return n;
}

static CURLcode setup_easy(struct http_call *c, const char *url)
{
    struct btd_tracker_http *h = c->h;
    CURL *e = c->easy;
    CURLcode r = CURLE_OK;

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (r == CURLE_OK)                                                                         \
            r = curl_easy_setopt(e, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PRIVATE, (char *)c);
    SET(CURLOPT_WRITEFUNCTION, on_curl_write);
    SET(CURLOPT_WRITEDATA, c);
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_ms);
    SET(CURLOPT_TIMEOUT_MS, (long)h->total_ms);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, (long)BTD_HTTP_MAX_REDIRECTS);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BT_ANNOUNCE_MAX_REPLY);
    /*
     * One connection per announce: announces are minutes apart, and a kept
     * connection the tracker has just closed (opentracker closes after each
     * reply without saying so) can eat a `stopped` sent right after `started`.
     */
    SET(CURLOPT_FORBID_REUSE, 1L);
#undef SET
#if LIBCURL_VERSION_NUM >= 0x075700
    /* Freeing a transfer whose name is still being resolved must not wait for the resolver. */
    if (r == CURLE_OK)
        curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L); /* a curl older at run time: ignored */
#endif
    return r;
}

struct btd_announce_call *btd_tracker_http_announce(struct btd_tracker_http *h, const char *url,
                                                    const struct bt_announce_req *req,
                                                    btd_announce_cb cb, void *data)
{
    struct http_call *c;
    char *full;
    CURLcode r = CURLE_OUT_OF_MEMORY;

    if (h->closing)
        return NULL;
    c = calloc(1, sizeof(*c));
    full = bt_announce_http_url(url, req);
    if (c)
        c->easy = curl_easy_init();
    if (c && c->easy && full) {
        c->base.cancel = on_cancel;
        c->h = h;
        c->cb = cb;
        c->data = data;
        bt_buf_init(&c->body, BT_ANNOUNCE_MAX_REPLY);
        r = setup_easy(c, full);
    }
    free(full); /* curl copied it */
    if (r == CURLE_OK && curl_multi_add_handle(h->multi, c->easy) != CURLM_OK)
        r = CURLE_FAILED_INIT;
    if (r != CURLE_OK) {
        if (c)
            curl_easy_cleanup(c->easy);
        free(c);
        return NULL;
    }
    call_link(h, c);
    return &c->base;
}

void btd_tracker_http_set_timeouts(struct btd_tracker_http *h, uint32_t connect_ms,
                                   uint32_t total_ms)
{
    h->connect_ms = connect_ms;
    h->total_ms = total_ms;
}

int btd_tracker_http_open(struct btd_tracker_http **ret, uv_loop_t *loop)
{
    struct btd_tracker_http *h;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -EIO;
    h = calloc(1, sizeof(*h));
    if (h)
        h->multi = curl_multi_init();
    if (!h || !h->multi) {
        free(h);
        curl_global_cleanup();
        return -ENOMEM;
    }
    h->loop = loop;
    h->connect_ms = BTD_HTTP_CONNECT_TIMEOUT_MS;
    h->total_ms = BTD_HTTP_TIMEOUT_MS;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_CONNECTIONS);
    uv_timer_init(loop, &h->timer);
    uv_timer_init(loop, &h->grace);
    h->timer.data = h;
    h->grace.data = h;
    h->open_handles = 2;
    *ret = h;
    return 0;
}

/* Stops curl and closes every handle; the memory goes in the last close callback. */
static void finish_close(struct btd_tracker_http *h)
{
    if (h->stopped)
        return;
    while (h->calls)
        call_destroy(h->calls);
    h->stopped = true;
    /* Stop watching before curl closes the descriptors. */
    while (h->sockets)
        socket_close(h->sockets);
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
    uv_close((uv_handle_t *)&h->grace, on_timer_closed);
}

static void on_grace(uv_timer_t *timer)
{
    struct btd_tracker_http *h = timer->data;

    if (h->calls)
        btd_debug("tracker_http: %s", "giving up on detached announces at close");
    finish_close(h);
}

void btd_tracker_http_close(struct btd_tracker_http *h, uint32_t grace_ms)
{
    struct http_call *c, *next;

    if (!h || h->closing)
        return;
    h->closing = true;
    for (c = h->calls; c; c = next) {
        next = c->next;
        if (c->cb)
            call_destroy(c);
    }
    if (!h->calls || grace_ms == 0)
        finish_close(h);
    else
        uv_timer_start(&h->grace, on_grace, grace_ms, 0);
}
