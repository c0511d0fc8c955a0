#!/usr/bin/python3
"""btd as a service: its systemd unit, sd_notify, SIGHUP, one btd per socket, who may connect.

- The unit built from systemd/btd.service.in passes `systemd-analyze verify`
  (ExecStart pointed at the built btd) and carries the sandboxing it should.
- sd_notify: the test owns the NOTIFY_SOCKET (a datagram socket, as systemd
  does). READY=1 comes only when the control socket answers; STATUS= lines
  follow; SIGTERM brings STOPPING=1 and exit status 0.
- SIGHUP reads --config again: a live key changes, a flag still wins over
  the file, a key that needs a restart is named in a warning; an invalid
  file keeps the old configuration and logs one line naming file and key.
- A second btd on a socket that answers is refused; a stale socket left by
  a killed btd is replaced; a path that is not a socket is left alone.
- SO_PEERCRED: a client under another uid (socket mode widened to 0666 so
  the file mode does not stop it first) is disconnected unanswered and
  logged; a member of the socket's group by a supplementary group is served.

Every process is stopped by its PID; every wait is bounded.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import btdtest
from swarm import free_port, wait_until

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
UNIT = os.environ.get("BTD_UNIT")

START_BOUND = 30  # seconds for a sanitized btd to be ready
NOBODY = 65534
STATUS_RE = re.compile(r"^STATUS=\d+ torrents?, \d+ peers?, down [0-9.]+ [KMGT]?i?B/s, "
                       r"up [0-9.]+ [KMGT]?i?B/s$")
UNIT_MUSTS = ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=btd", "Group=btd",
              "RuntimeDirectory=btd", "StateDirectory=btd", "UMask=0027", "TimeoutStopSec=30",
              "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
              "PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
              "ProtectKernelLogs=yes", "ProtectControlGroups=yes", "RestrictNamespaces=yes",
              "LockPersonality=yes", "MemoryDenyWriteExecute=yes", "RestrictRealtime=yes",
              "RestrictSUIDSGID=yes", "CapabilityBoundingSet=",
              "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
              "SystemCallFilter=@system-service", "SystemCallArchitectures=native")

# Runs as another user: connects, asks session.get, says what came back.
CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"session.get"}\n')
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
except (ConnectionResetError, BrokenPipeError):  # closed before or after our request
    buf = b""
except OSError as e:
    print("error: %s" % e)
    sys.exit(0)
print("reply" if buf else "closed")
"""


def rpc(path, method, params=None, timeout=5):
    """One JSON-RPC call on a fresh connection, no retry; the result (raises on error)."""
    req = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        req["params"] = params
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("btd closed the connection")
            buf += chunk
    reply = json.loads(buf)
    if "error" in reply:
        raise RuntimeError(reply["error"]["message"])
    return reply["result"]


def answers(path):
    try:
        return rpc(path, "session.get")
    except (OSError, EOFError, ValueError):
        return None


class Notify:
    """The NOTIFY_SOCKET end systemd would hold: a datagram socket bound in dir."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def wait(self, pred, timeout, what):
        """The next message for which pred is true; earlier ones are kept in .messages."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %s from btd within %s s (got %r)" %
                                   (what, timeout, self.messages))
            self.sock.settimeout(left)
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.messages.append(msg)
            if pred(msg):
                return msg

    def close(self):
        self.sock.close()


class Daemon:
    """btd on a socket in dir, stderr in a log file, stopped by its PID."""

    def __init__(self, d, sock=None, extra=(), notify=None, name="btd", wrapper=()):
        self.dir = d
        self.socket = sock or os.path.join(d, "btd.sock")
        self.log = os.path.join(d, name + ".log")
        self._f = open(self.log, "w")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        if notify:
            env["NOTIFY_SOCKET"] = notify.path
        cmd = [BTD, "--port", "0", "--socket", self.socket, "--state-dir",
               os.path.join(d, name + "-state"), "--download-dir", os.path.join(d, "downloads")]
        self.proc = btdtest.start(list(wrapper) + cmd + list(extra), env=env, stderr=self._f)

    def wait_answering(self):
        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("btd exited: " + self.log_text())
            return answers(self.socket)
        return wait_until(up, START_BOUND, "btd to answer on its socket")

    def log_lines(self):
        with open(self.log, errors="replace") as f:
            return f.read().splitlines()

    def log_text(self):
        return "\n".join(self.log_lines())

    def stop(self):
        rc = btdtest.stop(self.proc, timeout=20)
        self._f.close()
        return rc


