#!/usr/bin/python3
"""btctl create / btctl info against independent makers and readers.

Torrents made by `btctl create` must load in libtorrent, aria2c and
transmission-show with the info-hash btctl printed; mktorrent must make the
same info-hash from the same payload; torrents made by mktorrent and
libtorrent must read back through `btctl info --json`. Env: BTCTL.
No network, no sleeps; everything lives in one temporary directory.
"""

import hashlib
import json
import os
import random
import re
import sys

import libtorrent as lt

import btdtest

BTCTL = btdtest.env_path("BTCTL")
TMP = btdtest.tempdir("btd-create-")
MiB = 1 << 20


def path(*parts):
    return os.path.join(TMP, *parts)


def write_random(p, size, seed):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(random.Random(seed).randbytes(size))


SANITIZER_REPORTS = []


def btctl(*args, timeout=120):
    r = btdtest.run([BTCTL] + list(args), timeout=timeout)
    if re.search(r"runtime error:|AddressSanitizer|LeakSanitizer", r.stderr):
        SANITIZER_REPORTS.append("btctl %s\n%s" % (" ".join(args), r.stderr))
    return r


def create(t, name, *args):
    """Runs btctl create; one point for its success; returns the info-hash printed."""
    r = btctl("create", *args)
    lines = r.stdout.splitlines()
    good = r.returncode == 0 and len(lines) >= 1 and re.fullmatch(r"[0-9a-f]{40}", lines[0])
    t.ok(good, "%s: btctl create exits 0 and prints an info-hash first" % name,
         "rc=%d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr))
    return lines[0] if good else None


def bdecode(data, i=0):
    """A small strict bencode reader: (value, next offset)."""
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c in (b"l", b"d"):
        items, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            items.append(v)
        if c == b"l":
            return items, i + 1
        return dict(zip(items[::2], items[1::2])), i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


def bencode(v):
    """Canonical bencode (keys sorted bytewise)."""
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"


def read_torrent(p):
    with open(p, "rb") as f:
        data = f.read()
    top, end = bdecode(data)
    assert end == len(data), "trailing bytes"
    return data, top


def lt_hash(ti):
    return str(ti.info_hashes().v1)


def lt_tiers(ti):
    """Tiers as libtorrent sees them, each sorted (it shuffles URLs within a tier)."""
    tiers = {}
    for a in ti.trackers():
        tiers.setdefault(a.tier, []).append(a.url)
    return [sorted(tiers[k]) for k in sorted(tiers)]


def lt_files(ti):
    fs = ti.files()
    return [(fs.file_path(i).replace(os.sep, "/"), fs.file_size(i)) for i in range(fs.num_files())]


def aria2_hash(p):
    r = btdtest.run(["aria2c", "--no-conf=true", "-S", p], timeout=60)
    m = re.search(r"^Info Hash: ([0-9a-f]{40})", r.stdout, re.M)
    return m.group(1) if m else "rc=%d %s" % (r.returncode, r.stdout[-500:])


def transmission_hash(p):
    r = btdtest.run(["transmission-show", p], timeout=60)
    m = re.search(r"^\s*Hash: ([0-9a-f]{40})", r.stdout, re.M)
    return m.group(1) if m else "rc=%d %s" % (r.returncode, r.stdout[-500:])


def piece_hashes(files, piece_length):
    """SHA-1 of each piece of the concatenated files, computed here."""
    data = b"".join(open(f, "rb").read() for f in files)
    return [hashlib.sha1(data[o:o + piece_length]).digest()
            for o in range(0, len(data), piece_length)]


def check_readers_agree(t, name, torrent, want):
    ti = lt.torrent_info(torrent)
    t.eq(lt_hash(ti), want, "%s: libtorrent sees the info-hash btctl printed" % name)
    t.eq(aria2_hash(torrent), want, "%s: aria2c -S shows the same info-hash" % name)
    t.eq(transmission_hash(torrent), want, "%s: transmission-show shows the same info-hash" % name)
    return ti


def test_single_file(t):
    src = path("single", "payload.bin")
    out = path("single.torrent")
    write_random(src, 3 * MiB + 1234, 1)
    trackers = ["http://127.0.0.1:1/announce", "udp://127.0.0.1:2/announce",
                "http://127.0.0.1:3/announce"]
    h = create(t, "single", src, "-o", out, "--tracker", trackers[0],
               "--tracker", trackers[1] + "," + trackers[2], "--web-seed", "http://127.0.0.1:4/",
               "--comment", "made by the interop test")
    ti = check_readers_agree(t, "single", out, h)
    t.eq(btctl("create", src, "-o", path("x.torrent")).stdout.splitlines()[1:2],
         [path("x.torrent")], "single: the second output line is the path written")
    t.eq((ti.num_files(), ti.total_size(), ti.name()), (1, 3 * MiB + 1234, "payload.bin"),
         "single: libtorrent sees one file of the right size and name")
    t.eq((ti.piece_length(), ti.num_pieces()), (16384, 193),
         "single: default piece length 16 KiB for 3 MiB (193 pieces)")
    t.eq(lt_tiers(ti), [[trackers[0]], sorted(trackers[1:])],
         "single: libtorrent sees the trackers in their tiers")
    _, top = read_torrent(out)
    t.eq((top.get(b"announce"), top.get(b"announce-list")),
         (trackers[0].encode(), [[trackers[0].encode()], [u.encode() for u in trackers[1:]]]),
         "single: announce + announce-list, one tier per --tracker, ',' shares a tier")
    t.eq(([w["url"] for w in ti.web_seeds()], ti.comment(), ti.creator().startswith("btd/")),
         (["http://127.0.0.1:4/"], "made by the interop test", True),
         "single: web seed, comment and created by")
    t.ok(ti.creation_date() > 1600000000, "single: creation date is set")
    want = piece_hashes([src], 16384)
    got = [bytes(ti.hash_for_piece(i)) for i in range(ti.num_pieces())]
    t.ok(got == want, "single: every piece hash equals SHA-1 of the file's bytes")
    data, top = read_torrent(out)
    t.ok(bencode(top) == data, "single: the file is canonical bencode (sorted keys)")
    t.eq(hashlib.sha1(bencode(top[b"info"])).hexdigest(), h,
         "single: info-hash is SHA-1 of the info dictionary")


DIR_FILES = {  # relative path: size; none aligned to 32 KiB pieces
    "a.bin": 100000,
    "a.txt": 10,
    "empty": 0,
    "sub/b.bin": 50001,
    "sub/deeper/c": 7,
    "z/last.bin": 70000,
}


def make_tree(root, with_odd_entries):
    for i, (rel, size) in enumerate(sorted(DIR_FILES.items())):
        write_random(os.path.join(root, rel), size, 100 + i)
    if with_odd_entries:
        os.makedirs(os.path.join(root, "emptydir", "nested"))
        os.symlink("a.bin", os.path.join(root, "link-to-a"))


def test_directory(t):
    root = path("tree", "payload")
    out = path("tree.torrent")
    make_tree(root, True)
    r = btctl("create", root, "-o", out, "--piece-length", "32K", "--private")
    lines = r.stdout.splitlines()
    t.ok(r.returncode == 0 and lines, "tree: btctl create exits 0", r.stderr)
    h = lines[0] if lines else None
    t.ok("symlink" in r.stderr and "link-to-a" in r.stderr,
         "tree: a symlink inside the directory is skipped with a warning", r.stderr)
    ti = check_readers_agree(t, "tree", out, h)
    want = [("payload/" + rel, size) for rel, size in sorted(DIR_FILES.items())]
    t.eq(lt_files(ti), want, "tree: files in bytewise path order, empty file kept, "
         "empty dirs and symlinks left out")
    t.eq((ti.piece_length(), ti.total_size(), ti.priv()), (32768, sum(DIR_FILES.values()), True),
         "tree: piece length, total size and private flag")
    want_pieces = piece_hashes([os.path.join(root, rel) for rel in sorted(DIR_FILES)], 32768)
    got = [bytes(ti.hash_for_piece(i)) for i in range(ti.num_pieces())]
    t.ok(got == want_pieces, "tree: piece hashes across file boundaries are right")


def test_many_files_large_pieces(t):
    """Pieces over 128 KiB across many small and empty files: btctl create hashes up to 16
    of them at once in lanes (where the CPU has them), 128 KiB of each at a time."""
    root = path("many", "payload")
    rng = random.Random(5)
    sizes = {"f%03d.bin" % i: rng.choice([0, 1, 4095, 70000, 131072, 300001]) for i in range(120)}
    for i, (rel, size) in enumerate(sorted(sizes.items())):
        write_random(os.path.join(root, rel), size, 500 + i)
    out = path("many.torrent")
    r = btctl("create", root, "-o", out, "--piece-length", "256K")
    t.ok(r.returncode == 0, "many files: btctl create exits 0", r.stderr)
    if r.returncode != 0:
        return
    ti = lt.torrent_info(out)
    want = piece_hashes([os.path.join(root, rel) for rel in sorted(sizes)], 262144)
    got = [bytes(ti.hash_for_piece(i)) for i in range(ti.num_pieces())]
    t.ok(len(want) >= 24 and got == want,
         "many files, 256 KiB pieces: every piece hash is SHA-1 of its bytes (%d pieces)"
         % len(want))


def test_single_tracker(t):
    src = path("one", "f.bin")
    out = path("one.torrent")
    write_random(src, 40000, 2)
    create(t, "one tracker", src, "-o", out, "-t", "http://127.0.0.1:1/announce")
    _, top = read_torrent(out)
    t.ok(top.get(b"announce") == b"http://127.0.0.1:1/announce" and b"announce-list" not in top,
         "one tracker: only `announce` is written, no announce-list", repr(top.keys()))


def test_matches_mktorrent(t):
    src = path("mk", "file.bin")
    write_random(src, 1 * MiB + 777, 3)
    tree = path("mk", "tree")
    make_tree(tree, False)
    for name, payload in (("file", src), ("tree", tree)):
        mine = path("mk-%s-btctl.torrent" % name)
        theirs = path("mk-%s-mktorrent.torrent" % name)
        r = btdtest.run(["mktorrent", "-d", "-l", "15", "-o", theirs, payload], timeout=60)
        t.ok(r.returncode == 0, "mktorrent %s: made a torrent" % name, r.stderr)
        h = create(t, "mktorrent %s" % name, payload, "-o", mine, "--piece-length", "32768",
                   "--no-date")
        t.eq(h, lt_hash(lt.torrent_info(theirs)),
             "mktorrent %s: same info-hash as mktorrent for the same payload" % name)
        _, top = read_torrent(mine)
        t.ok(b"creation date" not in top, "mktorrent %s: --no-date leaves the date out" % name)


def lt_make(payload, out, flags):
    fs = lt.file_storage()
    lt.add_files(fs, payload)
    ct = lt.create_torrent(fs, 32768, flags=flags)
    ct.add_tracker("http://127.0.0.1:9/announce", 0)
    lt.set_piece_hashes(ct, os.path.dirname(payload))
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))


