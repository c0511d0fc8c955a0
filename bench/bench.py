#!/usr/bin/python3
"""bench: btd against aria2c, python3-libtorrent and transmission on loopback.

    bench.py --build DIR [--mode download|upload|both|recheck|idle|all] [--size MIB]
             [--layout single|multi] [--piece-length BYTES] [--runs N] [--seeders N]
             [--seeder-limit BYTES_PER_S] [--leechers N] [--leech-queue N]
             [--leech-mse] [--clients LIST] [--no-transmission] [--recheck-size MIB]
             [--recheck-no-lt] [--recheck-cold]
             [--lt-hash-threads N] [--idle-torrents N] [--idle-kib KIB]
             [--idle-seconds S] [--note TEXT] [--timeout S] [--tmp DIR] [--keep]
             [--no-warmup]

--mode all (the default) runs every part below in this order; both is
download and upload.

Download and upload make a random payload (--layout single: one file;
multi: 40 files of varied sizes, most one level down in a directory) and a
torrent for it (btctl create's piece length, or --piece-length).

Download (--mode download, both or all): starts opentracker on 127.0.0.1
and N python3-libtorrent seeders on 127.0.0.2..6 and 127.0.2.2.. (each held to
--seeder-limit bytes/s if given: a swarm of many slow peers), then downloads the payload
with each client in turn (A B C D A B C D ...), every run into a fresh
directory, and checks the sha256 of every file.
Wall time: btd from `btctl add` to `btctl wait` returning (a fresh btd is
started before, and stopped after, each run); aria2c from its start to its
"Seeding is over" line (printed when the download is complete, as
--seed-time=0); libtorrent from its start to its "finished" line;
transmission-daemon (if installed, fresh config directory each run) from
its torrent-add to leftUntilDone 0. Transmission 3.00 drops loopback
addresses a tracker gives it, so N seeders of its own (lt_peer.py, seed
mode, 127.0.0.11..) are started after its torrent-add and dial it.
CPU time: user + system from os.wait4 (each client is a direct child).

Upload (--mode upload, both or all, after the download part and its swarm
are stopped): one seeder on 127.0.0.2 (a fresh btd, or a python3-libtorrent
lt_peer.py) is given the directory holding the payload, checks it, and once
it is seeding a python3-libtorrent leecher on 127.0.0.3 (bench/lt_leecher.py:
lt_peer.py with two settings changed, see there), dialling only that seeder
(a trackerless torrent of the same payload and piece size), downloads it
into a fresh directory (sha256 checked). Seeders alternate (btd lt btd
lt ...). Wall time: from the leecher's start to its "finished" line. CPU
time: the seeder's user + system over that window (utime + stime of
/proc/PID/stat, all threads, read before the leecher starts and when it
finishes); its whole life, check included, from os.wait4 too.

Recheck (--mode recheck or all): a complete --recheck-size torrent (one
file, in the page cache; emptied before each check with --recheck-cold)
given to a fresh btd on 127.0.0.4 with dir = the
data: from torrent.add to state seeding (its check), then from `btctl
verify` to seeding again; bench/lt_recheck.py does the same with libtorrent
(at add, then force_recheck). As GiB/s, and against `openssl speed -evp
sha1` on one core x the threads btd hashes on (min(BTD_WORK_MAX_INFLIGHT,
cores)).

Idle (--mode idle or all): --idle-torrents single-file torrents (made here,
distinct random data) added to one fresh btd on 127.0.0.6 with dir = the
data; once all seed and the state directory has settled, btd's VmRSS,
VmHWM and CPU (utime + stime) over --idle-seconds with nothing asked of it.

Peak RSS: VmHWM of /proc/PID/status, sampled until it exits (ru_maxrss is
not used: Linux counts in it the parent's RSS at fork, here ~30 MiB).
Prints tables of medians (ratios to btd) and writes them to bench/results/.
Only loopback addresses are used, DHT/LSD/PEX/UPnP/NAT-PMP are off. Every
wait is bounded (--timeout per run) and every process is stopped by its PID.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import swarm  # noqa: E402  (opentracker and libtorrent seeders, stopped by PID at exit)

LT_PEER = os.path.join(ROOT, "tests", "integration", "lt_peer.py")
LT_LEECHER = os.path.join(HERE, "lt_leecher.py")  # lt_peer.py, two settings changed
LT_RECHECK = os.path.join(HERE, "lt_recheck.py")  # libtorrent's check, timed
CLIENTS = ("btd", "aria2c", "libtorrent", "transmission")  # transmission: if installed
SEEDERS = ("btd", "libtorrent")  # the upload part
SEED_IP, LEECH_IP = "127.0.0.2", "127.0.0.3"
MIB = 1 << 20
GIB = 1 << 30
RECHECK_IP, LT_RECHECK_IP, IDLE_IP = "127.0.0.4", "127.0.0.5", "127.0.0.6"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Child:
    """A client as a direct child: stdout lines timestamped, rusage from wait4."""

    def __init__(self, cmd, log):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     text=True, errors="replace")
        self.lines = []
        self.usage = None
        self.hwm_kib = 0  # peak RSS: VmHWM, sampled while it runs
        self.exit_time = None
        self._reader = threading.Thread(target=self._read, args=(log,), daemon=True)
        self._reader.start()

    def _read(self, log):
        with open(log, "w") as f:
            for line in self.proc.stdout:
                now = time.monotonic()
                self.lines.append((now, line.rstrip("\n")))
                f.write("%8.3f %s" % (now - self.t0, line))

    def seen(self, text):
        """When a line containing text was read, or None."""
        return next((t for t, line in list(self.lines) if text in line), None)

    def _reap(self, flags):
        pid, status, usage = os.wait4(self.proc.pid, flags)
        if pid == 0:
            return False
        self.exit_time = time.monotonic()
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.usage = usage
        return True

    def _sample_hwm(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                kib = next((int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")), 0)
            self.hwm_kib = max(self.hwm_kib, kib)
        except OSError:
            pass

    def exited(self):
        if self.usage is not None:
            return True
        self._sample_hwm()
        return self._reap(os.WNOHANG)

    def wait(self, timeout, until=None):
        """Waits for exit (or until() true); False when timeout passed first."""
        deadline = time.monotonic() + timeout
        while not self.exited() and not (until and until()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self, timeout=20):
        """SIGTERM by PID, SIGKILL after timeout; returns the rusage."""
        if not self.exited():
            os.kill(self.proc.pid, signal.SIGTERM)
            if not self.wait(timeout):
                os.kill(self.proc.pid, signal.SIGKILL)
                self._reap(0)
        self._reader.join(5)
        return self.usage

    def tail(self, n=5):
        return " | ".join(line for _, line in self.lines[-n:])


def run_btd(a, torrent, ddir, log):
    state = tempfile.mkdtemp(prefix="btd-state-", dir=a.work)
    sock = os.path.join(state, "btd.sock")
    child = Child([a.btd, "--port", "0", "--socket", sock, "--state-dir", state,
                   "--download-dir", ddir, "--log-level", "warning"], log)
    try:
        swarm.wait_until(lambda: os.path.exists(sock) or child.exited(), 10, "btd's socket")
        ctl = [a.btctl, "--socket", sock]
        t0 = time.monotonic()
        r = subprocess.run(ctl + ["add", torrent, "--dir", ddir], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            return None, child, "btctl add: " + r.stderr.strip()
        r = subprocess.run(ctl + ["wait", r.stdout.split()[0], "--timeout", str(a.timeout),
                                  "--interval", "0.05"], capture_output=True, text=True,
                           timeout=a.timeout + 30)
        wall = time.monotonic() - t0
        err = None if r.returncode == 0 else "btctl wait %d: %s" % (r.returncode,
                                                                    (r.stdout + r.stderr)[-300:])
        return wall, child, err
    finally:
        child.stop()


def run_aria2c(a, torrent, ddir, log):
    child = Child(["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
                   "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-time=0",
                   "--bt-seed-unverified=false", "--check-integrity=false",
                   "--interface=127.0.0.9", "--dir=" + ddir, "--file-allocation=none",
                   "--summary-interval=0", "--enable-color=false", torrent], log)
    try:
        if not child.wait(a.timeout):
            return None, child, "timed out"
        done = child.seen("Seeding is over") or child.exit_time
        err = None if child.proc.returncode == 0 else "exit %d" % child.proc.returncode
        return done - child.t0, child, err
    finally:
        child.stop()


def run_libtorrent(a, torrent, ddir, log):
    child = Child(["/usr/bin/python3", LT_PEER, "--torrent", torrent, "--dir", ddir,
                   "--ip", "127.0.0.8", "--exit-when-done"], log)
    try:
        if not child.wait(a.timeout, until=lambda: child.seen("finished")):
            return None, child, "timed out"
        done = child.seen("finished")
        if done is None:
            return None, child, "exited %d before finishing" % child.proc.returncode
        child.wait(20)  # let it exit by itself, so its rusage is complete
        return done - child.t0, child, None
    finally:
        child.stop()


TR_IP = "127.0.0.10"  # transmission-daemon; its dialling seeders on 127.0.0.11..


def run_transmission(a, torrent, ddir, log):
    """transmission-daemon 3.00 in the foreground on TR_IP, its own config directory.

    Transmission 3.00 drops every 127.0.0.0/8 address a tracker (or PEX, or LPD) gives it
    (its isMartianAddr), so it never dials the swarm's seeders; it does accept incoming
    peers on loopback. So after the torrent-add, a.seeders python3-libtorrent seeders of
    its own (lt_peer.py, seed mode, on 127.0.0.11..) are started, each dialling it."""
    conf = tempfile.mkdtemp(prefix="tr-conf-", dir=a.work)
    rpc_port, peer_port = swarm.free_port(), swarm.free_port()
    settings = {
        "dht-enabled": False, "lpd-enabled": False, "pex-enabled": False, "utp-enabled": False,
        "port-forwarding-enabled": False, "blocklist-enabled": False,
        "rpc-enabled": True, "rpc-bind-address": "127.0.0.1", "rpc-port": rpc_port,
        "rpc-whitelist-enabled": True, "rpc-whitelist": "127.0.0.1",
        "rpc-host-whitelist-enabled": False, "rpc-authentication-required": False,
        "bind-address-ipv4": TR_IP, "bind-address-ipv6": "::1", "peer-port": peer_port,
        "peer-port-random-on-start": False, "encryption": 1,  # preferred
        "download-dir": ddir, "incomplete-dir-enabled": False, "watch-dir-enabled": False,
        "preallocation": 0, "rename-partial-files": False, "start-added-torrents": True,
        "speed-limit-down-enabled": False, "speed-limit-up-enabled": False,
        "alt-speed-enabled": False, "ratio-limit-enabled": False,
        "idle-seeding-limit-enabled": False, "download-queue-enabled": False,
        "seed-queue-enabled": False, "queue-stalled-enabled": False,
        "peer-limit-global": 200, "peer-limit-per-torrent": 50, "message-level": 1,
    }
    with open(os.path.join(conf, "settings.json"), "w") as f:
        json.dump(settings, f)
    child = Child(["transmission-daemon", "--foreground", "--config-dir", conf], log)
    seeders = []
    try:
        swarm.wait_until(lambda: child.exited() or swarm.tcp_listening("127.0.0.1", rpc_port),
                         20, "transmission's RPC port")
        if child.exited():
            return None, child, "exited %d at start" % child.proc.returncode
        tr = swarm.TransmissionRpc(rpc_port)
        with open(torrent, "rb") as f:
            meta = base64.b64encode(f.read()).decode()
        t0 = time.monotonic()
        added = tr.call("torrent-add", metainfo=meta, **{"download-dir": ddir})
        tid = (added.get("torrent-added") or added.get("torrent-duplicate"))["id"]
        for i in range(a.seeders):  # started together, not waited for one by one
            seeders.append(Child(["/usr/bin/python3", LT_PEER, "--torrent", torrent, "--dir",
                                  a.seed_dir, "--ip", "127.0.0.%d" % (11 + i), "--seed", "--peer",
                                  "%s:%d" % (TR_IP, peer_port), "--upload-limit",
                                  str(a.seeder_limit)], "%s.seeder%d" % (log, i + 1)))
        deadline = t0 + a.timeout
        while True:
            if child.exited():
                return None, child, "exited %d" % child.proc.returncode
            st = tr.call("torrent-get", ids=[tid], fields=["percentDone", "leftUntilDone",
                                                          "error", "errorString"])["torrents"][0]
            if st["error"]:
                return None, child, "torrent error: %s" % st["errorString"]
            if st["leftUntilDone"] == 0 and st["percentDone"] >= 1:
                return time.monotonic() - t0, child, None
            if time.monotonic() > deadline:
                return None, child, "timed out at %.1f %%" % (100 * st["percentDone"])
            time.sleep(0.1)
    finally:
        child.stop()  # SIGTERM: it announces "stopped" and exits; its rusage then
        for sd in seeders:
            sd.stop()
            if sd.proc.returncode not in (0, -signal.SIGTERM):
                print("  (a seeder of transmission's exited %d: %s)" % (sd.proc.returncode,
                                                                     sd.tail(2)), flush=True)


RUNNERS = {"btd": run_btd, "aria2c": run_aria2c, "libtorrent": run_libtorrent,
           "transmission": run_transmission}


def one_run(a, client, label, torrent, sums, seeders=()):
    """One download; seeders: the swarm's, whose CPU over the run is summed (not
    transmission's, which has seeders of its own)."""
    ddir = os.path.join(a.work, label)
    os.makedirs(ddir)
    log = os.path.join(a.work, label + ".log")
    pids = [] if client == "transmission" else [sd.proc.pid for sd in seeders]
    seeders_cpu = None
    try:
        seed0 = sum(proc_cpu(pid) for pid in pids)
        wall, child, err = RUNNERS[client](a, torrent, ddir, log)
        usage, hwm, tail = child.usage, child.hwm_kib, child.tail()
        if pids:
            seeders_cpu = sum(proc_cpu(pid) for pid in pids) - seed0
    except Exception as e:  # noqa: BLE001 - a run that breaks is a failed run
        wall, usage, hwm, err, tail = None, None, 0, "%s: %s" % (type(e).__name__, e), ""
    if err is None and not payload_ok(ddir, sums):
        err = "sha256 mismatch"
    if err:
        err += " (log tail: %s)" % tail
    shutil.rmtree(ddir, ignore_errors=True)
    os.sync()
    res = {"client": client, "label": label, "ok": err is None, "error": err, "wall": wall,
           "cpu": usage.ru_utime + usage.ru_stime if usage else None,
           "rss": hwm / 1024, "seeders_cpu": seeders_cpu}
    print("  %-16s %s" % (label, "wall %.2f s  cpu %.2f s  rss %.0f MiB  seeders' cpu %s s" % (
        wall, res["cpu"], res["rss"], num("%.2f", seeders_cpu)) if res["ok"]
        else "FAILED: " + err), flush=True)
    return res


