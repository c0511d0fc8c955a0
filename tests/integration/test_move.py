#!/usr/bin/python3
"""btctl move: a torrent's data goes to another directory, and the torrent with it.

A multi-file torrent seeded by btd is moved on one file system (rename) and
to a tmpfs (copy): its files leave the old directory (a foreign file there
stays), arrive intact, the torrent seeds again from the new place (a
libtorrent leecher downloads from it) and keeps it across a restart.
`--no-move` points a torrent at a copy of its data and checks it. A move
while downloading from a rate-limited seeder resumes there and completes.
A move onto a full tmpfs fails with one error line and loses nothing.
A kill -9 during a cross-fs move loses nothing either: the restart puts
the files back where the record says, deletes the partial copy, downloads
nothing, and a later move works; so does a record whose same-fs move was
cut short between renames (laid out by hand: renames are too quick to kill).
Bad requests get one-line errors.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import btdtest
from swarm import Btd, LtPeer, RpcError, payload_torrent, sha256_file, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
PIECE = 32768
# btctl create sorts by path: a.bin and c.bin come before sub/b.bin (the big one).
FILES = {"m/a.bin": 300 * 1024 + 11, "m/c.bin": 400 * 1024 + 5, "m/sub/b.bin": 1536 * 1024 + 7}


def data_intact(root, sums):
    return all(os.path.isfile(os.path.join(root, p)) and sha256_file(os.path.join(root, p)) == s
               for p, s in sums.items())


def none_left(root, sums):
    return not any(os.path.lexists(os.path.join(root, p)) for p in sums)


def wait_state(btd, tid, want, timeout=60):
    """Waits until the torrent's state is want; an unexpected error state raises."""
    def reached():
        st = btd.status(tid)
        if st["state"] == "error" and want != "error":
            raise RuntimeError("torrent error: %s" % st["error"])
        return st if st["state"] == want else None
    return wait_until(reached, timeout, "state %s" % want)


def btctl(btd, *args, cwd=None):
    return btdtest.run([BTCTL, "--socket", btd.socket] + list(args), timeout=30, cwd=cwd)


def rpc_error(btd, **params):
    try:
        btd.call("torrent.move", **params)
    except RpcError as e:
        return e.code, str(e)
    return None, None


def copy_payload(seed_dir):
    """A copy of the payload in a fresh directory btd may move away from."""
    src = btdtest.tempdir("move-src-")
    shutil.copytree(os.path.join(seed_dir, "m"), os.path.join(src, "m"))
    return src


def test_same_fs_move_seeds_from_there_and_survives_a_restart(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "m", piece_length=PIECE)
    src = copy_payload(seed_dir)
    with open(os.path.join(src, "m", "notes.txt"), "w") as f:
        f.write("not the torrent's")
    btd = Btd(BTD)
    again = leecher = None
    try:
        tid = btd.add(torrent, dir=src)["id"]
        btd.wait_done(tid, timeout=60)
        work = btdtest.tempdir("move-cwd-")
        r = btctl(btd, "move", str(tid), "new/place", cwd=work)
        new = os.path.join(os.path.realpath(work), "new", "place")
        t.ok(r.returncode == 0 and ("moving" in r.stdout or "seeding" in r.stdout),
             "btctl move with a relative DIR is accepted", r.stdout + r.stderr)
        st = wait_state(btd, tid, "seeding")
        t.eq(st["dir"], new, "the torrent's dir is the new one, made absolute by btctl")
        t.ok(data_intact(new, sums), "every file arrived intact")
        t.ok(none_left(src, sums), "no file of the torrent is left in the old dir")
        t.ok(os.path.isfile(os.path.join(src, "m", "notes.txt")),
             "a foreign file in the old dir stays")
        t.ok(not os.path.exists(os.path.join(src, "m", "sub")), "the emptied old dir is removed")
        t.ok("moved to %s: 3 file(s) renamed, 0 copied" % new in btd.log_text(),
             "one file system: the files were renamed")

        port = btd.call("session.get")["listen_port"]
        out = btdtest.tempdir("move-leech-")
        leecher = LtPeer(torrent, out, "127.0.0.3", seed=False, peers=["127.0.0.1:%d" % port],
                         wait_announce=False)
        leecher.wait_line("finished", 60)
        t.ok(data_intact(out, sums),
             "a libtorrent leecher downloads the data from btd at the new place")
        leecher.stop()
        leecher = None

        t.eq(btd.stop(), 0, "btd exits 0 after the move")
        again = Btd(BTD, state_dir=btd.state)
        st = again.wait_done(tid, timeout=60)
        t.eq(st["dir"], new, "after a restart the torrent is still in the new dir")
        t.eq(st["verified_bytes"], sum(FILES.values()), "... with all its data")
        t.ok("0 file(s) changed since, 0 piece(s) to check" in again.log_text(),
             "... trusted from the record written after the move", again.log_text()[-2000:])
    finally:
        if leecher:
            leecher.stop()
        if again:
            t.eq(again.stop(), 0, "restarted btd exits 0")
        elif btd.alive():
            btd.stop()


