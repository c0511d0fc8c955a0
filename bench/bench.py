#!/usr/bin/python3
"""bench: btd against aria2c and python3-libtorrent on loopback, downloading and uploading.

    bench.py --build DIR [--mode download|upload|both] [--size MIB] [--runs N]
             [--seeders N] [--leech-queue N] [--leech-mse] [--timeout S] [--tmp DIR]
             [--keep] [--no-warmup]

Makes a random payload and a torrent for it, then:

Download (--mode download or both): starts opentracker on 127.0.0.1 and N
python3-libtorrent seeders on 127.0.0.2.., then downloads the payload with
each client in turn (A B C A B C ...), every run into a fresh directory, and
checks the sha256 of the result.
Wall time: btd from `btctl add` to `btctl wait` returning (a fresh btd is
started before, and stopped after, each run); aria2c from its start to its
"Seeding is over" line (printed when the download is complete, as
--seed-time=0); libtorrent from its start to its "finished" line.
CPU time: user + system from os.wait4 (each client is a direct child).

Upload (--mode upload or both, after the download part and its swarm are
stopped): one seeder on 127.0.0.2 (a fresh btd, or a python3-libtorrent
lt_peer.py) is given the directory holding the payload, checks it, and once
it is seeding a python3-libtorrent leecher on 127.0.0.3 (bench/lt_leecher.py:
lt_peer.py with two settings changed, see there), dialling only that seeder
(a trackerless torrent of the same payload and piece size), downloads it
into a fresh directory (sha256 checked). Seeders alternate (btd lt btd
lt ...). Wall time: from the leecher's start to its "finished" line. CPU
time: the seeder's user + system over that window (utime + stime of
/proc/PID/stat, all threads, read before the leecher starts and when it
finishes); its whole life, check included, from os.wait4 too.

Peak RSS: VmHWM of /proc/PID/status, sampled until it exits (ru_maxrss is
not used: Linux counts in it the parent's RSS at fork, here ~30 MiB).
Prints tables of medians (ratios to btd) and writes them to bench/results/.
Only loopback addresses are used, DHT/LSD/PEX/UPnP/NAT-PMP are off.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
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
CLIENTS = ("btd", "aria2c", "libtorrent")
SEEDERS = ("btd", "libtorrent")  # the upload part
SEED_IP, LEECH_IP = "127.0.0.2", "127.0.0.3"
MIB = 1 << 20
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


RUNNERS = {"btd": run_btd, "aria2c": run_aria2c, "libtorrent": run_libtorrent}


def one_run(a, client, label, torrent, name, digest):
    ddir = os.path.join(a.work, label)
    os.makedirs(ddir)
    log = os.path.join(a.work, label + ".log")
    try:
        wall, child, err = RUNNERS[client](a, torrent, ddir, log)
        usage, hwm, tail = child.usage, child.hwm_kib, child.tail()
    except Exception as e:  # noqa: BLE001 - a run that breaks is a failed run
        wall, usage, hwm, err, tail = None, None, 0, "%s: %s" % (type(e).__name__, e), ""
    if err is None:
        path = os.path.join(ddir, name)
        if not os.path.exists(path) or swarm.sha256_file(path) != digest:
            err = "sha256 mismatch"
    if err:
        err += " (log tail: %s)" % tail
    shutil.rmtree(ddir, ignore_errors=True)
    os.sync()
    res = {"client": client, "label": label, "ok": err is None, "error": err, "wall": wall,
           "cpu": usage.ru_utime + usage.ru_stime if usage else None,
           "rss": hwm / 1024}
    print("  %-16s %s" % (label, "wall %.2f s  cpu %.2f s  rss %.0f MiB" % (
        wall, res["cpu"], res["rss"]) if res["ok"] else "FAILED: " + err), flush=True)
    return res


def proc_cpu(pid):
    """User + system seconds of a live process, all its threads (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields[0] is field 3, state
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rpc(sock, method, **params):
    """One JSON-RPC call on btd's control socket; the result, or raises."""
    req = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}) + "\n"
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(req.encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    reply = json.loads(buf)
    if "error" in reply:
        raise RuntimeError("%s: %s" % (method, reply["error"].get("message")))
    return reply["result"]


def start_btd_seeder(a, log):
    """A fresh btd on SEED_IP seeding the payload in place; (child, address)."""
    state = tempfile.mkdtemp(prefix="btd-state-", dir=a.work)
    sock = os.path.join(state, "btd.sock")
    conf = os.path.join(state, "btd.conf")
    with open(conf, "w") as f:
        json.dump({"listen_address": SEED_IP}, f)
    child = Child([a.btd, "--config", conf, "--port", "0", "--socket", sock, "--state-dir", state,
                   "--download-dir", a.seed_dir, "--log-level", "warning"], log)
    try:
        swarm.wait_until(lambda: os.path.exists(sock) or child.exited(), 10, "btd's socket")
        if child.exited():
            raise RuntimeError("btd exited at start")
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


def upload_run(a, seeder_name, label, name, digest):
    """One seeder, one leecher; the result dict (the seeder's figures, the leecher's wall)."""
    ddir = os.path.join(a.work, label)
    os.makedirs(ddir)
    res = {"client": seeder_name, "label": label, "ok": False, "error": None, "wall": None,
           "cpu": None, "cpu_total": None, "rss": 0, "leech_cpu": None, "ready": None}
    seeder = leech = None
    tail = ""
    try:
        t_start = time.monotonic()
        seeder, addr = UPLOADERS[seeder_name](a, os.path.join(a.work, label + "-seeder.log"))
        res["ready"] = time.monotonic() - t_start
        cpu0 = proc_cpu(seeder.proc.pid)
        leech = Child(["/usr/bin/python3", LT_LEECHER, "--request-queue", str(a.leech_queue)] +
                      (["--mse"] if a.leech_mse else []) +
                      ["--torrent", a.utorrent, "--dir", ddir, "--ip", LEECH_IP, "--peer", addr,
                       "--exit-when-done"], os.path.join(a.work, label + "-leecher.log"))
        if not leech.wait(a.timeout, until=lambda: leech.seen("finished") or seeder.exited()):
            raise RuntimeError("timed out")
        if seeder.exited():
            raise RuntimeError("the seeder exited %d" % seeder.proc.returncode)
        cpu1 = proc_cpu(seeder.proc.pid)
        seeder._sample_hwm()
        done = leech.seen("finished")
        if done is None:
            raise RuntimeError("the leecher exited %d before finishing" % leech.proc.returncode)
        res.update(wall=done - leech.t0, cpu=cpu1 - cpu0, rss=seeder.hwm_kib / 1024)
        leech.wait(20)  # let it exit by itself, so its rusage is complete
    except Exception as e:  # noqa: BLE001 - a run that breaks is a failed run
        res["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if leech:
            usage = leech.stop()
            res["leech_cpu"] = usage.ru_utime + usage.ru_stime if usage else None
            tail += "leecher: " + leech.tail(3)
        if seeder:
            usage = seeder.stop()
            res["cpu_total"] = usage.ru_utime + usage.ru_stime if usage else None
            tail += " seeder: " + seeder.tail(3)
    if res["error"] is None:
        path = os.path.join(ddir, name)
        if not os.path.exists(path) or swarm.sha256_file(path) != digest:
            res["error"] = "sha256 mismatch"
    if res["error"]:
        res["error"] += " (log tail: %s)" % tail
    res["ok"] = res["error"] is None
    shutil.rmtree(ddir, ignore_errors=True)
    os.sync()
    print("  %-16s %s" % (label, "ready %s s  wall %s s  seeder cpu %s s (%s with its check)  "
                                 "rss %s MiB  leecher cpu %s s" % (
                                     num("%.2f", res["ready"]), num("%.2f", res["wall"]),
                                     num("%.2f", res["cpu"]), num("%.2f", res["cpu_total"]),
                                     num("%.0f", res["rss"]), num("%.2f", res["leech_cpu"]))
                                 if res["ok"] else "FAILED: " + res["error"]), flush=True)
    return res


def make_payload(path, size_mib):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(size_mib // 8):
            chunk = os.urandom(8 * MIB)
            h.update(chunk)
            f.write(chunk)
        chunk = os.urandom((size_mib % 8) * MIB)
        h.update(chunk)
        f.write(chunk)
    return h.hexdigest()


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
                                 cmd_output(["git", "-C", ROOT, "describe", "--always", "--dirty"]))),
        ("libtorrent", cmd_output(["/usr/bin/python3", "-c",
                                   "import libtorrent; print(libtorrent.__version__)"])),
        ("aria2c", cmd_output(["aria2c", "--version"])),
        ("opentracker", cmd_output(["dpkg-query", "-W", "-f=${Version}", "opentracker"])),
    ]


