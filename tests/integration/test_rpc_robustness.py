#!/usr/bin/python3
"""btd's control socket against clients that break JSON-RPC.

Plain python sockets on btd's Unix socket: broken JSON, wrong shapes and
types, a 70 MiB line, clients that vanish mid-request, connect in crowds or
never speak, notifications. After each abuse btd must still answer a valid
request within a bound; at the end it exits 0 on SIGTERM and its log (it
may run under ASan/UBSan) holds no sanitizer report.
"""

import base64
import json
import os
import socket
import sys
import threading
import time

import btdtest
from swarm import Btd, create_torrent, make_payload

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")

ANSWER_BOUND = 5.0  # seconds a healthy btd may take to answer session.get
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class Client:
    """One connection to the control socket, read line by line."""

    def __init__(self, path, timeout=ANSWER_BOUND):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        # A socket with a time-out is non-blocking: while btd's listen backlog
        # is full, connect() fails with EAGAIN instead of waiting. Retry, bounded.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.sock.close()
                    raise
                time.sleep(0.01)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, params=None, rid=1):
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        self.send((json.dumps(req) + "\n").encode())

    def line(self):
        """The next reply line as bytes, or b"" when btd closed the connection."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return b""
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self):
        line = self.line()
        if not line:
            raise EOFError("btd closed the connection")
        return json.loads(line)

    def call(self, method, params=None, rid=1):
        self.request(method, params, rid)
        return self.reply()

    def close(self):
        self.sock.close()


def error_of(reply):
    err = reply.get("error") or {}
    return err.get("code"), err.get("message", "")


def answers(btd, t, name):
    """A fresh client gets session.get's result within ANSWER_BOUND."""
    start = time.monotonic()
    try:
        c = Client(btd.socket)
        rep = c.call("session.get", rid="health")
        c.close()
        ok = "result" in rep and rep.get("id") == "health"
    except (OSError, ValueError, EOFError) as e:
        rep, ok = repr(e), False
    took = time.monotonic() - start
    return t.ok(ok and took < ANSWER_BOUND, "%s: btd still answers session.get (%.2f s)"
                % (name, took), rep)


def small_torrent():
    d = btdtest.tempdir("payload-")
    make_payload(d, {"small.bin": 100000})
    out = os.path.join(btdtest.tempdir("torrent-"), "small.torrent")
    create_torrent(BTCTL, os.path.join(d, "small.bin"), out, piece_length=16384)
    with open(out, "rb") as f:
        return base64.b64encode(f.read()).decode()


def test_parse_errors(t, btd):
    c = Client(btd.socket)
    c.send(b'{"jsonrpc": "2.0", "id": 1, "method": \n')
    rep = c.reply()
    code, msg = error_of(rep)
    t.eq(code, -32700, "malformed JSON: -32700")
    t.ok(rep.get("id", "absent") is None, "malformed JSON: the reply's id is null", rep)
    t.ok("\n" not in msg and msg, "malformed JSON: a one-line message", msg)
    rep = c.call("session.get", rid=2)
    t.ok("result" in rep and rep["id"] == 2, "malformed JSON: the same connection still answers",
         rep)
    c.send(b'{"jsonrpc":"2.0","id":3,"method":"session.get","params":{"a":1,"a":2}}\n')
    t.ok(error_of(c.reply())[0] in (-32700, -32600, -32602),
         "duplicate keys: an error reply")
    c.send(b"\xff\xfe\x00garbage\x00\n")
    t.eq(error_of(c.reply())[0], -32700, "binary garbage with NUL bytes: -32700")
    c.send(b"[" * 200000 + b"\n")
    t.eq(error_of(c.reply())[0], -32700, "200000 nested arrays: -32700, no stack overflow")
    c.send(b'{"jsonrpc":"2.0","id":4,"method":"session.get\\u0000x"}\n')
    t.ok(error_of(c.reply())[0] in (-32700, -32601),
         "a method name with an escaped NUL: an error reply")
    c.send(b'{"jsonrpc":"2.0","id":5,"method":"session.get"}\r\n')
    rep = c.reply()
    t.ok("result" in rep and rep["id"] == 5, "a CRLF-terminated request is answered", rep)
    c.close()
    answers(btd, t, "parse errors")