def check_info_reads(t, name, torrent):
    ti = lt.torrent_info(torrent)
    for argv in (["info", torrent, "--json"], ["--json", "info", torrent]):
        r = btctl(*argv)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            j = {}
        got = (r.returncode, j.get("info_hash"), len(j.get("files", [])), j.get("total_size"))
        t.eq(got, (0, lt_hash(ti), ti.num_files(), ti.total_size()),
             "%s: btctl %s gives libtorrent's info-hash, file count and size"
             % (name, " ".join(a if a != torrent else "FILE" for a in argv)))
    r = btctl("info", torrent)
    t.ok(r.returncode == 0 and lt_hash(ti) in r.stdout and not r.stderr,
         "%s: btctl info prints the info-hash" % name, r.stdout + r.stderr)
    return ti


def test_info_reads_others(t):
    tree = path("others", "tree")
    make_tree(tree, False)
    mk = path("others-mktorrent.torrent")
    r = btdtest.run(["mktorrent", "-a", "http://127.0.0.1:9/announce", "-c", "hi", "-o", mk,
                     tree], timeout=60)
    t.ok(r.returncode == 0, "mktorrent made a torrent to read", r.stderr)
    check_info_reads(t, "mktorrent torrent", mk)
    v1 = path("others-lt-v1.torrent")
    lt_make(tree, v1, lt.create_torrent.v1_only)
    check_info_reads(t, "libtorrent v1 torrent", v1)
    hybrid = path("others-lt-hybrid.torrent")
    lt_make(tree, hybrid, 0)
    ti = check_info_reads(t, "libtorrent hybrid torrent (pad files)", hybrid)
    j = json.loads(btctl("info", "--json", hybrid).stdout)
    pads = [f["pad"] for f in j["files"]]
    lt_pads = [bool(ti.files().file_flags(i) & lt.file_storage.flag_pad_file)
               for i in range(ti.num_files())]
    t.ok(pads == lt_pads and any(pads), "hybrid: padding files are marked pad", repr(pads))


