#!/usr/bin/python3
"""fake_peer: a hostile BitTorrent peer for btd's integration tests.

    fake_peer.py --torrent F --ip 127.0.0.x --scenario NAME [--data PATH]
                 [--corrupt-every N] [--corrupt I,J,...] [--dial HOST:PORT]
                 [--reqq N] [--reqq-late N]

A TCP server on --ip (port chosen by the kernel) that plays one scenario on
every connection it accepts, each in its own thread; or, with --dial, a
leecher that connects from --ip to a seeder (btd) once, plays a leecher
scenario on that one connection and exits. Python 3 standard library only.
No real client does these things on purpose, which is why this one is a
fake (see docs: TESTING.md, "Fakes").

Seeder scenarios (a server, btd dials it):
  corrupt      honest handshake (right info-hash), a bitfield of every piece,
               unchoke on interested, and each request answered from --data,
               except the blocks of the corrupted pieces (--corrupt-every N:
               every piece whose index is a multiple of N, but never the last
               one; --corrupt: an explicit list), which get random bytes of
               the right length.
  huge-length  handshake, then a length prefix of 0xFFFFFFFF (4 GiB), then
               one byte every 0.2 s for up to 30 s while the socket is open.
  garbage      100 random bytes instead of a handshake, then waits.
  half-corrupt honest handshake and bitfield; answers only the first block of
               each piece it is asked for, with random bytes, never the
               others. Once the requests dry up it sends choke, which makes
               btd hand those half-filled pieces to other peers, then
               unchoke a second later, again and again. Each piece finished
               by an honest peer then fails its hash with the honest peer
               among its senders.
  slow-drip    honest handshake and bitfield, unchoke on interested, correct
               data for every request, but dripped: 64 bytes every 0.1 s.
  lagging      honest handshake and bitfield, unchoke on interested, correct
               data for every request (from --data), each sent 50 ms after
               the request came, as over a 50 ms round trip; cancelled ones
               are dropped. Says each new most requests it held at once.
               With --reqq N it sets the extension bit and says reqq N in an
               extension handshake; with --reqq-late N it says it only once
               100 requests have come, and drops the requests it holds
               beyond N, as a client with that queue would have.
  silent       accepts and never sends anything.
  flood-haves  handshake, 20000 `have` messages for pieces in range (the same
               few, again and again), then `have` for indexes out of range.
  md-liar      handshake with the extension bit, an extension handshake with
               ut_metadata and the true metadata_size, then every ut_metadata
               request answered with random bytes of the right length.
  md-huge      the same handshake, but metadata_size 2 GiB; then waits.
  md-serve     like md-liar, but serves the torrent's true info dictionary
               (for a torrent made to be malicious in another way).
  md-have-beyond  md-serve, but before any metadata is asked for it sends a
               bitfield of the torrent's size plus one byte, the last bit
               set: a piece one past the end, which the receiver can only
               tell once it has the metadata.

Leecher scenarios (--dial: it dials btd, handshakes with the torrent's
info-hash, then, every time, waits up to 30 s for btd to close):
  bad-requests    interested, waits for unchoke (up to 15 s), then 100
                  requests 20 ms apart, every one out of range: piece index
                  at or past the piece count, begin past the piece, begin +
                  length past the piece.
  choked-flood    never interested, so never unchoked: 200 requests for real
                  blocks in one burst.
  huge-request    interested, waits for unchoke, then 100 requests 20 ms
                  apart for blocks of 2 GiB (length 0x80000000) at piece
                  starts.
  stalled-reader  a receive buffer of 64 KiB; interested, waits for unchoke,
                  then asks for the torrent's first 500 blocks (btd's whole
                  request queue) in one burst and reads nothing until it gets
                  SIGUSR1 (up to 60 s); then reads until every block has come
                  (up to 60 s) and checks each against --data.
  fast-leecher    sets the Fast extension bit; reports btd's piece list
                  (have all/none, bitfield) and allowed-fast set, then, never
                  interested, asks for 5 other pieces (each must be rejected)
                  and one allowed-fast piece (served although choked).

It prints, flushed, one line per event for the test to read:

    listening PORT
    connection N             (the Nth accepted connection; N from 1)
    connected N IP:PORT      (--dial: our end of the connection, as btd names us)
    attack N SCENARIO        (--dial: the first bad request is about to go)
    got N choke|unchoke      (--dial: what btd said)
    got N piece INDEX BEGIN  (--dial: btd sent block data)
    got N blocks K correct C (stalled-reader: K of its blocks came, C of them right)
    handshake N ok           (the dialer's handshake named our torrent)
    handshake N wrong-hash   (it named another one: closed)
    sent N WHAT              (bitfield, unchoke, garbage, prefix, haves ...)
    piece N INDEX ok|corrupt (every block of a piece has been answered once)
    held N MOST ANSWERED     (lagging: MOST requests waiting at once, a new
                             most, when ANSWERED blocks had been sent)
    sent N reqq R            (lagging: its extension handshake said reqq R)
    dropped N K              (lagging --reqq-late: K requests dropped)
    cancelled N K            (lagging: K cancels have come)
    held-after-cancel N MOST (lagging: a new most held once a cancel came)
    closed by peer N         (EOF or reset from the other side)
    done N                   (our side gave up on the connection)

and runs until SIGTERM (--dial: until its connection ends).
"""