def test_unit(t):
    analyze = shutil.which("systemd-analyze")
    if not UNIT or not os.path.exists(UNIT):
        t.ok(True, "systemd-analyze verify btd.service # SKIP BTD_UNIT not set")
        return
    with open(UNIT) as f:
        text = f.read()
    lines = [ln.strip() for ln in text.splitlines()]
    missing = [m for m in UNIT_MUSTS if m not in lines]
    t.ok(not missing, "the unit has Type=notify, ExecReload, its user, directories and sandbox",
         "missing: %r" % missing)
    m = re.search(r"^ExecStart=(\S+) --config (\S+)$", text, re.M)
    t.ok(m and m.group(1).endswith("/bin/btd") and m.group(2).endswith("/btd/btd.conf"),
         "ExecStart runs the installed btd with the installed btd.conf", text)
    if not analyze:
        t.ok(True, "systemd-analyze verify btd.service # SKIP systemd-analyze not installed")
        return
    d = btdtest.tempdir("unit-")
    copy = os.path.join(d, "btd.service")
    with open(copy, "w") as f:  # the binary is not installed: point ExecStart at the built one
        f.write(re.sub(r"^ExecStart=\S+", "ExecStart=" + BTD, text, flags=re.M))
    r = btdtest.run([analyze, "verify", copy], timeout=60)
    ours = [ln for ln in (r.stdout + r.stderr).splitlines() if "btd.service" in ln]
    t.ok(r.returncode == 0 and not ours, "systemd-analyze verify btd.service: no complaint",
         "status %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    sock_unit = os.path.join(os.path.dirname(UNIT), "btd.socket")
    with open(sock_unit) as f:
        sock_text = f.read()
    t.ok("ListenStream=/run/btd/btd.sock" in sock_text.splitlines()
         and "RuntimeDirectoryPreserve=yes" in lines,
         "btd.socket holds /run/btd/btd.sock, which btd.service keeps when it stops")
    shutil.copy(sock_unit, os.path.join(d, "btd.socket"))
    r = btdtest.run([analyze, "verify", os.path.join(d, "btd.socket")], timeout=60)
    ours = [ln for ln in (r.stdout + r.stderr).splitlines() if "btd.socket" in ln]
    t.ok(r.returncode == 0 and not ours, "systemd-analyze verify btd.socket: no complaint",
         "status %d\n%s%s" % (r.returncode, r.stdout, r.stderr))


def test_socket_activation(t):
    """systemd-socket-activate holds both sockets and starts btd on the first connection."""
    activate = shutil.which("systemd-socket-activate")
    if not activate:
        t.ok(True, "socket activation # SKIP systemd-socket-activate not installed")
        return
    d = btdtest.tempdir("svc-act-")
    sock, port = os.path.join(d, "ctl.sock"), free_port()
    wrapper = [activate, "-l", sock, "-l", "127.0.0.1:%d" % port]
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):  # it passes no other
        if var in os.environ:
            wrapper += ["-E", var]
    btd = Daemon(d, sock=os.path.join(d, "unused.sock"), wrapper=wrapper,
                 extra=["--log-level", "debug"])
    try:
        wait_until(lambda: os.path.exists(sock), START_BOUND, "systemd-socket-activate's socket")
        # btd starts on this connection and answers it: nothing is lost while it starts.
        got = rpc(sock, "session.get", timeout=START_BOUND)
        t.eq(got["listen_port"], port, "the first request, sent before btd ran, is answered; "
             "the peer port is systemd's")
        t.ok("control socket from systemd: %s" % sock in btd.log_text()
             and not os.path.exists(os.path.join(d, "unused.sock")),
             "btd serves systemd's control socket and binds no other", btd.log_text()[-800:])
        before = btd.log_text().count("127.0.0.1")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as peer:
            peer.sendall(b"\x13BitTorrent protocol" + bytes(8) + bytes(20) + bytes(20))
            wait_until(lambda: btd.log_text().count("127.0.0.1") > before, START_BOUND,
                       "btd to log the peer that dialled its systemd port")
        t.ok(True, "btd accepts and reads a peer on the port systemd passed")
        t.eq(btd.stop(), 0, "btd exits 0")
        t.ok(os.path.exists(sock), "the socket file is systemd's: btd leaves it in place")
    finally:
        btd.stop()


