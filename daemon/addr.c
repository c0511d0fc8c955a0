#include "addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void btd_addr_format(const struct bt_peer_addr *a, char *out, size_t size)
{
    char ip[48];

    if (a->family == 6) {
        uv_inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%u", ip, (unsigned)a->port);
    } else {
        uv_inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
        snprintf(out, size, "%s:%u", ip, (unsigned)a->port);
    }
}

int btd_addr_parse(const char *s, struct bt_peer_addr *ret)
{
    struct bt_peer_addr a = {0};
    const char *colon = strrchr(s, ':');
    char host[48], *end;
    size_t hlen;
    long port;

    if (!colon || colon == s)
        return -EINVAL;
    hlen = (size_t)(colon - s);
    if (s[0] == '[' && colon[-1] == ']') {
        s++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
        return -EINVAL;
    if (strcmp(host, "localhost") == 0)
        memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
    if (uv_inet_pton(AF_INET, host, a.ip) == 0)
        a.family = 4;
    else if (uv_inet_pton(AF_INET6, host, a.ip) == 0)
        a.family = 6;
    else
        return -EINVAL;
    a.port = (uint16_t)port;
    bt_peer_addr_unmap(&a);
    *ret = a;
    return 0;
}

void btd_addr_to_sockaddr(const struct bt_peer_addr *a, struct sockaddr_storage *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (a->family == 6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        memcpy(&in6->sin6_addr, a->ip, 16);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)ret;

        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->ip, 4);
    }
}

int btd_addr_from_sockaddr(const struct sockaddr *sa, struct bt_peer_addr *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        ret->family = 4;
        memcpy(ret->ip, &in->sin_addr, 4);
        ret->port = ntohs(in->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        ret->family = 6;
        memcpy(ret->ip, &in6->sin6_addr, 16);
        ret->port = ntohs(in6->sin6_port);
        bt_peer_addr_unmap(ret); /* an IPv4 peer on a dual-stack socket */
        return 0;
    }
    return -EAFNOSUPPORT;
}

int btd_addr_equal(const struct bt_peer_addr *a, const struct bt_peer_addr *b)
{
    size_t n = a->family == 6 ? 16 : 4;

    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}