import argparse
import hashlib
import os
import signal
import socket
import struct
import sys
import threading
import time

PSTR = b"\x13BitTorrent protocol"
SEEDER_SCENARIOS = ["corrupt", "half-corrupt", "huge-length", "garbage", "silent", "slow-drip",
                    "lagging", "flood-haves", "md-liar", "md-huge", "md-serve", "md-have-beyond"]
LEECHER_SCENARIOS = ["bad-requests", "choked-flood", "huge-request", "fast-leecher",
                     "stalled-reader"]
STALL_REQUESTS = 500  # BTD_UPLOAD_MAX_QUEUE (daemon/upload.h)
STALL_RCVBUF = 64 * 1024
LAG = 0.05  # lagging: seconds from a request to its answer
LATE_AFTER = 100  # lagging --reqq-late: requests received before it says reqq
_print_lock = threading.Lock()


def say(text):
    with _print_lock:
        print(text, flush=True)


# -- bencode ---------------------------------------------------------------

def bdecode(data, i=0):
    """Decodes the value at data[i:]; returns (value, end). Dicts keep raw spans.

    A dict is returned as a python dict with an extra key b"__span__" holding
    (start, end) of its encoding, so the info-hash can be taken from the
    original bytes.
    """
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        out, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        start, out, i = i, {}, i + 1
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            v, i = bdecode(data, i)
            out[k] = v
        out[b"__span__"] = (start, i + 1)
        return out, i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        n = int(data[i:colon])
        return data[colon + 1:colon + 1 + n], colon + 1 + n
    raise ValueError("bencode: unexpected byte %r at %d" % (c, i))


class Torrent:
    """The parts of a .torrent the fake needs: info-hash, piece geometry, files."""

    def __init__(self, path, data_path):
        with open(path, "rb") as f:
            raw = f.read()
        meta, _ = bdecode(raw)
        info = meta[b"info"]
        start, end = info[b"__span__"]
        self.info = raw[start:end]
        self.info_hash = hashlib.sha1(self.info).digest()
        self.piece_length = info[b"piece length"]
        self.hashes = info[b"pieces"]
        self.piece_count = len(self.hashes) // 20
        if b"files" in info:
            self.files = [(os.path.join(data_path or "", *[c.decode() for c in f[b"path"]]),
                           f[b"length"]) for f in info[b"files"]]
        else:
            self.files = [(data_path, info[b"length"])]
        self.total = sum(length for _, length in self.files)

    def piece_size(self, index):
        return min(self.piece_length, self.total - index * self.piece_length)

    def read(self, offset, length):
        """length bytes of the payload at offset, across file boundaries."""
        out = b""
        pos = 0
        for path, size in self.files:
            if length > 0 and offset < pos + size:
                skip = offset - pos
                n = min(size - skip, length)
                with open(path, "rb") as f:
                    f.seek(skip)
                    chunk = f.read(n)
                out += chunk
                offset += n
                length -= n
            pos += size
        return out


# -- wire ------------------------------------------------------------------

