"""swarm: the real parts of a local swarm for btd's integration tests.

- ``free_port()``: a port the kernel says is free on 127.0.0.1.
- ``wait_until(fn, timeout, what)``: polls a condition with a bound.
- ``Opentracker(dir, hashes)``: opentracker on 127.0.0.1 (HTTP and UDP on one
  port) tracking the whitelisted info-hashes; ``.http`` and ``.udp`` URLs;
  ``scrape(port, ih)`` asks it for (seeders, leechers).
- ``LtPeer(torrent, dir, ip, seed=True)``: a python3-libtorrent peer in its
  own process (lt_peer.py) on its own loopback address; ``.port``.
- ``FakePeer(torrent, ip, scenario)``: fake_peer.py serving one hostile
  scenario on its own loopback address; ``.addr``.
- ``Aria2Seeder(torrent, dir, ip)``: aria2c seeding.
- ``Aria2Leecher(torrent, dir, ip)``: aria2c downloading through the torrent's
  tracker, exiting when complete; ``.wait_exit(timeout)``.
- ``control_call(socket, method, **params)``: one JSON-RPC call on a btd
  control socket (what ``Btd.call`` does); ``TransmissionRpc(port)``: the
  same for transmission-daemon's RPC.
- ``Transmission(ip, encryption)``: transmission-daemon on its own loopback
  address and config dir; ``.call(method, **args)`` speaks its RPC,
  ``.seed(torrent, dir)`` adds a torrent over complete data and waits until
  it seeds; ``.addr`` (dial it: it never dials loopback peers itself).
- ``payload_torrent(btctl, files, root, ...)``: random files and their torrent.
- ``run_cmd(cmd)``: a short command (mount, mkfs): None, or what it said;
  ``unmount(path)``: unmounts, lazily if busy (None, or what to tell).
- ``Btd(btd_path)``: btd on a fresh state dir and socket with ``--port 0``;
  ``.call(method, **params)`` speaks JSON-RPC on the socket and returns the
  result or raises RpcError; ``.add(torrent_path, ...)``, ``.wait_done(id)``.

Every process is started through btdtest.start, so it is stopped by its PID
when the test ends, whatever happens.
"""

import base64
import ctypes
import hashlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import btdtest

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(fn, timeout, what):
    """Calls fn until it returns a true value (returned), or raises after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting for %s after %s s" % (what, timeout))
        time.sleep(0.05)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_cmd(cmd):
    """None if cmd succeeds (30 s at most), else what it said (or why it could not run)."""
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=30)
    except OSError as e:
        return "%s: %s" % (cmd[0], e)
    return None if res.returncode == 0 else (res.stdout.strip() or "%s failed" % cmd[0])


def unmount(path):
    """Unmounts path if something is mounted there, lazily if it is busy; None, or what
    went wrong (for a diag line)."""
    if not os.path.ismount(path) or not run_cmd(["umount", path]):
        return None
    return "umount failed, detached lazily: %s" % run_cmd(["umount", "-l", path])


def on_tmpfs(path):
    """Is path on tmpfs (where O_DIRECT data stays in memory, so btd does not use it)?"""
    r = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return r.stdout.strip() == "tmpfs"


def resident_pages(path):
    """(pages of path in the page cache, pages in all), by mmap and mincore(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    size = os.path.getsize(path)
    pages = (size + 4095) // 4096
    if size == 0:
        return 0, 0
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap " + path)
        vec = ctypes.create_string_buffer(pages)
        r = libc.mincore(addr, size, vec)
        libc.munmap(addr, size)
        if r != 0:
            raise OSError(ctypes.get_errno(), "mincore " + path)
    finally:
        os.close(fd)
    return sum(b & 1 for b in vec.raw), pages


def tcp_listening(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Opentracker:
    """opentracker on 127.0.0.1:port; urls() gives the URLs before it starts."""

    @staticmethod
    def urls(port):
        return ("http://127.0.0.1:%d/announce" % port, "udp://127.0.0.1:%d/announce" % port)

    def __init__(self, hashes, port=None):
        self.dir = btdtest.tempdir("opentracker-")
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "whitelist.txt"), "w") as f:
            for h in hashes:
                f.write(h + "\n")
        os.chmod(os.path.join(self.dir, "whitelist.txt"), 0o644)
        self.port = port or free_port()
        cmd = ["opentracker", "-i", "127.0.0.1", "-p", str(self.port), "-P", str(self.port),
               "-d", self.dir, "-w", "/whitelist.txt"]
        if os.getuid() == 0:
            cmd += ["-u", "nobody"]
        self.proc = btdtest.start(cmd)
        wait_until(lambda: tcp_listening("127.0.0.1", self.port), 10, "opentracker")
        self.http, self.udp = Opentracker.urls(self.port)

    def stop(self):
        btdtest.stop(self.proc)


