#!/usr/bin/python3
"""File selection: download some files of a multi-file torrent, and in an order.

- A 5-file torrent (32 KiB pieces, so files share pieces) seeded by
  python3-libtorrent; `btctl add --skip 1-3`: the wanted files' sha256 match,
  the skipped file no wanted piece touches does not exist, the skipped files
  that share a piece with a wanted one hold exactly those bytes, btd reports
  the torrent complete (seeding, progress 1) with fewer bytes downloaded than
  the torrent holds.
- `btctl files --high/--low` shows the priorities; wanting file 2 makes the
  torrent download again (state downloading at once) and complete with it.
- Bad indices and contradictory lists are refused with one clear line, by
  btctl and over JSON-RPC, and change nothing (a bad torrent.add adds nothing).
- A magnet added with --only gets only those files once its metadata
  arrives; lists that turn out not to fit its files pause it.
- A restart on the same state directory keeps the selection and the skipped
  files already on disk; a verify checks their pieces as any others.
- Trackers: a partial seed announces left > 0 (opentracker counts it
  incomplete); `completed` comes once every file is had.
- Priorities: through a rate-limited seeder, the high file completes while
  the low one has not a byte, and the low one is fetched last.
"""

import os
import socket
import sys

import btdtest
from swarm import (Btd, LtPeer, Opentracker, RpcError, bdecode, free_port, payload_torrent,
                   scrape, sha256_file, wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
PIECE = 32768

# In torrent order (btctl create sorts paths): indices 0..4.
FILES = [("pack/a.bin", 300000), ("pack/b.bin", 70000), ("pack/c/c.bin", 500001),
         ("pack/d.bin", 40000), ("pack/e.bin", 260000)]


def btctl(btd, *args):
    return btdtest.run([BTCTL, "--socket", btd.socket] + list(args), timeout=60)


def spans():
    """(offset, length) of each file in the torrent's data."""
    out, off = [], 0
    for _, size in FILES:
        out.append((off, size))
        off += size
    return out


def pieces_of(offset, length):
    return set(range(offset // PIECE, (offset + length - 1) // PIECE + 1))


def wanted_pieces(wanted):
    got = set()
    for i, (off, size) in enumerate(spans()):
        if i in wanted:
            got |= pieces_of(off, size)
    return got


def check_straddled(t, seed_dir, dl_dir, wanted, index):
    """A skipped file holds the original bytes of the wanted pieces it shares, zeros elsewhere."""
    rel, size = FILES[index]
    off = spans()[index][0]
    shared = wanted_pieces(wanted) & pieces_of(off, size)
    with open(os.path.join(seed_dir, rel), "rb") as f:
        orig = f.read()
    with open(os.path.join(dl_dir, rel), "rb") as f:
        got = f.read()
    good = len(shared) > 0
    for p in shared:
        lo, hi = max(p * PIECE, off) - off, min((p + 1) * PIECE, off + size) - off
        good = good and got[lo:hi] == orig[lo:hi]
    t.ok(good, "skipped file %d holds the bytes of the %d wanted piece(s) it shares"
         % (index, len(shared)), "shared=%r len=%d" % (sorted(shared), len(got)))


def files_state(btd, tid):
    return [(f["index"], f["wanted"], f["priority"])
            for f in btd.call("torrent.files", id=str(tid))]


def ext_handshake_of(port, ih):
    """Dials btd on 127.0.0.1:port for torrent ih with the extension bit; its BEP 10 handshake."""
    reserved = bytearray(8)
    reserved[5] |= 0x10
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x13BitTorrent protocol" + bytes(reserved) + bytes.fromhex(ih)
                  + b"-LT0000-partialseed!")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("btd closed before its extension handshake")
            buf += chunk
            msgs = buf[68:]
            while len(msgs) >= 4:
                n = int.from_bytes(msgs[:4], "big")
                if len(msgs) < 4 + n:
                    break
                if n >= 2 and msgs[4] == 20 and msgs[5] == 0:
                    return bdecode(msgs[6:4 + n])[0]
                msgs = msgs[4 + n:]


def test_skip_want_restart(t):
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, dict(FILES), "pack", piece_length=PIECE)
    seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
    btd = Btd(BTD)
    again = None
    try:
        dl = btd.downloads
        r = btctl(btd, "add", torrent, "--dir", dl, "--skip", "1-3", "--peer", seeder.addr)
        t.ok(r.returncode == 0 and r.stdout.startswith(ih), "btctl add --skip 1-3", r.stderr)
        tid = btd.call("torrent.list")[0]["id"]
        r = btctl(btd, "wait", str(tid), "--timeout", "60")
        t.eq(r.returncode, 0, "btctl wait returns once the wanted files are complete")
        st = btd.status(tid)
        total = sum(size for _, size in FILES)
        t.ok(st["state"] == "seeding" and st["progress"] == 1.0 and st["left_bytes"] == 0,
             "complete for the user: seeding, progress 1, nothing left", repr(st))
        t.ok(0 < st["downloaded_bytes"] < total and st["verified_bytes"] < st["size"],
             "fewer bytes downloaded than the torrent holds",
             "downloaded=%d total=%d" % (st["downloaded_bytes"], total))
        wait_until(lambda: btd.call("torrent.peers", id=str(tid)) == [], 30,
                   "the partial seed to drop the full seed")
        log = btd.log_text()
        t.ok("a seed, and we want no more of it" in log or "it wants nothing (upload_only)" in log,
             "a partial seed closes its connection to a seed (libtorrent's says upload_only, "
             "BEP 21): neither wants anything")
        hs = ext_handshake_of(btd.call("session.get")["listen_port"], ih)
        t.eq(hs.get(b"upload_only"), 1, "a partial seed says upload_only 1 (BEP 21)")
        for i in (0, 4):
            t.eq(sha256_file(os.path.join(dl, FILES[i][0])), sums[FILES[i][0]],
                 "wanted file %d has the original bytes" % i)
        t.ok(not os.path.exists(os.path.join(dl, FILES[2][0])),
             "skipped file 2, which no wanted piece touches, does not exist")
        for i in (1, 3):
            check_straddled(t, seed_dir, dl, {0, 4}, i)
        t.eq(files_state(btd, tid),
             [(0, True, "normal"), (1, False, "normal"), (2, False, "normal"),
              (3, False, "normal"), (4, True, "normal")], "torrent.files shows the selection")

        jobs = btd.call("torrent.jobs", id=str(tid))
        npieces = (total + PIECE - 1) // PIECE
        t.ok(jobs["skipped"] == npieces - len(wanted_pieces({0, 4}))
             and jobs["unclaimed"] + len(jobs["pending"]) + jobs["have"] + jobs["skipped"]
             == npieces, "torrent.jobs counts the skipped pieces", repr(jobs))
        r = btctl(btd, "status", str(tid))
        t.ok(r.returncode == 0 and "Wanted:" in r.stdout, "btctl status says what is wanted",
             r.stdout + r.stderr)
        r = btctl(btd, "files", str(tid), "--high", "4", "--low", "0")
        rows = [line.split() for line in r.stdout.splitlines()[1:]]
        t.ok(r.returncode == 0 and rows[0][2:4] == ["yes", "low"]
             and rows[2][2:4] == ["no", "normal"] and rows[4][2:4] == ["yes", "high"]
             and rows[0][1] == "100.0%"
             and r.stdout.splitlines()[0].split()[:4] == ["#", "DONE", "GET", "PRIORITY"],
             "btctl files --high 4 --low 0 shows GET and PRIORITY per file", r.stdout + r.stderr)

        st = btd.call("torrent.set", id=str(tid), files_wanted=[2])
        t.eq(st["state"], "downloading", "wanting file 2 makes the torrent download again")
        btd.wait_done(tid, timeout=60)
        t.eq(sha256_file(os.path.join(dl, FILES[2][0])), sums[FILES[2][0]],
             "file 2, wanted later, has the original bytes")

        r = btctl(btd, "files", str(tid), "--skip", "9")
        lines = r.stderr.splitlines()
        t.ok(r.returncode == 1 and len(lines) == 1 and "no file 9" in lines[0],
             "btctl files --skip 9: exit 1, one line naming the index", r.stderr)
        try:
            btd.call("torrent.set", id=str(tid), files_skipped=[0, 9])
            t.ok(False, "torrent.set with a bad index is refused")
        except RpcError as e:
            t.ok(e.code == -32602 and "files_skipped[1]: no file 9" in e.message,
                 "torrent.set with a bad index is refused, naming it", e.message)
        try:
            btd.call("torrent.set", id=str(tid), files_wanted=[1], files_skipped=[1])
            t.ok(False, "a file both wanted and skipped is refused")
        except RpcError as e:
            t.ok(e.code == -32602 and "file 1 is also in" in e.message,
                 "a file both wanted and skipped is refused", e.message)
        t.eq(files_state(btd, tid)[0], (0, True, "low"), "refused changes changed nothing")
        r = btctl(btd, "add", torrent, "--skip", "x")
        t.ok(r.returncode == 2 and "--skip: 'x' is not a list of file indices" in r.stderr,
             "btctl add --skip x is a usage error", r.stderr)

        before = btd.status(tid)["downloaded_bytes"]
        t.eq(btd.stop(), 0, "btd exits 0")
        again = Btd(BTD, state_dir=btd.state)
        t.eq(files_state(again, tid),
             [(0, True, "low"), (1, False, "normal"), (2, True, "normal"),
              (3, False, "normal"), (4, True, "high")], "the selection survives a restart")
        st = again.wait_done(tid, timeout=30)
        t.ok(os.path.exists(os.path.join(dl, FILES[1][0]))
             and os.path.exists(os.path.join(dl, FILES[3][0])),
             "skipped files already on disk are kept")
        t.eq(st["downloaded_bytes"], before, "restarted: complete again, nothing fetched again")
        st = again.call("torrent.set", id=str(tid), files_skipped=[2])
        have = again.call("torrent.jobs", id=str(tid))["have"]
        t.ok(st["state"] == "seeding" and have > len(wanted_pieces({0, 4}))
             and sha256_file(os.path.join(dl, FILES[2][0])) == sums[FILES[2][0]],
             "skipping a complete file keeps it and its verified pieces", "have=%d" % have)
        again.call("torrent.verify", id=str(tid))
        again.wait_done(tid, timeout=30)
        t.eq(again.call("torrent.jobs", id=str(tid))["have"], have,
             "btctl verify checks the pieces of skipped files too and keeps them")
    finally:
        if again:
            again.stop()
        seeder.stop()


def test_bad_add_adds_nothing(t):
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, dict(FILES), "pack", piece_length=PIECE)
    btd = Btd(BTD)
    try:
        for params, want in (({"skip": [5]}, "skip[0]: no file 5"),
                             ({"only": [0], "skip": [0]}, "file 0 is also in"),
                             ({"skip": "some"}, "not a list of file indices")):
            try:
                btd.add(torrent, **params)
                t.ok(False, "torrent.add %r is refused" % params)
            except RpcError as e:
                t.ok(e.code == -32602 and want in e.message,
                     "torrent.add %r is refused: %s" % (params, want), e.message)
        t.eq(btd.call("torrent.list"), [], "a refused torrent.add adds nothing")
        try:
            btd.call("torrent.add", magnet="magnet:?xt=urn:btih:" + ih, skip="none")
            t.ok(False, "a magnet with a malformed list is refused")
        except RpcError as e:
            t.ok(e.code == -32602 and "params.skip: not a list" in e.message,
                 "a magnet with a malformed list is refused at once", e.message)
    finally:
        btd.stop()


