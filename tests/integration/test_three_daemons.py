#!/usr/bin/python3
"""Three btd daemons, one opentracker: data passes from btd to btd to btd.

A checks the original data and seeds; B finds A through opentracker (no
peer hints) and downloads; A is paused (it announces `stopped`, so the
tracker forgets it); C then finds only B through the tracker and downloads
everything from B. btctl makes the torrent and reads C's status.

All daemons listen on 0.0.0.0 with a free port and dial from 127.0.0.1:
btd neither binds its outgoing connections to listen_address nor sends an
`ip` parameter, so the tracker only ever sees 127.0.0.1 and distinct
listen_address values would hand out unreachable addresses.
"""

import json
import os
import sys
import time

import btdtest
from swarm import (Btd, Opentracker, create_torrent, free_port, make_payload, scrape,
                   sha256_file, wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
NAME = "three.bin"
SIZE = 6 * 1024 * 1024 + 4321  # a short last piece
PIECE = 65536


def wait_scrape(port, ih, want, what):
    return wait_until(lambda: scrape(port, ih) == want, 20, "tracker counts %s (%s)" % (want, what))


def first_announce(btd, tid):
    return wait_until(lambda: btd.status(tid)["trackers"][0]["last_announce"], 30,
                      "a first announce")


def test_three_daemons(t):
    seed_dir = btdtest.tempdir("seed-")
    sums = make_payload(seed_dir, {NAME: SIZE})
    port = free_port()
    http, _ = Opentracker.urls(port)
    torrent = os.path.join(btdtest.tempdir("torrent-"), "three.torrent")
    ih = create_torrent(BTCTL, os.path.join(seed_dir, NAME), torrent, [http], PIECE)
    t.eq(len(ih), 40, "btctl create prints the info-hash")

    tracker = Opentracker([ih], port)
    daemons = {}
    try:
        t.eq(scrape(port, ih), (0, 0), "the tracker starts with an empty swarm")

        # A: the original data, checked in place, then seeding.
        a = daemons["A"] = Btd(BTD)
        a_id = a.add(torrent, dir=seed_dir)["id"]
        st = a.wait_done(a_id, timeout=30)
        t.eq(st["downloaded_bytes"], 0, "A: seeding without downloading a byte")
        t.eq(st["verified_bytes"], SIZE, "A: every byte of the original data verified")
        first_announce(a, a_id)
        t.eq(a.status(a_id)["trackers"][0]["last_error"], None, "A: the announce succeeded")
        wait_scrape(port, ih, (1, 0), "A seeding")
        a_port = a.call("session.get")["listen_port"]

        # B: finds A through the tracker alone.
        b = daemons["B"] = Btd(BTD)
        b_id = b.add(torrent)["id"]
        st = b.wait_done(b_id, timeout=60)
        t.eq(sha256_file(os.path.join(b.downloads, NAME)), sums[NAME],
             "B: downloaded through the tracker, original sha256")
        t.ok(st["downloaded_bytes"] >= SIZE, "B: downloaded at least the payload",
             st["downloaded_bytes"])
        t.eq(st["hash_failures"], 0, "B: no piece failed its hash")
        t.ok(a.status(a_id)["uploaded_bytes"] >= SIZE, "A: uploaded the payload to B",
             a.status(a_id))
        wait_scrape(port, ih, (2, 0), "B announced completed")
        b_port = b.call("session.get")["listen_port"]

        # A paused: connections closed, `stopped` announced, the tracker forgets it.
        st = a.call("torrent.pause", id=str(a_id))
        t.eq((st["state"], st["peers"]), ("paused", 0), "A: paused, no connections")
        wait_scrape(port, ih, (1, 0), "A's stopped")
        a_up = a.status(a_id)["uploaded_bytes"]
        b_up = b.status(b_id)["uploaded_bytes"]

        # C: the tracker knows only B (and C itself), so every byte comes from B.
        c = daemons["C"] = Btd(BTD)
        c_port = c.call("session.get")["listen_port"]
        c_id = c.add(torrent)["id"]
        seen = set()

        def c_done():
            for p in c.call("torrent.peers", id=str(c_id)):
                seen.add(p["address"])
            st = c.status(c_id)
            if st["state"] == "error":
                raise RuntimeError("C: torrent error: %s" % st["error"])
            return st if st["state"] == "seeding" else None

        st = wait_until(c_done, 60, "C to complete")
        t.eq(sha256_file(os.path.join(c.downloads, NAME)), sums[NAME],
             "C: downloaded with A paused, original sha256")
        t.ok(st["downloaded_bytes"] >= SIZE, "C: downloaded at least the payload",
             st["downloaded_bytes"])
        b_st = b.status(b_id)
        t.ok(b_st["uploaded_bytes"] - b_up >= SIZE, "B: uploaded the whole payload to C",
             (b_up, b_st["uploaded_bytes"]))
        a_st = a.status(a_id)
        t.eq(a_st["uploaded_bytes"], a_up, "A: uploaded nothing while paused")
        t.eq((a_st["state"], a_st["peers"]), ("paused", 0), "A: still paused, no connections")
        # C's own address can appear for a moment: the tracker lists C to itself.
        t.diag("C saw peers %s; A, B, C listen on %d, %d, %d" % (sorted(seen), a_port, b_port, c_port))
        others = seen - {"127.0.0.1:%d" % c_port}
        t.ok(others <= {"127.0.0.1:%d" % b_port} and "127.0.0.1:%d" % a_port not in others,
             "C: its only peer was B", (sorted(seen), a_port, b_port, c_port))
        t.eq(st["trackers"][0]["last_error"], None, "C: the tracker answered")

        # btctl reads C's status, in JSON and as text.
        res = btdtest.run([BTCTL, "--socket", c.socket, "--json", "status", str(c_id)], timeout=10)
        t.ok(res.returncode == 0, "btctl --json status exits 0", res.stderr)
        doc = json.loads(res.stdout) if res.returncode == 0 else {}
        if isinstance(doc, list):
            doc = doc[0] if doc else {}
        t.eq((doc.get("info_hash"), doc.get("state"), doc.get("verified_bytes")),
             (ih, "seeding", SIZE), "btctl --json status: C seeds the whole torrent")
        res = btdtest.run([BTCTL, "--socket", c.socket, "status", ih[:8]], timeout=10)
        t.ok(res.returncode == 0 and "seeding" in res.stdout and ih in res.stdout,
             "btctl status by info-hash prefix shows C seeding", res.stdout + res.stderr)
        wait_scrape(port, ih, (2, 0), "C announced completed")
    finally:
        for name in ("C", "B", "A"):
            if name in daemons:
                t.eq(daemons[name].stop(), 0, "%s: btd exits 0 on SIGTERM" % name)
        tracker.stop()


def main():
    t = btdtest.Tap()
    start = time.monotonic()
    t.run(test_three_daemons)
    t.diag("took %.1f s" % (time.monotonic() - start))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
