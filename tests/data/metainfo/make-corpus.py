#!/usr/bin/env python3
"""Writes the metainfo corpus: valid/*.torrent (+ .expect) and invalid/*.torrent (+ .err).

Run from anywhere: python3 tests/data/metainfo/make-corpus.py
Stdlib only. The bencoder here is independent of common/bencode.c, and every
info_hash in a .expect file is hashlib.sha1 over the exact info bytes this
script wrote, so the C parser is checked against a second implementation.

valid/NAME.expect holds key=value lines checked by tests/unit/test-metainfo.c.
invalid/NAME.err holds a substring that the one-line error message must contain.
"""

import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KIB = 1024


class Unsorted:
    """A dict encoded with its keys in the given order (real torrents have them)."""

    def __init__(self, pairs):
        self.pairs = pairs


class Raw:
    """Bytes written as they are: a value this encoder would never produce."""

    def __init__(self, data):
        self.data = data


def benc(v):
    if isinstance(v, Raw):
        return v.data
    if isinstance(v, bool):
        raise TypeError("bool is not bencode")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode("utf-8")
    if isinstance(v, (bytes, bytearray)):
        return b"%d:%s" % (len(v), bytes(v))
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, Unsorted):
        return b"d" + b"".join(benc(k) + benc(x) for k, x in v.pairs) + b"e"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode() if isinstance(k, str) else k)
        return b"d" + b"".join(benc(k) + benc(v[k]) for k in keys) + b"e"
    raise TypeError(type(v))


def hashes(tag, count):
    return b"".join(hashlib.sha1(b"%s-%d" % (tag.encode(), i)).digest() for i in range(count))


def npieces(total, plen):
    return (total + plen - 1) // plen


def single_info(name="file.bin", length=40000, plen=16 * KIB, **extra):
    info = {"name": name, "piece length": plen, "length": length,
            "pieces": hashes(name, npieces(length, plen))}
    info.update(extra)
    return info


def multi_info(files, name="dir", plen=16 * KIB, **extra):
    """files: list of (path list, length) or (path list, length, attr)."""
    entries = []
    total = 0
    for f in files:
        e = {"path": f[0], "length": f[1]}
        if len(f) > 2:
            e["attr"] = f[2]
        entries.append(e)
        total += f[1]
    info = {"name": name, "piece length": plen, "files": entries,
            "pieces": hashes(name, npieces(total, plen))}
    info.update(extra)
    return info


def torrent(info, **top):
    t = {"announce": "http://tracker.example/announce", "info": info}
    t.update(top)
    return t


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def clean(d):
    os.makedirs(d, exist_ok=True)
    for n in os.listdir(d):
        if n.endswith((".torrent", ".err", ".expect")):
            os.remove(os.path.join(d, n))


def valid(fname, top, info_bytes=None, **expect):
    """top: the whole torrent (a dict, or bytes already encoded with info_bytes inside)."""
    d = os.path.join(HERE, "valid")
    data = top if isinstance(top, bytes) else benc(top)
    if info_bytes is None:
        info_bytes = benc(top["info"])
    assert info_bytes in data
    lines = ["info_hash=" + hashlib.sha1(info_bytes).hexdigest()]
    lines += ["%s=%s" % (k.replace("__", "."), v) for k, v in expect.items()]
    write(os.path.join(d, fname + ".torrent"), data)
    write(os.path.join(d, fname + ".expect"), ("\n".join(lines) + "\n").encode())


def invalid(name, top, err):
    d = os.path.join(HERE, "invalid")
    data = top if isinstance(top, bytes) else benc(top)
    write(os.path.join(d, name + ".torrent"), data)
    write(os.path.join(d, name + ".err"), (err + "\n").encode())


