#!/usr/bin/python3
"""The check of data already on disk: its files are stat()ed on the worker pool.

- A file whose open blocks (a FIFO where the torrent has a file: a hung disk
  or NFS mount does the same to stat) holds up the stat of the files and so
  the check, never the loop: torrent.add answers and the control socket keeps
  answering (state checking), both for an add and for the restore of a
  resume record at start. The stat cannot return before the test opens the
  FIFO's write end, so the stat phase lasts as long as the test needs. While
  it lasts, a verify is busy, pause and resume work without a second stat, a
  removed torrent stays removed when its stat comes back, and a resume
  record written meanwhile still lists the pieces it listed. Once the FIFO
  has a writer the stat goes on: a FIFO reads as an empty file, so its
  piece is missing and the other is kept.
- Many small files (3000) added over complete data: the check seeds without
  a byte downloaded; a restart trusts them all unchanged, and a file whose
  mtime moved is the only one checked again.
"""

import errno
import json
import os
import shutil
import sys
import time

import btdtest
from swarm import Btd, RpcError, listed_pieces, payload_torrent, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
PIECE = 16384


def open_writer(path):
    """A write end of the FIFO at path, or None while no reader has it open (btd's stat)."""
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ENXIO:
            return None
        raise


def fifo_dir(seed_dir, root):
    """A download dir with root/a.bin copied from seed_dir and root/b.bin a FIFO."""
    dl = btdtest.tempdir("dl-")
    os.makedirs(os.path.join(dl, root))
    shutil.copy(os.path.join(seed_dir, root, "a.bin"), os.path.join(dl, root, "a.bin"))
    os.mkfifo(os.path.join(dl, root, "b.bin"))
    return dl, os.path.join(dl, root, "b.bin")


def pair_torrent(root):
    """A torrent of root/a.bin and root/b.bin, one piece each (a.bin is piece 0)."""
    return payload_torrent(BTCTL, {root + "/a.bin": PIECE, root + "/b.bin": PIECE}, root,
                           piece_length=PIECE)


def record(btd, ih):
    with open(os.path.join(btd.state, "torrents", ih + ".resume")) as f:
        return json.load(f)


def not_checking(btd, tid):
    st = btd.status(tid)
    return st if st["state"] != "checking" else None


def busy_code(btd, tid):
    try:
        btd.call("torrent.verify", id=str(tid))
    except RpcError as e:
        return e.code
    return None


def test_blocked_stat_leaves_the_loop_answering(t):
    """Until the test opens a FIFO's write end, btd's stat of that file cannot return:
    the stat phase lasts exactly as long as the test wants, whatever the machine's speed."""
    seed_dir, _, torrent, ih = pair_torrent("pair")
    dl, fifo = fifo_dir(seed_dir, "pair")
    seed2, _, torrent2, ih2 = pair_torrent("gone")
    dl2, fifo2 = fifo_dir(seed2, "gone")
    writers = []
    btd = Btd(BTD)
    again = None
    try:
        tid = btd.add(torrent, dir=dl)["id"]
        t.eq(btd.status(tid)["state"], "checking", "add over a FIFO: torrent.add answers, and "
             "torrent.get: state checking")
        res = btdtest.run([BTCTL, "--socket", btd.socket, "status", str(tid)], timeout=20)
        t.ok(res.returncode == 0 and "checking" in res.stdout,
             "btctl status answers while the stat cannot return", res.stdout + res.stderr)
        t.eq(busy_code(btd, tid), -32007, "a verify while the stat is out is refused as busy")
        t.eq(btd.call("torrent.pause", id=str(tid))["state"], "paused",
             "pause while the stat is out: paused")
        t.eq(btd.call("torrent.resume", id=str(tid))["state"], "checking",
             "resume while the stat is out: checking (the same stat goes on)")
        # A write end opens only while a reader is there: btd's stat, blocked in open().
        writers.append(wait_until(lambda: open_writer(fifo), 20, "btd's stat to open the FIFO"))
        st = wait_until(lambda: not_checking(btd, tid), 30, "the check to end")
        t.eq((st["state"], st["verified_bytes"]), ("downloading", PIECE),
             "the FIFO reads as an empty file: its piece is missing, a.bin's is kept")
        log = btd.log_text()
        t.ok("existing data: 1 of 2 pieces valid" in log and "dropped: stale" not in log,
             "one check, of a.bin's piece only (no second stat after pause and resume)",
             [ln for ln in log.splitlines() if "existing data" in ln or "dropped" in ln])

        tid2 = btd.add(torrent2, dir=dl2)["id"]
        btd.call("torrent.remove", id=str(tid2))
        t.eq([x["id"] for x in btd.call("torrent.list")], [tid],
             "remove while the stat is out: the torrent is gone")
        writers.append(wait_until(lambda: open_writer(fifo2), 20, "the removed torrent's stat"))
        wait_until(lambda: "ih=%.8s stat of its files dropped: torrent removed" % ih2
                   in btd.log_text(), 20, "the removed torrent's stat to come back")
        t.eq([x["id"] for x in btd.call("torrent.list")], [tid],
             "the stat of a removed torrent comes back to nothing; btd answers")
        t.eq(btd.stop(), 0, "first run: btd exits 0")
        for w in writers:
            os.close(w)
        writers.clear()

        path = os.path.join(btd.state, "torrents", ih + ".resume")
        t.eq(listed_pieces(record(btd, ih)), [0], "the record lists a.bin's piece")
        ino = os.stat(path).st_ino
        again = Btd(BTD, state_dir=btd.state)
        st = again.status(tid)
        t.eq((st["state"], st["error"]), ("checking", None),
             "restart: the control socket answers while the restore's stat cannot return")
        t.eq(busy_code(again, tid), -32007, "restart: a verify meanwhile is busy")
        # A change of state has its record written at once: pause and resume.
        t.eq(again.call("torrent.pause", id=str(tid))["state"], "paused",
             "restart: pause while the restore's stat is out")
        wait_until(lambda: os.stat(path).st_ino != ino, 20,
                   "a record written while the restore's stat is out")
        rec = record(again, ih)
        t.ok(listed_pieces(rec) == [0] and rec["paused"],
             "a record written during the restore's stat lists the pieces it listed "
             "(and the pause)", rec)
        t.eq(again.call("torrent.resume", id=str(tid))["state"], "checking",
             "restart: resume while the restore's stat is out: checking")
        writers.append(wait_until(lambda: open_writer(fifo), 20, "the restore's stat"))
        st = wait_until(lambda: not_checking(again, tid), 30, "the restore to end")
        t.eq((st["state"], st["verified_bytes"]), ("downloading", PIECE),
             "restored: a.bin's piece trusted, the FIFO's still missing")
        t.ok("resumed: 1 of 2 pieces verified, 0 file(s) changed since, 0 piece(s) to check"
             in again.log_text(), "nothing changed since the record: nothing checked")
        t.eq(again.stop(), 0, "second run: btd exits 0")
    finally:
        # Whatever happened, no btd thread stays blocked in an open of a FIFO.
        for p in (fifo, fifo2):
            w = open_writer(p) if os.path.exists(p) else None
            if w is not None:
                writers.append(w)
        for d in (btd, again):
            if d and d.alive():
                d.stop()
        for w in writers:
            os.close(w)


