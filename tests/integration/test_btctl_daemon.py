#!/usr/bin/python3
"""btctl drives a real btd: add (a file, and a URL served on 127.0.0.1), wait,
list, status, jobs, files, pause, resume, remove, session and shutdown, and
the errors a person meets.

One btd on a fresh directory (--port 0, its own socket) downloads a 4 MiB
random file from two python3-libtorrent seeders on 127.0.0.2 and 127.0.0.3,
dialled directly with --peer (no tracker). Every wait is bounded; every
process is stopped by its PID (btdtest).
"""

import http.server
import json
import os
import sys
import threading

import btdtest
from swarm import Btd, LtPeer, create_torrent, make_payload, sha256_file, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")

COMMANDS = ["add", "list", "status", "wait", "jobs", "peers", "files", "pause", "resume",
            "remove", "session", "shutdown", "create", "info"]


class Ctx:
    """What the checks share: btd, the seeders, the torrents."""
    btd = None
    seeders = []
    torrent = None  # the seeded torrent
    info_hash = None
    sums = None
    tid = None  # its ID in btd
    lonely = None  # a torrent nobody seeds
    lonely_id = None


def ctl(*args, timeout=60, cwd=None):
    return btdtest.run([BTCTL, "--socket", Ctx.btd.socket] + list(args), timeout=timeout, cwd=cwd)


def one_line(text):
    return len(text.strip().splitlines()) == 1


def ctl_json(*args):
    res = ctl(*args)
    if res.returncode != 0:
        raise RuntimeError("btctl %s failed: %s" % (" ".join(args), res.stderr))
    return json.loads(res.stdout)


def test_help(t):
    res = btdtest.run([BTCTL, "--help"])
    t.eq(res.returncode, 0, "btctl --help exits 0")
    listed = [ln.split()[0] for ln in res.stdout.splitlines() if ln.startswith("  ")
              and not ln.lstrip().startswith("-")]
    t.eq([c for c in COMMANDS if c not in listed], [], "btctl --help lists every command")
    bad = []
    for c in COMMANDS:
        r = btdtest.run([BTCTL, c, "--help"])
        if r.returncode != 0 or not r.stdout.startswith("usage: btctl %s " % c):
            bad.append(c)
    t.eq(bad, [], "btctl CMD --help shows each command's usage")


def setup(t):
    seed_dir = btdtest.tempdir("seed-")
    Ctx.sums = make_payload(seed_dir, {"payload.bin": 4 * 1024 * 1024})
    tdir = btdtest.tempdir("torrent-")
    Ctx.torrent = os.path.join(tdir, "payload.torrent")
    Ctx.info_hash = create_torrent(BTCTL, os.path.join(seed_dir, "payload.bin"), Ctx.torrent)
    # A second payload no one seeds: it can never finish.
    lonely_dir = btdtest.tempdir("lonely-")
    make_payload(lonely_dir, {"lonely.bin": 1024 * 1024})
    Ctx.lonely = os.path.join(tdir, "lonely.torrent")
    create_torrent(BTCTL, os.path.join(lonely_dir, "lonely.bin"), Ctx.lonely)
    Ctx.seeders = [LtPeer(Ctx.torrent, seed_dir, ip) for ip in ("127.0.0.2", "127.0.0.3")]
    Ctx.btd = Btd(BTD)
    t.ok(True, "btd and two seeders are up")


def test_empty(t):
    res = ctl("list")
    t.ok(res.returncode == 0 and res.stdout == "" and "no torrents" in res.stderr,
         "list with no torrents says so on stderr", res)