def make_valid():
    valid("single-file",
          torrent(single_info("file.bin", 40000), comment="a comment",
                  **{"created by": "make-corpus", "creation date": 1700000000}),
          name="file.bin", piece_length=16384, piece_count=3, file_count=1,
          total_length=40000, multi_file=0, private=0, tiers=1, web_seeds=0, pad_files=0,
          comment="a comment", created_by="make-corpus", creation_date=1700000000,
          path__0="file.bin", length__0=40000, offset__0=0,
          tier__0="http://tracker.example/announce")

    valid("multi-file-nested",
          torrent(multi_info([(["a.txt"], 1000), (["dir", "b.bin"], 20000),
                              (["dir", "sub", "c.dat"], 5000), (["empty"], 0)], name="top")),
          name="top", piece_count=2, file_count=4, total_length=26000, multi_file=1,
          path__0="top/a.txt", offset__0=0, length__0=1000,
          path__1="top/dir/b.bin", offset__1=1000, length__1=20000,
          path__2="top/dir/sub/c.dat", offset__2=21000, length__2=5000,
          path__3="top/empty", offset__3=26000, length__3=0)

    # BEP 47: two pad files share ".pad/..." paths; they are never written, so no clash.
    valid("padding-files",
          torrent(multi_info([(["a"], 1000), ([".pad", "15384"], 15384, "p"),
                              (["b"], 1000), ([".pad", "15384"], 15384, "p"),
                              (["c"], 500, "x")], name="padded")),
          file_count=5, pad_files=2, total_length=33268, piece_count=3,
          pad__0=0, pad__1=1, pad__3=1, pad__4=0,
          offset__2=16384, offset__4=32768, path__1="padded/.pad/15384")

    valid("announce-list-tiers",
          torrent(single_info(), **{"announce-list": [
              ["http://t1.example/a", "udp://t2.example:80"], [], ["http://t3.example/a"]]}),
          tiers=2, tier__0="http://t1.example/a udp://t2.example:80",
          tier__1="http://t3.example/a")

    valid("private", torrent(single_info(private=1)), private=1)

    valid("url-list",
          torrent(single_info(), **{"url-list": ["http://seed1.example/", "", "http://s2/"]}),
          web_seeds=2, web_seed__0="http://seed1.example/", web_seed__1="http://s2/")

    valid("url-list-string", torrent(single_info(), **{"url-list": "http://seed.example/f"}),
          web_seeds=1, web_seed__0="http://seed.example/f")

    valid("non-power-of-two-piece-length", torrent(single_info(length=10000, plen=3000)),
          piece_length=3000, piece_count=4)

    # Wrong-typed optional fields are ignored; no announce at all is fine (DHT only).
    valid("ignored-wrong-types",
          {"info": single_info(private=0), "comment": 7, "created by": ["x"],
           "creation date": "yesterday"},
          tiers=0, private=0, comment="", created_by="", creation_date=0)

    # Keys out of order inside info: the hash is over these bytes, not a re-encoding.
    plen = 16 * KIB
    info_raw = benc(Unsorted([("pieces", hashes("u", 1)), ("name", "unsorted"),
                              ("piece length", plen), ("length", 100)]))
    top = b"d8:announce5:http:4:info" + info_raw + b"e"
    valid("unsorted-info-keys", top, info_raw, name="unsorted", total_length=100)


INV = [
    ("not-a-dict", b"li1ee", "torrent: not a dictionary"),
    ("missing-info", {"announce": "http://x/"}, "info: missing"),
    ("info-not-dict", {"info": ["name"]}, "info: not a dictionary"),
]


def bad_info(**change):
    """A valid single-file info with keys replaced (value None: key removed)."""
    info = single_info()
    for k, v in change.items():
        k = k.replace("_", " ")
        if v is None:
            del info[k]
        else:
            info[k] = v
    return torrent(info)


def bad_file(entry, prefix=None, name="d"):
    files = (prefix or [{"path": ["ok"], "length": 10}]) + [entry]
    return torrent({"name": name, "piece length": 16 * KIB, "files": files,
                    "pieces": hashes("f", 1)})