def test_notify(t):
    d = btdtest.tempdir("notify-")
    notify = Notify(d)
    btd = Daemon(d, notify=notify)
    try:
        ready = notify.wait(lambda m: "READY=1" in m.splitlines(), START_BOUND, "READY=1")
        got = answers(btd.socket)  # at once: no retry, no wait
        t.ok(got and "version" in got, "when READY=1 arrives the control socket answers",
             btd.log_text())
        t.ok(any(STATUS_RE.match(ln) for ln in ready.splitlines()),
             "READY=1 comes with a STATUS= line", ready)
        status = notify.wait(lambda m: m.startswith("STATUS="), 10, "a periodic STATUS=")
        t.ok(STATUS_RE.match(status),
             "a STATUS= line within 10 s: torrents, peers, rates", status)
        t.eq(status.split(",")[0], "STATUS=0 torrents", "STATUS= counts the torrents")
        os.kill(btd.proc.pid, signal.SIGTERM)
        notify.wait(lambda m: "STOPPING=1" in m.splitlines(), 10, "STOPPING=1")
        t.ok(True, "SIGTERM: STOPPING=1")
        btd.proc.wait(timeout=20)
        t.eq(btd.proc.returncode, 0, "SIGTERM: btd exits 0")
    finally:
        btd.stop()
        notify.close()


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def test_reload(t):
    d = btdtest.tempdir("reload-")
    cfg = os.path.join(d, "btd.conf")
    write_json(cfg, {"upload_limit": 100000, "log_level": "warning", "pieces_in_flight": 64})
    notify = Notify(d)
    btd = Daemon(d, extra=["--config", cfg, "--log-level", "debug"], notify=notify)
    try:
        notify.wait(lambda m: "READY=1" in m.splitlines(), START_BOUND, "READY=1")
        s = rpc(btd.socket, "session.get")
        t.eq(s["upload_limit"], 100000, "the file's upload_limit is in force")
        t.eq(s["log_level"], "debug", "--log-level wins over the file")

        write_json(cfg, {"upload_limit": 200000, "log_level": "warning", "pieces_in_flight": 32})
        os.kill(btd.proc.pid, signal.SIGHUP)
        try:
            wait_until(lambda: rpc(btd.socket, "session.get")["upload_limit"] == 200000, 10,
                       "the new upload_limit")
            t.ok(True, "SIGHUP: the new upload_limit is in force")
        except TimeoutError as e:
            t.ok(False, "SIGHUP: the new upload_limit is in force", "%s\n%s" % (e, btd.log_text()))
        t.eq(rpc(btd.socket, "session.get")["log_level"], "debug",
             "after the reload --log-level still wins over the file")
        notify.wait(lambda m: m.startswith("RELOADING=1"), 10, "RELOADING=1")
        notify.wait(lambda m: "READY=1" in m.splitlines(), 10, "READY=1 after RELOADING=1")
        t.ok(True, "SIGHUP: RELOADING=1, then READY=1")
        lines = btd.log_lines()
        t.ok(any(("configuration reloaded from " + cfg) in ln for ln in lines),
             "the log says the configuration was reloaded from the file", "\n".join(lines))
        t.ok(any(ln.startswith("<4>") and "pieces_in_flight" in ln and cfg in ln for ln in lines),
             "a warning names pieces_in_flight, which needs a restart", "\n".join(lines))

        write_json(cfg, {"upload_limit": 300000, "no_such_key": 1})
        os.kill(btd.proc.pid, signal.SIGHUP)
        try:
            wait_until(lambda: any("no_such_key" in ln for ln in btd.log_lines()), 10,
                       "the error line")
        except TimeoutError:
            pass
        t.ok(btd.proc.poll() is None and answers(btd.socket), "an invalid file: btd carries on")
        t.eq(rpc(btd.socket, "session.get")["upload_limit"], 200000,
             "an invalid file: the old upload_limit stays")
        bad = [ln for ln in btd.log_lines() if "no_such_key" in ln]
        t.ok(len(bad) == 1 and bad[0].startswith("<3>") and cfg in bad[0],
             "an invalid file: one error line naming the file and the key", btd.log_text())
        btd.proc.send_signal(signal.SIGTERM)
        btd.proc.wait(timeout=20)
        t.eq(btd.proc.returncode, 0, "btd exits 0 after the reloads")
    finally:
        btd.stop()
        notify.close()


