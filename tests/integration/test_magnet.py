#!/usr/bin/python3
"""Magnet links: metadata from peers (BEP 9 over BEP 10), then the download.

- tr: a magnet naming opentracker, seeded by python3-libtorrent, then by aria2c.
- x.pe only: a magnet pointing at another btd that seeds; no tracker at all,
  and `btctl add HASH --peer` does the same with a bare info-hash.
- A lying metadata peer (random bytes) and one announcing a 2 GiB
  metadata_size: the liar is banned, the other dropped at its handshake,
  and the metadata then comes from an honest peer.
- Restarts: during `metadata` the torrent comes back as a magnet under its
  id; after it, with its metadata, never fetched again.
"""

import hashlib
import base64
import os
import re
import sys

import btdtest
from swarm import (Aria2Seeder, Btd, FakePeer, LtPeer, Opentracker, free_port, payload_torrent,
                   sha256_file, wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
PIECE = 32768
FILES = {"mag.bin": 3 * 1024 * 1024 + 4321}


def magnet(ih, name=None, trackers=(), peers=()):
    uri = "magnet:?xt=urn:btih:" + ih
    if name:
        uri += "&dn=" + name
    for tr in trackers:
        uri += "&tr=" + tr
    for pe in peers:
        uri += "&x.pe=" + pe
    return uri


def fetched(t, btd, tid, sums, label, name="mag.bin"):
    st = btd.wait_done(tid, timeout=90)
    t.eq(st["name"], name, "%s: the metadata's name replaces the magnet's" % label)
    t.eq(sha256_file(os.path.join(btd.downloads, name)), sums[name],
         "%s: the download has the original sha256" % label)
    return st


def test_magnet_through_tracker(t):
    port = free_port()
    url = Opentracker.urls(port)[0]
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, FILES, "mag.bin", trackers=[url],
                                                  piece_length=PIECE)
    tracker = Opentracker([ih], port)
    seeders = []
    try:
        for kind in ("libtorrent", "aria2c"):
            if kind == "libtorrent":
                seeders.append(LtPeer(torrent, seed_dir, "127.0.0.2"))
            else:
                seeders.append(Aria2Seeder(torrent, seed_dir, "127.0.0.3"))
            btd = Btd(BTD)
            try:
                tid = btd.call("torrent.add", magnet=magnet(ih, "waiting", [url]),
                               dir=btd.downloads)["id"]
                st = btd.status(tid)
                t.ok(st["state"] == "metadata" or st["name"] == "mag.bin",
                     "%s: a magnet starts in state metadata" % kind, st["state"])
                t.ok(st["name"] in ("waiting", "mag.bin"), "%s: dn names it until then" % kind,
                     st["name"])
                fetched(t, btd, tid, sums, "magnet + %s seeder" % kind)
            finally:
                t.eq(btd.stop(), 0, "%s: btd exits 0" % kind)
            seeders.pop().stop()
    finally:
        for s in seeders:
            s.stop()
        tracker.stop()