def msg(msg_id, payload=b""):
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class Conn:
    def __init__(self, server, sock, n):
        self.server = server
        self.sock = sock
        self.n = n
        self.tor = server.torrent
        self.served = {}  # piece -> {(begin, length)} answered since it was last whole

    def handshake(self, extensions=False):
        """Reads the dialer's handshake and answers (with the extension protocol's bit if
        extensions); False if it names another torrent."""
        theirs = recv_exact(self.sock, 68)
        if theirs[:20] != PSTR or theirs[28:48] != self.tor.info_hash:
            say("handshake %d wrong-hash" % self.n)
            return False
        say("handshake %d ok" % self.n)
        peer_id = b"-FK0001-" + os.urandom(12)
        reserved = bytes([0, 0, 0, 0, 0, 0x10 if extensions else 0, 0, 0])
        self.sock.sendall(PSTR + reserved + self.tor.info_hash + peer_id)
        return True

    def read_message(self):
        """The next (id, payload), keep-alives skipped; socket.timeout only before a message."""
        while True:
            head = self.sock.recv(4, socket.MSG_PEEK)
            if not head:
                raise EOFError
            if len(head) < 4:
                # A partial length: wait for the rest without the short timeout.
                timeout = self.sock.gettimeout()
                self.sock.settimeout(None)
                head = recv_exact(self.sock, 4)
                self.sock.settimeout(timeout)
            else:
                head = recv_exact(self.sock, 4)
            (length,) = struct.unpack(">I", head)
            if length == 0:
                continue
            if length > 1 << 17:
                raise ValueError("message of %d bytes from btd" % length)
            timeout = self.sock.gettimeout()
            self.sock.settimeout(None)
            body = recv_exact(self.sock, length)
            self.sock.settimeout(timeout)
            return body[0], body[1:]

    def send_all_pieces(self):
        bits = bytearray((self.tor.piece_count + 7) // 8)
        for i in range(self.tor.piece_count):
            bits[i // 8] |= 0x80 >> (i % 8)
        self.sock.sendall(msg(5, bytes(bits)))
        say("sent %d bitfield" % self.n)

    def corrupt(self):
        if not self.handshake():
            return
        self.send_all_pieces()
        while True:
            msg_id, payload = self.read_message()
            if msg_id == 2:  # interested
                self.sock.sendall(msg(1))
                say("sent %d unchoke" % self.n)
            elif msg_id == 6 and len(payload) == 12:  # request
                self.answer(*struct.unpack(">III", payload))

    def half_corrupt(self):
        if not self.handshake():
            return
        self.send_all_pieces()
        answered = 0
        self.sock.settimeout(0.3)
        while True:
            try:
                msg_id, payload = self.read_message()
            except socket.timeout:
                if answered:
                    # Dropping the pending second blocks: btd orphans these pieces.
                    self.sock.sendall(msg(0))
                    say("sent %d choke after %d first blocks" % (self.n, answered))
                    answered = 0
                    time.sleep(1.0)
                    self.sock.sendall(msg(1))
                    say("sent %d unchoke" % self.n)
                continue
            if msg_id == 2:
                self.sock.sendall(msg(1))
                say("sent %d unchoke" % self.n)
            elif msg_id == 6 and len(payload) == 12:
                index, begin, length = struct.unpack(">III", payload)
                if begin == 0 and length <= 1 << 17:
                    self.sock.sendall(msg(7, struct.pack(">II", index, 0) + os.urandom(length)))
                    answered += 1

    def slow_drip(self):
        if not self.handshake():
            return
        self.send_all_pieces()
        tor = self.tor
        queue, out = [], b""
        self.sock.settimeout(0.1)
        while True:
            try:
                msg_id, payload = self.read_message()
                if msg_id == 2:
                    self.sock.sendall(msg(1))
                    say("sent %d unchoke" % self.n)
                elif msg_id == 6 and len(payload) == 12:
                    queue.append(struct.unpack(">III", payload))
                elif msg_id == 8 and len(payload) == 12:
                    cancelled = struct.unpack(">III", payload)
                    queue = [r for r in queue if r != cancelled]
                continue
            except socket.timeout:
                pass
            if not out and queue:
                index, begin, length = queue.pop(0)
                if index < tor.piece_count and begin + length <= tor.piece_size(index):
                    data = tor.read(index * tor.piece_length + begin, length)
                    out = msg(7, struct.pack(">II", index, begin) + data)
            if out:
                self.sock.sendall(out[:64])
                out = out[64:]

    def send_reqq(self, reqq):
        """An extension handshake that says reqq and no extension messages."""
        self.sock.sendall(msg(20, b"\x00d1:mde4:reqqi%dee" % reqq))
        say("sent %d reqq %d" % (self.n, reqq))

    def lagging(self):
        reqq, late = self.server.reqq, self.server.reqq_late
        if not self.handshake(extensions=bool(reqq or late)):
            return
        if reqq:
            self.send_reqq(reqq)
        self.send_all_pieces()
        waiting = []  # (due, index, begin, length), oldest first
        most = answered = received = cancelled = most_after = 0
        while True:
            now = time.monotonic()
            self.sock.settimeout(None)  # answers are sent whole, however long that takes
            while waiting and waiting[0][0] <= now:
                self.answer(*waiting.pop(0)[1:])
                answered += 1
            self.sock.settimeout(max(0.001, waiting[0][0] - now) if waiting else 1.0)
            try:
                msg_id, payload = self.read_message()
            except socket.timeout:
                continue
            if msg_id == 2:
                self.sock.sendall(msg(1))
                say("sent %d unchoke" % self.n)
            elif msg_id == 6 and len(payload) == 12:
                waiting.append((time.monotonic() + LAG,) + struct.unpack(">III", payload))
                received += 1
                if len(waiting) > most:
                    most = len(waiting)
                    say("held %d %d %d" % (self.n, most, answered))
                if cancelled and len(waiting) > most_after:
                    most_after = len(waiting)
                    say("held-after-cancel %d %d" % (self.n, most_after))
                if late and received == LATE_AFTER:
                    self.send_reqq(late)
                    say("dropped %d %d" % (self.n, max(0, len(waiting) - late)))
                    del waiting[late:]  # as a client with that queue would have
            elif msg_id == 8 and len(payload) == 12:
                gone = struct.unpack(">III", payload)
                waiting = [w for w in waiting if w[1:] != gone]
                cancelled += 1
                say("cancelled %d %d" % (self.n, cancelled))

    def answer(self, index, begin, length):
        tor = self.tor
        if index >= tor.piece_count or begin + length > tor.piece_size(index) or length > 1 << 17:
            say("bad request %d %d %d %d" % (self.n, index, begin, length))
            return
        bad = index in self.server.corrupt
        data = os.urandom(length) if bad else tor.read(index * tor.piece_length + begin, length)
        self.sock.sendall(msg(7, struct.pack(">II", index, begin) + data))
        blocks = self.served.setdefault(index, set())
        blocks.add((begin, length))
        if sum(n for _, n in blocks) == tor.piece_size(index):
            say("piece %d %d %s" % (self.n, index, "corrupt" if bad else "ok"))
            del self.served[index]  # a piece fetched again is counted again

    def huge_length(self):
        if not self.handshake():
            return
        self.sock.sendall(struct.pack(">I", 0xFFFFFFFF))
        say("sent %d prefix 4GiB" % self.n)
        self.drip(30)

    def garbage(self):
        junk = bytearray(os.urandom(100))
        junk[0] = 0x42  # never 19, the length of the real protocol string
        self.sock.sendall(bytes(junk))
        say("sent %d garbage" % self.n)
        self.wait_close(60)

    def silent(self):
        self.wait_close(600)

    def flood_haves(self):
        if not self.handshake():
            return
        count = self.tor.piece_count
        burst = b"".join(msg(4, struct.pack(">I", i % min(count, 7))) for i in range(20000))
        self.sock.sendall(burst)
        say("sent %d haves 20000" % self.n)
        for index in (count, count + 1, 0x7FFFFFFF, 0xFFFFFFFF):
            self.sock.sendall(msg(4, struct.pack(">I", index)))
        say("sent %d haves out-of-range" % self.n)
        self.wait_close(60)

    def drip(self, seconds):
        """One random byte every 0.2 s while the other side keeps the connection open."""
        deadline = time.monotonic() + seconds
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if self.sock.recv(65536) == b"":
                    raise EOFError
            except socket.timeout:
                pass
            self.sock.sendall(os.urandom(1))

    def wait_close(self, seconds):
        """Reads and drops input until EOF (raised) or seconds pass."""
        deadline = time.monotonic() + seconds
        self.sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                if self.sock.recv(65536) == b"":
                    raise EOFError
            except socket.timeout:
                pass

    # -- metadata scenarios (a magnet's btd dials us) ----------------------------

    def ext_handshake(self, metadata_size):
        """Handshake with the extension bit, then ours: ut_metadata is 3 for us."""
        theirs = recv_exact(self.sock, 68)
        if theirs[:20] != PSTR or theirs[28:48] != self.tor.info_hash:
            say("handshake %d wrong-hash" % self.n)
            return False
        say("handshake %d ok" % self.n)
        reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0])
        self.sock.sendall(PSTR + reserved + self.tor.info_hash + b"-FK0001-" + os.urandom(12))
        ext = b"d1:md11:ut_metadatai3ee13:metadata_sizei%dee" % metadata_size
        self.sock.sendall(msg(20, b"\x00" + ext))
        say("sent %d ext-handshake %d" % (self.n, metadata_size))
        return True

    def md_liar(self, honest=False, handshake=True):
        if handshake and not self.ext_handshake(len(self.tor.info)):
            return
        self.sock.settimeout(60)
        while True:
            msg_id, payload = self.read_message()
            if msg_id != 20 or payload[:1] != b"\x03":
                continue  # btd speaks to us under our id, 3
            body, _ = bdecode(payload[1:])
            if body.get(b"msg_type") != 0:
                continue
            piece = body[b"piece"]
            size = min(16384, len(self.tor.info) - piece * 16384)
            head = b"d8:msg_typei1e5:piecei%de10:total_sizei%dee" % (piece, len(self.tor.info))
            data = self.tor.info[piece * 16384:piece * 16384 + size] if honest else os.urandom(size)
            self.sock.sendall(msg(20, b"\x01" + head + data))
            say("sent %d md-piece %d" % (self.n, piece))

    def md_serve(self):
        self.md_liar(honest=True)

    def md_have_beyond(self):
        if not self.ext_handshake(len(self.tor.info)):
            return
        bits = bytearray((self.tor.piece_count + 7) // 8 + 1)
        bits[-1] = 0x01
        self.sock.sendall(msg(5, bytes(bits)))
        say("sent %d bitfield-beyond" % self.n)
        self.md_liar(honest=True, handshake=False)

    def md_huge(self):
        if self.ext_handshake(1 << 31):
            self.wait_close(30)

    # -- leecher scenarios (--dial) -------------------------------------------

    def dial_handshake(self, reserved=bytes(8)):
        """Our handshake first, as a dialer; False if the answer names another torrent."""
        self.sock.sendall(PSTR + reserved + self.tor.info_hash + b"-FK0001-" + os.urandom(12))
        self.sock.settimeout(10)
        theirs = recv_exact(self.sock, 68)
        if theirs[:20] != PSTR or theirs[28:48] != self.tor.info_hash:
            say("handshake %d wrong-hash" % self.n)
            return False
        say("handshake %d ok" % self.n)
        return True

    def poll(self, seconds, until=None):
        """Reads btd's messages for up to seconds, saying the ones that matter.

        Returns True as soon as a message with id until arrives; EOFError or
        ConnectionError when btd closes.
        """
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                msg_id, payload = self.read_message()
            except socket.timeout:
                return False
            if msg_id in (0, 1):
                say("got %d %s" % (self.n, "unchoke" if msg_id else "choke"))
            elif msg_id == 7 and len(payload) >= 8:
                say("got %d piece %d %d" % ((self.n,) + struct.unpack(">II", payload[:8])))
            if msg_id == until:
                return True

    def attack(self, requests, interval):
        """Sends the requests, interval seconds apart, then waits up to 30 s for btd to close."""
        say("attack %d %s" % (self.n, self.server.scenario))
        for req in requests:
            self.sock.sendall(msg(6, struct.pack(">III", *req)))
            if interval:
                self.poll(interval)
        say("sent %d requests %d" % (self.n, len(requests)))
        self.poll(30)

    def interested_unchoked(self):
        self.sock.sendall(msg(2))
        say("sent %d interested" % self.n)
        if not self.poll(15, until=1):
            say("never unchoked %d" % self.n)

    def bad_requests(self):
        if not self.dial_handshake():
            return
        self.interested_unchoked()
        tor = self.tor
        last = tor.piece_count - 1
        kinds = [lambda i: (tor.piece_count + i, 0, 16384),
                 lambda i: (0xFFFFFFFF, 0, 16384),
                 lambda i: (i % tor.piece_count, tor.piece_length, 16384),
                 lambda i: (0, tor.piece_length - 8192, 16384),
                 lambda i: (last, tor.piece_size(last), 1),
                 lambda i: (last, 0, tor.piece_size(last) + 1) if tor.piece_size(last) < 16384
                 else (last, tor.piece_size(last) - 1, 2)]
        self.attack([kinds[i % len(kinds)](i) for i in range(100)], 0.02)

    def choked_flood(self):
        if not self.dial_handshake():
            return
        tor = self.tor
        blocks = [(i, b) for i in range(tor.piece_count)
                  for b in range(0, tor.piece_size(i), 16384)]
        reqs = []
        for i in range(200):
            index, begin = blocks[i % len(blocks)]
            reqs.append((index, begin, min(16384, tor.piece_size(index) - begin)))
        self.attack(reqs, 0)

    def huge_request(self):
        if not self.dial_handshake():
            return
        self.interested_unchoked()
        count = self.tor.piece_count
        self.attack([(i % count, 0, 0x80000000) for i in range(100)], 0.02)

    def fast_leecher(self):
        """BEP 6 from the leecher's side: have all, allowed fast, rejects while choked."""
        if not self.dial_handshake(bytes([0, 0, 0, 0, 0, 0, 0, 0x04])):
            return
        self.sock.settimeout(10)
        allowed = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # btd's piece list and allowed-fast set come first
            try:
                msg_id, payload = self.read_message()
            except socket.timeout:
                break
            if msg_id == 0x0e:
                say("got %d have-all" % self.n)
            elif msg_id == 0x0f:
                say("got %d have-none" % self.n)
            elif msg_id == 5:
                say("got %d bitfield" % self.n)
            elif msg_id == 0x11:
                allowed.append(struct.unpack(">I", payload)[0])
                if len(allowed) == 10:
                    break
        say("got %d allowed-fast %d" % (self.n, len(allowed)))
        plain = [i for i in range(self.tor.piece_count) if i not in allowed][:5]
        for index in plain:  # never interested, so choked: each must be rejected
            self.sock.sendall(msg(6, struct.pack(">III", index, 0, 16384)))
        if allowed:  # an allowed-fast piece is served even while choked
            self.sock.sendall(msg(6, struct.pack(">III", allowed[0], 0, 16384)))
        rejects = pieces = 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (rejects < len(plain) or (allowed and not pieces)):
            msg_id, payload = self.read_message()
            if msg_id == 0x10:
                rejects += 1
            elif msg_id == 7:
                pieces += 1
        say("got %d rejects %d" % (self.n, rejects))
        say("got %d allowed-pieces %d" % (self.n, pieces))

    def stalled_reader(self):
        """A leecher that asks for a lot and then does not read: btd must hold back."""
        if not self.dial_handshake():
            return
        self.interested_unchoked()
        tor = self.tor
        blocks = [(i, b, min(16384, tor.piece_size(i) - b)) for i in range(tor.piece_count)
                  for b in range(0, tor.piece_size(i), 16384)][:STALL_REQUESTS]
        self.sock.sendall(b"".join(msg(6, struct.pack(">III", *r)) for r in blocks))
        say("sent %d requests %d" % (self.n, len(blocks)))
        if signal.sigtimedwait({signal.SIGUSR1}, 60) is None:
            say("never resumed %d" % self.n)
            return
        say("reading %d" % self.n)
        want = {(i, b): n for i, b, n in blocks}
        good = bad = 0
        deadline = time.monotonic() + 60
        while want and time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                msg_id, payload = self.read_message()
            except socket.timeout:
                break
            if msg_id != 7 or len(payload) < 8:
                continue
            index, begin = struct.unpack(">II", payload[:8])
            n = want.pop((index, begin), None)
            if n is not None and payload[8:] == tor.read(index * tor.piece_length + begin, n):
                good += 1
            else:
                bad += 1
        say("got %d blocks %d correct %d" % (self.n, good + bad, good))

    def run(self):
        play = {"corrupt": self.corrupt, "half-corrupt": self.half_corrupt,
                "md-liar": self.md_liar, "md-huge": self.md_huge, "md-serve": self.md_serve,
                "md-have-beyond": self.md_have_beyond,
                "huge-length": self.huge_length, "slow-drip": self.slow_drip,
                "lagging": self.lagging,
                "garbage": self.garbage, "silent": self.silent,
                "flood-haves": self.flood_haves, "bad-requests": self.bad_requests,
                "choked-flood": self.choked_flood,
                "huge-request": self.huge_request, "fast-leecher": self.fast_leecher,
                "stalled-reader": self.stalled_reader}[self.server.scenario]
        try:
            play()
            say("done %d" % self.n)
        except (EOFError, ConnectionError):
            say("closed by peer %d" % self.n)
        except socket.timeout:
            say("done %d (timed out)" % self.n)
        except OSError as e:
            say("closed by peer %d (%s)" % (self.n, e))
        except ValueError as e:
            say("done %d (%s)" % (self.n, e))
        finally:
            self.sock.close()


class Server:
    def __init__(self, args):
        self.scenario = args.scenario
        self.torrent = Torrent(args.torrent, args.data)
        self.corrupt = set()
        self.reqq = args.reqq
        self.reqq_late = args.reqq_late
        if args.corrupt_every:
            self.corrupt = {i for i in range(self.torrent.piece_count - 1)
                            if i % args.corrupt_every == 0}
        if args.corrupt:
            self.corrupt |= {int(x) for x in args.corrupt.split(",")}
        self.ip = args.ip

    def serve(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.ip, 0))
        self.sock.listen(64)
        say("listening %d" % self.sock.getsockname()[1])
        n = 0
        while True:
            sock, _ = self.sock.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            n += 1
            say("connection %d" % n)
            threading.Thread(target=Conn(self, sock, n).run, daemon=True).start()

    def dial(self, addr):
        """One connection from our --ip to addr (HOST:PORT), playing the scenario on it."""
        host, port = addr.rsplit(":", 1)
        sock = socket.socket()
        if self.scenario == "stalled-reader":  # before connect: it sets the window offered
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALL_RCVBUF)
        sock.bind((self.ip, 0))
        sock.settimeout(10)
        sock.connect((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        say("connected 1 %s:%d" % sock.getsockname())
        Conn(self, sock, 1).run()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--scenario", required=True, choices=SEEDER_SCENARIOS + LEECHER_SCENARIOS)
    ap.add_argument("--data", help="the payload: the file, or a multi-file torrent's root")
    ap.add_argument("--corrupt-every", type=int, default=0)
    ap.add_argument("--corrupt", default="", help="piece indexes, comma-separated")
    ap.add_argument("--dial", metavar="HOST:PORT", help="the seeder a leecher scenario dials")
    ap.add_argument("--reqq", type=int, default=0,
                    help="lagging: say this reqq in an extension handshake")
    ap.add_argument("--reqq-late", type=int, default=0,
                    help="lagging: say this reqq only after %d requests came" % LATE_AFTER)
    args = ap.parse_args()
    if args.scenario in ("corrupt", "lagging", "stalled-reader") and not args.data:
        ap.error("%s needs --data" % args.scenario)
    if (args.scenario in LEECHER_SCENARIOS) != bool(args.dial):
        ap.error("--dial goes with a leecher scenario: " + ", ".join(LEECHER_SCENARIOS))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # taken by sigtimedwait
    if args.dial:
        Server(args).dial(args.dial)
    else:
        Server(args).serve()


if __name__ == "__main__":
    main()
