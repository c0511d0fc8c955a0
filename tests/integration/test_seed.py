#!/usr/bin/python3
"""btd uploads: once it has a torrent, real leechers download it from btd alone.

A python3-libtorrent seeder gives btd the data and is stopped; then a
python3-libtorrent leecher dialling only btd downloads it, and its file
must have the original sha256. aria2c, finding btd only through an HTTP
tracker (opentracker), downloads from btd seeding data it checked in place.
Hostile leechers (fake_peer.py --dial: requests out of range, a flood of
requests while choked, 2 GiB blocks) are dropped by btd, which keeps serving
an honest libtorrent leecher. A leecher that asks for 500 blocks and reads
none gets only what the sockets take and BTD_UPLOAD_MAX_UNSENT more.
"""

import os
import re
import shutil
import signal
import sys
import time

import btdtest
from swarm import (Aria2Leecher, Btd, LtPeer, Opentracker, _LineProcess, create_torrent,
                   free_port, make_payload, payload_torrent, run_cmd, sha256_file, unmount,
                   wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
FILES = {"seed.bin": 3 * 1024 * 1024 + 777}
MAX_BAD = 16  # BTD_UPLOAD_MAX_BAD (daemon/upload.h): one more refused request drops the peer
MAX_UNSENT = 1 << 20  # BTD_UPLOAD_MAX_UNSENT (daemon/upload.h)
STALL_REQUESTS = 500  # fake_peer.py's stalled-reader: BTD_UPLOAD_MAX_QUEUE
STALL_RCVBUF = 64 * 1024  # its receive buffer (the kernel doubles it)
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
# scenario: (the reasons btd may log for refusing its requests, unchoked before the attack)
HOSTILE = {
    "bad-requests": ({"piece not available", "block out of range"}, True),
    "choked-flood": ({"sent while choked"}, False),
    "huge-request": ({"block out of range"}, True),
}


class FakeLeecher(_LineProcess):
    """fake_peer.py dialling btd from ip and playing one leecher scenario."""

    def __init__(self, torrent, ip, scenario, seeder, data=None):
        cmd = ["/usr/bin/python3", os.path.join(HERE, "fake_peer.py"), "--torrent", torrent,
               "--ip", ip, "--scenario", scenario, "--dial", seeder]
        if data:
            cmd += ["--data", data]
        super().__init__(cmd, "fake-" + scenario)
        self.name = self.wait_line("connected 1 ", 20).split()[2]  # IP:PORT, as btd logs it


def test_btd_seeds_to_real_leechers(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "seed.bin", piece_length=32768)
    btd = Btd(BTD)
    leecher = None
    try:
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        btd.wait_done(tid, timeout=60)
        seeder.stop()
        port = btd.call("session.get")["listen_port"]

        out = btdtest.tempdir("leech-")
        leecher = LtPeer(torrent, out, "127.0.0.3", seed=False, peers=["127.0.0.1:%d" % port],
                         wait_announce=False)
        leecher.wait_line("finished", 60)
        t.eq(sha256_file(os.path.join(out, "seed.bin")), sums["seed.bin"],
             "a libtorrent leecher gets the original bytes from btd alone")
        st = btd.status(tid)
        t.ok(st["uploaded_bytes"] >= FILES["seed.bin"], "btd counts what it uploaded",
             st["uploaded_bytes"])
    finally:
        if leecher:
            leecher.stop()
        t.eq(btd.stop(), 0, "seeding: btd exits 0")


def test_existing_data_is_checked(t):
    """Data already in --dir: complete seeds at once, corrupted pieces alone are fetched."""
    piece = 32768
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "seed.bin", piece_length=piece)
    btd = Btd(BTD)
    seeder = None
    try:
        tid = btd.add(torrent, dir=seed_dir)["id"]
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["downloaded_bytes"], 0, "complete data: seeding without downloading a byte")
        t.eq(st["verified_bytes"], FILES["seed.bin"], "complete data: every byte verified")
        btd.call("torrent.remove", id=str(tid))

        part = btdtest.tempdir("part-")
        shutil.copy(os.path.join(seed_dir, "seed.bin"), os.path.join(part, "seed.bin"))
        with open(os.path.join(part, "seed.bin"), "r+b") as f:
            for index in (3, 40):  # two whole pieces become garbage
                f.seek(index * piece)
                f.write(os.urandom(piece))
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
        tid = btd.add(torrent, dir=part, peers=[seeder.addr])["id"]
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["downloaded_bytes"], 2 * piece, "partial data: exactly the two bad pieces fetched")
        t.eq(sha256_file(os.path.join(part, "seed.bin")), sums["seed.bin"],
             "partial data: the file is mended")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "check: btd exits 0")


