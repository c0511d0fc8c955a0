#!/usr/bin/python3
"""Rate limits: global and per-torrent, download and upload, set at run time.

Real python3-libtorrent peers on loopback send or take as fast as they can;
btd's byte counters, read over a 10 s window after a warm-up, must stay
within 10 % of the limit in force, and reach at least half of it (unlimited,
the same peers send well over a hundred times as much: the limit is what
holds the rate; a loaded machine may still slow the peers, hence the
generous lower bound). Limits are changed while
data flows, with `btctl set` and over JSON-RPC, and take effect at once.
"""

import os
import sys
import time

import btdtest
from swarm import Btd, LtPeer, RpcError, payload_torrent, sha256_file, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
MIB = 1024 * 1024
FILES = {"limits.bin": 48 * MIB}
WARMUP_S = 3
WINDOW_S = 10


def btctl(btd, *args):
    return btdtest.run([BTCTL, "--socket", btd.socket] + list(args), timeout=20)


def measure(read_counter):
    """Bytes/s of a counter over WINDOW_S, after WARMUP_S for the new limit to settle.

    The window is timed by the clock, not slept through blindly: it is the
    measurement itself.
    """
    time.sleep(WARMUP_S)
    c0, t0 = read_counter(), time.monotonic()
    time.sleep(WINDOW_S)
    c1, t1 = read_counter(), time.monotonic()
    return (c1 - c0) / (t1 - t0)


def check_rate(t, rate, limit, what, btd=None, tid=None):
    t.ok(rate <= limit * 1.10, "%s: at most the limit + 10 %%" % what,
         "%.0f B/s against %d" % (rate, limit))
    low = rate < limit * 0.50
    t.ok(not low, "%s: the limit is what holds it (>= 50 %%)" % what,
         "%.0f B/s against %d" % (rate, limit))
    if low and btd:  # what btd was doing, for whoever reads the failure
        t.diag("peers: %s" % btd.call("torrent.peers", id=str(tid)))
        t.diag("jobs: %s" % btd.call("torrent.jobs", id=str(tid)))
        t.diag("log tail:\n" + "\n".join(btd.log_text().splitlines()[-40:]))


def test_limits(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "limits.bin", piece_length=65536)
    btd = Btd(BTD)
    seeders, leecher = [], None
    try:
        r = btctl(btd, "set", "download_limit", "2M")
        t.eq(r.returncode, 0, "btctl set download_limit 2M is accepted")
        t.eq(btd.call("session.get")["download_limit"], 2 * MIB, "session.get shows the new limit")
        seeders = [LtPeer(torrent, seed_dir, ip) for ip in ("127.0.0.2", "127.0.0.3")]
        tid = btd.add(torrent, peers=[s.addr for s in seeders])["id"]

        def downloaded():
            return btd.status(tid)["downloaded_bytes"]

        check_rate(t, measure(downloaded), 2 * MIB, "global download limit (2 MiB/s)", btd, tid)

        r = btctl(btd, "set", "--torrent", str(tid), "download_limit", "512K")
        t.eq(r.returncode, 0, "btctl set --torrent ID download_limit 512K is accepted")
        t.eq(btd.status(tid)["download_limit"], 512 * 1024, "torrent.get shows its own limit")
        check_rate(t, measure(downloaded), 512 * 1024,
                   "per-torrent download limit under a larger global one (512 KiB/s)", btd, tid)

        btd.call("torrent.set", id=str(tid), download_limit=0)
        btd.call("session.set", download_limit=0)
        btd.wait_done(tid, timeout=120)
        path = os.path.join(btd.downloads, "limits.bin")
        t.eq(sha256_file(path), sums["limits.bin"], "limits lifted: the download completes intact")
        for s in seeders:
            s.stop()
        seeders = []

        btd.call("session.set", upload_limit=MIB)
        port = btd.call("session.get")["listen_port"]
        out = btdtest.tempdir("leech-")
        leecher = LtPeer(torrent, out, "127.0.0.4", seed=False, peers=["127.0.0.1:%d" % port],
                         wait_announce=False)

        def uploaded():
            return btd.status(tid)["uploaded_bytes"]

        wait_until(lambda: uploaded() > 0, 30, "btd to start uploading")
        check_rate(t, measure(uploaded), MIB, "global upload limit (1 MiB/s)")
        btd.call("torrent.set", id=str(tid), upload_limit=256 * 1024)
        check_rate(t, measure(uploaded), 256 * 1024, "per-torrent upload limit (256 KiB/s)")

        def queued():
            return max([p["their_requests"] for p in btd.call("torrent.peers", id=str(tid))] or
                       [0])
        waiting = wait_until(lambda: queued() or None, 10, "requests held back by the limit")
        t.ok(waiting > 0, "torrent.peers: the leecher's requests wait behind the upload limit",
             waiting)
        r = btctl(btd, "peers", str(tid))
        t.ok("THEIRS" in r.stdout and "127.0.0.4" in r.stdout,
             "btctl peers shows the THEIRS column", r.stdout)
        r = btctl(btd, "session")
        t.ok("1.00 MiB/s" in r.stdout, "btctl session shows the upload limit", r.stdout)
    finally:
        if leecher:
            leecher.stop()
        for s in seeders:
            s.stop()
        t.eq(btd.stop(), 0, "limits: btd exits 0")


def test_bad_settings(t):
    btd = Btd(BTD)
    try:
        for args, want in ((["set", "bogus", "1"], "unknown key"),
                           (["set", "upload_limit", "fast"], "not a size"),
                           (["set", "log_level", "loud"], "must be one of"),
                           (["set", "port", "7000"], "cannot change while btd runs"),
                           (["set", "direct_writes", "yes"], "must be true or false")):
            r = btctl(btd, *args)
            t.ok(r.returncode != 0 and want in r.stderr,
                 "btctl %s: refused with \"%s\"" % (" ".join(args), want), r.stderr)
        try:
            btd.call("session.set", upload_limit=-1)
            t.ok(False, "session.set refuses a negative limit")
        except RpcError as e:
            t.ok(e.code == -32602 and "upload_limit" in e.message,
                 "session.set refuses a negative limit", str(e))
        t.eq(btd.call("session.get")["upload_limit"], 0, "refused settings change nothing")
        t.eq(btd.call("session.get")["direct_writes"], True, "direct_writes is on by default")
        r = btctl(btd, "set", "direct_writes", "false")
        t.ok(r.returncode == 0, "btctl set direct_writes false is accepted", r.stderr)
        t.eq(btd.call("session.get")["direct_writes"], False, "session.get shows it off")
        r = btctl(btd, "session")
        t.ok("Disk writes:" in r.stdout and "through the page cache" in r.stdout,
             "btctl session says writes go through the page cache", r.stdout)
    finally:
        t.eq(btd.stop(), 0, "bad settings: btd exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_limits)
    t.run(test_bad_settings)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
