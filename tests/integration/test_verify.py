#!/usr/bin/python3
"""btctl verify: the data on disk is read back on demand; what fails is fetched again.

btd downloads from a python3-libtorrent seeder; then two pieces of its copy
are overwritten behind its back. `btctl verify` must find exactly those two
bad, fetch exactly their bytes again from the seeder, and end with the
original sha256. A second verify while one runs is refused as busy.
"""

import json
import os
import socket
import sys

import btdtest
from swarm import Btd, LtPeer, payload_torrent, sha256_file, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
PIECE = 32768
FILES = {"verify.bin": 8 * 1024 * 1024 + 1234}


def two_calls_at_once(btd, method, tid):
    """Sends two requests in one write; returns both replies (btd answers in order)."""
    req = "".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": method,
                              "params": {"id": str(tid)}}) + "\n" for i in (1, 2))
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(btd.socket)
        s.sendall(req.encode())
        buf = b""
        while buf.count(b"\n") < 2:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return [json.loads(line) for line in buf.splitlines()]


def test_verify_finds_and_mends_damage(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "verify.bin", piece_length=PIECE)
    btd = Btd(BTD)
    seeder = None
    try:
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        before = btd.wait_done(tid, timeout=60)
        path = os.path.join(btd.downloads, "verify.bin")
        t.eq(sha256_file(path), sums["verify.bin"], "downloaded intact before the damage")

        with open(path, "r+b") as f:
            for index in (5, 200):
                f.seek(index * PIECE)
                f.write(os.urandom(PIECE))

        replies = two_calls_at_once(btd, "torrent.verify", tid)
        t.eq(replies[0].get("result", {}).get("state"), "checking",
             "torrent.verify starts a check at once")
        t.eq(replies[1].get("error", {}).get("code"), -32007,
             "a second verify while checking is refused as busy")

        pieces = (FILES["verify.bin"] + PIECE - 1) // PIECE
        wait_until(lambda: "existing data: %d of %d pieces valid" % (pieces - 2, pieces)
                   in btd.log_text(), 60, "the check to find the two bad pieces")
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["downloaded_bytes"] - before["downloaded_bytes"], 2 * PIECE,
             "exactly the two damaged pieces are fetched again")
        t.eq(sha256_file(path), sums["verify.bin"], "after verify the file is mended")

        r = btdtest.run([BTCTL, "--socket", btd.socket, "verify", str(tid)], timeout=20)
        t.ok(r.returncode == 0 and "checking" in r.stdout, "btctl verify prints the new state",
             r.stdout + r.stderr)
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["verified_bytes"], FILES["verify.bin"], "an intact copy verifies whole")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "verify: btd exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_verify_finds_and_mends_damage)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
