#!/usr/bin/python3
"""btd downloads from real peers found through a real tracker.

opentracker (HTTP and UDP) on 127.0.0.1, python3-libtorrent and aria2c
seeders on their own loopback addresses, btd driven over its JSON-RPC
socket. Each scenario checks every file's sha256 against the original.
"""

import os
import socket
import sys
import time

import btdtest
from swarm import (Aria2Seeder, Btd, FakePeer, LtPeer, Opentracker, RpcError, free_port,
                   on_tmpfs, payload_torrent, resident_pages, sha256_file, wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")

SINGLE = {"single.bin": 3 * 1024 * 1024 + 12345}
MULTI = {
    "multi/a.bin": 700 * 1024 + 3,
    "multi/deep/er/b.bin": 1024 * 1024 + 17,
    "multi/deep/c.txt": 5000,
    "multi/empty": 0,
    "multi/z.bin": 2 * 1024 * 1024 - 1,
}


def check_files(t, btd, sums, label):
    for rel, want in sorted(sums.items()):
        path = os.path.join(btd.downloads, rel)
        got = sha256_file(path) if os.path.exists(path) else None
        t.eq(got, want, "%s: %s has the original sha256" % (label, rel))


def download(t, label, files, root_name, trackers, seeders, direct=False, before_check=None,
             settings=None):
    """Creates the payload and torrent, starts seeders and btd, downloads, checks.

    settings: a session.set first; before_check(btd): called once complete, before
    the files are read back.
    """
    port = free_port()
    http, udp = Opentracker.urls(port)
    tracker_urls = trackers(http, udp) if trackers else []
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, files, root_name, tracker_urls,
                                                  piece_length=32768)
    tracker = Opentracker([ih], port) if trackers else None
    peers = [start(torrent, seed_dir, "127.0.0.%d" % (i + 2)) for i, start in enumerate(seeders)]
    btd = Btd(BTD)
    try:
        if settings:
            btd.call("session.set", **settings)
        res = btd.add(torrent, peers=[p.addr for p in peers] if direct else [])
        t.eq(res["info_hash"], ih, "%s: torrent.add returns the info-hash" % label)
        st = btd.wait_done(res["id"], timeout=150)
        t.eq(st["verified_bytes"], sum(files.values()), "%s: every byte verified" % label)
        t.eq(st["hash_failures"], 0, "%s: no piece failed its hash" % label)
        if before_check:
            before_check(btd)
        check_files(t, btd, sums, label)
        return btd, st
    finally:
        for p in peers:
            p.stop()
        t.eq(btd.stop(), 0, "%s: btd exits 0 on SIGTERM" % label)
        if tracker:
            tracker.stop()


def lt_seeder(torrent, seed_dir, ip):
    return LtPeer(torrent, seed_dir, ip, seed=True)


def aria2_seeder(torrent, seed_dir, ip):
    return Aria2Seeder(torrent, seed_dir, ip)


def page_cache_share(t, label, btd, settings):
    """The share of the downloaded single.bin in the page cache; session.get shows settings."""
    session = btd.call("session.get")
    for key, want in settings.items():
        t.eq(session[key], want, "%s: session.get shows %s" % (label, key))
    cached, pages = resident_pages(os.path.join(btd.downloads, "single.bin"))
    return cached / pages


def test_single_file_over_http_tracker(t):
    """Also: direct_writes (the default) kept the pieces, all but the file's last partial page,
    out of the page cache."""
    share, tmpfs = [], []
    download(t, "http single", SINGLE, "single.bin", lambda http, udp: [http],
             [lt_seeder, lt_seeder], before_check=lambda btd: (
                 tmpfs.append(on_tmpfs(btd.downloads)),
                 share.append(page_cache_share(t, "http single", btd, {"direct_writes": True}))))
    if tmpfs and tmpfs[0]:
        t.diag("skipped the page-cache check: the downloads are on tmpfs")
    else:
        t.ok(share and share[0] < 0.1, "http single: under 10 % of the file in the page cache",
             share)


