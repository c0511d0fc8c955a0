#!/usr/bin/python3
"""Resume: torrents outlive btd, whether it stops cleanly or is killed.

- A clean restart brings every torrent back under its id, with its state
  (seeding, paused, downloading), totals and limits; unchanged data is
  trusted, not checked again.
- kill -9 at several moments of a download: each time the resume record on
  disk lists only pieces whose bytes on disk hash correctly, and after the
  last restart the download completes with the right sha256.
- A truncated, empty or corrupt record is ignored with a warning and the
  data is checked; a file changed on disk is checked and mended.
- A torrent added paused over complete data has not been checked: its
  record must not let a restart trust "no pieces" (after resume it seeds
  without a byte downloaded, from the check alone; no peer exists).
- A second btd on the same state directory is refused.
"""

import hashlib
import json
import os
import random
import signal
import sys

import btdtest
from swarm import (Btd, LtPeer, Opentracker, free_port, listed_pieces, payload_torrent,
                   piece_hashes, sha256_file, wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
PIECE = 32768
MIB = 1024 * 1024


def tracked_payload(files, root):
    """A payload whose torrent names an opentracker on loopback (started here):
    after a restart btd finds its seeder again through it."""
    port = free_port()
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, files, root, piece_length=PIECE,
                                                  trackers=[Opentracker.urls(port)[0]])
    return seed_dir, sums, torrent, ih, Opentracker([ih], port)


def record(btd, info_hash):
    with open(os.path.join(btd.state, "torrents", info_hash + ".resume")) as f:
        return json.load(f)


def bad_listed_pieces(rec, path, hashes, size):
    """Pieces the record lists whose bytes on disk do not hash to the torrent's SHA-1."""
    bad = []
    with open(path, "rb") as f:
        for i in listed_pieces(rec):
            f.seek(i * PIECE)
            if hashlib.sha1(f.read(min(PIECE, size - i * PIECE))).digest() != hashes[i]:
                bad.append(i)
    return bad


def kill9(btd):
    os.killpg(btd.proc.pid, signal.SIGKILL)
    btd.proc.wait(timeout=10)
    return btd.proc.returncode


def test_clean_restart(t):
    files = {"keep.bin": 4 * MIB + 99}
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, files, "keep.bin", piece_length=PIECE)
    files2 = {"slow.bin": 6 * MIB + 5}
    seed2, sums2, torrent2, ih2, tracker = tracked_payload(files2, "slow.bin")
    btd = Btd(BTD)
    seeder = None
    try:
        seeding = btd.add(torrent, dir=seed_dir)["id"]
        btd.wait_done(seeding, timeout=60)
        seeder = LtPeer(torrent2, seed2, "127.0.0.2")
        slow = btd.add(torrent2)["id"]
        btd.call("torrent.set", id=str(slow), download_limit=MIB)
        wait_until(lambda: btd.status(slow)["verified_bytes"] >= MIB, 60, "a partial download")
        btd.call("torrent.pause", id=str(seeding))
        t.eq(btd.stop(), 0, "first run: btd exits 0 on SIGTERM")
        rec = record(btd, ih2)
        t.ok(len(listed_pieces(rec)) * PIECE >= MIB, "the record written at shutdown lists "
             "the pieces verified so far", len(listed_pieces(rec)))

        again = Btd(BTD, state_dir=btd.state)
        try:
            got = {x["info_hash"]: x for x in again.call("torrent.list")}
            t.eq(sorted(got), sorted([ih, ih2]), "after a restart both torrents are back")
            t.eq(got[ih]["id"], seeding, "torrent ids are stable across restarts")
            t.eq(got[ih2]["id"], slow, "... for both torrents")
            t.eq(got[ih]["state"], "paused", "a paused torrent comes back paused")
            t.eq(got[ih2]["download_limit"], MIB, "a torrent's limit comes back")
            n = (files["keep.bin"] + PIECE - 1) // PIECE
            # The record is applied once the stat of the files (on a worker) is back.
            wait_until(lambda: "ih=%.8s resumed:" % ih in again.log_text(), 30,
                       "the restore of the paused torrent")
            t.ok("resumed: %d of %d pieces verified, 0 file(s) changed since, 0 piece(s) "
                 "to check" % (n, n) in again.log_text(),
                 "unchanged complete data is trusted, not read")
            again.call("torrent.resume", id=str(seeding))
            st = again.wait_done(seeding, timeout=30)
            t.eq(st["downloaded_bytes"], 0, "the restored seed downloaded nothing")
            again.call("torrent.set", id=str(slow), download_limit=0)
            st = again.wait_done(slow, timeout=60)
            t.eq(sha256_file(os.path.join(btd.downloads, "slow.bin")), sums2["slow.bin"],
                 "the interrupted download completes intact after the restart")
            t.ok(st["downloaded_bytes"] < files2["slow.bin"] + 2 * MIB,
                 "what was verified before the restart is not fetched again",
                 st["downloaded_bytes"])
        finally:
            t.eq(again.stop(), 0, "second run: btd exits 0")
    finally:
        if seeder:
            seeder.stop()
        tracker.stop()


