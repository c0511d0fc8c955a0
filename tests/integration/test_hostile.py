#!/usr/bin/python3
"""btd downloads next to hostile peers and still gets the right bytes.

Each scenario puts a real python3-libtorrent seeder next to fake peers
(fake_peer.py: wrong piece data, a 4 GiB length prefix, garbage instead of
a handshake, silence, a flood of `have`), gives btd all their addresses and
ends with the same checks: the file's sha256 is the original's, btd still
answers, the hostile connections are gone, memory and descriptors stayed
bounded, nothing was written outside the download directory, and btd's
log (it may run under ASan/UBSan) holds no sanitizer report.
"""

import os
import sys

import btdtest
from swarm import (Btd, LtPeer, _LineProcess, create_torrent, make_payload, sha256_file,
                   wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
HERE = os.path.dirname(os.path.abspath(__file__))

PIECE = 32768
SIZE = 4 * 1024 * 1024 + 12345  # 129 pieces, the last one short
NAME = "hostile.bin"
RSS_BOUND_KB = 200 * 1024  # generous: btd may run under ASan
FD_SLACK = 8
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class FakePeer(_LineProcess):
    """fake_peer.py playing one scenario on its own loopback address."""

    def __init__(self, torrent, ip, scenario, data=None, corrupt_every=0):
        cmd = ["/usr/bin/python3", os.path.join(HERE, "fake_peer.py"), "--torrent", torrent,
               "--ip", ip, "--scenario", scenario]
        if data:
            cmd += ["--data", data]
        if corrupt_every:
            cmd += ["--corrupt-every", str(corrupt_every)]
        super().__init__(cmd, "fake-" + scenario)
        self.scenario = scenario
        self.ip = ip
        self.port = int(self.wait_line("listening ", 20).split()[1])
        self.addr = "%s:%d" % (ip, self.port)


def setup_payload():
    seed_dir = btdtest.tempdir("seed-")
    sums = make_payload(seed_dir, {NAME: SIZE})
    torrent = os.path.join(btdtest.tempdir("torrent-"), "t.torrent")
    create_torrent(BTCTL, os.path.join(seed_dir, NAME), torrent, piece_length=PIECE)
    return seed_dir, sums[NAME], torrent


def proc_status(pid, key):
    """A field of /proc/PID/status in kB (VmRSS), or None."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def peer_addresses(btd, tid):
    return {p["address"] for p in btd.call("torrent.peers", id=str(tid))}


def check_sanitizers(t, btd, label):
    text = btd.log_text()
    marks = [m for m in SANITIZER_MARKS if m in text]
    t.ok(not marks, "%s: no sanitizer report in btd's log" % label,
         "\n".join(ln for ln in text.splitlines() if any(m in ln for m in SANITIZER_MARKS))[:4000])


def check_only_download(t, btd, label):
    found = []
    for root, _, files in os.walk(btd.downloads):
        found += [os.path.relpath(os.path.join(root, f), btd.downloads) for f in files]
    t.eq(sorted(found), [NAME], "%s: only the torrent's file in the download directory" % label)


def download_watching(btd, tid, timeout):
    """Waits for seeding; returns (final status, every verified_bytes value seen)."""
    seen = []

    def done():
        st = btd.status(tid)
        seen.append(st["verified_bytes"])
        if st["state"] == "error":
            raise RuntimeError("torrent error: %s" % st["error"])
        return st if st["state"] == "seeding" else None
    return wait_until(done, timeout, "the download to complete"), seen


def test_corrupt_seeder(t):
    """A seeder sending random bytes for every 5th piece, next to an honest one."""
    label = "corrupt"
    seed_dir, sha, torrent = setup_payload()
    # The honest seeder is throttled so that the fake really serves pieces.
    honest = LtPeer(torrent, seed_dir, "127.0.0.2", upload_limit=512 * 1024)
    fake = FakePeer(torrent, "127.0.0.3", "corrupt", data=os.path.join(seed_dir, NAME),
                    corrupt_every=5)
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, peers=[fake.addr, honest.addr])["id"]
        st, seen = download_watching(btd, tid, 120)
        t.eq(sha256_file(os.path.join(btd.downloads, NAME)), sha,
             "%s: the downloaded file has the original sha256" % label)
        t.eq(st["verified_bytes"], SIZE, "%s: verified_bytes is the size at the end" % label)
        odd = [v for v in seen if v % PIECE != 0 and v != SIZE]
        t.ok(not odd, "%s: verified_bytes was always whole pieces (%d samples)" % (label, len(seen)),
             odd[:10])
        t.ok(all(a <= b for a, b in zip(seen, seen[1:])),
             "%s: verified_bytes never went down" % label, seen)
        t.ok(all(v <= SIZE for v in seen), "%s: verified_bytes never exceeded the size" % label)
        sent_bad = [ln for ln in fake.lines() if ln.startswith("piece ") and
                    ln.endswith(" corrupt")]
        t.diag("%s: the fake answered %d corrupted pieces in full, btd counted %d hash failures"
               % (label, len(sent_bad), st["hash_failures"]))
        t.ok(sent_bad, "%s: the fake really sent corrupted pieces" % label, fake.lines()[-20:])
        t.ok(st["hash_failures"] >= 1, "%s: hash_failures >= 1" % label, st)
        t.eq(st["wasted_bytes"], st["hash_failures"] * PIECE,
             "%s: wasted_bytes is one piece per hash failure" % label)
        banned = [ln for ln in btd.log_text().splitlines() if "banned" in ln]
        t.ok(any("peer=%s " % fake.addr in ln for ln in banned),
             "%s: btd's log bans the fake (%s)" % (label, fake.addr), banned)
        t.ok(not any("peer=%s " % honest.addr in ln and "banned:" in ln for ln in banned),
             "%s: the honest seeder is not banned" % label, banned)
        wait_until(lambda: fake.addr not in peer_addresses(btd, tid), 10,
                   "the banned fake to leave torrent.peers")
        t.ok(True, "%s: the fake is gone from torrent.peers" % label)
        t.ok(any(ln.startswith("closed by peer") for ln in fake.lines()),
             "%s: the fake saw btd close its connection" % label, fake.lines()[-10:])
        reconnects = [ln for ln in fake.lines() if ln.startswith("connection ")]
        banned_at = next((i for i, ln in enumerate(btd.log_text().splitlines())
                          if "peer=%s banned" % fake.addr in ln), None)
        t.diag("%s: btd connected to the fake %d time(s); ban at log line %s"
               % (label, len(reconnects), banned_at))
        t.ok(btd.call("session.get")["torrents"] == 1, "%s: btd still answers" % label)
        check_only_download(t, btd, label)
    finally:
        fake.stop()
        honest.stop()
        t.eq(btd.stop(), 0, "%s: btd exits 0 on SIGTERM" % label)
        check_sanitizers(t, btd, label)


HOSTILE = [("huge-length", "127.0.0.4"), ("garbage", "127.0.0.5"), ("silent", "127.0.0.6"),
           ("flood-haves", "127.0.0.7")]


def test_hostile_peers(t):
    """Peers that break the protocol in four ways, next to an honest seeder."""
    label = "hostile"
    seed_dir, sha, torrent = setup_payload()
    honest = LtPeer(torrent, seed_dir, "127.0.0.2", upload_limit=1024 * 1024)
    fakes = [FakePeer(torrent, ip, scenario) for scenario, ip in HOSTILE]
    btd = Btd(BTD)
    pid = btd.proc.pid
    try:
        fds_before = fd_count(pid)
        tid = btd.add(torrent, peers=[f.addr for f in fakes] + [honest.addr])["id"]
        for f in fakes:
            f.wait_line("connection ", 20)
        t.ok(True, "%s: btd dialed every fake peer" % label)
        huge = fakes[0]
        huge.wait_line("sent 1 prefix", 20)
        # Closed on the prefix, not after a handshake (20 s) or idle (180 s) time-out.
        huge.wait_line("closed by peer 1", 10)
        t.ok(True, "%s: btd closed the 4 GiB prefix connection at once" % label)
        fakes[1].wait_line("closed by peer 1", 20)
        t.ok(True, "%s: btd closed the garbage connection" % label)
        fakes[3].wait_line("sent 1 haves out-of-range", 20)
        fakes[3].wait_line("closed by peer 1", 20)
        t.ok(True, "%s: btd closed the out-of-range `have` connection" % label)
        st = btd.wait_done(tid, timeout=120)
        t.eq(sha256_file(os.path.join(btd.downloads, NAME)), sha,
             "%s: the downloaded file has the original sha256" % label)
        t.eq(st["verified_bytes"], SIZE, "%s: every byte verified" % label)
        t.eq(st["hash_failures"], 0, "%s: no piece failed its hash" % label)
        t.ok(btd.alive(), "%s: btd is alive" % label)
        t.eq(btd.call("session.get")["torrents"], 1, "%s: btd answers session.get" % label)
        hostile = {f.addr for f in fakes}
        # The silent peer is dropped by the handshake time-out (20 s).
        left = lambda: not (hostile & peer_addresses(btd, tid))  # noqa: E731
        try:
            wait_until(left, 60, "the hostile connections to close")
        finally:
            t.ok(left(), "%s: no hostile peer left in torrent.peers" % label,
                 peer_addresses(btd, tid))
        fakes[2].wait_line("closed by peer 1", 10)
        t.ok(True, "%s: btd closed the silent connection" % label)
        rss = proc_status(pid, "VmRSS")
        t.diag("%s: btd VmRSS after the download: %d kB (VmHWM %s kB)"
               % (label, rss, proc_status(pid, "VmHWM")))
        t.ok(rss < RSS_BOUND_KB, "%s: btd's RSS is below %d MB" % (label, RSS_BOUND_KB // 1024),
             "VmRSS %d kB" % rss)
        hwm = proc_status(pid, "VmHWM")
        t.ok(hwm < RSS_BOUND_KB, "%s: btd's peak RSS is below %d MB" % (label, RSS_BOUND_KB // 1024),
             "VmHWM %d kB" % hwm)
        fds_after = fd_count(pid)
        t.diag("%s: btd fds before %d, after %d" % (label, fds_before, fds_after))
        t.ok(fds_after <= fds_before + FD_SLACK, "%s: btd's descriptors stayed bounded" % label,
             os.listdir("/proc/%d/fd" % pid))
        for f in fakes:
            t.diag("%s: %s connected %d time(s)" % (label, f.scenario, sum(
                1 for ln in f.lines() if ln.startswith("connection "))))
        check_only_download(t, btd, label)
    finally:
        for f in fakes:
            f.stop()
        honest.stop()
        t.eq(btd.stop(), 0, "%s: btd exits 0 on SIGTERM" % label)
        check_sanitizers(t, btd, label)


def main():
    t = btdtest.Tap()
    for fn in (test_corrupt_seeder, test_hostile_peers):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
