#!/usr/bin/python3
"""btd downloads next to hostile peers and still gets the right bytes.

Each scenario puts a real python3-libtorrent seeder next to fake peers
(fake_peer.py: wrong piece data, one bad block per piece, a 4 GiB length
prefix, garbage instead of a handshake, silence, a flood of `have`, data
dripped at 640 bytes/s), gives btd all their addresses and ends with the
same checks: the file's sha256 is the original's, btd still answers, the
hostile connections are gone, memory and descriptors stayed bounded,
nothing was written outside the download directory, and btd's log (it may
run under ASan/UBSan) holds no sanitizer report. A last scenario turns it
around: hostile peers dial btd's own port (garbage, unknown info-hashes, a
4 GiB prefix, 300 silent connections, 2100 reconnections from one address)
before an honest peer dials in and must still be served.
"""

import os
import socket
import struct
import sys
import time

import btdtest
from swarm import (Btd, FakePeer, LtPeer, create_torrent, make_payload, sha256_file,
                   wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")

PIECE = 32768
SIZE = 4 * 1024 * 1024 + 12345  # 129 pieces, the last one short
NAME = "hostile.bin"
RSS_BOUND_KB = 200 * 1024  # generous: btd may run under ASan
FD_SLACK = 8
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def setup_payload():
    seed_dir = btdtest.tempdir("seed-")
    sums = make_payload(seed_dir, {NAME: SIZE})
    torrent = os.path.join(btdtest.tempdir("torrent-"), "t.torrent")
    ih = create_torrent(BTCTL, os.path.join(seed_dir, NAME), torrent, piece_length=PIECE)
    return seed_dir, sums[NAME], torrent, bytes.fromhex(ih)


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


PSTR = b"\x13BitTorrent protocol"


def handshake(ih):
    return PSTR + bytes(8) + ih + b"-XX0001-" + os.urandom(12)


def dial(port, src_ip, data, wait=5.0):
    """Connects to btd's peer port from src_ip, sends data, returns (bytes read, closed).

    Reads until btd closes the connection or nothing arrives for `wait` seconds.
    """
    s = socket.socket()
    s.settimeout(wait)
    s.bind((src_ip, 0))
    s.connect(("127.0.0.1", port))
    got, closed = b"", False
    try:
        if data:
            s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    finally:
        s.close()
    return got, closed


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
    seed_dir, sha, torrent, ih = setup_payload()
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
        last = SIZE % PIECE or PIECE  # the short last piece counts whole when verified
        odd = [v for v in seen if v % PIECE != 0 and (v - last) % PIECE != 0]
        t.ok(not odd, "%s: verified_bytes was always whole pieces (%d samples)"
             % (label, len(seen)), odd[:10])
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
        port = btd.call("session.get")["listen_port"]
        got, closed = dial(port, fake.ip, handshake(ih), wait=5)
        t.ok(closed and not got.startswith(PSTR),
             "%s: the banned address cannot come back by dialling btd" % label,
             "closed %s, got %r" % (closed, got[:80]))
        t.ok(btd.call("session.get")["torrents"] == 1, "%s: btd still answers" % label)
        check_only_download(t, btd, label)
    finally:
        fake.stop()
        honest.stop()
        t.eq(btd.stop(), 0, "%s: btd exits 0 on SIGTERM" % label)
        check_sanitizers(t, btd, label)


def test_half_corrupt_seeder(t):
    """A peer that sends one bad block per piece and leaves the rest to others.

    Every piece it touches is finished by the honest seeder and fails its
    hash with both among its senders. The liar must end up banned, the
    honest seeder must not (it sent only good blocks), and the download
    must complete from it.
    """
    label = "half-corrupt"
    seed_dir, sha, torrent, ih = setup_payload()
    honest = LtPeer(torrent, seed_dir, "127.0.0.2", upload_limit=512 * 1024)
    fake = FakePeer(torrent, "127.0.0.8", "half-corrupt")
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, peers=[fake.addr, honest.addr])["id"]

        def settled():
            st = btd.status(tid)
            if st["state"] in ("seeding", "error"):
                return st
            if "peer=%s banned" % honest.addr in btd.log_text():
                return st  # the honest seeder is gone: nothing left to wait for
            return None
        st = wait_until(settled, 120, "the download to complete or the honest seeder's ban")
        banned = [ln for ln in btd.log_text().splitlines() if "banned" in ln]
        t.diag("%s: hash_failures %d, wasted %d, state %s"
               % (label, st["hash_failures"], st["wasted_bytes"], st["state"]))
        t.ok(not any("peer=%s banned" % honest.addr in ln for ln in banned),
             "%s: the honest seeder is not banned" % label, "\n".join(banned))
        t.eq(st["state"], "seeding", "%s: the download completes" % label)
        path = os.path.join(btd.downloads, NAME)
        t.eq(sha256_file(path) if os.path.exists(path) else None, sha,
             "%s: the downloaded file has the original sha256" % label)
        t.ok(st["hash_failures"] >= 1, "%s: the liar's pieces failed their hash" % label, st)
        t.ok(any("peer=%s banned" % fake.addr in ln for ln in banned),
             "%s: the liar is banned" % label, "\n".join(banned))
        t.ok(btd.alive(), "%s: btd is alive" % label)
    finally:
        fake.stop()
        honest.stop()
        t.eq(btd.stop(), 0, "%s: btd exits 0 on SIGTERM" % label)
        check_sanitizers(t, btd, label)