def test_info_rejects_malformed(t):
    good = path("single.torrent")
    with open(good, "rb") as f:
        data = f.read()
    cases = {
        "garbage": b"this is not bencode",
        "truncated": data[:len(data) // 2],
        "no info": b"d8:announce3:urle",
    }
    for name, content in cases.items():
        p = path("bad-%s.torrent" % name.replace(" ", "-"))
        with open(p, "wb") as f:
            f.write(content)
        r = btctl("info", p)
        lines = r.stderr.splitlines()
        t.ok(r.returncode == 1 and len(lines) == 1 and lines[0].startswith("btctl: info: ")
             and not r.stdout, "info on a %s torrent: exit 1, one line on stderr" % name,
             "rc=%d stderr=%r" % (r.returncode, r.stderr))
    r = btctl("info", path("does-not-exist.torrent"))
    t.ok(r.returncode == 1 and r.stderr.startswith("btctl: info: "),
         "info on a missing file: exit 1 with a message", r.stderr)


def test_refuses_overwrite(t):
    src = path("single", "payload.bin")
    out = path("keep.torrent")
    create(t, "overwrite", src, "-o", out)
    with open(out, "rb") as f:
        before = f.read()
    r = btctl("create", src, "-o", out, "--comment", "second")
    with open(out, "rb") as f:
        after = f.read()
    t.ok(r.returncode == 1 and r.stderr.startswith("btctl: create: ") and before == after,
         "create refuses to replace an existing output without --force",
         "rc=%d %s" % (r.returncode, r.stderr))
    r = btctl("create", src, "-o", out, "--comment", "second", "--force")
    with open(out, "rb") as f:
        after = f.read()
    t.ok(r.returncode == 0 and b"6:second" in after, "create --force replaces it", r.stderr)
    t.ok(not os.path.exists(out + ".tmp"), "no temporary file is left behind")


def test_default_piece_length(t):
    sparse = path("sparse", "big.bin")
    os.makedirs(os.path.dirname(sparse))
    with open(sparse, "wb") as f:
        f.truncate(40 * MiB)
    out = path("sparse.torrent")
    h = create(t, "40 MiB", sparse, "-o", out)
    ti = lt.torrent_info(out)
    t.eq((lt_hash(ti), ti.piece_length(), ti.num_pieces()), (h, 32768, 1280),
         "40 MiB: default piece length is 32 KiB, the smallest giving <= 2000 pieces")
    ti = lt.torrent_info(path("single.torrent"))
    pl = ti.piece_length()
    t.ok(pl >= 16384 and pl & (pl - 1) == 0 and 1 <= ti.num_pieces() <= 2000,
         "3 MiB: piece length a power of two >= 16 KiB, 1..2000 pieces")


def test_usage(t):
    r = btctl("--help")
    t.ok(r.returncode == 0 and re.search(r"^\s+create\s+\S", r.stdout, re.M)
         and re.search(r"^\s+info\s+\S", r.stdout, re.M),
         "btctl --help lists every command with a summary", r.stdout)
    r = btctl("create", "--help")
    t.ok(r.returncode == 0 and r.stdout.startswith("usage: btctl create"),
         "btctl create --help shows its usage", r.stdout)
    cases = {
        "no arguments": ["create"],
        "no -o": ["create", path("single", "payload.bin")],
        "bad piece length": ["create", path("single", "payload.bin"), "-o", path("p.torrent"),
                             "--piece-length", "1000"],
        "empty tracker": ["create", path("single", "payload.bin"), "-o", path("p.torrent"),
                          "--tracker", "http://a/,"],
        "unknown option": ["create", "--bogus"],
        "unknown command": ["no-such-command"],
    }
    for name, argv in cases.items():
        r = btctl(*argv)
        t.ok(r.returncode == 2 and r.stderr.startswith("btctl: "),
             "usage error (%s): exit 2 with a message" % name, "rc=%d %s" % (r.returncode, r.stderr))
    os.makedirs(path("void", "a", "b"))
    r = btctl("create", path("void"), "-o", path("void.torrent"))
    t.ok(r.returncode == 1 and "btctl: create: " in r.stderr and not os.path.exists(
        path("void.torrent")), "create refuses a payload with no data", r.stderr)


def main():
    t = btdtest.Tap()
    for fn in (test_single_file, test_directory, test_many_files_large_pieces,
               test_single_tracker, test_matches_mktorrent,
               test_info_reads_others, test_info_rejects_malformed, test_refuses_overwrite,
               test_default_piece_length, test_usage):
        t.run(fn)
    t.ok(not SANITIZER_REPORTS, "no sanitizer report from any btctl run",
         "\n".join(SANITIZER_REPORTS))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