def make_invalid():
    for name, top, err in INV:
        invalid(name, top, err)
    cases = {
        "name-missing": (bad_info(name=None), "info.name: missing"),
        "name-not-string": (bad_info(name=5), "info.name: not a string"),
        "name-empty": (bad_info(name=""), "info.name: must not be empty"),
        "name-nul": (bad_info(name=b"a\0b"), "info.name: must not contain NUL"),
        "name-dot": (bad_info(name="."), 'info.name: "." is not allowed'),
        "name-dotdot": (bad_info(name=".."), 'info.name: ".." is not allowed'),
        "name-slash": (bad_info(name="a/b"), "info.name: must not contain '/'"),
        "name-absolute": (bad_info(name="/etc"), "info.name: must not contain '/'"),
        "name-too-long": (bad_info(name="n" * 4097), "info.name: longer than 4096 bytes"),
        "name-backslash": (bad_info(name="a\\b"), "info.name: must not contain '\\'"),
        "piece-length-missing": (bad_info(piece_length=None), "info.piece length: missing"),
        "piece-length-not-int": (bad_info(piece_length="16384"),
                                 "info.piece length: not an integer"),
        "piece-length-zero": (bad_info(piece_length=0), "info.piece length: must be positive"),
        "piece-length-negative": (bad_info(piece_length=-16384),
                                  "info.piece length: must be positive"),
        "piece-length-too-small": (bad_info(piece_length=512),
                                   "info.piece length: 512 is below the minimum of 1024"),
        "piece-length-too-large": (bad_info(piece_length=1 << 29),
                                   "info.piece length: 536870912 is above the maximum"),
        "pieces-missing": (bad_info(pieces=None), "info.pieces: missing"),
        "pieces-not-string": (bad_info(pieces=[1]), "info.pieces: not a string"),
        "pieces-not-multiple-of-20": (bad_info(pieces=hashes("x", 3)[:41]),
                                      "info.pieces: 41 bytes is not a multiple of 20"),
        "pieces-too-few": (bad_info(pieces=hashes("x", 2)),
                           "info.pieces: 2 hashes, but 40000 bytes in pieces of 16384 need 3"),
        "pieces-too-many": (bad_info(pieces=hashes("x", 4)),
                            "info.pieces: 4 hashes, but 40000 bytes in pieces of 16384 need 3"),
        "length-and-files": (bad_info(files=[{"path": ["a"], "length": 1}]),
                             "info: has both length and files"),
        "neither-length-nor-files": (bad_info(length=None), "info: has neither length nor files"),
        "length-negative": (bad_info(length=-1), "info.length: must not be negative"),
        "length-not-int": (bad_info(length="40000"), "info.length: not an integer"),
        "length-zero": (bad_info(length=0, pieces=b""), "info: total length is 0"),
        "length-too-large": (bad_info(length=(1 << 50) + 1),
                             "info.length: 1125899906842625 bytes is above the maximum"),
    }
    for name, (top, err) in sorted(cases.items()):
        invalid(name, top, err)
    make_invalid_files()
    make_invalid_trackers()
    make_invalid_bencode()