def test_kill9_never_lists_a_bad_piece(t):
    files = {"crash.bin": 8 * MIB + 12345}
    seed_dir, sums, torrent, ih, tracker = tracked_payload(files, "crash.bin")
    hashes = piece_hashes(torrent)
    seeder = LtPeer(torrent, seed_dir, "127.0.0.3")
    btd = Btd(BTD)
    state, downloads = btd.state, btd.downloads
    path = os.path.join(downloads, "crash.bin")
    try:
        tid = btd.add(torrent)["id"]
        btd.call("torrent.set", id=str(tid), download_limit=MIB)
        rng = random.Random()
        worst = []
        for round_ in range(3):
            target = (round_ + 1) * files["crash.bin"] // 5 + rng.randrange(PIECE * 8)
            wait_until(lambda: btd.status(tid)["verified_bytes"] >= target, 60,
                       "progress before kill %d" % round_)
            wait_until(lambda: os.path.exists(os.path.join(state, "torrents", ih + ".resume")),
                       40, "a resume record")
            t.eq(kill9(btd), -signal.SIGKILL, "kill -9 #%d" % (round_ + 1))
            rec = record(btd, ih)
            worst += bad_listed_pieces(rec, path, hashes, files["crash.bin"])
            btd = Btd(BTD, state_dir=state)
            btd.downloads = downloads
        t.eq(worst, [], "no record ever lists a piece whose bytes on disk are wrong")
        btd.call("torrent.set", id=str(tid), download_limit=0)
        btd.wait_done(tid, timeout=90)
        t.eq(sha256_file(path), sums["crash.bin"], "after three kill -9s the download completes")
    finally:
        seeder.stop()
        tracker.stop()
        t.eq(btd.stop(), 0, "kill -9: the last btd exits 0")


def test_bad_records_and_changed_files(t):
    files = {"fix.bin": 3 * MIB + 7}
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, files, "fix.bin", piece_length=PIECE)
    btd = Btd(BTD)
    state = btd.state
    try:
        tid = btd.add(torrent, dir=seed_dir)["id"]
        btd.wait_done(tid, timeout=60)
        t.eq(btd.stop(), 0, "seeding: btd exits 0")
        rec_path = os.path.join(state, "torrents", ih + ".resume")
        with open(rec_path, "rb") as f:
            good = f.read()
        for name, content in (("truncated", good[:len(good) // 2]), ("zero-byte", b""),
                              ("corrupt", b"\x00garbage{]")):
            with open(rec_path, "wb") as f:
                f.write(content)
            btd = Btd(BTD, state_dir=state)
            st = btd.wait_done(tid, timeout=60)
            t.ok("resume record" in btd.log_text() and "checking its data again" in
                 btd.log_text(), "a %s record: a warning, and the data is checked" % name)
            t.eq(st["verified_bytes"], files["fix.bin"], "a %s record: btd still seeds it" % name)
            t.eq(btd.stop(), 0, "a %s record: btd exits 0" % name)

        data = os.path.join(seed_dir, "fix.bin")
        with open(data, "r+b") as f:
            f.seek(10 * PIECE)
            f.write(os.urandom(PIECE))
        btd = Btd(BTD, state_dir=state)
        wait_until(lambda: "1 file(s) changed since" in btd.log_text(), 30, "the changed file")
        st = wait_until(lambda: (lambda s: s if s["state"] != "checking" else None)(
            btd.status(tid)), 60, "the check of the changed file")
        t.eq(st["verified_bytes"], files["fix.bin"] - PIECE,
             "a changed file is checked: the damaged piece is no longer counted")
    finally:
        t.eq(btd.stop(), 0, "changed file: btd exits 0")


def test_second_btd_on_same_state_is_refused(t):
    first = Btd(BTD)
    try:
        second = btdtest.run([BTD, "--port", "0", "--socket",
                              os.path.join(btdtest.tempdir(), "other.sock"), "--state-dir",
                              first.state], timeout=20)
        t.ok(second.returncode != 0 and "in use by another btd" in second.stderr,
             "a second btd on the same state directory is refused", second.stderr)
        t.ok(first.call("session.get")["listen_port"] > 0, "the first one still answers")
    finally:
        t.eq(first.stop(), 0, "state lock: btd exits 0")


def test_unchecked_torrent_is_checked_after_a_restart(t):
    seed_dir, _, torrent, ih = payload_torrent(BTCTL, {"whole.bin": 3 * MIB + 5}, "whole.bin",
                                               piece_length=PIECE)
    btd = Btd(BTD)
    again = None
    try:
        tid = btd.add(torrent, dir=seed_dir, paused=True)["id"]
        t.eq(btd.status(tid)["state"], "paused", "added paused: not checked yet")
        t.eq(btd.stop(), 0, "unchecked: btd exits 0")
        rec = record(btd, ih)
        t.ok(listed_pieces(rec) == [], "the record of an unchecked torrent lists no piece")
        again = Btd(BTD, state_dir=btd.state)
        again.call("torrent.resume", id=str(tid))
        st = again.wait_done(tid, timeout=60)
        t.eq(st["downloaded_bytes"], 0,
             "after the restart and resume the data is checked and seeds: nothing downloaded")
    finally:
        if again:
            t.eq(again.stop(), 0, "unchecked, restarted: btd exits 0")


def main():
    t = btdtest.Tap()
    for fn in (test_clean_restart, test_kill9_never_lists_a_bad_piece,
               test_bad_records_and_changed_files,
               test_unchecked_torrent_is_checked_after_a_restart,
               test_second_btd_on_same_state_is_refused):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