def test_pieces_written_through_the_page_cache(t):
    """direct_writes false (set while btd runs): every piece goes through the page cache."""
    share = []
    settings = {"direct_writes": False}
    download(t, "cached writes", SINGLE, "single.bin", lambda http, udp: [http], [lt_seeder],
             settings=settings, before_check=lambda btd: share.append(page_cache_share(
                 t, "cached writes", btd, settings)))
    t.ok(share and share[0] > 0.9, "cached writes: over 90 % of the file in the page cache",
         share)


def test_multi_file_over_udp_tracker(t):
    _, st = download(t, "udp multi", MULTI, "multi", lambda http, udp: [udp],
                     [lt_seeder, lt_seeder])
    t.ok(all(tk["last_error"] is None for tk in st["trackers"]),
         "udp multi: the tracker reports no error", st["trackers"])


def test_aria2_seeder(t):
    download(t, "aria2 seeder", SINGLE, "single.bin", lambda http, udp: [http], [aria2_seeder])


def test_dead_first_tier_falls_through(t):
    dead = "udp://127.0.0.1:%d/announce" % 9  # discard port: nothing answers
    dead_http = "http://127.0.0.1:%d/announce" % 9
    _, st = download(t, "dead tier", SINGLE, "single.bin",
                     lambda http, udp: [dead + "," + dead_http, http], [lt_seeder])
    urls = {tk["url"]: tk for tk in st["trackers"]}
    t.ok(urls[dead_http]["last_error"] is not None,
         "dead tier: the dead HTTP tracker shows its error", urls)


def test_direct_peers_without_tracker(t):
    download(t, "direct", SINGLE, "single.bin", None, [lt_seeder], direct=True)


def lagging_download(t, label, reqq=0, reqq_late=0):
    """btd downloads from fake_peer.py's lagging seeder alone; the seeder's lines and btd's
    log."""
    fakes = []

    def lagging_seeder(torrent, seed_dir, ip):
        fakes.append(FakePeer(torrent, ip, "lagging", data=os.path.join(seed_dir, "lag.bin"),
                              reqq=reqq, reqq_late=reqq_late))
        return fakes[-1]
    btd, _ = download(t, label, {"lag.bin": 6 * 1024 * 1024 + 5}, "lag.bin", None,
                      [lagging_seeder], direct=True)
    return fakes[0].lines(), btd.log_text()


def numbers(lines, what):
    """The numbers after the connection number of each line starting with what."""
    return [tuple(int(x) for x in ln.split()[2:]) for ln in lines if ln.startswith(what + " ")]


def test_pipeline_opens_each_round_trip(t):
    """A seeder 50 ms away (fake_peer.py lagging: on loopback a real one answers at once, so
    no round trip could be told apart): btd starts with 4 requests to it and opens one more
    for each block that comes while all are out, so 64 are out together within a few round
    trips (4 + 8 + 16 + 32 blocks). Before, the depth stayed 4 until the once-a-second tick
    had measured a rate, and it held 4 until more than 128 blocks had come. A seeder that
    says reqq 40 (BEP 10: it drops requests beyond that) never gets more than 40 at once;
    one that says reqq 20 only after 100 requests came (and drops what it holds beyond 20)
    gets cancels for the requests over 20 at once, not 30 s later when they time out, and
    then never more than 20 at once."""
    held = numbers(lagging_download(t, "lagging")[0], "held")
    early = max((most for most, answered in held if answered < 128), default=0)
    t.ok(early >= 64, "lagging: 64 requests out at once before 128 blocks were answered",
         held[:16])
    held = numbers(lagging_download(t, "lagging reqq 40", reqq=40)[0], "held")
    t.eq(max((most for most, _ in held), default=0), 40,
         "lagging reqq 40: at most 40 requests out, and 40")
    lines, log = lagging_download(t, "lagging late reqq 20", reqq_late=20)
    cancels, after = numbers(lines, "cancelled"), numbers(lines, "held-after-cancel")
    timeouts = [ln for ln in log.splitlines() if "request timed out" in ln]
    t.ok(len(cancels) > 0 and not timeouts,
         "lagging late reqq 20: btd cancels the requests over 20 it had sent, none times out",
         (numbers(lines, "dropped"), len(cancels), timeouts))
    t.ok(after and max(most for most, in after) <= 20,
         "lagging late reqq 20: then at most 20 requests out", after)