def other_fs_dir():
    """A fresh directory on a file system other than /tmp's (the tmpfs at /dev/shm), or None."""
    try:
        if os.stat("/dev/shm").st_dev == os.stat("/tmp").st_dev:
            return None
        d = tempfile.mkdtemp(prefix="btd-move-", dir="/dev/shm")
    except OSError:
        return None
    btdtest._dirs.append(d)  # removed at exit like the other temporary directories
    return d


def test_cross_fs_move_copies(t):
    shm = other_fs_dir()
    if not shm:
        t.diag("skipped: no other file system at /dev/shm")
        return
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "m", piece_length=PIECE)
    src = copy_payload(seed_dir)
    btd = Btd(BTD)
    leecher = None
    try:
        tid = btd.add(torrent, dir=src)["id"]
        btd.wait_done(tid, timeout=60)
        new = os.path.join(shm, "there")
        st = btd.call("torrent.move", id=str(tid), dir=new)
        t.eq(st["state"], "moving", "torrent.move answers with state moving")
        st = wait_state(btd, tid, "seeding")
        t.eq(st["dir"], new, "cross-fs: the torrent's dir is the new one")
        t.ok(data_intact(new, sums), "cross-fs: every file copied intact")
        t.ok(none_left(src, sums), "cross-fs: the sources are deleted")
        t.ok("moved to %s: 0 file(s) renamed, 3 copied" % new in btd.log_text(),
             "another file system: the files were copied")
        port = btd.call("session.get")["listen_port"]
        out = btdtest.tempdir("move-leech-")
        leecher = LtPeer(torrent, out, "127.0.0.4", seed=False, peers=["127.0.0.1:%d" % port],
                         wait_announce=False)
        leecher.wait_line("finished", 60)
        t.ok(data_intact(out, sums), "cross-fs: a leecher downloads from the new place")
    finally:
        if leecher:
            leecher.stop()
        t.eq(btd.stop(), 0, "cross-fs: btd exits 0")


def two_calls_at_once(btd, calls):
    """Sends requests in one write; returns the replies (btd answers in order)."""
    req = "".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p}) + "\n"
                  for i, (m, p) in enumerate(calls))
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(btd.socket)
        s.sendall(req.encode())
        buf = b""
        while buf.count(b"\n") < len(calls):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return [json.loads(line) for line in buf.splitlines()]