def bdecode(data):
    """A minimal bencode decoder for tracker replies: (value, rest)."""
    c = data[:1]
    if c == b"i":
        end = data.index(b"e")
        return int(data[1:end]), data[end + 1:]
    if c in (b"l", b"d"):
        items, data = [], data[1:]
        while data[:1] != b"e":
            v, data = bdecode(data)
            items.append(v)
        if c == b"l":
            return items, data[1:]
        return dict(zip(items[::2], items[1::2])), data[1:]
    colon = data.index(b":")
    n = int(data[:colon])
    return data[colon + 1:colon + 1 + n], data[colon + 1 + n:]


def scrape(port, ih):
    """The (complete, incomplete) counts of opentracker on port for the info-hash."""
    url = "http://127.0.0.1:%d/scrape?info_hash=%s" % (
        port, urllib.parse.quote_from_bytes(bytes.fromhex(ih)))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    with opener.open(url, timeout=5) as r:
        doc, _ = bdecode(r.read())
    entry = doc.get(b"files", {}).get(bytes.fromhex(ih), {})
    return entry.get(b"complete", 0), entry.get(b"incomplete", 0)


def piece_hashes(torrent):
    """The SHA-1s of the torrent's pieces, read with a tiny bdecoder of our own."""
    with open(torrent, "rb") as f:
        data = f.read()
    i = data.index(b"6:pieces") + len(b"6:pieces")
    j = data.index(b":", i)
    n = int(data[i:j])
    raw = data[j + 1:j + 1 + n]
    return [raw[k:k + 20] for k in range(0, n, 20)]


