#!/usr/bin/python3
"""btd's tracker clients against a real opentracker (HTTP and UDP) and fake trackers.

Env: BTD_ANNOUNCE (tests/tools/btd-announce, which drives btd_tracker_http,
btd_tracker_udp and the btd_tracker announcer on a uv loop). opentracker
shares one swarm between HTTP and UDP, so a peer announced over one is
listed over the other. Fakes (a python http.server thread) cover what no
real tracker does: garbage, huge bodies, hangs, redirect loops.
Every wait is bounded; opentracker is stopped by PID at exit.
"""

import http.server
import os
import re
import shutil
import socket
import ssl
import struct
import sys
import threading
import time

import btdtest

ANNOUNCE = btdtest.env_path("BTD_ANNOUNCE")
HASH = "0123456789abcdef0123456789abcdef01234567"    # on the whitelist
UNLISTED = "1111111111111111111111111111111111111111"  # not on it
SANITIZER = re.compile(r"runtime error:|AddressSanitizer|LeakSanitizer")


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 (asked of the kernel)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def udp_tracker_answers(port):
    """True once a BEP 15 connect to port gets its reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(struct.pack(">QII", 0x41727101980, 0, 7), ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(64)
        except OSError:
            return False
        return len(data) >= 16 and struct.unpack(">II", data[:8]) == (0, 7)


def tcp_listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_opentracker():
    """opentracker on a free port with HASH whitelisted; (proc, port)."""
    d = btdtest.tempdir("btd-ot-")
    os.chmod(d, 0o755)  # opentracker chroots here and drops to nobody
    with open(os.path.join(d, "wl.txt"), "w") as f:
        f.write(HASH + "\n")
    os.chmod(os.path.join(d, "wl.txt"), 0o644)
    port = free_port()
    cmd = ["opentracker", "-i", "127.0.0.1", "-p", str(port), "-P", str(port), "-d", d,
           "-w", "/wl.txt"]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]
    proc = btdtest.start(cmd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        if tcp_listening(port) and udp_tracker_answers(port):
            return proc, port
        time.sleep(0.05)
    btdtest.stop(proc)
    raise RuntimeError("opentracker did not start on port %d" % port)


class FakeTracker(http.server.BaseHTTPRequestHandler):
    """Paths: /garbage /big /big-stream /hang /redirect-loop /redirect-ftp /warning; else 404."""

    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def reply(self, body, status=200, length=True):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client hung up, as it should on an oversized body

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/garbage":
            self.reply(b"<html><body>this is not bencode</body></html>")
        elif path == "/big":
            self.reply(b"d5:peers" + b"x" * (2 << 20))
        elif path == "/big-stream":
            self.reply(b"d5:peers2097152:" + b"x" * (2 << 20), length=False)
        elif path == "/hang":
            time.sleep(8)
            self.reply(b"d8:intervali60ee")
        elif path == "/redirect-loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.end_headers()
        elif path == "/redirect-ftp":
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/announce")
            self.end_headers()
        elif path == "/warning":
            self.reply(b"d8:intervali900e5:peersld2:ip9:127.0.0.94:porti9999eee"
                       b"15:warning message13:please updatee")
        else:
            self.reply(b"no such tracker", status=404)


def start_fake():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeTracker)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def start_fake_tls():
    """The fake tracker behind TLS with a self-signed certificate; (server, port) or None."""
    d = btdtest.tempdir("btd-tls-")
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    r = btdtest.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                     "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert], timeout=60)
    if r.returncode != 0:
        return None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeTracker)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


REPORTS = []


def announce(*args, timeout=60):
    """Runs btd-announce; (rc, peers, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    r = btdtest.run([ANNOUNCE] + [str(a) for a in args], timeout=timeout)
    elapsed = time.monotonic() - t0
    if SANITIZER.search(r.stderr):
        REPORTS.append("btd-announce %s\n%s" % (" ".join(map(str, args)), r.stderr))
    peers = [ln for ln in r.stdout.splitlines() if re.fullmatch(r"[0-9.]+:\d+|\[.*\]:\d+", ln)]
    return r.returncode, peers, r.stdout, r.stderr, elapsed


def diag(rc, out, err):
    return "rc=%d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err)


def test_swarm_shared_between_http_and_udp(t, ot):
    http_url, udp_url = ot
    rc, peers, out, err, _ = announce("--info-hash", HASH, "--port", 1111, http_url)
    t.ok(rc == 0 and "interval" in out, "peer A announces over HTTP", diag(rc, out, err))
    rc, peers, out, err, _ = announce("--info-hash", HASH, "--port", 2222, udp_url)
    t.ok(rc == 0 and "127.0.0.1:1111" in peers, "peer B over UDP is told about A (HTTP)",
         diag(rc, out, err))
    t.ok(re.search(r"^interval \d+$", out, re.M), "the UDP reply carries an interval", out)
    rc, peers, out, err, _ = announce("--info-hash", HASH, "--port", 1111, "--event", "none",
                                      http_url)
    t.ok(rc == 0 and "127.0.0.1:2222" in peers, "peer A over HTTP is told about B (UDP)",
         diag(rc, out, err))
    rc, peers, out, err, _ = announce("--info-hash", HASH, "--port", 1111, "--event", "stopped",
                                      udp_url)
    t.ok(rc == 0, "A sends stopped over UDP", diag(rc, out, err))
    rc, peers, out, err, _ = announce("--info-hash", HASH, "--port", 2222, "--event", "none",
                                      http_url)
    t.ok(rc == 0 and "127.0.0.1:1111" not in peers and "127.0.0.1:2222" in peers,
         "after A's stopped, the tracker no longer lists A", diag(rc, out, err))


def test_unlisted_hash_refused(t, ot):
    http_url, udp_url = ot
    rc, _, out, err, _ = announce("--info-hash", UNLISTED, http_url)
    t.ok(rc == 1 and "tracker refused: Requested download is not authorized" in err,
         "HTTP: a hash off the whitelist gets opentracker's failure reason", diag(rc, out, err))
    rc, _, out, err, _ = announce("--info-hash", UNLISTED, udp_url)
    t.ok(rc == 1 and "does not track this torrent" in err,
         "UDP: a hash off the whitelist (an empty announce reply) fails clearly",
         diag(rc, out, err))


def test_dead_udp_tracker_times_out(t):
    port = free_port()  # nobody listens there
    rc, _, out, err, secs = announce("--info-hash", HASH, "--udp-base-ms", 200, "--udp-max-n", 2,
                                     "udp://127.0.0.1:%d/announce" % port)
    t.ok(rc == 1 and "no reply from 127.0.0.1:%d (3 requests sent)" % port in err,
         "a silent UDP tracker fails after 3 requests", diag(rc, out, err))
    t.ok(1.2 <= secs < 6, "... after 0.2 + 0.4 + 0.8 s (took %.1f s)" % secs)


def test_fake_http_trackers(t, fake):
    base = "http://127.0.0.1:%d" % fake
    cases = [
        ("/garbage", "malformed reply: not bencoded", "a non-bencoded body"),
        ("/big", "reply larger than 1048576 bytes", "a 2 MiB body with Content-Length"),
        ("/big-stream", "reply larger than 1048576 bytes", "a 2 MiB body without a length"),
        ("/redirect-loop", "Maximum (3) redirects followed", "a redirect loop"),
        ("/redirect-ftp", "ftp", "a redirect to ftp://"),
        ("/missing", "HTTP status 404", "a 404"),
    ]
    for path, want, what in cases:
        rc, _, out, err, _ = announce("--info-hash", HASH, base + path + "/announce"
                                      if path == "/missing" else base + path)
        t.ok(rc == 1 and want in err, "%s fails with \"%s\"" % (what, want), diag(rc, out, err))
    rc, peers, out, err, _ = announce("--info-hash", HASH, base + "/warning")
    t.ok(rc == 0 and peers == ["127.0.0.9:9999"] and "warning: please update" in err,
         "a warning message is shown next to the peers", diag(rc, out, err))
    rc, _, out, err, secs = announce("--info-hash", HASH, "--http-timeout-ms", 500,
                                     base + "/hang")
    t.ok(rc == 1 and "imed out" in err and secs < 5,
         "a hanging HTTP tracker times out (%.1f s)" % secs, diag(rc, out, err))


def test_tls_is_verified(t):
    if shutil.which("openssl") is None:
        t.ok(True, "TLS verification # SKIP no openssl to make a certificate")
        return
    started = start_fake_tls()
    t.ok(started is not None, "a self-signed HTTPS fake tracker starts")
    if not started:
        return
    server, port = started
    try:
        rc, _, out, err, _ = announce("--info-hash", HASH, "https://127.0.0.1:%d/warning" % port)
        t.ok(rc == 1 and "certificate" in err,
             "an HTTPS tracker with a self-signed certificate is refused", diag(rc, out, err))
    finally:
        server.shutdown()


def test_cancel_in_flight(t, fake):
    hang = "http://127.0.0.1:%d/hang" % fake
    dead = "udp://127.0.0.1:%d/announce" % free_port()
    rc, _, out, err, secs = announce("--info-hash", HASH, "--cancel-after-ms", 300, hang)
    t.ok(rc == 0 and "cancelled" in out and secs < 5,
         "an HTTP announce cancelled in flight ends cleanly", diag(rc, out, err))
    rc, _, out, err, secs = announce("--info-hash", HASH, "--cancel-after-ms", 300, dead)
    t.ok(rc == 0 and "cancelled" in out and secs < 5,
         "a UDP announce cancelled in flight ends cleanly", diag(rc, out, err))
    rc, _, out, err, secs = announce("--info-hash", HASH, "--cancel-after-ms", 300,
                                     "--tier", "%s %s" % (hang, dead))
    t.ok(rc == 0 and "cancelled" in out and secs < 5,
         "an announcer freed with requests in flight ends cleanly", diag(rc, out, err))


def test_announcer_falls_through_tiers(t, ot, fake):
    http_url, udp_url = ot
    dead = "udp://127.0.0.1:%d/announce" % free_port()
    garbage = "http://127.0.0.1:%d/garbage" % fake
    rc, peers, out, err, _ = announce(
        "--info-hash", HASH, "--port", 5555, "--udp-base-ms", 100, "--udp-max-n", 1,
        "--deadline-ms", 20000, "--log-level", "debug",
        "--tier", "%s %s wss://127.0.0.1:1/announce" % (dead, garbage), "--tier", udp_url)
    t.ok(rc == 0 and "127.0.0.1:5555" in peers,
         "the announcer falls through a dead tier to opentracker", diag(rc, out, err))
    lines = {m.group(4): (int(m.group(1)), m.group(3)) for m in re.finditer(
        r"^tracker \d+ tier=(\d+) peers=(\d+) error=(.*) url=(\S+)$", out, re.M)}
    t.ok(lines.get(udp_url, (None, "?"))[1] == "-" and
         "no reply" in lines.get(dead, (0, ""))[1] and
         "malformed reply" in lines.get(garbage, (0, ""))[1] and
         lines.get("wss://127.0.0.1:1/announce", (0, ""))[1] == "unsupported scheme",
         "each tracker's last result is visible", out)
    t.ok("unsupported scheme" in err, "the unsupported wss:// tracker is logged", err)
    # The announcer sent `stopped` as it finished: opentracker has forgotten 5555.
    rc, peers, out, err, _ = announce("--info-hash", HASH, "--port", 6666, http_url)
    t.ok(rc == 0 and "127.0.0.1:5555" not in peers,
         "the announcer's stopped reached the tracker before exit", diag(rc, out, err))


def test_announcer_promotes_the_tracker_that_answered(t, ot, fake):
    http_url, _ = ot
    garbage = "http://127.0.0.1:%d/garbage" % fake
    firsts, logs = [], []
    for i in range(4):  # the tier is shuffled: each run starts with either tracker
        rc, peers, out, err, _ = announce("--info-hash", HASH, "--port", 5600 + i,
                                          "--deadline-ms", 20000, "--log-level", "debug",
                                          "--tier", "%s %s" % (garbage, http_url))
        m = re.search(r"^tracker 0 tier=0 peers=\d+ error=(.*) url=(\S+)$", out, re.M)
        firsts.append((rc, m.group(2) if m else None, m.group(1) if m else None))
        logs.append(err)
    t.ok(all(f == (0, http_url, "-") for f in firsts),
         "the tracker that answered moves to the front of its tier", repr(firsts))
    rc, peers, out, err, _ = announce("--info-hash", HASH, "--port", 6667, http_url)
    t.ok(rc == 0 and not any(p.startswith("127.0.0.1:56") for p in peers),
         "the announcer's stopped over HTTP reached the tracker before exit",
         diag(rc, out, err) + "\nannouncer logs:\n" + "\n".join(logs))


def test_announcer_backs_off_and_gives_up(t, fake):
    garbage = "http://127.0.0.1:%d/garbage" % fake
    rc, _, out, err, secs = announce("--info-hash", HASH, "--backoff-ms", 200,
                                     "--deadline-ms", 1500, "--tier", garbage)
    t.ok(rc == 1 and "malformed reply" in out and 1.4 < secs < 6,
         "with every tracker failing, the announcer retries until its deadline",
         diag(rc, out, err))


def main():
    t = btdtest.Tap()
    fake_server, fake = start_fake()
    ot_proc = None
    try:
        ot_proc, port = start_opentracker()
    except Exception as e:  # noqa: BLE001 - reported as a failed point
        t.ok(False, "opentracker starts", str(e))
    try:
        if ot_proc:
            ot = ("http://127.0.0.1:%d/announce" % port, "udp://127.0.0.1:%d/announce" % port)
            t.run(test_swarm_shared_between_http_and_udp, ot)
            t.run(test_unlisted_hash_refused, ot)
            t.run(test_announcer_falls_through_tiers, ot, fake)
            t.run(test_announcer_promotes_the_tracker_that_answered, ot, fake)
        t.run(test_dead_udp_tracker_times_out)
        t.run(test_fake_http_trackers, fake)
        t.run(test_tls_is_verified)
        t.run(test_cancel_in_flight, fake)
        t.run(test_announcer_backs_off_and_gives_up, fake)
        t.ok(not REPORTS, "no sanitizer report", "\n".join(REPORTS))
    finally:
        if ot_proc:
            btdtest.stop(ot_proc)
        fake_server.shutdown()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
