#!/usr/bin/python3
"""btd under faults: a full disk, files deleted under it, no file descriptors left.

- ENOSPC: btd downloads a 6 MiB torrent from a python3-libtorrent seeder into
  a 4 MiB tmpfs (writes through the page cache), and again into an ext4
  loop file system with 4 MiB free (direct writes; made room by deleting a
  filler file). It must stop in state error naming the OS message and the
  file, keep its verified pieces and serve them to a libtorrent leecher, and
  finish the download once there is room again and `btctl resume` runs.
  Without the permission to mount (a container), the test is skipped.
- Files deleted: the file of a seeding btd is deleted; a leecher's requests
  put the torrent in state error with "files missing" and the path, logged
  once; `btctl verify` then downloads it again from a seeder.
- Removed after its file was deleted: the descriptor btd still holds is
  closed on a worker thread, not the loop (strace -f names the thread; the
  last close frees the file's blocks). Skipped where strace cannot attach.
- Descriptors: btd runs with RLIMIT_NOFILE 64. Raw connections to its peer
  port that send nothing take what peers may (btd turns the rest away),
  then idle control connections take the rest (the longest idle ones are
  closed to make room): a control call is answered within a bound all
  along, btd does not spin, logs once, recovers and exits 0.
"""

import os
import shutil
import socket
import sys
import time

import btdtest
from swarm import (Btd, LtPeer, payload_torrent, resident_pages, run_cmd, sha256_file,
                   unmount, wait_until)

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
MIB = 1024 * 1024
NOFILE = 64  # btd's descriptor limit in the last test


def btctl(btd, *args):
    return btdtest.run([BTCTL, "--socket", btd.socket] + list(args), timeout=30)


def log_lines(btd, text):
    return [ln for ln in btd.log_text().splitlines() if text in ln]


def wait_state(btd, tid, state, timeout):
    return wait_until(lambda: (lambda st: st if st["state"] == state else None)(btd.status(tid)),
                      timeout, "torrent %s in state %s" % (tid, state))


def small_tmpfs(path):
    """A 4 MiB tmpfs at path (btd writes through the page cache there); None or why not.
    Returns (why, grow), grow() making it 16 MiB."""
    why = run_cmd(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", path])
    return why, lambda: run_cmd(["mount", "-o", "remount,size=16m", path])


def small_ext4(path):
    """An ext4 file system on a loop device at path, filled but for 4 MiB by a filler file (btd
    writes past the page cache there); grow() deletes the filler."""
    image = os.path.join(btdtest.tempdir("img-"), "fs.img")
    with open(image, "wb") as f:
        f.truncate(24 * MIB)
    why = run_cmd(["mkfs.ext4", "-q", "-F", "-m", "0", image]) or \
        run_cmd(["mount", "-o", "loop", image, path])
    if why:
        return why, None
    filler = os.path.join(path, "filler")
    st = os.statvfs(path)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize - 4 * MIB)
    finally:
        os.close(fd)
    return None, lambda: os.unlink(filler)


def disk_full(t, label, make_fs, direct=False):
    """btd fills a small file system, stops in error keeping what it verified, serves it,
    and finishes once there is room again and btctl resume runs."""
    size = 6 * MIB
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, {"x.bin": size}, "x.bin",
                                                 piece_length=65536)
    small = btdtest.tempdir("small-")
    btd = seeder = leecher = None
    try:
        why, grow = make_fs(small)
        if why:
            t.ok(True, "%s # SKIP cannot make the file system: %s" % (label, why))
            return
        btd = Btd(BTD)
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
        tid = btd.add(torrent, dir=small, peers=[seeder.addr])["id"]
        st = wait_state(btd, tid, "error", 60)
        path = os.path.join(small, "x.bin")
        t.ok("No space left on device" in (st["error"] or ""),
             "%s: state error with the OS message" % label, st["error"])
        t.ok(path in (st["error"] or ""), "%s: the error names the file" % label, st["error"])
        verified = st["verified_bytes"]
        t.ok(0 < verified < size, "%s: some pieces verified before the disk filled" % label,
             verified)
        if direct:
            cached, pages = resident_pages(path)
            t.ok(cached < pages / 10, "%s: what was written is not in the page cache" % label,
                 (cached, pages))
        time.sleep(3)
        st = btd.status(tid)
        t.eq((st["state"], st["verified_bytes"]), ("error", verified),
             "%s: no downloading meanwhile, verified bytes kept" % label)

        port = btd.call("session.get")["listen_port"]
        out = btdtest.tempdir("leech-")
        leecher = LtPeer(torrent, out, "127.0.0.3", seed=False, peers=["127.0.0.1:%d" % port],
                         wait_announce=False)
        try:
            wait_until(lambda: btd.status(tid)["uploaded_bytes"] >= 65536, 60,
                       "btd to upload a piece")
        except TimeoutError:
            pass
        st = btd.status(tid)
        t.ok(st["uploaded_bytes"] >= 65536,
             "%s: btd still serves its verified pieces to a leecher" % label,
             (st["uploaded_bytes"], leecher.lines()[-5:]))
        leecher.stop()
        leecher = None

        lines = log_lines(btd, "No space left on device")
        t.eq(len(lines), 1, "%s: one log line for the faults of that minute" % label)

        t.eq(grow(), None, "%s: room made on the file system" % label)
        res = btctl(btd, "resume", str(tid))
        t.ok(res.returncode == 0, "%s: btctl resume" % label, res.stderr)
        st = btd.wait_done(tid, timeout=120)
        t.eq(st["error"], None, "%s: resumed, the error is cleared" % label)
        t.eq(sha256_file(path), sums["x.bin"], "%s: then the download completes" % label)
    finally:
        try:
            for p in (leecher, seeder):
                if p:
                    p.stop()
            if btd:
                t.eq(btd.stop(), 0, "%s: btd exits 0" % label)
        finally:
            why = unmount(small)
            if why:
                t.diag("%s: %s" % (label, why))


