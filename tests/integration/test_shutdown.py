#!/usr/bin/python3
"""Shutdown: SIGTERM makes btd tell its trackers, save its state and exit 0.

- Two seeding torrents, one on opentracker over HTTP, one over UDP: after
  SIGTERM the tracker lists btd for neither (btd waited for both answers
  before exiting), and btd exits 0 quickly.
- Trackers that never answer (a TCP listener that accepts and stays
  silent, a UDP socket that never replies): each still gets `stopped`, and
  btd exits 0 once the 5 s deadline has passed, not later.
- A download cut by SIGTERM half-way: the record written at shutdown lists
  every piece verified before the signal, each of them intact on disk, and
  a restart on the same state directory trusts them without a check.
"""

import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import btdtest
from swarm import (Btd, LtPeer, Opentracker, free_port, listed_pieces, payload_torrent,
                   piece_hashes, scrape, wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
PIECE = 32768
MIB = 1024 * 1024
DEADLINE = 5.0  # seconds: BTD_SHUTDOWN_DEADLINE_MS
MARGIN = 3.0  # seconds allowed past it (start-up of the exit, sanitizers, a loaded machine)


def terminate(btd, timeout=30):
    """SIGTERM to btd's PID; returns (exit status or None, seconds until it exited)."""
    start = time.monotonic()
    os.kill(btd.proc.pid, signal.SIGTERM)
    try:
        rc = btd.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rc = None
    elapsed = time.monotonic() - start
    btd.stop()  # closes the log; SIGKILL by PID if it is somehow still running
    return rc, elapsed


class SilentHttp:
    """A TCP listener on loopback that accepts, reads requests and never replies."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d/announce" % self.sock.getsockname()[1]
        self.conns = []
        self.requests = []  # (time.monotonic(), request line)
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            ready, _, _ = select.select([self.sock] + self.conns, [], [], 0.05)
            for s in ready:
                if s is self.sock:
                    self.conns.append(self.sock.accept()[0])
                    continue
                data = s.recv(65536)
                if not data:
                    self.conns.remove(s)
                    s.close()
                    continue
                for line in data.split(b"\r\n"):
                    if line.startswith(b"GET "):
                        with self.lock:
                            self.requests.append((time.monotonic(), line.decode(errors="replace")))

    def requests_since(self, since, event):
        with self.lock:
            return [r for at, r in self.requests if at >= since and "event=" + event in r]

    def close(self):
        self.running = False
        self.thread.join(5)
        for s in self.conns + [self.sock]:
            s.close()


class SilentUdp:
    """A UDP socket on loopback that counts datagrams and never replies."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = "udp://127.0.0.1:%d/announce" % self.sock.getsockname()[1]
        self.packets = []  # time.monotonic() of each datagram
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.packets.append(time.monotonic())

    def packets_since(self, since):
        with self.lock:
            return len([at for at in self.packets if at >= since])

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


def test_trackers_forget_btd(t):
    port = free_port()
    http, udp = Opentracker.urls(port)
    seed_a, _, torrent_a, ih_a = payload_torrent(BTCTL, {"a.bin": 300000}, "a.bin",
                                                 trackers=[http], piece_length=PIECE)
    seed_b, _, torrent_b, ih_b = payload_torrent(BTCTL, {"b.bin": 200000}, "b.bin",
                                                 trackers=[udp], piece_length=PIECE)
    tracker = Opentracker([ih_a, ih_b], port)
    btd = None
    try:
        t.eq((scrape(port, ih_a), scrape(port, ih_b)), ((0, 0), (0, 0)),
             "the tracker starts with empty swarms")
        btd = Btd(BTD)
        a = btd.add(torrent_a, dir=seed_a)["id"]
        b = btd.add(torrent_b, dir=seed_b)["id"]
        btd.wait_done(a, timeout=30)
        btd.wait_done(b, timeout=30)
        counts = wait_until(lambda: (lambda c: c if c == ((1, 0), (1, 0)) else None)(
            (scrape(port, ih_a), scrape(port, ih_b))), 30, "both torrents listed as seeding")
        t.eq(counts, ((1, 0), (1, 0)), "the tracker lists btd seeding both torrents")

        rc, elapsed = terminate(btd)
        t.eq(rc, 0, "btd exits 0 on SIGTERM")
        # No waiting here: btd waited for the answers before it exited.
        t.eq(scrape(port, ih_a), (0, 0), "right after btd exits, the HTTP torrent lists nobody")
        t.eq(scrape(port, ih_b), (0, 0), "... and so does the UDP torrent")
        log = btd.log_text()
        t.ok("stopped: 2 of 2 trackers answered" in log, "btd logs that both trackers answered",
             [ln for ln in log.splitlines() if "stopped" in ln])
        t.ok(elapsed < DEADLINE, "with answering trackers btd does not wait for the deadline",
             "%.2f s" % elapsed)
        t.diag("exit took %.2f s" % elapsed)
    finally:
        if btd:
            btd.stop()
        tracker.stop()


def test_silent_trackers_do_not_delay_exit(t):
    silent_http, silent_udp = SilentHttp(), SilentUdp()
    btd = None
    try:
        # Each torrent asks a different silent tracker first (one tier each, in order).
        seed_x, _, torrent_x, _ = payload_torrent(BTCTL, {"x.bin": 100000}, "x.bin",
                                                  trackers=[silent_http.url, silent_udp.url])
        seed_y, _, torrent_y, _ = payload_torrent(BTCTL, {"y.bin": 100000}, "y.bin",
                                                  trackers=[silent_udp.url, silent_http.url])
        btd = Btd(BTD)
        x = btd.add(torrent_x, dir=seed_x)["id"]
        y = btd.add(torrent_y, dir=seed_y)["id"]
        btd.wait_done(x, timeout=30)
        btd.wait_done(y, timeout=30)
        wait_until(lambda: silent_http.requests_since(0, "started") and
                   silent_udp.packets_since(0) > 0, 30, "both silent trackers asked")

        sent = time.monotonic()
        rc, elapsed = terminate(btd)
        t.eq(rc, 0, "btd exits 0 on SIGTERM though no tracker answers")
        t.ok(elapsed < DEADLINE + MARGIN, "... within the 5 s deadline and a margin",
             "%.2f s" % elapsed)
        t.ok(elapsed >= DEADLINE - 0.5, "... after waiting for the trackers up to the deadline",
             "%.2f s" % elapsed)
        t.diag("exit took %.2f s" % elapsed)
        t.ok(silent_http.requests_since(sent, "stopped"),
             "the silent HTTP tracker, which heard `started`, is sent `stopped`",
             silent_http.requests)
        t.ok(silent_udp.packets_since(sent) > 0, "the silent UDP tracker is asked again (`stopped`)",
             len(silent_udp.packets))
        log = btd.log_text()
        t.ok("stopped: 0 of 2 trackers answered" in log, "btd logs that neither tracker answered",
             [ln for ln in log.splitlines() if "stopped" in ln])
    finally:
        if btd:
            btd.stop()
        silent_http.close()
        silent_udp.close()


def test_download_cut_by_sigterm_is_recorded(t):
    size = 6 * MIB + 777
    seed_dir, _, torrent, ih = payload_torrent(BTCTL, {"cut.bin": size}, "cut.bin",
                                               piece_length=PIECE)
    hashes = piece_hashes(torrent)
    seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
    btd = again = None
    try:
        btd = Btd(BTD)
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        btd.call("torrent.set", id=str(tid), download_limit=MIB)
        wait_until(lambda: btd.status(tid)["verified_bytes"] >= MIB, 60, "a partial download")
        before = btd.status(tid)["verified_bytes"]
        rc, elapsed = terminate(btd)
        t.eq(rc, 0, "btd exits 0 on SIGTERM in the middle of a download")
        t.diag("verified %d bytes before the signal; exit took %.2f s" % (before, elapsed))
        with open(os.path.join(btd.state, "torrents", ih + ".resume")) as f:
            rec = json.load(f)
        have = listed_pieces(rec)
        t.ok(len(have) * PIECE >= before and len(have) < len(hashes),
             "the record lists every piece verified before the signal, and not all",
             (len(have), before))
        bad = []
        with open(os.path.join(btd.downloads, "cut.bin"), "rb") as f:
            for i in have:
                f.seek(i * PIECE)
                if hashlib.sha1(f.read(min(PIECE, size - i * PIECE))).digest() != hashes[i]:
                    bad.append(i)
        t.eq(bad, [], "every listed piece is intact on disk")

        again = Btd(BTD, state_dir=btd.state)
        st = wait_until(lambda: (lambda s: s if s["state"] != "checking" else None)(
            again.status(tid)), 30, "the restored torrent")
        t.ok(st["verified_bytes"] >= before, "after a restart the pieces are still verified",
             (st["verified_bytes"], before))
        line = "resumed: %d of %d pieces verified, 0 file(s) changed since" % (len(have),
                                                                               len(hashes))
        t.ok(line in again.log_text(),
             "the record was written after the last piece landed: nothing to check again",
             [ln for ln in again.log_text().splitlines() if "resumed" in ln])
        rc, _ = terminate(again)
        t.eq(rc, 0, "the restarted btd exits 0")
    finally:
        for d in (again, btd):
            if d:
                d.stop()
        seeder.stop()


def main():
    t = btdtest.Tap()
    for fn in (test_trackers_forget_btd, test_silent_trackers_do_not_delay_exit,
               test_download_cut_by_sigterm_is_recorded):
        start = time.monotonic()
        t.run(fn)
        t.diag("%s took %.1f s" % (fn.__name__, time.monotonic() - start))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