def listed_pieces(rec):
    bits = base64.b64decode(rec["have"])
    return [i for i in range(rec["pieces"]) if bits[i // 8] & (0x80 >> (i % 8))]


class _LineProcess:
    """A process whose stdout lines are collected in a file we can poll."""

    def __init__(self, cmd, name):
        self.log = os.path.join(btdtest.tempdir(name + "-"), "out.log")
        self._f = open(self.log, "w")
        self.proc = btdtest.start(cmd, stdout=self._f, stderr=subprocess.STDOUT)

    def lines(self):
        with open(self.log) as f:
            return f.read().splitlines()

    def wait_line(self, prefix, timeout):
        """The first line starting with prefix (a string or a tuple of them), waited for."""
        def found():
            exited = self.proc.poll() is not None  # before reading: its last line counts
            line = next((ln for ln in self.lines() if ln.startswith(prefix)), None)
            if line is None and exited:
                raise RuntimeError("%s exited with status %s: %s" % (
                    self.proc.args[1:3], self.proc.returncode, self.lines()[-5:]))
            return line
        return wait_until(found, timeout, "%r from %s" % (prefix, self.proc.args[:2]))

    def stop(self):
        btdtest.stop(self.proc)
        self._f.close()


def _has_trackers(torrent):
    with open(torrent, "rb") as f:
        return b"8:announce" in f.read()


LT_START_ATTEMPTS = 3  # starts of an lt_peer.py that crashes (a signal) before it is ready


class LtPeer(_LineProcess):
    def __init__(self, torrent, data_dir, ip, seed=True, peers=(), upload_limit=0,
                 wait_announce=None, pex=False, encryption=None):
        cmd = ["/usr/bin/python3", os.path.join(HERE, "lt_peer.py"), "--torrent", torrent,
               "--dir", data_dir, "--ip", ip, "--upload-limit", str(upload_limit)]
        if seed:
            cmd.append("--seed")
        if pex:
            cmd.append("--pex")
        if encryption:
            cmd += ["--encryption", encryption]
        for p in peers:
            cmd += ["--peer", p]
        if wait_announce is None:
            wait_announce = _has_trackers(torrent)
        self.ip = ip
        for attempt in range(LT_START_ATTEMPTS):
            super().__init__(cmd, "ltpeer")
            try:
                self.port = int(self.wait_line("listening ", 30).split()[1])
                if seed:
                    self.wait_line("state seeding", 60)
                if wait_announce:
                    self.wait_line("announced", 30)
                break
            except RuntimeError:
                # python3-libtorrent 2.0.8 now and then dies of SIGSEGV while it starts. Started
                # again only when nothing can have talked to it: no peers given and no
                # announce yet (so btd knew nothing of it), else the crash is the test's.
                if self.proc.returncode is None or self.proc.returncode >= 0 or peers or \
                        "announced" in self.lines() or attempt + 1 == LT_START_ATTEMPTS:
                    raise
                print("# lt_peer.py died of signal %d while starting; started again"
                      % -self.proc.returncode, flush=True)
                self.stop()
        self.addr = ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, self.port)


class FakePeer(_LineProcess):
    """fake_peer.py playing one scenario on its own loopback address."""

    def __init__(self, torrent, ip, scenario, data=None, corrupt_every=0, reqq=0, reqq_late=0):
        cmd = ["/usr/bin/python3", os.path.join(HERE, "fake_peer.py"), "--torrent", torrent,
               "--ip", ip, "--scenario", scenario]
        if data:
            cmd += ["--data", data]
        if corrupt_every:
            cmd += ["--corrupt-every", str(corrupt_every)]
        if reqq:
            cmd += ["--reqq", str(reqq)]
        if reqq_late:
            cmd += ["--reqq-late", str(reqq_late)]
        super().__init__(cmd, "fake-" + scenario)
        self.scenario = scenario
        self.ip = ip
        self.port = int(self.wait_line("listening ", 20).split()[1])
        self.addr = "%s:%d" % (ip, self.port)


class Aria2Seeder(_LineProcess):
    def __init__(self, torrent, data_dir, ip, extra=()):
        self.port = free_port()
        cmd = ["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
               "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-ratio=0.0",
               "--bt-seed-unverified=true", "--check-integrity=false", "--interface=" + ip,
               "--listen-port=%d" % self.port, "--dir=" + data_dir, "--summary-interval=0",
               "--console-log-level=warn", "--bt-external-ip=" + ip] + list(extra) + [torrent]
        super().__init__(cmd, "aria2")
        wait_until(lambda: tcp_listening(ip, self.port), 30, "aria2c listening")
        self.addr = "%s:%d" % (ip, self.port)


class Aria2Leecher(_LineProcess):
    """aria2c downloading into data_dir, finding its peers through the torrent's HTTP tracker.

    It exits once the download is complete and verified (--seed-time=0).
    """

    def __init__(self, torrent, data_dir, ip, extra=()):
        self.port = free_port()
        cmd = ["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
               "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-time=0",
               "--interface=" + ip, "--listen-port=%d" % self.port, "--dir=" + data_dir,
               "--file-allocation=none", "--disable-ipv6=true", "--summary-interval=0",
               "--console-log-level=warn", "--enable-color=false", "--bt-external-ip=" + ip
               ] + list(extra) + [torrent]
        super().__init__(cmd, "aria2")
        self.ip = ip

    def wait_exit(self, timeout):
        """aria2c's exit status (0: download complete), waited for."""
        wait_until(lambda: self.proc.poll() is not None, timeout, "aria2c to finish")
        return self.proc.returncode


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__("%d %s" % (code, message))
        self.code = code
        self.message = message


def control_raw(sock_path, data, timeout=10):
    """Sends bytes on btd's control socket; the reply bytes up to the first newline."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(data)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf


def control_call(sock_path, method, **params):
    """One JSON-RPC call on btd's control socket: the result, or raises RpcError."""
    req = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    reply = json.loads(control_raw(sock_path, (json.dumps(req) + "\n").encode()))
    if "error" in reply:
        raise RpcError(reply["error"]["code"], reply["error"]["message"])
    return reply["result"]


class Btd:
    def __init__(self, btd_path, extra=(), env=None, state_dir=None, wrapper=()):
        """state_dir: another btd's (a restart), else a fresh one.

        wrapper: a command that execs btd (e.g. prlimit ... --), so the PID is btd's.
        """
        self.dir = btdtest.tempdir("btd-")
        self.socket = os.path.join(self.dir, "btd.sock")
        self.downloads = os.path.join(self.dir, "downloads")
        self.state = state_dir or os.path.join(self.dir, "state")
        self.log = os.path.join(self.dir, "btd.log")
        self._f = open(self.log, "w")
        cmd = list(wrapper) + [btd_path, "--port", "0", "--socket", self.socket, "--state-dir",
                               self.state, "--download-dir", self.downloads, "--log-level",
                               "debug"] + list(extra)
        self.proc = btdtest.start(cmd, stderr=self._f, env=env)
        wait_until(lambda: os.path.exists(self.socket) or self.proc.poll() is not None, 10,
                   "btd's socket")
        if self.proc.poll() is not None:
            raise RuntimeError("btd exited at start: " + self.log_text())

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def raw(self, data, timeout=10):
        """Sends bytes, returns the reply bytes up to the first newline (or b"" on close)."""
        return control_raw(self.socket, data, timeout)

    def call(self, method, **params):
        return control_call(self.socket, method, **params)

    def add(self, torrent, **params):
        with open(torrent, "rb") as f:
            meta = base64.b64encode(f.read()).decode()
        params.setdefault("dir", self.downloads)
        return self.call("torrent.add", metainfo=meta, **params)

    def status(self, tid):
        return self.call("torrent.get", id=str(tid))

    def wait_done(self, tid, timeout=120):
        def done():
            st = self.status(tid)
            if st["state"] == "error":
                raise RuntimeError("torrent error: %s" % st["error"])
            return st if st["state"] == "seeding" else None
        return wait_until(done, timeout, "torrent %s to complete" % tid)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns btd's exit status."""
        rc = btdtest.stop(self.proc, timeout=20)
        self._f.close()
        return rc


def make_payload(root, files):
    """files: {relative path: size}; random content. Returns {path: sha256}."""
    sums = {}
    for rel, size in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = os.urandom(size)
        with open(path, "wb") as f:
            f.write(data)
        sums[rel] = hashlib.sha256(data).hexdigest()
    return sums


def payload_torrent(btctl, files, root, trackers=(), piece_length=None):
    """A fresh payload (make_payload) and its torrent (btctl create over root).

    Returns (seed_dir, sums, torrent_path, info_hash).
    """
    seed_dir = btdtest.tempdir("seed-")
    sums = make_payload(seed_dir, files)
    torrent = os.path.join(btdtest.tempdir("torrent-"), "t.torrent")
    ih = create_torrent(btctl, os.path.join(seed_dir, root), torrent, trackers, piece_length)
    return seed_dir, sums, torrent, ih


def create_torrent(btctl, path, out, trackers=(), piece_length=None):
    """Runs btctl create; returns the info-hash it printed."""
    cmd = [btctl, "create", path, "-o", out]
    for t in trackers:
        cmd += ["--tracker", t]
    if piece_length:
        cmd += ["--piece-length", str(piece_length)]
    res = btdtest.run(cmd, timeout=120)
    if res.returncode != 0:
        raise RuntimeError("btctl create failed: " + res.stderr)
    return res.stdout.splitlines()[0].strip()


class TransmissionRpc:
    """transmission-daemon's JSON RPC on 127.0.0.1 (the X-Transmission-Session-Id dance)."""

    def __init__(self, port):
        self.url = "http://127.0.0.1:%d/transmission/rpc" % port
        self.sid = ""
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback

    def call(self, method, **args):
        body = json.dumps({"method": method, "arguments": args}).encode()
        for _ in range(3):
            req = urllib.request.Request(self.url, body, {"X-Transmission-Session-Id": self.sid,
                                                          "Content-Type": "application/json"})
            try:
                with self.opener.open(req, timeout=10) as r:
                    reply = json.loads(r.read())
            except urllib.error.HTTPError as e:
                if e.code == 409:  # it hands out the session id to send back
                    self.sid = e.headers.get("X-Transmission-Session-Id", "")
                    continue
                raise
            if reply.get("result") != "success":
                raise RuntimeError("transmission %s: %s" % (method, reply.get("result")))
            return reply["arguments"]
        raise RuntimeError("transmission %s: no session id" % method)


class Transmission:
    """transmission-daemon 3.00 in the foreground: DHT, LPD, PEX, uTP and port
    forwarding off; encryption 0 tolerated, 1 preferred, 2 required."""

    def __init__(self, ip, encryption=1):
        self.dir = btdtest.tempdir("tr-")
        self.rpc_port, self.port = free_port(), free_port()
        settings = {
            "dht-enabled": False, "lpd-enabled": False, "pex-enabled": False,
            "utp-enabled": False, "port-forwarding-enabled": False, "blocklist-enabled": False,
            "rpc-enabled": True, "rpc-bind-address": "127.0.0.1", "rpc-port": self.rpc_port,
            "rpc-whitelist-enabled": True, "rpc-whitelist": "127.0.0.1",
            "rpc-host-whitelist-enabled": False, "rpc-authentication-required": False,
            "bind-address-ipv4": ip, "bind-address-ipv6": "::1", "peer-port": self.port,
            "peer-port-random-on-start": False, "encryption": encryption,
            "incomplete-dir-enabled": False, "watch-dir-enabled": False,
            "start-added-torrents": True, "ratio-limit-enabled": False,
            "idle-seeding-limit-enabled": False, "message-level": 2,
        }
        with open(os.path.join(self.dir, "settings.json"), "w") as f:
            json.dump(settings, f)
        self.log = os.path.join(self.dir, "transmission.log")
        self._f = open(self.log, "w")
        self.proc = btdtest.start(["transmission-daemon", "--foreground", "--config-dir",
                                   self.dir], stdout=self._f, stderr=self._f)
        wait_until(lambda: self.proc.poll() is not None or
                   tcp_listening("127.0.0.1", self.rpc_port), 20, "transmission's RPC port")
        if self.proc.poll() is not None:
            raise RuntimeError("transmission-daemon exited at start")
        self.addr = "%s:%d" % (ip, self.port)
        self.rpc = TransmissionRpc(self.rpc_port)

    def call(self, method, **args):
        return self.rpc.call(method, **args)

    def seed(self, torrent, data_dir, timeout=60):
        """Adds torrent over complete data in data_dir; returns its id once it seeds."""
        with open(torrent, "rb") as f:
            meta = base64.b64encode(f.read()).decode()
        added = self.call("torrent-add", metainfo=meta, **{"download-dir": data_dir})
        tid = (added.get("torrent-added") or added.get("torrent-duplicate"))["id"]

        def seeding():
            st = self.call("torrent-get", ids=[tid], fields=["status", "percentDone"])
            st = st["torrents"][0]
            return st["status"] == 6 and st["percentDone"] >= 1  # TR_STATUS_SEED
        wait_until(seeding, timeout, "transmission to check its data and seed")
        return tid

    def stop(self):
        rc = btdtest.stop(self.proc, timeout=20)
        self._f.close()
        return rc
