#!/usr/bin/python3
"""IPv6 peers: btd's default peer port (listen_address ::) takes IPv6 and IPv4 peers.

btd downloads from a python3-libtorrent seeder listening on [::1] only
(given as --peer [::1]:PORT), then seeds to two libtorrent leechers that
dial it: one over IPv6 ([::1]) and one over IPv4 (127.0.0.5), through the
one dual-stack socket. Every transfer keeps the original sha256, and
torrent.peers names the IPv4 peer 127.0.0.5, not ::ffff:127.0.0.5.
"""

import os
import re
import sys

import btdtest
from swarm import Btd, LtPeer, payload_torrent, sha256_file

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
FILES = {"six.bin": 1024 * 1024 + 66}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def test_ipv6_and_ipv4_peers(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "six.bin", piece_length=32768)
    seeder = LtPeer(torrent, seed_dir, "::1")
    btd = Btd(BTD)
    leechers = []
    try:
        t.eq(btd.call("session.get")["listen_port"] > 0, True, "btd listens")
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        t.ok(seeder.addr.startswith("[::1]:"), "the seeder is on [::1]", seeder.addr)
        btd.wait_done(tid, timeout=60)
        t.ok("peer=%s handshake done" % seeder.addr in btd.log_text(),
             "btd's log names the IPv6 peer [::1]:PORT", btd.log_text()[-1500:])
        t.eq(sha256_file(os.path.join(btd.downloads, "six.bin")), sums["six.bin"],
             "btd downloads the original bytes from an IPv6-only seeder")
        seeder.stop()
        port = btd.call("session.get")["listen_port"]
        for ip, addr in (("::1", "[::1]:%d" % port), ("127.0.0.5", "127.0.0.1:%d" % port)):
            out = btdtest.tempdir("six-leech-")
            leechers.append((ip, out, LtPeer(torrent, out, ip, seed=False, peers=[addr],
                                             wait_announce=False)))
        for ip, out, leecher in leechers:
            leecher.wait_line("finished", 60)
            t.eq(sha256_file(os.path.join(out, "six.bin")), sums["six.bin"],
                 "a libtorrent leecher on %s gets the original bytes from btd" % ip)
        log = btd.log_text()
        t.ok(re.search(r"peer=127\.0\.0\.5:\d+ handshake done", log) and "::ffff:" not in log,
             "an IPv4 peer on the dual-stack port is 127.0.0.5, not ::ffff:127.0.0.5",
             [ln for ln in log.splitlines() if "handshake done" in ln])
        ports = {int(p) for p in re.findall(r"peer=\[::1\]:(\d+) handshake done", log)}
        t.ok(ports - {seeder.port}, "the IPv6 leecher came in over [::1] (not the seeder's port)",
             ports)
        t.ok(not any(m in btd.log_text() for m in SANITIZER_MARKS), "no sanitizer report")
    finally:
        seeder.stop()
        for _, _, leecher in leechers:
            leecher.stop()
        t.eq(btd.stop(), 0, "btd exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_ipv6_and_ipv4_peers)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