def proc_cpu(pid):
    """User + system seconds of a live process, all its threads (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields[0] is field 3, state
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rpc(sock, method, **params):
    """One JSON-RPC call on btd's control socket; the result, or raises."""
    try:
        return swarm.control_call(sock, method, **params)
    except swarm.RpcError as e:
        raise RuntimeError("%s: %s" % (method, e.message)) from None


def spawn_btd(a, log, listen_ip, download_dir):
    """A fresh btd (new state directory) listening on listen_ip; (child, socket, state dir)."""
    state = tempfile.mkdtemp(prefix="btd-state-", dir=a.work)
    sock = os.path.join(state, "btd.sock")
    conf = os.path.join(state, "btd.conf")
    with open(conf, "w") as f:
        json.dump({"listen_address": listen_ip}, f)
    child = Child([a.btd, "--config", conf, "--port", "0", "--socket", sock, "--state-dir", state,
                   "--download-dir", download_dir, "--log-level", "warning"], log)
    try:
        swarm.wait_until(lambda: os.path.exists(sock) or child.exited(), 10, "btd's socket")
        if child.exited():
            raise RuntimeError("btd exited at start: " + child.tail())
    except BaseException:
        child.stop()
        raise
    return child, sock, state


def start_btd_seeder(a, log):
    """A fresh btd on SEED_IP seeding the payload in place; (child, address)."""
    child, sock, _ = spawn_btd(a, log, SEED_IP, a.seed_dir)
    try:
        with open(a.utorrent, "rb") as f:
            meta = base64.b64encode(f.read()).decode()
        tid = str(rpc(sock, "torrent.add", metainfo=meta, dir=a.seed_dir)["id"])

        def seeding():
            if child.exited():
                raise RuntimeError("btd exited while checking")
            st = rpc(sock, "torrent.get", id=tid)
            if st["state"] == "error":
                raise RuntimeError("torrent error: %s" % st.get("error"))
            return st["state"] == "seeding"
        swarm.wait_until(seeding, a.timeout, "btd to seed")
        return child, "%s:%d" % (SEED_IP, rpc(sock, "session.get")["listen_port"])
    except BaseException:
        child.stop()
        raise


