#!/usr/bin/python3
"""Seeding goals: a seed stops at its ratio limit or after its idle limit.

btd seeds data it checked in place to a real python3-libtorrent leecher,
through opentracker. With a ratio limit of 0.5 of its own (over a global
one of 5 it would never reach) and an upload limit that keeps the leecher
from finishing, it stops once it has uploaded half the torrent: state
`finished`, a notice naming the goal, no peer left, and opentracker no
longer lists it as a seed (its `stopped` landed). A restart keeps it
finished, and so does a check of its data; `btctl resume` seeds again with
no ratio limit of its own. An unused seed stops after a 3 s idle limit, but
not the torrent whose own idle limit is `unlimited`. The configuration
file sets the global goals, and SIGHUP reads them again. Bad values are
refused in one line, by btctl, over JSON-RPC and in the file, and change
nothing.
"""

import json
import math
import os
import re
import signal
import sys
import time

import btdtest
from swarm import Btd, LtPeer, Opentracker, RpcError, free_port, payload_torrent, scrape, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
MIB = 1024 * 1024
SIZE = 4 * MIB
FILES = {"goal.bin": SIZE}


def btctl(btd, *args):
    return btdtest.run([BTCTL, "--socket", btd.socket] + list(args), timeout=20)


def one_line_error(r):
    return r.returncode != 0 and r.stdout == "" and len(r.stderr.splitlines()) == 1


def test_ratio_limit_stops_the_seed(t):
    port = free_port()
    http, _ = Opentracker.urls(port)
    seed_dir, _, torrent, ih = payload_torrent(BTCTL, FILES, "goal.bin", [http],
                                               piece_length=32768)
    tracker = Opentracker([ih], port)
    btd = Btd(BTD)
    leecher = btd2 = None
    try:
        r = btctl(btd, "set", "seed_ratio_limit", "5")
        t.eq(r.returncode, 0, "btctl set seed_ratio_limit 5 is accepted")
        t.eq(btd.call("session.get")["seed_ratio_limit"], 5, "session.get shows the global ratio")
        r = btctl(btd, "session")
        t.ok("seeds until ratio 5" in r.stdout, "btctl session shows the global ratio limit",
             r.stdout)
        tid = btd.add(torrent, dir=seed_dir)["id"]
        btd.wait_done(tid, timeout=60)
        r = btctl(btd, "set", "--torrent", str(tid), "seed_ratio_limit", "0.5")
        t.eq(r.returncode, 0, "btctl set --torrent ID seed_ratio_limit 0.5 is accepted")
        btd.call("torrent.set", id=str(tid), upload_limit=MIB)  # the leecher must not finish
        st = btd.status(tid)
        t.eq((st["seed_ratio_limit"], st["seed_ratio_limit_from"]), (0.5, "torrent"),
             "torrent.get: the torrent's own ratio limit beats the global one")
        t.eq(st["ratio"], 0.0, "torrent.get: ratio 0 before any upload")
        wait_until(lambda: scrape(port, ih)[0] == 1, 30, "opentracker to list btd as a seed")

        out = btdtest.tempdir("leech-")
        leecher = LtPeer(torrent, out, "127.0.0.3", seed=False,
                         peers=["127.0.0.1:%d" % btd.call("session.get")["listen_port"]])
        st = wait_until(lambda: (lambda s: s if s["state"] != "seeding" else None)(
            btd.status(tid)), 60, "the seed to stop")
        goal = math.ceil(SIZE * 0.5)
        t.eq((st["state"], st["finished"]), ("finished", "ratio"),
             "the seed stops at its ratio goal: state finished")
        t.ok(goal <= st["uploaded_bytes"] < SIZE,
             "it uploaded its goal (%d bytes), not the whole torrent" % goal, st["uploaded_bytes"])
        t.ok(st["ratio"] >= 0.5, "torrent.get: ratio at least 0.5", st["ratio"])
        t.eq(st["peers"], 0, "its peers are closed")
        t.ok(re.search(r"ih=%s seeding goal met: ratio [0-9.]+ reached its limit 0\.5 " % ih[:8],
                       btd.log_text()), "a notice names the goal met")
        got = wait_until(lambda: (lambda c: c if c[0] == 0 else None)(scrape(port, ih)), 30,
                         "btd's stopped to land")
        t.eq(got[0], 0, "opentracker no longer lists btd as a seed: `stopped` was sent")
        t.eq(btd.status(tid)["peers"], 0, "the leecher cannot connect again")
        r = btctl(btd, "status", str(tid))
        t.ok(re.search(r"State:\s+finished", r.stdout) and "reached its ratio limit" in r.stdout
             and re.search(r"Ratio:\s+0\.[5-9]", r.stdout)
             and "seeds until ratio 0.5 (torrent)" in r.stdout,
             "btctl status shows the state, the ratio, the goal and why it stopped", r.stdout)
        r = btctl(btd, "list")
        t.ok(re.search(r"^\s*%d\s+finished\s" % tid, r.stdout, re.M), "btctl list: finished",
             r.stdout)
        uploaded = st["uploaded_bytes"]
        leecher.stop()
        leecher = None

        t.eq(btd.stop(), 0, "btd exits 0 with a finished torrent")
        with open(os.path.join(btd.state, "torrents", ih + ".resume")) as f:
            rec = json.load(f)
        t.eq((rec["paused"], rec["finished"], rec["seed_ratio_hundredths"]), (True, "ratio", 50),
             "the resume record keeps the finished state and the torrent's ratio limit")
        btd2 = Btd(BTD, state_dir=btd.state)
        st = wait_until(lambda: (lambda s: s if s["state"] != "checking" else None)(
            btd2.status(tid)), 30, "the restored torrent")
        t.eq((st["state"], st["finished"], st["seed_ratio_limit"]), ("finished", "ratio", 0.5),
             "after a restart it is still finished, with its own limit")
        t.eq(st["uploaded_bytes"], uploaded, "and its upload total")
        r = btctl(btd2, "verify", str(tid))
        t.ok(r.returncode == 0 and r.stdout.strip().endswith(": checking"),
             "btctl verify of a finished torrent checks it", r.stdout + r.stderr)
        st = wait_until(lambda: (lambda s: s if s["state"] != "checking" else None)(
            btd2.status(tid)), 30, "the check")
        t.eq((st["state"], st["finished"]), ("finished", "ratio"),
             "its data whole, it is finished again after the check")

        r = btctl(btd2, "resume", str(tid))
        t.ok(r.returncode == 0 and r.stdout.strip().endswith(": seeding"),
             "btctl resume: it seeds again", r.stdout + r.stderr)
        st = btd2.status(tid)
        t.eq((st["seed_ratio_limit"], st["seed_ratio_limit_from"], st["finished"]),
             (0, "torrent", None), "resumed with its goal met: no ratio limit of its own")
        t.ok("resumed by hand with its ratio goal met" in btd2.log_text(),
             "a notice says the ratio limit no longer applies")
        got = wait_until(lambda: (lambda c: c if c[0] == 1 else None)(scrape(port, ih)), 30,
                         "btd to announce again")
        t.eq(got[0], 1, "opentracker lists btd as a seed again")
    finally:
        if leecher:
            leecher.stop()
        if btd2:
            t.eq(btd2.stop(), 0, "ratio: the restarted btd exits 0")
        elif btd.alive():
            btd.stop()
        tracker.stop()