def test_magnet_with_only_direct_peers(t):
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, FILES, "mag.bin", piece_length=PIECE)
    seeder = Btd(BTD)
    try:
        sid = seeder.add(torrent, dir=seed_dir)["id"]
        seeder.wait_done(sid, timeout=60)
        addr = "127.0.0.1:%d" % seeder.call("session.get")["listen_port"]
        btd = Btd(BTD)
        try:
            tid = btd.call("torrent.add", magnet=magnet(ih, peers=[addr]),
                           dir=btd.downloads)["id"]
            fetched(t, btd, tid, sums, "x.pe to a btd seeder")
            t.ok(seeder.status(sid)["uploaded_bytes"] >= FILES["mag.bin"],
                 "x.pe: the btd seeder served it all")
        finally:
            t.eq(btd.stop(), 0, "x.pe: btd exits 0")
        btd = Btd(BTD)
        try:
            r = btdtest.run([BTCTL, "--socket", btd.socket, "add", ih, "--peer", addr, "--dir",
                             btd.downloads], timeout=20)
            t.ok(r.returncode == 0 and r.stdout.startswith(ih),
                 "btctl add with a bare info-hash prints it", r.stdout + r.stderr)
            fetched(t, btd, 1, sums, "bare info-hash")
            b32 = base64.b32encode(bytes.fromhex(ih)).decode()
            r = btdtest.run([BTCTL, "--socket", btd.socket, "add", b32, "--paused"], timeout=20)
            t.ok(r.returncode != 0 and "already" in r.stderr,
                 "btctl add with the base32 form names the same torrent", r.stdout + r.stderr)
        finally:
            t.eq(btd.stop(), 0, "bare hash: btd exits 0")
        btd = Btd(BTD)
        try:
            b32 = base64.b32encode(bytes.fromhex(ih)).decode()
            r = btdtest.run([BTCTL, "--socket", btd.socket, "add", b32, "--paused"], timeout=20)
            t.ok(r.returncode == 0 and r.stdout.startswith(ih),
                 "btctl add with a base32 info-hash prints it in hex", r.stdout + r.stderr)
            path = os.path.join(btd.state, "torrents", ih + ".magnet")
            wait_until(lambda: os.path.exists(path), 20, "the magnet's state file")
            with open(path) as f:
                link = f.read().strip()
            t.eq(link, "magnet:?xt=urn:btih:" + b32, "a bare info-hash is kept as the link it names")
        finally:
            t.eq(btd.stop(), 0, "base32 hash: btd exits 0")
    finally:
        t.eq(seeder.stop(), 0, "x.pe: the seeding btd exits 0")


def test_lying_metadata_peers(t):
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, FILES, "mag.bin", piece_length=PIECE)
    liar = FakePeer(torrent, "127.0.0.5", "md-liar")
    huge = FakePeer(torrent, "127.0.0.6", "md-huge")
    btd = Btd(BTD)
    honest = None
    try:
        tid = btd.call("torrent.add", magnet=magnet(ih, peers=[liar.addr, huge.addr]),
                       dir=btd.downloads)["id"]
        liar.wait_line("sent 1 md-piece", 20)
        wait_until(lambda: "peer=%s banned" % liar.addr in btd.log_text(), 20, "the liar's ban")
        t.ok("does not match the info-hash" in btd.log_text(),
             "lying metadata: the hash check catches it")
        huge.wait_line("closed by peer 1", 20)
        t.ok("peer=%s closed: extension handshake over the limits" % huge.addr in btd.log_text(),
             "a 2 GiB metadata_size: dropped at its handshake, nothing allocated")
        t.eq(btd.status(tid)["state"], "metadata", "without an honest peer it keeps waiting")
        port = btd.call("session.get")["listen_port"]
        honest = LtPeer(torrent, seed_dir, "127.0.0.7", peers=["127.0.0.1:%d" % port],
                        wait_announce=False)
        fetched(t, btd, tid, sums, "an honest peer after liars")
        # It dialled us, so btd could not dial it back: closing it when the metadata came
        # would leave the torrent waiting for libtorrent to call again.
        log = btd.log_text()
        m = re.search(r"peer=(127\.0\.0\.7:\d+) extensions:", log)
        closes = re.findall(r"peer=%s closed: (.*)" % re.escape(m.group(1)), log) if m else None
        t.ok(m is not None and closes in ([], ["both seeding"]),
             "the peer that dialled in gave the metadata and then the data on one connection "
             "(closed: %s)" % closes)
    finally:
        if honest:
            honest.stop()
        liar.stop()
        huge.stop()
        t.eq(btd.stop(), 0, "liars: btd exits 0")