def make_invalid_files():
    big = 1 << 62
    cases = {
        "files-not-list": (bad_info(length=None, files={"a": 1}), "info.files: not a list"),
        "files-empty": (bad_info(length=None, files=[]), "info.files: empty list"),
        "file-not-dict": (bad_file(["a"]), "info.files[1]: not a dictionary"),
        "file-length-missing": (bad_file({"path": ["a"]}), "info.files[1].length: missing"),
        "file-length-not-int": (bad_file({"path": ["a"], "length": "1"}),
                                "info.files[1].length: not an integer"),
        "file-length-negative": (bad_file({"path": ["a"], "length": -5}),
                                 "info.files[1].length: must not be negative"),
        # Each length fits int64; their sum would wrap a uint64 if nothing checked it.
        "files-total-too-large": (bad_file({"path": ["c"], "length": big},
                                           [{"path": ["a"], "length": big},
                                            {"path": ["b"], "length": big}]),
                                  "info.files[0].length: total length is above the maximum"),
        "files-total-just-too-large": (bad_file({"path": ["b"], "length": 1},
                                                [{"path": ["a"], "length": 1 << 50}]),
                                       "info.files[1].length: total length is above the maximum"),
        "path-missing": (bad_file({"length": 1}), "info.files[1].path: missing"),
        "path-not-list": (bad_file({"path": "a/b", "length": 1}),
                          "info.files[1].path: not a list"),
        "path-empty-list": (bad_file({"path": [], "length": 1}),
                            "info.files[1].path: empty list"),
        "path-component-not-string": (bad_file({"path": ["a", 3], "length": 1}),
                                      "info.files[1].path[1]: not a string"),
        "path-component-empty": (bad_file({"path": ["a", "", "b"], "length": 1}),
                                 "info.files[1].path: empty component is not allowed"),
        "path-component-dot": (bad_file({"path": [".", "b"], "length": 1}),
                               'info.files[1].path: component "." is not allowed'),
        "path-component-dotdot": (bad_file({"path": ["..", "..", "etc", "passwd"], "length": 1}),
                                  'info.files[1].path: component ".." is not allowed'),
        "path-component-absolute": (bad_file({"path": ["/etc", "passwd"], "length": 1}),
                                    "info.files[1].path: component containing '/' is not allowed"),
        "path-component-slash": (bad_file({"path": ["a/../../b"], "length": 1}),
                                 "info.files[1].path: component containing '/' is not allowed"),
        "path-component-backslash": (
            bad_file({"path": ["..\\..\\x"], "length": 1}),
            "info.files[1].path: component containing '\\' is not allowed"),
        "path-component-nul": (bad_file({"path": [b"a\0.txt"], "length": 1}),
                               "info.files[1].path: component containing NUL is not allowed"),
        # Padding files are never written, but their paths are still checked.
        "pad-path-dotdot": (bad_file({"path": ["..", "x"], "length": 1, "attr": "p"}),
                            'info.files[1].path: component ".." is not allowed'),
        "path-too-long": (bad_file({"path": ["x" * 250] * 17, "length": 1}),
                          "info.files[1].path: joined path is longer than 4096 bytes"),
        "duplicate-paths": (bad_file({"path": ["x", "y"], "length": 1},
                                     [{"path": ["x", "y"], "length": 2},
                                      {"path": ["z"], "length": 3}]),
                            'info.files[2].path: "d/x/y" is also the path of info.files[0]'),
        "file-is-directory": (bad_file({"path": ["a", "b"], "length": 1},
                                       [{"path": ["a"], "length": 2}]),
                              'info.files[1].path: "d/a" is a file in info.files[0] '
                              'and a directory here'),
        # "a-c" sorts between "a" and "a/b" in plain byte order: the check must still see it.
        "file-is-directory-not-adjacent": (
            bad_file({"path": ["a", "b"], "length": 1},
                     [{"path": ["a-c"], "length": 2}, {"path": ["a"], "length": 3}]),
            'info.files[2].path: "d/a" is a file in info.files[1] and a directory here'),
        "file-is-directory-reversed": (bad_file({"path": ["a"], "length": 2},
                                                [{"path": ["a", "b", "c"], "length": 1}]),
                                       'info.files[0].path: "d/a" is a file in info.files[1] '
                                       'and a directory here'),
    }
    for name, (top, err) in sorted(cases.items()):
        invalid(name, top, err)
    # One more file than allowed; the items need not be valid, the count is checked first.
    many = b"l" + b"le" * 100001 + b"e"
    top = (b"d4:infod5:files" + many + b"4:name1:d12:piece lengthi16384e6:pieces20:"
           + hashes("m", 1) + b"ee")
    invalid("too-many-files", top, "info.files: 100001 files is above the maximum of 100000")


def make_invalid_trackers():
    info = single_info()
    cases = {
        "announce-not-string": ({"announce": 1, "info": info}, "announce: not a string"),
        "announce-nul": ({"announce": b"http://a\0b", "info": info},
                         "announce: must not contain NUL"),
        "announce-list-not-list": (torrent(info, **{"announce-list": "http://x/"}),
                                   "announce-list: not a list"),
        "announce-list-tier-not-list": (torrent(info, **{"announce-list": [["http://x/"], "h"]}),
                                        "announce-list[1]: not a list"),
        "announce-list-url-not-string": (torrent(info, **{"announce-list": [["http://x/", 7]]}),
                                         "announce-list[0][1]: not a string"),
        "url-list-wrong-type": (torrent(info, **{"url-list": 1}),
                                "url-list: not a string or a list of strings"),
        "url-list-item-not-string": (torrent(info, **{"url-list": ["http://s/", ["x"]]}),
                                     "url-list[1]: not a string"),
    }
    for name, (top, err) in sorted(cases.items()):
        invalid(name, top, err)


def make_invalid_bencode():
    good = benc(torrent(single_info()))
    invalid("bencode-truncated", good[:-3],
            "bencode: offset %d: truncated input" % (len(good) - 3))
    invalid("bencode-trailing-bytes", good + b"x",
            "bencode: offset %d: trailing bytes after the value" % len(good))
    invalid("bencode-duplicate-key",
            b"d4:infod6:lengthi1e6:lengthi2e4:name1:a12:piece lengthi16384e6:pieces20:"
            + hashes("d", 1) + b"ee", "duplicate key")
    invalid("empty-file", b"", "bencode: offset 0: truncated input")


def main():
    clean(os.path.join(HERE, "valid"))
    clean(os.path.join(HERE, "invalid"))
    make_valid()
    make_invalid()
    return 0


if __name__ == "__main__":
    sys.exit(main())
