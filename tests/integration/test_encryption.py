#!/usr/bin/python3
"""Message Stream Encryption: btd with peers that require it, and btd requiring it.

python3-libtorrent set as a user who requires encryption (pe_forced both
ways, RC4 only) seeds to btd, which dials plaintext first by default and
falls back to MSE when that is closed (so does aria2c with
--bt-require-crypto; transmission-daemon with encryption required seeds to
btd set to require), and downloads from btd with
encryption=require, as does aria2c --bt-require-crypto, which finds btd
through opentracker and dials it; both transfers must keep the original sha256 and be
RC4 on the wire (libtorrent's rc4_encrypted flag, btd's torrent.peers
and `btctl peers`). A libtorrent offering plaintext payload after MSE gets
it from btd's default mode. btd with encryption=require refuses a plaintext-only
libtorrent; two btd, one preferring encryption, speak RC4 to each other;
and a stream of garbage in place of an MSE handshake is closed
with one clear debug line while btd keeps running.
"""

import os
import random
import re
import socket
import sys
import time

import btdtest
from swarm import (Aria2Leecher, Aria2Seeder, Btd, LtPeer, Opentracker, Transmission,
                   free_port, payload_torrent, sha256_file, wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
FILES = {"enc.bin": 2 * 1024 * 1024 + 4321}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def clean_log(t, btd, what):
    text = btd.log_text()
    t.ok(not any(m in text for m in SANITIZER_MARKS), "%s: no sanitizer report" % what,
         text[-3000:])


def test_btd_downloads_from_a_forced_peer(t, data):
    seed_dir, sums, torrent = data
    btd = Btd(BTD)
    seeder = None
    try:
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2", encryption="forced")
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        btd.wait_done(tid, timeout=90)
        t.eq(sha256_file(os.path.join(btd.downloads, "enc.bin")), sums["enc.bin"],
             "btd (prefer_plaintext) downloads the original bytes from a pe_forced seeder")
        line = seeder.wait_line("peer ", 10)
        t.ok(line.endswith(" rc4"), "libtorrent saw an RC4 connection", seeder.lines()[-5:])
        log = btd.log_text()
        t.ok("MSE handshake done (RC4)" in log, "btd logged the MSE handshake (RC4)",
             log[-2000:])
        clean_log(t, btd, "download")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "download: btd exits 0")


def test_btd_downloads_from_aria2_requiring_encryption(t, data):
    seed_dir, sums, torrent = data
    btd = Btd(BTD)
    seeder = None
    try:
        seeder = Aria2Seeder(torrent, seed_dir, "127.0.0.6",
                             extra=["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"])
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        btd.wait_done(tid, timeout=60)
        t.eq(sha256_file(os.path.join(btd.downloads, "enc.bin")), sums["enc.bin"],
             "btd downloads the original bytes from aria2c --bt-require-crypto")
        log = btd.log_text()
        t.ok(re.search(r"peer=127\.0\.0\.6:\d+ MSE handshake done \(RC4\)", log),
             "the aria2c connection was RC4", log[-2000:])
        clean_log(t, btd, "aria2")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "aria2: btd exits 0")


def test_aria2_requiring_encryption_leeches_from_btd(t, data):
    """aria2c --bt-require-crypto finds btd (require) through the tracker and dials it over MSE."""
    port = free_port()
    http, _ = Opentracker.urls(port)
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, FILES, "enc.bin", [http],
                                                  piece_length=32768)
    tracker = Opentracker([ih], port)
    btd = Btd(BTD)
    aria = None
    try:
        btd.call("session.set", encryption="require")
        tid = btd.add(torrent, dir=seed_dir)["id"]
        btd.wait_done(tid, timeout=60)
        wait_until(lambda: btd.status(tid)["trackers"][0]["last_announce"], 30,
                   "btd's first announce")
        out = btdtest.tempdir("enc-aria2-")
        aria = Aria2Leecher(torrent, out, "127.0.0.7",
                            extra=["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"])
        try:
            rc = aria.wait_exit(60)
        except TimeoutError:
            rc = "still running after 60 s"
        t.eq(rc, 0, "aria2c (require crypto) exits 0, its download complete")
        path = os.path.join(out, "enc.bin")
        t.eq(sha256_file(path) if os.path.exists(path) else None, sums["enc.bin"],
             "aria2c --bt-require-crypto gets the original bytes from btd (require)")
        log = btd.log_text()
        t.ok(re.search(r"peer=127\.0\.0\.7:\d+ MSE handshake done \(RC4\)", log),
             "aria2c dialled btd over MSE with RC4", log[-2000:])
        clean_log(t, btd, "aria2 leech")
    finally:
        if aria:
            aria.stop()
        tracker.stop()
        t.eq(btd.stop(), 0, "aria2 leech: btd exits 0")