def test_jobs_pause_resume_remove(t):
    """A slow seeder, so the queues can be seen mid-download."""
    files = {"slow.bin": 2 * 1024 * 1024}
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, files, "slow.bin", piece_length=16384)
    seeder = LtPeer(torrent, seed_dir, "127.0.0.2", upload_limit=400 * 1024)
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        try:
            btd.add(torrent)
            t.ok(False, "adding the same torrent twice is refused")
        except RpcError as e:
            t.ok(e.code == -32002 and "already" in e.message,
                 "adding the same torrent twice is refused", e.message)
        jobs = wait_until(lambda: (lambda j: j if j["pending"] and j["have"] > 0 else None)(
            btd.call("torrent.jobs", id=str(tid))), 30, "a download in progress")
        t.ok(jobs["unclaimed"] + len(jobs["pending"]) + jobs["have"] == jobs["pieces"],
             "jobs: unclaimed + pending + have = pieces", jobs)
        t.ok(all(p["peer"] in (seeder.addr, None) for p in jobs["pending"]),
             "jobs: pending pieces name their peer", jobs["pending"])
        st = btd.call("torrent.pause", id=str(tid))
        t.eq(st["state"], "paused", "pause: state paused")
        t.eq(st["peers"], 0, "pause: connections closed")
        before = btd.status(tid)["verified_bytes"]
        paused_jobs = btd.call("torrent.jobs", id=str(tid))
        t.eq(paused_jobs["unemployed"], [], "pause: no unemployed peers")
        t.eq(btd.status(tid)["verified_bytes"] >= before, True, "pause: progress kept")
        t.eq(btd.call("torrent.resume", id=str(tid))["state"], "downloading", "resume")
        btd.wait_done(tid, timeout=60)
        check_files(t, btd, sums, "after pause and resume")
        btd.call("torrent.remove", id=str(tid))
        t.eq(btd.call("torrent.list"), [], "remove: the torrent is gone")
        t.ok(os.path.exists(os.path.join(btd.downloads, "slow.bin")),
             "remove: data kept without delete_data")
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        btd.call("torrent.remove", id=str(tid), delete_data=True)
        wait_until(lambda: not os.path.exists(os.path.join(btd.downloads, "slow.bin")), 10,
                   "the data to be deleted")
        t.ok(True, "remove with delete_data deletes the file")
    finally:
        seeder.stop()
        t.eq(btd.stop(), 0, "pause/resume: btd exits 0")


def test_more_peers_than_piece_buffers(t):
    """Six seeders held to 3 MiB/s each, 4 MiB pieces, piece_memory 8 MiB: two piece buffers
    (512 blocks) for six peers. Before, a peer only asked for blocks of its own piece, so two
    peers sent while four stood idle (a third of the swarm's speed); and with pieces shared, a
    second of each peer's blocks (192) let the first three take every block. Now peers help
    with each other's pieces, and each asks for at most its share, 512 / (2 x 6) = 42 blocks,
    so at least four send at once while there are still only two buffers."""
    files = {"wide.bin": 96 * 1024 * 1024 + 777}
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, files, "wide.bin",
                                                 piece_length=4 * 1024 * 1024)
    seeders = [LtPeer(torrent, seed_dir, "127.0.0.%d" % (i + 2), upload_limit=3 * 1024 * 1024)
               for i in range(6)]
    btd = Btd(BTD)
    try:
        tid = str(btd.add(torrent, peers=[sd.addr for sd in seeders])["id"])

        def sending():
            return [p for p in btd.call("torrent.peers", id=tid)
                    if p["state"] == "active" and not p["choking_us"]]
        # A libtorrent that has just started drops the first connections now and then
        # (before its accept): btd dials again a few seconds later.
        wait_until(lambda: len(sending()) == 6, 60, "all six seeders to unchoke btd")
        start, polls = time.monotonic(), []
        while True:
            jobs, peers = btd.call("torrent.jobs", id=tid), sending()
            if jobs["unclaimed"] == 0 or time.monotonic() - start > 120:
                break
            if time.monotonic() - start >= 2:  # a tick has set the share, the excess is in
                polls.append((len(jobs["pending"]), max(p["requests"] for p in peers),
                              sum(1 for p in peers if p["requests"] > 0)))
            time.sleep(0.05)
        t.ok(len(polls) >= 5, "wide swarm: polled while pieces were still unclaimed", len(polls))
        t.ok(all(pending <= 2 for pending, _, _ in polls),
             "wide swarm: never more than the two piece buffers piece_memory allows", polls)
        # 42; 51 after a tick that found one of the six choking btd
        t.ok(polls and max(most for _, most, _ in polls) <= 51,
             "wide swarm: no peer holds more than its share of the requests", polls)
        t.ok(polls and max(n for _, _, n in polls) >= 4,
             "wide swarm: four or more peers have requests out at once", polls)
        st = btd.wait_done(tid, timeout=150)
        t.eq(st["hash_failures"], 0, "wide swarm: no piece failed its hash")
        check_files(t, btd, sums, "wide swarm")
    finally:
        for sd in seeders:
            sd.stop()
        t.eq(btd.stop(), 0, "wide swarm: btd exits 0")