def test_btd_seeds_to_aria2(t):
    """btd checks data in place and seeds it; aria2c finds btd through the tracker alone."""
    port = free_port()
    http, _ = Opentracker.urls(port)
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, FILES, "seed.bin", [http],
                                                  piece_length=32768)
    tracker = Opentracker([ih], port)
    btd = Btd(BTD)
    aria = None
    try:
        tid = btd.add(torrent, dir=seed_dir)["id"]
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["downloaded_bytes"], 0, "aria2: btd seeds the checked data without downloading")
        wait_until(lambda: btd.status(tid)["trackers"][0]["last_announce"], 30,
                   "btd's first announce")
        out = btdtest.tempdir("aria2-leech-")
        aria = Aria2Leecher(torrent, out, "127.0.0.4")
        try:
            rc = aria.wait_exit(30)  # a few seconds when it works
        except TimeoutError:
            rc = "still running after 30 s"
        if not t.eq(rc, 0, "aria2: aria2c exits 0, its download complete"):
            t.diag("btd about 127.0.0.4:\n" + "\n".join(
                ln for ln in btd.log_text().splitlines() if "peer=127.0.0.4:" in ln)[-3000:])
            t.diag("aria2c:\n" + "\n".join(aria.lines()[-10:]))
        path = os.path.join(out, "seed.bin")
        t.eq(sha256_file(path) if os.path.exists(path) else None, sums["seed.bin"],
             "aria2: an aria2c leecher gets the original bytes from btd alone")
        st = btd.status(tid)
        t.ok(st["uploaded_bytes"] >= FILES["seed.bin"], "aria2: btd counts what it uploaded",
             st["uploaded_bytes"])
    finally:
        if aria:
            aria.stop()
        tracker.stop()
        t.eq(btd.stop(), 0, "aria2: btd exits 0")


def hostile_leecher(t, scenario):
    """A fake leecher attacks btd's seeding torrent while an honest one downloads it."""
    reasons, unchoked = HOSTILE[scenario]
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "seed.bin", piece_length=32768)
    btd = Btd(BTD)
    fake = leecher = None
    try:
        tid = btd.add(torrent, dir=seed_dir)["id"]
        btd.wait_done(tid, timeout=60)
        addr = "127.0.0.1:%d" % btd.call("session.get")["listen_port"]
        fake = FakeLeecher(torrent, "127.0.0.5", scenario, addr)
        fake.wait_line("attack 1 ", 20)
        start = time.monotonic()
        out = btdtest.tempdir("leech-")
        leecher = LtPeer(torrent, out, "127.0.0.6", seed=False, peers=[addr],
                         wait_announce=False)
        try:
            end = fake.wait_line(("closed by peer 1", "done 1"), 20)
        except TimeoutError:
            end = "still open after 20 s"
        took = time.monotonic() - start
        t.ok(end.startswith("closed by peer"),
             "%s: btd closes the hostile connection (%.1f s)" % (scenario, took),
             [end] + fake.lines()[-5:])
        log = btd.log_text()
        t.ok("peer=%s closed: too many bad requests" % fake.name in log,
             "%s: btd's log gives the reason: too many bad requests" % scenario,
             [ln for ln in log.splitlines() if fake.name in ln][-5:])
        refused = re.findall(r"peer=%s request refused: (.*)" % re.escape(fake.name), log)
        t.eq(len(refused), MAX_BAD + 1,
             "%s: dropped at the first refused request over %d" % (scenario, MAX_BAD))
        t.ok(refused and set(refused) <= reasons,
             "%s: each request refused as %s" % (scenario, " or ".join(sorted(reasons))),
             sorted(set(refused)))
        if unchoked:
            t.ok("got 1 unchoke" in fake.lines(),
                 "%s: it was unchoked first, so the range checks refused it" % scenario,
                 fake.lines())
        t.eq([ln for ln in fake.lines() if ln.startswith("got 1 piece")], [],
             "%s: not a block of data for the hostile leecher" % scenario)

        leecher.wait_line("finished", 60)
        t.eq(sha256_file(os.path.join(out, "seed.bin")), sums["seed.bin"],
             "%s: an honest libtorrent leecher still gets the original bytes" % scenario)
        t.eq(btd.status(tid)["state"], "seeding", "%s: btd alive, answering, seeding" % scenario)
        text = btd.log_text()
        t.ok(not any(m in text for m in SANITIZER_MARKS),
             "%s: no sanitizer report in btd's log" % scenario,
             "\n".join(ln for ln in text.splitlines()
                       if any(m in ln for m in SANITIZER_MARKS))[:4000])
    finally:
        for p in (fake, leecher):
            if p:
                p.stop()
        t.eq(btd.stop(), 0, "%s: btd exits 0" % scenario)


