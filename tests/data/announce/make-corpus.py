#!/usr/bin/env python3
"""Writes the HTTP tracker reply corpus: valid/*.bin (+ .expect), invalid/*.bin (+ .err).

Run from anywhere: python3 tests/data/announce/make-corpus.py
Stdlib only; the bencoder here is independent of common/bencode.c.

valid/NAME.expect holds key=value lines checked by tests/unit/test-announce.c:
peers (count), interval, min_interval, seeders, leechers, failure, warning
(absent keys are not checked; "-" means NULL) and peer.N (the N-th peer as
"ip:port", "[ipv6]:port").
invalid/NAME.err holds a substring that the one-line error message must contain.
"""

import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


class Raw:
    """Bytes written as they are."""

    def __init__(self, data):
        self.data = data


def benc(v):
    if isinstance(v, Raw):
        return v.data
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict):
        out = b"d"
        for k in sorted(v, key=lambda k: k.encode() if isinstance(k, str) else k):
            out += benc(k) + benc(v[k])
        return out + b"e"
    raise TypeError(type(v))


def compact4(*peers):
    return b"".join(socket.inet_aton(ip) + struct.pack(">H", port) for ip, port in peers)


def compact6(*peers):
    return b"".join(socket.inet_pton(socket.AF_INET6, ip) + struct.pack(">H", port)
                    for ip, port in peers)


VALID = {
    "compact-two-peers": (
        {"interval": 1800, "min interval": 900, "complete": 3, "incomplete": 5,
         "peers": compact4(("10.0.0.1", 6881), ("192.168.1.2", 51413))},
        "peers=2\ninterval=1800\nmin_interval=900\nseeders=3\nleechers=5\nfailure=-\n"
        "warning=-\npeer.0=10.0.0.1:6881\npeer.1=192.168.1.2:51413\n"),
    "dict-peers": (
        {"interval": 60, "peers": [
            {"ip": "127.0.0.1", "port": 1111, "peer id": b"A" * 20},
            {"ip": "::1", "port": 2222},
            {"ip": "tracker.example", "port": 3333},
            {"ip": "10.1.1.1", "port": 0},
        ]},
        "peers=2\ninterval=60\npeer.0=127.0.0.1:1111\npeer.1=[::1]:2222\n"),
    "peers6-only": (
        {"interval": 120, "peers": b"", "peers6": compact6(("2001:db8::1", 6881))},
        "peers=1\npeer.0=[2001:db8::1]:6881\n"),
    "compact-and-peers6": (
        {"interval": 300, "peers": compact4(("1.2.3.4", 80)),
         "peers6": compact6(("fe80::2", 443))},
        "peers=2\npeer.0=1.2.3.4:80\npeer.1=[fe80::2]:443\n"),
    "failure-reason": (
        {"failure reason": "Requested download is not authorized for use with this tracker."},
        "failure=Requested download is not authorized for use with this tracker.\npeers=0\n"),
    "failure-with-junk-keys": (
        {"failure reason": "go away", "peers": 5, "interval": "soon"},
        "failure=go away\n"),
    "warning-message": (
        {"interval": 1800, "warning message": "tracker is old", "peers": b""},
        "warning=tracker is old\npeers=0\nfailure=-\n"),
    "no-peers-key": (
        {"interval": 1800},
        "peers=0\ninterval=1800\nseeders=-1\nleechers=-1\n"),
    "no-interval": (
        {"peers": compact4(("8.8.8.8", 1))},
        "peers=1\ninterval=0\n"),
    "huge-interval-clamped": (
        {"interval": 1 << 40, "peers": b""},
        "interval=4294967295\n"),
    "zero-port-skipped": (
        {"interval": 10, "peers": compact4(("1.1.1.1", 0), ("2.2.2.2", 2))},
        "peers=1\npeer.0=2.2.2.2:2\n"),
    "unknown-keys-ignored": (
        {"interval": 10, "tracker id": "xyz", "external ip": b"\x7f\x00\x00\x01",
         "peers": compact4(("3.3.3.3", 3))},
        "peers=1\n"),
}

# A body that is not a bencoded dictionary at all, or one whose fields are wrong.
INVALID = {
    "empty": (b"", "empty reply"),
    "html": (b"<html><body>404 Not Found</body></html>", "not bencoded"),
    "truncated": (b"d8:intervali1800e5:peers6:abc", "not bencoded"),
    "list-root": (benc([1, 2]), "not a dictionary"),
    "int-root": (b"i42e", "not a dictionary"),
    "peers-length-not-multiple-of-6": (benc({"interval": 1, "peers": b"1234567"}),
                                       "multiple of 6"),
    "peers-is-int": (benc({"interval": 1, "peers": 7}), "peers: neither a string nor a list"),
    "peers6-length-not-multiple-of-18": (benc({"peers6": b"x" * 17}), "multiple of 18"),
    "peers6-is-list": (benc({"peers6": []}), "peers6: not a string"),
    "interval-is-string": (benc({"interval": "1800", "peers": b""}), "interval: not an integer"),
    "negative-interval": (benc({"interval": -5, "peers": b""}), "interval: negative"),
    "min-interval-is-list": (benc({"min interval": [], "peers": b""}),
                             "min interval: not an integer"),
    "complete-is-string": (benc({"complete": "3"}), "complete: not an integer"),
    "failure-not-string": (benc({"failure reason": 3}), "failure reason: not a string"),
    "warning-not-string": (benc({"warning message": {}}), "warning message: not a string"),
    "dict-peer-without-port": (benc({"peers": [{"ip": "1.2.3.4"}]}),
                               "peers[0]: not a dictionary with ip and port"),
    "dict-peer-not-dict": (benc({"peers": [{"ip": "1.2.3.4", "port": 1}, "x"]}),
                           "peers[1]"),
    "trailing-garbage": (benc({"interval": 1}) + b"GARBAGE", "bytes after the reply"),
    "duplicate-key": (b"d8:intervali1e8:intervali2ee", "not bencoded"),
}


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    for kind in ("valid", "invalid"):
        d = os.path.join(HERE, kind)
        os.makedirs(d, exist_ok=True)
        for name in os.listdir(d):
            os.remove(os.path.join(d, name))
    for name, (reply, expect) in VALID.items():
        write(os.path.join(HERE, "valid", name + ".bin"), benc(reply))
        write(os.path.join(HERE, "valid", name + ".expect"), expect.encode())
    for name, (body, err) in INVALID.items():
        write(os.path.join(HERE, "invalid", name + ".bin"), body)
        write(os.path.join(HERE, "invalid", name + ".err"), (err + "\n").encode())


if __name__ == "__main__":
    main()