def test_disk_full_then_resumed(t):
    disk_full(t, "disk full (tmpfs)", small_tmpfs)


def test_disk_full_with_direct_writes(t):
    disk_full(t, "disk full (ext4, direct writes)", small_ext4, direct=True)


def test_files_deleted_while_seeding(t):
    size = 2 * MIB + 333
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, {"gone.bin": size}, "gone.bin",
                                                 piece_length=32768)
    btd = Btd(BTD)
    seeder = leecher = None
    try:
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        btd.wait_done(tid, timeout=60)
        path = os.path.join(btd.downloads, "gone.bin")
        os.unlink(path)

        port = btd.call("session.get")["listen_port"]
        leecher = LtPeer(torrent, btdtest.tempdir("leech-"), "127.0.0.3", seed=False,
                         peers=["127.0.0.1:%d" % port], wait_announce=False)
        st = wait_state(btd, tid, "error", 60)
        t.ok((st["error"] or "").startswith("files missing"),
             "deleted: state error, files missing", st["error"])
        t.ok(path in (st["error"] or ""), "deleted: the error names the file", st["error"])
        time.sleep(3)  # the leecher keeps asking
        lines = log_lines(btd, "files missing")
        t.eq(len(lines), 1, "deleted: one log line for the faults of that minute")
        t.ok(btd.alive() and btd.call("session.get")["torrents"] == 1,
             "deleted: btd alive and answering")
        t.ok(not os.path.exists(path), "deleted: not downloaded again on its own")
        leecher.stop()
        leecher = None

        res = btctl(btd, "verify", str(tid))
        t.ok(res.returncode == 0, "deleted: btctl verify", res.stderr)
        btd.wait_done(tid, timeout=120)
        t.eq(sha256_file(path), sums["gone.bin"], "deleted: verify downloads it again")
    finally:
        for p in (leecher, seeder):
            if p:
                p.stop()
        t.eq(btd.stop(), 0, "deleted: btd exits 0")


def fd_links(pid):
    """{fd: what it links to} of a process; descriptors closed while listed are left out."""
    links = {}
    for n in os.listdir("/proc/%d/fd" % pid):
        try:
            links[int(n)] = os.readlink("/proc/%d/fd/%s" % (pid, n))
        except FileNotFoundError:
            pass
    return links


def traced_by(pid, task):
    """TracerPid of one of pid's threads (0: none)."""
    with open("/proc/%d/task/%s/status" % (pid, task)) as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("TracerPid:"))


def closes(trace, fd):
    """The threads that closed fd, in order, from strace -f's output file (a close another
    thread's call interrupted in the output is "close(FD <unfinished ...>")."""
    tids = []
    with open(trace) as f:
        for line in f:
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[1].startswith(("close(%d)" % fd, "close(%d <" % fd)):
                tids.append(int(parts[0]))
    return tids