def seed_from(btd, data, **settings):
    """btd, set with settings, seeds data's torrent from its directory: (its id, btd's port)."""
    seed_dir, _, torrent = data
    btd.call("session.set", **settings)
    tid = btd.add(torrent, dir=seed_dir)["id"]
    btd.wait_done(tid, timeout=60)
    return tid, btd.call("session.get")["listen_port"]


def leecher_of(torrent, port, ip, tag, encryption):
    """A libtorrent leecher on ip dialling btd's port with that encryption: (its dir, it)."""
    out = btdtest.tempdir(tag)
    return out, LtPeer(torrent, out, ip, seed=False, peers=["127.0.0.1:%d" % port],
                       wait_announce=False, encryption=encryption)


def wait_peer(btd, tid, flag, what):
    """The first active peer of torrent tid whose torrent.peers field flag is true."""
    def found():
        peers = btd.call("torrent.peers", id=str(tid))
        return next((p for p in peers if p[flag] and p["state"] == "active"), None)
    return wait_until(found, 30, what)


def test_btd_downloads_from_transmission_requiring_encryption(t, data):
    """transmission-daemon with encryption required seeds; btd (require) dials it over MSE."""
    seed_dir, sums, torrent = data
    tr = Transmission("127.0.0.9", encryption=2)
    btd = Btd(BTD)
    try:
        tr.seed(torrent, seed_dir)
        btd.call("session.set", encryption="require")
        tid = btd.add(torrent, peers=[tr.addr])["id"]
        peer = wait_peer(btd, tid, "encrypted", "an RC4 connection to transmission")
        t.ok(peer["mse"] and peer["address"].startswith("127.0.0.9:"),
             "transmission (encryption required) and btd speak MSE with RC4", peer)
        btd.wait_done(tid, timeout=60)
        t.eq(sha256_file(os.path.join(btd.downloads, "enc.bin")), sums["enc.bin"],
             "btd downloads the original bytes from transmission over RC4")
        clean_log(t, btd, "transmission")
    finally:
        t.eq(tr.stop(), 0, "transmission exits 0")
        t.eq(btd.stop(), 0, "transmission: btd exits 0")


def btctl_peers(btd, tid):
    res = btdtest.run([BTCTL, "--socket", btd.socket, "peers", str(tid)], timeout=20)
    return res.stdout


def test_btd_requiring_encryption_seeds(t, data):
    seed_dir, sums, torrent = data
    btd = Btd(BTD)
    leecher = None
    try:
        tid, port = seed_from(btd, data, encryption="require", upload_limit=512 * 1024)
        out, leecher = leecher_of(torrent, port, "127.0.0.3", "enc-leech-", "forced")
        peer = wait_peer(btd, tid, "encrypted", "an encrypted peer in torrent.peers")
        t.ok(peer["mse"], "torrent.peers: the peer came through MSE", peer)
        table = btctl_peers(btd, tid)
        row = next((ln for ln in table.splitlines() if ln.startswith(peer["address"])), "")
        t.ok(len(row.split()) > 1 and "E" in row.split()[-1],
             "btctl peers flags the connection E", table)
        leecher.wait_line("finished", 60)
        t.eq(sha256_file(os.path.join(out, "enc.bin")), sums["enc.bin"],
             "a pe_forced libtorrent leecher gets the original bytes from btd (require)")
        t.ok(leecher.wait_line("peer ", 5).endswith(" rc4"), "libtorrent saw RC4",
             leecher.lines()[-5:])
        t.eq(btd.call("session.get")["encryption"], "require", "session.get shows the key")
        clean_log(t, btd, "seed")
    finally:
        if leecher:
            leecher.stop()
        t.eq(btd.stop(), 0, "seed: btd exits 0")


def test_plaintext_payload_when_both_allow_it(t, data):
    """btd (prefer_plaintext) selects plaintext payload for an MSE peer that offers it."""
    seed_dir, sums, torrent = data
    btd = Btd(BTD)
    leecher = None
    try:
        tid, port = seed_from(btd, data, upload_limit=1024 * 1024)
        out, leecher = leecher_of(torrent, port, "127.0.0.5", "obf-leech-", "forced-both")
        peer = wait_peer(btd, tid, "mse", "an MSE peer in torrent.peers")
        t.ok(not peer["encrypted"], "torrent.peers: MSE handshake, payload not RC4", peer)
        leecher.wait_line("finished", 60)
        t.eq(sha256_file(os.path.join(out, "enc.bin")), sums["enc.bin"],
             "an MSE peer offering plaintext payload gets the original bytes")
        t.ok(leecher.wait_line("peer ", 5).endswith(" obfuscated"),
             "libtorrent saw an MSE handshake with plaintext payload", leecher.lines()[-5:])
        clean_log(t, btd, "obfuscated")
    finally:
        if leecher:
            leecher.stop()
        t.eq(btd.stop(), 0, "obfuscated: btd exits 0")