def test_metadata_escaping_the_download_dir(t):
    """Metadata that hashes right but names ../x is refused like such a .torrent file."""
    pieces = os.urandom(20)
    info = (b"d5:filesld6:lengthi5e4:pathl2:..6:escapeeee4:name3:bad12:piece lengthi16384e"
            b"6:pieces20:" + pieces + b"e")
    torrent = os.path.join(btdtest.tempdir("evil-"), "evil.torrent")
    with open(torrent, "wb") as f:
        f.write(b"d4:info" + info + b"e")
    ih = hashlib.sha1(info).hexdigest()
    fake = FakePeer(torrent, "127.0.0.10", "md-serve")
    btd = Btd(BTD)
    try:
        tid = btd.call("torrent.add", magnet=magnet(ih, peers=[fake.addr]),
                       dir=btd.downloads)["id"]
        st = wait_until(lambda: (lambda s: s if s["state"] == "error" else None)(
            btd.status(tid)), 30, "the metadata to be refused")
        t.ok(".." in (st["error"] or ""), "an escaping path in fetched metadata: state error "
             "naming it", st["error"])
        t.ok(not os.path.exists(os.path.join(btd.dir, "escape")),
             "nothing is written outside the download directory")
    finally:
        fake.stop()
        t.eq(btd.stop(), 0, "escaping metadata: btd exits 0")


def test_pieces_announced_beyond_the_torrent(t):
    """A bitfield sent before the metadata is read once it comes: one past the end closes."""
    _, _, torrent, ih = payload_torrent(BTCTL, FILES, "mag.bin", piece_length=PIECE)
    fake = FakePeer(torrent, "127.0.0.11", "md-have-beyond")
    btd = Btd(BTD)
    try:
        tid = btd.call("torrent.add", magnet=magnet(ih, peers=[fake.addr]),
                       dir=btd.downloads)["id"]
        fake.wait_line("sent 1 bitfield-beyond", 20)
        wait_until(lambda: "peer=%s closed: announced pieces beyond the torrent's" % fake.addr
                   in btd.log_text(), 30, "the peer to be closed once the metadata came")
        t.ok(True, "a bitfield naming a piece past the end, sent before the metadata: the "
             "peer is closed when the metadata shows it")
        t.eq(btd.status(tid)["state"], "downloading",
             "the metadata it served is kept; the torrent waits for other peers")
    finally:
        fake.stop()
        t.eq(btd.stop(), 0, "bitfield beyond: btd exits 0")


def test_restart_during_and_after_metadata(t):
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, FILES, "mag.bin", piece_length=PIECE)
    btd = Btd(BTD)
    state = btd.state
    seeder = None
    try:
        tid = btd.call("torrent.add", magnet=magnet(ih, "later"), dir=btd.downloads)["id"]
        t.eq(btd.stop(), 0, "no peers yet: btd exits 0")
        btd = Btd(BTD, state_dir=state)
        st = btd.status(tid)
        t.eq((st["state"], st["name"]), ("metadata", "later"),
             "restarted during metadata: the magnet is back under its id")
        port = btd.call("session.get")["listen_port"]
        seeder = LtPeer(torrent, seed_dir, "127.0.0.8", peers=["127.0.0.1:%d" % port],
                        wait_announce=False)
        st = btd.wait_done(tid, timeout=90)
        t.eq(st["name"], "mag.bin", "the metadata arrives after the restart")
        t.eq(btd.stop(), 0, "after metadata: btd exits 0")
        seeder.stop()
        seeder = None
        btd = Btd(BTD, state_dir=state)
        st = btd.status(tid)
        t.eq((st["state"], st["name"], st["verified_bytes"]),
             ("seeding", "mag.bin", FILES["mag.bin"]),
             "restarted after it: seeding at once, with its metadata")
        t.ok("metadata received" not in btd.log_text(), "the metadata is never fetched again")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "restarts: btd exits 0")


def main():
    t = btdtest.Tap()
    for fn in (test_magnet_through_tracker, test_magnet_with_only_direct_peers,
               test_lying_metadata_peers, test_metadata_escaping_the_download_dir,
               test_pieces_announced_beyond_the_torrent,
               test_restart_during_and_after_metadata):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