def test_one_per_socket(t):
    d = btdtest.tempdir("sock-")
    first = Daemon(d, name="first")
    third = None
    try:
        first.wait_answering()
        t.eq(os.stat(first.socket).st_mode & 0o777, 0o660, "the control socket has mode 0660")
        r = btdtest.run([BTD, "--port", "0", "--socket", first.socket, "--state-dir",
                         os.path.join(d, "second-state")], timeout=START_BOUND)
        t.ok(r.returncode != 0, "a second btd on the same socket exits non-zero",
             "status %d" % r.returncode)
        t.ok(("another btd is running on " + first.socket) in r.stderr,
             "it says another btd is running on the socket", r.stderr)
        t.ok(answers(first.socket), "the first btd still answers on its socket")

        first.proc.kill()  # SIGKILL by PID: the socket file stays behind
        first.proc.wait(timeout=20)
        t.ok(os.path.exists(first.socket), "a killed btd leaves its socket file")
        third = Daemon(d, sock=first.socket, name="third")
        try:
            third.wait_answering()
            t.ok(True, "a new btd replaces the stale socket and answers")
        except (TimeoutError, RuntimeError) as e:
            t.ok(False, "a new btd replaces the stale socket and answers", str(e))
        r = btdtest.run([BTCTL, "--socket", first.socket, "session"], timeout=20)
        t.eq(r.returncode, 0, "btctl session talks to it")
        t.eq(third.stop(), 0, "it exits 0 on SIGTERM")
        t.ok(not os.path.exists(first.socket), "and removes its socket")

        plain = os.path.join(d, "not-a-socket")
        with open(plain, "w") as f:
            f.write("keep me\n")
        r = btdtest.run([BTD, "--port", "0", "--socket", plain, "--state-dir",
                         os.path.join(d, "fourth-state")], timeout=START_BOUND)
        with open(plain) as f:
            kept = f.read()
        t.ok(r.returncode != 0 and "not a socket" in r.stderr and kept == "keep me\n",
             "a path that is not a socket: btd refuses and leaves it alone",
             "status %d\n%s" % (r.returncode, r.stderr))
    finally:
        first.stop()
        if third:
            third.stop()


def as_user(sock, extra_groups):
    """Runs CLIENT as uid/gid nobody with the given supplementary groups: (pid, its answer)."""
    proc = subprocess.Popen([sys.executable, "-c", CLIENT, sock], user=NOBODY, group=NOBODY,
                            extra_groups=extra_groups, cwd="/", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin"})
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.pid, (out + err).strip()


def test_peercred(t):
    if os.geteuid() != 0:
        t.ok(True, "a client under another uid is refused # SKIP not root")
        return
    d = btdtest.tempdir("cred-")
    os.chmod(d, 0o755)  # nobody must reach the socket; the mode is not what is under test
    btd = Daemon(d)
    try:
        btd.wait_answering()
        os.chmod(btd.socket, 0o666)
        pid, said = as_user(btd.socket, [])
        t.eq(said, "closed", "uid nobody: connection closed without a reply")
        try:
            line = wait_until(lambda: next((ln for ln in btd.log_lines()
                                            if "control: refused uid=%d" % NOBODY in ln), None),
                              10, "the refusal in the log")
        except TimeoutError:
            line = ""
        t.ok(line.startswith("<4>") and ("pid=%d" % pid) in line,
             "the log has the refusal with uid and pid", btd.log_text())
        group = os.stat(btd.socket).st_gid
        _, said = as_user(btd.socket, [group])
        t.eq(said, "reply", "uid nobody in the socket's group (supplementary): answered")
        t.ok(answers(btd.socket), "root is still answered")
        t.eq(btd.stop(), 0, "btd exits 0")
    finally:
        btd.stop()


def main():
    t = btdtest.Tap()
    for fn in (test_unit, test_socket_activation, test_notify, test_reload, test_one_per_socket, test_peercred):
        t.run(fn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