def test_invalid_requests(t, btd):
    c = Client(btd.socket)
    cases = [
        (b"[1, 2, 3]", -32600, "a JSON array"),
        (b'[{"jsonrpc":"2.0","id":1,"method":"session.get"}]', -32600, "a batch"),
        (b'"session.get"', -32600, "a JSON string"),
        (b"42", -32600, "a JSON number"),
        (b'{"jsonrpc":"2.0","id":7}', -32600, "no method"),
        (b'{"jsonrpc":"2.0","id":7,"method":5}', -32600, "a numeric method"),
        (b'{"jsonrpc":"1.0","id":7,"method":"session.get"}', -32600, "jsonrpc 1.0"),
        (b'{"id":7,"method":"session.get"}', -32600, "no jsonrpc member"),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"session.get"}', -32600, "an object id"),
        (b'{"jsonrpc":"2.0","id":7,"method":"session.get","params":[1]}', -32602,
         "array params"),
    ]
    for line, want, name in cases:
        c.send(line + b"\n")
        rep = c.reply()
        t.eq(error_of(rep)[0], want, "%s: %d" % (name, want))
    c.send(b'{"jsonrpc":"2.0","id":8,"method":"no.such.method"}\n')
    code, msg = error_of(c.reply())
    t.eq(code, -32601, "unknown method: -32601")
    t.ok("no.such.method" in msg, "unknown method: the message names it", msg)
    c.send(b"\n\n   \n")
    c.send(b'{"jsonrpc":"2.0","id":9,"method":"session.get"}\n')
    rep = c.reply()
    t.ok(rep.get("id") in (9, None), "blank lines: btd goes on", rep)
    if rep.get("id") is None:  # blank lines answered with errors: skip to ours
        while rep.get("id") != 9:
            rep = c.reply()
    t.ok("result" in rep, "blank lines: the request after them is answered", rep)
    c.close()
    answers(btd, t, "invalid requests")