def start_lt_seeder(a, log):
    """lt_peer.py on SEED_IP given the payload: it checks it all, then seeds; (child, address).

    Not --seed (libtorrent's seed mode would hash each piece when first asked
    for it, in the timed window): a full check first, as btd does."""
    child = Child(["/usr/bin/python3", LT_PEER, "--torrent", a.utorrent, "--dir", a.seed_dir,
                   "--ip", SEED_IP], log)
    try:
        swarm.wait_until(lambda: child.exited() or child.seen("finished"), a.timeout,
                         "libtorrent to seed")
        if child.exited():
            raise RuntimeError("lt_peer.py exited %d" % child.proc.returncode)
        port = next(int(ln.split()[1]) for _, ln in list(child.lines)
                    if ln.startswith("listening "))
        if port == 0:
            raise RuntimeError("lt_peer.py is not listening")
        return child, "%s:%d" % (SEED_IP, port)
    except BaseException:
        child.stop()
        raise


UPLOADERS = {"btd": start_btd_seeder, "libtorrent": start_lt_seeder}


def seeder_ip(i):
    """The i-th download seeder's address: 127.0.0.2..6, then 127.0.2.2.. (clear of the
    clients' and of every other part's)."""
    return "127.0.0.%d" % (2 + i) if i < 5 else "127.0.2.%d" % (i - 3)


def leech_ips(n):
    """The leechers' addresses: 127.0.0.3, then 127.0.3.2.. (clear of every other part's)."""
    return [LEECH_IP] + ["127.0.3.%d" % k for k in range(2, n + 1)]


def upload_run(a, seeder_name, label, sums):
    """One seeder, a.leechers leechers; the result dict (the seeder's figures, the leechers'
    wall: from the first one's start to the last one's "finished")."""
    ddirs = [os.path.join(a.work, "%s-l%d" % (label, k)) for k in range(1, a.leechers + 1)]
    for d in ddirs:
        os.makedirs(d)
    res = {"client": seeder_name, "label": label, "ok": False, "error": None, "wall": None,
           "cpu": None, "cpu_total": None, "rss": 0, "leech_cpu": None, "ready": None}
    seeder = None
    leeches = []
    tail = ""
    try:
        t_start = time.monotonic()
        seeder, addr = UPLOADERS[seeder_name](a, os.path.join(a.work, label + "-seeder.log"))
        res["ready"] = time.monotonic() - t_start
        cpu0 = proc_cpu(seeder.proc.pid)
        for k, (ddir, ip) in enumerate(zip(ddirs, leech_ips(a.leechers)), 1):
            leeches.append(Child(
                ["/usr/bin/python3", LT_LEECHER, "--request-queue", str(a.leech_queue)] +
                (["--mse"] if a.leech_mse else []) +
                ["--torrent", a.utorrent, "--dir", ddir, "--ip", ip, "--peer", addr,
                 "--exit-when-done"], os.path.join(a.work, "%s-leecher%d.log" % (label, k))))

        def over():
            return seeder.exited() or all(lc.seen("finished") or lc.exited() for lc in leeches)
        swarm.wait_until(over, a.timeout, "the leechers to finish")
        if seeder.exited():
            raise RuntimeError("the seeder exited %d" % seeder.proc.returncode)
        cpu1 = proc_cpu(seeder.proc.pid)
        seeder._sample_hwm()
        done = [lc.seen("finished") for lc in leeches]
        if None in done:
            lc = leeches[done.index(None)]
            raise RuntimeError("a leecher exited %d before finishing" % lc.proc.returncode)
        res.update(wall=max(done) - min(lc.t0 for lc in leeches), cpu=cpu1 - cpu0,
                   rss=seeder.hwm_kib / 1024)
        for lc in leeches:
            lc.wait(20)  # let it exit by itself, so its rusage is complete
    except Exception as e:  # noqa: BLE001 - a run that breaks is a failed run
        res["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        cpus = []
        for lc in leeches:
            usage = lc.stop()
            cpus.append(usage.ru_utime + usage.ru_stime if usage else None)
            tail += "leecher: " + lc.tail(3) + " "
        res["leech_cpu"] = None if None in cpus or not cpus else sum(cpus)
        if seeder:
            usage = seeder.stop()
            res["cpu_total"] = usage.ru_utime + usage.ru_stime if usage else None
            tail += " seeder: " + seeder.tail(3)
    if res["error"] is None and not all(payload_ok(d, sums) for d in ddirs):
        res["error"] = "sha256 mismatch"
    if res["error"]:
        res["error"] += " (log tail: %s)" % tail
    res["ok"] = res["error"] is None
    for d in ddirs:
        shutil.rmtree(d, ignore_errors=True)
    os.sync()
    print("  %-16s %s" % (label, "ready %s s  wall %s s  seeder cpu %s s (%s with its check)  "
                                 "rss %s MiB  leecher cpu %s s" % (
                                     num("%.2f", res["ready"]), num("%.2f", res["wall"]),
                                     num("%.2f", res["cpu"]), num("%.2f", res["cpu_total"]),
                                     num("%.0f", res["rss"]), num("%.2f", res["leech_cpu"]))
                                 if res["ok"] else "FAILED: " + res["error"]), flush=True)
    return res


# ---- recheck: btd's check of complete data (at add, and btctl verify) against SHA-1's speed

UV_THREADS = 4  # libuv's worker pool, UV_THREADPOOL_SIZE unset


def work_max_inflight():
    """BTD_WORK_MAX_INFLIGHT of daemon/work.h: the jobs btd hands libuv at once (6)."""
    try:
        with open(os.path.join(ROOT, "daemon", "work.h")) as f:
            for ln in f:
                if ln.startswith("#define BTD_WORK_MAX_INFLIGHT"):
                    return int(ln.split()[2])
    except (OSError, ValueError, IndexError):
        pass
    return 6


def openssl_sha1():
    """Single-core SHA-1 bytes/s: openssl speed -evp sha1 -seconds 3 -bytes 16384."""
    r = subprocess.run(["openssl", "speed", "-evp", "sha1", "-seconds", "3", "-bytes", "16384"],
                       capture_output=True, text=True, timeout=60)
    last = [ln for ln in r.stdout.splitlines() if ln.strip()][-1].split()
    if r.returncode != 0 or last[0].lower() != "sha1" or not last[-1].endswith("k"):
        raise RuntimeError("openssl speed: unexpected output %r" % last)
    return float(last[-1][:-1]) * 1000  # "in 1000s of bytes per second"


def cached_pct(path):
    """How much of path is in the page cache (fincore), in %; None if unknown."""
    try:
        r = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE", path],
                           capture_output=True, text=True, timeout=30)
        res, size = (int(x) for x in r.stdout.split())
        return 100.0 * res / size if size else None
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def drop_page_cache(a):
    """--recheck-cold: the page cache emptied (root), so a check reads the disk."""
    if not a.recheck_cold:
        return
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("1\n")