def test_magnet_with_skip(t):
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, dict(FILES), "pack", piece_length=PIECE)
    seeder = LtPeer(torrent, seed_dir, "127.0.0.4")
    btd = Btd(BTD)
    try:
        magnet = "magnet:?xt=urn:btih:" + ih
        r = btctl(btd, "add", magnet, "--dir", btd.downloads, "--only", "0,4", "--peer",
                  seeder.addr)
        t.ok(r.returncode == 0, "btctl add MAGNET --only 0,4", r.stderr)
        tid = btd.call("torrent.list")[0]["id"]
        btd.wait_done(tid, timeout=60)
        dl = btd.downloads
        t.ok(all(sha256_file(os.path.join(dl, FILES[i][0])) == sums[FILES[i][0]]
                 for i in (0, 4)), "magnet: the files chosen at add have the original bytes")
        t.ok(not os.path.exists(os.path.join(dl, FILES[2][0])),
             "magnet: a file not chosen at add, touched by no wanted piece, does not exist")
        t.eq([f["wanted"] for f in btd.call("torrent.files", id=str(tid))],
             [True, False, False, False, True], "magnet: the selection applied once known")
        btd.call("torrent.remove", id=str(tid))
        r = btctl(btd, "add", magnet, "--dir", btdtest.tempdir("dl-"), "--skip", "7", "--peer",
                  seeder.addr)
        tid = btd.call("torrent.list")[0]["id"]
        st = wait_until(lambda: (lambda s: s if s["state"] == "paused" else None)(
            btd.status(tid)), 60, "the magnet with a bad index to pause")
        t.ok(st["verified_bytes"] == 0 and "do not fit the torrent" in btd.log_text()
             and "skip[0]: no file 7" in btd.log_text(),
             "magnet: lists that do not fit the files pause it, fetching nothing", repr(st))
    finally:
        btd.stop()
        seeder.stop()