def test_idle_limit_and_override(t):
    seed_dir, _, torrent, _ = payload_torrent(BTCTL, FILES, "goal.bin", piece_length=32768)
    other_dir, _, other, _ = payload_torrent(BTCTL, {"other.bin": MIB}, "other.bin")
    btd = Btd(BTD)
    try:
        r = btctl(btd, "set", "seed_idle_limit", "3")
        t.eq(r.returncode, 0, "btctl set seed_idle_limit 3 is accepted")
        kept = btd.add(other, dir=other_dir)["id"]
        btd.call("torrent.set", id=str(kept), seed_idle_limit="unlimited")
        btd.wait_done(kept, timeout=60)  # seeding, idle, before the other one starts
        idle = btd.add(torrent, dir=seed_dir)["id"]
        st = btd.status(idle)
        t.eq((st["seed_idle_limit"], st["seed_idle_limit_from"]), (3, "global"),
             "torrent.get: the global idle limit is in force")
        start = None

        def stopped():
            nonlocal start
            s = btd.status(idle)
            if s["state"] == "seeding" and start is None:
                start = time.monotonic()
            return s if s["state"] not in ("checking", "seeding") else None

        st = wait_until(stopped, 30, "the unused seed to stop")
        took = time.monotonic() - (start or time.monotonic())
        t.eq((st["state"], st["finished"]), ("finished", "idle"),
             "an unused seed stops at its idle limit")
        t.ok(took >= 1.5, "not long before its 3 s of idle (seen seeding %.1f s)" % took)
        t.ok(re.search(r"seeding goal met: nothing uploaded for 3 s \(idle limit 3 s\)",
                       btd.log_text()), "a notice names the idle goal")
        st = btd.status(kept)
        t.ok(st["state"] == "seeding" and st["seed_idle_seconds"] >= 3,
             "its own `unlimited` beats the global idle limit: still seeding after %ds idle"
             % st["seed_idle_seconds"], st)
        r = btctl(btd, "set", "--torrent", str(kept), "seed_idle_limit", "global")
        t.ok(r.returncode == 0 and "seeds until 3s idle (global)" in r.stdout,
             "btctl set --torrent ID seed_idle_limit global: back to the global one", r.stdout)
        st = wait_until(lambda: (lambda s: s if s["state"] == "finished" else None)(
            btd.status(kept)), 30, "the other seed to stop under the global limit")
        t.eq(st["finished"], "idle", "which then stops it too")
    finally:
        t.eq(btd.stop(), 0, "idle: btd exits 0")