def num(fmt, v):
    return "-" if v is None else fmt % v


def report(a, down, up, started):
    """Prints the tables and writes the results file; down or up is None when not run."""
    params = [("mode", a.mode), ("payload", "%d MiB, one file, %d KiB pieces" % (
        a.size, a.piece_length // 1024)), ("runs per client", str(a.runs))]
    if down is not None:
        params += [("download: seeders", "%d python3-libtorrent on 127.0.0.2.., opentracker on "
                    "127.0.0.1" % a.seeders),
                   ("download: warm-up", "one untimed libtorrent download" if a.warmup else "none")]
    if up is not None:
        params += [("upload", "one seeder on %s (btd: a fresh one per run; libtorrent: lt_peer.py "
                    "checking the data, not seed mode), one python3-libtorrent leecher on %s "
                    "dialling it, no tracker" % (SEED_IP, LEECH_IP)),
                   ("upload: leecher", "bench/lt_leecher.py, max_out_request_queue %s, %s" % (
                       a.leech_queue or "1500 (lt_peer.py's)",
                       "MSE handshake first (--leech-mse)" if a.leech_mse
                       else "plaintext handshake"))]
    params.append(("started", started.strftime("%Y-%m-%d %H:%M")))
    lines = ["# btd benchmark, %s" % started.strftime("%Y-%m-%d %H:%M"), "",
             "Medians of the successful runs; in brackets the ratio to btd (btd = 1.00).", ""]
    printed = []
    if down is not None:
        t = table(summarize(down, a.size, CLIENTS))
        printed += ["Download (each client leeching from %d libtorrent seeders):" % a.seeders, t]
        lines += ["## Download", "",
                  "Each client downloads from %d python3-libtorrent seeders; its wall time to a "
                  "complete download, its CPU and peak RSS." % a.seeders, "", t, ""]
    if up is not None:
        t = table(summarize(up, a.size, SEEDERS), UPLOAD_COLUMNS, "seeder")
        printed += ["Upload (one python3-libtorrent leecher downloading from the seeder alone):", t]
        lines += ["## Upload", "",
                  "One python3-libtorrent leecher downloads from the seeder alone; wall time from "
                  "the leecher's start to its \"finished\", the seeder's CPU (user + system) over "
                  "that time, the seeder's peak RSS over its life (its check included).", "", t, ""]
    lines += ["## Machine", ""]
    lines += ["- %s: %s" % kv for kv in machine(a)]
    lines += ["", "## Parameters", ""] + ["- %s: %s" % kv for kv in params]
    if down is not None:
        lines += ["", "## Download runs", "", "| run | wall s | CPU s | peak RSS MiB | result |",
                  "|---|---:|---:|---:|---|"]
        for r in down:
            if r["ok"]:
                lines.append("| %s | %.2f | %.2f | %.1f | ok |" % (r["label"], r["wall"], r["cpu"],
                                                                    r["rss"]))
            else:
                lines.append("| %s | - | - | - | %s |" % (r["label"], r["error"].replace("|", "/")))
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


def download_part(a, name, digest):
    """opentracker, the seeders, then A B C A B C ...; the results. The swarm is stopped after."""
    tracker, seeders = None, []
    try:
        torrent = os.path.join(a.work, "payload.torrent")
        port = swarm.free_port()
        ih = swarm.create_torrent(a.btctl, os.path.join(a.seed_dir, name), torrent,
                                  trackers=[swarm.Opentracker.urls(port)[0]])
        if ih != a.info_hash:
            raise RuntimeError("the tracker's torrent has another info-hash")
        tracker = swarm.Opentracker([ih], port=port)
        for i in range(a.seeders):
            seeders.append(swarm.LtPeer(torrent, a.seed_dir, "127.0.0.%d" % (2 + i)))
        print("download: tracker %s, %d seeders announced" % (tracker.http, len(seeders)),
              flush=True)
        if a.warmup:
            one_run(a, "libtorrent", "warmup", torrent, name, digest)
        results = []
        for run in range(1, a.runs + 1):
            for client in CLIENTS:
                results.append(one_run(a, client, "%s-%d" % (client, run), torrent, name, digest))
        return results
    finally:
        for s in seeders:
            s.stop()
        if tracker:
            tracker.stop()


def upload_part(a, name, digest):
    """btd lt btd lt ... seeding to one libtorrent leecher; the results."""
    print("upload: seeders on %s, leecher on %s" % (SEED_IP, LEECH_IP), flush=True)
    results = []
    for run in range(1, a.runs + 1):
        for seeder in SEEDERS:
            results.append(upload_run(a, seeder, "up-%s-%d" % (seeder, run), name, digest))
    return results


def main():
    ap = argparse.ArgumentParser(description="btd vs aria2c vs python3-libtorrent on loopback")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"), help="meson build dir")
    ap.add_argument("--mode", choices=("download", "upload", "both"), default="both",
                    help="which part runs (default both)")
    ap.add_argument("--size", type=int, default=1024, help="payload MiB (default 1024)")
    ap.add_argument("--runs", type=int, default=3, help="runs per client (default 3)")
    ap.add_argument("--seeders", type=int, default=2,
                    help="libtorrent seeders of the download part (default 2)")
    ap.add_argument("--leech-queue", type=int, default=500, metavar="N",
                    help="upload: the leecher's max_out_request_queue (default 500, libtorrent's "
                    "default; 0 = lt_peer.py's 1500, more than btd queues)")
    ap.add_argument("--leech-mse", action="store_true",
                    help="upload: the leecher tries an encrypted handshake first (libtorrent's "
                    "default; btd answers plaintext only, ~1 s to redial)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run (default 600)")
    ap.add_argument("--tmp", help="where the payload and downloads go (default: $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the payload and torrent")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the untimed download that lets the seeders hash their pieces")
    a = ap.parse_args()
    if not 1 <= a.seeders <= 5 or a.size < 1 or a.runs < 1:
        ap.error("need --size >= 1, --runs >= 1, 1 <= --seeders <= 5")
    a.btd = os.path.join(a.build, "daemon", "btd")
    a.btctl = os.path.join(a.build, "ctl", "btctl")
    started = datetime.datetime.now()
    a.work = tempfile.mkdtemp(prefix="btd-bench-", dir=a.tmp)
    try:
        print("payload: %d MiB in %s" % (a.size, a.work), flush=True)
        a.seed_dir = os.path.join(a.work, "seed")
        os.makedirs(a.seed_dir)
        name = "payload.bin"
        digest = make_payload(os.path.join(a.seed_dir, name), a.size)
        # Trackerless: the upload part's torrent. The download part's torrent differs only
        # by its announce URL (outside the info dictionary), so both have one info-hash.
        a.utorrent = os.path.join(a.work, "payload-notracker.torrent")
        a.info_hash = swarm.create_torrent(a.btctl, os.path.join(a.seed_dir, name), a.utorrent)
        with open(a.utorrent, "rb") as f:
            raw = f.read()
        a.piece_length = int(raw.split(b"12:piece lengthi", 1)[1].split(b"e", 1)[0])
        down = up = None
        if a.mode in ("download", "both"):
            down = download_part(a, name, digest)
        if a.mode in ("upload", "both"):
            up = upload_part(a, name, digest)
        report(a, down, up, started)
        return 0 if all(r["ok"] for r in (down or []) + (up or [])) else 1
    finally:
        if a.keep:
            print("kept " + a.work)
        else:
            shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