def test_no_move_checks_a_copy_and_bad_requests(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "m", piece_length=PIECE)
    src = copy_payload(seed_dir)
    copy = copy_payload(seed_dir)
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, dir=src)["id"]
        btd.wait_done(tid, timeout=60)
        r = btctl(btd, "move", str(tid), copy, "--no-move")
        t.ok(r.returncode == 0, "btctl move --no-move is accepted", r.stdout + r.stderr)
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["dir"], copy, "--no-move: the torrent points at the copy")
        t.eq((st["verified_bytes"], st["downloaded_bytes"]), (sum(FILES.values()), 0),
             "--no-move: the copy is checked whole, nothing downloaded")
        t.ok("now in %s: checking the data there" % copy in btd.log_text(),
             "--no-move: the data there was checked")
        t.ok(data_intact(src, sums), "--no-move: the old files are left alone")

        t.eq(rpc_error(btd, id="99", dir="/tmp/x")[0], -32001, "an unknown id is refused")
        t.eq(rpc_error(btd, id=str(tid), dir="rel/dir")[0], -32602, "a relative dir is refused")
        t.eq(rpc_error(btd, id=str(tid), dir="")[0], -32602, "an empty dir is refused")
        code, msg = rpc_error(btd, id=str(tid), dir=copy + "/")
        t.ok(code == -32602 and "already" in msg, "the torrent's own dir is refused", msg)
        replies = two_calls_at_once(btd, [
            ("torrent.verify", {"id": str(tid)}),
            ("torrent.move", {"id": str(tid), "dir": src + "/other"})])
        t.eq(replies[1].get("error", {}).get("code"), -32007, "no move while checking")
        btd.wait_done(tid, timeout=60)
        replies = two_calls_at_once(btd, [
            ("torrent.move", {"id": str(tid), "dir": src + "/again"}),
            ("torrent.move", {"id": str(tid), "dir": src + "/twice"}),
            ("torrent.remove", {"id": str(tid)})])
        t.eq(replies[0].get("result", {}).get("state"), "moving", "a move starts")
        t.eq([r.get("error", {}).get("code") for r in replies[1:]], [-32007, -32007],
             "no second move and no remove while moving")
        t.ok("already moving" in replies[1].get("error", {}).get("message", ""),
             "the busy error says why", replies[1])
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["dir"], src + "/again", "the first move went through")
        btd.call("torrent.pause", id=str(tid))
        st = btd.call("torrent.move", id=str(tid), dir=src + "/paused")
        st = wait_state(btd, tid, "paused")
        t.eq(st["dir"], src + "/paused", "a paused torrent moves")
        t.ok(data_intact(src + "/paused", sums), "... with its data, and stays paused")
        btd.call("torrent.resume", id=str(tid))
        btd.wait_done(tid, timeout=60)
        r = btctl(btd, "move", str(tid), "")
        t.ok(r.returncode == 2 and r.stderr.startswith("btctl:"), "btctl: an empty DIR is a usage "
             "error", r.stderr)
        r = btctl(btd, "move", "424242", "/tmp/nowhere")
        t.ok(r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
             and r.stderr.startswith("btctl:"), "btctl: a bad ID is one error line", r.stderr)
        r = btctl(btd, "move", "--help")
        t.ok(r.returncode == 0 and "--no-move" in r.stdout, "btctl move --help", r.stdout)
    finally:
        t.eq(btd.stop(), 0, "no-move: btd exits 0")


def test_move_while_downloading(t):
    files = {"m/a.bin": 200 * 1024, "m/c.bin": 300 * 1024, "m/sub/b.bin": 2 * 1024 * 1024 + 3}
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, files, "m", piece_length=PIECE)
    btd = Btd(BTD)
    seeder = None
    try:
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2", upload_limit=400 * 1024)
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        wait_until(lambda: btd.status(tid)["verified_bytes"] >= 256 * 1024, 60,
                   "some pieces downloaded")
        new = os.path.join(btdtest.tempdir("move-dl-"), "dst")
        st = btd.call("torrent.move", id=str(tid), dir=new)
        t.eq(st["state"], "moving", "a downloading torrent starts moving")
        t.ok(st["verified_bytes"] < sum(files.values()), "... before it is complete",
             st["verified_bytes"])
        wait_until(lambda: btd.status(tid)["state"] != "moving", 60, "the move's end")
        st = btd.wait_done(tid, timeout=90)
        t.eq(st["dir"], new, "downloading: the torrent completes in the new dir")
        t.ok(data_intact(new, sums), "downloading: the files in the new dir have the right sha256")
        t.ok(none_left(btd.downloads, sums), "downloading: nothing is left in the old dir")
        t.eq(st["hash_failures"], 0, "downloading: no piece failed its hash")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "downloading: btd exits 0")