HOSTILE = [("huge-length", "127.0.0.4"), ("garbage", "127.0.0.5"), ("silent", "127.0.0.6"),
           ("flood-haves", "127.0.0.7")]


def test_hostile_peers(t):
    """Peers that break the protocol in four ways, and a slow one, next to an honest seeder."""
    label = "hostile"
    seed_dir, sha, torrent, ih = setup_payload()
    honest = LtPeer(torrent, seed_dir, "127.0.0.2", upload_limit=512 * 1024)
    fakes = [FakePeer(torrent, ip, scenario) for scenario, ip in HOSTILE]
    # Correct data at 640 bytes/s: it must not hold the download back.
    slow = FakePeer(torrent, "127.0.0.9", "slow-drip", data=os.path.join(seed_dir, NAME))
    btd = Btd(BTD)
    pid = btd.proc.pid
    try:
        fds_before = fd_count(pid)
        started = time.monotonic()
        tid = btd.add(torrent, peers=[f.addr for f in fakes] + [slow.addr, honest.addr])["id"]
        for f in fakes + [slow]:
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
        t.diag("%s: downloaded in %.1f s" % (label, time.monotonic() - started))
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
        hwm = proc_status(pid, "VmHWM")
        t.diag("%s: btd VmRSS after the download: %d kB (VmHWM %d kB)" % (label, rss, hwm))
        t.ok(rss < RSS_BOUND_KB, "%s: btd's RSS is below %d MB" % (label, RSS_BOUND_KB // 1024),
             "VmRSS %d kB" % rss)
        t.ok(hwm < RSS_BOUND_KB, "%s: btd's peak RSS is below %d MB"
             % (label, RSS_BOUND_KB // 1024), "VmHWM %d kB" % hwm)
        fds_after = fd_count(pid)
        t.diag("%s: btd fds before %d, after %d" % (label, fds_before, fds_after))
        t.ok(fds_after <= fds_before + FD_SLACK, "%s: btd's descriptors stayed bounded" % label,
             os.listdir("/proc/%d/fd" % pid))
        for f in fakes + [slow]:
            t.diag("%s: %s connected %d time(s)" % (label, f.scenario, sum(
                1 for ln in f.lines() if ln.startswith("connection "))))
        check_only_download(t, btd, label)
    finally:
        for f in fakes + [slow]:
            f.stop()
        honest.stop()
        t.eq(btd.stop(), 0, "%s: btd exits 0 on SIGTERM" % label)
        check_sanitizers(t, btd, label)


def test_incoming_hostile(t):
    """Peers that dial btd's own port and misbehave, then an honest one that dials in."""
    label = "incoming"
    seed_dir, sha, torrent, ih = setup_payload()
    btd = Btd(BTD)
    pid = btd.proc.pid
    honest = None
    try:
        tid = btd.add(torrent)["id"]
        # Peers are accepted once the data on disk has been checked.
        wait_until(lambda: btd.status(tid)["state"] != "checking", 30, "the check to end")
        port = btd.call("session.get")["listen_port"]
        t.ok(port > 0, "%s: btd reports its peer port" % label, port)
        fds_before = fd_count(pid)
        # Not a plaintext handshake, so btd reads it as MSE: the first 96 bytes as a
        # DH key, answered with its own key and a pad (608 bytes at most); no req1
        # hash in the next 532 bytes closes the connection.
        got, closed = dial(port, "127.0.0.10", b"\x42" + os.urandom(699))
        t.ok(closed and len(got) <= 96 + 512 and not got.startswith(PSTR),
             "%s: garbage instead of a handshake is closed" % label, (len(got), got[:80]))
        got, closed = dial(port, "127.0.0.10", handshake(os.urandom(20)))
        t.ok(closed and not got, "%s: a handshake for an unknown torrent is refused" % label,
             got[:80])
        s = socket.socket()
        s.settimeout(5)
        s.bind(("127.0.0.10", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(handshake(ih))
        reply = b""
        try:
            while len(reply) < 68:
                chunk = s.recv(68 - len(reply))
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
        t.ok(reply[:20] == PSTR and reply[28:48] == ih,
             "%s: a valid handshake is answered with btd's" % label, reply)
        start = time.monotonic()
        s.sendall(struct.pack(">I", 0xFFFFFFFF))
        closed = False
        try:
            while s.recv(65536):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        except OSError:
            pass
        s.close()
        t.ok(closed, "%s: a 4 GiB length prefix after it is closed at once (%.2f s)"
             % (label, time.monotonic() - start))
        # 300 connections that say nothing: over the cap ones are closed at once, the
        # rest by the handshake time-out (20 s).
        mute = []
        for i in range(300):
            s = socket.socket()
            s.settimeout(5)
            s.bind(("127.0.0.11", 0))
            s.connect(("127.0.0.1", port))
            mute.append(s)
        t.eq(btd.call("session.get")["torrents"], 1,
             "%s: btd answers with 300 silent connections open" % label)
        peak = fd_count(pid)
        t.diag("%s: btd fds before %d, with 300 silent connections %d" % (label, fds_before, peak))
        t.ok(peak <= fds_before + 64, "%s: silent connections beyond the cap are not kept" % label,
             peak)
        wait_until(lambda: fd_count(pid) <= fds_before + FD_SLACK, 40,
                   "the silent connections to time out")
        t.ok(True, "%s: the silent connections were closed (handshake time-out)" % label)
        for s in mute:
            s.close()
        # One address dialling in again and again must not crowd out everybody else.
        flood = 2100  # BTD_BOOK_MAX is 2000
        for i in range(flood):
            s = socket.socket()
            s.settimeout(5)
            s.bind(("127.0.0.12", 0))
            s.connect(("127.0.0.1", port))
            s.sendall(handshake(ih))
            try:
                s.recv(68)
            except OSError:
                pass
            s.close()
        t.eq(btd.call("session.get")["torrents"], 1,
             "%s: btd answers after %d handshakes from one address" % (label, flood))
        honest = LtPeer(torrent, seed_dir, "127.0.0.13", peers=["127.0.0.1:%d" % port])
        try:
            st = btd.wait_done(tid, timeout=60)
        except TimeoutError:
            st = btd.status(tid)
            lines = [ln for ln in btd.log_text().splitlines() if "127.0.0.13" in ln]
            t.diag("%s: btd's lines about the honest peer:\n%s" % (label, "\n".join(lines[-10:])))
        t.eq(st["state"], "seeding",
             "%s: an honest peer that dials in after the flood is served" % label)
        if st["state"] == "seeding":
            t.eq(sha256_file(os.path.join(btd.downloads, NAME)), sha,
                 "%s: the downloaded file has the original sha256" % label)
        t.ok(btd.alive(), "%s: btd is alive" % label)
    finally:
        if honest:
            honest.stop()
        t.eq(btd.stop(), 0, "%s: btd exits 0 on SIGTERM" % label)
        check_sanitizers(t, btd, label)


def main():
    t = btdtest.Tap()
    for fn in (test_corrupt_seeder, test_half_corrupt_seeder, test_hostile_peers,
               test_incoming_hostile):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