def test_tracker_hears_left_and_completed(t):
    port = free_port()
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, dict(FILES), "pack", piece_length=PIECE,
                                                  trackers=[Opentracker.urls(port)[0]])
    tracker = Opentracker([ih], port)
    seeder = LtPeer(torrent, seed_dir, "127.0.0.5")
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, skip=[1, 2, 3])["id"]
        btd.wait_done(tid, timeout=60)
        # A new `started` announce from the partial seed: left must still be > 0.
        btd.call("torrent.pause", id=str(tid))
        wait_until(lambda: scrape(port, ih) == (1, 0), 30, "btd's stopped to land")
        btd.call("torrent.resume", id=str(tid))
        got = wait_until(lambda: (lambda c: c if c[1] == 1 else None)(scrape(port, ih)), 30,
                         "btd's started to land")
        t.eq(got, (1, 1), "a partial seed is counted incomplete by the tracker (left > 0)")
        btd.call("torrent.set", id=str(tid), files_wanted="all")
        btd.wait_done(tid, timeout=60)
        got = wait_until(lambda: (lambda c: c if c[0] == 2 else None)(scrape(port, ih)), 30,
                         "btd's completed to land")
        t.eq(got, (2, 0), "once every file is had, `completed` makes btd a seed on the tracker")
    finally:
        btd.stop()
        seeder.stop()
        tracker.stop()


