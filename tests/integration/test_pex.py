#!/usr/bin/python3
"""Peer exchange (BEP 11): btd learns a peer no tracker told it about.

A python3-libtorrent seeder B is known only to a libtorrent leecher A (A
dials B; B is rate-limited so A keeps leeching). btd is told about A alone.
A's ut_pex message names B; btd must dial B and download from it. PEX is on
in A and B for this test only (DHT, LSD, UPnP and NAT-PMP stay off).
"""

import os
import sys

import btdtest
from swarm import Btd, LtPeer, payload_torrent, sha256_file, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
FILES = {"pex.bin": 6 * 1024 * 1024 + 17}


def peer_ips(btd, tid):
    return {p["address"].rsplit(":", 1)[0]: p for p in btd.call("torrent.peers", id=str(tid))}


def test_pex_brings_a_new_peer(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "pex.bin", piece_length=32768)
    b = LtPeer(torrent, seed_dir, "127.0.0.12", upload_limit=256 * 1024, pex=True)
    a = LtPeer(torrent, btdtest.tempdir("a-"), "127.0.0.11", seed=False, peers=[b.addr],
               wait_announce=False, pex=True)
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, peers=[a.addr])["id"]
        wait_until(lambda: "127.0.0.12" in peer_ips(btd, tid), 90,
                   "btd to dial the peer it learnt through PEX")
        t.ok(True, "pex: btd connects to a peer only A's ut_pex named")
        t.ok("pex: " in btd.log_text(), "pex: the message is logged")
        st = btd.wait_done(tid, timeout=120)
        t.eq(sha256_file(os.path.join(btd.downloads, "pex.bin")), sums["pex.bin"],
             "pex: the download completes intact")
        t.ok(st["state"] == "seeding", "pex: btd seeds at the end")
    finally:
        a.stop()
        b.stop()
        t.eq(btd.stop(), 0, "pex: btd exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_pex_brings_a_new_peer)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