def test_bad_values_are_refused(t):
    seed_dir, _, torrent, _ = payload_torrent(BTCTL, {"bad.bin": 65536}, "bad.bin")
    btd = Btd(BTD)
    try:
        tid = btd.add(torrent, dir=seed_dir)["id"]
        for args in (["set", "seed_ratio_limit", "1.234"], ["set", "seed_ratio_limit", "1.5.5"],
                     ["set", "seed_ratio_limit", "lots"], ["set", "seed_idle_limit", "3x"],
                     ["set", "seed_ratio_limit", "global"],
                     ["set", "--torrent", str(tid), "seed_idle_limit", "5y"]):
            r = btctl(btd, *args)
            t.ok(one_line_error(r) and args[-2] in r.stderr,
                 "btctl %s: refused in one line" % " ".join(args), r.stderr)
        for method, params in (("session.set", {"seed_ratio_limit": 1.234}),
                               ("session.set", {"seed_ratio_limit": "2"}),
                               ("session.set", {"seed_idle_limit": -1}),
                               ("torrent.set", {"id": str(tid), "seed_ratio_limit": -0.5}),
                               ("torrent.set", {"id": str(tid), "seed_idle_limit": 1.5}),
                               ("torrent.set", {"id": str(tid), "seed_ratio_limit": "lots"})):
            try:
                btd.call(method, **params)
                t.ok(False, "%s %s is refused" % (method, params))
            except RpcError as e:
                key = [k for k in params if k != "id"][0]
                t.ok(e.code == -32602 and key in e.message and "\n" not in e.message,
                     "%s %s is refused in one line" % (method, params), str(e))
        st, sess = btd.status(tid), btd.call("session.get")
        t.eq((sess["seed_ratio_limit"], sess["seed_idle_limit"], st["seed_ratio_limit_from"],
              st["seed_idle_limit_from"]), (0, 0, "global", "global"),
             "refused values change nothing")
    finally:
        t.eq(btd.stop(), 0, "bad values: btd exits 0")


def test_config_file_and_reload(t):
    cfg = os.path.join(btdtest.tempdir("cfg-"), "btd.conf")
    with open(cfg, "w") as f:
        json.dump({"seed_ratio_limit": 2.5, "seed_idle_limit": 60}, f)
    btd = Btd(BTD, extra=["--config", cfg])
    try:
        s = btd.call("session.get")
        t.eq((s["seed_ratio_limit"], s["seed_idle_limit"]), (2.5, 60),
             "the configuration file sets the global goals")
        with open(cfg, "w") as f:
            json.dump({"seed_ratio_limit": 0.75}, f)
        os.kill(btd.proc.pid, signal.SIGHUP)
        s = wait_until(lambda: (lambda s: s if s["seed_ratio_limit"] == 0.75 else None)(
            btd.call("session.get")), 10, "the reload")
        t.eq(s["seed_idle_limit"], 0, "SIGHUP: the file's ratio, the default idle limit")
        with open(cfg, "w") as f:
            json.dump({"seed_ratio_limit": 1.234}, f)
        os.kill(btd.proc.pid, signal.SIGHUP)
        line = wait_until(lambda: next((ln for ln in btd.log_text().splitlines()
                                        if "seed_ratio_limit: must be a ratio" in ln), None),
                          10, "the refused reload")
        t.ok(cfg in line, "a bad ratio in the file: one error line naming the file and key",
             line)
        t.eq(btd.call("session.get")["seed_ratio_limit"], 0.75, "and nothing changes")
    finally:
        t.eq(btd.stop(), 0, "reload: btd exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_ratio_limit_stops_the_seed)
    t.run(test_idle_limit_and_override)
    t.run(test_bad_values_are_refused)
    t.run(test_config_file_and_reload)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