def test_priorities_order_the_download(t):
    # The normal file outnumbers the pieces a 256 KiB/s peer has in flight at once
    # (4 + 16 requests of 16 KiB): no low piece can be asked for before the high file is done.
    files = {"pr/a-low.bin": 16 * PIECE, "pr/b-normal.bin": 32 * PIECE,
             "pr/c-high.bin": 16 * PIECE}
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, files, "pr", piece_length=PIECE)
    seeder = LtPeer(torrent, seed_dir, "127.0.0.3", upload_limit=256 * 1024)
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, peers=[seeder.addr], priority_low=[0], priority_high=[2])["id"]
        seen = {}

        def high_done():
            fs = btd.call("torrent.files", id=str(tid))
            seen["files"] = fs
            return fs[2]["done"] == fs[2]["size"]
        wait_until(high_done, 60, "the high file to complete")
        done = [f["done"] for f in seen["files"]]
        t.ok(done[0] == 0 and done[1] < 32 * PIECE,
             "when the high file is complete the low one has no byte", repr(done))

        def normal_done():
            fs = btd.call("torrent.files", id=str(tid))
            seen["files"] = fs
            return fs[1]["done"] == fs[1]["size"]
        wait_until(normal_done, 60, "the normal file to complete")
        done = [f["done"] for f in seen["files"]]
        t.ok(done[0] < 16 * PIECE, "the low file is the last one fetched", repr(done))
        btd.wait_done(tid, timeout=60)
        t.eq(sha256_file(os.path.join(btd.downloads, "pr", "a-low.bin")), sums["pr/a-low.bin"],
             "the low file completes too")
    finally:
        btd.stop()
        seeder.stop()


def main():
    t = btdtest.Tap()
    for fn in (test_skip_want_restart, test_bad_add_adds_nothing, test_magnet_with_skip,
               test_tracker_hears_left_and_completed, test_priorities_order_the_download):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