def test_incoming_seeder_and_unknown_hash(t):
    """A seeder that dials btd is served; a handshake for another torrent is refused."""
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, SINGLE, "single.bin", piece_length=32768)
    btd = Btd(BTD)
    seeder = None
    try:
        port = btd.call("session.get")["listen_port"]
        t.ok(port > 0, "session.get shows the real peer port", port)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"\x13BitTorrent protocol" + bytes(8) + os.urandom(20) + os.urandom(20))
            t.eq(s.recv(100), b"", "a handshake for an unknown torrent is refused")
        tid = btd.add(torrent)["id"]
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2", peers=["127.0.0.1:%d" % port])
        btd.wait_done(tid, timeout=60)
        check_files(t, btd, sums, "incoming")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "incoming: btd exits 0")


def test_starving_torrent_announces_again(t):
    """With nobody to talk to, btd asks again as early as the tracker allows.

    opentracker gives an interval of about 30 minutes and a min interval of
    half that: within a minute of finding no peer, btd's next announce
    moves from the interval to the min interval.
    """
    port = free_port()
    http, _ = Opentracker.urls(port)
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, SINGLE, "single.bin", [http],
                                                  piece_length=32768)
    tracker = Opentracker([ih], port)
    btd = Btd(BTD)
    seeder = None
    try:
        tid = btd.add(torrent)["id"]
        first = wait_until(lambda: btd.status(tid)["trackers"][0]["last_announce"], 30,
                           "btd's first announce")
        interval = btd.status(tid)["trackers"][0]["next_announce"] - first
        t.ok(interval > 1200, "starving: the tracker's interval is long", interval)
        sooner = wait_until(
            lambda: (lambda n: n if n - first < interval - 300 else None)(
                btd.status(tid)["trackers"][0]["next_announce"]), 90, "an earlier announce")
        # opentracker's min interval is half its (randomised) interval.
        t.ok(sooner - first >= interval // 2 - 5,
             "starving: the tracker's min interval is respected", (sooner - first, interval))
        # The tracker listed btd itself: it dialled itself once and knows it.
        wait_until(lambda: "connected to ourselves" in btd.log_text(), 30, "the self-dial")
        port = btd.call("session.get")["listen_port"]
        seeder = LtPeer(torrent, seed_dir, "127.0.0.1", peers=["127.0.0.1:%d" % port],
                        wait_announce=False)
        btd.wait_done(tid, timeout=60)
        check_files(t, btd, sums, "a peer on btd's own address after the self-dial")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "starving: btd exits 0")
        tracker.stop()


def main():
    t = btdtest.Tap()
    for fn in (test_single_file_over_http_tracker, test_pieces_written_through_the_page_cache,
               test_multi_file_over_udp_tracker,
               test_aria2_seeder, test_dead_first_tier_falls_through,
               test_direct_peers_without_tracker, test_pipeline_opens_each_round_trip,
               test_jobs_pause_resume_remove, test_more_peers_than_piece_buffers,
               test_incoming_seeder_and_unknown_hash, test_starving_torrent_announces_again):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