def test_require_refuses_plaintext(t, data):
    seed_dir, _, torrent = data
    btd = Btd(BTD)
    leecher = None
    try:
        tid, port = seed_from(btd, data, encryption="require")
        out, leecher = leecher_of(torrent, port, "127.0.0.4", "plain-leech-", "disabled")
        wait_until(lambda: "plaintext handshake refused" in btd.log_text(), 30,
                   "btd to refuse the plaintext handshake")
        time.sleep(2)
        t.eq(btd.status(tid)["uploaded_bytes"], 0, "require: nothing uploaded to a plaintext peer")
        t.ok(not any(ln.startswith("finished") for ln in leecher.lines()),
             "require: the plaintext-only leecher did not finish")
        clean_log(t, btd, "refuse")
    finally:
        if leecher:
            leecher.stop()
        t.eq(btd.stop(), 0, "refuse: btd exits 0")


def test_btd_to_btd_prefer_encrypted(t, data):
    """Our initiator (prefer_encrypted: RC4 only) and our receiver (prefer_plaintext)."""
    seed_dir, sums, torrent = data
    seeder = Btd(BTD)
    leecher = Btd(BTD)
    try:
        seeder.call("session.set", upload_limit=1024 * 1024)
        sid = seeder.add(torrent, dir=seed_dir)["id"]
        seeder.wait_done(sid, timeout=60)
        port = seeder.call("session.get")["listen_port"]
        leecher.call("session.set", encryption="prefer_encrypted")
        lid = leecher.add(torrent, peers=["127.0.0.1:%d" % port])["id"]
        wait_peer(leecher, lid, "encrypted", "the leecher's encrypted peer")
        leecher.wait_done(lid, timeout=60)
        t.eq(sha256_file(os.path.join(leecher.downloads, "enc.bin")), sums["enc.bin"],
             "btd (prefer_encrypted) downloads the original bytes from btd over RC4")
        t.ok("MSE handshake done (RC4)" in seeder.log_text(), "the seeder logged RC4")
        clean_log(t, seeder, "btd-to-btd seeder")
        clean_log(t, leecher, "btd-to-btd leecher")
    finally:
        t.eq(leecher.stop(), 0, "btd-to-btd: the leecher exits 0")
        t.eq(seeder.stop(), 0, "btd-to-btd: the seeder exits 0")


def garbage_connection(port, data):
    """Sends data, returns (closed by btd, seconds it took)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(25)
        s.sendall(data)
        try:
            while s.recv(4096):
                pass
            closed = True
        except (ConnectionResetError, socket.timeout):
            closed = False
        except OSError:
            closed = True
    return closed, time.monotonic() - start


def test_garbage_handshakes_are_closed(t, data):
    btd = Btd(BTD)
    try:
        port = btd.call("session.get")["listen_port"]
        rnd = random.Random(7)
        junk = bytes([0x55]) + bytes(rnd.getrandbits(8) for _ in range(2000))
        closed, _ = garbage_connection(port, junk)
        t.ok(closed, "garbage after a would-be Ya: btd closes the connection")
        wait_until(lambda: "MSE: no req1 hash within 532 bytes" in btd.log_text(), 10,
                   "the debug line")
        closed, took = garbage_connection(port, junk[:50])
        t.ok(closed and took < 24, "a stalled MSE handshake times out", took)
        t.ok(btd.alive(), "btd survives garbage handshakes")
        clean_log(t, btd, "garbage")
    finally:
        t.eq(btd.stop(), 0, "garbage: btd exits 0")


def main():
    t = btdtest.Tap()
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "enc.bin", piece_length=32768)
    data = (seed_dir, sums, torrent)
    t.run(test_btd_downloads_from_a_forced_peer, data)
    t.run(test_btd_downloads_from_aria2_requiring_encryption, data)
    t.run(test_btd_downloads_from_transmission_requiring_encryption, data)
    t.run(test_aria2_requiring_encryption_leeches_from_btd, data)
    t.run(test_btd_requiring_encryption_seeds, data)
    t.run(test_plaintext_payload_when_both_allow_it, data)
    t.run(test_require_refuses_plaintext, data)
    t.run(test_btd_to_btd_prefer_encrypted, data)
    t.run(test_garbage_handshakes_are_closed, data)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
