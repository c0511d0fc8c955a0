#!/usr/bin/python3
"""The watch directory (watch_dir): btd adds the .torrent and .magnet files dropped in it.

A torrent seeded by python3-libtorrent through opentracker is dropped into
btd's watch directory (written in two halves, the first given time to be
read, so a file still being copied in is not refused), and btd adds and
downloads it and renames the file NAME.torrent.added. A file already there
when btd starts is added at start; a duplicate is only renamed; garbage is
renamed .invalid with one warning naming it while btd keeps running; a
.magnet file holding a bare info-hash adds a torrent that waits for its
metadata. Directories and FIFOs named .torrent are passed over; 150 files
btd cannot rename do not keep a good one from being added, nor does a
file in the directory written to every 0.1 s; a torrent whose download
directory cannot be made stays, with one warning, and is added once that
is mended. `btctl set watch_dir` moves the watch to another directory, and
a watch_dir that does not exist is a warning, not a failed start.
"""

import json
import os
import re
import shutil
import sys
import threading
import time

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


def test_odd_entries_and_busy_directories(t):
    """Directories and FIFOs named .torrent are passed over; files btd cannot rename do not
    crowd out the rest; a directory written to all the time is still read."""
    watch = btdtest.tempdir("watch-")
    os.mkdir(os.path.join(watch, "adir.torrent"))
    os.mkfifo(os.path.join(watch, "fifo.torrent"))
    for i in range(150):  # garbage whose NAME.invalid is a non-empty directory: no rename
        with open(os.path.join(watch, "junk%03d.torrent" % i), "wb") as f:
            f.write(b"junk")
        os.makedirs(os.path.join(watch, "junk%03d.torrent.invalid" % i, "x"))
    btd = btd_watching(watch)
    stop = []

    def busy():
        with open(os.path.join(watch, "busy.log"), "a") as f:
            while not stop:
                f.write("x\n")
                f.flush()
                time.sleep(0.1)
    writer = threading.Thread(target=busy, daemon=True)
    try:
        wait_until(lambda: btd.log_text().count("cannot rename junk") == 150, 30,
                   "btd to give up on the 150 files it cannot rename")
        writer.start()
        _, _, torrent, ih = payload_torrent(BTCTL, {"g.bin": 3000}, "g.bin")
        shutil.copy(torrent, os.path.join(watch, "zz-good.torrent"))
        wait_until(lambda: os.path.exists(os.path.join(watch, "zz-good.torrent.added")), 20,
                   "zz-good.torrent.added, with 150 unrenamable files and a busy directory")
        t.eq([x["info_hash"] for x in torrents(btd)], [ih],
             "a torrent is added behind 150 files btd gave up on, while the directory is busy")
        t.ok(os.path.isdir(os.path.join(watch, "adir.torrent"))
             and os.path.exists(os.path.join(watch, "fifo.torrent"))
             and "adir.torrent" not in btd.log_text() and "fifo.torrent" not in btd.log_text(),
             "a directory and a FIFO named .torrent are passed over without a word")
    finally:
        stop.append(1)
        if writer.is_alive():
            writer.join(10)
        t.eq(btd.stop(), 0, "odd: btd exits 0")


def test_add_failing_for_now_is_tried_again(t):
    """A torrent that cannot be added yet (its download directory cannot be made) stays, with
    one warning, and is added once that is mended."""
    watch = btdtest.tempdir("watch-")
    base = btdtest.tempdir("watch-dl-")
    blocker = os.path.join(base, "mnt")
    with open(blocker, "w") as f:
        f.write("not a directory")
    btd = btd_watching(watch, extra=["--download-dir", os.path.join(blocker, "downloads")])
    try:
        _, _, torrent, ih = payload_torrent(BTCTL, {"n.bin": 3000}, "n.bin")
        path = os.path.join(watch, "n.torrent")
        shutil.copy(torrent, path)
        wait_until(lambda: "watch: n.torrent: cannot be added now" in btd.log_text(), 20,
                   "the warning about n.torrent")
        before = passes(btd, watch)
        with open(os.path.join(watch, "poke.txt"), "w") as f:
            f.write("a change, so btd reads the directory again")
        wait_until(lambda: passes(btd, watch) > before, 20, "another pass")
        t.ok(os.path.exists(path) and btd.log_text().count("n.torrent: cannot be added") == 1,
             "the file stays, and the warning is not repeated at the next pass")
        os.remove(blocker)
        os.makedirs(os.path.join(blocker, "downloads"))
        with open(os.path.join(watch, "poke2.txt"), "w") as f:
            f.write("again")
        wait_until(lambda: os.path.exists(path + ".added"), 20, "n.torrent.added once mended")
        t.eq([x["info_hash"] for x in torrents(btd)], [ih], "then it is added")
    finally:
        t.eq(btd.stop(), 0, "not now: btd exits 0")


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
        r = btdtest.run([BTCTL, "--socket", btd.socket, "set", "watch_dir", missing], timeout=20)
        t.ok(r.returncode != 0 and "No such file or directory" in r.stderr
             and btd.call("session.get")["watch_dir"] == second,
             "btctl set watch_dir to a missing directory is refused, the watch stays", r.stderr)
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
    t.run(test_odd_entries_and_busy_directories)
    t.run(test_add_failing_for_now_is_tried_again)
    t.run(test_watch_moves_and_missing_dir_is_a_warning)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