def test_many_files(t):
    files = {"many/d%02d/f%04d.bin" % (i % 50, i): 1 + (i * 7919) % 3000 for i in range(3000)}
    seed_dir, _, torrent, ih = payload_torrent(BTCTL, files, "many", piece_length=PIECE)
    total = sum(files.values())
    btd = Btd(BTD)
    again = None
    try:
        start = time.monotonic()
        tid = btd.add(torrent, dir=seed_dir)["id"]
        t.diag("torrent.add of 3000 files answered in %.3f s" % (time.monotonic() - start))
        res = btdtest.run([BTCTL, "--socket", btd.socket, "status", str(tid)], timeout=20)
        t.ok(res.returncode == 0 and ("checking" in res.stdout or "seeding" in res.stdout),
             "btctl status answers right after the add: checking, or already seeding",
             res.stdout + res.stderr)
        st = btd.wait_done(tid, timeout=120)
        t.eq((st["verified_bytes"], st["downloaded_bytes"]), (total, 0),
             "3000 files: seeding from the check alone, nothing downloaded")
        t.eq(btd.stop(), 0, "many files: btd exits 0")

        again = Btd(BTD, state_dir=btd.state)
        st = again.wait_done(tid, timeout=60)
        t.eq(st["verified_bytes"], total, "restarted: seeding")
        n = (total + PIECE - 1) // PIECE
        t.ok("resumed: %d of %d pieces verified, 0 file(s) changed since, 0 piece(s) to check"
             % (n, n) in again.log_text(), "restarted: 3000 unchanged files trusted, none read")
        t.eq(again.stop(), 0, "restarted: btd exits 0")

        path = os.path.join(seed_dir, "many", "d07", "f1007.bin")
        st_file = os.stat(path)
        os.utime(path, ns=(st_file.st_atime_ns, st_file.st_mtime_ns + 1000000000))
        again = Btd(BTD, state_dir=btd.state)
        st = again.wait_done(tid, timeout=60)
        t.eq((st["verified_bytes"], st["downloaded_bytes"]), (total, 0),
             "a file touched since the record: checked again, still seeding")
        log = again.log_text()
        t.ok("0 file(s) changed since" not in log and "1 file(s) changed since" in log and
             "existing data: %d of %d pieces valid" % (n, n) in log,
             "only the touched file was checked, and its pieces passed",
             [ln for ln in log.splitlines() if "resumed" in ln or "existing" in ln])
    finally:
        for d in (btd, again):
            if d and d.alive():
                t.eq(d.stop(), 0, "many files, last run: btd exits 0")


def main():
    t = btdtest.Tap()
    for fn in (test_blocked_stat_leaves_the_loop_answering, test_many_files):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