def test_move_to_a_full_disk_loses_nothing(t):
    full = btdtest.tempdir("move-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", full],
                       capture_output=True, text=True)
    if r.returncode != 0:
        t.diag("skipped: cannot mount a small tmpfs: " + r.stderr.strip())
        return
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "m", piece_length=PIECE)
    src = copy_payload(seed_dir)
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, dir=src)["id"]
        btd.wait_done(tid, timeout=60)
        st = btd.call("torrent.move", id=str(tid), dir=full)
        st = wait_state(btd, tid, "error")
        msg = st["error"] or ""
        t.diag("the error: " + msg)
        t.ok("No space left on device while copying m/sub/b.bin" in msg and "nothing moved" in msg
             and src in msg, "a full target: one clear error naming the file", msg)
        t.eq(st["dir"], src, "the torrent stays in its dir")
        t.ok(data_intact(src, sums), "nothing is lost: every file intact in the old dir")
        t.eq(os.listdir(full), [], "the copies made before the failure are gone")
        r = btctl(btd, "status", str(tid))
        t.ok("No space left on device" in r.stdout, "btctl status shows the error", r.stdout)
        btctl(btd, "resume", str(tid))
        st = btd.wait_done(tid, timeout=60)
        t.eq((st["dir"], st["verified_bytes"]), (src, sum(FILES.values())),
             "btctl resume: seeding again from the old dir")
    finally:
        t.eq(btd.stop(), 0, "full disk: btd exits 0")
        subprocess.run(["umount", full], capture_output=True)


def test_shutdown_during_a_move_loses_nothing(t):
    """SIGTERM while a copy runs: after a restart every file is in the dir the torrent names."""
    shm = other_fs_dir()
    if not shm:
        t.diag("skipped: no other file system at /dev/shm")
        return
    files = dict(FILES, **{"m/sub/big.bin": 48 * 1024 * 1024})
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, files, "m", piece_length=1 << 20)
    src = copy_payload(seed_dir)
    btd = Btd(BTD)
    again = None
    try:
        tid = btd.add(torrent, dir=src)["id"]
        btd.wait_done(tid, timeout=60)
        new = os.path.join(shm, "there")
        btd.call("torrent.move", id=str(tid), dir=new)
        t.eq(btd.stop(), 0, "a shutdown during a move: btd exits 0")
        log = btd.log_text()
        t.diag("cancelled" if "the move to %s stops" % new in log else "the move ended first")
        again = Btd(BTD, state_dir=btd.state)
        st = again.wait_done(tid, timeout=60)
        other = src if st["dir"] == new else new
        t.ok(st["dir"] in (src, new), "after the restart the torrent names one of the dirs",
             st["dir"])
        t.eq((st["verified_bytes"], st["downloaded_bytes"]), (sum(files.values()), 0),
             "... and all its data is there, nothing to download")
        t.ok(data_intact(st["dir"], sums), "... intact")
        t.ok(none_left(other, sums), "... and none of it is left in the other dir")
    finally:
        if again:
            t.eq(again.stop(), 0, "after a shutdown during a move: btd exits 0")
        elif btd.alive():
            btd.stop()


def parts_in(*roots):
    """The .btd-part files beneath roots."""
    return [os.path.join(d, f) for root in roots for d, _, fs in os.walk(root) for f in fs
            if f.endswith(".btd-part")]


