#!/usr/bin/python3
"""The check of data already on disk: its files are stat()ed on the worker pool.

- A file whose open hangs (as on a hung disk or NFS mount; here an empty
  b.bin whose opens a fanotify permission gate holds, gate.py) holds up the
  stat of the files and so the check, never the loop: torrent.add answers
  and the control socket keeps answering (state checking), both for an add
  and for the restore of a resume record at start. The stat cannot return
  before the test lets the open go on, so the stat phase lasts as long as
  the test needs. While it lasts, a verify is busy, pause and resume work
  without a second stat, a removed torrent stays removed when its stat
  comes back, and a resume record written meanwhile still lists the pieces
  it listed. Once let go the stat goes on: b.bin is empty, so its piece is
  missing and the other is kept. (Needs root for fanotify: skipped
  otherwise.)
- A FIFO where the torrent has a file never blocks a worker: the torrent
  stops in error with one line naming the file, "not a regular file".
- Many small files (3000) added over complete data: the check seeds without
  a byte downloaded; a restart trusts them all unchanged, and a file whose
  mtime moved is the only one checked again.
"""

import json
import os
import shutil
import sys
import time

import btdtest
from gate import OpenGate
from swarm import Btd, RpcError, listed_pieces, payload_torrent, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
PIECE = 16384


def gated_dir(seed_dir, root):
    """A download dir with root/a.bin copied from seed_dir and root/b.bin empty."""
    dl = btdtest.tempdir("dl-")
    os.makedirs(os.path.join(dl, root))
    shutil.copy(os.path.join(seed_dir, root, "a.bin"), os.path.join(dl, root, "a.bin"))
    open(os.path.join(dl, root, "b.bin"), "wb").close()
    return dl, os.path.join(dl, root, "b.bin")


def let_go(gate, what):
    """Waits for btd's open of the gated file, then lets it (and later ones) go on."""
    wait_until(lambda: gate.held(), 20, what)
    gate.release()


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
    """Until the test lets btd's open of b.bin go on, btd's stat of that file cannot return:
    the stat phase lasts exactly as long as the test wants, whatever the machine's speed."""
    if not OpenGate.available():
        t.diag("skipped: fanotify permission events need root (CAP_SYS_ADMIN)")
        return
    seed_dir, _, torrent, ih = pair_torrent("pair")
    dl, gated = gated_dir(seed_dir, "pair")
    seed2, _, torrent2, ih2 = pair_torrent("gone")
    dl2, gated2 = gated_dir(seed2, "gone")
    gates = []
    btd = again = None
    try:
        gates += [OpenGate(gated), OpenGate(gated2)]
        btd = Btd(BTD)
        tid = btd.add(torrent, dir=dl)["id"]
        t.eq(btd.status(tid)["state"], "checking", "add over a hung file: torrent.add answers, "
             "and torrent.get: state checking")
        res = btdtest.run([BTCTL, "--socket", btd.socket, "status", str(tid)], timeout=20)
        t.ok(res.returncode == 0 and "checking" in res.stdout,
             "btctl status answers while the stat cannot return", res.stdout + res.stderr)
        t.eq(busy_code(btd, tid), -32007, "a verify while the stat is out is refused as busy")
        t.eq(btd.call("torrent.pause", id=str(tid))["state"], "paused",
             "pause while the stat is out: paused")
        t.eq(btd.call("torrent.resume", id=str(tid))["state"], "checking",
             "resume while the stat is out: checking (the same stat goes on)")
        let_go(gates[0], "btd's stat to open b.bin")
        st = wait_until(lambda: not_checking(btd, tid), 30, "the check to end")
        t.eq((st["state"], st["verified_bytes"]), ("downloading", PIECE),
             "b.bin is empty: its piece is missing, a.bin's is kept")
        log = btd.log_text()
        t.ok("existing data: 1 of 2 pieces valid" in log and "dropped: stale" not in log,
             "one check, of a.bin's piece only (no second stat after pause and resume)",
             [ln for ln in log.splitlines() if "existing data" in ln or "dropped" in ln])

        tid2 = btd.add(torrent2, dir=dl2)["id"]
        btd.call("torrent.remove", id=str(tid2))
        t.eq([x["id"] for x in btd.call("torrent.list")], [tid],
             "remove while the stat is out: the torrent is gone")
        let_go(gates[1], "the removed torrent's stat")
        wait_until(lambda: "ih=%.8s stat of its files dropped: torrent removed" % ih2
                   in btd.log_text(), 20, "the removed torrent's stat to come back")
        t.eq([x["id"] for x in btd.call("torrent.list")], [tid],
             "the stat of a removed torrent comes back to nothing; btd answers")
        t.eq(btd.stop(), 0, "first run: btd exits 0")

        path = os.path.join(btd.state, "torrents", ih + ".resume")
        t.eq(listed_pieces(record(btd, ih)), [0], "the record lists a.bin's piece")
        ino = os.stat(path).st_ino
        gates.append(OpenGate(gated))
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
        let_go(gates[2], "the restore's stat")
        st = wait_until(lambda: not_checking(again, tid), 30, "the restore to end")
        t.eq((st["state"], st["verified_bytes"]), ("downloading", PIECE),
             "restored: a.bin's piece trusted, b.bin's still missing")
        t.ok("resumed: 1 of 2 pieces verified, 0 file(s) changed since, 0 piece(s) to check"
             in again.log_text(), "nothing changed since the record: nothing checked")
        t.eq(again.stop(), 0, "second run: btd exits 0")
    finally:
        for g in gates:  # whatever happened, no btd thread stays held in an open
            g.close()
        for d in (btd, again):
            if d and d.alive():
                d.stop()


def test_fifo_is_not_a_regular_file(t):
    """A FIFO where b.bin should be: opened without blocking, refused, named in one line."""
    seed_dir, _, torrent, _ = pair_torrent("fifo")
    dl = btdtest.tempdir("dl-")
    os.makedirs(os.path.join(dl, "fifo"))
    shutil.copy(os.path.join(seed_dir, "fifo", "a.bin"), os.path.join(dl, "fifo", "a.bin"))
    os.mkfifo(os.path.join(dl, "fifo", "b.bin"))
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, dir=dl)["id"]
        st = wait_until(lambda: not_checking(btd, tid), 30, "the check to end")
        want = "not a regular file: %s/fifo/b.bin" % dl
        t.eq((st["state"], st["error"]), ("error", want),
             "a FIFO for a file: state error, naming it")
        lines = [ln for ln in btd.log_text().splitlines() if want in ln]
        t.eq(len(lines), 1, "one log line says so")
        t.eq(btd.call("torrent.list")[0]["id"], tid, "btd answers (no thread is held)")
        os.unlink(os.path.join(dl, "fifo", "b.bin"))
        btd.call("torrent.verify", id=str(tid))
        st = wait_until(lambda: not_checking(btd, tid), 30, "the verify to end")
        t.eq((st["state"], st["verified_bytes"]), ("downloading", PIECE),
             "FIFO gone, verify: a.bin's piece kept, b.bin's to download")
    finally:
        t.eq(btd.stop(), 0, "fifo: btd exits 0")


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
    for fn in (test_blocked_stat_leaves_the_loop_answering, test_fifo_is_not_a_regular_file,
               test_many_files):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