def test_invalid_params(t, btd, meta):
    c = Client(btd.socket)
    rep = c.call("torrent.add", {"metainfo": meta, "dir": btd.downloads, "paused": True})
    t.ok("result" in rep, "a valid torrent.add works", rep)
    tid = rep.get("result", {}).get("id")
    cases = [
        ("torrent.add", {"metainfo": 5}, "metainfo"),
        ("torrent.add", {"metainfo": meta, "paused": "no"}, "paused"),
        ("torrent.add", {"metainfo": meta, "peers": "127.0.0.1:1"}, "peers"),
        ("torrent.add", {"metainfo": meta, "peers": [1, 2]}, "peers"),
        ("torrent.add", {"metainfo": meta, "dir": 7}, "dir"),
        ("torrent.get", {"id": [1]}, "id"),
        ("torrent.get", {"id": {"x": 1}}, "id"),
        ("torrent.get", {"id": None}, "id"),
        ("torrent.remove", {"id": tid, "delete_data": "yes"}, "delete_data"),
        ("torrent.pause", {"id": 1.5}, "id"),
    ]
    for method, params, key in cases:
        code, msg = error_of(c.call(method, params))
        t.ok(code == -32602 and key in msg,
             "%s %s: -32602 naming %s" % (method, json.dumps(params)[:60], key),
             "code %s message %r" % (code, msg))
    rep = c.call("torrent.get", {"id": tid})
    t.ok("result" in rep, "the torrent survived torrent.remove with a bad delete_data", rep)
    garbage = [
        ({"metainfo": "!!!! not base64 @@@@"}, "garbage base64"),
        ({"metainfo": base64.b64encode(b"d4:infoi5ee").decode()}, "info not a dict"),
        ({"metainfo": base64.b64encode(os.urandom(3000)).decode()}, "random bytes"),
        ({"metainfo": base64.b64encode(b"d4:infod6:lengthi-5e4:name1:x12:piece lengthi0e"
                                       b"6:pieces0:ee").decode()}, "negative length"),
        ({"metainfo": base64.b64encode(b"d4:infod6:lengthi5e4:name2:..12:piece lengthi16384e"
                                       b"6:pieces20:" + b"x" * 20 + b"ee").decode()},
         "name '..'"),
        ({"metainfo": base64.b64encode(b"d4:infod6:lengthi99999999999999999999e4:name1:x"
                                       b"12:piece lengthi16384e6:pieces20:" + b"x" * 20 +
                                       b"ee").decode()}, "a length over 64 bits"),
        ({"metainfo": ""}, "an empty string"),
        ({"metainfo": "===="}, "only padding"),
    ]
    for params, name in garbage:
        params["dir"] = btd.downloads
        code, msg = error_of(c.call("torrent.add", params))
        t.ok(code in (-32602, -32003) and msg and "\n" not in msg,
             "torrent.add with %s: -32602/-32003 and a one-line message" % name,
             "code %s message %r" % (code, msg))
    rep = c.call("torrent.list")
    t.eq(len(rep.get("result", [])), 1, "no broken torrent was added")
    c.call("torrent.remove", {"id": tid})
    c.close()
    answers(btd, t, "invalid params")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sanitized(pid):
    """Whether btd runs under ASan (whose quarantine keeps freed memory resident)."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def test_oversized_line(t, btd):
    before = rss_kb(btd.proc.pid)
    other = Client(btd.socket)
    big = Client(btd.socket, timeout=30)
    big.request("session.get", rid="before")
    chunk = b"x" * (1 << 20)
    sent = 0
    closed_early = False
    asked_midway = False
    try:
        while sent < 70 << 20:
            big.send(chunk)
            sent += len(chunk)
            if sent >= 32 << 20 and not asked_midway:
                asked_midway = True
                rep = other.call("session.get", rid="midway")
                t.ok("result" in rep, "70 MiB line: another client is served meanwhile", rep)
    except (BrokenPipeError, ConnectionResetError):
        closed_early = True
    t.diag("70 MiB line: %d MiB sent before btd %s" % (
        sent >> 20, "closed the connection" if closed_early else "had it all"))
    rep = big.line()
    t.ok(rep == b"" or b'"before"' in rep,
         "70 MiB line: the request before it is still answered (or the connection closed)",
         rep[:200])
    if rep:
        rep = big.line()
    ok = rep == b""
    if rep:
        try:
            ok = json.loads(rep).get("error") is not None
        except ValueError:
            ok = False
    t.ok(ok, "70 MiB line: an error reply or a closed connection", rep[:200])
    if rep and not closed_early:
        try:
            big.send(b'\n{"jsonrpc":"2.0","id":"after","method":"session.get"}\n')
            rep = big.line()
            t.ok(rep == b"" or b'"after"' in rep,
                 "70 MiB line: the connection answers afterwards (or is closed)", rep[:200])
        except OSError:
            pass
    big.close()
    rep = other.call("session.get", rid="after")
    t.ok("result" in rep, "70 MiB line: the other client still answers", rep)
    other.close()
    grown = rss_kb(btd.proc.pid) - before
    t.diag("70 MiB line: btd's VmRSS grew by %d kB" % grown)
    if not sanitized(btd.proc.pid):  # ASan's quarantine keeps freed memory resident
        t.ok(grown < 32 * 1024, "70 MiB line: the line's buffer was freed (VmRSS grew < 32 MB)",
             "VmRSS grew by %d kB" % grown)
    answers(btd, t, "oversized line")


def test_unread_replies(t, btd, meta):
    """A client that pipelines 16 MB of requests and never reads a reply.

    Each torrent.get reply is ten times its request, so without a cap on
    what btd queues for one client this would hold 160 MB; btd must stop
    reading (or drop the client) instead.
    """
    c = Client(btd.socket)
    rep = c.call("torrent.add", {"metainfo": meta, "dir": btd.downloads, "paused": True})
    tid = rep["result"]["id"]
    before = rss_kb(btd.proc.pid)
    flood = socket.socket(socket.AF_UNIX)
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    flood.settimeout(2)
    flood.connect(btd.socket)
    req = b'{"jsonrpc":"2.0","id":1,"method":"torrent.get","params":{"id":%d}}\n' % tid
    burst = req * 10000
    sent = 0
    how = "sent everything"
    try:
        while sent < 16 << 20:
            flood.sendall(burst)
            sent += len(burst)
    except socket.timeout:
        how = "btd stopped reading"
    except (BrokenPipeError, ConnectionResetError):
        how = "btd closed the connection"
    rep = Client(btd.socket).call("session.get", rid="meanwhile")
    t.ok("result" in rep, "unread replies: another client is served meanwhile", rep)
    grown = rss_kb(btd.proc.pid) - before
    t.diag("unread replies: %d MB of requests sent (%s); btd's VmRSS grew by %d kB"
           % (sent >> 20, how, grown))
    t.ok(grown < 64 * 1024, "unread replies: btd's memory stays bounded (grew < 64 MB)",
         "VmRSS grew by %d kB after %d MB of requests (%s)" % (grown, sent >> 20, how))
    flood.close()
    rep = c.call("torrent.remove", {"id": tid})
    t.ok("result" in rep, "unread replies: btd still works on the first connection", rep)
    c.close()
    answers(btd, t, "unread replies")


def test_vanishing_clients(t, btd):
    mute = Client(btd.socket)  # connects, never sends
    half = Client(btd.socket)
    half.send(b'{"jsonrpc":"2.0","id":1,"meth')
    half.close()
    answers(btd, t, "half a request then gone")
    half = Client(btd.socket)
    half.send(b'{"jsonrpc":"2.0","id":1,"method":"torrent.list"}\n' * 200)
    half.close()  # replies pending, reader gone
    answers(btd, t, "200 requests then gone without reading")
    crowd = [Client(btd.socket) for _ in range(50)]
    for i, c in enumerate(crowd):
        if i % 3 == 0:
            c.send(b'{"jsonrpc":"2.0","id":1,"method":"session.get"}\n')
        elif i % 3 == 1:
            c.send(b'{"jsonrpc":"2.0","id":1,"me')
    for c in crowd:
        c.close()
    answers(btd, t, "50 clients connecting and disconnecting")
    results = []

    def one(i):
        try:
            c = Client(btd.socket, timeout=10)
            rep = c.call("session.get", rid=i)
            c.close()
            results.append(rep.get("id") == i and "result" in rep)
        except (OSError, ValueError, EOFError):
            results.append(False)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    t.eq((len(results), all(results)), (50, True), "50 clients at once each get their answer")
    answers(btd, t, "a client that never sends")
    mute.send(b'{"jsonrpc":"2.0","id":"late","method":"session.get"}\n')
    rep = mute.reply()
    t.ok(rep.get("id") == "late", "the silent client is still served when it speaks", rep)
    mute.close()


def test_notifications(t, btd):
    c = Client(btd.socket)
    c.send(b'{"jsonrpc":"2.0","method":"session.get"}\n')
    c.send(b'{"jsonrpc":"2.0","method":"no.such.method"}\n')
    c.send(b'{"jsonrpc":"2.0","method":"torrent.get","params":{"id":[1]}}\n')
    c.send(b'{"jsonrpc":"2.0","method":"torrent.get","params":{"id":"ffff"}}\n')
    c.send(b'{"jsonrpc":"2.0","id":"marker","method":"session.get"}\n')
    rep = c.reply()
    t.eq(rep.get("id"), "marker", "notifications get no reply: the next line is the marker's")
    c.close()


def test_pipelined_and_split(t, btd):
    c = Client(btd.socket)
    c.send(b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"session.get"}\n' % i
                    for i in range(20)))
    ids = [c.reply().get("id") for _ in range(20)]
    t.eq(ids, list(range(20)), "20 requests in one write: 20 replies, in order")
    req = b'{"jsonrpc":"2.0","id":"split","method":"session.get"}\n'
    for b in req:
        c.send(bytes([b]))
    t.eq(c.reply().get("id"), "split", "a request sent one byte per write is answered")
    c.close()


def main():
    t = btdtest.Tap()
    meta = small_torrent()
    # Under AddressSanitizer freed memory waits in a quarantine (256 MB by
    # default) and would count as growth; keep it small so RSS measures btd.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"
    btd = Btd(BTD, env=env)
    try:
        for fn, args in ((test_parse_errors, ()), (test_invalid_requests, ()),
                         (test_invalid_params, (meta,)), (test_notifications, ()),
                         (test_pipelined_and_split, ()), (test_vanishing_clients, ()),
                         (test_oversized_line, ()), (test_unread_replies, (meta,))):
            t.run(fn, btd, *args)
        t.ok(btd.alive(), "btd is alive after every abuse")
    finally:
        rc = btd.stop()
        t.eq(rc, 0, "btd exits 0 on SIGTERM")
        text = btd.log_text()
        bad = [ln for ln in text.splitlines() if any(m in ln for m in SANITIZER_MARKS)]
        t.ok(not bad, "no sanitizer report in btd's log", "\n".join(bad)[:4000])
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