def test_removed_after_files_deleted(t):
    """The file of a seeding torrent is deleted, then the torrent removed: the descriptor btd
    still holds is closed on a worker, not on the loop thread (that last close frees the
    file's blocks: 1.2 s for 4 GiB on ext4)."""
    seed_dir, _, torrent, _ = payload_torrent(BTCTL, {"held.bin": 4 * MIB + 7}, "held.bin",
                                              piece_length=65536)
    path = os.path.join(seed_dir, "held.bin")
    if not shutil.which("strace"):
        t.ok(True, "removed # SKIP strace is not installed")
        return
    btd = Btd(BTD)
    trace = os.path.join(btdtest.tempdir("strace-"), "close.txt")
    tracer = None
    try:
        tid = btd.add(torrent, dir=seed_dir)["id"]
        btd.wait_done(tid, timeout=60)
        pid = btd.proc.pid
        fds = [fd for fd, target in fd_links(pid).items() if target == path]
        t.ok(len(fds) == 1, "removed: btd holds the seeded file open", fds)
        os.unlink(path)
        errors = os.path.join(os.path.dirname(trace), "stderr.txt")
        with open(errors, "w") as err:
            tracer = btdtest.start(["strace", "-f", "-qq", "-e", "trace=close", "-o", trace,
                                    "-p", str(pid)], stderr=err)

        def traced():
            tasks = os.listdir("/proc/%d/task" % pid)
            return tracer.poll() is not None or all(traced_by(pid, task) == tracer.pid
                                                    for task in tasks)
        wait_until(traced, 20, "strace to attach to every thread of btd")
        if tracer.poll() is not None:
            with open(errors) as f:
                why = f.read().strip().splitlines()[-1:] or ["exit %d" % tracer.returncode]
            t.ok(True, "removed # SKIP strace cannot trace btd: %s" % why[0])
            return
        res = btctl(btd, "remove", str(tid))
        t.ok(res.returncode == 0, "removed: btctl remove", res.stderr)
        wait_until(lambda: not any(target.startswith(path) for target in fd_links(pid).values()),
                   20, "btd to close the deleted file")
        btdtest.stop(tracer)
        tracer = None
        tids = closes(trace, fds[0]) if fds else []
        t.ok(len(tids) >= 1 and tids[0] != pid,
             "removed: the deleted file is closed on a worker thread, not the loop (%d)" % pid,
             tids)
        t.ok(btd.alive() and btd.call("session.get")["torrents"] == 0,
             "removed: btd alive, no torrent left")
    finally:
        if tracer:
            btdtest.stop(tracer)
        t.eq(btd.stop(), 0, "removed: btd exits 0")


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_call(btd, bound):
    """session.get within bound seconds: (result or the exception, seconds)."""
    start = time.monotonic()
    try:
        reply = btd.raw(b'{"jsonrpc":"2.0","id":1,"method":"session.get"}\n', timeout=bound)
    except OSError as e:
        reply = e
    return reply, time.monotonic() - start


def unix_connect(path, timeout):
    """A connected AF_UNIX socket, retried while the listen backlog is full; None after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            time.sleep(0.02)
        except OSError:
            s.close()
            return None
    return None


def closed_count(conns):
    """How many of these non-blocking sockets the other end closed."""
    n = 0
    for c in conns:
        try:
            n += c.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            pass
        except OSError:
            n += 1
    return n


def answered(reply):
    return reply if isinstance(reply, bytes) and b'"result"' in reply else None


def idle(btd, seconds):
    """btd's CPU seconds over that many seconds of wall time."""
    before = cpu_seconds(btd.proc.pid)
    time.sleep(seconds)
    return cpu_seconds(btd.proc.pid) - before


def test_out_of_descriptors(t):
    btd = Btd(BTD, wrapper=["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE), "--"])
    conns = []
    try:
        btd.call("session.set", max_half_open=1000, max_peers_global=1000)
        port = btd.call("session.get")["listen_port"]
        for _ in range(3 * NOFILE):
            try:
                conns.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        for c in conns:
            c.setblocking(False)
        wait_until(lambda: closed_count(conns), 10, "btd to turn connections away")
        time.sleep(0.5)
        t.ok(log_lines(btd, "out of file descriptors"), "peers: btd logs the shortage")
        reply, took = timed_call(btd, 5)
        t.ok(answered(reply) and took < 5,
             "peers: a control call is answered (%.2f s) while peers take every descriptor" %
             took, reply)
        closed = closed_count(conns)
        t.ok(0 < closed < len(conns),
             "peers: btd holds some connections and turns those it has no room for away",
             (closed, len(conns)))
        t.ok(open_fds(btd.proc.pid) <= NOFILE, "peers: within the limit")
        t.ok(idle(btd, 2) < 1.0, "peers: btd does not spin")
        for c in conns:
            c.close()
        conns = []

        # Idle control clients take the descriptors left: the longest idle ones make room.
        for _ in range(2 * NOFILE):
            s = unix_connect(btd.socket, 5)
            if not s:
                break
            conns.append(s)
        time.sleep(1)
        reply, took = timed_call(btd, 5)
        t.ok(answered(reply) and took < 5,
             "control: %d idle clients, a call is still answered (%.2f s)" % (len(conns), took),
             reply)
        for c in conns:
            c.setblocking(False)
        closed = closed_count(conns)
        t.ok(0 < closed < len(conns), "control: the longest idle clients were closed to make room",
             (closed, len(conns)))
        t.ok(open_fds(btd.proc.pid) <= NOFILE, "control: within the limit")
        t.ok(idle(btd, 2) < 1.0, "control: btd does not spin")
        for c in conns:
            c.close()
        conns = []
        reply = wait_until(lambda: answered(timed_call(btd, 5)[0]), 10, "an answer")
        t.ok(isinstance(reply, bytes) and b'"result"' in reply,
             "control: answers again once the clients are gone", reply)
        t.eq(len(log_lines(btd, "out of file descriptors")), 1,
             "one log line for the descriptor shortage of that minute")
        t.ok(btd.alive(), "descriptors: btd alive")
    finally:
        for c in conns:
            c.close()
        t.eq(btd.stop(), 0, "descriptors: btd exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_disk_full_then_resumed)
    t.run(test_disk_full_with_direct_writes)
    t.run(test_files_deleted_while_seeding)
    t.run(test_removed_after_files_deleted)
    t.run(test_out_of_descriptors)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
