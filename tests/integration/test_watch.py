#!/usr/bin/python3
"""The watch directory (watch_dir): btd adds the .torrent and .magnet files dropped in it.

A torrent seeded by python3-libtorrent through opentracker is dropped into
btd's watch directory (written in two halves, the first given time to be
read, so a file still being copied in is not refused), and btd adds and
downloads it and renames the file NAME.torrent.added. A file already there
when btd starts is added at start; a duplicate is only renamed; garbage is
renamed .invalid with one warning naming it while btd keeps running; a
.magnet file holding a bare info-hash adds a torrent that waits for its
metadata. `btctl set watch_dir` moves the watch to another directory, and a
watch_dir that does not exist is a warning, not a failed start.
"""

import json
import os
import re
import shutil
import sys

import btdtest
from swarm import Btd, LtPeer, Opentracker, free_port, payload_torrent, sha256_file, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
FILES = {"w.bin": 1024 * 1024 + 333}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def btd_watching(watch, extra=()):
    cfg = os.path.join(btdtest.tempdir("watch-cfg-"), "btd.json")
    with open(cfg, "w") as f:
        json.dump({"watch_dir": watch}, f)
    return Btd(BTD, extra=["--config", cfg] + list(extra))


def passes(btd, watch):
    """How many times btd has read the watch directory (its debug lines)."""
    return btd.log_text().count("watch: %s: " % watch)


def torrents(btd):
    return btd.call("torrent.list")


def test_dropped_torrent_is_added_and_downloaded(t):
    port = free_port()
    http, _ = Opentracker.urls(port)
    seed_dir, sums, torrent, ih = payload_torrent(BTCTL, FILES, "w.bin", [http],
                                                  piece_length=32768)
    tracker = Opentracker([ih], port)
    seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
    watch = btdtest.tempdir("watch-")
    other_seed, _, early, early_ih = payload_torrent(BTCTL, {"e.bin": 4096}, "e.bin")
    shutil.copy(early, os.path.join(watch, "early.torrent"))
    btd = btd_watching(watch)
    try:
        wait_until(lambda: os.path.exists(os.path.join(watch, "early.torrent.added")), 20,
                   "the file there at start to be added")
        t.eq([x["info_hash"] for x in torrents(btd)], [early_ih],
             "start: a .torrent already in the directory is added")
        with open(torrent, "rb") as f:
            data = f.read()
        path = os.path.join(watch, "w.torrent")
        before = passes(btd, watch)
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
            f.flush()
            wait_until(lambda: passes(btd, watch) > before, 20, "a pass over the half file")
            f.write(data[len(data) // 2:])
        wait_until(lambda: os.path.exists(path + ".added"), 20, "w.torrent.added")
        t.ok(not os.path.exists(path + ".invalid") and not os.path.exists(path),
             "a file read while half written is added once complete, not refused",
             os.listdir(watch))
        tid = next(x["id"] for x in torrents(btd) if x["info_hash"] == ih)
        btd.wait_done(tid, timeout=60)
        t.eq(sha256_file(os.path.join(btd.downloads, "w.bin")), sums["w.bin"],
             "the watched torrent downloads the original bytes into the download directory")
        shutil.copy(torrent, os.path.join(watch, "dup.torrent"))
        wait_until(lambda: os.path.exists(os.path.join(watch, "dup.torrent.added")), 20,
                   "dup.torrent.added")
        t.eq(len(torrents(btd)), 2, "a duplicate is renamed, not added twice")
        t.ok(not any(m in btd.log_text() for m in SANITIZER_MARKS), "no sanitizer report")
    finally:
        seeder.stop()
        tracker.stop()
        t.eq(btd.stop(), 0, "btd exits 0")


def test_garbage_is_set_aside(t):
    watch = btdtest.tempdir("watch-")
    btd = btd_watching(watch)
    try:
        bad = os.path.join(watch, "bad.torrent")
        with open(bad, "wb") as f:
            f.write(b"d8:announce3:xyz4:infod4:name")  # cut short
        # Set aside once it has not changed for BTD_WATCH_SETTLE_MS (5 s).
        wait_until(lambda: os.path.exists(bad + ".invalid"), 20, "bad.torrent.invalid")
        lines = [ln for ln in btd.log_text().splitlines() if "watch: bad.torrent:" in ln]
        t.ok(len(lines) == 1, "one line says why bad.torrent was set aside", lines)
        hexhash = "0123456789abcdef0123456789abcdef01234567"
        with open(os.path.join(watch, "m.magnet"), "w") as f:
            f.write(hexhash + "\n")
        wait_until(lambda: os.path.exists(os.path.join(watch, "m.magnet.added")), 20,
                   "m.magnet.added")
        st = torrents(btd)
        t.eq([(x["info_hash"], x["state"]) for x in st], [(hexhash, "metadata")],
             "a .magnet file with a bare info-hash adds a torrent waiting for its metadata")
        t.ok(btd.alive(), "btd keeps running")
    finally:
        t.eq(btd.stop(), 0, "garbage: btd exits 0")


def test_watch_moves_and_missing_dir_is_a_warning(t):
    missing = os.path.join(btdtest.tempdir("watch-"), "nope")
    btd = btd_watching(missing)
    try:
        t.ok(re.search(r"watch_dir %s: No such file or directory" % re.escape(missing),
                       btd.log_text()), "a missing watch_dir is a warning", btd.log_text()[-500:])
        second = btdtest.tempdir("watch2-")
        r = btdtest.run([BTCTL, "--socket", btd.socket, "set", "watch_dir", second], timeout=20)
        t.ok(r.returncode == 0, "btctl set watch_dir", r.stderr)
        t.eq(btd.call("session.get")["watch_dir"], second, "session.get shows the new watch_dir")
        _, _, torrent, ih = payload_torrent(BTCTL, {"s.bin": 5000}, "s.bin")
        shutil.copy(torrent, os.path.join(second, "s.torrent"))
        wait_until(lambda: os.path.exists(os.path.join(second, "s.torrent.added")), 20,
                   "s.torrent.added in the new watch_dir")
        t.eq([x["info_hash"] for x in torrents(btd)], [ih], "the new directory is watched")
        r = btdtest.run([BTCTL, "--socket", btd.socket, "set", "watch_dir", "relative"],
                        timeout=20)
        t.ok(r.returncode != 0 and "absolute" in r.stderr, "a relative watch_dir is refused",
             r.stderr)
    finally:
        t.eq(btd.stop(), 0, "move: btd exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_dropped_torrent_is_added_and_downloaded)
    t.run(test_garbage_is_set_aside)
    t.run(test_watch_moves_and_missing_dir_is_a_warning)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