def test_add_and_wait(t):
    args = ["add", Ctx.torrent]
    for s in Ctx.seeders:
        args += ["--peer", s.addr]
    res = ctl(*args)
    t.eq(res.returncode, 0, "add exits 0")
    lines = res.stdout.splitlines()
    t.eq(lines[0] if lines else None, Ctx.info_hash,
         "add prints the info-hash btctl create printed, on line 1")
    t.ok(len(lines) == 2 and lines[1].startswith("added ") and '"payload.bin"' in lines[1],
         "add's second line names the torrent", lines)
    Ctx.tid = lines[1].split()[1]
    res = ctl("wait", Ctx.tid, "--timeout", "120", timeout=150)
    t.eq(res.returncode, 0, "wait exits 0 when the download completes")
    t.ok(res.stdout.splitlines()[-1].endswith("complete, 4.00 MiB"),
         "wait ends with a 'complete' line", res.stdout[-300:])
    progress = [ln for ln in res.stdout.splitlines() if ln.startswith("progress ")]
    t.ok(all(ln.split()[1].endswith("%") for ln in progress),
         "wait (not a terminal) prints plain progress lines", progress[:3])
    got = sha256_file(os.path.join(Ctx.btd.downloads, "payload.bin"))
    t.eq(got, Ctx.sums["payload.bin"], "the downloaded file has the original sha256")


def test_views(t):
    res = ctl("list")
    rows = [ln.split() for ln in res.stdout.splitlines()]
    t.eq(rows[0][:3] if rows else None, ["ID", "STATE", "PROGRESS"], "list has a header")
    mine = [r for r in rows[1:] if r[-1] == "payload.bin"]
    t.ok(len(mine) == 1 and mine[0][1] == "seeding" and mine[0][2] == "100.0%",
         "list shows the torrent seeding at 100.0%", res.stdout)
    st = ctl_json("status", Ctx.tid, "--json")
    t.eq(st["progress"], 1.0, "status --json: progress 1.0")
    t.eq(st["info_hash"], Ctx.info_hash, "status --json: the info-hash")
    res = ctl("status", Ctx.info_hash[:8])
    t.ok(res.returncode == 0 and "State:" in res.stdout and "seeding" in res.stdout,
         "status by an info-hash prefix prints a block", res.stdout)
    jobs = ctl_json("--json", "jobs", Ctx.tid)
    t.eq(jobs["unclaimed"], 0, "jobs --json: nothing unclaimed after completion")
    t.eq((jobs["have"], jobs["pieces"], jobs["pending"]), (st["pieces"], st["pieces"], []),
         "jobs --json: every piece had, none pending")
    t.eq(jobs["unclaimed"], st["jobs"]["unclaimed"], "jobs agrees with status")
    res = ctl("files", Ctx.tid)
    t.ok(res.returncode == 0 and res.stdout.splitlines()[-1].split()[-1] == "payload.bin"
         and "4.00 MiB" in res.stdout, "files lists the file and its size", res.stdout)
    res = ctl("peers", Ctx.tid)
    t.eq(res.returncode, 0, "peers exits 0")
    res = ctl("session")
    t.ok(res.returncode == 0 and "Version:" in res.stdout, "session prints the version",
         res.stdout)


def test_errors(t):
    res = ctl("add", Ctx.torrent)
    t.ok(res.returncode == 1 and one_line(res.stderr) and "already" in res.stderr,
         "adding the same torrent again fails with one line", res)
    res = ctl("status", "nonexistent")
    t.ok(res.returncode == 1 and one_line(res.stderr) and res.stdout == "",
         "status of an unknown ID exits 1 with one line", res)
    res = ctl("jobs")
    t.eq(res.returncode, 2, "a missing ID is a usage error (exit 2)")