def test_kill_during_a_move_loses_nothing(t):
    """SIGKILL while a cross-fs copy runs: the restart recovers by itself."""
    shm = other_fs_dir()
    if not shm:
        t.diag("skipped: no other file system at /dev/shm")
        return
    files = dict(FILES, **{"m/sub/big.bin": 64 * 1024 * 1024})
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, files, "m", piece_length=1 << 20)
    src = copy_payload(seed_dir)
    total = sum(files.values())
    btd = Btd(BTD)
    again = None
    try:
        tid = btd.add(torrent, dir=src)["id"]
        btd.wait_done(tid, timeout=60)
        new = os.path.join(shm, "there")
        btd.call("torrent.move", id=str(tid), dir=new)
        first = os.path.join(new, "m", "a.bin")
        deadline = time.monotonic() + 30
        while not os.path.exists(first) and time.monotonic() < deadline:
            time.sleep(0.0005)  # a tight poll: the copy of the rest takes some tens of ms
        mid = not os.path.exists(os.path.join(new, "m", "sub", "big.bin"))
        os.kill(btd.proc.pid, signal.SIGKILL)
        btd.proc.wait(10)
        t.diag("killed %s" % ("half way" if mid else "after the last copy"))
        t.ok(mid, "the kill landed while the move ran (big.bin not yet in the target)")
        again = Btd(BTD, state_dir=btd.state)
        st = again.wait_done(tid, timeout=120)
        other = src if st["dir"] == new else new
        t.ok(st["dir"] in (src, new), "after the kill the torrent names one of the dirs", st["dir"])
        t.eq((st["verified_bytes"], st["downloaded_bytes"]), (total, 0),
             "... and all its data is there, nothing downloaded again")
        t.ok(data_intact(st["dir"], sums), "... every file intact")
        t.ok(none_left(other, sums), "... and none of it is left in the other dir")
        t.eq(parts_in(src, new), [], "no partial copy (.btd-part) is left")
        log = again.log_text()
        for line in log.splitlines():
            if "cut short" in line:
                t.diag(line)
        t.ok(not mid or "a move to %s was cut short" % new in log,
             "one notice line says what was recovered", log[-3000:])
        t.ok("resumed: %d of %d pieces verified, 0 file(s) changed" % (st["pieces"], st["pieces"])
             in log, "the files came back unchanged: nothing to check")
        st = again.call("torrent.move", id=str(tid), dir=os.path.join(shm, "later"))
        st = wait_state(again, tid, "seeding")
        t.eq(st["dir"], os.path.join(shm, "later"), "a later move works")
        t.ok(data_intact(st["dir"], sums), "... and takes every file intact")
    finally:
        if again:
            t.eq(again.stop(), 0, "after a kill during a move: btd exits 0")
        if btd.alive():
            btd.proc.kill()


def test_restart_puts_back_a_same_fs_move_cut_short(t):
    """A record with moving_to and files renamed half way (a kill between renames, by hand)."""
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "m", piece_length=PIECE)
    src = copy_payload(seed_dir)
    new = os.path.join(btdtest.tempdir("move-half-"), "there")
    btd = Btd(BTD)
    again = None
    try:
        tid = btd.add(torrent, dir=src)["id"]
        hexhash = btd.wait_done(tid, timeout=60)["info_hash"]
        t.eq(btd.stop(), 0, "same fs, by hand: btd exits 0")
        path = os.path.join(btd.state, "torrents", hexhash + ".resume")
        with open(path) as f:
            rec = json.load(f)
        rec["moving_to"] = new
        with open(path, "w") as f:
            json.dump(rec, f)
        os.makedirs(os.path.join(new, "m", "sub"))
        for rel in ("m/a.bin", "m/sub/b.bin"):
            os.rename(os.path.join(src, rel), os.path.join(new, rel))
        with open(os.path.join(new, "m", "c.bin.btd-part"), "w") as f:
            f.write("half a copy")
        again = Btd(BTD, state_dir=btd.state)
        st = again.wait_done(tid, timeout=60)
        t.eq((st["dir"], st["verified_bytes"], st["downloaded_bytes"]),
             (src, sum(FILES.values()), 0), "same fs: the files are back, nothing downloaded")
        t.ok(data_intact(src, sums), "same fs: every file intact")
        t.ok(none_left(new, sums) and parts_in(new) == [], "same fs: nothing left in the target")
        t.ok("2 file(s) renamed back, 0 copied back, 0 spare copies and 1 partial" in
             again.log_text(), "same fs: the notice says what was recovered")
        t.eq(again.stop(), 0, "same fs: restarted btd exits 0")
        with open(path) as f:
            rec = json.load(f)
        t.ok("moving_to" not in rec and rec["dir"] == src, "the record has no marker after", rec)
        again = None
    finally:
        if again:
            again.stop()
        elif btd.alive():
            btd.stop()


def main():
    t = btdtest.Tap()
    t.run(test_same_fs_move_seeds_from_there_and_survives_a_restart)
    t.run(test_cross_fs_move_copies)
    t.run(test_no_move_checks_a_copy_and_bad_requests)
    t.run(test_move_while_downloading)
    t.run(test_move_to_a_full_disk_loses_nothing)
    t.run(test_shutdown_during_a_move_loses_nothing)
    t.run(test_kill_during_a_move_loses_nothing)
    t.run(test_restart_puts_back_a_same_fs_move_cut_short)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
