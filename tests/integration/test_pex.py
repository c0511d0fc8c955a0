#!/usr/bin/python3
"""Peer exchange (BEP 11), both ways.

Taken: a python3-libtorrent seeder B is known only to a libtorrent leecher A
(A dials B; B is rate-limited so A keeps leeching). btd is told about A
alone. A's ut_pex message names B; btd must dial B and download from it.

Given: btd H downloads (rate-limited) from a btd seeder S, and a libtorrent
leecher L knows only H. Nothing but H's ut_pex can tell L about S (no
tracker; L and S are told of H and nobody else), so a connection between S
and L shows that H sent PEX naming S.

PEX is on in the libtorrent peers for these tests only (DHT, LSD, UPnP and
NAT-PMP stay off).
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


def wait_or_tell(t, fn, timeout, what, *btds):
    """wait_until, and on a time-out the peers' and PEX lines of each btd's log first (this
    wait has timed out once in a loaded run, and passed in every rerun)."""
    try:
        return wait_until(fn, timeout, what)
    except TimeoutError:
        for btd in btds:
            t.diag("log of %s:" % btd.dir)
            t.diag("\n".join(ln for ln in btd.log_text().splitlines()
                              if "peer=" in ln or "pex" in ln.lower())[-6000:])
        raise


def test_pex_brings_a_new_peer(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "pex.bin", piece_length=32768)
    b = LtPeer(torrent, seed_dir, "127.0.0.12", upload_limit=256 * 1024, pex=True)
    a = LtPeer(torrent, btdtest.tempdir("a-"), "127.0.0.11", seed=False, peers=[b.addr],
               wait_announce=False, pex=True)
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, peers=[a.addr])["id"]
        wait_or_tell(t, lambda: "127.0.0.12" in peer_ips(btd, tid), 90,
                     "btd to dial the peer it learnt through PEX", btd)
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


def test_btd_names_its_peers(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "pex.bin", piece_length=32768)
    seeder = Btd(BTD)
    hub = Btd(BTD)
    leecher = None
    try:
        sid = seeder.add(torrent, dir=seed_dir)["id"]
        seeder.wait_done(sid, timeout=60)
        s_port = seeder.call("session.get")["listen_port"]
        hid = hub.add(torrent, peers=["127.0.0.1:%d" % s_port])["id"]
        hub.call("torrent.set", id=str(hid), download_limit=192 * 1024)  # keeps H leeching
        h_port = hub.call("session.get")["listen_port"]
        wait_until(lambda: hub.status(hid)["peers"] >= 1, 30, "H to connect to S")
        leecher = LtPeer(torrent, btdtest.tempdir("l-"), "127.0.0.13", seed=False,
                         peers=["127.0.0.1:%d" % h_port], wait_announce=False, pex=True)
        wait_until(lambda: "127.0.0.13" in peer_ips(hub, hid), 30, "L to connect to H")
        wait_or_tell(t, lambda: "127.0.0.13" in peer_ips(seeder, sid), 90,
                     "S and L to meet through H's ut_pex", hub, seeder)
        t.ok(True, "pex sent: the libtorrent leecher and the seeder meet through btd's PEX")
        t.ok(hub.status(hid)["state"] == "downloading",
             "pex sent: H was still downloading (rate-limited), so it named S while connected")
    finally:
        if leecher:
            leecher.stop()
        t.eq(hub.stop(), 0, "pex sent: H exits 0")
        t.eq(seeder.stop(), 0, "pex sent: S exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_pex_brings_a_new_peer)
    t.run(test_btd_names_its_peers)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