def test_paused(t):
    cwd = btdtest.tempdir("cwd-")
    res = ctl("add", Ctx.lonely, "--paused", "--dir", "rel", cwd=cwd)
    t.eq(res.returncode, 0, "add --paused --dir rel exits 0")
    Ctx.lonely_id = res.stdout.splitlines()[1].split()[1]
    st = ctl_json("status", Ctx.lonely_id, "--json")
    t.eq((st["state"], st["dir"]), ("paused", os.path.join(os.path.realpath(cwd), "rel")),
         "the torrent is paused, its relative --dir made absolute")
    jobs = ctl_json("jobs", Ctx.lonely_id, "--json")
    t.eq(jobs["unclaimed"] + jobs["have"], jobs["pieces"],
         "paused: unclaimed + have = pieces")
    t.eq(jobs["pending"], [], "paused: nothing pending")
    res = ctl("wait", Ctx.lonely_id, "--timeout", "1", timeout=30)
    t.ok(res.returncode == 2 and one_line(res.stderr)
         and "btctl: wait: timed out after 1 s" in res.stderr,
         "wait --timeout 1 on a paused torrent exits 2", res)
    res = ctl("status")
    t.eq(res.stdout.count("\nName:") + res.stdout.startswith("Name:"), 2,
         "status without ID shows both torrents")
    res = ctl("resume", Ctx.lonely_id)
    t.ok(res.returncode == 0 and res.stdout.strip().endswith((": checking", ": downloading")),
         "resume: one line, now checking its data (added paused, never checked)", res.stdout)
    state = wait_until(lambda: (lambda s: s if s != "checking" else None)(
        ctl_json("status", Ctx.lonely_id, "--json")["state"]), 30, "the check to end")
    t.eq(state, "downloading", "resume changes the state")
    res = ctl("pause", Ctx.lonely_id)
    t.ok(res.returncode == 0 and res.stdout.strip().endswith(": paused"),
         "pause: one line, now paused", res.stdout)
    t.eq(ctl_json("status", Ctx.lonely_id, "--json")["state"], "paused",
         "pause changes the state")
    res = ctl("remove", Ctx.lonely_id)
    t.ok(res.returncode == 0 and one_line(res.stdout) and res.stdout.startswith("removed "),
         "remove: one line", res.stdout)
    names = [r["name"] for r in ctl_json("--json", "list")]
    t.eq(names, ["payload.bin"], "list no longer shows the removed torrent")


class _Handler(http.server.BaseHTTPRequestHandler):
    """/t.torrent: the lonely torrent; /moved: a redirect to it; /junk: not a torrent."""

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/t.torrent")
            self.end_headers()
            return
        if self.path not in ("/t.torrent", "/junk"):
            self.send_error(404)
            return
        with open(Ctx.lonely, "rb") as f:
            body = f.read() if self.path == "/t.torrent" else b"<html>not a torrent</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_add_by_url(t):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        res = ctl("add", base + "/moved", "--paused")
        lines = res.stdout.splitlines()
        t.ok(res.returncode == 0 and len(lines) == 2 and '"lonely.bin"' in lines[1],
             "add URL follows the redirect and adds the torrent it fetched", res)
        res = ctl("add", base + "/nothing")
        t.ok(res.returncode == 1 and one_line(res.stderr) and "HTTP 404" in res.stderr,
             "add URL: a 404 is one line saying HTTP 404", res)
        res = ctl("add", base + "/junk")
        t.ok(res.returncode == 1 and one_line(res.stderr) and "not a valid torrent" in res.stderr
             and base + "/junk" in res.stderr, "add URL: a body that is no torrent is refused",
             res)
        server.shutdown()
        server.server_close()  # the port refuses connections from now on
        res = ctl("add", base + "/t.torrent")
        t.ok(res.returncode == 1 and one_line(res.stderr) and base in res.stderr,
             "add URL: a refused connection is one line naming the URL", res)
        if lines[1:]:
            ctl("remove", lines[1].split()[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_shutdown(t):
    res = ctl("shutdown")
    t.ok(res.returncode == 0 and one_line(res.stdout), "shutdown: one line", res)
    wait_until(lambda: Ctx.btd.proc.poll() is not None, 30, "btd to exit")
    t.eq(Ctx.btd.stop(), 0, "btd exits 0 after shutdown")
    res = ctl("list")
    t.ok(res.returncode == 1 and one_line(res.stderr) and "btd is not running" in res.stderr,
         "with btd stopped, list exits 1 saying btd is not running", res)


def main():
    t = btdtest.Tap()
    t.run(test_help)
    t.run(setup)
    if Ctx.btd is not None:
        for fn in (test_empty, test_add_and_wait, test_views, test_errors, test_paused,
                   test_add_by_url, test_shutdown):
            t.run(fn)
    for s in Ctx.seeders:
        s.stop()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