def busy_seconds():
    """CPU seconds the whole machine has been busy (not idle, not iowait): /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK  # user nice system idle iowait irq softirq steal


def poll_btd(a, child, sock, tid, want, size=None):
    """Polls torrent.get every 20 ms until its state is want; raises on error/exit/timeout."""
    deadline = time.monotonic() + a.timeout
    while True:
        if child.exited():
            raise RuntimeError("btd exited %d" % child.proc.returncode)
        st = rpc(sock, "torrent.get", id=tid)
        if st["state"] == "error":
            raise RuntimeError("torrent error: %s" % st.get("error"))
        if st["state"] == want:
            if size is not None and st["verified_bytes"] != size:
                raise RuntimeError("%s with %d of %d bytes verified" % (want, st["verified_bytes"],
                                                                        size))
            return st
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for %s (state %s)" % (want, st["state"]))
        time.sleep(0.02)


def recheck_btd(a, label):
    """A fresh btd: torrent.add with dir = the data (checked at add) to seeding, then
    btctl verify to seeding again."""
    res = {"client": "btd", "label": label, "ok": False, "error": None, "cached": None,
           "check": None, "check_cpu": None, "recheck": None, "recheck_cpu": None, "rss": None,
           "check_others": None, "recheck_others": None}
    child = None
    try:
        res["cached"] = cached_pct(a.rfile)
        child, sock, _ = spawn_btd(a, os.path.join(a.work, label + ".log"), RECHECK_IP,
                                   a.recheck_dir)
        pid = child.proc.pid
        with open(a.rtorrent, "rb") as f:
            meta = base64.b64encode(f.read()).decode()
        drop_page_cache(a)
        res["cached"] = cached_pct(a.rfile)
        b0, c0, t0 = busy_seconds(), proc_cpu(pid), time.monotonic()
        tid = str(rpc(sock, "torrent.add", metainfo=meta, dir=a.recheck_dir)["id"])
        poll_btd(a, child, sock, tid, "seeding", a.rsize)
        t1, c1, b1 = time.monotonic(), proc_cpu(pid), busy_seconds()
        res.update(check=t1 - t0, check_cpu=c1 - c0,
                   check_others=max(0.0, (b1 - b0) - (c1 - c0)) / (t1 - t0))
        drop_page_cache(a)
        b0, c0, t0 = busy_seconds(), proc_cpu(pid), time.monotonic()
        r = subprocess.run([a.btctl, "--socket", sock, "--json", "verify", tid],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("btctl verify: %s" % (r.stdout + r.stderr).strip()[-300:])
        if json.loads(r.stdout).get("state") != "checking":
            raise RuntimeError("btctl verify: state %s, not checking" % r.stdout.strip()[:200])
        poll_btd(a, child, sock, tid, "seeding", a.rsize)
        t1, c1, b1 = time.monotonic(), proc_cpu(pid), busy_seconds()
        res.update(recheck=t1 - t0, recheck_cpu=c1 - c0,
                   recheck_others=max(0.0, (b1 - b0) - (c1 - c0)) / (t1 - t0))
        child._sample_hwm()
        res["rss"] = child.hwm_kib / 1024
    except Exception as e:  # noqa: BLE001 - a run that breaks is a failed run
        res["error"] = "%s: %s%s" % (type(e).__name__, e,
                                     " (log tail: %s)" % child.tail() if child else "")
    finally:
        if child:
            child.stop()
    res["ok"] = res["error"] is None
    return res


def recheck_lt(a, label):
    """bench/lt_recheck.py: libtorrent's check at add, then its force_recheck."""
    res = {"client": "libtorrent", "label": label, "ok": False, "error": None, "cached": None,
           "check": None, "check_cpu": None, "recheck": None, "recheck_cpu": None, "rss": None,
           "check_others": None, "recheck_others": None}
    drop_page_cache(a)  # before its check at add only: its force_recheck follows in-process
    res["cached"] = cached_pct(a.rfile)
    b0 = busy_seconds()
    child = Child(["/usr/bin/python3", LT_RECHECK, "--torrent", a.rtorrent, "--dir",
                   a.recheck_dir, "--ip", LT_RECHECK_IP, "--hashing-threads",
                   str(a.lt_hash_threads), "--timeout", str(a.timeout)],
                  os.path.join(a.work, label + ".log"))
    try:
        if not child.wait(a.timeout + 60):
            raise RuntimeError("timed out")
        got = {ln.split()[0]: ln.split()[1:] for _, ln in child.lines if ln.split()}
        if child.proc.returncode != 0 or "recheck" not in got:
            raise RuntimeError("exit %d: %s" % (child.proc.returncode, child.tail(3)))
        res.update(check=float(got["check"][0]), check_cpu=float(got["check"][1]),
                   recheck=float(got["recheck"][0]), recheck_cpu=float(got["recheck"][1]),
                   rss=child.hwm_kib / 1024)
        # Others' load over its whole life (its start and exit included), not per check.
        life = child.exit_time - child.t0
        own = child.usage.ru_utime + child.usage.ru_stime
        res["check_others"] = res["recheck_others"] = max(0.0, busy_seconds() - b0 - own) / life
    except Exception as e:  # noqa: BLE001
        res["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        child.stop()
    res["ok"] = res["error"] is None
    return res


def recheck_part(a):
    """The data and its torrent, openssl's SHA-1 speed, then btd lt btd lt ...; a dict."""
    a.recheck_dir = os.path.join(a.work, "recheck")
    a.rfile = os.path.join(a.recheck_dir, "recheck.bin")
    a.rsize = a.recheck_size * MIB
    print("recheck: writing %d MiB" % a.recheck_size, flush=True)
    make_payload(a.rfile, a.rsize)
    os.sync()  # the data on disk (and still in the page cache): no writeback during the checks
    a.rtorrent = os.path.join(a.work, "recheck.torrent")
    swarm.create_torrent(a.btctl, a.rfile, a.rtorrent)
    with open(a.rtorrent, "rb") as f:
        a.rpiece = int(f.read().split(b"12:piece lengthi", 1)[1].split(b"e", 1)[0])
    out = {"openssl": [], "threads": min(UV_THREADS, work_max_inflight(), os.cpu_count() or 1),
           "inflight": work_max_inflight(), "runs": []}
    a.lt_hash_threads = a.lt_hash_threads or out["threads"]
    out["openssl"].append(openssl_sha1())
    print("recheck: openssl sha1 %.2f GiB/s on one core; btd hashes on %d threads" % (
        out["openssl"][0] / GIB, out["threads"]), flush=True)
    for run in range(1, a.runs + 1):
        for client, fn in (("btd", recheck_btd), ("libtorrent", recheck_lt)):
            if client == "libtorrent" and not a.recheck_lt:
                continue
            r = fn(a, "recheck-%s-%d" % (client, run))
            out["runs"].append(r)
            print("  %-20s %s" % (r["label"], (
                "at add %.2f s (%.2f GiB/s, cpu %.2f s)  verify %.2f s (%.2f GiB/s, cpu %.2f s)  "
                "rss %.0f MiB  cached %s %%  others %.2f/%.2f cores" % (
                    r["check"], a.rsize / GIB / r["check"], r["check_cpu"], r["recheck"],
                    a.rsize / GIB / r["recheck"], r["recheck_cpu"], r["rss"],
                    num("%.0f", r["cached"]), r["check_others"], r["recheck_others"]))
                 if r["ok"] else "FAILED: " + r["error"]),
                  flush=True)
    out["openssl"].append(openssl_sha1())
    print("recheck: openssl sha1 %.2f GiB/s on one core (after)" % (out["openssl"][1] / GIB),
          flush=True)
    if not a.keep:
        shutil.rmtree(a.recheck_dir, ignore_errors=True)
    return out


# ---- idle: what 1,000 seeding torrents cost btd when nothing happens

def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"


IDLE_PIECE = 16384  # btctl create's choice for small files (the smallest giving <= 2000 pieces)


def idle_torrents(a):
    """N files of random data in a.idle_dir and their single-file torrents, made here (not N
    btctl create calls); the torrents' metainfo, base64. The first one's info-hash is checked
    against btctl create's."""
    a.idle_dir = os.path.join(a.work, "idle")
    os.makedirs(a.idle_dir)
    metas = []
    for i in range(a.idle_torrents):
        name = "f%04d.bin" % i
        data = os.urandom(a.idle_kib * 1024)
        with open(os.path.join(a.idle_dir, name), "wb") as f:
            f.write(data)
        info = {"length": len(data), "name": name, "piece length": IDLE_PIECE,
                "pieces": b"".join(hashlib.sha1(data[k:k + IDLE_PIECE]).digest()
                                   for k in range(0, len(data), IDLE_PIECE))}
        raw = bencode({"created by": "btd bench", "info": info})
        if i == 0:
            out = os.path.join(a.work, "idle-check.torrent")
            ih = swarm.create_torrent(a.btctl, os.path.join(a.idle_dir, name), out)
            if ih != hashlib.sha1(bencode(info)).hexdigest():
                raise RuntimeError("idle: our torrent's info-hash differs from btctl create's")
        metas.append(base64.b64encode(raw).decode())
    os.sync()
    return metas


def proc_status(pid):
    """/proc/PID/status as {key: first field}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            if v.split():
                out[k] = v.split()[0]
    return out


def ctx_switches(pid):
    """Voluntary + involuntary context switches of all the process's threads."""
    n = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for ln in f:
                    if ln.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(ln.split()[1])
        except OSError:
            pass
    return n


def dir_snapshot(path):
    """{name: (size, mtime_ns)} of a directory's files."""
    snap = {}
    try:
        for e in os.scandir(path):
            try:
                st = e.stat()
                snap[e.name] = (st.st_size, st.st_mtime_ns)
            except OSError:
                pass
    except OSError:
        pass
    return snap


def idle_run(a, metas, label):
    """A fresh btd given every torrent with dir = the data; once all seed and their records are
    written, its RSS and CPU over --idle-seconds of nothing."""
    n = len(metas)
    res = {"label": label, "ok": False, "error": None}
    child = None
    try:
        child, sock, state = spawn_btd(a, os.path.join(a.work, label + ".log"), IDLE_IP,
                                       a.idle_dir)
        pid = child.proc.pid
        tdir = os.path.join(state, "torrents")
        c0, t0 = proc_cpu(pid), time.monotonic()
        slowest = 0.0
        for meta in metas:
            t = time.monotonic()
            rpc(sock, "torrent.add", metainfo=meta, dir=a.idle_dir)
            slowest = max(slowest, time.monotonic() - t)
        res.update(add=time.monotonic() - t0, add_max=slowest)
        deadline = time.monotonic() + a.timeout

        def all_seeding():
            if child.exited():
                raise RuntimeError("btd exited %d" % child.proc.returncode)
            states = [t["state"] for t in rpc(sock, "torrent.list")]
            bad = [x for x in states if x == "error"]
            if bad:
                raise RuntimeError("%d torrents in error" % len(bad))
            return len(states) == n and all(x == "seeding" for x in states)
        swarm.wait_until(all_seeding, a.timeout, "%d torrents to seed" % n)
        res["seeding"] = time.monotonic() - t0
        # The state directory: a .torrent and a .resume per torrent, written one at a time on
        # a worker (fsynced); settled once all N records exist and nothing changed for 3 s.
        last, since = None, time.monotonic()
        while True:
            if child.exited():
                raise RuntimeError("btd exited %d" % child.proc.returncode)
            snap = dir_snapshot(tdir)
            now = time.monotonic()
            if snap != last:
                last, since = snap, now
            done = sum(1 for k in snap if k.endswith(".resume")) == n and \
                not any(".tmp" in k for k in snap)
            if done and now - since >= 3:
                break
            if now > deadline:
                raise RuntimeError("the state directory did not settle: %d .resume files" % sum(
                    1 for k in snap if k.endswith(".resume")))
            time.sleep(0.2)
        res["settled"] = since - t0  # the last change
        res["add_cpu"] = proc_cpu(pid) - c0
        res["state_kib"] = sum(v[0] for v in last.values()) / 1024
        # The idle window: nothing is asked of btd (no RPC); /proc is read once a second.
        st0 = proc_status(pid)
        c0, x0, t0 = proc_cpu(pid), ctx_switches(pid), time.monotonic()
        rss = []
        end = t0 + a.idle_seconds
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            if child.exited():
                raise RuntimeError("btd exited %d during the idle window" % child.proc.returncode)
            rss.append(int(proc_status(pid)["VmRSS"]) / 1024)
        c1, x1, t1 = proc_cpu(pid), ctx_switches(pid), time.monotonic()
        st1 = proc_status(pid)
        changed = sum(1 for k, v in dir_snapshot(tdir).items() if last.get(k) != v)
        res.update(window=t1 - t0, cpu_s=c1 - c0, cpu_pct=100.0 * (c1 - c0) / (t1 - t0),
                   wakeups=(x1 - x0) / (t1 - t0), rss=int(st1["VmRSS"]) / 1024,
                   rss_min=min(rss), rss_max=max(rss), hwm=int(st1["VmHWM"]) / 1024,
                   anon=int(st1["RssAnon"]) / 1024, file=int(st1["RssFile"]) / 1024,
                   threads=int(st1["Threads"]), rss_start=int(st0["VmRSS"]) / 1024,
                   fds=len(os.listdir("/proc/%d/fd" % pid)), writes=changed)
        t = time.monotonic()
        child.stop()
        res["stop"] = time.monotonic() - t
        res["exit"] = child.proc.returncode
    except Exception as e:  # noqa: BLE001 - a run that breaks is a failed run
        res["error"] = "%s: %s%s" % (type(e).__name__, e,
                                     " (log tail: %s)" % child.tail() if child else "")
    finally:
        if child:
            child.stop()
    res["ok"] = res["error"] is None
    if res["ok"]:
        print("  %-10s add %.1f s (slowest %.3f s)  seeding %.1f s  records %.1f s  "
              "RSS %.1f MiB (HWM %.1f)  CPU %.3f %% (%.2f s in %.0f s)  %.1f wakeups/s  "
              "%d fds  stop %.2f s" % (
                  label, res["add"], res["add_max"], res["seeding"], res["settled"], res["rss"],
                  res["hwm"], res["cpu_pct"], res["cpu_s"], res["window"], res["wakeups"],
                  res["fds"], res["stop"]), flush=True)
    else:
        print("  %-10s FAILED: %s" % (label, res["error"]), flush=True)
    return res


def idle_part(a):
    print("idle: %d torrents of %d KiB" % (a.idle_torrents, a.idle_kib), flush=True)
    t = time.monotonic()
    metas = idle_torrents(a)
    print("idle: data and torrents made in %.1f s" % (time.monotonic() - t), flush=True)
    try:
        return [idle_run(a, metas, "idle-%d" % run) for run in range(1, a.runs + 1)]
    finally:
        if not a.keep:
            shutil.rmtree(a.idle_dir, ignore_errors=True)


def make_payload(path, nbytes):
    """nbytes of random data at path; its sha256."""
    h = hashlib.sha256()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        while nbytes > 0:
            chunk = os.urandom(min(nbytes, 8 * MIB))
            h.update(chunk)
            f.write(chunk)
            nbytes -= len(chunk)
    return h.hexdigest()


MULTI_FILES = 40


def multi_layout(total):
    """--layout multi: [(path under the torrent's directory, bytes)], MULTI_FILES files of
    varied sizes (a few tiny, most not a multiple of any piece size) summing to total;
    every fifth at the top, the others one level down in dir0..dir3."""
    rng = random.Random(MULTI_FILES)
    weights = [rng.lognormvariate(0, 1.2) for _ in range(MULTI_FILES)]
    sizes = [max(1, int(total * w / sum(weights)) | 1) for w in weights]
    for i, tiny in ((3, 1), (11, 1000), (23, 16385), (31, 65535)):
        sizes[i] = tiny
    big = sizes.index(max(sizes))
    sizes[big] += total - sum(sizes)
    if sizes[big] < 1:
        raise ValueError("--size too small for --layout multi")
    return [(os.path.join("dir%d" % (i % 4) if i % 5 else "", "file%02d.bin" % i), n)
            for i, n in enumerate(sizes)]


def make_layout(seed_dir, layout, size_mib):
    """The payload in seed_dir: (its name, {path under a download dir: sha256})."""
    if layout == "single":
        return "payload.bin", {"payload.bin": make_payload(os.path.join(seed_dir, "payload.bin"),
                                                           size_mib * MIB)}
    sums = {}
    for rel, n in multi_layout(size_mib * MIB):
        rel = os.path.join("payload", rel)
        sums[rel] = make_payload(os.path.join(seed_dir, rel), n)
    return "payload", sums


def payload_ok(ddir, sums):
    """Whether every file of the payload is in ddir with its sha256."""
    for rel, digest in sums.items():
        path = os.path.join(ddir, rel)
        if not os.path.exists(path) or swarm.sha256_file(path) != digest:
            return False
    return True


def summarize(results, size_mib, clients):
    """Rows of (client, ok/total, metrics dict) with medians of the successful runs."""
    rows = []
    for c in clients:
        runs = [r for r in results if r["client"] == c]
        ok = [r for r in runs if r["ok"]]
        m = None
        if ok:
            wall = statistics.median(r["wall"] for r in ok)
            cpu = statistics.median(r["cpu"] for r in ok)
            m = {"wall": wall, "mibs": size_mib / wall, "cpu": cpu,
                 "cpu_gib": cpu / (size_mib / 1024), "rss": statistics.median(r["rss"] for r in ok)}
        rows.append((c, "%d/%d" % (len(ok), len(runs)), m))
    return rows


COLUMNS = (("wall", "wall s", "%.2f"), ("mibs", "MiB/s", "%.1f"), ("cpu", "CPU s", "%.2f"),
           ("cpu_gib", "CPU s/GiB", "%.2f"), ("rss", "peak RSS MiB", "%.1f"))
UPLOAD_COLUMNS = (("wall", "wall s", "%.2f"), ("mibs", "MiB/s", "%.1f"),
                  ("cpu", "seeder CPU s", "%.2f"), ("cpu_gib", "seeder CPU s/GiB", "%.2f"),
                  ("rss", "seeder peak RSS MiB", "%.1f"))


def table(rows, columns=COLUMNS, what="client"):
    """Markdown table; each cell is 'value (ratio to btd)'."""
    base = rows[0][2]
    out = ["| %s | runs ok | " % what + " | ".join(h for _, h, _ in columns) + " |",
           "|---|---|" + "---:|" * len(columns)]
    for client, ok, m in rows:
        cells = []
        for key, _, fmt in columns:
            if m is None:
                cells.append("-")
            elif base and base[key]:
                cells.append((fmt + " (%.2f)") % (m[key], m[key] / base[key]))
            else:
                cells.append(fmt % m[key])
        out.append("| %s | %s | %s |" % (client, ok, " | ".join(cells)))
    return "\n".join(out)


def cmd_output(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine(a):
    model = "?"
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    with open("/proc/meminfo") as f:
        mem_kib = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
    return [
        ("CPUs (nproc)", str(os.cpu_count())),
        ("CPU model", model),
        ("RAM", "%.1f GiB" % (mem_kib / MIB)),
        ("kernel", platform.release()),
        ("load average at the end", open("/proc/loadavg").read().split(" ")[0]),
        ("btd", "%s (git %s)" % (cmd_output([a.btd, "--version"]),
                                 cmd_output(["git", "-C", build_source(a), "describe", "--always",
                                             "--dirty"]))),
        ("libtorrent", cmd_output(["/usr/bin/python3", "-c",
                                   "import libtorrent; print(libtorrent.__version__)"])),
        ("aria2c", cmd_output(["aria2c", "--version"])),
        ("opentracker", cmd_output(["dpkg-query", "-W", "-f=${Version}", "opentracker"])),
        ("openssl", cmd_output(["openssl", "version"])),
    ] + ([("transmission", cmd_output(["transmission-daemon", "--version"]))]
         if "transmission" in a.clients else [])


def build_source(a):
    """The source tree the measured btd was built from (--build's meson-info), else ours."""
    try:
        with open(os.path.join(a.build, "meson-info", "meson-info.json")) as f:
            return json.load(f)["directories"]["source"]
    except (OSError, ValueError, KeyError):
        return ROOT


def dirty_outside_bench(a):
    """Files with uncommitted changes outside bench/ (built into the btd measured)."""
    try:
        r = subprocess.run(["git", "-C", build_source(a), "status", "--porcelain",
                            "--untracked-files=no"],
                           capture_output=True, text=True, timeout=30)
        return [ln[3:] for ln in r.stdout.splitlines() if not ln[3:].startswith("bench/")]
    except (OSError, subprocess.SubprocessError):
        return []


def num(fmt, v):
    return "-" if v is None else fmt % v


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def recheck_section(a, rc):
    """Lines of the results' Recheck section, and the summary table (printed too)."""
    best = max(rc["openssl"])
    target = best * rc["threads"]
    size_gib = a.rsize / GIB
    cached = [r["cached"] for r in rc["runs"] if r["cached"] is not None]
    rows = ["| check | runs ok | wall s | GiB/s | of openssl x %d threads | CPU s | CPU s/GiB "
            "| peak RSS MiB |" % rc["threads"], "|---|---|---:|---:|---:|---:|---:|---:|"]
    for client, what, key in (("btd", "btd, at torrent.add", "check"),
                              ("btd", "btd, btctl verify", "recheck"),
                              ("libtorrent", "libtorrent, at add", "check"),
                              ("libtorrent", "libtorrent, force_recheck", "recheck")):
        runs = [r for r in rc["runs"] if r["client"] == client]
        if not runs:
            continue
        ok = [r for r in runs if r["ok"]]
        wall, cpu = median_of(ok, key), median_of(ok, key + "_cpu")
        if wall is None:
            rows.append("| %s | 0/%d | - | - | - | - | - | - |" % (what, len(runs)))
            continue
        rate = a.rsize / wall
        rows.append("| %s | %d/%d | %.2f | %.2f | %.0f %% | %.2f | %.2f | %.1f |" % (
            what, len(ok), len(runs), wall, rate / GIB, 100 * rate / target, cpu, cpu / size_gib,
            median_of(ok, "rss")))
    text = [
        "## Recheck", "",
        "A complete %d MiB torrent (one file, %d KiB pieces; %s: fincore %s %% resident at "
        "the checks' start) checked by a fresh "
        "release btd at `torrent.add` with dir = the data (from the call to state `seeding`), "
        "then again after `btctl verify ID` (from the command to `seeding`); torrent.get is "
        "polled every 20 ms. libtorrent: `bench/lt_recheck.py` (lt_peer.py's settings, "
        "hashing_threads %d), its check at add and its force_recheck, timed inside its process."
        % (a.recheck_size, a.rpiece // 1024,
           "the page cache emptied before each check (--recheck-cold; libtorrent's force_recheck "
           "excepted)" if a.recheck_cold else "the data written just before, so in the page cache",
           ("%.0f" % min(cached) if round(min(cached)) == round(max(cached)) else
            "%.0f-%.0f" % (min(cached), max(cached))) if cached else "?",
           a.lt_hash_threads), "",
        "Baseline: `openssl speed -evp sha1 -seconds 3 -bytes 16384`, one core: %.2f GiB/s "
        "before the runs, %.2f after; the better, %.2f GiB/s, x %d threads = **%.2f GiB/s**. "
        "%d threads: btd hashes on libuv's pool (%d threads by default), hands it at most "
        "BTD_WORK_MAX_INFLIGHT = %d jobs at once, and this machine has %d cores: "
        "min(%d, %d, %d). Target: btd >= 80 %% of it." % (
            rc["openssl"][0] / GIB, rc["openssl"][-1] / GIB, best / GIB, rc["threads"],
            target / GIB, rc["threads"], UV_THREADS, rc["inflight"], os.cpu_count(), UV_THREADS,
            rc["inflight"], os.cpu_count()), "",
        "\n".join(rows), ""]
    return text, "\n".join(rows)


def idle_section(a, idle):
    ok = [r for r in idle if r["ok"]]
    m = {k: median_of(ok, k) for k in ("rss", "hwm", "cpu_pct", "wakeups", "add", "seeding",
                                       "settled")}
    rows = ["| runs ok | VmRSS MiB | VmHWM MiB | CPU % | wakeups/s | RSS <= 100 MiB | CPU <= 1 % |",
            "|---|---:|---:|---:|---:|---|---|"]
    if ok:
        rows.append("| %d/%d | %.1f | %.1f | %.3f | %.1f | %s | %s |" % (
            len(ok), len(idle), m["rss"], m["hwm"], m["cpu_pct"], m["wakeups"],
            "yes" if m["rss"] <= 100 else "**no**", "yes" if m["cpu_pct"] <= 1 else "**no**"))
    else:
        rows.append("| 0/%d | - | - | - | - | - | - |" % len(idle))
    text = [
        "## Idle", "",
        "%d torrents of %d KiB (one file each, distinct random data, %d KiB pieces, no trackers; "
        "made by bench.py, the first checked against `btctl create`) added over the socket to "
        "one fresh release btd with dir = the data, so each is checked and seeds. Once all seed "
        "and the state directory holds %d records and has not changed for 3 s, btd is left "
        "alone (no RPC) for %d s: VmRSS at its end and VmHWM from /proc/PID/status, CPU %% = "
        "(utime + stime of /proc/PID/stat over the window) / window, wakeups/s = context "
        "switches of all its threads over the window. Targets: RSS <= 100 MiB, CPU <= 1 %%."
        % (a.idle_torrents, a.idle_kib, IDLE_PIECE // 1024, a.idle_torrents, a.idle_seconds), "",
        "\n".join(rows), ""]
    if ok:
        text += ["Getting there (medians): %d torrent.add calls took %.1f s, all seeding after "
                 "%.1f s, records written after %.1f s (from the first add)." % (
                     a.idle_torrents, m["add"], m["seeding"], m["settled"]), ""]
    return text, "\n".join(rows)


def report(a, down, up, rc, idle, started):
    """Prints the tables and writes the results file; a part not run is None."""
    params = [("mode", a.mode)]
    if down is not None or up is not None:
        params += [("payload", "%d MiB, %s, %d KiB pieces" % (
            a.size, "one file" if a.layout == "single" else
            "%d files of varied sizes in a directory, most one level down (--layout multi)"
            % MULTI_FILES, a.piece_length // 1024)), ("runs per client", str(a.runs))]
    if down is not None:
        params += [("download: seeders", "%d python3-libtorrent on 127.0.0.2..%s, opentracker on "
                    "127.0.0.1" % (a.seeders, ", each held to %d KiB/s" % (a.seeder_limit // 1024)
                                   if a.seeder_limit else "")),
                   ("download: warm-up", "one untimed libtorrent download" if a.warmup else "none")]
    if up is not None:
        params += [("upload", "one seeder on %s (btd: a fresh one per run; libtorrent: lt_peer.py "
                    "checking the data, not seed mode), %d python3-libtorrent leecher(s) on %s "
                    "dialling it, no tracker" % (SEED_IP, a.leechers,
                                                 ", ".join(leech_ips(a.leechers)))),
                   ("upload: leecher", "bench/lt_leecher.py, max_out_request_queue %s, %s" % (
                       a.leech_queue or "1500 (lt_peer.py's)",
                       "MSE handshake first (--leech-mse)" if a.leech_mse
                       else "plaintext handshake"))]
    if rc is not None:
        params += [("recheck", "%d MiB, one file; btd on %s, libtorrent on %s; %d runs each" % (
            a.recheck_size, RECHECK_IP, LT_RECHECK_IP, a.runs))]
    if idle is not None:
        params += [("idle", "%d torrents x %d KiB, btd on %s, %d s window, %d runs" % (
            a.idle_torrents, a.idle_kib, IDLE_IP, a.idle_seconds, a.runs))]
    params.append(("started", started.strftime("%Y-%m-%d %H:%M")))
    lines = ["# btd benchmark, %s" % started.strftime("%Y-%m-%d %H:%M"), ""]
    if down is not None or up is not None:
        lines += ["Download and upload: medians of the successful runs; in brackets the ratio to "
                  "btd (btd = 1.00).", ""]
    printed = []
    if down is not None:
        t = table(summarize(down, a.size, a.clients))
        printed += ["Download (each client leeching from %d libtorrent seeders):" % a.seeders, t]
        lines += ["## Download", "",
                  "Each client downloads from %d python3-libtorrent seeders; its wall time to a "
                  "complete download, its CPU and peak RSS." % a.seeders, ""]
        if "transmission" in a.clients:
            lines += ["transmission (transmission-daemon 3.00) ignores loopback peers from a "
                      "tracker, so it is dialled instead by %d python3-libtorrent seeders of its "
                      "own, in seed mode, started after its torrent-add (inside its timed "
                      "window, which runs from torrent-add until leftUntilDone is 0, polled "
                      "every 0.1 s): see bench/README.md." % a.seeders, ""]
        lines += [t, ""]
    if up is not None:
        t = table(summarize(up, a.size * a.leechers, SEEDERS), UPLOAD_COLUMNS, "seeder")
        who = ("one python3-libtorrent leecher" if a.leechers == 1 else
               "%d python3-libtorrent leechers at once" % a.leechers)
        printed += ["Upload (%s downloading from the seeder alone):" % who, t]
        lines += ["## Upload", "",
                  "The seeder alone serves %s; wall time from the first leecher's start to the "
                  "last one's \"finished\", the seeder's CPU (user + system) over that time "
                  "(MiB/s and CPU s/GiB count the %d MiB it served), the seeder's peak RSS over "
                  "its life (its check included)." % (who, a.size * a.leechers), "", t, ""]
    if rc is not None:
        text, t = recheck_section(a, rc)
        printed += ["Recheck (%d MiB, medians):" % a.recheck_size, t]
        lines += text
    if idle is not None:
        text, t = idle_section(a, idle)
        printed += ["Idle (%d torrents seeding, %d s):" % (a.idle_torrents, a.idle_seconds), t]
        lines += text
    lines += ["## Notes", "",
              "- The machine may be shared: another engineer's builds and tests can run on the "
              "same cores during the runs, so every figure is noisy (load average at the start "
              "%s, at the end %s). Compare runs made on the same machine." % (
                  a.load_start, open("/proc/loadavg").read().split(" ")[0])]
    if rc is not None and not a.recheck_cold:
        lines.append("- Recheck: the data is in the page cache, so this is btd's hashing and "
                     "reading from memory, not the disk's speed.")
    dirty = a.dirty
    if dirty:
        lines.append("- The btd measured was built from a tree with uncommitted changes outside "
                     "bench/: %s." % ", ".join(dirty))
    lines += ["- %s" % n for n in a.note]
    lines += ["", "## Machine", ""]
    lines += ["- %s: %s" % kv for kv in machine(a)]
    lines += ["", "## Parameters", ""] + ["- %s: %s" % kv for kv in params]
    if down is not None:
        lines += ["", "## Download runs", "",
                  "seeders' CPU s: the swarm's seeders' user + system from the client's start to "
                  "its exit, summed (transmission's own seeders are not counted).", "",
                  "| run | wall s | CPU s | peak RSS MiB | seeders' CPU s | result |",
                  "|---|---:|---:|---:|---:|---|"]
        for r in down:
            if r["ok"]:
                lines.append("| %s | %.2f | %.2f | %.1f | %s | ok |" % (
                    r["label"], r["wall"], r["cpu"], r["rss"], num("%.2f", r["seeders_cpu"])))
            else:
                lines.append("| %s | - | - | - | - | %s |" % (r["label"],
                                                             r["error"].replace("|", "/")))
    if up is not None:
        lines += ["", "## Upload runs", "",
                  "ready s: from the seeder's start to it seeding (its check); seeder CPU s with "
                  "check: its whole life (os.wait4).", "",
                  "| run | ready s | wall s | seeder CPU s | seeder CPU s with check "
                  "| seeder peak RSS MiB | leecher CPU s | result |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in up:
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["label"], num("%.2f", r["ready"]), num("%.2f", r["wall"]), num("%.2f", r["cpu"]),
                num("%.2f", r["cpu_total"]), num("%.1f", r["rss"] or None),
                num("%.2f", r["leech_cpu"]), "ok" if r["ok"] else r["error"].replace("|", "/")))
    if rc is not None:
        lines += ["", "## Recheck runs", "",
                  "check: at add (btd: torrent.add to seeding); recheck: btctl verify / "
                  "force_recheck to seeding. CPU: the process's user + system over each. others: "
                  "the cores the rest of the machine kept busy meanwhile (/proc/stat busy time "
                  "less the process's CPU, over the wall time; for libtorrent over its whole "
                  "life), out of %d." % os.cpu_count(), "",
                  "| run | cached % | check s | GiB/s | CPU s | others | recheck s | GiB/s | CPU s "
                  "| others | peak RSS MiB | result |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rc["runs"]:
            if r["ok"]:
                lines.append("| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f "
                             "| %.1f | ok |" % (
                                 r["label"], num("%.0f", r["cached"]), r["check"],
                                 a.rsize / GIB / r["check"], r["check_cpu"], r["check_others"],
                                 r["recheck"], a.rsize / GIB / r["recheck"], r["recheck_cpu"],
                                 r["recheck_others"], r["rss"]))
            else:
                lines.append("| %s | %s | - | - | - | - | - | - | - | - | - | %s |" % (
                    r["label"], num("%.0f", r["cached"]), r["error"].replace("|", "/")))
    if idle is not None:
        lines += ["", "## Idle runs", "",
                  "add s: the %d torrent.add calls (slowest: the longest one); seeding s and "
                  "records s: from the first add to all seeding, to the last change in the state "
                  "directory; add CPU s: btd's CPU over all that. RSS: VmRSS at the window's "
                  "start, its min and max (sampled each second), its end and VmHWM; anon / file: "
                  "RssAnon / RssFile at the end. writes: state files changed during the window. "
                  "stop s: SIGTERM to exit." % a.idle_torrents, "",
                  "| run | add s | slowest add s | seeding s | records s | add CPU s "
                  "| RSS start / min / max / end MiB | VmHWM MiB | anon / file MiB | CPU s | CPU % "
                  "| wakeups/s | threads | fds | state dir KiB | writes | stop s | result |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
                  "|---:|---|"]
        for r in idle:
            if r["ok"]:
                lines.append("| %s | %.1f | %.3f | %.1f | %.1f | %.2f | %.1f / %.1f / %.1f / %.1f "
                             "| %.1f | %.1f / %.1f | %.2f | %.3f | %.1f | %d | %d | %.0f | %d "
                             "| %.2f | ok (exit %d) |" % (
                                 r["label"], r["add"], r["add_max"], r["seeding"], r["settled"],
                                 r["add_cpu"], r["rss_start"], r["rss_min"], r["rss_max"],
                                 r["rss"], r["hwm"], r["anon"], r["file"], r["cpu_s"],
                                 r["cpu_pct"], r["wakeups"], r["threads"], r["fds"],
                                 r["state_kib"], r["writes"], r["stop"], r["exit"]))
            else:
                lines.append("| %s |%s %s |" % (r["label"], " - |" * 16,
                                               r["error"].replace("|", "/")))
    text = "\n".join(lines) + "\n"
    print("\n" + "\n\n".join(printed), flush=True)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    out = os.path.join(HERE, "results", started.strftime("%Y-%m-%d-%H%M") + ".md")
    n = 1
    while os.path.exists(out):  # two runs in one minute
        n += 1
        out = os.path.join(HERE, "results", started.strftime("%Y-%m-%d-%H%M") + "-%d.md" % n)
    with open(out, "w") as f:
        f.write(text)
    print("\nwritten to " + os.path.relpath(out, ROOT))


def download_part(a, name, sums):
    """opentracker, the seeders, then A B C A B C ...; the results. The swarm is stopped after."""
    tracker, seeders = None, []
    try:
        torrent = os.path.join(a.work, "payload.torrent")
        port = swarm.free_port()
        ih = swarm.create_torrent(a.btctl, os.path.join(a.seed_dir, name), torrent,
                                  trackers=[swarm.Opentracker.urls(port)[0]],
                                  piece_length=a.piece_length)
        if ih != a.info_hash:
            raise RuntimeError("the tracker's torrent has another info-hash")
        tracker = swarm.Opentracker([ih], port=port)
        for i in range(a.seeders):
            seeders.append(swarm.LtPeer(torrent, a.seed_dir, seeder_ip(i),
                                        upload_limit=a.seeder_limit))
        print("download: tracker %s, %d seeders announced" % (tracker.http, len(seeders)),
              flush=True)
        if a.warmup:
            one_run(a, "libtorrent", "warmup", torrent, sums)
        results = []
        for run in range(1, a.runs + 1):
            for client in a.clients:
                results.append(one_run(a, client, "%s-%d" % (client, run), torrent, sums,
                                       seeders))
        return results
    finally:
        for s in seeders:
            s.stop()
        if tracker:
            tracker.stop()


def upload_part(a, sums):
    """btd lt btd lt ... seeding to one libtorrent leecher; the results."""
    print("upload: seeders on %s, leecher(s) on %s" % (SEED_IP, ", ".join(leech_ips(a.leechers))),
          flush=True)
    results = []
    for run in range(1, a.runs + 1):
        for seeder in SEEDERS:
            results.append(upload_run(a, seeder, "up-%s-%d" % (seeder, run), sums))
    return results


PARTS = {"download": ("download",), "upload": ("upload",), "both": ("download", "upload"),
         "recheck": ("recheck",), "idle": ("idle",),
         "all": ("download", "upload", "recheck", "idle")}


def main():
    ap = argparse.ArgumentParser(
        description="btd vs aria2c, python3-libtorrent and transmission on loopback; btd's "
        "recheck speed and idle cost")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"), help="meson build dir")
    ap.add_argument("--mode", choices=tuple(PARTS), default="all",
                    help="which part runs: download, upload, both (download and upload), "
                    "recheck, idle, or all of them (default all)")
    ap.add_argument("--size", type=int, default=1024, help="payload MiB (default 1024)")
    ap.add_argument("--layout", choices=("single", "multi"), default="single",
                    help="download and upload payload: one file (default), or multi: %d files "
                    "of varied sizes in a directory, most one level down" % MULTI_FILES)
    ap.add_argument("--runs", type=int, default=3, help="runs per client (default 3)")
    ap.add_argument("--piece-length", type=int, default=None, metavar="BYTES",
                    help="the payload torrent's piece length (default: btctl create's)")
    ap.add_argument("--seeder-limit", type=int, default=0, metavar="BYTES_PER_S",
                    help="upload limit of each download seeder (default: none)")
    ap.add_argument("--seeders", type=int, default=2,
                    help="libtorrent seeders of the download part (default 2, at most 16)")
    ap.add_argument("--leechers", type=int, default=1, metavar="N",
                    help="upload: libtorrent leechers downloading from the seeder at once "
                    "(default 1), on 127.0.0.3 and 127.0.3.2..")
    ap.add_argument("--leech-queue", type=int, default=500, metavar="N",
                    help="upload: the leecher's max_out_request_queue (default 500, libtorrent's "
                    "default; 0 = lt_peer.py's 1500, more than btd queues)")
    ap.add_argument("--leech-mse", action="store_true",
                    help="upload: the leecher tries an encrypted handshake first (libtorrent's "
                    "default)")
    ap.add_argument("--clients", default=",".join(CLIENTS), metavar="LIST",
                    help="download: the clients to run, comma-separated (default: %s)"
                    % ",".join(CLIENTS))
    ap.add_argument("--no-transmission", dest="transmission", action="store_false",
                    help="download: leave transmission-daemon out (it is in when installed)")
    ap.add_argument("--recheck-size", type=int, default=4096, metavar="MIB",
                    help="recheck: the torrent's size in MiB (default 4096)")
    ap.add_argument("--recheck-no-lt", dest="recheck_lt", action="store_false",
                    help="recheck: btd only, no libtorrent runs")
    ap.add_argument("--recheck-cold", action="store_true",
                    help="recheck: empty the page cache (root) before each of btd's checks and "
                    "before libtorrent's check at add, so they read the disk")
    ap.add_argument("--lt-hash-threads", type=int, default=0, metavar="N",
                    help="recheck: libtorrent's hashing_threads (default: as many as btd uses)")
    ap.add_argument("--idle-torrents", type=int, default=1000, metavar="N",
                    help="idle: torrents loaded (default 1000)")
    ap.add_argument("--idle-kib", type=int, default=64, metavar="KIB",
                    help="idle: each torrent's one file, KiB (default 64)")
    ap.add_argument("--idle-seconds", type=int, default=60, metavar="S",
                    help="idle: the measured window (default 60)")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the results' Notes (repeatable)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run (default 600)")
    ap.add_argument("--tmp", help="where the payload and downloads go (default: $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the payload and torrent")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the untimed download that lets the seeders hash their pieces")
    a = ap.parse_args()
    if not 1 <= a.seeders <= 16 or a.size < 1 or a.runs < 1 or not 1 <= a.leechers <= 16:
        ap.error("need --size >= 1, --runs >= 1, 1 <= --seeders <= 16, 1 <= --leechers <= 16")
    if a.recheck_size < 1 or a.idle_torrents < 1 or a.idle_kib < 1 or a.idle_seconds < 1:
        ap.error("need --recheck-size, --idle-torrents, --idle-kib, --idle-seconds >= 1")
    parts = PARTS[a.mode]
    wanted = a.clients.split(",")
    if not wanted or any(c not in CLIENTS for c in wanted):
        ap.error("--clients: a comma-separated list of " + ", ".join(CLIENTS))
    a.clients = [c for c in CLIENTS if c in wanted and (c != "transmission" or (
        a.transmission and shutil.which("transmission-daemon")))]
    a.btd = os.path.join(a.build, "daemon", "btd")
    a.btctl = os.path.join(a.build, "ctl", "btctl")
    a.load_start = open("/proc/loadavg").read().split(" ")[0]
    a.dirty = dirty_outside_bench(a)  # as built by run.sh just before
    started = datetime.datetime.now()
    a.work = tempfile.mkdtemp(prefix="btd-bench-", dir=a.tmp)
    try:
        down = up = rc = idle = None
        if "download" in parts or "upload" in parts:
            print("payload: %d MiB (%s) in %s" % (a.size, a.layout, a.work), flush=True)
            a.seed_dir = os.path.join(a.work, "seed")
            os.makedirs(a.seed_dir)
            name, sums = make_layout(a.seed_dir, a.layout, a.size)
            # Trackerless: the upload part's torrent. The download part's torrent differs only
            # by its announce URL (outside the info dictionary), so both have one info-hash.
            a.utorrent = os.path.join(a.work, "payload-notracker.torrent")
            a.info_hash = swarm.create_torrent(a.btctl, os.path.join(a.seed_dir, name),
                                               a.utorrent, piece_length=a.piece_length)
            with open(a.utorrent, "rb") as f:
                raw = f.read()
            a.piece_length = int(raw.split(b"12:piece lengthi", 1)[1].split(b"e", 1)[0])
            if "download" in parts:
                down = download_part(a, name, sums)
            if "upload" in parts:
                up = upload_part(a, sums)
            if not a.keep:
                shutil.rmtree(a.seed_dir, ignore_errors=True)
        if "recheck" in parts:
            rc = recheck_part(a)
        if "idle" in parts:
            idle = idle_part(a)
        report(a, down, up, rc, idle, started)
        runs = (down or []) + (up or []) + (rc["runs"] if rc else []) + (idle or [])
        return 0 if all(r["ok"] for r in runs) else 1
    finally:
        if a.keep:
            print("kept " + a.work)
        else:
            shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