def test_fast_extension_leecher(t):
    """BEP 6: a seeding btd says have all, names allowed-fast pieces and rejects the rest."""
    seed_dir, _, torrent, _ = payload_torrent(BTCTL, FILES, "seed.bin", piece_length=32768)
    btd = Btd(BTD)
    fake = None
    try:
        tid = btd.add(torrent, dir=seed_dir)["id"]
        btd.wait_done(tid, timeout=60)
        port = btd.call("session.get")["listen_port"]
        fake = FakeLeecher(torrent, "127.0.0.9", "fast-leecher", "127.0.0.1:%d" % port)
        t.ok(fake.wait_line("got 1 have-all", 20), "fast: a seeding btd sends have all")
        line = fake.wait_line("got 1 allowed-fast ", 20)
        t.eq(line.split()[3], "10", "fast: btd names 10 allowed-fast pieces")
        line = fake.wait_line("got 1 rejects ", 30)
        t.eq(line.split()[3], "5", "fast: each request while choked is rejected")
        line = fake.wait_line("got 1 allowed-pieces ", 30)
        t.eq(line.split()[3], "1", "fast: an allowed-fast piece is served while choked")
    finally:
        if fake:
            fake.stop()
        t.eq(btd.stop(), 0, "fast: btd exits 0")


def stalled_reader(t, label, tmpfs):
    """A leecher that asks for 500 blocks and reads none: btd stops at what the sockets hold
    and BTD_UPLOAD_MAX_UNSENT more, rather than holding 8 MiB for it; then serves the rest.

    On ext4 (the data just written, so in the page cache) the loop thread reads the blocks
    itself; on tmpfs, which refuses RWF_NOWAIT, workers read every one, and the bytes they
    are reading count in the bound."""
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        wmem_max = int(f.read().split()[2])  # btd's send buffer grows to this at most
    room = wmem_max + 2 * STALL_RCVBUF + MAX_UNSENT + 128 * 1024  # + one read of slack
    must_wait = STALL_REQUESTS - room // 16384
    if must_wait < 50:
        t.ok(True, "%s # SKIP tcp_wmem's max (%d) lets the kernel take them all"
             % (label, wmem_max))
        return
    seed_dir = btdtest.tempdir("stall-")
    if tmpfs:
        why = run_cmd(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", seed_dir])
        if why:
            t.ok(True, "%s # SKIP cannot mount a tmpfs: %s" % (label, why))
            return
    btd = fake = None
    try:
        make_payload(seed_dir, {"stall.bin": 9 * 1024 * 1024 + 1234})
        torrent = os.path.join(btdtest.tempdir("torrent-"), "t.torrent")
        create_torrent(BTCTL, os.path.join(seed_dir, "stall.bin"), torrent, piece_length=262144)
        btd = Btd(BTD)
        tid = str(btd.add(torrent, dir=seed_dir)["id"])
        btd.wait_done(tid, timeout=60)
        addr = "127.0.0.1:%d" % btd.call("session.get")["listen_port"]
        fake = FakeLeecher(torrent, "127.0.0.7", "stalled-reader", addr,
                           data=os.path.join(seed_dir, "stall.bin"))
        fake.wait_line("sent 1 requests %d" % STALL_REQUESTS, 20)

        def peer():
            return next(p for p in btd.call("torrent.peers", id=tid) if p["address"] == fake.name)

        wait_until(lambda: peer()["uploaded_bytes"] >= MAX_UNSENT, 20,
                   "btd to serve the stalled reader")
        # Holding back is the absence of an event: watched for 2 s, at least must_wait of its
        # requests stay queued (without the bound all 500 are read into memory at once).
        least, end = STALL_REQUESTS, time.monotonic() + 2
        while time.monotonic() < end:
            least = min(least, peer()["their_requests"])
            time.sleep(0.05)
        t.diag("%s: at least %d of its requests stayed queued" % (label, least))
        t.ok(least >= must_wait, "%s: btd holds back once %d KiB wait for its socket (at least "
             "%d of %d requests still queued)" % (label, MAX_UNSENT // 1024, must_wait,
                                                  STALL_REQUESTS), least)
        os.kill(fake.proc.pid, signal.SIGUSR1)
        line = fake.wait_line("got 1 blocks ", 60)
        t.eq(line.split()[3:], [str(STALL_REQUESTS), "correct", str(STALL_REQUESTS)],
             "%s: once it reads, every block comes, with the right bytes" % label)
        t.eq(btd.status(tid)["state"], "seeding", "%s: btd still seeding" % label)
    finally:
        try:
            if fake:
                fake.stop()
            if btd:
                t.eq(btd.stop(), 0, "%s: btd exits 0" % label)
        finally:
            why = unmount(seed_dir) if tmpfs else None
            if why:
                t.diag("%s: %s" % (label, why))


def main():
    t = btdtest.Tap()
    t.run(test_btd_seeds_to_real_leechers)
    t.run(test_existing_data_is_checked)
    t.run(test_btd_seeds_to_aria2)
    t.run(test_fast_extension_leecher)
    t.run(stalled_reader, "stalled reader", False)
    t.run(stalled_reader, "stalled reader, tmpfs (workers read)", True)
    for scenario in HOSTILE:
        t.run(hostile_leecher, scenario)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
